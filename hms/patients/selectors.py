"""Reads of patients and their records, always scoped to the requesting user.

Who sees what (DESIGN.md "Who may see what"):

| role | demographics | clinical record |
|---|---|---|
| patient | only their own | only their own |
| doctor, nurse | patients in their care | patients in their care |
| receptionist, billing, pharmacist, lab technician | all live patients | none (later issues: orders) |
| admin | all, soft-deleted included | none |

"In their care" = an Encounter where the user's Practitioner is the performer or a participant
(appointments and admissions join this rule when those modules land).
A record outside the user's scope is reported exactly like a missing one: `NotFoundOrForbidden` (404).
"""

from django.db.models import Q, QuerySet

from hms.accounts.roles import Role
from hms.core.errors import NotFoundOrForbidden

from .models import Patient

DEMOGRAPHICS_ROLES = frozenset(
    {Role.ADMIN, Role.RECEPTIONIST, Role.BILLING, Role.PHARMACIST, Role.LAB_TECHNICIAN}
)
CARE_ROLES = frozenset({Role.DOCTOR, Role.NURSE})


def _practitioner_id(user) -> int | None:
    practitioner = getattr(user, "practitioner", None)
    return practitioner.pk if practitioner is not None else None


def _in_care_filter(practitioner_id: int) -> Q:
    """`pk IN (patients of the practitioner's encounters UNION those they took part in)`.

    One IN over a UNION lets PostgreSQL plan a semi-join driven by the practitioner's (few) encounters;
    `EXISTS(...) OR EXISTS(...)` would be a per-row filter, which walks the whole patient table when a
    list is ordered by name (hundreds of ms at 1,000,000 patients).
    """
    from hms.clinical.models import Encounter

    direct = Encounter.objects.filter(practitioner_id=practitioner_id).order_by().values("patient_id")
    team = (
        Encounter.participants.through.objects.filter(practitioner_id=practitioner_id)
        .order_by()
        .values("encounter__patient_id")
    )
    return Q(pk__in=direct.union(team))


def patients_visible(user, *, include_deleted: bool = False) -> QuerySet[Patient]:
    """Patients whose demographics `user` may see. Soft-deleted ones only for admins asking for them."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    role = user.role
    qs = Patient.objects.all()
    if not (include_deleted and role == Role.ADMIN):
        qs = qs.filter(deleted_at__isnull=True)
    if role in DEMOGRAPHICS_ROLES:
        return qs
    if role in CARE_ROLES:
        pid = _practitioner_id(user)
        return qs.filter(_in_care_filter(pid)) if pid else qs.none()
    if role == Role.PATIENT:
        return qs.filter(user=user)
    return qs.none()


def patients_with_clinical_access(user) -> QuerySet[Patient]:
    """Patients whose clinical record (encounters, observations, ...) `user` may read."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    role = user.role
    if role in CARE_ROLES or role == Role.PATIENT:
        return patients_visible(user)
    return Patient.objects.none()


def patient_get(user, patient_id, *, include_deleted: bool = False) -> Patient:
    """The patient with pk `patient_id` if `user` may see them; else `NotFoundOrForbidden` (404)."""
    try:
        pk = int(patient_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    patient = patients_visible(user, include_deleted=include_deleted).filter(pk=pk).first()
    if patient is None:
        raise NotFoundOrForbidden()
    return patient


def patient_get_clinical(user, patient_id) -> Patient:
    """The patient if `user` may read their clinical record; else `NotFoundOrForbidden` (404)."""
    patient = patient_get(user, patient_id)
    if not can_read_clinical(user, patient):
        raise NotFoundOrForbidden()
    return patient


def can_read_clinical(user, patient: Patient) -> bool:
    return patients_with_clinical_access(user).filter(pk=patient.pk).exists()


def clinical_records(user, model, *, patient: Patient | None = None) -> QuerySet:
    """Live (not soft-deleted) rows of a clinical `model` whose patient `user` may read.

    `model` is any `PatientRecordModel` subclass or `clinical.Encounter`; pass `patient` to narrow to one.
    """
    qs = model.objects.filter(deleted_at__isnull=True)
    if patient is not None:
        if not can_read_clinical(user, patient):
            return qs.none()
        return qs.filter(patient=patient)
    return qs.filter(patient__in=patients_with_clinical_access(user))
