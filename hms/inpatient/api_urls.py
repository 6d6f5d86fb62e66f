from django.urls import path

from . import api, api_reports

urlpatterns = [
    path("wards/", api.WardListCreateApi.as_view(), name="api-wards"),
    path("wards/<int:pk>/", api.WardDetailApi.as_view(), name="api-ward"),
    path("beds/", api.BedListApi.as_view(), name="api-beds"),
    path("beds/<int:pk>/", api.BedDetailApi.as_view(), name="api-bed"),
    path("beds/<int:pk>/clean/", api.BedCleanApi.as_view(), name="api-bed-clean"),
    path("admissions/", api.AdmissionListCreateApi.as_view(), name="api-admissions"),
    path("admissions/<int:pk>/", api.AdmissionDetailApi.as_view(), name="api-admission"),
    path("admissions/<int:pk>/transfer/", api.AdmissionTransferApi.as_view(), name="api-admission-transfer"),
    path(
        "admissions/<int:pk>/discharge/", api.AdmissionDischargeApi.as_view(), name="api-admission-discharge"
    ),
    path("admissions/<int:pk>/summary/pdf/", api.AdmissionSummaryPdfApi.as_view(), name="api-admission-pdf"),
    path("patients/unknown/", api.UnknownPatientApi.as_view(), name="api-patients-unknown"),
    path("patients/<int:pk>/merge/", api.PatientMergeApi.as_view(), name="api-patient-merge"),
    # reports (bed-board helper): hms/inpatient/api_reports.py
    path(
        "reports/inpatient/occupancy/", api_reports.OccupancyReportApi.as_view(), name="api-report-occupancy"
    ),
    path(
        "reports/inpatient/length-of-stay/",
        api_reports.LengthOfStayReportApi.as_view(),
        name="api-report-length-of-stay",
    ),
    path(
        "reports/inpatient/admissions/",
        api_reports.AdmissionsReportApi.as_view(),
        name="api-report-admissions",
    ),
    path("reports/inpatient/ed-waits/", api_reports.EdWaitsReportApi.as_view(), name="api-report-ed-waits"),
]
