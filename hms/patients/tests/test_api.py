"""`/api/patients/`: search, filters, create with the duplicate check, update, soft delete, audit."""

import datetime as dt
import json

import pytest

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.patients.models import Patient
from hms.patients.mrn import mrn_is_valid


@pytest.fixture
def front_desk(db):
    return api_client_for(make_user(Role.RECEPTIONIST))


@pytest.fixture
def people(db):
    return {
        "ann": PatientFactory(
            family_name="Smith",
            given_names="Ann",
            date_of_birth=dt.date(1980, 1, 2),
            gender="female",
            phone="555-123-4567",
        ),
        "bob": PatientFactory(
            family_name="Smithers",
            given_names="Bob",
            date_of_birth=dt.date(1990, 6, 7),
            gender="male",
            phone="555-987-0000",
        ),
        "cat": PatientFactory(
            family_name="Jones",
            given_names="Catherine Smi",
            date_of_birth=dt.date(2001, 3, 4),
            gender="female",
            phone="555-222-3333",
        ),
        "dan": PatientFactory(
            family_name="Brown",
            given_names="Dan",
            date_of_birth=dt.date(1955, 12, 31),
            gender="male",
            phone="555-444-5555",
        ),
    }


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("smi", {"ann", "bob"}),  # family-name prefix, case-insensitive
        ("SMITHERS", {"bob"}),
        ("cath", {"cat"}),  # given-name prefix
        ("ann smith", {"ann"}),  # every word must match the start of a name
        ("mith", set()),  # not a prefix
        ("1980-01-02", {"ann"}),  # date of birth
        ("555-987", {"bob"}),  # phone prefix
        ("5551234567", set()),  # phone as typed, not normalised
    ],
)
def test_search(front_desk, people, query, expected):
    response = front_desk.get("/api/patients/", {"search": query})
    assert _ids(response) == {people[k].pk for k in expected}


def test_search_by_mrn_is_exact(front_desk, people):
    mrn = people["dan"].mrn
    assert _ids(front_desk.get("/api/patients/", {"search": mrn})) == {people["dan"].pk}
    assert _ids(front_desk.get("/api/patients/", {"search": mrn[:-1]})) == set()


def test_search_with_an_impossible_date_is_a_400(front_desk, people):
    response = front_desk.get("/api/patients/", {"search": "2001-02-30"})
    assert response.status_code == 400
    assert "search" in response.json()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"gender": "male"}, {"bob", "dan"}),
        ({"birth_year_from": 1985}, {"bob", "cat"}),
        ({"birth_year_to": 1980}, {"ann", "dan"}),
        ({"birth_year_from": 1980, "birth_year_to": 1990}, {"ann", "bob"}),
        ({"date_of_birth": "2001-03-04"}, {"cat"}),
        ({"active": "true", "search": "smi", "gender": "female"}, {"ann"}),
    ],
)
def test_filters(front_desk, people, params, expected):
    assert _ids(front_desk.get("/api/patients/", params)) == {people[k].pk for k in expected}


def test_pagination_counts_and_links(front_desk, people):
    body = front_desk.get("/api/patients/", {"page_size": 3}).json()
    assert body["count"] == 4 and body["count_is_exact"] is True
    assert len(body["results"]) == 3 and body["next"] and body["previous"] is None
    second = front_desk.get(body["next"]).json()
    assert len(second["results"]) == 1 and second["next"] is None and second["previous"]


def test_a_search_is_audited_with_the_patients_it_returned(people):
    user = make_user(Role.RECEPTIONIST)
    response = api_client_for(user).get("/api/patients/", {"search": "smi"})
    event = AuditEvent.objects.get(action="search", actor=user)
    assert sorted(event.patient_ids) == sorted(row["id"] for row in response.json()["results"])
    assert sorted(event.patient_ids) == sorted([people["ann"].pk, people["bob"].pk])
    assert event.detail["query"] == {"search": "smi"} and event.channel == "api"


def test_a_read_is_audited(people):
    user = make_user(Role.BILLING)
    api_client_for(user).get(f"/api/patients/{people['ann'].pk}/")
    event = AuditEvent.objects.get(actor=user)
    assert (event.action, event.patient_id, event.object_type) == (
        "read",
        people["ann"].pk,
        "patients.Patient",
    )


def test_create_issues_an_mrn_and_is_audited(db):
    user = make_user(Role.RECEPTIONIST)
    response = api_client_for(user).post(
        "/api/patients/",
        {
            "family_name": "Okafor",
            "given_names": "Chi",
            "date_of_birth": "1999-09-09",
            "gender": "other",
            "phone": "555-000-1111",
            "blood_group": "O+",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert mrn_is_valid(body["medical_record_number"])
    patient = Patient.objects.get(pk=body["id"])
    assert patient.mrn == body["medical_record_number"] and patient.blood_group == "O+"
    event = AuditEvent.objects.get(actor=user, action="create")
    assert event.patient_id == patient.pk


class TestDuplicateCheck:
    payload = {
        "family_name": "Smyth",
        "given_names": "Ann",
        "date_of_birth": "1980-01-02",
        "gender": "female",
    }

    def test_a_probable_duplicate_is_a_409_with_candidates(self, front_desk, people):
        response = front_desk.post("/api/patients/", self.payload, format="json")
        assert response.status_code == 409
        candidates = response.json()["candidates"]
        assert [c["id"] for c in candidates] == [people["ann"].pk]
        assert candidates[0]["mrn"] == people["ann"].mrn
        assert Patient.objects.count() == 4

    def test_same_phone_is_a_duplicate(self, front_desk, people):
        data = {
            **self.payload,
            "family_name": "Other",
            "date_of_birth": "2000-01-01",
            "phone": "(555) 444-5555",
        }
        response = front_desk.post("/api/patients/", data, format="json")
        assert response.status_code == 409
        assert [c["id"] for c in response.json()["candidates"]] == [people["dan"].pk]

    def test_force_with_a_reason_registers_and_is_audited(self, people):
        user = make_user(Role.RECEPTIONIST)
        data = {**self.payload, "force": True, "force_reason": "Different mother; twins checked at the desk"}
        response = api_client_for(user).post("/api/patients/", data, format="json")
        assert response.status_code == 201
        event = AuditEvent.objects.get(actor=user, action="create")
        assert event.detail["forced_duplicate_of"] == [people["ann"].pk]
        assert event.detail["reason"].startswith("Different mother")

    def test_force_without_a_reason_is_a_400(self, front_desk, people):
        response = front_desk.post("/api/patients/", {**self.payload, "force": True}, format="json")
        assert response.status_code == 400
        assert "force_reason" in response.json()
        assert Patient.objects.count() == 4


def test_patch_changes_only_the_given_fields_and_is_audited(people):
    user = make_user(Role.RECEPTIONIST)
    ann = people["ann"]
    response = api_client_for(user).patch(
        f"/api/patients/{ann.pk}/", {"phone": "555-000-9999"}, format="json"
    )
    assert response.status_code == 200
    ann.refresh_from_db()
    assert (ann.phone, ann.family_name) == ("555-000-9999", "Smith")
    assert AuditEvent.objects.get(actor=user, action="update").detail == {"fields": ["phone"]}


def test_put_needs_the_required_fields(front_desk, people):
    response = front_desk.put(f"/api/patients/{people['ann'].pk}/", {"phone": "1"}, format="json")
    assert response.status_code == 400
    assert {"family_name", "given_names", "date_of_birth", "gender"} <= set(response.json())


class TestSoftDelete:
    def _delete(self, client, patient, body):
        return client.delete(
            f"/api/patients/{patient.pk}/", json.dumps(body), content_type="application/json"
        )

    def test_needs_a_reason(self, people):
        client = api_client_for(make_user(Role.ADMIN))
        response = self._delete(client, people["ann"], {})
        assert response.status_code == 400 and "reason" in response.json()
        assert self._delete(client, people["ann"], {"reason": "   "}).status_code == 400
        assert Patient.objects.get(pk=people["ann"].pk).deleted_at is None

    def test_hides_the_patient_but_keeps_the_record_for_admins(self, people):
        admin = make_user(Role.ADMIN)
        client = api_client_for(admin)
        ann = people["ann"]
        assert self._delete(client, ann, {"reason": "Registered twice"}).status_code == 204
        event = AuditEvent.objects.get(actor=admin, action="delete")
        assert (event.patient_id, event.detail["reason"]) == (ann.pk, "Registered twice")
        # hidden from lists and reads ...
        for user_client in (client, api_client_for(make_user(Role.RECEPTIONIST))):
            assert ann.pk not in _ids(user_client.get("/api/patients/", {"search": "smith"}))
            assert user_client.get(f"/api/patients/{ann.pk}/").status_code == 404
        # ... but an admin asking for deleted records still sees it; nobody else can
        assert ann.pk in _ids(client.get("/api/patients/", {"search": "smith", "include_deleted": "true"}))
        body = client.get(f"/api/patients/{ann.pk}/", {"include_deleted": "true"}).json()
        assert body["is_deleted"] is True and body["deletion_reason"] == "Registered twice"
        desk = api_client_for(make_user(Role.RECEPTIONIST))
        assert desk.get(f"/api/patients/{ann.pk}/", {"include_deleted": "true"}).status_code == 404
        # the MRN is never reused
        assert Patient.objects.filter(mrn=ann.mrn).count() == 1

    def test_twice_is_a_400(self, people):
        client = api_client_for(make_user(Role.ADMIN))
        self._delete(client, people["ann"], {"reason": "dup"})
        response = client.delete(
            f"/api/patients/{people['ann'].pk}/?include_deleted=true",
            json.dumps({"reason": "again"}),
            content_type="application/json",
        )
        assert response.status_code == 404  # a deleted record cannot be changed through the API
