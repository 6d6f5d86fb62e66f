"""Diagnostic reports in the Django admin: view-only and audited, like the rest of the clinical record."""

from django.contrib import admin

from hms.clinical.admin import ClinicalRecordAdmin

from .models import DiagnosticReport


@admin.register(DiagnosticReport)
class DiagnosticReportAdmin(ClinicalRecordAdmin):
    list_display = ("id", "patient", "code", "code_display", "effective_at", "status")
    list_filter = ("category", "status")
    raw_id_fields = ("patient", "encounter", "results")
