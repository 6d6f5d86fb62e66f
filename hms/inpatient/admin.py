"""Inpatient care in the Django admin.

- `Location` (the tree): admins add and edit buildings, wards, rooms and beds here too; every save goes
  through `location_create` / `location_update` (the parent rules, the audit); a bed's status is read-only
  (it changes only through ADT and housekeeping). Not PHI.
- `Admission`, `BedStay`: view-only and audited (PHI; written only by the ADT services).
- `NurseWardAssignment`: staff rostering, editable (not PHI).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from hms.audit.admin_mixins import AuditedPHIAdminMixin
from hms.core.errors import Conflict

from . import services
from .models import Admission, BedStay, Location, NurseWardAssignment


class LocationAdminForm(forms.ModelForm):
    """Runs the services' tree rules in the form, so a bad save shows field errors instead of failing."""

    class Meta:
        model = Location
        fields = (
            "physical_type",
            "parent",
            "name",
            "code",
            "ward_type",
            "gender_restriction",
            "isolation",
            "sort_order",
            "active",
        )

    def clean(self):
        data = super().clean()
        loc = self.instance
        for key, value in data.items():
            setattr(loc, key, value)
        try:
            services._validate_location(loc)
        except ValidationError as exc:
            raise forms.ValidationError(
                exc.message_dict if hasattr(exc, "message_dict") else exc.messages
            ) from None
        if loc.pk and "active" in self.changed_data and not data.get("active"):
            beds = services._active_beds_under(loc)
            if BedStay.objects.filter(bed_id__in=beds, end__isnull=True).exists():
                raise forms.ValidationError(
                    "A bed here is occupied: transfer or discharge the patient first."
                )
        return data


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    form = LocationAdminForm
    list_display = ("id", "name", "code", "physical_type", "parent", "ward_type", "status", "active")
    list_filter = ("physical_type", "ward_type", "status", "active")
    search_fields = ("name", "code")
    raw_id_fields = ("parent",)
    readonly_fields = ("status",)
    fields = (
        "physical_type",
        "parent",
        "name",
        "code",
        "ward_type",
        "gender_restriction",
        "isolation",
        "sort_order",
        "active",
        "status",
    )
    actions = None

    def get_readonly_fields(self, request, obj=None):
        # the tree's shape never changes once created
        return ("status", "physical_type", "parent") if obj is not None else ("status",)

    def save_model(self, request, obj, form, change):
        try:
            if change:
                data = {k: form.cleaned_data[k] for k in form.changed_data if k in form.cleaned_data}
                services.location_update(location=obj, data=data, by=request.user, request=request)
            else:
                created = services.location_create(
                    physical_type=obj.physical_type,
                    parent=obj.parent,
                    name=obj.name,
                    code=obj.code,
                    ward_type=obj.ward_type,
                    gender_restriction=obj.gender_restriction,
                    isolation=obj.isolation,
                    sort_order=obj.sort_order,
                    by=request.user,
                    request=request,
                )
                obj.pk = created.pk
        except (ValidationError, Conflict, PermissionDenied) as exc:
            self.message_user(request, f"Not saved: {getattr(exc, 'message', exc)}", level=messages.ERROR)

    def has_delete_permission(self, request, obj=None):
        return False


class _ViewOnly(AuditedPHIAdminMixin, admin.ModelAdmin):
    actions = None
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Admission)
class AdmissionAdmin(_ViewOnly):
    list_display = ("id", "patient", "status", "ward", "admitted_at", "discharged_at", "source")
    list_filter = ("status", "source")
    list_select_related = ("patient", "ward")
    search_fields = ("=patient__mrn",)
    search_help_text = "Patient MRN (exact)."
    raw_id_fields = ("patient", "encounter", "source_encounter", "follow_up_appointment")


@admin.register(BedStay)
class BedStayAdmin(_ViewOnly):
    patient_path = "admission.patient"
    list_display = ("id", "admission", "bed", "start", "end", "reason")
    list_select_related = ("admission__patient", "bed")
    raw_id_fields = ("admission", "bed")

    def _patient_of(self, obj):
        return obj.admission.patient

    def _patient_id_of(self, obj):
        return obj.admission.patient_id


@admin.register(NurseWardAssignment)
class NurseWardAssignmentAdmin(admin.ModelAdmin):
    list_display = ("id", "practitioner", "ward", "created_at")
    raw_id_fields = ("practitioner", "ward")
