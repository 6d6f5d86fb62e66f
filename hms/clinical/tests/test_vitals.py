"""Vital signs through the REST API (JWT): validation with ranges and units, flags, BMI, atomicity, the
role matrix, entered-in-error, and the audit trail."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import Observation
from hms.clinical.vitals import (
    BMI,
    HEART_RATE,
    PAIN,
    SPO2,
    TEMPERATURE,
    bmi_compute,
    vitals_clean,
    vitals_record,
)
from hms.core import codes
from hms.core.errors import NotFoundOrForbidden
from hms.core.testing import EncounterFactory, PatientFactory, api_client_for, make_user, put_in_care

pytestmark = pytest.mark.django_db

FULL_SET = {
    "systolic": 142,
    "diastolic": 91,
    "heart_rate": 72,
    "respiratory_rate": 16,
    "temperature": "38.4",
    "spo2": 97,
    "weight": "80.0",
    "height": "180.0",
    "pain": 2,
}


def _url(patient):
    return f"/api/patients/{patient.pk}/vitals/"


@pytest.fixture
def care():
    nurse = make_user(Role.NURSE)
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    put_in_care(nurse, patient)
    put_in_care(doctor, patient)
    return nurse, doctor, patient


def test_a_full_set_is_stored_coded_flagged_and_with_a_computed_bmi(care):
    nurse, _doctor, patient = care
    response = api_client_for(nurse).post(_url(patient), FULL_SET, format="json")
    assert response.status_code == 201, response.content
    rows = {o.code: o for o in Observation.objects.filter(patient=patient)}
    assert set(rows) == {
        codes.LOINC_BLOOD_PRESSURE,
        codes.LOINC_HEART_RATE,
        codes.LOINC_RESPIRATORY_RATE,
        codes.LOINC_BODY_TEMPERATURE,
        SPO2.loinc,
        codes.LOINC_BODY_WEIGHT,
        codes.LOINC_BODY_HEIGHT,
        codes.LOINC_BMI,
        PAIN.loinc,
    }
    assert all(o.category == ("vital-signs") and o.recorded_by == nurse for o in rows.values())
    bp = rows[codes.LOINC_BLOOD_PRESSURE]
    assert [c["code"] for c in bp.components] == [codes.LOINC_SYSTOLIC, codes.LOINC_DIASTOLIC]
    assert [c["value"] for c in bp.components] == [142, 91]
    assert bp.components[0]["unit"] == "mm[Hg]"
    assert bp.interpretation == "H"  # stage 2 hypertension (AHA 2017), not a crisis
    assert bp.display_value == "142/91 mm[Hg]"
    assert rows[codes.LOINC_BODY_TEMPERATURE].interpretation == "H"  # fever from 38.0 °C
    assert rows[codes.LOINC_BODY_TEMPERATURE].value_unit == "Cel"
    assert rows[codes.LOINC_HEART_RATE].interpretation == "N"
    assert rows[codes.LOINC_HEART_RATE].reference_low == 60
    assert rows[codes.LOINC_HEART_RATE].reference_high == 100
    bmi = rows[codes.LOINC_BMI]
    assert bmi.value_quantity == Decimal("24.7")  # 80 / 1.8² = 24.69
    assert bmi.value_unit == "kg/m2" and bmi.interpretation == "N"
    body = response.json()
    assert len(body["observations"]) == 9
    assert body["observations"][0]["code"]["code"] == codes.LOINC_BLOOD_PRESSURE
    # one audit event for the set, naming every row
    event = AuditEvent.objects.get(action="create", object_type="clinical.Observation", patient=patient)
    assert sorted(event.detail["observations"]) == sorted(o.pk for o in rows.values())


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("heart_rate", 500, "Heart rate must be between 20 and 300 /min."),
        ("temperature", "50", "Body temperature must be between 25 and 45 °C."),
        ("spo2", 101, "Oxygen saturation (SpO2) must be between 50 and 100 %."),
        ("weight", 0, "Body weight must be between 0.5 and 650 kg."),
        ("pain", 11, "Pain score must be between 0 and 10."),
        ("respiratory_rate", "fast", "Respiratory rate must be a number."),
        ("heart_rate", "NaN", "Heart rate must be a number."),
        ("heart_rate", 72.5, "Heart rate must be a whole number."),
    ],
)
def test_impossible_values_are_400_with_range_and_units_and_nothing_is_saved(care, field, value, message):
    nurse, _doctor, patient = care
    response = api_client_for(nurse).post(_url(patient), {**FULL_SET, field: value}, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [message]
    assert not Observation.objects.filter(patient=patient).exists()


def test_blood_pressure_needs_both_numbers_and_systolic_above_diastolic(care):
    nurse, _doctor, patient = care
    client = api_client_for(nurse)
    response = client.post(_url(patient), {"systolic": 120}, format="json")
    assert response.status_code == 400 and "diastolic" in response.json()
    response = client.post(_url(patient), {"systolic": 80, "diastolic": 90}, format="json")
    assert response.status_code == 400 and "systolic" in response.json()
    response = client.post(_url(patient), {}, format="json")
    assert response.status_code == 400 and "values" in response.json()
    response = client.post(
        _url(patient), {"heart_rate": 70, "bmi": 22}, format="json"
    )  # computed, never typed
    assert response.status_code == 400 and "bmi" in response.json()
    response = client.post(_url(patient), [70], format="json")
    assert response.status_code == 400
    response = client.post(_url(patient), {"heart_rate": True}, format="json")
    assert response.json() == {"heart_rate": ["Heart rate must be a number."]}
    assert not Observation.objects.filter(patient=patient).exists()


def test_bmi_uses_the_last_year_height_when_only_weight_is_typed(care):
    nurse, _doctor, patient = care
    vitals_record(patient=patient, values={"height": "165"}, by=nurse)
    rows = vitals_record(patient=patient, values={"weight": "110"}, by=nurse)
    bmi = next(r for r in rows if r.code == codes.LOINC_BMI)
    assert bmi.value_quantity == Decimal("40.4") and bmi.interpretation == "HH"  # WHO obese class III


@pytest.mark.parametrize(
    "spec, value, flag",
    [
        (HEART_RATE, "35", "LL"),
        (HEART_RATE, "59", "L"),
        (HEART_RATE, "100", "N"),
        (HEART_RATE, "131", "HH"),
        (TEMPERATURE, "37.9", "N"),
        (TEMPERATURE, "38.0", "H"),
        (TEMPERATURE, "40.0", "HH"),
        (TEMPERATURE, "34.9", "LL"),
        (SPO2, "100", "N"),
        (SPO2, "93", "L"),
        (SPO2, "89", "LL"),
        (PAIN, "3", "N"),
        (PAIN, "5", "H"),
        (PAIN, "7", "HH"),
        (BMI, "18.4", "L"),
        (BMI, "30", "H"),
    ],
)
def test_flags_follow_the_documented_reference_ranges(spec, value, flag):
    assert spec.interpret(Decimal(value)) == flag


def test_clean_and_bmi_helpers():
    assert vitals_clean({"temperature": "36.66", "heart_rate": ""}) == {"temperature": Decimal("36.7")}
    assert bmi_compute(Decimal("70"), Decimal("175")) == Decimal("22.9")


def test_encounter_must_belong_to_the_patient_and_future_times_are_refused(care):
    nurse, _doctor, patient = care
    other = PatientFactory()
    other_encounter = put_in_care(nurse, other)
    client = api_client_for(nurse)
    response = client.post(_url(patient), {"heart_rate": 70, "encounter": other_encounter.pk}, format="json")
    assert response.status_code == 400 and "encounter" in response.json()
    future = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    response = client.post(_url(patient), {"heart_rate": 70, "effective_at": future}, format="json")
    assert response.status_code == 400 and "effective_at" in response.json()
    before_birth = dt.datetime.combine(
        patient.date_of_birth - dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC
    )
    response = client.post(
        _url(patient), {"heart_rate": 70, "effective_at": before_birth.isoformat()}, format="json"
    )
    assert response.status_code == 400 and "effective_at" in response.json()
    own = EncounterFactory(patient=patient, practitioner=nurse.practitioner)
    response = client.post(_url(patient), {"heart_rate": 70, "encounter": own.pk}, format="json")
    assert response.status_code == 201
    assert Observation.objects.get(patient=patient).encounter == own


def test_role_matrix_for_the_vitals_endpoint(care):
    nurse, doctor, patient = care
    stranger_doctor = make_user(Role.DOCTOR)
    patient_user = make_user(Role.PATIENT)
    own_patient = patient_user.patient
    put_in_care(nurse, own_patient)
    vitals_record(patient=patient, values={"heart_rate": 70}, by=nurse)
    vitals_record(patient=own_patient, values={"heart_rate": 80}, by=nurse)

    # writers: nurse and doctor with the patient in care
    for user in (nurse, doctor):
        assert api_client_for(user).post(_url(patient), {"heart_rate": 75}, format="json").status_code == 201
        assert api_client_for(user).get(_url(patient)).status_code == 200
    # a doctor without the patient in care: 404 for read and write (same as a missing patient)
    assert api_client_for(stranger_doctor).get(_url(patient)).status_code == 404
    assert (
        api_client_for(stranger_doctor).post(_url(patient), {"heart_rate": 75}, format="json").status_code
        == 404
    )
    assert api_client_for(nurse).get("/api/patients/999999999/vitals/").status_code == 404
    # other staff roles: no clinical record (GET 404), no writing (POST 403)
    for role in (Role.RECEPTIONIST, Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.BILLING, Role.ADMIN):
        client = api_client_for(make_user(role))
        assert client.get(_url(patient)).status_code == 404, role
        assert client.post(_url(patient), {"heart_rate": 75}, format="json").status_code == 403, role
    # the patient reads their own vitals, never another's, and cannot post through the staff endpoint
    client = api_client_for(patient_user)
    response = client.get(_url(own_patient))
    assert response.status_code == 200
    assert [r["display_value"] for r in response.json()["results"]] == ["80 /min"]
    assert client.get(_url(patient)).status_code == 404
    assert client.post(_url(own_patient), {"heart_rate": 75}, format="json").status_code == 403
    assert api_client_for(None).get(_url(patient)).status_code == 401
    assert Observation.objects.filter(patient=patient).count() == 3
    assert Observation.objects.filter(patient=own_patient).count() == 1


def test_list_filters_by_code_and_date_and_is_audited(care):
    nurse, _doctor, patient = care
    old = timezone.now() - dt.timedelta(days=40)
    vitals_record(patient=patient, values={"heart_rate": 70, "spo2": 98}, by=nurse, effective_at=old)
    vitals_record(patient=patient, values={"heart_rate": 90}, by=nurse)
    client = api_client_for(nurse)
    body = client.get(_url(patient), {"code": codes.LOINC_HEART_RATE}).json()
    assert [r["value_quantity"] for r in body["results"]] == ["90.000000", "70.000000"]
    recent = (timezone.now() - dt.timedelta(days=5)).date().isoformat()
    body = client.get(_url(patient), {"date_from": recent}).json()
    assert [r["code"]["code"] for r in body["results"]] == [codes.LOINC_HEART_RATE]
    assert body["results"][0]["interpretation"] == "N"
    assert client.get(_url(patient), {"date_from": "not-a-date"}).status_code == 400
    event = AuditEvent.objects.filter(action="search", object_type="clinical.Observation").last()
    assert event.patient_ids == [patient.pk]


def test_entered_in_error_hides_the_row_and_needs_a_reason(care):
    nurse, doctor, patient = care
    row = vitals_record(patient=patient, values={"heart_rate": 250}, by=nurse)[0]
    url = f"/api/vitals/{row.pk}/entered-in-error/"
    assert api_client_for(doctor).post(url, {"reason": ""}, format="json").status_code == 400
    for role in (Role.RECEPTIONIST, Role.ADMIN, Role.DOCTOR):  # the doctor here is not in care
        assert api_client_for(make_user(role)).post(url, {"reason": "x"}, format="json").status_code == 404
    patient_user = make_user(Role.PATIENT)
    assert api_client_for(patient_user).post(url, {"reason": "x"}, format="json").status_code == 404
    response = api_client_for(doctor).post(url, {"reason": "Typed 250 for 52"}, format="json")
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.deleted_at is not None and row.status == "entered-in-error"
    assert row.deletion_reason == "Typed 250 for 52"
    assert api_client_for(doctor).get(_url(patient)).json()["results"] == []
    assert api_client_for(doctor).post(url, {"reason": "again"}, format="json").status_code == 404
    assert AuditEvent.objects.filter(action="delete", object_id=str(row.pk)).exists()


def test_service_refuses_non_clinicians(care):
    _nurse, _doctor, patient = care
    with pytest.raises(NotFoundOrForbidden):
        vitals_record(patient=patient, values={"heart_rate": 70}, by=make_user(Role.RECEPTIONIST))
    assert not Observation.objects.filter(patient=patient).exists()


def test_vitals_are_in_the_openapi_schema(care):
    nurse, _doctor, _patient = care
    admin = make_user(Role.ADMIN)
    response = api_client_for(admin).get("/api/schema/", {"format": "json"})
    if response.status_code != 200:
        response = api_client_for(nurse).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "post" in paths["/api/patients/{id}/vitals/"]
    assert "/api/vitals/{id}/entered-in-error/" in paths
    assert "post" in paths["/api/daily-reports/"]
    assert "/api/daily-reports/{id}/" in paths
