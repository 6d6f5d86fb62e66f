"""The front-desk queue in the Django admin: view-only and audited (queue rows name patients; writes go
through `hms.frontdesk.services`)."""

from django.contrib import admin

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from .models import QueueEntry


@admin.register(QueueEntry)
class QueueEntryAdmin(AuditedPHIAdminMixin, admin.ModelAdmin):
    list_display = ("id", "day", "practitioner", "patient", "priority", "status", "arrived_at", "actual_wait")
    list_filter = ("status", "priority")
    list_select_related = ("patient", "practitioner")
    search_fields = ("=patient__mrn",)
    search_help_text = "Patient MRN (exact)."
    date_hierarchy = "day"
    raw_id_fields = ("appointment", "patient", "practitioner")
    show_full_result_count = False
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
