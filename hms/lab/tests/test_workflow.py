"""The lab workflow end to end through the API: order → work list → result → doctor notified →
acknowledge → the patient sees it released; critical values; cancel; entered-in-error; bad input."""

import datetime as dt

import pytest
from django.utils import timezone

from hms.audit.models import AuditEvent
from hms.clinical.models import Condition, Observation
from hms.core.testing import api_client_for
from hms.lab.models import DiagnosticReport, OrderStatus, ServiceRequest
from hms.messaging.models import Delivery, Notification

pytestmark = pytest.mark.django_db


def _order(world, codes, priority="routine"):
    body = {
        "patient": world["patient"].pk,
        "codes": codes,
        "priority": priority,
        "encounter": world["encounter"].pk,
        "reason": "Check-up",
    }
    response = api_client_for(world["doctor"]).post("/api/labs/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_order_worklist_result_notify_acknowledge_release(lab_world):
    w = lab_world
    created = _order(w, ["51990-0", "4548-4"])
    assert len(created) == 2 and created[0]["requisition"] == created[1]["requisition"]
    bmp = next(o for o in created if o["code"]["code"] == "51990-0")
    assert bmp["status"] == "active" and bmp["encounter"] == w["encounter"].pk
    assert AuditEvent.objects.filter(action="create", object_type="lab.ServiceRequest").count() == 2

    lab = api_client_for(w["lab"])
    worklist = lab.get("/api/labs/", {"status": "active"}).json()["results"]
    assert {o["id"] for o in worklist} == {o["id"] for o in created}
    assert worklist[0]["patient"]["medical_record_number"] == w["patient"].mrn

    results = [
        {"code": "2339-0", "value": "140"},  # glucose, high
        {"code": "2947-0", "value": 140},
        {"code": "6298-4", "value": "4.2", "unit": "mmol/L"},
        {"code": "38483-4", "value": "0.9", "interpretation": "N"},
    ]
    response = lab.post(f"/api/labs/{bmp['id']}/results/", {"results": results}, format="json")
    assert response.status_code == 201, response.content
    order = response.json()
    assert order["status"] == "completed"
    report = order["reports"][0]
    flags = {r["code"]["code"]: r["interpretation"] for r in report["results"]}
    assert flags == {"2339-0": "H", "2947-0": "N", "6298-4": "N", "38483-4": "N"}
    glucose = next(r for r in report["results"] if r["code"]["code"] == "2339-0")
    assert glucose["unit"] == "mg/dL" and glucose["reference_high"].startswith("99")
    assert report["is_critical"] is False and report["acknowledged_at"] is None
    obs = Observation.objects.get(pk=glucose["id"])
    assert obs.category == "laboratory" and obs.recorded_by == w["lab"] and obs.encounter == w["encounter"]

    # the ordering doctor is told (lab.result, in-app), the order left the work list
    note = Notification.objects.get(recipient=w["doctor"], event="lab.result")
    assert w["patient"].mrn in note.subject
    assert bmp["id"] not in [o["id"] for o in lab.get("/api/labs/", {"status": "active"}).json()["results"]]

    # not yet released: the patient sees the order but no result
    me = api_client_for(w["patient_user"])
    assert me.get(f"/api/labs/{bmp['id']}/").json()["reports"] == []

    doc = api_client_for(w["doctor"])
    response = doc.post(f"/api/labs/{bmp['id']}/acknowledge/")
    assert response.status_code == 200, response.content
    acked = response.json()["reports"][0]
    assert (
        acked["acknowledged_at"] and acked["released_at"] and acked["acknowledged_by"]["id"] == w["doctor"].pk
    )
    assert doc.post(f"/api/labs/{bmp['id']}/acknowledge/").status_code == 200  # idempotent

    mine = me.get(f"/api/labs/{bmp['id']}/").json()
    assert len(mine["reports"]) == 1 and len(mine["reports"][0]["results"]) == 4


def test_normal_result_is_released_automatically_after_the_delay(lab_world, settings):
    w = lab_world
    order = _order(w, ["3016-3"])[0]
    api_client_for(w["lab"]).post(
        f"/api/labs/{order['id']}/results/", {"results": [{"value": "2.1"}]}, format="json"
    )
    report = DiagnosticReport.objects.get(based_on_id=order["id"])
    assert report.released_at > timezone.now() + dt.timedelta(hours=71)
    me = api_client_for(w["patient_user"])
    assert me.get(f"/api/labs/{order['id']}/").json()["reports"] == []
    DiagnosticReport.objects.filter(pk=report.pk).update(released_at=timezone.now() - dt.timedelta(minutes=1))
    assert len(me.get(f"/api/labs/{order['id']}/").json()["reports"]) == 1


def test_critical_value_alerts_the_ordering_doctor_by_sms_and_in_app_and_waits_for_acknowledgement(lab_world):
    w = lab_world
    order = _order(w, ["6298-4"], priority="stat")[0]
    response = api_client_for(w["lab"]).post(
        f"/api/labs/{order['id']}/results/", {"results": [{"value": "7.1"}]}, format="json"
    )
    assert response.status_code == 201, response.content
    report = response.json()["reports"][0]
    assert report["is_critical"] is True and report["results"][0]["interpretation"] == "HH"
    assert report["released_at"] is None
    channels = set(
        Delivery.objects.filter(recipient=w["doctor"], event="lab.critical").values_list("channel", flat=True)
    )
    assert channels == {"in_app", "sms"}
    sms = Delivery.objects.get(recipient=w["doctor"], event="lab.critical", channel="sms")
    assert sms.to_address == "+15550100001" and "CRITICAL" in sms.body
    assert not Delivery.objects.filter(event="lab.result").exists()
    # critical stays hidden from the patient, even after the usual delay, until acknowledged
    DiagnosticReport.objects.filter(pk=report["id"]).update(issued_at=timezone.now() - dt.timedelta(days=10))
    me = api_client_for(w["patient_user"])
    assert me.get(f"/api/labs/{order['id']}/").json()["reports"] == []
    assert api_client_for(w["doctor"]).post(f"/api/labs/{order['id']}/acknowledge/").status_code == 200
    assert len(me.get(f"/api/labs/{order['id']}/").json()["reports"]) == 1


def test_cancel_needs_a_reason_and_an_active_order(lab_world):
    w = lab_world
    order = _order(w, ["1988-5"])[0]
    doc = api_client_for(w["doctor"])
    assert doc.post(f"/api/labs/{order['id']}/cancel/", {}, format="json").status_code == 400
    response = doc.post(f"/api/labs/{order['id']}/cancel/", {"reason": "Duplicate order"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "revoked"
    assert response.json()["status_reason"] == "Duplicate order"
    assert doc.post(f"/api/labs/{order['id']}/cancel/", {"reason": "again"}, format="json").status_code == 409
    # a revoked order takes no results
    lab = api_client_for(w["lab"])
    assert (
        lab.post(f"/api/labs/{order['id']}/results/", {"results": [{"value": 3}]}, format="json").status_code
        == 409
    )
    assert ServiceRequest.objects.filter(pk=order["id"]).exists()  # nothing deleted


def test_second_result_conflicts_and_entered_in_error_reopens_the_order(lab_world):
    w = lab_world
    order = _order(w, ["718-7"])[0]
    lab = api_client_for(w["lab"])
    assert (
        lab.post(
            f"/api/labs/{order['id']}/results/", {"results": [{"value": "13"}]}, format="json"
        ).status_code
        == 201
    )
    ServiceRequest.objects.filter(pk=order["id"]).update(status=OrderStatus.ACTIVE)
    assert (
        lab.post(
            f"/api/labs/{order['id']}/results/", {"results": [{"value": "14"}]}, format="json"
        ).status_code
        == 409
    )
    ServiceRequest.objects.filter(pk=order["id"]).update(status=OrderStatus.COMPLETED)

    assert (
        lab.post(f"/api/labs/{order['id']}/results/entered-in-error/", {}, format="json").status_code == 400
    )
    response = lab.post(
        f"/api/labs/{order['id']}/results/entered-in-error/", {"reason": "Wrong sample"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "active"
    assert response.json()["reports"] == []
    report = DiagnosticReport.objects.get(based_on_id=order["id"])
    assert report.status == "entered-in-error" and report.deletion_reason == "Wrong sample"
    assert report.results.get().deleted_at is not None
    again = lab.post(f"/api/labs/{order['id']}/results/", {"results": [{"value": "14"}]}, format="json")
    assert again.status_code == 201 and again.json()["reports"][0]["results"][0]["value"].startswith("14")


@pytest.mark.parametrize(
    "body, field",
    [
        ({"results": [{"code": "2093-3", "value": 5}]}, "results[0].code"),  # not part of the order
        ({"results": [{"value": "abc"}]}, "results"),
        ({"results": [{"value": 5, "unit": "mmol/L"}]}, "results[0].unit"),  # HbA1c is in %
        ({"results": [{}]}, "results[0].value"),
        ({"results": [{"value": 5, "interpretation": "X"}]}, "results"),
        ({"results": [{"value": 5, "reference_low": 9, "reference_high": 1}]}, "results[0].reference_low"),
        ({"results": []}, "results"),
        ({"results": [{"value": 5}], "status": "amended"}, "status"),
        ({"results": [{"value": 5}], "collected_at": "2999-01-01T00:00:00Z"}, "collected_at"),
        ({"results": [{"value": 5}], "conclusion": 12}, "conclusion"),
    ],
)
def test_bad_results_are_400_with_the_field_and_write_nothing(lab_world, body, field):
    w = lab_world
    order = _order(w, ["4548-4"])[0]
    response = api_client_for(w["lab"]).post(f"/api/labs/{order['id']}/results/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not DiagnosticReport.objects.filter(based_on_id=order["id"]).exists()
    assert not Observation.objects.filter(category="laboratory", patient=w["patient"]).exists()
    assert ServiceRequest.objects.get(pk=order["id"]).status == "active"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"codes": []}, "codes"),
        ({"codes": ["99999-9"]}, "codes"),
        ({"codes": "4548-4"}, "codes"),
        ({"codes": ["4548-4"], "priority": "whenever"}, "priority"),
        ({"codes": ["4548-4"], "reason": 5}, "reason"),
    ],
)
def test_bad_orders_are_400_and_write_nothing(lab_world, body, field):
    w = lab_world
    response = api_client_for(w["doctor"]).post(
        "/api/labs/", {"patient": w["patient"].pk, **body}, format="json"
    )
    assert response.status_code == 400 and field in response.json()
    assert not ServiceRequest.objects.exists()


def test_order_in_another_patients_encounter_is_refused(lab_world):
    w = lab_world
    other_visit = w["stranger"].encounters.get()
    body = {"patient": w["patient"].pk, "codes": ["4548-4"], "encounter": other_visit.pk}
    response = api_client_for(w["doctor"]).post("/api/labs/", body, format="json")
    assert response.status_code == 400 and "encounter" in response.json()


def test_panel_members_and_text_results(lab_world):
    w = lab_world
    order = _order(w, ["24356-8"])[0]
    results = [
        {"code": "5802-4", "value_string": "Positive", "interpretation": "A"},
        {"code": "2756-5", "value": "6.0"},
    ]
    response = api_client_for(w["lab"]).post(
        f"/api/labs/{order['id']}/results/",
        {"results": results, "conclusion": "Possible UTI."},
        format="json",
    )
    assert response.status_code == 201, response.content
    report = response.json()["reports"][0]
    assert report["conclusion"] == "Possible UTI."
    nitrite = next(r for r in report["results"] if r["code"]["code"] == "5802-4")
    assert (
        nitrite["value_string"] == "Positive"
        and nitrite["value"] is None
        and nitrite["reference_text"] == "Negative"
    )


def test_lab_technician_cannot_read_notes_or_conditions(lab_world):
    w = lab_world
    Condition.objects.create(patient=w["patient"], code="E11.9", code_display="Type 2 diabetes")
    lab = api_client_for(w["lab"])
    pid = w["patient"].pk
    for path in (
        f"/api/patients/{pid}/records/",
        f"/api/patients/{pid}/conditions/",
        f"/api/patients/{pid}/observations/",
        f"/api/records/{w['encounter'].pk}/",
    ):
        assert lab.get(path).status_code == 404, path
    _order(w, ["4548-4"])
    row = lab.get("/api/labs/").json()["results"][0]
    assert set(row["patient"]) == {"id", "medical_record_number", "name", "date_of_birth", "gender"}


def test_preliminary_then_final_updates_the_same_report(lab_world):
    w = lab_world
    order = _order(w, ["58410-2"])[0]
    lab = api_client_for(w["lab"])
    url = f"/api/labs/{order['id']}/results/"
    prelim = {
        "status": "preliminary",
        "results": [{"code": "718-7", "value": "13.1"}, {"code": "777-3", "value": 250}],
    }
    response = lab.post(url, prelim, format="json")
    assert response.status_code == 201 and response.json()["status"] == "active"  # still on the work list
    assert response.json()["reports"][0]["status"] == "preliminary"
    assert Notification.objects.filter(
        recipient=w["doctor"], event="lab.result", subject__contains="preliminary"
    ).exists()
    # the doctor cannot acknowledge (or release) a preliminary result
    assert api_client_for(w["doctor"]).post(f"/api/labs/{order['id']}/acknowledge/").status_code == 409
    final = {"status": "final", "results": [{"code": "718-7", "value": "6.5"}]}
    response = lab.post(url, final, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "completed" and len(body["reports"]) == 1
    report = body["reports"][0]
    values = {r["code"]["code"]: (r["value"], r["status"], r["interpretation"]) for r in report["results"]}
    assert values["718-7"][0].startswith("6.5") and values["718-7"][1:] == ("final", "LL")
    assert values["777-3"][0].startswith("250") and values["777-3"][1] == "final"
    assert report["status"] == "final" and report["is_critical"] is True
    assert DiagnosticReport.objects.filter(based_on_id=order["id"]).count() == 1
    assert Observation.objects.filter(patient=w["patient"], category="laboratory").count() == 2
    event = AuditEvent.objects.get(action="update", object_type="lab.DiagnosticReport")
    assert event.detail["previous_status"] == "preliminary"
    assert event.detail["changed"] == [{"code": "718-7", "from": "13.1 g/dL", "to": "6.5 g/dL"}]
    assert Notification.objects.filter(recipient=w["doctor"], event="lab.critical").count() == 1
    # final: a further result is a conflict
    assert lab.post(url, final, format="json").status_code == 409


def test_specimen_collection_dates_the_result(lab_world):
    w = lab_world
    order = _order(w, ["4548-4"])[0]
    lab = api_client_for(w["lab"])
    url = f"/api/labs/{order['id']}/collect/"
    assert lab.post(url, {"collected_at": "2999-01-01T00:00:00Z"}, format="json").status_code == 400
    taken = (timezone.now() - dt.timedelta(hours=2)).replace(microsecond=0)
    response = lab.post(url, {"collected_at": taken.isoformat()}, format="json")
    assert response.status_code == 200, response.content
    assert lab.post(url, {}, format="json").status_code == 409  # already collected
    lab.post(f"/api/labs/{order['id']}/results/", {"results": [{"value": "5.4"}]}, format="json")
    report = DiagnosticReport.objects.get(based_on_id=order["id"])
    assert report.effective_at == taken and report.results.get().effective_at == taken
    assert AuditEvent.objects.filter(action="update", object_type="lab.ServiceRequest").exists()
