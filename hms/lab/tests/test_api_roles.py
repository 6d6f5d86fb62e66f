"""Role matrix of every lab endpoint: who can reach what, and "not yours" is 404 like "missing"."""

import pytest

from hms.core.testing import api_client_for
from hms.lab import services
from hms.lab.models import DiagnosticReport

pytestmark = pytest.mark.django_db

OTHER_STAFF = ("receptionist", "pharmacist", "billing", "admin")


def _order(w, code="4548-4", patient=None, doctor=None):
    return services.lab_order_create(
        patient=patient or w["patient"], codes=[code], by=doctor or w["doctor"], encounter=None
    )[0]


def _resulted(w, **kwargs):
    order = _order(w, **kwargs)
    services.lab_result_record(order=order, results=[{"value": "5.1"}], by=w["lab"])
    return order


def _client(w, who):
    return api_client_for(None if who == "anonymous" else w[who])


def test_list_scope_by_role(lab_world):
    w = lab_world
    mine = _order(w)
    theirs = _order(w, patient=w["stranger"], doctor=w["other_doctor"])
    expected = {
        "doctor": {mine.pk},
        "nurse": {mine.pk},
        "lab": {mine.pk, theirs.pk},
        "patient_user": {mine.pk},
        "stranger_user": {theirs.pk},
        "other_doctor": {theirs.pk},
    }
    for who, ids in expected.items():
        response = _client(w, who).get("/api/labs/")
        assert response.status_code == 200, who
        assert {o["id"] for o in response.json()["results"]} == ids, who
    for who in OTHER_STAFF:
        assert _client(w, who).get("/api/labs/").status_code == 403, who
    assert _client(w, "anonymous").get("/api/labs/").status_code == 401
    # filters stay inside the scope; the list read is audited with the patients shown
    doc = _client(w, "doctor")
    assert doc.get("/api/labs/", {"patient": w["stranger"].pk}).json()["results"] == []
    assert doc.get("/api/labs/", {"priority": "stat"}).json()["results"] == []
    assert doc.get("/api/labs/", {"status": "nonsense"}).status_code == 400
    from hms.audit.models import AuditEvent

    events = AuditEvent.objects.filter(action="search", object_type="lab.ServiceRequest", actor=w["doctor"])
    assert any(e.patient_ids == [w["patient"].pk] for e in events)


def test_create_by_role(lab_world):
    w = lab_world
    body = {"patient": w["patient"].pk, "codes": ["4548-4"]}
    assert _client(w, "doctor").post("/api/labs/", body, format="json").status_code == 201
    assert _client(w, "other_doctor").post("/api/labs/", body, format="json").status_code == 404
    for who in ("nurse", "lab", "patient_user", *OTHER_STAFF):
        assert _client(w, who).post("/api/labs/", body, format="json").status_code == 403, who
    assert _client(w, "anonymous").post("/api/labs/", body, format="json").status_code == 401
    missing = {"patient": 10**12, "codes": ["4548-4"]}
    assert _client(w, "doctor").post("/api/labs/", missing, format="json").status_code == 404


def test_retrieve_by_role_and_another_patients_result_is_404(lab_world):
    w = lab_world
    order = _resulted(w)
    services.lab_result_acknowledge(report=order.reports.get(), by=w["doctor"])
    theirs = _resulted(w, patient=w["stranger"], doctor=w["other_doctor"])
    services.lab_result_acknowledge(report=theirs.reports.get(), by=w["other_doctor"])
    for who in ("doctor", "nurse", "lab", "patient_user"):
        response = _client(w, who).get(f"/api/labs/{order.pk}/")
        assert response.status_code == 200, who
        assert len(response.json()["reports"]) == 1, who
    for who in ("stranger_user", "other_doctor"):
        assert _client(w, who).get(f"/api/labs/{order.pk}/").status_code == 404, who
    # the patient asking for another patient's result by id: the same 404 as a missing one
    me = _client(w, "patient_user")
    assert me.get(f"/api/labs/{theirs.pk}/").status_code == 404
    assert me.get("/api/labs/999999999/").status_code == 404
    for who in OTHER_STAFF:
        assert _client(w, who).get(f"/api/labs/{order.pk}/").status_code == 403, who
    assert _client(w, "anonymous").get(f"/api/labs/{order.pk}/").status_code == 401


def test_record_results_by_role(lab_world):
    w = lab_world
    body = {"results": [{"value": "5.0"}]}
    for who in ("doctor", "nurse", "patient_user", "other_doctor", *OTHER_STAFF):
        order = _order(w)
        assert (
            _client(w, who).post(f"/api/labs/{order.pk}/results/", body, format="json").status_code == 403
        ), who
    order = _order(w)
    assert (
        _client(w, "anonymous").post(f"/api/labs/{order.pk}/results/", body, format="json").status_code == 401
    )
    assert _client(w, "lab").post(f"/api/labs/{order.pk}/results/", body, format="json").status_code == 201
    assert _client(w, "lab").post("/api/labs/999999999/results/", body, format="json").status_code == 404
    assert DiagnosticReport.objects.count() == 1


def test_acknowledge_by_role(lab_world):
    w = lab_world
    order = _resulted(w)
    assert _client(w, "other_doctor").post(f"/api/labs/{order.pk}/acknowledge/").status_code == 404
    for who in ("nurse", "lab", "patient_user", *OTHER_STAFF):
        assert _client(w, who).post(f"/api/labs/{order.pk}/acknowledge/").status_code == 403, who
    assert _client(w, "anonymous").post(f"/api/labs/{order.pk}/acknowledge/").status_code == 401
    pending = _order(w)  # no result yet
    assert _client(w, "doctor").post(f"/api/labs/{pending.pk}/acknowledge/").status_code == 404
    assert _client(w, "doctor").post(f"/api/labs/{order.pk}/acknowledge/").status_code == 200
    assert order.reports.get().acknowledged_by == w["doctor"]


def test_cancel_by_role(lab_world):
    w = lab_world
    order = _order(w)
    body = {"reason": "Not needed"}
    assert (
        _client(w, "other_doctor").post(f"/api/labs/{order.pk}/cancel/", body, format="json").status_code
        == 404
    )
    for who in ("nurse", "lab", "patient_user", *OTHER_STAFF):
        assert (
            _client(w, who).post(f"/api/labs/{order.pk}/cancel/", body, format="json").status_code == 403
        ), who
    assert (
        _client(w, "anonymous").post(f"/api/labs/{order.pk}/cancel/", body, format="json").status_code == 401
    )
    assert _client(w, "doctor").post(f"/api/labs/{order.pk}/cancel/", body, format="json").status_code == 200


def test_entered_in_error_by_role(lab_world):
    w = lab_world
    body = {"reason": "Wrong patient sample"}
    order = _resulted(w)
    assert (
        _client(w, "other_doctor")
        .post(f"/api/labs/{order.pk}/results/entered-in-error/", body, format="json")
        .status_code
        == 404
    )
    for who in ("patient_user", *OTHER_STAFF):
        url = f"/api/labs/{order.pk}/results/entered-in-error/"
        assert _client(w, who).post(url, body, format="json").status_code == 403, who
    for who in ("lab", "doctor", "nurse"):
        order = _resulted(w)
        url = f"/api/labs/{order.pk}/results/entered-in-error/"
        assert _client(w, who).post(url, body, format="json").status_code == 200, who


def test_catalogue_search_is_open_to_signed_in_users_only(lab_world):
    w = lab_world
    for who in ("doctor", "nurse", "lab", "patient_user", *OTHER_STAFF):
        response = _client(w, who).get("/api/lab-tests/", {"q": "lipid"})
        assert response.status_code == 200, who
        assert response.json()["results"][0]["code"] == "57698-3"
        assert "loinc.org" in response.json()["notice"]
    assert _client(w, "anonymous").get("/api/lab-tests/", {"q": "lipid"}).status_code == 401


def test_openapi_schema_lists_the_lab_endpoints(lab_world):
    response = _client(lab_world, "doctor").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/labs/",
        "/api/labs/{id}/",
        "/api/labs/{id}/results/",
        "/api/labs/{id}/acknowledge/",
        "/api/labs/{id}/cancel/",
        "/api/lab-tests/",
    ):
        assert path in paths, path


def test_list_costs_a_fixed_number_of_queries(lab_world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    w = lab_world
    client = _client(w, "doctor")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/labs/").status_code == 200
        return len(ctx.captured_queries)

    _resulted(w)
    few = count()
    for _ in range(4):
        _resulted(w)
    assert count() == few


def test_collect_by_role(lab_world):
    w = lab_world
    order = _order(w)
    for who in ("doctor", "nurse", "patient_user", "other_doctor", *OTHER_STAFF):
        assert _client(w, who).post(f"/api/labs/{order.pk}/collect/", {}, format="json").status_code == 403, (
            who
        )
    assert (
        _client(w, "anonymous").post(f"/api/labs/{order.pk}/collect/", {}, format="json").status_code == 401
    )
    assert _client(w, "lab").post("/api/labs/999999999/collect/", {}, format="json").status_code == 404
    response = _client(w, "lab").post(f"/api/labs/{order.pk}/collect/", {}, format="json")
    assert response.status_code == 200 and response.json()["specimen_collected_at"]
