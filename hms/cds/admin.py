from django.contrib import admin

from .models import LoadedInteraction


@admin.register(LoadedInteraction)
class LoadedInteractionAdmin(admin.ModelAdmin):
    """Read-only: rows come from `manage.py cds_load` (validated), never from hand edits."""

    list_display = ("a", "b", "severity", "file_name", "line", "active", "created_at")
    list_filter = ("severity", "active", "file_name")
    search_fields = ("a", "b", "effect", "source")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
