"""The clinical record in the Django admin: view-only, audited.

Clinical records are written by the clinical workflows and the FHIR import (their services own the
rules); the admin lets a superuser inspect them, never edit or hard-delete them. The role groups hold
no clinical permissions for admins (DESIGN.md: administration, not clinical notes).
"""

from django.contrib import admin

from hms.audit.admin_mixins import AuditedPHIAdminMixin

from .models import (
    AllergyIntolerance,
    CarePlan,
    CarePlanActivity,
    ClinicalNote,
    Condition,
    DailyHealthReport,
    Encounter,
    Goal,
    Immunization,
    NoteAddendum,
    NoteTemplate,
    Observation,
    Procedure,
)


class ClinicalRecordAdmin(AuditedPHIAdminMixin, admin.ModelAdmin):
    """View-only admin of a `PatientRecordModel`: list by patient and code, no add/change/delete."""

    date_field = "created_at"
    list_display = ("id", "patient", "code", "code_display", "encounter")
    list_select_related = ("patient",)
    search_fields = ("=patient__mrn", "=code")
    search_help_text = "Patient MRN or code (exact)."
    raw_id_fields = ("patient", "encounter")
    show_full_result_count = False
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def register(model, *, date_field: str, extra: tuple = (), filters: tuple = ()):
    """Register `model` with a `ClinicalRecordAdmin` listing `date_field` and `extra` columns."""
    attrs = {
        "date_field": date_field,
        "list_display": ("id", "patient", "code", "code_display", date_field, *extra),
        "list_filter": filters,
        "ordering": (f"-{date_field}", "-id"),
    }
    admin.site.register(model, type(f"{model.__name__}Admin", (ClinicalRecordAdmin,), attrs))


@admin.register(Encounter)
class EncounterAdmin(ClinicalRecordAdmin):
    list_display = (
        "id",
        "patient",
        "encounter_class",
        "code_display",
        "period_start",
        "practitioner",
        "status",
    )
    list_select_related = ("patient", "practitioner")
    list_filter = ("encounter_class", "status")
    raw_id_fields = ("patient", "practitioner", "organization", "participants")


register(Condition, date_field="onset_at", extra=("clinical_status",), filters=("clinical_status",))
register(AllergyIntolerance, date_field="recorded_at", extra=("criticality",), filters=("category",))
register(
    Observation, date_field="effective_at", extra=("value_quantity", "value_unit"), filters=("category",)
)
register(Immunization, date_field="occurrence_at", extra=("status",))
register(Procedure, date_field="performed_start", extra=("status",))
register(CarePlan, date_field="period_start", extra=("status",), filters=("status",))


@admin.register(NoteTemplate)
class NoteTemplateAdmin(admin.ModelAdmin):
    """Note templates are reference data, not PHI: administrators add and edit them per specialty."""

    list_display = ("name", "specialty", "is_active", "updated_at")
    list_filter = ("is_active", "specialty")
    search_fields = ("name",)


class ViewOnlyPHIAdmin(ClinicalRecordAdmin):
    """View-only, audited admin for issue-4 records without a code (notes, reports, goals)."""

    search_fields = ("=patient__mrn",)
    search_help_text = "Patient MRN (exact)."


@admin.register(ClinicalNote)
class ClinicalNoteAdmin(ViewOnlyPHIAdmin):
    list_display = ("id", "patient", "kind", "status", "author", "created_at", "signed_at")
    list_filter = ("kind", "status")
    raw_id_fields = ("patient", "encounter", "author", "signed_by", "template")


@admin.register(DailyHealthReport)
class DailyHealthReportAdmin(ViewOnlyPHIAdmin):
    list_display = ("id", "patient", "report_date", "rating", "mood")
    raw_id_fields = ("patient", "encounter", "observations")


@admin.register(Goal)
class GoalAdmin(ViewOnlyPHIAdmin):
    list_display = ("id", "patient", "description", "lifecycle_status", "due_date")
    raw_id_fields = ("patient", "encounter", "care_plan")


class _ViaParentAdmin(AuditedPHIAdminMixin, admin.ModelAdmin):
    """View-only, audited admin of a row that reaches its patient through `parent` (a FK name)."""

    parent = ""
    actions = None
    show_full_result_count = False

    def _patient_of(self, obj):
        return getattr(obj, self.parent).patient

    def _patient_id_of(self, obj):
        return getattr(obj, self.parent).patient_id

    def get_queryset(self, request):
        return super().get_queryset(request).select_related(self.parent)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(NoteAddendum)
class NoteAddendumAdmin(_ViaParentAdmin):
    parent = "note"
    list_display = ("id", "note", "author", "created_at", "reason")
    raw_id_fields = ("note", "author")


@admin.register(CarePlanActivity)
class CarePlanActivityAdmin(_ViaParentAdmin):
    parent = "care_plan"
    list_display = ("id", "care_plan", "kind", "status", "assigned_role", "due_at")
    raw_id_fields = ("care_plan", "assigned_to", "completed_by")
