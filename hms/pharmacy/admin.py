"""Prescriptions, renewals and dispenses in the Django admin: view-only and audited, like the rest of the
clinical record (writes go through the pharmacy services)."""

from django.contrib import admin

from hms.clinical.admin import ClinicalRecordAdmin, ViewOnlyPHIAdmin

from .models import MedicationDispense, MedicationRequest, PrescriptionRenewal


@admin.register(MedicationRequest)
class MedicationRequestAdmin(ClinicalRecordAdmin):
    list_display = ("id", "patient", "code", "code_display", "authored_on", "status")
    list_select_related = ("patient",)
    list_filter = ("status",)
    raw_id_fields = ("patient", "encounter", "requester", "indication", "signed_by", "prior_prescription")


@admin.register(MedicationDispense)
class MedicationDispenseAdmin(ClinicalRecordAdmin):
    list_display = ("id", "patient", "code", "code_display", "quantity", "dispensed_at", "status")
    list_filter = ("status",)
    raw_id_fields = ("patient", "encounter", "prescription", "dispensed_by", "verified_by")


@admin.register(PrescriptionRenewal)
class PrescriptionRenewalAdmin(ViewOnlyPHIAdmin):
    list_display = ("id", "patient", "prescription", "status", "created_at", "decided_at")
    list_filter = ("status",)
    raw_id_fields = ("patient", "prescription", "requested_by", "prescriber", "decided_by", "renewed_as")
