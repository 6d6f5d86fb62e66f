"""Fixtures of the scheduling tests: a service type and doctors with weekday schedules in New York time.

Dates are computed from today (the next Monday at least a week ahead) so the tests never book in the past.
"""

import datetime as dt
import zoneinfo

import pytest
import time_machine

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user
from hms.scheduling.models import Schedule, ServiceType, WorkingHours
from hms.staff.models import Specialty

NY = zoneinfo.ZoneInfo("America/New_York")


def next_monday(weeks_ahead: int = 1) -> dt.date:
    today = dt.date.today()
    return today + dt.timedelta(days=(7 - today.weekday()) + 7 * weeks_ahead)


def at(day: dt.date, hhmm: str) -> dt.datetime:
    """Aware datetime of local New York wall time `hhmm` on `day`."""
    hour, minute = map(int, hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY)


class AppointmentDay:
    """A local day that tests book for now and later travel to: `arrive(hhmm)` moves the clock (time_machine,
    ticking) to New York wall time `hhmm` on `date`, once; `leave()` (fixture teardown) moves it back."""

    def __init__(self, date: dt.date):
        self.date = date
        self._traveller = None

    def arrive(self, hhmm: str = "07:00") -> None:
        if self._traveller is None:
            self._traveller = time_machine.travel(at(self.date, hhmm), tick=True)
            self._traveller.start()

    def leave(self) -> None:
        if self._traveller is not None:
            self._traveller.stop()
            self._traveller = None


def give_schedule(
    practitioner,
    *,
    weekdays=(1, 2, 3, 4, 5),
    ranges=(("09:00", "12:00"), ("13:00", "17:00")),
    buffer_minutes=0,
    time_zone="America/New_York",
) -> Schedule:
    schedule = Schedule.objects.create(
        practitioner=practitioner, time_zone=time_zone, buffer_minutes=buffer_minutes
    )
    for weekday in weekdays:
        for start, end in ranges:
            WorkingHours.objects.create(
                schedule=schedule,
                weekday=weekday,
                start_time=dt.time.fromisoformat(start),
                end_time=dt.time.fromisoformat(end),
            )
    return schedule


@pytest.fixture
def consult(db):
    return ServiceType.objects.create(code="consult", display="Consultation", default_minutes=20)


@pytest.fixture
def cardiology(db):
    return Specialty.objects.get_or_create(code="394579002", defaults={"display": "Cardiology"})[0]


@pytest.fixture
def sched_doctor(db, cardiology):
    """A doctor (User with Practitioner) in cardiology, Mon-Fri 09:00-12:00 + 13:00-17:00 New York."""
    user = make_user(Role.DOCTOR)
    user.practitioner.specialty = cardiology
    user.practitioner.save()
    give_schedule(user.practitioner)
    return user


@pytest.fixture
def monday():
    return next_monday()


@pytest.fixture
def appointment_day():
    """An AppointmentDay on `next_monday()`; the clock is moved back at teardown."""
    day = AppointmentDay(next_monday())
    yield day
    day.leave()


@pytest.fixture
def a_patient(db):
    return PatientFactory()
