"""`/api/notifications/`: own inbox only, mark read, staff messages, preferences."""

import pytest

from hms.accounts.roles import STAFF_ROLES, Role
from hms.audit.models import AuditEvent
from hms.core.testing import api_client_for, make_user, put_in_care
from hms.messaging import services
from hms.messaging.models import Delivery, Notification

pytestmark = pytest.mark.django_db


def _notify(user, key, subject="Hi"):
    services.notification_send(
        recipient=user, event="lab.ready", context={"subject": subject, "message": "m"}, dedupe_key=key
    )
    return Notification.objects.get(delivery__dedupe_key=key)


def test_each_user_sees_only_their_own_notifications(patient_user, doctor):
    mine = _notify(patient_user, "a", "For the patient")
    _notify(doctor, "b", "For the doctor")
    response = api_client_for(patient_user).get("/api/notifications/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]
    assert response.json()["results"][0]["subject"] == "For the patient"
    event = AuditEvent.objects.filter(object_type="messaging.Notification", action="search").get()
    assert event.actor == patient_user and event.patient_ids == [patient_user.patient.pk]


def test_anonymous_is_refused():
    assert api_client_for(None).get("/api/notifications/").status_code == 401


def test_mark_read_own_only(patient_user, doctor):
    mine, theirs = _notify(patient_user, "a"), _notify(doctor, "b")
    client = api_client_for(patient_user)
    response = client.post(f"/api/notifications/{mine.pk}/read/")
    assert response.status_code == 200 and response.json()["read"] is True
    first_read = response.json()["read_at"]
    assert client.post(f"/api/notifications/{mine.pk}/read/").json()["read_at"] == first_read
    assert client.post(f"/api/notifications/{theirs.pk}/read/").status_code == 404
    assert client.post("/api/notifications/999999/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.get("/api/notifications/", {"unread": "true"}).json()["count"] == 0


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_who_may_send_to_a_staff_member(role, nurse):
    sender = make_user(role)
    response = api_client_for(sender).post(
        "/api/notifications/send/", {"recipient": nurse.pk, "subject": "Shift", "message": "Swap Friday?"}
    )
    if role in STAFF_ROLES:
        assert response.status_code == 201, response.content
        assert {d["channel"] for d in response.json()} == {"in_app", "email"}
        note = Notification.objects.get(recipient=nurse)
        assert note.subject == "Shift" and note.body.startswith("Swap Friday?")
        assert Delivery.objects.get(recipient=nurse, channel="in_app").sender == sender
    else:
        assert response.status_code == 403
        assert not Notification.objects.exists()


@pytest.mark.parametrize(
    ("role", "in_care", "expected"),
    [
        (Role.RECEPTIONIST, False, 201),
        (Role.ADMIN, False, 201),
        (Role.DOCTOR, False, 400),
        (Role.DOCTOR, True, 201),
        (Role.NURSE, False, 400),
    ],
)
def test_messaging_a_patient_needs_sight_of_the_patient(role, in_care, expected, patient_user):
    sender = make_user(role)
    if in_care:
        put_in_care(sender, patient_user.patient)
    response = api_client_for(sender).post(
        "/api/notifications/send/", {"recipient": patient_user.pk, "message": "Please call us."}
    )
    assert response.status_code == expected, response.content
    assert Notification.objects.filter(recipient=patient_user).count() == (1 if expected == 201 else 0)
    if expected == 201:
        audit = AuditEvent.objects.get(object_type="messaging.Delivery")
        assert audit.actor == sender and audit.patient == patient_user.patient
    else:
        assert response.json() == {"recipient": ["No such user."]}


def test_send_rejects_unknown_recipient_and_bad_input(receptionist):
    client = api_client_for(receptionist)
    assert client.post("/api/notifications/send/", {"recipient": 10**12, "message": "x"}).status_code == 400
    assert client.post("/api/notifications/send/", {"recipient": receptionist.pk}).status_code == 400
    not_a_string = client.post("/api/notifications/send/", {"recipient": receptionist.pk, "message": 5})
    assert not_a_string.status_code == 400 and set(not_a_string.json()) == {"message"}
    fax = client.post(
        "/api/notifications/send/", {"recipient": receptionist.pk, "message": "x", "channels": ["fax"]}
    )
    assert fax.status_code == 400 and set(fax.json()) == {"channels"}


def test_send_with_an_idempotency_key_sends_once(receptionist, doctor):
    client = api_client_for(receptionist)
    body = {
        "recipient": doctor.pk,
        "message": "Room changed",
        "idempotency_key": "req-1",
        "channels": ["in_app"],
    }
    first = client.post("/api/notifications/send/", body).json()
    second = client.post("/api/notifications/send/", body).json()
    assert first == second and len(first) == 1
    assert Notification.objects.filter(recipient=doctor).count() == 1


def test_preferences_read_and_update_own(patient_user):
    client = api_client_for(patient_user)
    assert client.get("/api/notifications/preferences/").json() == {
        "in_app": True,
        "email": True,
        "sms": False,
    }
    response = client.patch("/api/notifications/preferences/", {"sms": True, "email": False})
    assert response.json() == {"in_app": True, "email": False, "sms": True}
    assert services.preference_get(patient_user).channels == ["in_app", "sms"]
