"""Slots across daylight-saving changes are consecutive real instants (America/New_York).

On the fall-back day the repeated hour 01:00-02:00 gives slots in both of its occurrences; on the
spring-forward day the missing hour gives none. Dates are the next change days after today (always within
the booking horizon), so nothing is booked in the past.
"""

import datetime as dt
import itertools

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.scheduling import services
from hms.scheduling.models import ServiceType
from hms.scheduling.selectors import slots_free

from .conftest import give_schedule

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def _next_change_sunday(month: int, n: int) -> dt.date:
    """The next n-th Sunday of `month` strictly after today (fall back: Nov 1st; spring forward: Mar 2nd)."""
    today = dt.date.today()
    for year in (today.year, today.year + 1):
        first = dt.date(year, month, 1)
        day = first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))
        if day > today:
            return day
    raise AssertionError("unreachable")


@pytest.fixture
def half_hour(db):
    return ServiceType.objects.create(code="review", display="Review", default_minutes=30)


@pytest.fixture
def fall_back():
    return _next_change_sunday(11, 1)


@pytest.fixture
def spring_forward():
    return _next_change_sunday(3, 2)


def _labels(slots):
    return [f"{s:%H:%M} {s.tzname()}" for s, _ in slots]


def _night_doctor(ranges):
    doctor = make_user(Role.DOCTOR)
    give_schedule(doctor.practitioner, weekdays=(7,), ranges=ranges)
    return doctor


def test_fall_back_window_is_laid_in_elapsed_time(half_hour, fall_back):
    doctor = _night_doctor((("00:00", "04:00"),))
    slots = slots_free(
        practitioner=doctor.practitioner, service_type=half_hour, date_from=fall_back, date_to=fall_back
    )
    assert _labels(slots) == [
        "00:00 EDT",
        "00:30 EDT",
        "01:00 EDT",
        "01:30 EDT",
        "01:00 EST",
        "01:30 EST",
        "02:00 EST",
        "02:30 EST",
        "03:00 EST",
        "03:30 EST",
    ]
    for (s1, e1), (s2, _) in itertools.pairwise(slots):
        assert e1 - s1 == dt.timedelta(minutes=30) and s2 == e1  # consecutive real instants
    assert slots[4][0].astimezone(UTC) == dt.datetime.combine(fall_back, dt.time(6, 0), tzinfo=UTC)


def test_fall_back_whole_day_has_49_slots_including_the_repeated_hour(half_hour, fall_back):
    doctor = _night_doctor((("00:00", "23:59"),))
    slots = slots_free(
        practitioner=doctor.practitioner, service_type=half_hour, date_from=fall_back, date_to=fall_back
    )
    assert len(slots) == len({s for s, _ in slots}) == 49
    utc = {s.astimezone(UTC).time() for s, _ in slots}
    assert {dt.time(5, 0), dt.time(5, 30), dt.time(6, 0), dt.time(6, 30), dt.time(7, 0)} <= utc


def test_spring_forward_missing_hour_gives_no_slot(half_hour, spring_forward):
    doctor = _night_doctor((("00:00", "04:00"), ("02:30", "02:45")))  # the second window does not exist
    slots = slots_free(
        practitioner=doctor.practitioner,
        service_type=half_hour,
        date_from=spring_forward,
        date_to=spring_forward,
    )
    assert _labels(slots) == ["00:00 EST", "00:30 EST", "01:00 EST", "01:30 EST", "03:00 EDT", "03:30 EDT"]


def test_clinic_starting_in_the_missing_hour_opens_at_the_change(half_hour, spring_forward):
    doctor = _night_doctor((("02:30", "04:00"),))
    slots = slots_free(
        practitioner=doctor.practitioner,
        service_type=half_hour,
        date_from=spring_forward,
        date_to=spring_forward,
    )
    assert _labels(slots) == ["03:00 EDT", "03:30 EDT"]


def test_second_occurrence_of_the_repeated_hour_is_bookable(half_hour, fall_back, receptionist):
    doctor = _night_doctor((("00:00", "23:59"),))
    second_one = dt.datetime.combine(fall_back, dt.time(1, 0), tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    appt = services.appointment_book(
        patient=PatientFactory(),
        practitioner=doctor.practitioner,
        service_type=half_hour,
        start=second_one,
        by=receptionist,
    )
    assert appt.start == second_one and appt.end - appt.start == dt.timedelta(minutes=30)
    first_one = dt.datetime.combine(fall_back, dt.time(1, 0), tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    services.appointment_book(
        patient=PatientFactory(),
        practitioner=doctor.practitioner,
        service_type=half_hour,
        start=first_one,
        by=receptionist,
    )
    left = slots_free(
        practitioner=doctor.practitioner, service_type=half_hour, date_from=fall_back, date_to=fall_back
    )
    assert (
        len(left) == 47 and first_one not in {s for s, _ in left} and second_one not in {s for s, _ in left}
    )


def test_slots_api_and_booking_api_on_fall_back_day(half_hour, fall_back, receptionist):
    doctor = _night_doctor((("00:00", "23:59"),))
    client = api_client_for(receptionist)
    url = f"/api/doctors/{doctor.practitioner.pk}/slots/"
    res = client.get(url, {"from": fall_back.isoformat(), "service": "review"})
    assert res.status_code == 200, res.data
    starts = [s["start"] for s in res.data["slots"]]
    assert len(starts) == 49
    day = fall_back.isoformat()
    assert starts[2:6] == [
        f"{day}T01:00:00-04:00",
        f"{day}T01:30:00-04:00",
        f"{day}T01:00:00-05:00",
        f"{day}T01:30:00-05:00",
    ]
    res = client.post(
        "/api/appointments/",
        {
            "practitioner": doctor.practitioner.pk,
            "service": "review",
            "start": f"{day}T01:00:00-05:00",
            "patient": PatientFactory().pk,
        },
        format="json",
    )
    assert res.status_code == 201, res.data
