"""The scheduling REST API: slots, booking rules by role, scoping of every role, status actions."""

import datetime as dt

import pytest

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.scheduling import services
from hms.scheduling.models import Appointment

from .conftest import at

pytestmark = pytest.mark.django_db


def slots_url(doctor_user):
    return f"/api/doctors/{doctor_user.practitioner.pk}/slots/"


def booking(doctor_user, start, **extra):
    return {
        "practitioner": doctor_user.practitioner.pk,
        "service": "consult",
        "start": start.isoformat(),
        **extra,
    }


def test_slots_endpoint(sched_doctor, consult, monday, patient_user):
    client = api_client_for(patient_user)
    res = client.get(slots_url(sched_doctor), {"from": monday.isoformat(), "service": "consult"})
    assert res.status_code == 200, res.data
    assert res.data["time_zone"] == "America/New_York"
    assert len(res.data["slots"]) == 21
    assert res.data["slots"][0]["start"] == at(monday, "09:00").isoformat()
    too_long = {
        "from": monday.isoformat(),
        "to": (monday + dt.timedelta(days=31)).isoformat(),
        "service": "consult",
    }
    assert client.get(slots_url(sched_doctor), too_long).status_code == 400
    assert client.get(slots_url(sched_doctor), {"from": monday.isoformat()}).status_code == 400
    assert client.get(slots_url(sched_doctor), {"from": "x", "service": "consult"}).status_code == 400
    unknown = {"from": monday.isoformat(), "service": "nope"}
    assert client.get(slots_url(sched_doctor), unknown).status_code == 400
    assert (
        client.get(
            "/api/doctors/999999/slots/", {"from": monday.isoformat(), "service": "consult"}
        ).status_code
        == 404
    )
    assert api_client_for(None).get(slots_url(sched_doctor)).status_code == 401


def test_patient_books_for_self_only(sched_doctor, consult, monday, patient_user):
    client = api_client_for(patient_user)
    res = client.post(
        "/api/appointments/", booking(sched_doctor, at(monday, "09:00"), reason="cough"), format="json"
    )
    assert res.status_code == 201, res.data
    assert res.data["patient"]["id"] == patient_user.patient.pk
    assert res.data["status"] == "booked" and res.data["service_type"]["minutes"] == 20
    other = PatientFactory()
    res = client.post(
        "/api/appointments/", booking(sched_doctor, at(monday, "10:00"), patient=other.pk), format="json"
    )
    assert res.status_code == 403
    assert not Appointment.objects.filter(patient=other).exists()


def test_receptionist_books_for_anyone_and_rules_answer_400_409(sched_doctor, consult, monday, receptionist):
    client = api_client_for(receptionist)
    patient = PatientFactory()
    res = client.post("/api/appointments/", booking(sched_doctor, at(monday, "09:00"), patient=patient.pk))
    assert res.status_code == 201, res.data
    res = client.post(
        "/api/appointments/", booking(sched_doctor, at(monday, "09:00"), patient=PatientFactory().pk)
    )
    assert res.status_code == 409 and res.data["conflict"] == "practitioner"
    res = client.post("/api/appointments/", booking(sched_doctor, at(monday, "12:00"), patient=patient.pk))
    assert res.status_code == 400 and "start" in res.data
    res = client.post("/api/appointments/", booking(sched_doctor, at(monday, "09:20")))
    assert res.status_code == 400 and "patient" in res.data
    res = client.post(
        "/api/appointments/",
        {**booking(sched_doctor, at(monday, "09:20"), patient=patient.pk), "practitioner": 999999},
    )
    assert res.status_code == 400 and "practitioner" in res.data
    res = client.post("/api/appointments/", {"practitioner": "x", "service": 5, "start": "yesterday"})
    assert res.status_code == 400 and {"practitioner", "service", "start", "patient"} >= set(res.data)


@pytest.mark.parametrize("role", [Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.BILLING])
def test_other_roles_cannot_book(sched_doctor, consult, monday, role):
    res = api_client_for(make_user(role)).post(
        "/api/appointments/", booking(sched_doctor, at(monday, "09:00"), patient=PatientFactory().pk)
    )
    assert res.status_code == 403


@pytest.fixture
def two_appointments(sched_doctor, consult, monday, receptionist, patient_user):
    """One appointment of `patient_user` with `sched_doctor`, one of another patient with another doctor."""
    from .conftest import give_schedule

    mine = services.appointment_book(
        patient=patient_user.patient,
        practitioner=sched_doctor.practitioner,
        service_type=consult,
        start=at(monday, "09:00"),
        by=receptionist,
    )
    other_doctor = make_user(Role.DOCTOR)
    give_schedule(other_doctor.practitioner)
    theirs = services.appointment_book(
        patient=PatientFactory(),
        practitioner=other_doctor.practitioner,
        service_type=consult,
        start=at(monday, "09:00"),
        by=receptionist,
    )
    return mine, theirs


@pytest.mark.parametrize(
    ("role", "sees"),
    [
        ("patient", {"mine"}),
        ("doctor", {"mine"}),
        (Role.NURSE, set()),
        (Role.RECEPTIONIST, {"mine", "theirs"}),
        (Role.ADMIN, {"mine", "theirs"}),
        (Role.BILLING, set()),
        (Role.PHARMACIST, set()),
        (Role.LAB_TECHNICIAN, set()),
    ],
)
def test_list_and_retrieve_are_scoped_for_every_role(
    two_appointments, patient_user, sched_doctor, role, sees
):
    mine, theirs = two_appointments
    user = {"patient": patient_user, "doctor": sched_doctor}.get(role) or make_user(role)
    client = api_client_for(user)
    res = client.get("/api/appointments/")
    assert res.status_code == 200
    names = {mine.pk: "mine", theirs.pk: "theirs"}
    assert {names[row["id"]] for row in res.data["results"]} == sees
    event = AuditEvent.objects.filter(actor=user, action="search").latest("id")
    assert sorted(event.patient_ids) == sorted(
        {"mine": mine.patient_id, "theirs": theirs.patient_id}[n] for n in sees
    )
    for appt, name in ((mine, "mine"), (theirs, "theirs")):
        res = client.get(f"/api/appointments/{appt.pk}/")
        assert res.status_code == (200 if name in sees else 404)
        if name in sees:
            assert res.data["history"][0]["kind"] == "created"
        else:
            assert "patient" not in res.data
    # not yours = missing: cancel on someone else's answers 404 and changes nothing
    if role == "patient":
        res = client.post(f"/api/appointments/{theirs.pk}/cancel/", {"reason": "x"})
        assert res.status_code == 404
        theirs.refresh_from_db()
        assert theirs.status == "booked"


def test_list_filters(two_appointments, receptionist, sched_doctor, monday):
    client = api_client_for(receptionist)
    mine, theirs = two_appointments
    res = client.get("/api/appointments/", {"doctor": sched_doctor.practitioner.pk})
    assert [r["id"] for r in res.data["results"]] == [mine.pk]
    res = client.get("/api/appointments/", {"date": monday.isoformat(), "status": "booked"})
    assert {r["id"] for r in res.data["results"]} == {mine.pk, theirs.pk}
    res = client.get("/api/appointments/", {"date": (monday + dt.timedelta(days=1)).isoformat()})
    assert res.data["results"] == []
    assert client.get("/api/appointments/", {"status": "nope"}).status_code == 400
    assert client.get("/api/appointments/", {"doctor": "2" * 30}).status_code == 400


def test_check_in_is_refused_before_the_day_and_accepted_on_it(
    two_appointments, receptionist, appointment_day
):
    mine, _ = two_appointments
    url = f"/api/appointments/{mine.pk}/check-in/"
    res = api_client_for(receptionist).post(url)
    assert res.status_code == 400
    assert res.data == {"status": ["Check-in is only possible on the day of the appointment."]}
    mine.refresh_from_db()
    assert mine.status == "booked" and not mine.changes.filter(to_status="arrived").exists()
    appointment_day.arrive("08:30")
    res = api_client_for(receptionist).post(url)
    assert res.status_code == 200 and res.data["status"] == "arrived"


def test_front_desk_and_doctor_move_an_appointment_through_its_day(
    two_appointments, receptionist, sched_doctor, patient_user, appointment_day
):
    mine, _ = two_appointments
    url = f"/api/appointments/{mine.pk}"
    appointment_day.arrive()
    assert api_client_for(patient_user).post(f"{url}/check-in/").status_code == 403
    assert api_client_for(receptionist).post(f"{url}/check-in/").data["status"] == "arrived"
    assert api_client_for(receptionist).post(f"{url}/start/").status_code == 403
    doctor = api_client_for(sched_doctor)
    assert doctor.post(f"{url}/start/").data["status"] == "in-progress"
    res = doctor.post(f"{url}/start/")
    assert res.status_code == 400 and "status" in res.data
    assert doctor.post(f"{url}/complete/").data["fhir_status"] == "fulfilled"
    assert doctor.post(f"{url}/no-show/").status_code == 400


def test_patient_reschedules_and_cancels_own(two_appointments, patient_user, monday):
    mine, _ = two_appointments
    client = api_client_for(patient_user)
    res = client.patch(f"/api/appointments/{mine.pk}/", {"start": at(monday, "13:00").isoformat()})
    assert res.status_code == 200, res.data
    assert res.data["start"] == at(monday, "13:00").astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    res = client.patch(f"/api/appointments/{mine.pk}/", {"start": at(monday, "12:00").isoformat()})
    assert res.status_code == 400
    assert client.post(f"/api/appointments/{mine.pk}/cancel/", {}).status_code == 400
    res = client.post(f"/api/appointments/{mine.pk}/cancel/", {"reason": "travel"})
    assert res.status_code == 200 and res.data["status"] == "cancelled"
    assert res.data["cancellation_reason"] == "travel" and res.data["cancelled_by_id"] == patient_user.pk
    history = client.get(f"/api/appointments/{mine.pk}/").data["history"]
    assert [h["kind"] for h in history] == ["created", "rescheduled", "status"]


def test_upcoming_lists_the_callers_active_ones(two_appointments, patient_user, sched_doctor):
    mine, _ = two_appointments
    res = api_client_for(patient_user).get("/api/appointments/upcoming/")
    assert [r["id"] for r in res.data["results"]] == [mine.pk]
    services.appointment_cancel(appointment=mine, by=sched_doctor, reason="ill")
    assert api_client_for(sched_doctor).get("/api/appointments/upcoming/").data["results"] == []


def test_auto_assign(sched_doctor, consult, cardiology, monday, patient_user):
    client = api_client_for(patient_user)
    body = {
        "specialty": "cardiology",
        "service": "consult",
        "window_start": at(monday, "14:00").isoformat(),
        "window_end": at(monday, "17:00").isoformat(),
    }
    res = client.post("/api/appointments/auto-assign/", body)
    assert res.status_code == 201, res.data
    assert res.data["practitioner"]["id"] == sched_doctor.practitioner.pk
    assert res.data["patient"]["id"] == patient_user.patient.pk
    res = client.post("/api/appointments/auto-assign/", {**body, "specialty": "dermatology"})
    assert res.status_code == 409
    res = client.post("/api/appointments/auto-assign/", {**body, "window_end": body["window_start"]})
    assert res.status_code == 400


def test_an_appointment_puts_the_patient_in_the_doctors_care(sched_doctor, consult, monday, receptionist):
    patient = PatientFactory()
    client = api_client_for(sched_doctor)
    assert client.get(f"/api/patients/{patient.pk}/").status_code == 404
    services.appointment_book(
        patient=patient,
        practitioner=sched_doctor.practitioner,
        service_type=consult,
        start=at(monday, "09:00"),
        by=receptionist,
    )
    assert client.get(f"/api/patients/{patient.pk}/").status_code == 200
    assert client.get(f"/api/patients/{patient.pk}/records/").status_code == 200
    assert api_client_for(make_user(Role.DOCTOR)).get(f"/api/patients/{patient.pk}/").status_code == 404


def test_find_a_doctor_by_specialty_and_availability(sched_doctor, cardiology, monday, patient_user):
    from hms.scheduling.models import ExceptionKind, ScheduleException

    from .conftest import give_schedule

    weekend_doctor = make_user(Role.DOCTOR)
    give_schedule(weekend_doctor.practitioner, weekdays=(6, 7))
    client = api_client_for(patient_user)

    def found(**params):
        res = client.get("/api/doctors/", params)
        assert res.status_code == 200, res.data
        return {row["id"] for row in res.data["results"]}

    saturday = monday + dt.timedelta(days=5)
    assert found(available_on=monday.isoformat()) == {sched_doctor.practitioner.pk}
    assert found(available_on=saturday.isoformat()) == {weekend_doctor.practitioner.pk}
    assert found(available_on=monday.isoformat(), specialty="cardio") == {sched_doctor.practitioner.pk}
    assert found(available_on=saturday.isoformat(), specialty="cardio") == set()
    schedule = sched_doctor.practitioner.schedule
    ScheduleException.objects.create(
        schedule=schedule, kind=ExceptionKind.LEAVE, date_from=monday, date_to=monday
    )
    ScheduleException.objects.create(
        schedule=schedule,
        kind=ExceptionKind.EXTRA,
        date_from=saturday,
        date_to=saturday,
        start_time=dt.time(9),
        end_time=dt.time(10),
    )
    assert found(available_on=monday.isoformat()) == set()
    assert found(available_on=saturday.isoformat()) == {
        sched_doctor.practitioner.pk,
        weekend_doctor.practitioner.pk,
    }
    assert client.get("/api/doctors/", {"available_on": "2024-13-40"}).status_code == 400


@pytest.mark.parametrize(
    "bad",
    [
        {"reason": "a\x00b"},
        {"patient": 2**63},
        {"practitioner": 2**70},
        {"start": 5},
        {"service": ["consult"]},
        {"channel": "fax"},
        {"reason": "x" * 1_000_000},
    ],
)
def test_bad_input_is_400_never_500(sched_doctor, consult, monday, receptionist, bad):
    body = booking(sched_doctor, at(monday, "09:00"), patient=PatientFactory().pk)
    res = api_client_for(receptionist).post("/api/appointments/", {**body, **bad})
    assert res.status_code == 400
    assert set(bad) <= set(res.data)
    assert not Appointment.objects.exists()


def test_huge_ids_in_paths_are_404(receptionist):
    client = api_client_for(receptionist)
    assert client.get(f"/api/appointments/{2**70}/").status_code == 404
    assert client.post(f"/api/appointments/{2**70}/cancel/", {"reason": "x"}).status_code == 404
    assert client.get(f"/api/doctors/{2**70}/slots/", {"from": "2030-01-01", "service": "x"}).status_code in (
        400,
        404,
    )


def test_booking_schedules_one_notification_after_commit(
    sched_doctor, consult, monday, receptionist, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        res = api_client_for(receptionist).post(
            "/api/appointments/", booking(sched_doctor, at(monday, "09:00"), patient=PatientFactory().pk)
        )
    assert res.status_code == 201
    assert len(callbacks) >= 1  # the hook `appointment_notify`, run after commit
