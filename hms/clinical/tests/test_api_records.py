"""REST read side of the clinical record: the history, the per-type lists with filters, one encounter."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import Condition, Encounter, EncounterClass, Observation
from hms.clinical.tests.chart_factory import chart_create
from hms.core import codes
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.pharmacy.models import MedicationRequest

NOW = timezone.now()


@pytest.fixture
def doctor_and_patient(db):
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    old = chart_create(patient=patient, practitioner=doctor.practitioner, when=NOW - dt.timedelta(days=400))
    new = chart_create(patient=patient, practitioner=doctor.practitioner, when=NOW - dt.timedelta(days=2))
    return doctor, patient, old, new


def test_history_lists_encounters_newest_first_with_their_contents(doctor_and_patient):
    doctor, patient, old, new = doctor_and_patient
    response = api_client_for(doctor).get(f"/api/patients/{patient.pk}/records/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and [e["id"] for e in body["results"]] == [new.pk, old.pk]
    first = body["results"][0]
    assert first["type"]["code"] == "162673000" and first["practitioner"]["id"] == doctor.practitioner.pk
    for key in (
        "conditions",
        "allergies",
        "medication_requests",
        "immunizations",
        "procedures",
        "diagnostic_reports",
        "care_plans",
    ):
        assert len(first[key]) == 1, key
        assert first[key][0]["encounter"] == new.pk
    assert {o["code"]["code"] for o in first["observations"]} == {
        codes.LOINC_BLOOD_PRESSURE,
        codes.LOINC_BODY_WEIGHT,
    }
    bp = next(o for o in first["observations"] if o["code"]["code"] == codes.LOINC_BLOOD_PRESSURE)
    assert bp["display_value"] == "120/80 mm[Hg]" and len(bp["components"]) == 2
    assert first["medication_requests"][0]["requester"]["id"] == doctor.practitioner.pk
    assert len(first["diagnostic_reports"][0]["results"]) == 1


def test_soft_deleted_records_are_left_out(doctor_and_patient):
    doctor, patient, _old, new = doctor_and_patient
    Condition.objects.filter(encounter=new).update(deleted_at=NOW)
    body = api_client_for(doctor).get(f"/api/patients/{patient.pk}/records/").json()
    assert body["results"][0]["conditions"] == []
    assert api_client_for(doctor).get(f"/api/patients/{patient.pk}/conditions/").json()["count"] == 1


def test_a_long_history_costs_a_fixed_number_of_queries(db):
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    chart_create(patient=patient, practitioner=doctor.practitioner)
    Encounter.objects.bulk_create(
        Encounter(
            patient=patient,
            practitioner=doctor.practitioner,
            encounter_class=EncounterClass.AMBULATORY,
            period_start=NOW - dt.timedelta(days=10 + i),
        )
        for i in range(1000)
    )
    client = api_client_for(doctor)
    with CaptureQueriesContext(connection) as small_page:
        assert client.get(f"/api/patients/{patient.pk}/records/", {"page_size": 5}).status_code == 200
    with CaptureQueriesContext(connection) as big_page:
        response = client.get(f"/api/patients/{patient.pk}/records/", {"page_size": 100, "page": 3})
    assert response.status_code == 200 and response.json()["count"] == 1001
    # the same queries whatever the page size (a page without reports skips the report-results prefetch)
    assert len(big_page) <= len(small_page) <= 25


@pytest.mark.parametrize(
    ("path", "params", "count"),
    [
        ("observations", {}, 4),
        ("observations", {"code": codes.LOINC_BODY_WEIGHT}, 2),
        ("observations", {"category": "vital-signs", "date_from": (NOW - dt.timedelta(days=30)).date()}, 2),
        ("observations", {"date_to": (NOW - dt.timedelta(days=30)).date()}, 2),
        ("observations", {"category": "laboratory"}, 0),
        ("encounters", {}, 2),
        ("encounters", {"encounter_class": "AMB", "status": "finished"}, 2),
        ("encounters", {"date_from": (NOW - dt.timedelta(days=30)).date()}, 1),
        ("conditions", {"clinical_status": "active"}, 2),
        ("conditions", {"clinical_status": "resolved"}, 0),
        ("allergies", {"category": "food"}, 2),
        ("medications", {"status": "active"}, 2),
        ("medications", {"status": "stopped"}, 0),
        ("immunizations", {"code": "140"}, 2),
        ("procedures", {}, 2),
        ("diagnostic-reports", {"category": "LAB"}, 2),
        ("care-plans", {"status": "active"}, 2),
    ],
)
def test_record_lists_filter(doctor_and_patient, path, params, count):
    doctor, patient, _, _ = doctor_and_patient
    response = api_client_for(doctor).get(f"/api/patients/{patient.pk}/{path}/", params)
    assert response.status_code == 200, response.content
    assert response.json()["count"] == count


def test_record_list_by_encounter(doctor_and_patient):
    doctor, patient, old, _ = doctor_and_patient
    body = (
        api_client_for(doctor).get(f"/api/patients/{patient.pk}/observations/", {"encounter": old.pk}).json()
    )
    assert body["count"] == 2 and {o["encounter"] for o in body["results"]} == {old.pk}


def test_medication_status_filter_sees_stopped_ones(doctor_and_patient):
    doctor, patient, old, _ = doctor_and_patient
    MedicationRequest.objects.filter(encounter=old).update(status="stopped")
    body = (
        api_client_for(doctor).get(f"/api/patients/{patient.pk}/medications/", {"status": "stopped"}).json()
    )
    assert [m["encounter"] for m in body["results"]] == [old.pk]


def test_one_encounter_with_its_contents(doctor_and_patient):
    doctor, patient, old, _ = doctor_and_patient
    response = api_client_for(doctor).get(f"/api/records/{old.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == old.pk and body["patient"] == patient.pk and len(body["observations"]) == 2


def test_the_patient_reads_their_own_record(db):
    patient_user = make_user(Role.PATIENT)
    encounter = chart_create(patient=patient_user.patient)
    client = api_client_for(patient_user)
    assert client.get(f"/api/patients/{patient_user.patient.pk}/records/").json()["count"] == 1
    assert client.get(f"/api/records/{encounter.pk}/").status_code == 200


def test_every_read_is_audited_with_the_patient(doctor_and_patient):
    doctor, patient, old, _ = doctor_and_patient
    client = api_client_for(doctor)
    client.get(f"/api/patients/{patient.pk}/records/")
    client.get(f"/api/patients/{patient.pk}/observations/", {"code": codes.LOINC_BODY_WEIGHT})
    client.get(f"/api/records/{old.pk}/")
    events = list(AuditEvent.objects.filter(actor=doctor).order_by("id"))
    assert [(e.action, e.patient_id) for e in events] == [("read", patient.pk)] * 3
    assert [e.object_type for e in events] == [
        "clinical.Encounter",
        "clinical.Observation",
        "clinical.Encounter",
    ]
    weights = Observation.objects.filter(patient=patient, code=codes.LOINC_BODY_WEIGHT)
    assert sorted(events[1].detail["ids"]) == sorted(o.pk for o in weights)
    assert events[2].object_id == str(old.pk)
