"""Medication requests in the Django admin: view-only and audited, like the rest of the clinical record."""

from django.contrib import admin

from hms.clinical.admin import ClinicalRecordAdmin

from .models import MedicationRequest


@admin.register(MedicationRequest)
class MedicationRequestAdmin(ClinicalRecordAdmin):
    list_display = ("id", "patient", "code", "code_display", "authored_on", "status")
    list_select_related = ("patient",)
    list_filter = ("status",)
    raw_id_fields = ("patient", "encounter", "requester")
