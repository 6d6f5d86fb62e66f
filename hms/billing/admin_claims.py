"""Payers, coverage and insurance claims in the Django admin: view-only; coverage and claims audited (PHI).

Imported by `hms.billing.admin` (Django's admin autodiscovery loads only `admin.py`). Claims and coverage
are written by `hms.billing.claims` / `hms.billing.coverage`, never edited or deleted here.
"""

from django.contrib import admin

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from .models import Claim, ClaimEvent, Coverage, Payer


class ViewOnlyAdmin(admin.ModelAdmin):
    actions = None
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Payer)
class PayerAdmin(ViewOnlyAdmin):
    list_display = ("id", "name", "identifier", "payer_class", "active")
    list_filter = ("payer_class", "active")
    search_fields = ("name",)


@admin.register(Coverage)
class CoverageAdmin(AuditedPHIAdminMixin, ViewOnlyAdmin):
    list_display = ("id", "patient", "payer", "member_id", "order", "valid_from", "valid_to", "status")
    list_select_related = ("patient", "payer")
    list_filter = ("status", "payer")
    search_fields = ("=patient__mrn", "=member_id")
    search_help_text = "Patient MRN or member id (exact)."
    raw_id_fields = ("patient",)


class ClaimEventInline(admin.TabularInline):
    model = ClaimEvent
    extra = 0
    can_delete = False
    readonly_fields = ("from_status", "to_status", "at", "by", "note")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Claim)
class ClaimAdmin(AuditedPHIAdminMixin, ViewOnlyAdmin):
    list_display = ("id", "patient", "status", "service_date", "claimed_amount", "paid_amount", "historical")
    list_select_related = ("patient",)
    list_filter = ("status", "historical")
    search_fields = ("=patient__mrn", "=external_id")
    search_help_text = "Patient MRN or payer claim id (exact)."
    raw_id_fields = ("patient", "invoice", "coverage")
    inlines = (ClaimEventInline,)
    ordering = ("-created_at", "-id")


@admin.register(ClaimEvent)
class ClaimEventAdmin(AuditedPHIAdminMixin, ViewOnlyAdmin):
    patient_path = "claim.patient"
    list_display = ("id", "claim", "from_status", "to_status", "at", "by")
    list_select_related = ("claim",)

    def _patient_of(self, obj):
        return obj.claim.patient

    def _patient_id_of(self, obj):
        return obj.claim.patient_id
