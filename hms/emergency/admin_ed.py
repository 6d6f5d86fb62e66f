"""ED visits and patient emergency requests in the Django admin: view-only and audited (PHI).

Written only by `hms.emergency.services`; the admin lets a superuser inspect them, never edit or delete.
"""

from django.contrib import admin

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from .models import EdVisit, EmergencyRequest


class _ViewOnlyPHIAdmin(AuditedPHIAdminMixin, admin.ModelAdmin):
    list_select_related = ("patient",)
    search_fields = ("=patient__mrn",)
    search_help_text = "Patient MRN (exact)."
    raw_id_fields = ("patient",)
    show_full_result_count = False
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EdVisit)
class EdVisitAdmin(_ViewOnlyPHIAdmin):
    list_display = ("id", "patient", "arrived_at", "esi_level", "status", "doctor_seen_at", "departed_at")
    list_filter = ("status", "esi_level")
    ordering = ("-arrived_at", "-id")
    raw_id_fields = ("patient", "encounter", "triaged_by", "seen_by", "vitals")


@admin.register(EmergencyRequest)
class EmergencyRequestAdmin(_ViewOnlyPHIAdmin):
    list_display = ("id", "patient", "created_at", "status", "acknowledged_at", "dispatched_at", "closed_at")
    list_filter = ("status",)
    ordering = ("-created_at", "-id")
    raw_id_fields = ("patient", "created_by", "acknowledged_by", "dispatched_by", "closed_by")
