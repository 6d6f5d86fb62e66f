"""The role matrix: every patient-scoped endpoint x every role, allowed or denied as in the table of
`hms.patients.selectors` (and the write rules of `hms.patients.api`).

One target patient has an encounter (with one record of every type) with `doctor_in_care`, and
`nurse_in_care` took part in it. Everyone else is outside that care. A denied read answers 404 (the
same as a missing record) and the body holds nothing of the patient; a denied write answers 403
(401 when anonymous) and changes nothing.
"""

import json

import pytest
from django.forms.models import model_to_dict

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.tests.chart_factory import chart_create
from hms.core.testing import api_client_for, make_user
from hms.patients.models import Patient

ACTORS = [
    "admin",
    "doctor_in_care",
    "doctor_other",
    "nurse_in_care",
    "nurse_other",
    "receptionist",
    "pharmacist",
    "lab_technician",
    "billing",
    "patient_self",
    "patient_other",
    "anonymous",
]
SEES_DEMOGRAPHICS = {
    "admin",
    "doctor_in_care",
    "nurse_in_care",
    "receptionist",
    "pharmacist",
    "lab_technician",
    "billing",
    "patient_self",
}
SEES_CLINICAL = {"doctor_in_care", "nurse_in_care", "patient_self"}
EDITS_DEMOGRAPHICS = {"admin", "receptionist"}
DELETES = {"admin"}

CLINICAL_PATHS = [
    "/api/patients/{p}/records/",
    "/api/patients/{p}/encounters/",
    "/api/patients/{p}/observations/",
    "/api/patients/{p}/conditions/",
    "/api/patients/{p}/allergies/",
    "/api/patients/{p}/medications/",
    "/api/patients/{p}/immunizations/",
    "/api/patients/{p}/procedures/",
    "/api/patients/{p}/diagnostic-reports/",
    "/api/patients/{p}/care-plans/",
    "/api/records/{e}/",
]
NEW_PATIENT = {
    "family_name": "Newcomb",
    "given_names": "Ada",
    "date_of_birth": "1971-04-05",
    "gender": "female",
}
WRITE_ACTIONS = ("create", "update", "delete")


@pytest.fixture
def world(db):
    target_user = make_user(Role.PATIENT, first_name="Tabithaqz", last_name="Quartermainqz")
    target = target_user.patient
    doctor = make_user(Role.DOCTOR)
    nurse = make_user(Role.NURSE)
    encounter = chart_create(patient=target, practitioner=doctor.practitioner)
    encounter.participants.add(nurse.practitioner)
    fixed = {"patient_self": target_user, "doctor_in_care": doctor, "nurse_in_care": nurse, "anonymous": None}
    return {"patient": Patient.objects.get(pk=target.pk), "encounter": encounter, "fixed": fixed}


def _client(world, actor: str):
    if actor in world["fixed"]:
        return api_client_for(world["fixed"][actor])
    role = {"doctor_other": Role.DOCTOR, "nurse_other": Role.NURSE, "patient_other": Role.PATIENT}.get(
        actor, actor
    )
    return api_client_for(make_user(role))


def _denied_status(actor: str, *, read: bool) -> int:
    if actor == "anonymous":
        return 401
    return 404 if read else 403


def _assert_nothing_of(response, patient: Patient):
    body = response.content.decode()
    for secret in (patient.mrn, patient.family_name, patient.given_names):
        assert secret not in body


def _writes_snapshot(patient: Patient):
    row = model_to_dict(Patient.objects.get(pk=patient.pk))
    return row, Patient.objects.count(), AuditEvent.objects.filter(action__in=WRITE_ACTIONS).count()


@pytest.mark.parametrize("actor", ACTORS)
def test_list_shows_the_patient_only_to_those_who_may_see_them(world, actor):
    response = _client(world, actor).get("/api/patients/", {"page_size": 100})
    if actor == "anonymous":
        assert response.status_code == 401
        return
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert (world["patient"].pk in ids) == (actor in SEES_DEMOGRAPHICS)
    if actor not in SEES_DEMOGRAPHICS:
        _assert_nothing_of(response, world["patient"])


@pytest.mark.parametrize("actor", ACTORS)
def test_retrieve_demographics(world, actor):
    patient = world["patient"]
    response = _client(world, actor).get(f"/api/patients/{patient.pk}/")
    if actor in SEES_DEMOGRAPHICS:
        assert response.status_code == 200
        assert response.json()["medical_record_number"] == patient.mrn
    else:
        assert response.status_code == _denied_status(actor, read=True)
        _assert_nothing_of(response, patient)


@pytest.mark.parametrize("path", CLINICAL_PATHS)
@pytest.mark.parametrize("actor", ACTORS)
def test_clinical_record_reads(world, actor, path):
    url = path.format(p=world["patient"].pk, e=world["encounter"].pk)
    response = _client(world, actor).get(url)
    if actor in SEES_CLINICAL:
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == world["encounter"].pk if "results" not in body else len(body["results"]) >= 1
    else:
        assert response.status_code == _denied_status(actor, read=True)
        _assert_nothing_of(response, world["patient"])
        assert "Diabetes" not in response.content.decode()


@pytest.mark.parametrize("actor", ACTORS)
def test_create(world, actor):
    client = _client(world, actor)
    before = _writes_snapshot(world["patient"])
    response = client.post("/api/patients/", NEW_PATIENT, format="json")
    if actor in EDITS_DEMOGRAPHICS:
        assert response.status_code == 201
        assert Patient.objects.filter(family_name="Newcomb").count() == 1
    else:
        assert response.status_code == _denied_status(actor, read=False)
        assert _writes_snapshot(world["patient"]) == before


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize("actor", ACTORS)
def test_update(world, actor, method):
    patient = world["patient"]
    client = _client(world, actor)
    before = _writes_snapshot(patient)
    data = {
        "family_name": "Renamed",
        "given_names": patient.given_names,
        "date_of_birth": str(patient.date_of_birth),
        "gender": patient.gender,
    }
    response = getattr(client, method)(f"/api/patients/{patient.pk}/", data, format="json")
    if actor in EDITS_DEMOGRAPHICS:
        assert response.status_code == 200
        assert Patient.objects.get(pk=patient.pk).family_name == "Renamed"
    else:
        assert response.status_code == _denied_status(actor, read=False)
        assert _writes_snapshot(patient) == before


@pytest.mark.parametrize("actor", ACTORS)
def test_soft_delete(world, actor):
    patient = world["patient"]
    client = _client(world, actor)
    before = _writes_snapshot(patient)
    response = client.delete(
        f"/api/patients/{patient.pk}/",
        json.dumps({"reason": "registered twice"}),
        content_type="application/json",
    )
    if actor in DELETES:
        assert response.status_code == 204
        assert Patient.objects.get(pk=patient.pk).deleted_at is not None
    else:
        assert response.status_code == _denied_status(actor, read=False)
        assert _writes_snapshot(patient) == before
