"""Allergies through the REST API: coded and free-text substances, reactions, "no known allergies" versus
"not yet asked", entered-in-error, the role matrix (pharmacists read allergies, not conditions), audit."""

import pytest

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical import allergies
from hms.clinical.models import AllergyIntolerance
from hms.core import codes
from hms.core.testing import PatientFactory, api_client_for, make_user, put_in_care

PENICILLIN = {"system": codes.RXNORM, "code": "7980", "display": "Penicillin G"}


@pytest.fixture
def world(db):
    doctor, nurse = make_user(Role.DOCTOR), make_user(Role.NURSE)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    encounter = put_in_care(doctor, patient)
    encounter.participants.add(nurse.practitioner)
    other = PatientFactory()
    other_doctor = make_user(Role.DOCTOR)
    put_in_care(other_doctor, other)
    foreign = allergies.allergy_record(
        patient=other, substance_display="Peanut", category="food", by=other_doctor
    )
    return {
        "doctor": doctor,
        "nurse": nurse,
        "patient_user": patient_user,
        "patient": patient,
        "other": other,
        "foreign": foreign,
    }


def _post(user, **data):
    return api_client_for(user).post("/api/allergies/", data, format="json")


def _status(user, patient):
    return api_client_for(user).get(f"/api/patients/{patient.pk}/allergy-status/").json()["status"]


def test_not_yet_asked_then_no_known_allergies_then_an_allergy(world):
    nurse, patient = world["nurse"], world["patient"]
    assert _status(nurse, patient) == "unknown"
    client = api_client_for(nurse)
    nka = client.post(f"/api/patients/{patient.pk}/allergies/no-known/")
    assert nka.status_code == 201
    assert nka.json()["no_known_allergy"] is True
    assert nka.json()["code"] == {"system": codes.SNOMED, "code": "716186003", "display": "No known allergy"}
    assert client.post(f"/api/patients/{patient.pk}/allergies/no-known/").status_code == 200  # idempotent
    assert _status(nurse, patient) == "none-known"
    created = _post(
        nurse,
        patient=patient.pk,
        substance=PENICILLIN,
        category="medication",
        criticality="high",
        reactions=[{"manifestation": "Anaphylaxis", "severity": "severe"}],
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["code"] == PENICILLIN and body["type"] == "allergy" and body["clinical_status"] == "active"
    assert body["reactions"] == [{"manifestation": "Anaphylaxis", "severity": "severe"}]
    # The "no known allergy" row was marked inactive in the same act.
    assert AllergyIntolerance.objects.get(pk=nka.json()["id"]).clinical_status == "inactive"
    status = client.get(f"/api/patients/{patient.pk}/allergy-status/").json()
    assert status["status"] == "present" and [a["code"]["display"] for a in status["allergies"]] == [
        "Penicillin G"
    ]
    # "No known allergies" is refused while a real allergy is active.
    refused = client.post(f"/api/patients/{patient.pk}/allergies/no-known/")
    assert refused.status_code == 409 and refused.json()["active_allergies"] == ["Penicillin G"]
    # Once it is inactive, "no known allergies" may be recorded again.
    url = f"/api/allergies/{body['id']}/"
    assert client.patch(url, {"clinical_status": "inactive"}, format="json").status_code == 200
    assert _status(nurse, patient) == "unknown"
    assert client.post(f"/api/patients/{patient.pk}/allergies/no-known/").status_code == 201


def test_free_text_and_snomed_substances_and_duplicates(world):
    doctor, patient = world["doctor"], world["patient"]
    free = _post(doctor, patient=patient.pk, substance={"display": "Hair dye"}, category="environment")
    assert free.status_code == 201 and free.json()["code"] == {
        "system": "",
        "code": "",
        "display": "Hair dye",
    }
    again = _post(doctor, patient=patient.pk, substance={"display": "hair  DYE"}, category="environment")
    assert again.status_code == 409
    nut = {"system": codes.SNOMED, "code": "91934008", "display": "Allergy to nut"}
    assert (
        _post(doctor, patient=patient.pk, substance=nut, category="food", type="intolerance").status_code
        == 201
    )
    assert _post(doctor, patient=patient.pk, substance=nut, category="food").status_code == 409


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"substance": {"display": ""}, "category": "food"}, "substance"),
        (
            {"substance": {"system": "http://example.org", "code": "1", "display": "X"}, "category": "food"},
            "substance",
        ),
        (
            {"substance": {"system": codes.RXNORM, "code": "abc", "display": "X"}, "category": "food"},
            "substance_code",
        ),
        ({"substance": {"code": "7980", "display": "X"}, "category": "food"}, "substance_code"),
        (
            {
                "substance": {"system": codes.SNOMED, "code": "716186003", "display": "NKA"},
                "category": "food",
            },
            "substance_code",
        ),
        ({"substance": {"display": "X"}}, "category"),
        ({"substance": {"display": "X"}, "category": "drug"}, "category"),
        ({"substance": {"display": "X"}, "category": "food", "criticality": "very"}, "criticality"),
        ({"substance": {"display": "X"}, "category": "food", "type": "both"}, "type"),
        ({"substance": {"display": "X"}, "category": "food", "clinical_status": "gone"}, "clinical_status"),
        (
            {"substance": {"display": "X"}, "category": "food", "reactions": [{"manifestation": ""}]},
            "reactions",
        ),
        (
            {
                "substance": {"display": "X"},
                "category": "food",
                "reactions": [{"manifestation": "Rash", "severity": "bad"}],
            },
            "reactions",
        ),
        ({"substance": {"display": "X"}, "category": "food", "reactions": "rash"}, "reactions"),
        ({"substance": {"display": "X"}, "category": "food", "onset": "2999-01-01"}, "onset"),
        ({"substance": {"display": "X"}, "category": "food", "severity": "mild"}, "severity"),
    ],
)
def test_bad_input_is_a_400_with_the_field_and_writes_nothing(world, payload, field):
    before = AllergyIntolerance.objects.count()
    response = _post(world["nurse"], patient=world["patient"].pk, **payload)
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert AllergyIntolerance.objects.count() == before


def test_update_and_entered_in_error(world):
    nurse, patient = world["nurse"], world["patient"]
    created = _post(nurse, patient=patient.pk, substance=PENICILLIN, category="medication").json()
    client = api_client_for(nurse)
    url = f"/api/allergies/{created['id']}/"
    changed = client.patch(
        url,
        {"criticality": "high", "reactions": [{"manifestation": "Hives", "severity": "moderate"}]},
        format="json",
    )
    assert changed.status_code == 200 and changed.json()["criticality"] == "high"
    assert client.patch(url, {"substance": {"display": "Other"}}, format="json").status_code == 400
    event = AuditEvent.objects.filter(action="update", object_id=str(created["id"])).get()
    assert event.detail["changes"]["criticality"] == ["", "high"]
    assert client.post(f"{url}entered-in-error/", {"reason": ""}, format="json").status_code == 400
    assert (
        client.post(f"{url}entered-in-error/", {"reason": "other patient"}, format="json").status_code == 200
    )
    assert client.get(url).status_code == 404
    assert _status(nurse, patient) == "unknown"
    assert AllergyIntolerance.objects.get(pk=created["id"]).deletion_reason == "other patient"


# ---------------------------------------------------------------- role matrix

ROLES = [
    Role.DOCTOR,
    Role.NURSE,
    Role.PATIENT,
    Role.PHARMACIST,
    Role.RECEPTIONIST,
    Role.LAB_TECHNICIAN,
    Role.BILLING,
    Role.ADMIN,
]


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(world, role):
    patient = world["patient"]
    mine = allergies.allergy_record(
        patient=patient, substance_display="Latex", category="environment", by=world["doctor"]
    )
    user = {
        Role.DOCTOR: world["doctor"],
        Role.NURSE: world["nurse"],
        Role.PATIENT: world["patient_user"],
    }.get(role) or make_user(role)
    client = api_client_for(user)
    reads = role in (Role.DOCTOR, Role.NURSE, Role.PATIENT, Role.PHARMACIST)
    writes = role in (Role.DOCTOR, Role.NURSE)
    detail = client.get(f"/api/allergies/{mine.pk}/")
    assert detail.status_code == (200 if reads else 403)
    status = client.get(f"/api/patients/{patient.pk}/allergy-status/")
    assert status.status_code == (200 if reads else 403)
    listed = client.get("/api/allergies/", {"patient": patient.pk})
    assert listed.status_code == (200 if reads else 403)
    foreign = world["foreign"]
    if role == Role.PHARMACIST:
        # Pharmacists read every patient's allergies, but never their conditions.
        assert client.get(f"/api/allergies/{foreign.pk}/").status_code == 200
        assert client.get(f"/api/patients/{world['other'].pk}/allergy-status/").json()["status"] == "present"
        assert client.get("/api/conditions/").status_code == 403
        assert client.get(f"/api/patients/{patient.pk}/problems/").status_code == 403
    elif reads:
        assert [r["id"] for r in listed.json()["results"]] == [mine.pk]
        assert client.get(f"/api/allergies/{foreign.pk}/").status_code == 404
        assert client.get(f"/api/patients/{world['other'].pk}/allergy-status/").status_code == 404
        assert client.get("/api/allergies/", {"patient": world["other"].pk}).json()["count"] == 0
    create = _post(user, patient=patient.pk, substance={"display": "Iodine"}, category="medication")
    patch = client.patch(f"/api/allergies/{mine.pk}/", {"note": "checked"}, format="json")
    nka = client.post(f"/api/patients/{patient.pk}/allergies/no-known/")
    eie = client.post(f"/api/allergies/{mine.pk}/entered-in-error/", {"reason": "x"}, format="json")
    if writes:
        assert (create.status_code, patch.status_code, nka.status_code, eie.status_code) == (
            201,
            200,
            409,
            200,
        )
        other = world["other"].pk
        assert _post(user, patient=other, substance={"display": "Iodine"}, category="food").status_code == 404
        assert client.post(f"/api/patients/{other}/allergies/no-known/").status_code == 404
        assert client.patch(f"/api/allergies/{foreign.pk}/", {"note": "x"}, format="json").status_code == 404
    else:
        assert (create.status_code, patch.status_code, nka.status_code, eie.status_code) == (
            403,
            403,
            403,
            403,
        )
    assert api_client_for(None).get("/api/allergies/").status_code == 401


def test_reads_are_audited(world):
    pharmacist = make_user(Role.PHARMACIST)
    client = api_client_for(pharmacist)
    foreign = world["foreign"]
    client.get(f"/api/allergies/{foreign.pk}/")
    assert AuditEvent.objects.filter(action="read", actor=pharmacist, object_id=str(foreign.pk)).exists()
    client.get("/api/allergies/", {"patient": world["other"].pk})
    assert AuditEvent.objects.filter(
        action="search", actor=pharmacist, patient_ids=[world["other"].pk]
    ).exists()
    client.get(f"/api/patients/{world['other'].pk}/allergy-status/")
    assert AuditEvent.objects.filter(action="read", actor=pharmacist, detail__status="present").exists()
