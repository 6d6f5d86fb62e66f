"""Practitioners, organizations and specialties in the Django admin. Practitioner writes go through
`hms.staff.services` (validation of the linked account, audit)."""

from django.contrib import admin

from . import services
from .models import Organization, Practitioner, Specialty


@admin.register(Practitioner)
class PractitionerAdmin(admin.ModelAdmin):
    list_display = ("display_name", "role", "specialty", "licence_number", "npi", "user", "active")
    list_filter = ("role", "active", "specialty")
    search_fields = ("^family_name", "^given_names", "=npi", "=licence_number")
    list_select_related = ("specialty", "user")
    raw_id_fields = ("user", "organization")
    readonly_fields = ("source_system", "source_id", "created_at", "updated_at")

    def save_model(self, request, obj, form, change):
        fields = [*services.PRACTITIONER_FIELDS, "user"]
        data = {k: form.cleaned_data[k] for k in fields if k in form.cleaned_data}
        if change:
            fresh = Practitioner.objects.get(pk=obj.pk)  # `obj` already carries the form's values
            if "role" in form.changed_data:
                fresh.role = form.cleaned_data["role"]
                fresh.save(update_fields=["role", "updated_at"])
            saved = services.practitioner_update(
                practitioner=fresh, by=request.user, data=data, request=request
            )
        else:
            saved = services.practitioner_create(
                by=request.user, data=data, role=form.cleaned_data.get("role") or obj.role, request=request
            )
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at

    def has_delete_permission(self, request, obj=None):
        return False  # encounters and prescriptions refer to practitioners: deactivate instead


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "type_code", "city", "state", "phone")
    search_fields = ("name", "city")
    readonly_fields = ("source_system", "source_id", "created_at", "updated_at")


@admin.register(Specialty)
class SpecialtyAdmin(admin.ModelAdmin):
    list_display = ("display", "code", "code_system")
    search_fields = ("display", "=code")
