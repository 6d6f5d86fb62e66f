"""Role matrix of every inpatient endpoint: who can reach what; another patient's admission by id is 404."""

import pytest

from hms.audit.models import AuditEvent
from hms.core.testing import api_client_for
from hms.inpatient import services

pytestmark = pytest.mark.django_db

ROLES = ("admin", "doctor", "nurse", "receptionist", "pharmacist", "lab", "billing", "patient_user")


def _client(w, who):
    return api_client_for(None if who == "anonymous" else w[who])


def _admit(w, patient=None, bed="M1-1", doctor=None):
    doctor = doctor or w["doctor"]
    return services.admission_create(
        patient=patient or w["patient"],
        admitting_practitioner=doctor.practitioner,
        source="planned",
        reason="Elective",
        bed=w["beds"][bed],
        by=doctor,
    )


def test_wards_and_beds_by_role(ward_world):
    w = ward_world
    mine = _admit(w)
    ward = w["medicine"]
    for who in ROLES:
        expected = 403 if who == "patient_user" else 200
        c = _client(w, who)
        assert c.get("/api/wards/").status_code == expected, who
        assert c.get(f"/api/wards/{ward.pk}/").status_code == expected, who
        assert c.get("/api/beds/", {"ward": ward.pk}).status_code == expected, who
        assert c.get(f"/api/beds/{w['beds']['M1-1'].pk}/").status_code == expected, who
    for path in ("/api/wards/", f"/api/wards/{ward.pk}/", "/api/beds/"):
        assert _client(w, "anonymous").get(path).status_code == 401

    # the occupant is named only to those who may see the patient
    def occupant(who):
        beds = _client(w, who).get(f"/api/wards/{ward.pk}/").json()["beds"]
        return next(b["patient"] for b in beds if b["id"] == w["beds"]["M1-1"].pk)

    assert occupant("doctor")["id"] == w["patient"].pk
    assert occupant("receptionist")["id"] == w["patient"].pk
    assert occupant("other_doctor") is None
    assert AuditEvent.objects.filter(
        actor=w["doctor"], action="search", patient_ids=[w["patient"].pk]
    ).exists()
    wards = _client(w, "nurse").get("/api/wards/").json()
    assert {x["name"]: x["occupancy"].get("occupied", 0) for x in wards} == {"Medicine": 1, "Maternity": 0}
    assert _client(w, "nurse").get("/api/beds/", {"status": "occupied"}).json()["count"] == 1
    assert _client(w, "nurse").get("/api/beds/", {"status": "nope"}).status_code == 400
    assert _client(w, "nurse").get("/api/wards/999999/").status_code == 404
    # ward creation: admins only
    body = {"building": w["building"].pk, "name": "ICU", "ward_type": "icu"}
    for who in ROLES:
        if who != "admin":
            assert _client(w, who).post("/api/wards/", body, format="json").status_code == 403, who
    assert _client(w, "admin").post("/api/wards/", body, format="json").status_code == 201
    assert (
        _client(w, "admin").post("/api/wards/", {**body, "ward_type": "x"}, format="json").status_code == 400
    )
    assert (
        _client(w, "admin").post("/api/wards/", {**body, "building": ward.pk}, format="json").status_code
        == 400
    )
    # housekeeping: nurses and admins only
    free = w["beds"]["M2-2"]
    for who in ROLES:
        allowed = who in ("nurse", "admin")
        res = _client(w, who).patch(f"/api/beds/{free.pk}/", {"status": "reserved"}, format="json")
        assert res.status_code == (200 if allowed else 403), who
        res = _client(w, who).post(f"/api/beds/{free.pk}/clean/")
        assert res.status_code == (409 if allowed else 403), who
    assert mine.status == "active"


def test_admissions_by_role(ward_world):
    w = ward_world
    mine = _admit(w)
    theirs = _admit(w, patient=w["stranger"], bed="M1-2", doctor=w["other_doctor"])
    expected = {
        "doctor": {mine.pk},
        "nurse": {mine.pk},
        "patient_user": {mine.pk},
        "stranger_user": {theirs.pk},
        "other_doctor": {theirs.pk},
        "receptionist": {mine.pk, theirs.pk},
        "billing": {mine.pk, theirs.pk},
        "admin": {mine.pk, theirs.pk},
    }
    for who, ids in expected.items():
        res = _client(w, who).get("/api/admissions/")
        assert res.status_code == 200, who
        assert {a["id"] for a in res.json()["results"]} == ids, who
        for adm in (mine, theirs):
            code = _client(w, who).get(f"/api/admissions/{adm.pk}/").status_code
            assert code == (200 if adm.pk in ids else 404), who
    for who in ("pharmacist", "lab"):
        assert _client(w, who).get("/api/admissions/").status_code == 403, who
        assert _client(w, who).get(f"/api/admissions/{mine.pk}/").status_code == 403, who
    assert _client(w, "anonymous").get("/api/admissions/").status_code == 401
    assert _client(w, "doctor").get("/api/admissions/", {"patient": w["stranger"].pk}).json()["results"] == []

    # admit: doctors, nurses, receptionists
    body = {
        "patient": w["other_patient"].pk,
        "admitting_practitioner": w["doctor"].practitioner.pk,
        "source": "planned",
        "reason": "Elective",
        "bed": w["beds"]["M2-1"].pk,
    }
    for who in ("admin", "pharmacist", "lab", "billing", "patient_user"):
        assert _client(w, who).post("/api/admissions/", body, format="json").status_code == 403, who
    assert (
        _client(w, "receptionist")
        .post("/api/admissions/", {**body, "patient": 99999999}, format="json")
        .status_code
        == 404
    )
    assert _client(w, "receptionist").post("/api/admissions/", body, format="json").status_code == 201

    # transfer / discharge of another doctor's patient: 404 ("not yours" = "missing")
    target = {"bed": w["beds"]["M2-2"].pk}
    assert (
        _client(w, "doctor").post(f"/api/admissions/{theirs.pk}/transfer/", target, format="json").status_code
        == 404
    )
    assert (
        _client(w, "nurse").post(f"/api/admissions/{theirs.pk}/transfer/", target, format="json").status_code
        == 404
    )
    for who in ("admin", "receptionist", "pharmacist", "lab", "billing", "patient_user"):
        assert (
            _client(w, who).post(f"/api/admissions/{mine.pk}/transfer/", target, format="json").status_code
            == 403
        )
        assert (
            _client(w, who).post(f"/api/admissions/{mine.pk}/discharge/", {}, format="json").status_code
            == 403
        )
    discharge = {"disposition": "home", "summary": "Well."}
    assert (
        _client(w, "doctor")
        .post(f"/api/admissions/{theirs.pk}/discharge/", discharge, format="json")
        .status_code
        == 404
    )
    assert (
        _client(w, "doctor")
        .post(f"/api/admissions/{mine.pk}/discharge/", discharge, format="json")
        .status_code
        == 200
    )

    # summary PDF: clinical readers of the patient; the patient themself; nobody else
    path = f"/api/admissions/{mine.pk}/summary/pdf/"
    for who, code in {
        "doctor": 200,
        "nurse": 200,
        "patient_user": 200,
        "other_doctor": 404,
        "stranger_user": 404,
        "receptionist": 403,
        "admin": 403,
        "billing": 403,
        "pharmacist": 403,
    }.items():
        assert _client(w, who).get(path).status_code == code, who


def test_unknown_and_merge_by_role(ward_world):
    w = ward_world
    for who in ROLES:
        res = _client(w, who).post(
            "/api/patients/unknown/", {"gender": "female", "approx_age": 25}, format="json"
        )
        assert res.status_code == (201 if who in ("admin", "doctor", "nurse", "receptionist") else 403), who
    source = services.patient_register_unknown(gender="male", approx_age=30, by=w["admin"])
    for who in ("doctor", "nurse", "pharmacist", "lab", "billing", "patient_user"):
        res = _client(w, who).post(
            f"/api/patients/{source.pk}/merge/", {"target": w["patient"].pk, "reason": "x"}, format="json"
        )
        assert res.status_code == 403, who
    res = _client(w, "admin").post(
        f"/api/patients/{source.pk}/merge/", {"target": 99999999, "reason": "x"}, format="json"
    )
    assert res.status_code == 404
