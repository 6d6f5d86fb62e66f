"""Diagnoses and the problem list through the REST API: ICD-10-CM validation, one primary diagnosis per
encounter, status changes (FHIR con-4), entered-in-error, the role matrix, audit."""

import pytest
from django.core.exceptions import ValidationError

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical import problems
from hms.clinical.models import Condition
from hms.core import codes
from hms.core.testing import EncounterFactory, PatientFactory, api_client_for, make_user, put_in_care


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
    foreign = problems.condition_record(patient=other, code="I10", by=other_doctor)
    return {
        "doctor": doctor,
        "nurse": nurse,
        "patient_user": patient_user,
        "patient": patient,
        "encounter": encounter,
        "other": other,
        "other_doctor": other_doctor,
        "foreign": foreign,
    }


def _post(user, **data):
    return api_client_for(user).post("/api/conditions/", data, format="json")


def test_a_doctor_records_a_primary_diagnosis_in_an_encounter(world):
    doctor, patient, encounter = world["doctor"], world["patient"], world["encounter"]
    response = _post(
        doctor,
        patient=patient.pk,
        encounter=encounter.pk,
        code="E119",
        diagnosis_role="primary",
        onset="2024-03-01",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["code"] == {
        "system": codes.ICD10CM,
        "code": "E11.9",
        "display": "Type 2 diabetes mellitus without complications",
    }
    assert body["diagnosis_role"] == "primary" and body["category"] == "encounter-diagnosis"
    assert body["encounter"] == encounter.pk and body["recorded_by"] == doctor.pk
    assert body["clinical_status"] == "active" and body["onset_at"].startswith("2024-0")
    event = AuditEvent.objects.get(
        action="create", object_type="clinical.Condition", object_id=str(body["id"])
    )
    assert event.patient_id == patient.pk and event.actor_id == doctor.pk
    # In the problem list and the encounter's list.
    problems_ = api_client_for(doctor).get(f"/api/patients/{patient.pk}/problems/").json()
    assert [c["code"]["code"] for c in problems_] == ["E11.9"]
    listed = api_client_for(doctor).get("/api/conditions/", {"encounter": encounter.pk}).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]


def test_only_one_primary_diagnosis_per_encounter(world):
    doctor, patient, encounter = world["doctor"], world["patient"], world["encounter"]
    first = _post(doctor, patient=patient.pk, encounter=encounter.pk, code="E11.9", diagnosis_role="primary")
    assert first.status_code == 201
    second = _post(doctor, patient=patient.pk, encounter=encounter.pk, code="I10", diagnosis_role="primary")
    assert second.status_code == 400 and "E11.9" in second.json()["diagnosis_role"][0]
    secondary = _post(doctor, patient=patient.pk, encounter=encounter.pk, code="I10")
    assert secondary.status_code == 201 and secondary.json()["diagnosis_role"] == "secondary"
    # Promoting the secondary is refused while the primary stands, allowed once it is demoted.
    url = f"/api/conditions/{secondary.json()['id']}/"
    client = api_client_for(doctor)
    assert client.patch(url, {"diagnosis_role": "primary"}, format="json").status_code == 400
    demote = client.patch(
        f"/api/conditions/{first.json()['id']}/", {"diagnosis_role": "secondary"}, format="json"
    )
    assert demote.status_code == 200
    assert (
        client.patch(url, {"diagnosis_role": "primary"}, format="json").json()["diagnosis_role"] == "primary"
    )
    # A primary marked entered-in-error frees the place.
    assert (
        client.post(f"{url}entered-in-error/", {"reason": "wrong patient"}, format="json").status_code == 200
    )
    third = _post(
        doctor, patient=patient.pk, encounter=encounter.pk, code="J45.909", diagnosis_role="primary"
    )
    assert third.status_code == 201
    assert (
        Condition.objects.filter(encounter=encounter, diagnosis_role="primary", deleted_at=None).count() == 1
    )


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"code": "E11"}, "code"),  # a category heading, not billable
        ({"code": "E11.99"}, "code"),  # no such code
        ({"code": "44054006"}, "code"),  # a SNOMED CT code is not recorded here
        ({"code": 119}, "code"),  # not a string
        ({"code": "E11.9", "diagnosis_role": "primary"}, "diagnosis_role"),  # no encounter
        ({"code": "E11.9", "diagnosis_role": "main"}, "diagnosis_role"),
        ({"code": "E11.9", "clinical_status": "cured"}, "clinical_status"),
        ({"code": "E11.9", "onset": "2999-01-01"}, "onset"),
        ({"code": "E11.9", "onset": "yesterday"}, "onset"),
        ({"code": "E11.9", "abatement": "2020-01-01"}, "abatement"),  # active with an abatement (con-4)
        (
            {
                "code": "E11.9",
                "clinical_status": "resolved",
                "onset": "2021-01-01",
                "abatement": "2020-01-01",
            },
            "abatement",
        ),
        ({"code": "E11.9", "verification_status": "refuted"}, "verification_status"),  # unknown field
        ({"code": "E11.9", "note": "x" * 4001}, "note"),
    ],
)
def test_bad_input_is_a_400_with_the_field_and_writes_nothing(world, payload, field):
    before = Condition.objects.count()
    response = _post(world["doctor"], patient=world["patient"].pk, **payload)
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert Condition.objects.count() == before


def test_an_encounter_of_another_patient_is_refused(world):
    doctor = world["doctor"]
    mine_elsewhere = PatientFactory()
    other_encounter = put_in_care(doctor, mine_elsewhere)
    response = _post(doctor, patient=world["patient"].pk, encounter=other_encounter.pk, code="E11.9")
    assert response.status_code == 400 and "encounter" in response.json()
    not_visible = EncounterFactory()
    response = _post(doctor, patient=world["patient"].pk, encounter=not_visible.pk, code="E11.9")
    assert response.status_code == 400 and "encounter" in response.json()


def test_resolving_sets_the_abatement_and_leaves_the_problem_list(world):
    doctor, patient = world["doctor"], world["patient"]
    created = _post(doctor, patient=patient.pk, code="J45.909", onset="2020-05-01").json()
    assert created["category"] == "problem-list-item" and created["diagnosis_role"] == ""
    client = api_client_for(doctor)
    url = f"/api/conditions/{created['id']}/"
    resolved = client.patch(
        url, {"clinical_status": "resolved", "note": "no attacks for 2 years"}, format="json"
    )
    assert resolved.status_code == 200
    assert resolved.json()["abatement_at"] is not None and resolved.json()["note"] == "no attacks for 2 years"
    assert client.get(f"/api/patients/{patient.pk}/problems/").json() == []
    relapse = client.patch(url, {"clinical_status": "relapse"}, format="json").json()
    assert relapse["abatement_at"] is None  # con-4: an active status has no abatement
    assert [c["id"] for c in client.get(f"/api/patients/{patient.pk}/problems/").json()] == [created["id"]]
    assert client.patch(url, {"abatement": "2021-01-01"}, format="json").status_code == 400
    assert client.patch(url, {"code": "I10"}, format="json").json() == {
        "code": ["Read-only or unknown field."]
    }
    event = AuditEvent.objects.filter(action="update", object_id=str(created["id"])).order_by("id").first()
    assert event.detail["changes"]["clinical_status"] == ["active", "resolved"]


def test_entered_in_error_needs_a_reason_and_hides_the_condition(world):
    doctor, patient = world["doctor"], world["patient"]
    created = _post(doctor, patient=patient.pk, code="I10").json()
    client = api_client_for(doctor)
    url = f"/api/conditions/{created['id']}/"
    assert client.post(f"{url}entered-in-error/", {}, format="json").status_code == 400
    assert client.post(f"{url}entered-in-error/", {"reason": "wrong chart"}, format="json").status_code == 200
    assert client.get(url).status_code == 404
    row = Condition.objects.get(pk=created["id"])  # never deleted
    assert row.deleted_at is not None and row.deletion_reason == "wrong chart"


def test_imported_snomed_conditions_are_listed_and_keep_their_code(world):
    doctor, patient = world["doctor"], world["patient"]
    imported = Condition.objects.create(
        patient=patient,
        code_system=codes.SNOMED,
        code="44054006",
        code_display="Diabetes",
        clinical_status="active",
    )
    client = api_client_for(doctor)
    assert client.get(f"/api/conditions/{imported.pk}/").json()["code"]["system"] == codes.SNOMED
    changed = client.patch(f"/api/conditions/{imported.pk}/", {"clinical_status": "resolved"}, format="json")
    assert changed.status_code == 200 and changed.json()["code"]["code"] == "44054006"


def test_service_refuses_a_nurse_and_a_doctor_without_the_patient(world):
    with pytest.raises(Exception) as exc:
        problems.condition_record(patient=world["patient"], code="I10", by=world["nurse"])
    assert exc.value.__class__.__name__ == "NotFoundOrForbidden"
    with pytest.raises(Exception) as exc:
        problems.condition_record(patient=world["patient"], code="I10", by=world["other_doctor"])
    assert exc.value.__class__.__name__ == "NotFoundOrForbidden"
    with pytest.raises(ValidationError):
        problems.condition_record(patient=world["patient"], code="E11", by=world["doctor"])


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


def _user(world, role):
    return {
        Role.DOCTOR: world["doctor"],
        Role.NURSE: world["nurse"],
        Role.PATIENT: world["patient_user"],
    }.get(role) or make_user(role)


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(world, role):
    patient, encounter = world["patient"], world["encounter"]
    mine = problems.condition_record(patient=patient, encounter=encounter, code="E11.9", by=world["doctor"])
    user = _user(world, role)
    client = api_client_for(user)
    reads = role in (Role.DOCTOR, Role.NURSE, Role.PATIENT)
    # Reads: clinicians in care and the patient; the rest are refused by role (403).
    detail = client.get(f"/api/conditions/{mine.pk}/")
    assert detail.status_code == (200 if reads else 403)
    listed = client.get("/api/conditions/")
    assert listed.status_code == (200 if reads else 403)
    if reads:
        assert [r["id"] for r in listed.json()["results"]] == [mine.pk]  # never another patient's
        assert client.get(f"/api/patients/{patient.pk}/problems/").status_code == 200
        # Another patient's record by id, and their problem list: 404.
        assert client.get(f"/api/conditions/{world['foreign'].pk}/").status_code == 404
        assert client.get(f"/api/patients/{world['other'].pk}/problems/").status_code == 404
    else:
        assert client.get(f"/api/patients/{patient.pk}/problems/").status_code == 403
    # Writes: doctors only.
    create = client.post("/api/conditions/", {"patient": patient.pk, "code": "I10"}, format="json")
    patch = client.patch(f"/api/conditions/{mine.pk}/", {"note": "x"}, format="json")
    eie = client.post(f"/api/conditions/{mine.pk}/entered-in-error/", {"reason": "x"}, format="json")
    if role == Role.DOCTOR:
        assert (create.status_code, patch.status_code, eie.status_code) == (201, 200, 200)
        other = world["other"]
        assert (
            client.post("/api/conditions/", {"patient": other.pk, "code": "I10"}, format="json").status_code
            == 404
        )
        foreign = world["foreign"].pk
        assert client.patch(f"/api/conditions/{foreign}/", {"note": "x"}, format="json").status_code == 404
    else:
        assert (create.status_code, patch.status_code, eie.status_code) == (403, 403, 403)
    assert api_client_for(None).get("/api/conditions/").status_code == 401


def test_reads_are_audited(world):
    doctor, patient = world["doctor"], world["patient"]
    mine = problems.condition_record(patient=patient, code="E11.9", by=doctor)
    client = api_client_for(doctor)
    client.get("/api/conditions/", {"patient": patient.pk})
    assert AuditEvent.objects.filter(
        action="search", object_type="clinical.Condition", patient_ids=[patient.pk]
    ).exists()
    client.get(f"/api/conditions/{mine.pk}/")
    assert AuditEvent.objects.filter(action="read", object_id=str(mine.pk), patient=patient).exists()
    client.get(f"/api/patients/{patient.pk}/problems/")
    assert AuditEvent.objects.filter(action="read", detail__view="problem_list", patient=patient).exists()


def test_the_database_refuses_a_second_live_primary(world):
    from django.db import IntegrityError, transaction

    doctor, patient, encounter = world["doctor"], world["patient"], world["encounter"]
    first = problems.condition_record(
        patient=patient, encounter=encounter, code="E11.9", diagnosis_role="primary", by=doctor
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Condition.objects.create(patient=patient, encounter=encounter, code="I10", diagnosis_role="primary")
    Condition.objects.filter(pk=first.pk).update(deleted_at=first.created_at)  # entered in error: frees it
    Condition.objects.create(patient=patient, encounter=encounter, code="I10", diagnosis_role="primary")
