"""API routes of the pharmacy (issue 5). Each helper appends its own lines under its own heading."""

from django.urls import path

from . import api, api_analysis, api_catalog

urlpatterns = [
    # medication catalogue
    path("medications/", api_catalog.MedicationSearchApi.as_view(), name="api-medications"),
    path("medications/<str:rxcui>/", api_catalog.MedicationDetailApi.as_view(), name="api-medication"),
    # prescriptions and renewals (e-prescribing)
    path("prescriptions/", api.PrescriptionListCreateApi.as_view(), name="api-prescriptions"),
    path("prescriptions/verify/", api.PrescriptionVerifyApi.as_view(), name="api-prescription-verify"),
    path("prescriptions/<int:pk>/", api.PrescriptionDetailApi.as_view(), name="api-prescription"),
    path("prescriptions/<int:pk>/sign/", api.PrescriptionSignApi.as_view(), name="api-prescription-sign"),
    path("prescriptions/<int:pk>/stop/", api.PrescriptionStopApi.as_view(), name="api-prescription-stop"),
    path(
        "prescriptions/<int:pk>/complete/",
        api.PrescriptionCompleteApi.as_view(),
        name="api-prescription-complete",
    ),
    path(
        "prescriptions/<int:pk>/entered-in-error/",
        api.PrescriptionErrorApi.as_view(),
        name="api-prescription-error",
    ),
    path("prescriptions/<int:pk>/pdf/", api.PrescriptionPdfApi.as_view(), name="api-prescription-pdf"),
    path("renewals/", api.RenewalListCreateApi.as_view(), name="api-renewals"),
    path("renewals/<int:pk>/approve/", api.RenewalApproveApi.as_view(), name="api-renewal-approve"),
    path("renewals/<int:pk>/deny/", api.RenewalDenyApi.as_view(), name="api-renewal-deny"),
    # prescription analysis and medication reminders
    path(
        "analyze-prescription/",
        api_analysis.AnalyzePrescriptionApi.as_view(),
        name="api-analyze-prescription",
    ),
    path(
        "prescriptions/<int:pk>/reminders/",
        api_analysis.PrescriptionRemindersApi.as_view(),
        name="api-prescription-reminders",
    ),
]
