"""Documents in the Django admin: view-only metadata, audited like every PHI read (`AuditedPHIAdminMixin`).

The file itself is never shown or linked here (the documents storage has no URL); the bytes leave only
through the audited download views. Entered-in-error documents are visible here, with their reason.
"""

from django.contrib import admin

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from .models import Document


@admin.register(Document)
class DocumentAdmin(AuditedPHIAdminMixin, admin.ModelAdmin):
    list_display = ("id", "patient", "title", "kind", "status", "content_type", "size_bytes", "created_at")
    list_select_related = ("patient",)
    list_filter = ("kind", "status")
    search_fields = ("=patient__mrn", "=sha256")
    search_help_text = "Patient MRN or SHA-256 (exact)."
    ordering = ("-created_at", "-id")
    exclude = ("file",)
    readonly_fields = [f.name for f in Document._meta.concrete_fields if f.name not in ("file", "id")]
    show_full_result_count = False
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
