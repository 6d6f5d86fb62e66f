"""Reads of the clinical record, scoped to the requesting user through `hms.patients.selectors`.

Every function takes the requesting `user`; a record outside their clinical scope is reported
exactly like a missing one (`NotFoundOrForbidden`, 404). Querysets come with the joins and
prefetches their readers need, so a page of the chart costs a fixed number of queries whatever the
size of the record (one per record type, not one per encounter).
"""

from django.db.models import Prefetch, QuerySet

from hms.core.errors import NotFoundOrForbidden
from hms.lab.models import DiagnosticReport
from hms.patients.models import Patient
from hms.patients.selectors import can_read_clinical, clinical_records
from hms.pharmacy.models import MedicationRequest

from .models import (
    AllergyIntolerance,
    CarePlan,
    Condition,
    Encounter,
    Immunization,
    Observation,
    Procedure,
)

# What an encounter holds, by the related name of its `encounter` foreign key.
ENCOUNTER_CONTENTS = {
    "conditions": Condition,
    "allergyintolerances": AllergyIntolerance,
    "observations": Observation,
    "medicationrequests": MedicationRequest,
    "immunizations": Immunization,
    "procedures": Procedure,
    "diagnosticreports": DiagnosticReport,
    "careplans": CarePlan,
}


def _live(model) -> QuerySet:
    qs = model.objects.filter(deleted_at__isnull=True)
    if model is MedicationRequest:
        qs = qs.select_related("requester")
    elif model is DiagnosticReport:
        qs = qs.prefetch_related(Prefetch("results", queryset=Observation.objects.only("id")))
    return qs


def _with_contents(queryset: QuerySet[Encounter]) -> QuerySet[Encounter]:
    return queryset.select_related("practitioner", "organization").prefetch_related(
        "participants",
        *(Prefetch(name, queryset=_live(model)) for name, model in ENCOUNTER_CONTENTS.items()),
    )


def patient_history(*, user, patient: Patient) -> QuerySet[Encounter]:
    """The patient's encounters, newest first, each with what was recorded in it (prefetched).

    Raises `NotFoundOrForbidden` unless `user` may read the patient's clinical record. Slice or
    paginate before evaluating: prefetches then run for that page only.
    """
    if not can_read_clinical(user, patient):
        raise NotFoundOrForbidden()
    return _with_contents(clinical_records(user, Encounter, patient=patient).order_by("-period_start", "-id"))


def encounter_get(*, user, encounter_id) -> Encounter:
    """One live encounter with its contents, if `user` may read its patient's clinical record."""
    try:
        pk = int(encounter_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    encounter = (
        _with_contents(clinical_records(user, Encounter).filter(pk=pk)).select_related("patient").first()
    )
    if encounter is None:
        raise NotFoundOrForbidden()
    return encounter


def patient_records(*, user, patient: Patient, model) -> QuerySet:
    """Live rows of one clinical `model` (a `PatientRecordModel` subclass or `Encounter`) of `patient`,
    in the model's default order (newest first). Raises `NotFoundOrForbidden` outside the user's scope."""
    if not can_read_clinical(user, patient):
        raise NotFoundOrForbidden()
    qs = clinical_records(user, model, patient=patient)
    if model is Encounter:
        return qs.select_related("practitioner", "organization")
    if model is MedicationRequest:
        return qs.select_related("requester")
    if model is DiagnosticReport:
        return qs.prefetch_related(Prefetch("results", queryset=Observation.objects.only("id")))
    return qs
