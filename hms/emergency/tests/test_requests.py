"""Patient emergency requests: the patient asks (API and portal), ED staff see it with the patient's
allergies and problem list, acknowledge, dispatch and close it; every step timestamped, audited and
notified to the patient; scoping (another patient's request is 404) and the role matrix."""

import pytest
from django.urls import reverse

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import AllergyIntolerance, Condition
from hms.core.testing import api_client_for, make_user
from hms.emergency import services
from hms.emergency.models import EmergencyRequest, RequestStatus
from hms.messaging.models import Notification

ROLES = [Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.PHARMACIST, Role.LAB_TECHNICIAN,
         Role.BILLING, Role.PATIENT]  # fmt: skip


def _ask(user, **kw):
    body = {"description": "Severe chest pain", "location_text": "12 High St, flat 3", **kw}
    return services.emergency_request_create(by=user, **body)


def test_the_full_flow(patient_user, nurse, doctor):
    p = patient_user.patient
    AllergyIntolerance.objects.create(
        patient=p, code="91936005", code_display="Penicillin", criticality="high"
    )
    AllergyIntolerance.objects.create(patient=p, code="x", code_display="Old", clinical_status="resolved")
    Condition.objects.create(
        patient=p, code="44054006", code_display="Type 2 diabetes", clinical_status="active"
    )
    res = api_client_for(patient_user).post(
        "/api/emergency-requests/",
        {
            "description": "Severe chest pain",
            "location_text": "Home",
            "latitude": 40.7128,
            "longitude": -74.006,
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    rid = res.json()["id"]
    assert res.json()["status"] == "open" and res.json()["latitude"] == "40.712800"
    assert res.json()["allergies"] == []  # the patient's copy carries no summary

    board = api_client_for(nurse).get("/api/emergency-requests/")
    assert board.status_code == 200
    [row] = board.json()["results"]
    assert [a["substance"] for a in row["allergies"]] == ["Penicillin"]
    assert [c["display"] for c in row["problems"]] == ["Type 2 diabetes"]
    access = AuditEvent.objects.filter(actor=nurse, detail__emergency_access=True)
    assert access.exists() and p.pk in access.latest("id").patient_ids

    client = api_client_for(nurse)
    assert (
        client.post(f"/api/emergency-requests/{rid}/dispatch/", {"note": "x"}, format="json").status_code
        == 409
    )
    ack = client.post(f"/api/emergency-requests/{rid}/acknowledge/", {}, format="json")
    assert ack.status_code == 200 and ack.json()["acknowledged_at"]
    disp = api_client_for(doctor).post(
        f"/api/emergency-requests/{rid}/dispatch/", {"note": "Ambulance 7 sent"}, format="json"
    )
    assert (
        disp.status_code == 200
        and disp.json()["dispatched_at"]
        and disp.json()["dispatch_note"] == "Ambulance 7 sent"
    )
    close = client.post(
        f"/api/emergency-requests/{rid}/close/", {"outcome": "Brought to the ED"}, format="json"
    )
    assert close.status_code == 200 and close.json()["status"] == "closed"
    row = EmergencyRequest.objects.get(pk=rid)
    assert row.created_at <= row.acknowledged_at <= row.dispatched_at <= row.closed_at
    assert (row.acknowledged_by, row.dispatched_by, row.closed_by) == (nurse, doctor, nurse)
    steps = AuditEvent.objects.filter(
        object_type="emergency.EmergencyRequest", object_id=str(rid), action="update"
    )
    assert sorted(e.detail["step"] for e in steps) == ["acknowledged", "closed", "dispatched"]
    events = set(Notification.objects.filter(recipient=patient_user).values_list("event", flat=True))
    assert events == {
        "emergency_request.acknowledged",
        "emergency_request.dispatched",
        "emergency_request.closed",
    }
    # closed: off the staff list, still on the patient's
    assert api_client_for(nurse).get("/api/emergency-requests/").json()["results"] == []
    mine = api_client_for(patient_user).get("/api/emergency-requests/").json()["results"]
    assert [(r["id"], r["status"]) for r in mine] == [(rid, "closed")]
    again = client.post(f"/api/emergency-requests/{rid}/close/", {"outcome": "again"}, format="json")
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": ""}, "description"),
        ({"description": "x" * 501}, "description"),
        ({"location_text": "", "latitude": None, "longitude": None}, "location_text"),
        ({"latitude": 91, "longitude": 0}, "latitude"),
        ({"latitude": 10, "longitude": 181}, "longitude"),
        ({"latitude": 10}, "longitude"),
        ({"description": 12}, "description"),
    ],
)
def test_bad_requests_are_400(patient_user, body, field):
    full = {"description": "Help", "location_text": "Home", **body}
    if "location_text" in body and body["location_text"] == "":
        full["location_text"] = ""
    res = api_client_for(patient_user).post("/api/emergency-requests/", full, format="json")
    assert res.status_code == 400, res.content
    assert field in res.json()
    assert not EmergencyRequest.objects.exists()


def test_a_patient_cannot_see_or_act_on_another_patients_request(patient_user):
    other = make_user(Role.PATIENT)
    row = _ask(other)
    client = api_client_for(patient_user)
    assert client.get(f"/api/emergency-requests/{row.pk}/").status_code == 404
    assert client.get("/api/emergency-requests/").json()["results"] == []
    assert api_client_for(other).get(f"/api/emergency-requests/{row.pk}/").status_code == 200
    # acting is for ED staff: a patient is refused (even on their own)
    assert client.post(f"/api/emergency-requests/{row.pk}/acknowledge/", {}, format="json").status_code == 403
    # the portal page of a request is 404 for another patient
    from django.test import Client

    web = Client()
    web.force_login(patient_user)
    assert web.get(reverse("portal:emergency_request_status", args=[row.pk])).status_code == 404


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role, patient_user):
    user = make_user(role)
    client = api_client_for(user)
    row = _ask(patient_user)
    staff = role in (Role.DOCTOR, Role.NURSE)
    listing = client.get("/api/emergency-requests/")
    assert listing.status_code == (200 if staff or role == Role.PATIENT else 403)
    if staff:
        assert [r["id"] for r in listing.json()["results"]] == [row.pk]
    if role == Role.PATIENT:
        assert listing.json()["results"] == []  # someone else's request
    detail = client.get(f"/api/emergency-requests/{row.pk}/")
    assert detail.status_code == (200 if staff else 404 if role == Role.PATIENT else 403)
    create = client.post(
        "/api/emergency-requests/", {"description": "Help", "location_text": "Home"}, format="json"
    )
    assert create.status_code == (201 if role == Role.PATIENT else 403)
    for action, body in (("acknowledge", {}), ("dispatch", {"note": "Team"}), ("close", {"outcome": "Done"})):
        res = client.post(f"/api/emergency-requests/{row.pk}/{action}/", body, format="json")
        assert res.status_code == (200 if staff else 403), (action, res.content)
    if staff:
        assert (
            client.post("/api/emergency-requests/999999/close/", {"outcome": "x"}, format="json").status_code
            == 404
        )
    row.refresh_from_db()
    assert row.status == (RequestStatus.CLOSED if staff else RequestStatus.OPEN)


def test_the_portal_button_sends_a_request_and_shows_its_status(patient_user):
    from django.test import Client

    web = Client()
    web.force_login(patient_user)
    page = web.get(reverse("portal:emergency_request"))
    assert page.status_code == 200 and 'for="id_description"' in page.content.decode()
    bad = web.post(reverse("portal:emergency_request"), {"description": "Help"})
    assert bad.status_code == 400 and not EmergencyRequest.objects.exists()
    res = web.post(
        reverse("portal:emergency_request"),
        {
            "description": "Fell down the stairs",
            "location_text": "",
            "latitude": "51.5",
            "longitude": "-0.12",
        },
    )
    row = EmergencyRequest.objects.get()
    assert res.status_code == 302 and res.url == reverse("portal:emergency_request_status", args=[row.pk])
    assert str(row.latitude) == "51.500000"
    status = web.get(res.url)
    assert status.status_code == 200 and "Fell down the stairs" in status.content.decode()
    staff = Client()
    staff.force_login(make_user(Role.NURSE))
    assert staff.get(reverse("portal:emergency_request")).status_code == 403
