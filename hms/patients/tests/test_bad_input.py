"""Bad input answers 400 with field errors (or 404 for an id that cannot exist), never 500.

Covers NUL bytes (PostgreSQL rejects them in text), integers above 2^31 and 2^63, wrong types, missing
fields, a 1 MB string and JSON that is not an object, across the API's write and query surfaces.
"""

import json

import pytest

from hms.accounts.roles import Role
from hms.clinical.tests.chart_factory import chart_create
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.patients.models import Patient

BIG = 2**31 + 7
HUGE = 2**64 + 1
MEGABYTE = "x" * 1_000_000
VALID = {"family_name": "Valid", "given_names": "Val", "date_of_birth": "1970-01-01", "gender": "male"}


@pytest.fixture
def admin_client(db):
    return api_client_for(make_user(Role.ADMIN))


@pytest.fixture
def desk(db):
    return api_client_for(make_user(Role.RECEPTIONIST))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"family_name": "Nul\x00byte"}, "family_name"),
        ({"given_names": "\x00"}, "given_names"),
        ({"family_name": MEGABYTE}, "family_name"),
        ({"phone": MEGABYTE}, "phone"),
        ({"family_name": 12}, "family_name"),  # a number where a string is expected: refused
        ({"family_name": ["a", "b"]}, "family_name"),
        ({"family_name": {"x": 1}}, "family_name"),
        ({"date_of_birth": "yesterday"}, "date_of_birth"),
        ({"date_of_birth": 19700101}, "date_of_birth"),
        ({"date_of_birth": "99999-01-01"}, "date_of_birth"),
        ({"gender": "robot"}, "gender"),
        ({"gender": None}, "gender"),
        ({"active": "perhaps"}, "active"),
        ({"active": BIG}, "active"),
        ({"email": "not-an-email"}, "email"),
        ({"deceased_at": BIG}, "deceased_at"),
        ({"force": "yes please"}, "force"),
        ({"force_reason": "\x00", "force": True}, "force_reason"),
    ],
)
def test_create_rejects_bad_fields(desk, change, field):
    response = desk.post("/api/patients/", {**VALID, **change}, format="json")
    if field is None:
        assert response.status_code == 201
        return
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()
    assert not Patient.objects.exists()


def test_create_lists_every_missing_field(desk):
    response = desk.post("/api/patients/", {}, format="json")
    assert response.status_code == 400
    assert {"family_name", "given_names", "date_of_birth", "gender"} <= set(response.json())


@pytest.mark.parametrize("body", ["[1, 2]", '"a string"', "42", "null", "{not json", '{"a": "\\ud800"}'])
def test_json_that_is_not_an_object(desk, body):
    response = desk.post("/api/patients/", body, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        f"/api/patients/{BIG}/",
        f"/api/patients/{HUGE}/",
        f"/api/patients/{BIG}/records/",
        f"/api/patients/{HUGE}/observations/",
        f"/api/records/{HUGE}/",
        f"/api/doctors/{HUGE}/",
        f"/api/audit-events/{HUGE}/",
    ],
)
def test_ids_above_the_integer_range_are_404(admin_client, path):
    assert admin_client.get(path).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"search": "smi\x00th"},
        {"search": MEGABYTE},
        {"gender": "robot"},
        {"active": "perhaps"},
        {"date_of_birth": "1970-13-01"},
        {"birth_year_from": BIG},
        {"birth_year_to": "nineteen"},
        {"birth_year_from": -5},
    ],
)
def test_bad_patient_filters_are_400(desk, params):
    response = desk.get("/api/patients/", params)
    assert response.status_code == 400
    assert set(params) & set(response.json())


def test_huge_page_numbers_do_not_break(desk):
    PatientFactory()
    for page in (BIG, HUGE, -1, "last", "x"):
        assert desk.get("/api/patients/", {"page": page, "page_size": BIG}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"code": "a\x00"},
        {"date_from": "2020-02-30"},
        {"date_to": BIG},
        {"encounter": HUGE},
        {"encounter": "x"},
        {"category": MEGABYTE},
    ],
)
def test_bad_record_filters_are_400(db, params):
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    chart_create(patient=patient, practitioner=doctor.practitioner)
    response = api_client_for(doctor).get(f"/api/patients/{patient.pk}/observations/", params)
    assert response.status_code == 400
    assert set(params) & set(response.json())


def test_extreme_record_dates_are_accepted(db):
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    chart_create(patient=patient, practitioner=doctor.practitioner)
    client = api_client_for(doctor)
    response = client.get(
        f"/api/patients/{patient.pk}/observations/", {"date_from": "0001-01-01", "date_to": "9999-12-31"}
    )
    assert response.status_code == 200 and response.json()["count"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"consultation_fee": BIG * 10**6}, "consultation_fee"),
        ({"consultation_fee": "free"}, "consultation_fee"),
        ({"consultation_fee": -1}, "consultation_fee"),
        ({"available_days": [1, BIG]}, "available_days"),
        ({"available_days": "monday"}, "available_days"),
        ({"user": BIG}, "user"),
        ({"user": HUGE}, "user"),
        ({"specialty": "no-such-code"}, "specialty"),
        ({"bio": "a\x00b"}, "bio"),
        ({"family_name": MEGABYTE}, "family_name"),
    ],
)
def test_doctor_create_rejects_bad_fields(admin_client, change, field):
    response = admin_client.post(
        "/api/doctors/", {"family_name": "House", "given_names": "Greg", **change}, format="json"
    )
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "a\x00", "password": "x"}, "username"),
        ({"username": MEGABYTE, "password": "x"}, "username"),
        ({"username": "u"}, "password"),
        ({"username": ["u"], "password": "p"}, "username"),
    ],
)
def test_login_rejects_bad_fields(db, body, field):
    response = api_client_for(None).post("/api/auth/token/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"username": "bad name!"}, "username"),
        ({"first_name": "\x00"}, "first_name"),
        ({"password": "short"}, "password"),
        ({"password": MEGABYTE}, "password"),
        ({"date_of_birth": BIG}, "date_of_birth"),
        ({"gender": 3}, "gender"),
        ({"role": "emperor"}, "role"),
    ],
)
def test_register_rejects_bad_fields(db, change, field):
    body = {
        "username": "newbie",
        "password": "Correct-Horse-42",
        "first_name": "New",
        "last_name": "Bie",
        "date_of_birth": "1990-01-01",
        "gender": "female",
        **change,
    }
    response = api_client_for(None).post("/api/auth/register/", body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert field in response.json()


@pytest.mark.parametrize(
    "params",
    [
        {"patient": HUGE},
        {"actor": HUGE * HUGE},
        {"action": "peek"},
        {"date_from": "2020-99-01"},
        {"object_type": "a\x00"},
    ],
)
def test_bad_audit_filters_are_400(admin_client, params):
    response = admin_client.get("/api/audit-events/", params)
    assert response.status_code == 400
    assert set(params) & set(response.json())


def test_delete_reason_with_a_nul_byte(admin_client):
    patient = PatientFactory()
    response = admin_client.delete(
        f"/api/patients/{patient.pk}/", json.dumps({"reason": "dup\x00"}), content_type="application/json"
    )
    assert response.status_code == 400 and "reason" in response.json()
