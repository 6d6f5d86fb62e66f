"""Reads of schedules, free slots and appointments.

Appointments are PHI, so every read is scoped to the requesting user (`appointments_visible`):

| role | appointments |
|---|---|
| patient | their own |
| doctor, nurse | those where they are the practitioner |
| receptionist, admin | all |
| others | none |

A row outside the scope answers exactly like a missing one: `NotFoundOrForbidden` (404). Callers write
the AuditEvent (the API does: "search" with the patients returned, "read" with the patient).
Free slots are not PHI (they name no patient).
"""

import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from hms.accounts.roles import Role
from hms.core.errors import NotFoundOrForbidden

from .availability import ScheduleCalendar
from .models import Appointment, Schedule, ServiceType

ALL_APPOINTMENTS_ROLES = frozenset({Role.RECEPTIONIST, Role.ADMIN})
MAX_SLOT_RANGE_DAYS = 31


def appointments_visible(user) -> QuerySet[Appointment]:
    """Appointments `user` may see (see the module table), with patient, practitioner, service and
    resource loaded."""
    qs = Appointment.objects.select_related("patient", "practitioner", "service_type", "resource")
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    role = user.role
    if role in ALL_APPOINTMENTS_ROLES:
        return qs
    if role in (Role.DOCTOR, Role.NURSE):
        practitioner = getattr(user, "practitioner", None)
        return qs.filter(practitioner=practitioner) if practitioner is not None else qs.none()
    if role == Role.PATIENT:
        return qs.filter(patient__user=user, patient__deleted_at__isnull=True)
    return qs.none()


def appointment_get(user, appointment_id) -> Appointment:
    """The appointment with pk `appointment_id` if `user` may see it; else `NotFoundOrForbidden` (404)."""
    try:
        pk = int(appointment_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    found = appointments_visible(user).filter(pk=pk).first()
    if found is None:
        raise NotFoundOrForbidden()
    return found


def appointments_upcoming(user, *, now: dt.datetime | None = None) -> QuerySet[Appointment]:
    """The caller's own active appointments that have not ended, soonest first: a patient's own visits, a
    clinician's own agenda; for reception and admin, everyone's."""
    now = now or timezone.now()
    return appointments_visible(user).active().filter(end__gt=now).order_by("start", "id")


def schedule_of(practitioner) -> Schedule | None:
    """The active schedule of `practitioner`, with its working hours prefetched, or None."""
    return (
        Schedule.objects.filter(practitioner=practitioner, active=True)
        .prefetch_related("working_hours")
        .first()
    )


def slots_free(
    *,
    practitioner,
    service_type: ServiceType,
    date_from: dt.date,
    date_to: dt.date,
    now: dt.datetime | None = None,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Free slots of `practitioner` for `service_type` on the local dates [date_from, date_to] (inclusive,
    in the schedule's time zone): list of (start, end) aware datetimes in that zone, sorted.

    Computed from the weekly working hours (their gaps are breaks) plus extra clinics, minus leave and
    holidays, minus slots that start at or before `now` (default: the current time), minus slots within
    `buffer_minutes` of an active appointment of the practitioner. Slot length =
    `service_type.default_minutes`; slots follow each other every length + buffer minutes from the window's
    start. No schedule -> [].
    """
    schedule = schedule_of(practitioner)
    if schedule is None or date_to < date_from:
        return []
    now = now or timezone.now()
    calendar = ScheduleCalendar(schedule, date_from, date_to)
    buffer = dt.timedelta(minutes=schedule.buffer_minutes)
    candidates = []
    day = date_from
    while day <= date_to:
        candidates += calendar.grid(
            day, minutes=service_type.default_minutes, buffer_minutes=schedule.buffer_minutes
        )
        day += dt.timedelta(days=1)
    candidates = [c for c in candidates if c[0] > now]
    if not candidates:
        return []
    busy = list(
        Appointment.objects.active()
        .filter(practitioner=practitioner)
        .overlapping(candidates[0][0] - buffer, candidates[-1][1] + buffer)
        .order_by("start")
        .values_list("start", "end")
    )
    return [(s, e) for s, e in candidates if not any(b0 - buffer < e and b1 + buffer > s for b0, b1 in busy)]
