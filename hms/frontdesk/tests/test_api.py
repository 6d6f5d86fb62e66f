import pytest

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import api_client_for, make_user
from hms.frontdesk.models import QueueEntry, QueueStatus

QUEUE = "/api/queue/"
CALL_NEXT = "/api/queue/call-next/"


def _priority_url(entry: QueueEntry) -> str:
    return f"/api/queue/{entry.pk}/priority/"


@pytest.fixture
def two_queues(q_doctor, other_doctor, checked_in):
    """One checked-in patient in each doctor's queue."""
    mine = QueueEntry.objects.get(appointment=checked_in(q_doctor, "09:00"))
    theirs = QueueEntry.objects.get(appointment=checked_in(other_doctor, "09:00"))
    return mine, theirs


@pytest.mark.parametrize(
    "role, sees",
    [
        (Role.RECEPTIONIST, {"mine", "theirs"}),
        (Role.ADMIN, {"mine", "theirs"}),
        (Role.DOCTOR, {"mine"}),
        (Role.NURSE, set()),
        (Role.PATIENT, None),
        (Role.PHARMACIST, None),
        (Role.BILLING, None),
    ],
)
def test_queue_list_is_scoped_per_role(role, sees, two_queues, q_doctor):
    """Reception and admin see every queue, a doctor their own, a nurse with no queue nothing; patients
    and other roles get 403. The read is audited with the patients listed."""
    mine, theirs = two_queues
    user = q_doctor if role == Role.DOCTOR else make_user(role)
    response = api_client_for(user).get(QUEUE)
    if sees is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    names = {mine.pk: "mine", theirs.pk: "theirs"}
    assert {names[row["id"]] for row in response.json()} == sees
    event = AuditEvent.objects.filter(actor=user, action="search").latest("id")
    assert sorted(event.patient_ids) == sorted(
        {"mine": mine.patient_id, "theirs": theirs.patient_id}[name] for name in sees
    )


def test_queue_list_rows_and_filters(two_queues, receptionist, q_doctor):
    mine, _ = two_queues
    client = api_client_for(receptionist)
    rows = client.get(QUEUE, {"practitioner": q_doctor.practitioner.pk}).json()
    assert len(rows) == 1
    row = rows[0]
    assert row["id"] == mine.pk and row["position"] == 1 and row["expected_wait_minutes"] == 0
    assert row["priority"] == "non-urgent" and row["status"] == "waiting"
    assert row["patient"]["id"] == mine.patient_id and row["practitioner"]["id"] == q_doctor.practitioner.pk
    assert client.get(QUEUE, {"date": "2001-01-01"}).json() == []
    assert client.get(QUEUE, {"date": "yesterday"}).status_code == 400
    # a doctor asking for another practitioner's queue gets nothing of it
    other = two_queues[1].practitioner_id
    assert api_client_for(q_doctor).get(QUEUE, {"practitioner": other}).json() == []


@pytest.mark.parametrize(
    "role, expected",
    [
        (Role.RECEPTIONIST, 200),
        (Role.ADMIN, 200),
        (Role.NURSE, 404),  # may triage, but this entry is not in their queue
        (Role.DOCTOR, 403),
        (Role.PATIENT, 403),
        (Role.PHARMACIST, 403),
    ],
)
def test_set_priority_per_role(role, expected, two_queues):
    mine, _ = two_queues
    response = api_client_for(make_user(role)).post(
        _priority_url(mine), {"priority": "urgent"}, format="json"
    )
    assert response.status_code == expected
    mine.refresh_from_db()
    assert mine.priority == ("urgent" if expected == 200 else "non-urgent")
    if expected == 200:
        assert response.json()["priority_rank"] == 2


def test_set_priority_validates(two_queues, receptionist):
    mine, _ = two_queues
    client = api_client_for(receptionist)
    assert client.post(_priority_url(mine), {"priority": "soon"}, format="json").status_code == 400
    assert client.post(_priority_url(mine), {"priority": 2}, format="json").status_code == 400
    assert (
        client.post("/api/queue/999999/priority/", {"priority": "urgent"}, format="json").status_code == 404
    )


def test_doctor_calls_their_own_next_patient(two_queues, q_doctor, other_doctor):
    mine, theirs = two_queues
    client = api_client_for(q_doctor)
    response = client.post(CALL_NEXT, {}, format="json")
    assert response.status_code == 200
    assert response.json()["id"] == mine.pk and response.json()["status"] == "called"
    assert client.post(CALL_NEXT, {}, format="json").status_code == 409
    other = other_doctor.practitioner.pk
    assert client.post(CALL_NEXT, {"practitioner": other}, format="json").status_code == 403
    theirs.refresh_from_db()
    assert theirs.status == QueueStatus.WAITING


@pytest.mark.parametrize("role, expected", [(Role.RECEPTIONIST, 200), (Role.NURSE, 403), (Role.PATIENT, 403)])
def test_call_next_for_a_practitioner(role, expected, two_queues, other_doctor):
    _, theirs = two_queues
    client = api_client_for(make_user(role))
    response = client.post(CALL_NEXT, {"practitioner": other_doctor.practitioner.pk}, format="json")
    assert response.status_code == expected
    theirs.refresh_from_db()
    assert theirs.status == (QueueStatus.CALLED if expected == 200 else QueueStatus.WAITING)


def test_reception_must_name_the_practitioner(receptionist):
    client = api_client_for(receptionist)
    assert client.post(CALL_NEXT, {}, format="json").status_code == 400
    assert client.post(CALL_NEXT, {"practitioner": 999999}, format="json").status_code == 400
