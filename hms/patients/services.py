"""Writes to the patient registry. Each runs in one transaction with its AuditEvent."""

from difflib import SequenceMatcher

from django.db import transaction
from django.utils import timezone

from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict

from .models import Patient, normalise_national_id
from .mrn import mrn_allocate

# Fields a caller may set on create/update (MRN, soft-delete fields and links are managed here).
PATIENT_FIELDS = (
    "family_name",
    "given_names",
    "prefix",
    "date_of_birth",
    "gender",
    "deceased_at",
    "phone",
    "email",
    "address_line",
    "city",
    "state",
    "postal_code",
    "country",
    "blood_group",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relationship",
    "national_id",
    "preferred_language",
    "active",
)
NAME_SIMILARITY = 0.8


def _normalise_phone(phone: str) -> str:
    return "".join(ch for ch in phone or "" if ch.isdigit())[-10:]


def _phone_variants(digits: str) -> set[str]:
    """Common spellings of a phone number (its last 10 digits), so the duplicate check can use the
    plain index on `phone` with an exact `IN (...)` instead of scanning for a suffix."""
    if len(digits) != 10:
        return {digits}
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    local = [
        f"{area}-{exchange}-{line}",
        f"({area}) {exchange}-{line}",
        f"{area}.{exchange}.{line}",
        f"{area} {exchange} {line}",
        f"({area}){exchange}-{line}",
        digits,
    ]
    return {*local, *(f"+1 {v}" for v in local), *(f"1-{v}" for v in local), f"+1{digits}", f"1{digits}"}


def _similar(a: str, b: str) -> bool:
    a, b = a.strip().casefold(), b.strip().casefold()
    return bool(a and b) and (a == b or SequenceMatcher(None, a, b).ratio() >= NAME_SIMILARITY)


def _normalised(data: dict) -> dict:
    if "national_id" in data and data["national_id"] is not None:
        return {**data, "national_id": normalise_national_id(data["national_id"])}
    return data


def patient_duplicates(*, data: dict, exclude_pk: int | None = None) -> list[Patient]:
    """Probable duplicates of `data` among live patients.

    A candidate has the same date of birth and a similar name (family and given names each ≥ 0.8
    similar by `difflib.SequenceMatcher`, case-insensitive), or the same phone (last 10 digits), or the
    same national identifier.
    """
    found: dict[int, Patient] = {}
    live = Patient.objects.filter(deleted_at__isnull=True)
    if exclude_pk:
        live = live.exclude(pk=exclude_pk)
    dob = data.get("date_of_birth")
    if dob:
        for p in live.filter(date_of_birth=dob)[:200]:
            if _similar(p.family_name, data.get("family_name", "")) and _similar(
                p.given_names, data.get("given_names", "")
            ):
                found[p.pk] = p
    phone = _normalise_phone(data.get("phone", ""))
    if len(phone) >= 7:
        variants = _phone_variants(phone) | {data.get("phone", "").strip()}
        for p in live.filter(phone__in=variants)[:50]:
            if _normalise_phone(p.phone) == phone:
                found[p.pk] = p
    national_id = normalise_national_id(data.get("national_id") or "")
    if national_id:
        for p in live.filter(national_id=national_id)[:10]:
            found[p.pk] = p
    return list(found.values())


def patient_create(
    *, by, data: dict, force: bool = False, force_reason: str = "", user=None, request=None
) -> Patient:
    """Register a patient and issue their MRN.

    `data`: keys of `PATIENT_FIELDS`; family_name, given_names, date_of_birth and gender are required.
    `user`: the patient's own login (self-registration), if any.
    Raises `django.core.exceptions.ValidationError` (400) on invalid fields and `Conflict` (409, with
    `candidates`: list of {id, mrn, name, date_of_birth}) when probable duplicates exist, unless `force`
    is true and `force_reason` is given (the override is audited).
    """
    from django.core.exceptions import ValidationError

    if force and not force_reason.strip():
        raise ValidationError({"force_reason": "A reason is required to register a probable duplicate."})
    data = _normalised(data)
    duplicates = patient_duplicates(data=data)
    if duplicates and not force:
        # The 409 shows other patients' names, MRNs and birth dates: that disclosure is audited.
        audit_record(
            actor=by,
            action=AuditAction.SEARCH,
            request=request,
            patients=duplicates,
            object_type="patients.Patient",
            detail={"duplicate_check": True, "outcome": "refused as probable duplicate"},
        )
        raise Conflict(
            "Probable duplicate patient.",
            payload={
                "candidates": [
                    {"id": p.pk, "mrn": p.mrn, "name": p.full_name, "date_of_birth": str(p.date_of_birth)}
                    for p in duplicates
                ]
            },
        )
    with transaction.atomic():
        patient = Patient(**{k: v for k, v in data.items() if k in PATIENT_FIELDS}, user=user)
        patient.mrn = "000000000"  # placeholder so full_clean passes; the real MRN is allocated below
        patient.full_clean(exclude=["mrn"])
        patient.mrn = mrn_allocate(1)[0]
        patient.save()
        detail = {}
        if duplicates:
            detail = {"forced_duplicate_of": [p.pk for p in duplicates], "reason": force_reason}
        audit_record(
            actor=by, action=AuditAction.CREATE, request=request, patient=patient, obj=patient, detail=detail
        )
    return patient


def patient_update(*, patient: Patient, by, data: dict, request=None) -> Patient:
    """Change demographics; only `PATIENT_FIELDS` are touched. Raises ValidationError (400)."""
    data = _normalised(data)
    changed = [k for k, v in data.items() if k in PATIENT_FIELDS and getattr(patient, k) != v]
    with transaction.atomic():
        for k in changed:
            setattr(patient, k, data[k])
        patient.full_clean()
        if changed:
            patient.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=patient,
            obj=patient,
            detail={"fields": sorted(changed)},
        )
    return patient


def patient_delete(*, patient: Patient, by, reason: str, request=None) -> Patient:
    """Soft-delete: hide the patient from every list; the record and MRN stay. Raises ValidationError
    when `reason` is blank or the patient is already deleted."""
    from django.core.exceptions import ValidationError

    if not (reason or "").strip():
        raise ValidationError({"reason": "A reason is required to delete a patient record."})
    if patient.deleted_at is not None:
        raise ValidationError({"detail": "This patient record is already deleted."})
    with transaction.atomic():
        patient.deleted_at = timezone.now()
        patient.deleted_by = by
        patient.deletion_reason = reason.strip()[:500]
        patient.active = False
        patient.save(update_fields=["deleted_at", "deleted_by", "deletion_reason", "active", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.DELETE,
            request=request,
            patient=patient,
            obj=patient,
            detail={"reason": patient.deletion_reason},
        )
    return patient
