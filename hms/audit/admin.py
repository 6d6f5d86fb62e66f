"""The audit log in the Django admin: read-only for everyone, superusers included (append-only)."""

from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "recorded_at",
        "actor_username",
        "actor_role",
        "action",
        "outcome",
        "object_type",
        "object_id",
        "patient_id",
        "channel",
        "source_ip",
    )
    list_filter = ("action", "outcome", "channel", "actor_role")
    search_fields = ("=actor_username", "=object_type", "=object_id", "=patient__mrn")
    show_full_result_count = False  # the log is large; never count it whole
    readonly_fields = [f.name for f in AuditEvent._meta.fields]
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
