"""The patient timeline: every registered source merged newest first, filtered by kind and date, scoped
and audited; `GET /api/patients/{id}/timeline/` with its role matrix."""

import datetime as dt

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import Condition
from hms.clinical.notes import note_create_draft, note_sign
from hms.clinical.selectors import patient_timeline
from hms.clinical.tests.chart_factory import chart_create
from hms.clinical.timeline import timeline_sources
from hms.core.testing import PatientFactory, api_client_for, make_user, put_in_care

NOW = timezone.now()


@pytest.fixture
def history(db):
    doctor = make_user(Role.DOCTOR)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    old = chart_create(patient=patient, practitioner=doctor.practitioner, when=NOW - dt.timedelta(days=400))
    new = chart_create(patient=patient, practitioner=doctor.practitioner, when=NOW - dt.timedelta(days=2))
    note = note_create_draft(encounter=new, by=doctor, assessment="Hypertension, controlled")
    note_sign(note=note, by=doctor)
    draft = note_create_draft(encounter=new, by=doctor, assessment="half-written")
    return {
        "doctor": doctor,
        "patient_user": patient_user,
        "patient": patient,
        "old": old,
        "new": new,
        "note": note,
        "draft": draft,
    }


def test_clinical_sources_are_registered_at_start_up():
    kinds = set(timeline_sources())
    assert {
        "encounter",
        "note",
        "diagnosis",
        "allergy",
        "vital",
        "prescription",
        "procedure",
        "immunization",
        "care-plan",
    } <= kinds


def test_timeline_merges_sources_newest_first(history):
    items = patient_timeline(user=history["doctor"], patient=history["patient"])
    assert [i.at for i in items] == sorted((i.at for i in items), reverse=True)
    kinds = {i.kind for i in items}
    assert {
        "encounter",
        "note",
        "diagnosis",
        "allergy",
        "vital",
        "prescription",
        "procedure",
        "immunization",
        "care-plan",
    } <= kinds
    encounters = [i for i in items if i.kind == "encounter"]
    assert [i.object_id for i in encounters] == [history["new"].pk, history["old"].pk]
    assert encounters[0].url == f"/encounters/{history['new'].pk}/"
    # The doctor sees their own draft; the patient never sees a draft.
    notes = {i.object_id for i in items if i.kind == "note"}
    assert notes == {history["note"].pk, history["draft"].pk}
    mine = patient_timeline(user=history["patient_user"], patient=history["patient"])
    assert {i.object_id for i in mine if i.kind == "note"} == {history["note"].pk}
    assert all(i.url == "" for i in mine)  # the encounter screen is for clinicians


def test_filters_by_kind_and_date_and_leaves_out_entered_in_error(history):
    doctor, patient = history["doctor"], history["patient"]
    items = patient_timeline(user=doctor, patient=patient, kinds=["diagnosis"])
    assert {i.kind for i in items} == {"diagnosis"} and len(items) == 2
    recent = patient_timeline(user=doctor, patient=patient, date_from=NOW - dt.timedelta(days=30))
    assert recent and all(i.at >= NOW - dt.timedelta(days=30) for i in recent)
    assert history["old"].pk not in {i.encounter_id for i in recent}
    older = patient_timeline(user=doctor, patient=patient, date_to=NOW - dt.timedelta(days=30))
    assert older and {i.encounter_id for i in older if i.encounter_id} == {history["old"].pk}
    condition = Condition.objects.filter(encounter=history["new"]).get()
    Condition.objects.filter(pk=condition.pk).update(deleted_at=NOW)
    left = patient_timeline(user=doctor, patient=patient, kinds=["diagnosis"])
    assert condition.pk not in {i.object_id for i in left}


def test_timeline_api_paginates_filters_and_audits(history):
    patient = history["patient"]
    client = api_client_for(history["doctor"])
    url = f"/api/patients/{patient.pk}/timeline/"
    body = client.get(url, {"page_size": 5}).json()
    assert len(body["results"]) == 5 and body["next"] and body["count"] > 5
    second = client.get(url, {"page_size": 5, "page": 2}).json()["results"]
    assert second[0]["at"] <= body["results"][-1]["at"]
    only = client.get(url, {"kind": "encounter,note"}).json()["results"]
    assert {r["kind"] for r in only} == {"encounter", "note"} and len(only) == 4
    day = (NOW - dt.timedelta(days=2)).astimezone(dt.UTC).date()
    dated = client.get(
        url,
        {
            "kind": "encounter",
            "date_from": (day - dt.timedelta(days=1)).isoformat(),
            "date_to": (day + dt.timedelta(days=1)).isoformat(),
        },
    ).json()["results"]
    assert [r["object_id"] for r in dated] == [history["new"].pk]
    assert client.get(url, {"kind": "gossip"}).status_code == 400
    assert client.get(url, {"date_from": "2024-13-01"}).status_code == 400
    bad_range = client.get(url, {"date_from": "2025-02-01", "date_to": "2025-01-01"})
    assert bad_range.status_code == 400 and "date_to" in bad_range.json()
    events = AuditEvent.objects.filter(action="search", object_type="clinical.Timeline", patient=patient)
    assert events.count() == 4


def test_timeline_role_matrix(history):
    patient = history["patient"]
    url = f"/api/patients/{patient.pk}/timeline/"
    nurse = make_user(Role.NURSE)
    put_in_care(nurse, patient)
    outsider = make_user(Role.DOCTOR)
    put_in_care(outsider, PatientFactory())
    expected = {
        history["doctor"]: 200,
        nurse: 200,
        history["patient_user"]: 200,
        outsider: 404,
        make_user(Role.PATIENT): 404,
        make_user(Role.ADMIN): 403,
        make_user(Role.RECEPTIONIST): 403,
        make_user(Role.PHARMACIST): 403,
        make_user(Role.LAB_TECHNICIAN): 403,
        make_user(Role.BILLING): 403,
    }
    for user, code in expected.items():
        assert api_client_for(user).get(url).status_code == code, user.role
    assert api_client_for(None).get(url).status_code == 401
    assert api_client_for(history["doctor"]).get("/api/patients/99999999/timeline/").status_code == 404


def test_a_long_history_is_read_in_gap_free_parts(history, monkeypatch):
    """With a (lowered) per-source limit, the first part stops where the cut source stops, and asking
    again from `older_before` returns the rest: together exactly the full history, nothing twice."""
    from hms.clinical import selectors

    doctor, patient = history["doctor"], history["patient"]
    full = [(i.kind, i.object_id) for i in patient_timeline(user=doctor, patient=patient)]
    monkeypatch.setattr(selectors, "TIMELINE_SOURCE_LIMIT", 3)
    parts, date_to = [], None
    for _ in range(20):
        part = patient_timeline(user=doctor, patient=patient, date_to=date_to)
        parts.extend((i.kind, i.object_id) for i in part)
        if part.older_before is None:
            break
        assert all(i.at >= part.older_before for i in part)
        date_to = part.older_before
    assert len(parts) == len(set(parts)) and sorted(parts) == sorted(full)

    client = api_client_for(doctor)
    url = f"/api/patients/{patient.pk}/timeline/"
    first = client.get(url).json()
    assert first["older_before"] is not None
    rest = client.get(url, {"before": first["older_before"], "page_size": 100}).json()
    seen = {(r["kind"], r["object_id"]) for r in first["results"]}
    assert not seen & {(r["kind"], r["object_id"]) for r in rest["results"]}


def test_lab_values_of_a_report_are_listed_once_and_daily_reports_join(history):
    """A laboratory observation inside a lab report is left to the `result` item of the report; one
    without a report stays an `observation`. The patient's daily reports are on the timeline too."""
    from hms.clinical.models import DailyHealthReport, Observation
    from hms.lab.models import DiagnosticReport

    doctor, patient = history["doctor"], history["patient"]
    assert "result" in timeline_sources()  # the lab module registers it
    in_report = {o.pk for r in DiagnosticReport.objects.filter(patient=patient) for o in r.results.all()}
    assert in_report
    Observation.objects.filter(pk__in=in_report).update(category="laboratory")
    loose = Observation.objects.create(
        patient=patient, category="laboratory", code="2339-0", code_display="Glucose", effective_at=NOW
    )
    items = patient_timeline(user=doctor, patient=patient, kinds=["observation"])
    ids = {i.object_id for i in items}
    assert loose.pk in ids and not ids & in_report

    report = DailyHealthReport.objects.create(patient=patient, report_date=NOW.date(), rating=7, mood="good")
    daily = patient_timeline(user=history["patient_user"], patient=patient, kinds=["daily-report"])
    assert [i.object_id for i in daily] == [report.pk]
