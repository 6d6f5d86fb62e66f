"""Billing in the Django admin.

- The price list is edited here by admins (add a new version with a later `valid_from` and close the old
  one with `valid_to`; rows are never deleted, so old charges keep their price entry). Not PHI.
- Charges, invoices and their lines are view-only and audited (PHI: they name the patient); they are written
  by `hms.billing.charges` / `hms.billing.invoices` only. Invoice counters are view-only.
- Payers, coverage and claims: `admin_claims`; payments, refunds and credit: `admin_payments` (each helper
  module registers its own models and is imported here, since autodiscovery loads only `admin.py`).
"""

import importlib.util

from django.contrib import admin

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from . import admin_claims  # noqa: F401  (registers payers, coverage, claims)
from .models import ChargeItem, Invoice, InvoiceCounter, InvoiceLine, PriceListEntry

if importlib.util.find_spec("hms.billing.admin_payments") is not None:
    from . import admin_payments  # noqa: F401  (registers payments, refunds, patient credit)


class ViewOnlyAdmin(admin.ModelAdmin):
    actions = None
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PriceListEntry)
class PriceListEntryAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "display",
        "category",
        "payer_class",
        "unit_price",
        "tax_rate",
        "valid_from",
        "valid_to",
    )
    list_filter = ("category", "payer_class", "code_system")
    search_fields = ("code", "display")
    ordering = ("category", "code", "payer_class", "-valid_from")
    actions = None

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InvoiceCounter)
class InvoiceCounterAdmin(ViewOnlyAdmin):
    list_display = ("series", "next_number")


@admin.register(ChargeItem)
class ChargeItemAdmin(AuditedPHIAdminMixin, ViewOnlyAdmin):
    list_display = ("id", "patient", "category", "code", "display", "net_amount", "status", "occurred_at")
    list_select_related = ("patient",)
    list_filter = ("status", "category", "source_type")
    search_fields = ("=patient__mrn", "=code", "=source_key")
    search_help_text = "Patient MRN, code or source key (exact)."
    raw_id_fields = ("patient", "encounter", "price_entry", "entered_by")
    ordering = ("-occurred_at", "-id")


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    can_delete = False
    fields = (
        "code",
        "description",
        "quantity",
        "unit_price",
        "tax_rate",
        "net_amount",
        "tax_amount",
        "total",
    )
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Invoice)
class InvoiceAdmin(AuditedPHIAdminMixin, ViewOnlyAdmin):
    list_display = (
        "id",
        "number",
        "kind",
        "patient",
        "status",
        "total",
        "patient_share",
        "amount_paid",
        "issued_at",
    )
    list_select_related = ("patient",)
    list_filter = ("status", "kind", "payer_class")
    search_fields = ("=number", "=patient__mrn")
    search_help_text = "Invoice number or patient MRN (exact)."
    raw_id_fields = ("patient", "coverage", "credit_note_for", "issued_by", "created_by")
    inlines = (InvoiceLineInline,)
    ordering = ("-created_at", "-id")


@admin.register(InvoiceLine)
class InvoiceLineAdmin(AuditedPHIAdminMixin, ViewOnlyAdmin):
    patient_path = "invoice.patient"
    list_display = ("id", "invoice", "code", "description", "total")
    list_select_related = ("invoice",)

    def _patient_of(self, obj):
        return obj.invoice.patient

    def _patient_id_of(self, obj):
        return obj.invoice.patient_id
