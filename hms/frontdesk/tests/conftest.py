"""Fixtures of the front-desk tests: doctors with schedules, booked appointments, a check-in helper.

Appointments are booked through the real scheduling services on a Monday at least a week ahead (booking
in the past is refused); check-in and start do not depend on the appointment's time, so the queue is
today's (hospital time zone).
"""

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user
from hms.scheduling import services as scheduling
from hms.scheduling.models import ServiceType
from hms.scheduling.tests.conftest import at, give_schedule, next_monday
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
def book(consult, receptionist):
    """`book(doctor_user, "09:00")` -> a booked appointment of a new patient next Monday at that time."""

    def _book(doctor_user, hhmm: str, *, patient=None):
        return scheduling.appointment_book(
            patient=patient or PatientFactory(),
            practitioner=doctor_user.practitioner,
            service_type=consult,
            start=at(next_monday(), hhmm),
            by=receptionist,
        )

    return _book


@pytest.fixture
def checked_in(book, receptionist):
    """`checked_in(doctor_user, "09:00")` -> a booked then checked-in appointment."""

    def _checked_in(doctor_user, hhmm: str):
        return scheduling.appointment_check_in(appointment=book(doctor_user, hhmm), by=receptionist)

    return _checked_in
