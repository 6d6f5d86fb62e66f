"""Diagnoses and the problem list: writes and scoped reads of `Condition` (FHIR R4 `Condition`).

Writes (doctors only, patient in their care; anyone else `NotFoundOrForbidden`, 404):

- `condition_record(...)`: a new diagnosis coded in ICD-10-CM (billable codes only, validated against the
  full CDC list in `hms.terminology.icd10`), optionally in an encounter as its primary or a secondary
  diagnosis. At most ONE live primary diagnosis per encounter (checked under a row lock on the encounter,
  and by the partial unique index `condition_one_primary_per_encounter`).
- `condition_update(...)`: clinical status, abatement, note, diagnosis role. The code never changes
  (conditions imported with SNOMED CT codes keep them, read-only); a wrong code is marked entered-in-error
  (`hms.clinical.services.record_enter_in_error`) and recorded again.

Rules from FHIR R4 Condition (https://hl7.org/fhir/R4/condition.html): clinical status from
http://terminology.hl7.org/CodeSystem/condition-clinical (active | recurrence | relapse | inactive |
remission | resolved); invariant con-4 "if abated, clinicalStatus is inactive, resolved or remission", so
an abatement date is refused for an active status and cleared when a problem becomes active again;
category from condition-category: `encounter-diagnosis` when recorded in an encounter, else
`problem-list-item`.

Bad input raises `ValidationError` (400, field errors); every write is one transaction with its AuditEvent.
"""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core import codes
from hms.core.errors import NotFoundOrForbidden
from hms.patients.models import Patient
from hms.patients.selectors import clinical_records
from hms.terminology.icd10 import icd10_get, normalize_code

from .models import Condition, DiagnosisRole, Encounter
from .services import clinical_write_check

CONDITION_WRITER_ROLES = frozenset({Role.DOCTOR})
ACTIVE_STATUSES = ("active", "recurrence", "relapse")
ABATED_STATUSES = ("inactive", "remission", "resolved")
CLINICAL_STATUSES = ACTIVE_STATUSES + ABATED_STATUSES
ROLES = tuple(DiagnosisRole.values)
MAX_NOTE = 4000


# ---------------------------------------------------------------- helpers


def _as_datetime(value, field: str) -> dt.datetime | None:
    """A date (midnight in `settings.HOSPITAL_TIME_ZONE`) or aware datetime -> aware datetime; not future."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            value = value.replace(tzinfo=zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE))
    elif isinstance(value, dt.date):
        if not dt.date(1900, 1, 1) <= value <= dt.date(2999, 12, 31):
            raise ValidationError({field: "Must be a date after 1900."})
        value = dt.datetime.combine(value, dt.time.min, tzinfo=zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE))
    else:
        raise ValidationError({field: "Must be a date (YYYY-MM-DD) or a date and time."})
    if value > timezone.now() + dt.timedelta(minutes=5):
        raise ValidationError({field: "Must not be in the future."})
    return value


def _check_status(status: str) -> str:
    if status not in CLINICAL_STATUSES:
        raise ValidationError({"clinical_status": f"One of: {', '.join(CLINICAL_STATUSES)}."})
    return status


def _check_note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError({"note": f"At most {MAX_NOTE} characters."})
    return note


def _check_primary_free(encounter: Encounter, *, exclude_pk: int | None = None) -> None:
    """Lock the encounter row, then refuse a second live primary diagnosis (400 on `diagnosis_role`)."""
    Encounter.objects.select_for_update().filter(pk=encounter.pk).first()
    existing = (
        Condition.objects.filter(encounter=encounter, diagnosis_role=DiagnosisRole.PRIMARY, deleted_at=None)
        .exclude(pk=exclude_pk)
        .first()
    )
    if existing is not None:
        raise ValidationError(
            {
                "diagnosis_role": (
                    f"This encounter already has a primary diagnosis ({existing.code} "
                    f"{existing.code_display}); record this one as secondary, "
                    "or make that one secondary first."
                )
            }
        )


def _save(condition: Condition) -> None:
    try:
        with transaction.atomic():
            condition.save()
    except IntegrityError as exc:  # the partial unique index, under a race the lock did not cover
        raise ValidationError({"diagnosis_role": "This encounter already has a primary diagnosis."}) from exc


# ---------------------------------------------------------------- writes


def condition_record(
    *,
    patient: Patient,
    code: str,
    encounter: Encounter | None = None,
    clinical_status: str = "active",
    onset=None,
    abatement=None,
    diagnosis_role: str = "",
    note: str = "",
    by,
    request=None,
) -> Condition:
    """Record a diagnosis of `patient` coded in ICD-10-CM.

    - `code`: an ICD-10-CM code, dotted or not (`E11.9`, `E119`); stored dotted with the CDC description
      as display and system `http://hl7.org/fhir/sid/icd-10-cm`. 400 when unknown or not billable (a
      category heading such as `E11`: choose a more specific code).
    - `encounter`: optional, must be a live encounter of the same patient (400 otherwise).
    - `diagnosis_role`: `primary` | `secondary` (default `secondary` in an encounter); only in an
      encounter (400 otherwise); a second primary in one encounter is refused (400).
    - `clinical_status`: see `CLINICAL_STATUSES` (default active); `onset`/`abatement`: date or aware
      datetime, not in the future, abatement ≥ onset and only with an abated status (FHIR con-4).
    - `note`: free text, at most 4,000 characters.

    Only doctors caring for the patient; anyone else 404. One AuditEvent (create) in the transaction.
    """
    clinical_write_check(by, patient, roles=CONDITION_WRITER_ROLES)
    errors = {}
    entry = icd10_get(code or "")
    if entry is None:
        errors["code"] = f"{normalize_code(code or '') or 'This'} is not an ICD-10-CM code."
    elif not entry.billable:
        errors["code"] = (
            f"{entry.code} ({entry.display}) is a category heading, not a billable code: choose a more "
            "specific code under it."
        )
    if encounter is not None and (encounter.patient_id != patient.pk or encounter.deleted_at is not None):
        errors["encounter"] = "Not an encounter of this patient."
    diagnosis_role = diagnosis_role or ""
    if diagnosis_role and diagnosis_role not in ROLES:
        errors["diagnosis_role"] = f"One of: {', '.join(ROLES)}."
    elif diagnosis_role and encounter is None:
        errors["diagnosis_role"] = "Only a diagnosis recorded in an encounter is primary or secondary."
    if clinical_status not in CLINICAL_STATUSES:
        errors["clinical_status"] = f"One of: {', '.join(CLINICAL_STATUSES)}."
    if errors:
        raise ValidationError(errors)
    onset_at = _as_datetime(onset, "onset")
    abatement_at = _as_datetime(abatement, "abatement")
    if abatement_at is not None and clinical_status not in ABATED_STATUSES:
        raise ValidationError({"abatement": "Only an inactive, remission or resolved condition has one."})
    if abatement_at is not None and onset_at is not None and abatement_at < onset_at:
        raise ValidationError({"abatement": "Must not be before the onset."})
    if encounter is not None and not diagnosis_role:
        diagnosis_role = DiagnosisRole.SECONDARY
    now = timezone.now()
    condition = Condition(
        patient=patient,
        encounter=encounter,
        code_system=codes.ICD10CM,
        code=entry.code,
        code_display=entry.display[:500],
        clinical_status=clinical_status,
        verification_status="confirmed",
        category="encounter-diagnosis" if encounter is not None else "problem-list-item",
        onset_at=onset_at,
        abatement_at=abatement_at,
        recorded_at=now,
        diagnosis_role=diagnosis_role,
        note=_check_note(note),
        recorded_by=by,
    )
    condition.full_clean(validate_constraints=False)  # the primary rule is checked under the lock below
    with transaction.atomic():
        if diagnosis_role == DiagnosisRole.PRIMARY:
            _check_primary_free(encounter)
        _save(condition)
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=condition,
            detail={"code": condition.code, "diagnosis_role": diagnosis_role},
        )
    return condition


_UNSET = object()


def condition_update(
    *,
    condition: Condition,
    by,
    clinical_status=_UNSET,
    abatement=_UNSET,
    note=_UNSET,
    diagnosis_role=_UNSET,
    request=None,
) -> Condition:
    """Change what may change on a condition; arguments left out stay as they are.

    - `clinical_status`: see `CLINICAL_STATUSES`. Moving to inactive/remission/resolved sets the
      abatement to now unless given; moving back to active/recurrence/relapse clears it (FHIR con-4).
    - `abatement`: date or aware datetime (not future, ≥ onset), or None to clear; only with an abated
      status (400 otherwise).
    - `diagnosis_role`: primary | secondary, only for a condition of an encounter (one primary each).
    - `note`: replaces the note (≤ 4,000 characters).

    The code is read-only (400 is the caller's to raise when it is sent). Doctors caring for the patient
    only (404). One AuditEvent (update, with the changed fields' old and new values).
    """
    clinical_write_check(by, condition.patient, roles=CONDITION_WRITER_ROLES)
    if condition.deleted_at is not None:
        raise NotFoundOrForbidden()
    changes: dict[str, list] = {}

    def change(field, value):
        old = getattr(condition, field)
        if old != value:
            changes[field] = [
                str(old) if old is not None else None,
                str(value) if value is not None else None,
            ]
            setattr(condition, field, value)

    if clinical_status is not _UNSET:
        change("clinical_status", _check_status(clinical_status))
    status = condition.clinical_status
    if abatement is not _UNSET:
        abatement_at = _as_datetime(abatement, "abatement")
        if abatement_at is not None and status not in ABATED_STATUSES:
            raise ValidationError({"abatement": "Only an inactive, remission or resolved condition has one."})
        if abatement_at is not None and condition.onset_at is not None and abatement_at < condition.onset_at:
            raise ValidationError({"abatement": "Must not be before the onset."})
        change("abatement_at", abatement_at)
    if status in ACTIVE_STATUSES:
        change("abatement_at", None)
    elif condition.abatement_at is None and "clinical_status" in changes:
        change("abatement_at", timezone.now())
    if note is not _UNSET:
        change("note", _check_note(note))
    if diagnosis_role is not _UNSET:
        if condition.encounter_id is None:
            raise ValidationError(
                {"diagnosis_role": "Only a diagnosis recorded in an encounter is primary or secondary."}
            )
        if diagnosis_role not in ROLES:
            raise ValidationError({"diagnosis_role": f"One of: {', '.join(ROLES)}."})
        change("diagnosis_role", diagnosis_role)
    if not changes:
        return condition
    with transaction.atomic():
        if changes.get("diagnosis_role") and condition.diagnosis_role == DiagnosisRole.PRIMARY:
            _check_primary_free(condition.encounter, exclude_pk=condition.pk)
        _save(condition)
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=condition.patient,
            obj=condition,
            detail={"changes": changes},
        )
    return condition


# ---------------------------------------------------------------- reads (scoped)


def conditions_visible(user, *, patient: Patient | None = None) -> QuerySet[Condition]:
    """Live conditions `user` may read (doctors and nurses: patients in their care; a patient: their own;
    nobody else, pharmacists included), newest onset first."""
    return clinical_records(user, Condition, patient=patient).order_by(
        F("onset_at").desc(nulls_last=True), "-id"
    )


def condition_get(*, user, condition_id) -> Condition:
    """One live condition `user` may read, else `NotFoundOrForbidden` (404)."""
    try:
        pk = int(condition_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    condition = conditions_visible(user).select_related("patient", "encounter").filter(pk=pk).first()
    if condition is None:
        raise NotFoundOrForbidden()
    return condition


def problem_list(*, user, patient: Patient) -> QuerySet[Condition]:
    """The problem list: `patient`'s live conditions with an active status (active, recurrence, relapse),
    newest onset first. Empty for a user who may not read the patient's record."""
    return conditions_visible(user, patient=patient).filter(clinical_status__in=ACTIVE_STATUSES)


def encounter_diagnoses(*, user, encounter: Encounter) -> list[Condition]:
    """The live diagnoses recorded in `encounter`: the primary first, then by recording time."""
    rows = list(clinical_records(user, Condition, patient=encounter.patient).filter(encounter=encounter))
    rows.sort(key=lambda c: (c.diagnosis_role != DiagnosisRole.PRIMARY, c.recorded_at or c.created_at, c.pk))
    return rows
