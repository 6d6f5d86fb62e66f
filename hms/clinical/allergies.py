"""Allergies and intolerances: writes, scoped reads and the allergy status (FHIR R4 `AllergyIntolerance`).

Value sets (https://hl7.org/fhir/R4/allergyintolerance.html): `category` food | medication | environment |
biologic; `criticality` low | high | unable-to-assess; `allergy_type` allergy | intolerance;
`clinical_status` active | inactive | resolved (allergyintolerance-clinical); reaction `severity`
mild | moderate | severe.

The substance is coded where possible: an RxNorm ingredient or drug class (`hms.core.codes.RXNORM`,
RXCUI digits), a SNOMED CT substance or allergy concept (`hms.core.codes.SNOMED`, SCTID digits, as Synthea
writes them), or free text (no system, no code) when nothing fits.

"No known allergies" is recorded explicitly, the FHIR way: an AllergyIntolerance coded SNOMED CT
716186003 "No known allergy (situation)" (FHIR R4 AllergyIntolerance notes; IPS "no known allergies").
Recording a real allergy later marks that row inactive in the same transaction; recording "no known
allergies" while real allergies are active is refused (409). `allergy_status(patient)`:
"unknown" (not yet asked: no active allergy and no active "no known allergy"), "none-known", "present".

Who: doctors and nurses caring for the patient write (else 404); they and the patient read; pharmacists
read the allergies of every live patient (DESIGN "Pharmacists: prescriptions and allergies"), and only
their allergies, through `allergies_visible`/`allergy_patient_get` here.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core import codes
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.models import Patient
from hms.patients.selectors import can_read_clinical, clinical_records, patient_get

from .models import AllergyIntolerance, Encounter
from .problems import _as_datetime, _check_note
from .services import clinical_write_check

NO_KNOWN_ALLERGY_CODE = "716186003"
NO_KNOWN_ALLERGY_DISPLAY = "No known allergy"
CATEGORIES = ("food", "medication", "environment", "biologic")
CRITICALITIES = ("low", "high", "unable-to-assess")
TYPES = ("allergy", "intolerance")
CLINICAL_STATUSES = ("active", "inactive", "resolved")
SEVERITIES = ("mild", "moderate", "severe")
SUBSTANCE_SYSTEMS = {codes.RXNORM: "RxNorm", codes.SNOMED: "SNOMED CT", "": "free text"}
_CODE_FORMAT = {codes.RXNORM: re.compile(r"^\d{1,8}$"), codes.SNOMED: re.compile(r"^\d{6,18}$")}
MAX_REACTIONS = 10

STATUS_UNKNOWN, STATUS_NONE_KNOWN, STATUS_PRESENT = "unknown", "none-known", "present"


def _is_nka(qs: QuerySet) -> QuerySet:
    return qs.filter(code_system=codes.SNOMED, code=NO_KNOWN_ALLERGY_CODE)


def _real(qs: QuerySet) -> QuerySet:
    return qs.exclude(code_system=codes.SNOMED, code=NO_KNOWN_ALLERGY_CODE)


def is_no_known_allergy(allergy: AllergyIntolerance) -> bool:
    return allergy.code_system == codes.SNOMED and allergy.code == NO_KNOWN_ALLERGY_CODE


# ---------------------------------------------------------------- validation


def _clean_reactions(reactions) -> list[dict]:
    """[{manifestation: str (1..200 chars), severity: mild|moderate|severe (optional)}] (≤ 10)."""
    if reactions in (None, ""):
        return []
    if not isinstance(reactions, list) or len(reactions) > MAX_REACTIONS:
        raise ValidationError({"reactions": f"A list of at most {MAX_REACTIONS} reactions."})
    out = []
    for n, reaction in enumerate(reactions, 1):
        if not isinstance(reaction, dict) or set(reaction) - {"manifestation", "severity"}:
            raise ValidationError({"reactions": f"Reaction {n}: give manifestation and severity only."})
        manifestation = reaction.get("manifestation")
        severity = reaction.get("severity") or ""
        if not isinstance(manifestation, str) or not manifestation.strip() or len(manifestation) > 200:
            raise ValidationError({"reactions": f"Reaction {n}: manifestation is 1 to 200 characters."})
        if severity not in ("", *SEVERITIES):
            raise ValidationError({"reactions": f"Reaction {n}: severity is one of {', '.join(SEVERITIES)}."})
        out.append({"manifestation": manifestation.strip(), "severity": severity})
    return out


def _choice(errors: dict, field: str, value: str, allowed: tuple, *, required: bool) -> str:
    value = value or ""
    if (required and not value) or (value and value not in allowed):
        errors[field] = f"One of: {', '.join(allowed)}."
    return value


# ---------------------------------------------------------------- writes


def allergy_record(
    *,
    patient: Patient,
    substance_display: str,
    category: str,
    substance_system: str = "",
    substance_code: str = "",
    allergy_type: str = "allergy",
    criticality: str = "",
    clinical_status: str = "active",
    reactions=None,
    onset=None,
    note: str = "",
    encounter: Encounter | None = None,
    by,
    request=None,
) -> AllergyIntolerance:
    """Record an allergy or intolerance of `patient`.

    - Substance: `substance_system` (RxNorm or SNOMED CT URI, or "" for free text), `substance_code`
      (RXCUI 1-8 digits / SCTID 6-18 digits; empty for free text), `substance_display` (1..200 chars,
      what the banner shows). 400 on a system not in `SUBSTANCE_SYSTEMS` or a malformed code.
    - `category` (required), `allergy_type`, `criticality` (optional), `clinical_status`, `reactions`:
      see the module docstring (400 for anything else); `onset`: date or aware datetime, not future.
    - An active allergy with the same substance already recorded: 409 (`Conflict`).
    - Marks an active "no known allergy" row inactive, in the same transaction.

    Doctors and nurses caring for the patient only (404). AuditEvents: create (and update of the
    "no known allergy" row it replaces).
    """
    clinical_write_check(by, patient)
    errors: dict = {}
    substance_system = substance_system or ""
    substance_code = (substance_code or "").strip()
    substance_display = " ".join((substance_display or "").split())
    if substance_system not in SUBSTANCE_SYSTEMS:
        errors["substance_system"] = "RxNorm, SNOMED CT or empty (free text)."
    elif substance_system and not _CODE_FORMAT[substance_system].match(substance_code):
        errors["substance_code"] = f"Not a {SUBSTANCE_SYSTEMS[substance_system]} code."
    elif not substance_system and substance_code:
        errors["substance_code"] = "A code needs its system (RxNorm or SNOMED CT)."
    elif substance_system == codes.SNOMED and substance_code == NO_KNOWN_ALLERGY_CODE:
        errors["substance_code"] = "Use 'no known allergies' to record that there are none."
    if not substance_display or len(substance_display) > 200:
        errors["substance_display"] = "Name the substance (1 to 200 characters)."
    _choice(errors, "category", category, CATEGORIES, required=True)
    _choice(errors, "allergy_type", allergy_type, TYPES, required=False)
    _choice(errors, "criticality", criticality, CRITICALITIES, required=False)
    _choice(errors, "clinical_status", clinical_status, CLINICAL_STATUSES, required=True)
    if encounter is not None and (encounter.patient_id != patient.pk or encounter.deleted_at is not None):
        errors["encounter"] = "Not an encounter of this patient."
    if errors:
        raise ValidationError(errors)
    allergy = AllergyIntolerance(
        patient=patient,
        encounter=encounter,
        code_system=substance_system,
        code=substance_code,
        code_display=substance_display,
        clinical_status=clinical_status,
        verification_status="confirmed",
        allergy_type=allergy_type or "",
        category=category,
        criticality=criticality or "",
        onset_at=_as_datetime(onset, "onset"),
        recorded_at=timezone.now(),
        reactions=_clean_reactions(reactions),
        note=_check_note(note),
        recorded_by=by,
    )
    allergy.full_clean()
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()  # serialise writers per patient
        live = AllergyIntolerance.objects.filter(patient=patient, deleted_at=None, clinical_status="active")
        same = live.filter(code_system=substance_system)
        same = (
            same.filter(code=substance_code)
            if substance_code
            else same.filter(code="", code_display__iexact=substance_display)
        )
        if clinical_status == "active" and same.exists():
            raise Conflict(f"{substance_display} is already recorded as an active allergy.")
        allergy.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=allergy,
            detail={"code": substance_code, "display": substance_display},
        )
        if clinical_status == "active":
            for nka in _is_nka(live):
                nka.clinical_status = "inactive"
                nka.save(update_fields=["clinical_status", "updated_at"])
                audit_record(
                    actor=by,
                    action=AuditAction.UPDATE,
                    request=request,
                    patient=patient,
                    obj=nka,
                    detail={
                        "changes": {"clinical_status": ["active", "inactive"]},
                        "replaced_by": allergy.pk,
                    },
                )
    return allergy


def allergy_record_none_known(*, patient: Patient, by, request=None) -> tuple[AllergyIntolerance, bool]:
    """Record that `patient` has no known allergies (SNOMED CT 716186003). Returns (row, created): an
    active "no known allergy" row already there is returned as is. 409 (`Conflict`) while real allergies
    are active (mark them inactive or entered-in-error first). Doctors and nurses caring for the patient
    only (404). One AuditEvent (create) when created."""
    clinical_write_check(by, patient)
    with transaction.atomic():
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        live = AllergyIntolerance.objects.filter(patient=patient, deleted_at=None, clinical_status="active")
        real = list(_real(live).values_list("code_display", flat=True)[:5])
        if real:
            raise Conflict(
                "Active allergies are recorded: mark them inactive or entered-in-error first.",
                payload={"active_allergies": real},
            )
        existing = _is_nka(live).first()
        if existing is not None:
            return existing, False
        allergy = AllergyIntolerance(
            patient=patient,
            code_system=codes.SNOMED,
            code=NO_KNOWN_ALLERGY_CODE,
            code_display=NO_KNOWN_ALLERGY_DISPLAY,
            clinical_status="active",
            verification_status="confirmed",
            recorded_at=timezone.now(),
            recorded_by=by,
        )
        allergy.full_clean()
        allergy.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=allergy,
            detail={"code": NO_KNOWN_ALLERGY_CODE, "no_known_allergy": True},
        )
    return allergy, True


_UNSET = object()


def allergy_update(
    *,
    allergy: AllergyIntolerance,
    by,
    clinical_status=_UNSET,
    criticality=_UNSET,
    reactions=_UNSET,
    note=_UNSET,
    request=None,
) -> AllergyIntolerance:
    """Change the status, criticality, reactions or note of an allergy (arguments left out stay). The
    substance never changes (mark the row entered-in-error and record it again). 400 on a value outside
    the value sets; 404 for a writer not caring for the patient. One AuditEvent (update) with the changes."""
    clinical_write_check(by, allergy.patient)
    if allergy.deleted_at is not None:
        raise NotFoundOrForbidden()
    errors: dict = {}
    new = {}
    if clinical_status is not _UNSET:
        new["clinical_status"] = _choice(
            errors, "clinical_status", clinical_status, CLINICAL_STATUSES, required=True
        )
    if criticality is not _UNSET:
        new["criticality"] = _choice(errors, "criticality", criticality, CRITICALITIES, required=False)
    if errors:
        raise ValidationError(errors)
    if reactions is not _UNSET:
        new["reactions"] = _clean_reactions(reactions)
    if note is not _UNSET:
        new["note"] = _check_note(note)
    if is_no_known_allergy(allergy) and set(new) - {"clinical_status", "note"}:
        raise ValidationError({"detail": "A 'no known allergy' record has only a status and a note."})
    changes = {f: [getattr(allergy, f), v] for f, v in new.items() if getattr(allergy, f) != v}
    if not changes:
        return allergy
    with transaction.atomic():
        reactivating_nka = (
            changes.get("clinical_status")
            and new["clinical_status"] == "active"
            and is_no_known_allergy(allergy)
        )
        live = AllergyIntolerance.objects.filter(
            patient=allergy.patient_id, deleted_at=None, clinical_status="active"
        )
        if reactivating_nka and _real(live).exists():
            raise Conflict("Active allergies are recorded: 'no known allergy' cannot be active.")
        for field, (_old, value) in changes.items():
            setattr(allergy, field, value)
        allergy.full_clean()
        allergy.save()
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=allergy.patient,
            obj=allergy,
            detail={"changes": changes},
        )
    return allergy


# ---------------------------------------------------------------- reads (scoped)

ALLERGY_READER_ROLES = frozenset({Role.DOCTOR, Role.NURSE, Role.PATIENT, Role.PHARMACIST})


def can_read_allergies(user, patient: Patient) -> bool:
    """Clinicians caring for the patient and the patient (clinical access), or any pharmacist."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.role == Role.PHARMACIST:
        return patient.deleted_at is None
    return can_read_clinical(user, patient)


def allergies_visible(user, *, patient: Patient | None = None) -> QuerySet[AllergyIntolerance]:
    """Live allergy rows `user` may read (see `can_read_allergies`); with `patient`, that patient's only.
    Ordered: active first, high criticality first, then by substance."""
    if user is not None and user.is_authenticated and user.is_active and user.role == Role.PHARMACIST:
        qs = AllergyIntolerance.objects.filter(deleted_at__isnull=True, patient__deleted_at__isnull=True)
        if patient is not None:
            qs = qs.filter(patient=patient)
    else:
        qs = clinical_records(user, AllergyIntolerance, patient=patient)
    return qs.annotate(
        _inactive=Case(
            When(clinical_status="active", then=Value(0)), default=Value(1), output_field=IntegerField()
        ),
        _low=Case(When(criticality="high", then=Value(0)), default=Value(1), output_field=IntegerField()),
    ).order_by("_inactive", "_low", "code_display", "id")


def allergy_patient_get(user, patient_id) -> Patient:
    """The patient if `user` may read their allergies, else `NotFoundOrForbidden` (404)."""
    patient = patient_get(user, patient_id)
    if not can_read_allergies(user, patient):
        raise NotFoundOrForbidden()
    return patient


def allergy_get(*, user, allergy_id) -> AllergyIntolerance:
    """One live allergy row `user` may read, else 404."""
    try:
        pk = int(allergy_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    allergy = allergies_visible(user).select_related("patient").filter(pk=pk).first()
    if allergy is None:
        raise NotFoundOrForbidden()
    return allergy


def allergy_status(patient: Patient) -> str:
    """ "present" (an active real allergy), "none-known" (an active SNOMED CT 716186003 row) or "unknown"
    (not yet asked: neither). Reads live rows of `patient`; the caller has checked access."""
    active = AllergyIntolerance.objects.filter(patient=patient, deleted_at=None, clinical_status="active")
    if _real(active).exists():
        return STATUS_PRESENT
    if _is_nka(active).exists():
        return STATUS_NONE_KNOWN
    return STATUS_UNKNOWN
