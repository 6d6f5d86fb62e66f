"""Registry rules found by review: strict types, birth dates, national identifiers, audited 409s,
delete reasons by query parameter, and bodies nested too deeply to parse."""

import datetime as dt

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.patients.models import Patient

VALID = {"family_name": "Valid", "given_names": "Val", "date_of_birth": "1970-01-01", "gender": "male"}


@pytest.fixture
def desk(db):
    return api_client_for(make_user(Role.RECEPTIONIST))


@pytest.mark.parametrize(
    "change",
    [{"given_names": 123}, {"family_name": 1e300}, {"phone": 1099511627776}, {"email": True}],
)
def test_numbers_where_strings_belong_are_refused(desk, change):
    response = desk.post("/api/patients/", {**VALID, **change}, format="json")
    assert response.status_code == 400
    assert response.json() == {next(iter(change)): ["Not a valid string."]}
    assert not Patient.objects.exists()


@pytest.mark.parametrize("dob", ["9999-12-31", "2990-01-01", "1700-05-05"])
def test_impossible_birth_dates_are_refused(desk, dob):
    response = desk.post("/api/patients/", {**VALID, "date_of_birth": dob}, format="json")
    assert response.status_code == 400
    assert "date_of_birth" in response.json()


def test_tomorrow_is_refused_and_today_accepted(desk):
    today = timezone.localdate()
    tomorrow = {**VALID, "date_of_birth": str(today + dt.timedelta(days=1))}
    assert desk.post("/api/patients/", tomorrow, format="json").status_code == 400
    newborn = {**VALID, "given_names": "Baby", "date_of_birth": str(today)}
    assert desk.post("/api/patients/", newborn, format="json").status_code == 201


def test_national_identifier_is_normalised_and_matched_whatever_its_punctuation(desk):
    first = desk.post("/api/patients/", {**VALID, "national_id": "123-45-6789"}, format="json")
    assert first.status_code == 201
    assert Patient.objects.get(pk=first.json()["id"]).national_id == "123456789"
    other = {
        "family_name": "Other",
        "given_names": "Person",
        "date_of_birth": "1980-02-02",
        "gender": "female",
    }
    again = desk.post("/api/patients/", {**other, "national_id": "123 45 6789"}, format="json")
    assert again.status_code == 409
    assert [c["id"] for c in again.json()["candidates"]] == [first.json()["id"]]


def test_duplicate_refusal_is_audited_with_the_candidates_it_showed(desk):
    existing = PatientFactory(
        family_name="Bergstrom", given_names="Tressa", date_of_birth=dt.date(1964, 4, 24)
    )
    before = AuditEvent.objects.count()
    body = {
        "family_name": "Bergstrom",
        "given_names": "Tressa",
        "date_of_birth": "1964-04-24",
        "gender": "female",
    }
    response = desk.post("/api/patients/", body, format="json")
    assert response.status_code == 409
    event = AuditEvent.objects.order_by("-id").first()
    assert AuditEvent.objects.count() == before + 1
    assert (event.action, event.patient_ids) == ("search", [existing.pk])


def test_delete_reason_may_come_as_a_query_parameter(db):
    admin = api_client_for(make_user(Role.ADMIN))
    patient = PatientFactory()
    assert admin.delete(f"/api/patients/{patient.pk}/").status_code == 400
    assert admin.delete(f"/api/patients/{patient.pk}/?reason=Registered%20twice").status_code == 204
    patient.refresh_from_db()
    assert patient.deletion_reason == "Registered twice"


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_json_nested_too_deeply_is_a_400(desk, depth):
    body = "[" * depth + "]" * depth
    response = desk.post("/api/patients/", body, content_type="application/json")
    assert response.status_code == 400
    anonymous = api_client_for(None).post("/api/auth/token/", body, content_type="application/json")
    assert anonymous.status_code == 400
