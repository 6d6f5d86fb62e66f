from django.urls import path

from . import api

urlpatterns = [
    path("cds/check/", api.CdsCheckApi.as_view(), name="api-cds-check"),
]
