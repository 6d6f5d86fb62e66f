"""Renewal requests through the REST API: the patient asks, the prescriber's inbox, approve (a linked new
signed prescription) or deny with a reason, the notifications, and the role matrix."""

import pytest

from hms.audit.models import AuditEvent
from hms.core.testing import api_client_for
from hms.messaging.models import Notification
from hms.pharmacy import prescriptions
from hms.pharmacy.models import MedicationRequest, PrescriptionRenewal

from .rx_fixtures import make_rx_world, signed_prescription

pytestmark = pytest.mark.django_db


@pytest.fixture
def rx_world(db):
    return make_rx_world()


def _request(world, rx, note="Running out next week."):
    response = api_client_for(world["patient_user"]).post(
        "/api/renewals/", {"prescription": rx.pk, "note": note}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_request_lands_in_the_prescribers_inbox_and_approval_links_a_new_prescription(rx_world):
    old = signed_prescription(rx_world, refills=1)
    created = _request(rx_world, old)
    assert created["status"] == "requested"
    assert created["prescriber"]["id"] == rx_world["doctor"].practitioner.pk
    assert created["medication"] == "amoxicillin 500 MG Oral Capsule"

    # the doctor is told, and sees it in the inbox
    told = Notification.objects.get(recipient=rx_world["doctor"], event="prescription.renewal_requested")
    assert rx_world["patient"].mrn in told.subject
    inbox = api_client_for(rx_world["doctor"]).get("/api/renewals/", {"status": "requested"})
    assert [r["id"] for r in inbox.json()["results"]] == [created["id"]]

    # one open request per prescription
    again = api_client_for(rx_world["patient_user"]).post(
        "/api/renewals/", {"prescription": old.pk}, format="json"
    )
    assert again.status_code == 409
    assert PrescriptionRenewal.objects.count() == 1

    approved = api_client_for(rx_world["doctor"]).post(
        f"/api/renewals/{created['id']}/approve/", {}, format="json"
    )
    assert approved.status_code == 200, approved.json()
    body = approved.json()
    assert body["status"] == "approved"
    new = MedicationRequest.objects.get(pk=body["renewed_as"])
    assert new.prior_prescription_id == old.pk
    assert new.status == "active" and new.signed_at is not None
    assert (
        new.code == old.code and new.dose_value == old.dose_value and new.frequency_code == old.frequency_code
    )
    assert new.refills == 1
    assert new.verification_code and new.verification_code != old.verification_code
    old.refresh_from_db()
    assert old.status == "completed" and old.status_reason == f"Renewed as #{new.pk}"

    note = Notification.objects.get(recipient=rx_world["patient_user"], event="prescription.renewal_approved")
    assert "approved" in note.subject
    assert AuditEvent.objects.filter(
        object_type="pharmacy.PrescriptionRenewal", detail__status="approved"
    ).exists()

    # decided once
    twice = api_client_for(rx_world["doctor"]).post(
        f"/api/renewals/{created['id']}/approve/", {}, format="json"
    )
    assert twice.status_code == 409
    assert MedicationRequest.objects.filter(prior_prescription=old).count() == 1
    # the patient sees the new prescription; a new request for the completed old one is allowed again
    mine = api_client_for(rx_world["patient_user"]).get("/api/prescriptions/").json()["results"]
    assert {r["id"] for r in mine} == {old.pk, new.pk}


def test_deny_needs_a_reason_and_tells_the_patient(rx_world):
    rx = signed_prescription(rx_world)
    created = _request(rx_world, rx)
    doctor = api_client_for(rx_world["doctor"])
    blank = doctor.post(f"/api/renewals/{created['id']}/deny/", {"reason": ""}, format="json")
    assert blank.status_code == 400
    assert "reason" in blank.json()
    denied = doctor.post(
        f"/api/renewals/{created['id']}/deny/", {"reason": "Course finished; see me first."}, format="json"
    )
    assert denied.status_code == 200
    assert denied.json()["status"] == "denied"
    assert denied.json()["decision_reason"] == "Course finished; see me first."
    note = Notification.objects.get(recipient=rx_world["patient_user"], event="prescription.renewal_denied")
    assert "Course finished; see me first." in note.body
    rx.refresh_from_db()
    assert rx.status == "active"  # unchanged
    assert not MedicationRequest.objects.filter(prior_prescription=rx).exists()
    # after a decision the patient may ask again
    assert (
        api_client_for(rx_world["patient_user"])
        .post("/api/renewals/", {"prescription": rx.pk}, format="json")
        .status_code
        == 201
    )


def test_only_active_or_completed_prescriptions_can_be_renewed(rx_world):
    rx = signed_prescription(rx_world)
    prescriptions.prescription_stop(prescription=rx, reason="Side effects", by=rx_world["doctor"])
    response = api_client_for(rx_world["patient_user"]).post(
        "/api/renewals/", {"prescription": rx.pk}, format="json"
    )
    assert response.status_code == 409
    draft = prescriptions.prescription_create_draft(
        patient=rx_world["patient"], medication="308192", by=rx_world["doctor"]
    )
    response = api_client_for(rx_world["patient_user"]).post(
        "/api/renewals/", {"prescription": draft.pk}, format="json"
    )
    assert response.status_code == 404  # a patient never sees drafts
    assert not PrescriptionRenewal.objects.exists()


def test_renewal_role_matrix(rx_world):
    rx = signed_prescription(rx_world)
    created = _request(rx_world, rx)
    rid = created["id"]
    # another patient cannot request a renewal of this prescription, nor see the request
    stranger = api_client_for(rx_world["stranger_user"])
    assert stranger.post("/api/renewals/", {"prescription": rx.pk}, format="json").status_code == 404
    assert stranger.get("/api/renewals/").json()["count"] == 0
    # a doctor not caring for the patient: not in their list, cannot decide
    other = api_client_for(rx_world["other_doctor"])
    assert other.get("/api/renewals/").json()["count"] == 0
    assert other.post(f"/api/renewals/{rid}/approve/", {}, format="json").status_code == 404
    assert other.post(f"/api/renewals/{rid}/deny/", {"reason": "x"}, format="json").status_code == 404
    # doctors do not request renewals; the patient does not decide
    assert (
        api_client_for(rx_world["doctor"])
        .post("/api/renewals/", {"prescription": rx.pk}, format="json")
        .status_code
        == 403
    )
    patient = api_client_for(rx_world["patient_user"])
    assert patient.post(f"/api/renewals/{rid}/approve/", {}, format="json").status_code == 403
    assert patient.get("/api/renewals/").json()["count"] == 1
    for role in ("nurse", "pharmacist", "receptionist", "billing", "lab", "admin"):
        client = api_client_for(rx_world[role])
        assert client.get("/api/renewals/").status_code == 403, role
        assert client.post("/api/renewals/", {"prescription": rx.pk}, format="json").status_code == 403, role
        assert client.post(f"/api/renewals/{rid}/approve/", {}, format="json").status_code == 403, role
        assert client.post(f"/api/renewals/{rid}/deny/", {"reason": "x"}, format="json").status_code == 403, (
            role
        )
    assert PrescriptionRenewal.objects.get(pk=rid).status == "requested"
