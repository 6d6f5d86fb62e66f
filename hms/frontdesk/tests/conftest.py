"""Fixtures of the front-desk tests: doctors with schedules, booked appointments, a check-in helper.

Appointments are booked through the real scheduling services on a Monday at least a week ahead (booking
in the past is refused); check-in is only possible on the appointment's day, so `checked_in` moves the clock
(time_machine, ticking) to 07:00 New York that Monday for the rest of the test, and the queue is that day's.
"""

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user
from hms.scheduling import services as scheduling
from hms.scheduling.models import ServiceType
from hms.scheduling.tests.conftest import AppointmentDay, at, give_schedule, next_monday
from hms.staff.models import Specialty


@pytest.fixture
def consult(db):
    return ServiceType.objects.create(code="consult", display="Consultation", default_minutes=20)


def _doctor():
    user = make_user(Role.DOCTOR)
    user.practitioner.specialty = Specialty.objects.get_or_create(
        code="394579002", defaults={"display": "Cardiology"}
    )[0]
    user.practitioner.save()
    give_schedule(user.practitioner)
    return user


@pytest.fixture
def q_doctor(db):
    """A cardiology doctor with a Mon-Fri schedule (New York time)."""
    return _doctor()


@pytest.fixture
def other_doctor(db):
    return _doctor()


@pytest.fixture
def appointment_day():
    """The Monday the appointments are booked for; `appointment_day.arrive()` moves the clock there."""
    day = AppointmentDay(next_monday())
    yield day
    day.leave()


@pytest.fixture
def book(consult, receptionist, appointment_day):
    """`book(doctor_user, "09:00")` -> a booked appointment of a new patient next Monday at that time."""

    def _book(doctor_user, hhmm: str, *, patient=None):
        return scheduling.appointment_book(
            patient=patient or PatientFactory(),
            practitioner=doctor_user.practitioner,
            service_type=consult,
            start=at(appointment_day.date, hhmm),
            by=receptionist,
        )

    return _book


@pytest.fixture
def checked_in(book, receptionist, appointment_day):
    """`checked_in(doctor_user, "09:00")` -> a booked then checked-in appointment; from the first call on,
    the clock stays at 07:00 New York on the appointment day."""

    def _checked_in(doctor_user, hhmm: str):
        appointment = book(doctor_user, hhmm)
        appointment_day.arrive()
        return scheduling.appointment_check_in(appointment=appointment, by=receptionist)

    return _checked_in
