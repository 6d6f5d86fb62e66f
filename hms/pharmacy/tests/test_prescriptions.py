"""E-prescribing through the REST API: lifecycle, immutability, decision support at signing, the PDF, the
verification code, and the role matrix of every prescription endpoint."""

import io
import re

import pytest
from pypdf import PdfReader

from hms.audit.models import AuditAction, AuditEvent
from hms.core.testing import api_client_for
from hms.pharmacy.models import MedicationRequest

from .rx_fixtures import (
    AMOXICILLIN_500,
    draft_payload,
    make_rx_world,
    penicillin_allergy,
    signed_prescription,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def rx_world(db):
    return make_rx_world()


CODE_RE = re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$")


def _create(world, **extra):
    response = api_client_for(world["doctor"]).post(
        "/api/prescriptions/", draft_payload(world["patient"], **extra), format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


# ---------------------------------------------------------------- lifecycle


def test_lifecycle_draft_edit_sign_then_immutable_then_complete(rx_world):
    doctor = api_client_for(rx_world["doctor"])
    created = _create(rx_world, indication=rx_world["condition"].pk, encounter=rx_world["encounter"].pk)
    assert created["status"] == "draft"
    assert created["medication"]["code"] == AMOXICILLIN_500
    assert created["medication"]["display"] == "amoxicillin 500 MG Oral Capsule"
    assert created["strength"] == "500 mg"  # from the catalogue
    assert created["frequency_per_day"] == "3.00"
    assert created["indication"]["display"] == "Streptococcal sore throat"
    assert created["verification_code"] == ""
    assert "three times daily" in created["dosage_text"]
    rx_id = created["id"]

    edited = doctor.patch(f"/api/prescriptions/{rx_id}/", {"frequency_code": "BID"}, format="json")
    assert edited.status_code == 200
    assert edited.json()["frequency_code"] == "BID"
    assert edited.json()["frequency_per_day"] == "2.00"

    signed = doctor.post(f"/api/prescriptions/{rx_id}/sign/", {}, format="json")
    assert signed.status_code == 200, signed.json()
    body = signed.json()
    assert body["status"] == "active"
    assert body["signed_at"]
    assert CODE_RE.match(body["verification_code"])
    assert body["requester"]["id"] == rx_world["doctor"].practitioner.pk

    # signed → immutable
    again = doctor.patch(f"/api/prescriptions/{rx_id}/", {"refills": 2}, format="json")
    assert again.status_code == 409
    assert MedicationRequest.objects.get(pk=rx_id).refills == 0
    assert doctor.post(f"/api/prescriptions/{rx_id}/sign/", {}, format="json").status_code == 409

    done = api_client_for(rx_world["nurse"]).post(f"/api/prescriptions/{rx_id}/complete/")
    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert doctor.post(f"/api/prescriptions/{rx_id}/stop/", {"reason": "x"}, format="json").status_code == 409


def test_stop_needs_a_reason_and_entered_in_error_hides(rx_world):
    doctor = api_client_for(rx_world["doctor"])
    rx = signed_prescription(rx_world)
    blank = doctor.post(f"/api/prescriptions/{rx.pk}/stop/", {"reason": "  "}, format="json")
    assert blank.status_code == 400
    assert "reason" in blank.json()
    stopped = doctor.post(f"/api/prescriptions/{rx.pk}/stop/", {"reason": "Rash"}, format="json")
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    assert stopped.json()["status_reason"] == "Rash"

    gone = doctor.post(
        f"/api/prescriptions/{rx.pk}/entered-in-error/", {"reason": "Wrong patient"}, format="json"
    )
    assert gone.status_code == 204
    rx.refresh_from_db()
    assert rx.status == "entered-in-error" and rx.deleted_at is not None  # kept, not deleted
    assert doctor.get(f"/api/prescriptions/{rx.pk}/").status_code == 404
    assert doctor.get("/api/prescriptions/").json()["count"] == 0


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"medication": "999999999"}, "medication"),
        ({"dose_value": "-5"}, "dose_value"),
        ({"dose_value": "abc"}, "dose_value"),
        ({"dose_unit": "bucket"}, "dose_unit"),
        ({"frequency_code": "SOMETIMES"}, "frequency_code"),
        ({"duration_days": 0}, "duration_days"),
        ({"refills": 40}, "refills"),
        ({"route": "ear-ish"}, "route"),
        ({"instructions": 12}, "instructions"),
    ],
)
def test_bad_input_is_a_field_error_and_writes_nothing(rx_world, extra, field):
    response = api_client_for(rx_world["doctor"]).post(
        "/api/prescriptions/", draft_payload(rx_world["patient"], **extra), format="json"
    )
    assert response.status_code == 400
    assert field in response.json()
    assert not MedicationRequest.objects.exists()


def test_indication_must_be_the_patients_own(rx_world):
    from hms.clinical.models import Condition

    theirs = Condition.objects.create(patient=rx_world["stranger"], code="1", code_display="x")
    response = api_client_for(rx_world["doctor"]).post(
        "/api/prescriptions/", draft_payload(rx_world["patient"], indication=theirs.pk), format="json"
    )
    assert response.status_code == 400
    assert "indication" in response.json()


def test_signing_an_incomplete_draft_is_400(rx_world):
    created = _create(rx_world, dose_value=None, frequency_code="")
    response = api_client_for(rx_world["doctor"]).post(
        f"/api/prescriptions/{created['id']}/sign/", {}, format="json"
    )
    assert response.status_code == 400
    assert {"dose_value", "frequency_code"} <= set(response.json())
    assert MedicationRequest.objects.get(pk=created["id"]).status == "draft"


# ---------------------------------------------------------------- decision support at signing


def test_penicillin_allergy_blocks_amoxicillin_until_overridden(rx_world):
    penicillin_allergy(rx_world["patient"])
    doctor = api_client_for(rx_world["doctor"])
    created = _create(rx_world)
    blocked = doctor.post(f"/api/prescriptions/{created['id']}/sign/", {}, format="json")
    assert blocked.status_code == 409
    body = blocked.json()
    assert body["blocking"] is True
    allergy = [f for f in body["findings"] if f["kind"] == "allergy"]
    assert allergy and allergy[0]["severity"] == "contraindicated" and allergy[0]["source"]
    assert MedicationRequest.objects.get(pk=created["id"]).status == "draft"

    reason = "Tolerated amoxicillin in 2024 under observation; benefit outweighs risk."
    signed = doctor.post(
        f"/api/prescriptions/{created['id']}/sign/", {"override_reason": reason}, format="json"
    )
    assert signed.status_code == 200, signed.json()
    body = signed.json()
    assert body["status"] == "active"
    assert body["cds_override_reason"] == reason
    assert any(f["kind"] == "allergy" and f["blocking"] for f in body["cds_findings"])
    event = AuditEvent.objects.filter(object_type="pharmacy.MedicationRequest", detail__signed=True).get()
    assert event.detail["override_reason"] == reason
    assert event.detail["overridden"] is True
    assert {"kind": "allergy", "severity": "contraindicated"} in event.detail["findings"]


def test_an_interaction_with_an_active_prescription_warns_but_signs(rx_world):
    signed_prescription(rx_world, medication="855332", dose_value="5", dose_unit="mg", frequency_code="QD")
    created = _create(
        rx_world, medication="197806", dose_value="600", frequency_code="Q6H-PRN"
    )  # ibuprofen 600 mg
    signed = api_client_for(rx_world["doctor"]).post(
        f"/api/prescriptions/{created['id']}/sign/", {}, format="json"
    )
    assert signed.status_code == 200, signed.json()
    findings = signed.json()["cds_findings"]
    assert any(f["kind"] == "interaction" and not f["blocking"] for f in findings), findings


# ---------------------------------------------------------------- PDF and verification


def test_pdf_has_mrn_and_verification_code_and_is_audited(rx_world):
    rx = signed_prescription(rx_world)
    response = api_client_for(rx_world["patient_user"]).get(f"/api/prescriptions/{rx.pk}/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert rx_world["patient"].mrn in text
    assert rx.verification_code in text
    assert "amoxicillin 500 MG Oral Capsule" in text
    assert rx_world["doctor"].practitioner.display_name in text
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_id=str(rx.pk)).count() == 1


def test_a_draft_has_no_pdf(rx_world):
    created = _create(rx_world)
    assert (
        api_client_for(rx_world["doctor"]).get(f"/api/prescriptions/{created['id']}/pdf/").status_code == 409
    )


def test_pharmacist_verifies_a_code(rx_world):
    rx = signed_prescription(rx_world)
    pharmacist = api_client_for(rx_world["pharmacist"])
    ok = pharmacist.get(
        "/api/prescriptions/verify/", {"code": rx.verification_code.lower().replace("-", " ")}
    )
    assert ok.status_code == 200
    assert ok.json()["id"] == rx.pk
    assert ok.json()["patient"]["medical_record_number"] == rx_world["patient"].mrn
    assert pharmacist.get("/api/prescriptions/verify/", {"code": "AAAA-BBBB-CCCC"}).status_code == 404
    assert pharmacist.get("/api/prescriptions/verify/").status_code == 400
    for role in ("doctor", "patient_user", "receptionist"):
        response = api_client_for(rx_world[role]).get(
            "/api/prescriptions/verify/", {"code": rx.verification_code}
        )
        assert response.status_code == 403, role


# ---------------------------------------------------------------- scoping, audit, role matrix


def test_list_is_scoped_and_audited(rx_world):
    signed = signed_prescription(rx_world)
    draft = _create(rx_world)
    # another doctor's patient's prescription
    from hms.pharmacy import prescriptions

    theirs = prescriptions.prescription_create_draft(
        patient=rx_world["stranger"], medication="308192", by=rx_world["other_doctor"]
    )

    def ids(user, path="/api/prescriptions/"):
        response = api_client_for(rx_world[user]).get(path)
        assert response.status_code == 200, user
        return {row["id"] for row in response.json()["results"]}

    assert ids("doctor") == {signed.pk, draft["id"]}
    assert ids("nurse") == {signed.pk, draft["id"]}
    assert ids("patient_user") == {signed.pk}  # not the draft
    assert ids("pharmacist") == {signed.pk}  # signed ones only
    assert ids("other_doctor") == {theirs.pk}
    assert ids("stranger_user") == set()
    assert ids("doctor", "/medical/api/prescriptions/") == {signed.pk, draft["id"]}  # the seed path
    filtered = api_client_for(rx_world["doctor"]).get("/api/prescriptions/", {"status": "draft"})
    assert [row["id"] for row in filtered.json()["results"]] == [draft["id"]]
    event = AuditEvent.objects.filter(action=AuditAction.SEARCH, actor=rx_world["pharmacist"]).get()
    assert event.patient_ids == [rx_world["patient"].pk]


def test_detail_read_is_audited(rx_world):
    rx = signed_prescription(rx_world)
    assert api_client_for(rx_world["patient_user"]).get(f"/api/prescriptions/{rx.pk}/").status_code == 200
    assert AuditEvent.objects.filter(
        action=AuditAction.READ, actor=rx_world["patient_user"], object_id=str(rx.pk)
    ).exists()


READ_MATRIX = {
    # role: (list, detail of a signed rx of the patient, detail of a draft, pdf)
    "doctor": (200, 200, 200, 200),
    "nurse": (200, 200, 200, 200),
    "patient_user": (200, 200, 404, 200),
    "pharmacist": (200, 200, 404, 200),
    "other_doctor": (200, 404, 404, 404),
    "stranger_user": (200, 404, 404, 404),
    "receptionist": (403, 403, 403, 403),
    "billing": (403, 403, 403, 403),
    "lab": (403, 403, 403, 403),
    "admin": (403, 403, 403, 403),
}


@pytest.mark.parametrize("role", sorted(READ_MATRIX))
def test_read_role_matrix(rx_world, role):
    rx = signed_prescription(rx_world)
    draft = _create(rx_world)
    client = api_client_for(rx_world[role])
    expected = READ_MATRIX[role]
    got = (
        client.get("/api/prescriptions/").status_code,
        client.get(f"/api/prescriptions/{rx.pk}/").status_code,
        client.get(f"/api/prescriptions/{draft['id']}/").status_code,
        client.get(f"/api/prescriptions/{rx.pk}/pdf/").status_code,
    )
    assert got == expected
    assert api_client_for(None).get("/api/prescriptions/").status_code == 401


WRITE_MATRIX = {
    # role: (create, patch draft, sign draft, stop active, complete active, entered-in-error)
    "other_doctor": (404, 404, 404, 404, 404, 404),
    "nurse": (403, 403, 403, 403, 200, 204),
    "patient_user": (403, 403, 403, 403, 403, 403),
    "stranger_user": (403, 403, 403, 403, 403, 403),
    "pharmacist": (403, 403, 403, 403, 403, 403),
    "receptionist": (403, 403, 403, 403, 403, 403),
    "billing": (403, 403, 403, 403, 403, 403),
    "lab": (403, 403, 403, 403, 403, 403),
    "admin": (403, 403, 403, 403, 403, 403),
}


@pytest.mark.parametrize("role", sorted(WRITE_MATRIX))
def test_write_role_matrix(rx_world, role):
    active = signed_prescription(rx_world)
    other = signed_prescription(rx_world)
    draft = _create(rx_world)
    client = api_client_for(rx_world[role])
    base = "/api/prescriptions"
    got = (
        client.post(f"{base}/", draft_payload(rx_world["patient"]), format="json").status_code,
        client.patch(f"{base}/{draft['id']}/", {"refills": 1}, format="json").status_code,
        client.post(f"{base}/{draft['id']}/sign/", {}, format="json").status_code,
        client.post(f"{base}/{active.pk}/stop/", {"reason": "r"}, format="json").status_code,
        client.post(f"{base}/{active.pk}/complete/").status_code,
        client.post(f"{base}/{other.pk}/entered-in-error/", {"reason": "r"}, format="json").status_code,
    )
    assert got == WRITE_MATRIX[role]
    assert MedicationRequest.objects.get(pk=draft["id"]).status == "draft"
    assert MedicationRequest.objects.get(pk=draft["id"]).refills == 0


def test_doctor_cannot_prescribe_for_a_patient_not_in_care(rx_world):
    response = api_client_for(rx_world["doctor"]).post(
        "/api/prescriptions/", draft_payload(rx_world["stranger"]), format="json"
    )
    assert response.status_code == 404
    assert not MedicationRequest.objects.exists()


def test_a_blocked_signing_is_audited_as_a_failure(rx_world):
    penicillin_allergy(rx_world["patient"])
    created = _create(rx_world)
    response = api_client_for(rx_world["doctor"]).post(
        f"/api/prescriptions/{created['id']}/sign/", {}, format="json"
    )
    assert response.status_code == 409
    event = AuditEvent.objects.get(object_id=str(created["id"]), detail__blocked=True)
    assert event.outcome == "failure"
    assert {"kind": "allergy", "severity": "contraindicated"} in event.detail["findings"]


def test_frequency_table():
    from decimal import Decimal

    from hms.pharmacy import frequencies

    assert frequencies.frequency_get(" tid ").per_day == Decimal("3")
    assert frequencies.frequency_get("Q6H").per_day == Decimal("4")
    assert frequencies.frequency_get("PRN").as_needed and frequencies.frequency_get("PRN").per_day is None
    assert frequencies.max_per_day("Q4H-PRN") == Decimal("6")
    assert frequencies.max_per_day("PRN") is None
    assert frequencies.default_times("BID") == ("08:00", "20:00")
    assert frequencies.default_times("nonsense") == ()
    for freq in frequencies.FREQUENCIES.values():
        if freq.per_day and freq.per_day >= 1:
            assert len(freq.times) == freq.per_day, freq.code  # one reminder per administration


def test_patient_never_sees_a_draft_through_the_generic_record_reads(db):
    """A draft stays with its prescriber: the chart lists, /api/patients/{id}/medications/ and the
    history only show signed prescriptions to the patient (hms.patients.selectors.clinical_records)."""
    from hms.accounts.roles import Role
    from hms.core.testing import api_client_for, make_user, put_in_care
    from hms.pharmacy.models import MedicationRequest

    patient_user = make_user(Role.PATIENT)
    doctor = make_user(Role.DOCTOR)
    put_in_care(doctor, patient_user.patient)
    common = {"patient": patient_user.patient, "code": "308192", "code_display": "amoxicillin 500 MG"}
    draft = MedicationRequest.objects.create(status="draft", **common)
    active = MedicationRequest.objects.create(status="active", **common)
    url = f"/api/patients/{patient_user.patient.pk}/medications/"
    seen = {row["id"] for row in api_client_for(patient_user).get(url).json()["results"]}
    assert seen == {active.pk}
    seen = {row["id"] for row in api_client_for(doctor).get(url).json()["results"]}
    assert seen == {draft.pk, active.pk}
