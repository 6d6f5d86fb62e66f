import pytest

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import make_user
from hms.frontdesk.models import QueueEntry, QueueStatus

PAGE = "/frontdesk/queue/"


@pytest.fixture
def waiting(q_doctor, checked_in):
    return QueueEntry.objects.select_related("patient").get(appointment=checked_in(q_doctor, "09:00"))


def test_the_page_renders_for_reception(client, receptionist, waiting, q_doctor):
    """Reception sees who waits, with priority controls and the live socket of every queue; the read is
    audited with the patients shown."""
    client.force_login(receptionist)
    response = client.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert waiting.patient.family_name.upper() in html
    assert 'data-ws-path="/ws/queue/"' in html
    assert 'name="priority"' in html and "Call next patient" not in html
    assert q_doctor.practitioner.display_name in html
    event = AuditEvent.objects.filter(actor=receptionist, action="search").latest("id")
    assert event.patient_ids == [waiting.patient_id]
    # one practitioner's queue: the call-next button appears
    html = client.get(PAGE, {"practitioner": q_doctor.practitioner.pk}).content.decode()
    assert f'data-ws-path="/ws/queue/{q_doctor.practitioner.pk}/"' in html and "Call next patient" in html


def test_the_doctor_sees_their_queue_and_calls_next(client, q_doctor, waiting):
    client.force_login(q_doctor)
    html = client.get(PAGE).content.decode()
    assert "Call next patient" in html and f"/ws/queue/{q_doctor.practitioner.pk}/" in html
    response = client.post("/frontdesk/queue/call-next/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Called" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == QueueStatus.CALLED
    assert (
        "Nobody is waiting"
        in client.post("/frontdesk/queue/call-next/", HTTP_HX_REQUEST="true").content.decode()
    )


def test_reception_changes_priority_with_htmx(client, receptionist, waiting):
    client.force_login(receptionist)
    response = client.post(
        f"/frontdesk/queue/{waiting.pk}/priority/", {"priority": "emergent"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert 'value="emergent" selected' in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.priority_rank == 1


@pytest.mark.parametrize(
    "role, expected", [(Role.PATIENT, 403), (Role.PHARMACIST, 403), (Role.NURSE, 200), (Role.ADMIN, 200)]
)
def test_page_access_per_role(client, role, expected, waiting):
    client.force_login(make_user(role))
    assert client.get(PAGE).status_code == expected


def test_a_doctor_cannot_touch_priorities_and_anonymous_goes_to_login(client, q_doctor, waiting):
    assert client.get(PAGE).status_code == 302
    client.force_login(q_doctor)
    response = client.post(f"/frontdesk/queue/{waiting.pk}/priority/", {"priority": "urgent"})
    assert response.status_code == 403


def test_the_picker_lists_only_scheduled_or_queued_practitioners(client, receptionist, q_doctor):
    """An imported doctor without schedule nor queue today is not offered; one with a queue entry is."""
    idle = make_user(Role.DOCTOR).practitioner
    client.force_login(receptionist)
    html = client.get(PAGE).content.decode()
    assert f'value="{q_doctor.practitioner.pk}"' in html
    assert f'value="{idle.pk}"' not in html
    from hms.core.testing import PatientFactory
    from hms.frontdesk import services

    services.queue_add_walk_in(patient=PatientFactory(), practitioner=idle, by=receptionist)
    assert f'value="{idle.pk}"' in client.get(PAGE).content.decode()


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "99999999", "9" * 30])
def test_a_bad_practitioner_shows_an_error_and_all_queues(client, receptionist, waiting, raw):
    client.force_login(receptionist)
    response = client.get(PAGE, {"practitioner": raw})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Unknown practitioner" in html and "all practitioners" in html
    assert waiting.patient.family_name.upper() in html
    table = client.get("/frontdesk/queue/table/", {"practitioner": raw}).content.decode()
    assert "Unknown practitioner" in table
