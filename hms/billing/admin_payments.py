"""Payments, refunds and patient credit in the Django admin: view-only, audited (PHI: they name the patient).

Imported by `hms.billing.admin` (Django's admin autodiscovery loads only `admin.py`). Written by
`hms.billing.payments` only (idempotent payments, two-person refunds), never edited or deleted here.
"""

from django.contrib import admin

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from .models import PatientCredit, Payment, Refund


class ViewOnlyAdmin(admin.ModelAdmin):
    actions = None
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Payment)
class PaymentAdmin(AuditedPHIAdminMixin, ViewOnlyAdmin):
    list_display = ("id", "receipt_number", "patient", "invoice", "method", "amount", "status", "received_at")
    list_select_related = ("patient", "invoice")
    list_filter = ("method", "status")
    search_fields = ("=receipt_number", "=patient__mrn", "=idempotency_key")
    date_hierarchy = "received_at"


@admin.register(Refund)
class RefundAdmin(AuditedPHIAdminMixin, ViewOnlyAdmin):
    list_display = ("id", "payment", "amount", "status", "requested_by", "decided_by", "created_at")
    list_select_related = ("payment__patient", "requested_by", "decided_by")
    list_filter = ("status",)
    search_fields = ("=payment__receipt_number",)

    def _patient_of(self, obj):
        return obj.payment.patient

    def _patient_id_of(self, obj):
        return obj.payment.patient_id


@admin.register(PatientCredit)
class PatientCreditAdmin(AuditedPHIAdminMixin, ViewOnlyAdmin):
    list_display = ("id", "patient", "amount", "currency", "payment", "invoice", "note", "created_at")
    list_select_related = ("patient", "payment", "invoice")
    search_fields = ("=patient__mrn",)
