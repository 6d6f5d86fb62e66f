"""The patient registry in the Django admin.

Writes go through `hms.patients.services` (MRN allocation, duplicate check, audit); patients are never
hard-deleted here: the "Soft-delete selected patients" action takes a reason typed next to it. Reads
are audited (`AuditedPHIAdminMixin`). The list hides soft-deleted patients unless filtered for them.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import ValidationError

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from . import services
from .models import Patient
from .selectors import patient_search_q


class DeletedFilter(admin.SimpleListFilter):
    title = "record state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("deleted", "Soft-deleted"), ("all", "Live and soft-deleted")]

    def choices(self, changelist):
        choices = list(super().choices(changelist))
        choices[0]["display"] = "Live"  # no parameter = live patients only
        return choices

    def queryset(self, request, queryset):
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        if self.value() == "all":
            return queryset
        return queryset.filter(deleted_at__isnull=True)


class PatientActionForm(ActionForm):
    reason = forms.CharField(
        required=False, max_length=500, label="Reason", help_text="Required to soft-delete patients."
    )


class PatientAdminForm(forms.ModelForm):
    duplicate_override_reason = forms.CharField(
        required=False,
        max_length=500,
        help_text="Only when registering a probable duplicate: why it is not the same person (audited).",
    )

    class Meta:
        model = Patient
        fields = list(services.PATIENT_FIELDS)

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and not self.errors:
            duplicates = services.patient_duplicates(data=cleaned)
            self.duplicates = duplicates
            if duplicates and not cleaned.get("duplicate_override_reason", "").strip():
                names = "; ".join(f"{p.full_name} (MRN {p.mrn}, born {p.date_of_birth})" for p in duplicates)
                raise ValidationError(f"Probable duplicate of: {names}. Give a reason to register anyway.")
        return cleaned


@admin.register(Patient)
class PatientAdmin(AuditedPHIAdminMixin, admin.ModelAdmin):
    patient_path = ""
    form = PatientAdminForm
    action_form = PatientActionForm
    actions = ["soft_delete_selected"]
    list_display = (
        "mrn",
        "family_name",
        "given_names",
        "date_of_birth",
        "gender",
        "phone",
        "active",
        "is_deleted",
    )
    list_filter = (DeletedFilter, "active", "gender")
    search_fields = ("family_name",)  # shows the box; the query itself is `patient_search_q`
    search_help_text = "Name prefix, MRN, phone, or date of birth (YYYY-MM-DD)."
    show_full_result_count = False
    readonly_fields = (
        "mrn",
        "user",
        "deleted_at",
        "deleted_by",
        "deletion_reason",
        "source_system",
        "source_id",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "mrn",
                    "prefix",
                    "family_name",
                    "given_names",
                    "date_of_birth",
                    "gender",
                    "deceased_at",
                    "active",
                    "user",
                )
            },
        ),
        (
            "Contact",
            {
                "fields": (
                    "phone",
                    "email",
                    "address_line",
                    "city",
                    "state",
                    "postal_code",
                    "country",
                    "preferred_language",
                )
            },
        ),
        ("Clinical identity", {"fields": ("blood_group", "national_id")}),
        (
            "Emergency contact",
            {
                "fields": (
                    "emergency_contact_name",
                    "emergency_contact_phone",
                    "emergency_contact_relationship",
                )
            },
        ),
        (
            "Record",
            {
                "fields": (
                    "source_system",
                    "source_id",
                    "created_at",
                    "updated_at",
                    "deleted_at",
                    "deleted_by",
                    "deletion_reason",
                )
            },
        ),
    )

    @admin.display(boolean=True, description="deleted")
    def is_deleted(self, obj):
        return obj.is_deleted

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:  # adding: offer the duplicate override
            return (*fieldsets, ("Duplicates", {"fields": ("duplicate_override_reason",)}))
        return fieldsets

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        try:
            return queryset.filter(patient_search_q(search_term)), False
        except ValidationError:
            return queryset.none(), False

    def has_delete_permission(self, request, obj=None):
        return False  # soft delete only, through the action

    def save_model(self, request, obj, form, change):
        data = {k: form.cleaned_data[k] for k in services.PATIENT_FIELDS if k in form.cleaned_data}
        if change:
            fresh = Patient.objects.get(pk=obj.pk)  # `obj` already carries the form's values
            saved = services.patient_update(patient=fresh, by=request.user, data=data, request=request)
        else:
            reason = form.cleaned_data.get("duplicate_override_reason", "").strip()
            saved = services.patient_create(
                by=request.user, data=data, force=bool(reason), force_reason=reason, request=request
            )
        obj.pk, obj.mrn, obj.created_at, obj.updated_at = (
            saved.pk,
            saved.mrn,
            saved.created_at,
            saved.updated_at,
        )

    def has_soft_delete_permission(self, request):
        return request.user.has_perm("patients.delete_patient")

    @admin.action(description="Soft-delete selected patients (reason required)", permissions=["soft_delete"])
    def soft_delete_selected(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Type a reason next to the action to soft-delete.", messages.ERROR)
            return
        done = 0
        for patient in queryset.filter(deleted_at__isnull=True):
            services.patient_delete(patient=patient, by=request.user, reason=reason, request=request)
            done += 1
        self.message_user(request, f"Soft-deleted {done} patient(s).", messages.SUCCESS)
