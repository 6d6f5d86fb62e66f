"""Reads of inpatient care, scoped to the requesting user.

- The location tree (wards, rooms, beds and their status) is not PHI: every staff member sees it.
- Who is in a bed is PHI: `beds_with_occupancy` names the patient only for users who may see that patient's
  demographics (`hms.patients.selectors.patients_visible`); others see "occupied".
- Admissions (`admissions_visible`): doctors and nurses see those of patients in their care (which includes
  the patients admitted to a ward they are assigned to), a patient their own; receptionists, billing and
  admins (the admissions desk, bed-days billing, bed management) see every admission of a live patient.
  Pharmacists and lab technicians see none. Outside the scope: `NotFoundOrForbidden` (404).
"""

from django.db.models import Prefetch, QuerySet

from hms.accounts.roles import STAFF_ROLES, Role
from hms.core.errors import NotFoundOrForbidden
from hms.patients.selectors import patients_visible, patients_with_clinical_access

from .models import Admission, BedStay, Location, PhysicalType

ADMIN_DESK_ROLES = frozenset({Role.RECEPTIONIST, Role.BILLING, Role.ADMIN})


def _staff(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.role in STAFF_ROLES)


def wards_visible(user, *, include_inactive: bool = False) -> QuerySet[Location]:
    """Wards (Location type wa) for staff; none for patients or anonymous users."""
    if not _staff(user):
        return Location.objects.none()
    qs = Location.objects.filter(physical_type=PhysicalType.WARD).select_related("parent")
    return qs if include_inactive else qs.filter(active=True)


def locations_visible(user) -> QuerySet[Location]:
    """The whole location tree (all types, inactive included) for staff."""
    if not _staff(user):
        return Location.objects.none()
    return Location.objects.select_related("parent")


def ward_get(user, ward_id) -> Location:
    try:
        pk = int(ward_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    ward = wards_visible(user, include_inactive=True).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if ward is None:
        raise NotFoundOrForbidden()
    return ward


def bed_get(user, bed_id) -> Location:
    try:
        pk = int(bed_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    qs = locations_visible(user).filter(physical_type=PhysicalType.BED)
    bed = qs.select_related("parent__parent").filter(pk=pk).first() if 0 < pk < 2**63 else None
    if bed is None:
        raise NotFoundOrForbidden()
    return bed


def beds_in(ward_ids=None) -> QuerySet[Location]:
    """Beds (with room and ward) of the given wards (all wards when None), in board order."""
    qs = Location.objects.filter(physical_type=PhysicalType.BED).select_related("parent__parent")
    if ward_ids is not None:
        qs = qs.filter(parent__parent_id__in=list(ward_ids))
    return qs.order_by("parent__parent__sort_order", "parent__sort_order", "sort_order", "name", "id")


def beds_with_occupancy(ward: Location, user=None) -> list[dict]:
    """The beds of `ward` as [{bed, room, stay, patient}], `stay` the current BedStay (or None) and `patient`
    the occupant when `user` may see them (None otherwise, and always None when `user` is None)."""
    beds = list(beds_in([ward.pk]))
    stays = {
        s.bed_id: s
        for s in BedStay.objects.filter(bed__in=beds, end__isnull=True).select_related("admission__patient")
    }
    visible = set()
    if user is not None and stays:
        ids = [s.admission.patient_id for s in stays.values()]
        visible = set(patients_visible(user).filter(pk__in=ids).values_list("pk", flat=True))
    rows = []
    for bed in beds:
        stay = stays.get(bed.pk)
        patient = stay.admission.patient if stay and stay.admission.patient_id in visible else None
        rows.append({"bed": bed, "room": bed.parent, "stay": stay, "patient": patient})
    return rows


def ward_occupancy(ward_ids) -> dict[int, dict[str, int]]:
    """{ward_id: {status: count, ..., "total": n}} over active beds."""
    from django.db.models import Count

    out: dict[int, dict[str, int]] = {}
    rows = (
        Location.objects.filter(
            physical_type=PhysicalType.BED, active=True, parent__parent_id__in=list(ward_ids)
        )
        .values("parent__parent_id", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        counts = out.setdefault(row["parent__parent_id"], {"total": 0})
        counts[row["status"]] = row["n"]
        counts["total"] += row["n"]
    return out


def admissions_visible(user) -> QuerySet[Admission]:
    """Admissions `user` may see (module docstring), newest first, with patient, ward and stays."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Admission.objects.none()
    qs = Admission.objects.filter(deleted_at__isnull=True).select_related(
        "patient", "ward", "admitting_practitioner", "encounter"
    )
    qs = qs.prefetch_related(
        Prefetch("bed_stays", queryset=BedStay.objects.select_related("bed__parent").order_by("start", "id"))
    )
    role = user.role
    if role in ADMIN_DESK_ROLES:
        return qs.filter(patient__deleted_at__isnull=True)
    if role in (Role.DOCTOR, Role.NURSE, Role.PATIENT):
        return qs.filter(patient__in=patients_with_clinical_access(user))
    return qs.none()


def admission_get(user, admission_id) -> Admission:
    """One admission if `user` may see it; else `NotFoundOrForbidden` (404)."""
    try:
        pk = int(admission_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    admission = admissions_visible(user).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if admission is None:
        raise NotFoundOrForbidden()
    return admission


def current_stay(admission: Admission) -> BedStay | None:
    stays = [s for s in admission.bed_stays.all() if s.end is None]
    return stays[0] if stays else None


def bed_days(admission: Admission, *, until=None) -> int:
    """Bed-days of an admission by the midnight census: the number of calendar dates (hospital time zone)
    from admission to discharge, the discharge day not counted, at least 1 (the usual inpatient billing
    rule: e.g. CMS Medicare Claims Processing Manual ch. 3 §20.1, "days of care")."""
    from django.utils import timezone

    end = admission.discharged_at or until or timezone.now()
    start_day = timezone.localtime(admission.admitted_at).date()
    end_day = timezone.localtime(end).date()
    return max(1, (end_day - start_day).days)
