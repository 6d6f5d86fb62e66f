from django.contrib import admin

from .models import RawResource


@admin.register(RawResource)
class RawResourceAdmin(admin.ModelAdmin):
    """Imported resources kept verbatim: read-only (they are replaced only by a re-import)."""

    list_display = ("resource_type", "source_id", "patient", "updated_at")
    list_filter = ("resource_type",)
    search_fields = ("source_id",)
    raw_id_fields = ("patient",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
