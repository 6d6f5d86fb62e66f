"""Lab orders and diagnostic reports in the Django admin: view-only and audited, like the rest of the
clinical record (writes go through `hms.lab.services`)."""

from django.contrib import admin

from hms.clinical.admin import ClinicalRecordAdmin

from .models import DiagnosticReport, ServiceRequest


@admin.register(DiagnosticReport)
class DiagnosticReportAdmin(ClinicalRecordAdmin):
    list_display = ("id", "patient", "code", "code_display", "effective_at", "status", "is_critical")
    list_filter = ("category", "status", "is_critical")
    raw_id_fields = ("patient", "encounter", "results", "based_on", "performer", "acknowledged_by")


@admin.register(ServiceRequest)
class ServiceRequestAdmin(ClinicalRecordAdmin):
    date_field = "authored_at"
    list_display = ("id", "patient", "code", "code_display", "priority", "status", "authored_at")
    list_filter = ("status", "priority")
    raw_id_fields = ("patient", "encounter", "requester", "performer", "status_changed_by")
