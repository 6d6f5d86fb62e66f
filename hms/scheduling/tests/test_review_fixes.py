"""Review fixes: date limits, booking horizon, naive input in the hospital zone, cancel after check-in,
auto-assign around the patient's own appointments, no-op reschedule, reschedule of the time only."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from hms.core.testing import PatientFactory, api_client_for
from hms.scheduling import services
from hms.scheduling.models import AppointmentChange

from .conftest import at, give_schedule, next_monday

pytestmark = pytest.mark.django_db


def slots_url(doctor_user):
    return f"/api/doctors/{doctor_user.practitioner.pk}/slots/"


@pytest.fixture
def booked(sched_doctor, consult, monday, patient_user, receptionist):
    return services.appointment_book(
        patient=patient_user.patient,
        practitioner=sched_doctor.practitioner,
        service_type=consult,
        start=at(monday, "09:00"),
        by=receptionist,
    )


@pytest.mark.parametrize(
    "params",
    [
        {"from": "9999-12-31"},
        {"from": "9999-12-01", "to": "9999-12-31"},
        {"from": "0001-01-01"},
    ],
)
def test_slot_dates_at_the_calendar_edges_are_400(sched_doctor, consult, patient_user, params):
    res = api_client_for(patient_user).get(slots_url(sched_doctor), {**params, "service": "consult"})
    assert res.status_code == 400
    assert set(res.data) & {"date_from", "date_to", "from", "to"}


@pytest.mark.parametrize("name", ["date", "date_from", "date_to"])
def test_list_dates_at_the_calendar_edges_are_400(receptionist, name):
    client = api_client_for(receptionist)
    for value in ("9999-12-31", "0001-01-01"):
        res = client.get("/api/appointments/", {name: value})
        assert res.status_code == 400 and name in res.data


@override_settings(BOOKING_HORIZON_DAYS=10)
def test_booking_horizon(sched_doctor, consult, cardiology, patient_user, booked):
    client = api_client_for(patient_user)
    far = next_monday(weeks_ahead=3)  # at least 15 days ahead
    res = client.post(
        "/api/appointments/",
        {
            "practitioner": sched_doctor.practitioner.pk,
            "service": "consult",
            "start": at(far, "10:00").isoformat(),
        },
    )
    assert res.status_code == 400 and "10 days ahead" in str(res.data["start"])
    res = client.patch(f"/api/appointments/{booked.pk}/", {"start": at(far, "10:00").isoformat()})
    assert res.status_code == 400 and "start" in res.data
    res = client.get(slots_url(sched_doctor), {"from": far.isoformat(), "service": "consult"})
    assert res.status_code == 400 and "from" in res.data
    body = {
        "specialty": "cardiology",
        "service": "consult",
        "window_start": at(far, "09:00").isoformat(),
        "window_end": at(far, "17:00").isoformat(),
    }
    res = client.post("/api/appointments/auto-assign/", body)
    assert res.status_code == 400 and "window_start" in res.data
    res = client.post(
        "/api/appointments/auto-assign/",
        {**body, "window_start": (timezone.now() + dt.timedelta(days=1)).isoformat()},
    )
    assert res.status_code == 400 and "window_end" in res.data
    res = client.post(
        "/api/waitlist/",
        {
            "practitioner": sched_doctor.practitioner.pk,
            "date_from": far.isoformat(),
            "date_to": far.isoformat(),
        },
    )
    assert res.status_code == 400 and "date_from" in res.data


@override_settings(HOSPITAL_TIME_ZONE="America/New_York")
def test_naive_input_is_read_in_the_hospital_zone(sched_doctor, consult, monday, patient_user):
    naive = dt.datetime.combine(monday, dt.time(9, 0)).isoformat()
    res = api_client_for(patient_user).post(
        "/api/appointments/",
        {"practitioner": sched_doctor.practitioner.pk, "service": "consult", "start": naive},
    )
    assert res.status_code == 201, res.data
    assert res.data["start"] == at(monday, "09:00").astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def test_an_arrived_patient_who_left_can_be_cancelled(booked, receptionist, appointment_day):
    appointment_day.arrive()
    arrived = services.appointment_check_in(appointment=booked, by=receptionist)
    client = api_client_for(receptionist)
    assert client.post(f"/api/appointments/{arrived.pk}/cancel/", {}).status_code == 400
    res = client.post(f"/api/appointments/{arrived.pk}/cancel/", {"reason": "left before being seen"})
    assert res.status_code == 200 and res.data["status"] == "cancelled"


def test_auto_assign_skips_slots_where_the_patient_is_busy(sched_doctor, consult, monday, receptionist):
    patient = PatientFactory()
    other = services.appointment_book(  # the patient is with another doctor at 09:00
        patient=patient,
        practitioner=_other_doctor(),
        service_type=consult,
        start=at(monday, "09:00"),
        by=receptionist,
    )
    res = api_client_for(receptionist).post(
        "/api/appointments/auto-assign/",
        {
            "patient": patient.pk,
            "specialty": "cardiology",
            "service": "consult",
            "window_start": at(monday, "09:00").isoformat(),
            "window_end": at(monday, "12:00").isoformat(),
        },
    )
    assert res.status_code == 201, res.data
    assert res.data["id"] != other.pk
    assert res.data["start"] == at(monday, "09:20").astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _other_doctor():
    from hms.accounts.roles import Role
    from hms.core.testing import make_user

    user = make_user(Role.DOCTOR)
    give_schedule(user.practitioner)
    return user.practitioner


def test_reschedule_to_the_same_start_is_a_no_op(booked, patient_user):
    client = api_client_for(patient_user)
    res = client.patch(f"/api/appointments/{booked.pk}/", {"start": booked.start.isoformat()})
    assert res.status_code == 200 and res.data["id"] == booked.pk
    assert AppointmentChange.objects.filter(appointment=booked).count() == 1  # only "created"
    same = services.appointment_reschedule(appointment=booked, start=booked.start, by=patient_user)
    assert same.updated_at == booked.updated_at


def test_reschedule_changes_the_time_only(booked, patient_user, sched_doctor, monday):
    client = api_client_for(patient_user)
    body = {"start": at(monday, "10:00").isoformat(), "practitioner": sched_doctor.practitioner.pk}
    res = client.patch(f"/api/appointments/{booked.pk}/", body)
    assert res.status_code == 400
    assert "Only the time" in str(res.data["practitioner"]) and "cancel" in str(res.data["practitioner"])


def test_naive_start_still_refused_by_the_service(booked, patient_user, monday):
    with pytest.raises(ValidationError):
        services.appointment_reschedule(
            appointment=booked, start=dt.datetime.combine(monday, dt.time(10)), by=patient_user
        )


def test_a_doctor_books_only_into_their_own_diary(sched_doctor, consult, monday):
    """Booking into a colleague's diary is reception's job: 403, and nothing is written."""
    from hms.core.testing import put_in_care
    from hms.scheduling.models import Appointment

    colleague = _other_doctor()
    patient = PatientFactory()
    put_in_care(sched_doctor, patient)  # a doctor books only patients they can see
    body = {"patient": patient.pk, "service": "consult", "start": at(monday, "09:00").isoformat()}
    client = api_client_for(sched_doctor)
    assert client.post("/api/appointments/", {**body, "practitioner": colleague.pk}).status_code == 403
    assert not Appointment.objects.exists()
    own = client.post("/api/appointments/", {**body, "practitioner": sched_doctor.practitioner.pk})
    assert own.status_code == 201, own.data


@pytest.mark.parametrize(("channel", "expected"), [("phone", 400), ("walk-in", 400), ("web", 201)])
def test_a_patient_books_only_online(sched_doctor, consult, monday, patient_user, channel, expected):
    res = api_client_for(patient_user).post(
        "/api/appointments/",
        {
            "practitioner": sched_doctor.practitioner.pk,
            "service": "consult",
            "start": at(monday, "09:00").isoformat(),
            "channel": channel,
        },
    )
    assert res.status_code == expected, res.data
    if expected == 400:
        assert "channel" in res.data
