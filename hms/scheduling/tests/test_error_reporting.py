"""How the scheduling API reports bad input: the slots query's errors under its own parameter names
(`from`, `to`), and every bad field of a body at once (strict string types together with the others)."""

import datetime as dt

import pytest

from hms.accounts.roles import Role
from hms.core.testing import api_client_for, make_user
from hms.scheduling.models import Appointment

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(db):
    return api_client_for(make_user(Role.RECEPTIONIST))


def slots(client, doctor_user, **params):
    return client.get(f"/api/doctors/{doctor_user.practitioner.pk}/slots/", params)


def test_slots_errors_are_named_after_the_query_parameters(client, sched_doctor, consult, monday):
    bad_dates = slots(client, sched_doctor, **{"from": "x", "to": "2020-13-40", "service": "consult"})
    assert bad_dates.status_code == 400
    assert set(bad_dates.json()) == {"from", "to"}
    assert "date_from" not in bad_dates.json() and "date_to" not in bad_dates.json()

    missing = slots(client, sched_doctor, service="consult")
    assert missing.status_code == 400
    assert missing.json() == {"from": ["This field is required."]}

    backwards = {"from": monday.isoformat(), "to": (monday - dt.timedelta(days=1)).isoformat()}
    response = slots(client, sched_doctor, **backwards, service="consult")
    assert response.status_code == 400
    assert response.json() == {"to": ["Must not be before from."]}

    out_of_range = slots(client, sched_doctor, **{"from": "1800-01-01", "service": "consult"})
    assert out_of_range.status_code == 400 and list(out_of_range.json()) == ["from"]


def test_slots_still_answer_with_from_alone_and_with_from_to(client, sched_doctor, consult, monday):
    one_day = slots(client, sched_doctor, **{"from": monday.isoformat(), "service": "consult"})
    assert one_day.status_code == 200 and len(one_day.json()["slots"]) == 21
    two_days = {"from": monday.isoformat(), "to": (monday + dt.timedelta(days=1)).isoformat()}
    assert len(slots(client, sched_doctor, **two_days, service="consult").json()["slots"]) == 42


def test_every_bad_field_of_a_booking_is_reported_at_once(client, sched_doctor, consult):
    body = {"patient": "x", "practitioner": -5, "service": 123, "start": "not a time", "channel": ["web"]}
    response = client.post("/api/appointments/", body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert errors["service"] == ["Not a valid string."]
    assert errors["channel"] == ["Not a valid string."]
    # Before, the strict-type errors came alone; now the other fields' errors come with them.
    assert {"patient", "practitioner", "start"} <= set(errors)
    assert not Appointment.objects.exists()


def test_a_strict_type_error_alone_is_reported_alone(client, sched_doctor, consult, a_patient, monday):
    body = {
        "patient": a_patient.pk,
        "practitioner": sched_doctor.practitioner.pk,
        "service": "consult",
        "start": f"{monday.isoformat()}T09:00:00-05:00",
        "reason": 42,
    }
    response = client.post("/api/appointments/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"reason": ["Not a valid string."]}
    assert not Appointment.objects.exists()


def test_a_required_field_sent_with_the_wrong_type_gets_one_message(client, sched_doctor, consult):
    response = client.post("/api/appointments/", {"service": 7}, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert errors["service"] == ["Not a valid string."]  # not also "This field is required."
    assert errors["practitioner"] == ["This field is required."]
    assert errors["start"] == ["This field is required."]
