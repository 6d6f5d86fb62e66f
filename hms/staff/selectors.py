"""Reads of practitioners and specialties. Practitioners are not PHI: no patient scope applies."""

import datetime as dt

from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import Practitioner, PractitionerRole, Specialty


def doctors_list(
    *,
    search: str = "",
    specialty: str = "",
    include_inactive: bool = False,
    available_on: dt.date | None = None,
) -> QuerySet[Practitioner]:
    """Doctors, ordered by name.

    - `search`: up to 4 words, each the start of the family or given names or a word of the specialty
      (case-insensitive): "card" finds cardiologists, "smi" Dr Smith.
    - `specialty`: a SNOMED CT code (exact) or part of the specialty's display (case-insensitive).
    - `available_on`: a local date; only doctors whose active schedule opens that day (weekly hours on its
      weekday or an extra clinic) and who are not on leave or holiday then. Free slots may still be all
      booked: `GET /api/doctors/{id}/slots/` tells.
    """
    qs = Practitioner.objects.filter(role=PractitionerRole.DOCTOR).select_related("specialty", "organization")
    if not include_inactive:
        qs = qs.filter(active=True)
    for word in search.split()[:4]:
        qs = qs.filter(
            Q(family_name__istartswith=word)
            | Q(given_names__istartswith=word)
            | Q(specialty__display__istartswith=word)
            | Q(specialty__display__icontains=f" {word}")
        )
    specialty = specialty.strip()
    if specialty:
        qs = qs.filter(Q(specialty__code=specialty) | Q(specialty__display__icontains=specialty))
    if available_on is not None:
        qs = qs.filter(_open_on(available_on))
    return qs


def _open_on(day: dt.date) -> Q:
    from hms.scheduling.models import ExceptionKind, ScheduleException, WorkingHours

    schedule = {"schedule__practitioner": OuterRef("pk"), "schedule__active": True}
    covering = {"date_from__lte": day, "date_to__gte": day}
    weekly = WorkingHours.objects.filter(weekday=day.isoweekday(), **schedule)
    extra = ScheduleException.objects.filter(kind=ExceptionKind.EXTRA, **covering, **schedule)
    closed = ScheduleException.objects.filter(
        kind__in=[ExceptionKind.LEAVE, ExceptionKind.HOLIDAY], **covering, **schedule
    )
    return (Exists(weekly) | Exists(extra)) & ~Exists(closed)


def doctor_get(practitioner_id: int, *, include_inactive: bool = False) -> Practitioner:
    """One doctor by pk; `Http404` when missing (or inactive, unless `include_inactive`)."""
    from hms.core.errors import NotFoundOrForbidden

    if not 0 < int(practitioner_id) < 2**63:
        raise NotFoundOrForbidden()
    found = doctors_list(include_inactive=include_inactive).filter(pk=practitioner_id).first()
    if found is None:
        raise NotFoundOrForbidden()
    return found


def specialties_list() -> QuerySet[Specialty]:
    """Every specialty (SNOMED CT practice settings), ordered by display."""
    return Specialty.objects.all()
