"""Reads behind the appointment pages: find a doctor, free slots, a patient's appointments, the reception
day view and a clinician's agenda.

Built on `hms.scheduling.selectors` (`appointments_visible` decides which appointments a user sees;
`slots_free` computes free slots) and `hms.staff.selectors.doctors_list`. Dates are local dates of
`settings.HOSPITAL_TIME_ZONE`. The views write the AuditEvents.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from hms.scheduling.models import Appointment, ServiceType
from hms.scheduling.selectors import appointments_visible, slots_free
from hms.staff.models import Practitioner, Specialty
from hms.staff.selectors import doctors_list

FIND_DOCTORS_LIMIT = 20
FIND_DAYS_AHEAD = 14
NEXT_SLOTS_SHOWN = 6
PAST_SHOWN = 20


def hospital_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)


def today() -> dt.date:
    """Today's local date in the hospital's time zone."""
    return timezone.now().astimezone(hospital_zone()).date()


def local_range(date_from: dt.date, date_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """Aware [start of `date_from`, start of the day after `date_to`) in the hospital's time zone."""
    zone = hospital_zone()
    return (
        dt.datetime.combine(date_from, dt.time(), tzinfo=zone),
        dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tzinfo=zone),
    )


def service_types() -> list[ServiceType]:
    """Active service types, by display name."""
    return list(ServiceType.objects.filter(active=True))


def specialties_bookable() -> list[Specialty]:
    """Specialties with at least one active doctor whose schedule is open for booking."""
    return list(
        Specialty.objects.filter(
            practitioner__active=True,
            practitioner__role="doctor",
            practitioner__schedule__active=True,
        )
        .distinct()
        .order_by("display")
    )


@dataclass
class DoctorSlots:
    """A doctor and their first free slots: `slots` list of (start, end) aware datetimes."""

    doctor: Practitioner
    slots: list[tuple[dt.datetime, dt.datetime]]


def doctors_with_slots(
    *,
    specialty: str,
    service_type: ServiceType,
    date_from: dt.date,
    days: int = FIND_DAYS_AHEAD,
    per_doctor: int = NEXT_SLOTS_SHOWN,
    limit: int = FIND_DOCTORS_LIMIT,
) -> list[DoctorSlots]:
    """Active doctors of `specialty` (code or part of its name; "" = all) with an open schedule, each with
    their first `per_doctor` free slots for `service_type` over [date_from, date_from + days). Doctors with
    free slots come first, soonest first. At most `limit` doctors."""
    doctors = doctors_list(specialty=specialty).filter(schedule__active=True)[:limit]
    out = []
    for doctor in doctors:
        slots = slots_free(
            practitioner=doctor,
            service_type=service_type,
            date_from=date_from,
            date_to=date_from + dt.timedelta(days=days - 1),
        )
        out.append(DoctorSlots(doctor=doctor, slots=slots[:per_doctor]))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    out.sort(key=lambda d: (d.slots[0][0] if d.slots else far, d.doctor.family_name))
    return out


def slots_of_day(*, practitioner, service_type: ServiceType, day: dt.date) -> list[tuple]:
    """Free slots of `practitioner` for `service_type` on the local date `day`: list of (start, end)."""
    return slots_free(practitioner=practitioner, service_type=service_type, date_from=day, date_to=day)


def patient_appointments(user) -> tuple[list[Appointment], list[Appointment]]:
    """The signed-in patient's own appointments: (upcoming active ones soonest first, the last
    `PAST_SHOWN` others newest first: ended, cancelled or no-show)."""
    now = timezone.now()
    visible = appointments_visible(user)
    upcoming = list(visible.active().filter(end__gt=now).order_by("start", "id"))
    upcoming_ids = {a.pk for a in upcoming}
    past = [
        a
        for a in visible.order_by("-start", "-id")[: PAST_SHOWN + len(upcoming_ids)]
        if a.pk not in upcoming_ids
    ][:PAST_SHOWN]
    return upcoming, past


@dataclass
class DayColumn:
    """One doctor's column of the reception day view."""

    doctor: Practitioner
    appointments: list[Appointment]


def reception_day(user, day: dt.date) -> list[DayColumn]:
    """Every active doctor with an open schedule or an appointment on local `day`, each with the
    appointments of that day that `user` may see (cancelled ones included, last), ordered by name."""
    start, end = local_range(day, day)
    rows = list(
        appointments_visible(user).filter(start__lt=end, end__gt=start).order_by("practitioner_id", "start")
    )
    by_doctor: dict[int, list[Appointment]] = {}
    for a in rows:
        by_doctor.setdefault(a.practitioner_id, []).append(a)
    doctors = {d.pk: d for d in doctors_list().filter(schedule__active=True)}
    for a in rows:
        doctors.setdefault(a.practitioner_id, a.practitioner)
    doctors = list(doctors.values())
    doctors.sort(key=lambda d: (d.family_name, d.given_names, d.pk))
    return [DayColumn(doctor=d, appointments=by_doctor.get(d.pk, [])) for d in doctors]


@dataclass
class AgendaDay:
    """One local date of an agenda and its appointments (soonest first)."""

    day: dt.date
    appointments: list[Appointment]


def agenda(user, date_from: dt.date, date_to: dt.date) -> list[AgendaDay]:
    """The appointments `user` may see as a clinician (their own) per local day in [date_from, date_to]."""
    start, end = local_range(date_from, date_to)
    zone = hospital_zone()
    rows = appointments_visible(user).filter(start__lt=end, end__gt=start).order_by("start", "id")
    days = {date_from + dt.timedelta(days=i): [] for i in range((date_to - date_from).days + 1)}
    for a in rows:
        days.setdefault(a.start.astimezone(zone).date(), []).append(a)
    return [AgendaDay(day=d, appointments=appts) for d, appts in sorted(days.items())]
