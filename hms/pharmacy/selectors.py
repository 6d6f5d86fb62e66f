"""Reads of prescriptions (FHIR MedicationRequest) and renewal requests, always scoped to the requesting user.

| role | prescriptions | renewal requests |
|---|---|---|
| doctor, nurse | live ones of patients in their care (drafts too) | doctors: theirs, or of patients in care |
| patient | their own, except drafts | their own |
| pharmacist | every issued one (active, completed, stopped; imported too) | none |
| anyone else | none | none |

"Missing" and "not yours" are the same `NotFoundOrForbidden` (404). Entered-in-error rows (soft-deleted)
are never listed. Querysets come with their joins, so a page costs a fixed number of queries.
"""

from django.db.models import Q, QuerySet

from hms.accounts.roles import Role
from hms.core.errors import NotFoundOrForbidden
from hms.patients.selectors import CARE_ROLES, patients_with_clinical_access

from .models import MedicationRequest, PrescriptionRenewal, RenewalStatus

ISSUED_STATUSES = ("active", "completed", "stopped")
STATUSES = ("draft", "active", "completed", "stopped", "entered-in-error", "on-hold", "cancelled", "unknown")


def _live_user(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def prescriptions_visible(user) -> QuerySet[MedicationRequest]:
    """Live prescriptions `user` may read (see the module table), with patient, requester and indication
    joined."""
    if not _live_user(user):
        return MedicationRequest.objects.none()
    qs = MedicationRequest.objects.filter(deleted_at__isnull=True)
    role = user.role
    if role in CARE_ROLES:
        qs = qs.filter(patient__in=patients_with_clinical_access(user))
    elif role == Role.PATIENT:
        qs = qs.filter(patient__user=user).exclude(status="draft")
    elif role == Role.PHARMACIST:
        qs = qs.filter(status__in=ISSUED_STATUSES, patient__deleted_at__isnull=True)
    else:
        return qs.none()
    return qs.select_related("patient", "requester", "indication", "signed_by")


def _pk(value) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    return pk


def prescription_get(*, user, prescription_id) -> MedicationRequest:
    """One prescription `user` may read, else `NotFoundOrForbidden` (404)."""
    found = prescriptions_visible(user).filter(pk=_pk(prescription_id)).first()
    if found is None:
        raise NotFoundOrForbidden()
    return found


def prescription_by_code(*, user, code: str) -> MedicationRequest:
    """The issued prescription whose verification code is `code` (case-insensitive, spaces and dashes
    ignored), for pharmacists; else `NotFoundOrForbidden` (404)."""
    if user is None or getattr(user, "role", None) != Role.PHARMACIST or not isinstance(code, str):
        raise NotFoundOrForbidden()
    wanted = normalise_code(code)
    if not wanted:
        raise NotFoundOrForbidden()
    found = (
        prescriptions_visible(user)
        .filter(verification_code=wanted, signed_at__isnull=False)
        .order_by("-signed_at")
        .first()
    )
    if found is None:
        raise NotFoundOrForbidden()
    return found


def normalise_code(code: str) -> str:
    """A verification code as stored: upper case, groups of four joined by "-" ("k7qm 4x9z ab3c" →
    "K7QM-4X9Z-AB3C"); "" when it cannot be one."""
    raw = "".join(ch for ch in code.upper() if ch.isalnum())[:40]
    if len(raw) != 12:
        return ""
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def renewals_visible(user) -> QuerySet[PrescriptionRenewal]:
    """Renewal requests `user` may read (see the module table), with the prescription, patient and
    prescriber joined."""
    if not _live_user(user):
        return PrescriptionRenewal.objects.none()
    qs = PrescriptionRenewal.objects.all()
    role = user.role
    if role == Role.PATIENT:
        qs = qs.filter(patient__user=user)
    elif role == Role.DOCTOR:
        practitioner = getattr(user, "practitioner", None)
        if practitioner is None:
            return qs.none()
        qs = qs.filter(Q(prescriber=practitioner) | Q(patient__in=patients_with_clinical_access(user)))
    else:
        return qs.none()
    return qs.select_related("prescription", "patient", "prescriber", "renewed_as", "decided_by")


def renewal_get(*, user, renewal_id) -> PrescriptionRenewal:
    """One renewal request `user` may read, else `NotFoundOrForbidden` (404)."""
    found = renewals_visible(user).filter(pk=_pk(renewal_id)).first()
    if found is None:
        raise NotFoundOrForbidden()
    return found


def renewal_inbox(user) -> QuerySet[PrescriptionRenewal]:
    """A doctor's open renewal requests (addressed to them, or about a patient in their care whose
    prescriber has no login), oldest first. Others get an empty list."""
    if getattr(user, "role", None) != Role.DOCTOR:
        return PrescriptionRenewal.objects.none()
    practitioner = getattr(user, "practitioner", None)
    if practitioner is None:
        return PrescriptionRenewal.objects.none()
    mine = Q(prescriber=practitioner) | Q(prescriber__isnull=True) | Q(prescriber__user__isnull=True)
    return renewals_visible(user).filter(mine, status=RenewalStatus.REQUESTED).order_by("created_at", "id")
