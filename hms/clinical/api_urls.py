from django.urls import path

from . import api

urlpatterns = [
    path("patients/<int:pk>/records/", api.PatientHistoryApi.as_view(), name="api-patient-records"),
    *(
        path(f"patients/<int:pk>/{name}/", view.as_view(), name=f"api-patient-{name}")
        for name, view in api.RECORD_LIST_APIS.items()
    ),
    path("records/<int:pk>/", api.EncounterDetailApi.as_view(), name="api-record"),
]
