"""Walk-ins through the API (`POST /api/queue/walk-in/`) and the live page's "Add walk-in" form."""

import pytest

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.frontdesk.models import QueueEntry, QueueStatus

WALK_IN = "/api/queue/walk-in/"
PAGE = "/frontdesk/queue/"
FORM = "/frontdesk/queue/walk-in/"
PICKER = "/frontdesk/queue/walk-in/patients/"


@pytest.fixture
def walker(db):
    return PatientFactory()


@pytest.mark.parametrize(
    "role, expected",
    [
        (Role.RECEPTIONIST, 201),
        (Role.ADMIN, 201),
        (Role.NURSE, 404),  # may add walk-ins, but cannot see a patient outside their care
        (Role.DOCTOR, 403),
        (Role.PATIENT, 403),
        (Role.PHARMACIST, 403),
        (Role.BILLING, 403),
    ],
)
def test_walk_in_api_roles(role, expected, walker, q_doctor):
    user = make_user(role)
    body = {"patient": walker.pk, "practitioner": q_doctor.practitioner.pk}
    response = api_client_for(user).post(WALK_IN, body, format="json")
    assert response.status_code == expected, response.content
    assert QueueEntry.objects.filter(patient=walker).exists() == (expected == 201)


def test_walk_in_api_adds_and_audits(walker, q_doctor, receptionist):
    body = {
        "patient": walker.pk,
        "practitioner": q_doctor.practitioner.pk,
        "priority": "urgent",
        "reason": "Chest pain",
    }
    response = api_client_for(receptionist).post(WALK_IN, body, format="json")
    assert response.status_code == 201
    row = response.json()
    assert row["appointment_id"] is None and row["patient"]["id"] == walker.pk
    assert row["priority"] == "urgent" and row["priority_rank"] == 2 and row["status"] == "waiting"
    assert row["reason"] == "Chest pain" and row["location"] == "Cardiology" and row["position"] == 1
    entry = QueueEntry.objects.get(pk=row["id"])
    assert entry.status == QueueStatus.WAITING and entry.practitioner_id == q_doctor.practitioner.pk
    event = AuditEvent.objects.filter(actor=receptionist, action="create").latest("id")
    assert event.patient_id == walker.pk and event.detail["queue"] == "arrived"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "patient"),
        ({"patient": 0}, "patient"),
        ({"reason": 7}, "reason"),  # StrictSerializer: text must arrive as a JSON string
        ({"priority": "soon"}, "priority"),
        ({"reason": "x" * 201}, "reason"),
        ({"practitioner": 2**62}, "practitioner"),
    ],
)
def test_walk_in_api_validation(body, field, walker, q_doctor, receptionist):
    data = {"patient": walker.pk, "practitioner": q_doctor.practitioner.pk} | body
    if body == {}:
        data = {"practitioner": q_doctor.practitioner.pk}
    response = api_client_for(receptionist).post(WALK_IN, data, format="json")
    assert response.status_code == 400, response.content
    assert field in response.content.decode()
    assert not QueueEntry.objects.exists()


def test_walk_in_api_unknown_patient_is_404(q_doctor, receptionist):
    body = {"patient": 2**62, "practitioner": q_doctor.practitioner.pk}
    assert api_client_for(receptionist).post(WALK_IN, body, format="json").status_code == 404


def test_the_page_offers_the_walk_in_form_to_reception_only(client, receptionist, q_doctor):
    client.force_login(receptionist)
    html = client.get(PAGE).content.decode()
    assert "Add walk-in" in html and f'hx-post="{FORM}"' in html and f'hx-get="{PICKER}"' in html
    assert q_doctor.practitioner.display_name in html
    client.force_login(q_doctor)
    assert "Add walk-in" not in client.get(PAGE).content.decode()


def test_the_picker_searches_and_audits(client, receptionist, walker):
    client.force_login(receptionist)
    html = client.get(PICKER, {"q": walker.mrn}, HTTP_HX_REQUEST="true").content.decode()
    assert f'name="patient" value="{walker.pk}"' in html
    event = AuditEvent.objects.filter(actor=receptionist, action="search").latest("id")
    assert event.patient_ids == [walker.pk]
    assert "No patient matches" in client.get(PICKER, {"q": "Zzzqxx"}).content.decode()
    client.force_login(make_user(Role.DOCTOR))
    assert client.get(PICKER, {"q": walker.mrn}).status_code == 403


def test_the_form_adds_a_walk_in_and_the_table_rereads(client, receptionist, walker, q_doctor):
    client.force_login(receptionist)
    form = {"patient": walker.pk, "practitioner": q_doctor.practitioner.pk, "priority": "emergent"}
    response = client.post(FORM, form | {"reason": "Fall"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "added to the queue" in html and walker.family_name.upper() in html and "walk-in" in html
    entry = QueueEntry.objects.get(patient=walker)
    assert entry.priority_rank == 1 and entry.reason == "Fall" and entry.appointment_id is None
    # bad input comes back as a notice; a patient out of sight is 404; other roles 403
    html = client.post(FORM, form | {"priority": "soon"}, HTTP_HX_REQUEST="true").content.decode()
    assert "One of:" in html
    html = client.post(FORM, {"practitioner": q_doctor.practitioner.pk}, HTTP_HX_REQUEST="true")
    assert "Choose the patient" in html.content.decode()
    assert client.post(FORM, form | {"patient": 2**62}, HTTP_HX_REQUEST="true").status_code == 404
    assert QueueEntry.objects.count() == 1
    client.force_login(q_doctor)
    assert client.post(FORM, form, HTTP_HX_REQUEST="true").status_code == 403
