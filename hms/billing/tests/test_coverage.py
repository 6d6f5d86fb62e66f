"""Payers and coverage: who may record and read them, validity on a date, field errors, roles."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import coverage as cov
from hms.core.testing import api_client_for, make_user

from . import claim_factories as f

pytestmark = pytest.mark.django_db


def test_active_on_picks_primary_in_force_that_day():
    patient = make_user(Role.PATIENT).patient
    secondary = f.coverage(patient, order=2, member_id="SEC")
    primary = f.coverage(
        patient, valid_from=dt.date(2026, 3, 1), valid_to=dt.date(2026, 7, 1), member_id="PRI"
    )
    assert cov.coverage_active_on(patient, dt.date(2026, 4, 1)) == primary
    assert cov.coverage_active_on(patient, dt.date(2026, 7, 1)) == secondary  # valid_to is exclusive
    assert cov.coverage_active_on(patient, dt.date(2025, 12, 31)) is None
    assert cov.coverage_active_on(patient, dt.date(2026, 4, 1), order=2) == secondary
    secondary.payer.active = False
    secondary.payer.save()
    assert cov.coverage_active_on(patient, dt.date(2026, 8, 1)) is None


def test_record_lists_every_bad_field_and_writes_nothing():
    clerk = make_user(Role.RECEPTIONIST)
    patient = make_user(Role.PATIENT).patient
    with pytest.raises(ValidationError) as err:
        cov.coverage_record(
            patient=patient,
            payer=f.payer(),
            member_id=" ",
            valid_from=dt.date(2026, 5, 1),
            valid_to=dt.date(2026, 4, 1),
            coinsurance_rate=2,
            copay_amount=-1,
            order=0,
            by=clerk,
        )
    assert set(err.value.message_dict) == {
        "member_id",
        "valid_to",
        "coinsurance_rate",
        "copay_amount",
        "order",
    }
    assert not patient.coverages.exists()


def test_record_and_update_are_audited():
    clerk = make_user(Role.BILLING)
    patient = make_user(Role.PATIENT).patient
    c = cov.coverage_record(
        patient=patient, payer=f.payer(), member_id="X1", valid_from=dt.date(2026, 1, 1), by=clerk
    )
    cov.coverage_update(coverage=c, data={"valid_to": dt.date(2026, 6, 1)}, by=clerk)
    c.refresh_from_db()
    assert c.valid_to == dt.date(2026, 6, 1)
    actions = set(
        AuditEvent.objects.filter(object_type="billing.Coverage", object_id=str(c.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == {"create", "update"}
    with pytest.raises(PermissionDenied):
        cov.coverage_update(coverage=c, data={"status": "cancelled"}, by=make_user(Role.DOCTOR))


def test_payer_api_managers_only():
    billing = api_client_for(make_user(Role.BILLING))
    res = billing.post("/api/payers/", {"name": "Blue Shield", "identifier": "BS1"}, format="json")
    assert res.status_code == 201
    assert billing.post("/api/payers/", {"name": "blue shield"}, format="json").status_code == 400
    assert billing.post("/api/payers/", {"name": 7}, format="json").status_code == 400
    assert (
        api_client_for(make_user(Role.RECEPTIONIST))
        .post("/api/payers/", {"name": "Z"}, format="json")
        .status_code
        == 403
    )
    assert api_client_for(make_user(Role.PATIENT)).get("/api/payers/").json()[0]["name"] == "Blue Shield"
    assert api_client_for(make_user(Role.DOCTOR)).get("/api/payers/").status_code == 403


def test_coverage_api_role_matrix():
    me = make_user(Role.PATIENT)
    other = make_user(Role.PATIENT)
    payer = f.payer()
    body = {
        "patient": me.patient.pk,
        "payer": payer.pk,
        "member_id": "M-9",
        "valid_from": "2026-01-01",
        "copay_amount": "15.00",
        "coinsurance_rate": "0.1",
    }
    desk = api_client_for(make_user(Role.RECEPTIONIST))
    created = desk.post("/api/coverages/", body, format="json")
    assert created.status_code == 201, created.content
    mine_id = created.json()["id"]
    other_id = f.coverage(other.patient).pk
    bad = desk.post(
        "/api/coverages/", {**body, "valid_to": "2025-01-01", "coinsurance_rate": "1.5"}, format="json"
    )
    assert bad.status_code == 400 and {"coinsurance_rate"} <= set(bad.json())
    assert desk.post("/api/coverages/", {**body, "valid_to": "2025-01-01"}, format="json").json().keys() == {
        "valid_to"
    }

    for role in (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST):
        api = api_client_for(make_user(role))
        ids = {c["id"] for c in api.get("/api/coverages/").json()["results"]}
        assert {mine_id, other_id} <= ids
        assert api.get(f"/api/coverages/{other_id}/").status_code == 200
    patient_api = api_client_for(me)
    assert {c["id"] for c in patient_api.get("/api/coverages/").json()["results"]} == {mine_id}
    assert patient_api.get(f"/api/coverages/{mine_id}/").status_code == 200
    assert patient_api.get(f"/api/coverages/{other_id}/").status_code == 404
    assert patient_api.post("/api/coverages/", body, format="json").status_code == 403
    assert (
        patient_api.patch(f"/api/coverages/{mine_id}/", {"member_id": "Z"}, format="json").status_code == 403
    )
    for role in (Role.DOCTOR, Role.NURSE, Role.PHARMACIST, Role.LAB_TECHNICIAN):
        api = api_client_for(make_user(role))
        assert api.get("/api/coverages/").status_code == 403
        assert api.get(f"/api/coverages/{mine_id}/").status_code == 403
    ended = desk.patch(f"/api/coverages/{mine_id}/", {"valid_to": "2026-12-31"}, format="json")
    assert ended.status_code == 200 and ended.json()["valid_to"] == "2026-12-31"
    assert desk.get("/api/coverages/999999999/").status_code == 404
