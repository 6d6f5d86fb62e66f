from django.urls import path

from . import api

urlpatterns = [
    path("terminology/icd10/", api.Icd10SearchApi.as_view(), name="api-terminology-icd10"),
]
