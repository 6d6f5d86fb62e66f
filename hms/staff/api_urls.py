from django.urls import path

from . import api

urlpatterns = [
    path("doctors/", api.DoctorListCreateApi.as_view(), name="api-doctors"),
    path("doctors/<int:pk>/", api.DoctorDetailApi.as_view(), name="api-doctor"),
    path("specialties/", api.SpecialtyListApi.as_view(), name="api-specialties"),
]
