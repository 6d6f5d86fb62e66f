"""`/api/audit-events/`: admins list, filter and read audit events; nobody can change them."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.audit.services import audit_record
from hms.core.testing import PatientFactory, api_client_for, make_user


@pytest.fixture
def log(db):
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    events = {
        "read": audit_record(actor=doctor, action="read", patient=patient, obj=patient),
        "search": audit_record(
            actor=doctor, action="search", patients=[patient], object_type="patients.Patient"
        ),
        "failed": audit_record(action="login_failed", outcome="failure", detail={"username": "mallory"}),
    }
    AuditEvent.objects.create(
        action="login", actor=doctor, recorded_at=timezone.now() - dt.timedelta(days=40)
    )
    return {"doctor": doctor, "patient": patient, **events}


@pytest.fixture
def admin_client(db):
    return api_client_for(make_user(Role.ADMIN))


def _ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_admin_lists_newest_first(admin_client, log):
    body = admin_client.get("/api/audit-events/").json()
    assert body["count"] == 4
    assert [r["action"] for r in body["results"]] == ["login_failed", "search", "read", "login"]
    failed = body["results"][0]
    assert failed["actor"] is None and failed["detail"] == {"username": "mallory"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "read"}, ["read"]),
        ({"outcome": "failure"}, ["failed"]),
        ({"object_type": "patients.Patient"}, ["search", "read"]),
    ],
)
def test_filters(admin_client, log, params, expected):
    assert _ids(admin_client.get("/api/audit-events/", params)) == [log[k].pk for k in expected]


def test_filter_by_actor_patient_and_dates(admin_client, log):
    assert len(_ids(admin_client.get("/api/audit-events/", {"actor": log["doctor"].pk}))) == 3
    assert _ids(admin_client.get("/api/audit-events/", {"patient": log["patient"].pk})) == [log["read"].pk]
    recent = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    assert len(_ids(admin_client.get("/api/audit-events/", {"date_from": recent}))) == 3
    old = (timezone.now() - dt.timedelta(days=30)).date().isoformat()
    assert len(_ids(admin_client.get("/api/audit-events/", {"date_to": old}))) == 1


def test_retrieve(admin_client, log):
    body = admin_client.get(f"/api/audit-events/{log['search'].pk}/").json()
    assert body["patient_ids"] == [log["patient"].pk] and body["actor_username"] == log["doctor"].username
    assert admin_client.get("/api/audit-events/999999/").status_code == 404


@pytest.mark.parametrize("role", [r.value for r in Role if r != Role.ADMIN])
def test_only_admins(log, role):
    client = api_client_for(make_user(role))
    assert client.get("/api/audit-events/").status_code == 403
    assert client.get(f"/api/audit-events/{log['read'].pk}/").status_code == 403
    assert api_client_for(None).get("/api/audit-events/").status_code == 401


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_cannot_modify_events(admin_client, log, method):
    before = list(AuditEvent.objects.values_list("id", "action", "detail"))
    body = json.dumps({"action": "read", "detail": {}})
    for url in ("/api/audit-events/", f"/api/audit-events/{log['failed'].pk}/"):
        response = getattr(admin_client, method)(url, body, content_type="application/json")
        assert response.status_code == 405
    assert list(AuditEvent.objects.values_list("id", "action", "detail")) == before
