"""The emergency department: arrival, ESI triage, the tracking board, door-to-doctor, time-target alerts,
departure (admission through the ADT services), the live push, and the role matrix of the ED API."""

import datetime as dt

import pytest
import time_machine
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from config.asgi import application
from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import EncounterClass, Observation
from hms.core.errors import Conflict
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.emergency import services
from hms.emergency.models import EdStatus, EdVisit
from hms.inpatient.models import Admission
from hms.messaging.models import Notification
from hms.messaging.reminders import reminders_run
from hms.patients.selectors import can_read_clinical

from .conftest import assign

VITALS = {"systolic": 128, "diastolic": 82, "heart_rate": 96, "respiratory_rate": 18, "spo2": 97}


def _triage(visit, nurse, level=3, **kw):
    return services.ed_triage(
        visit=visit,
        chief_complaint=kw.pop("complaint", "Chest pain"),
        esi_level=level,
        vitals=kw.pop("vitals", VITALS),
        by=nurse,
        **kw,
    )


# ---------------------------------------------------------------- ESI guidance


@pytest.mark.parametrize(
    ("answers", "level"),
    [
        ({"life_saving": True, "high_risk": True, "resources": 3}, 1),
        ({"life_saving": False, "high_risk": True, "resources": 0}, 2),
        ({"life_saving": False, "resources": 2}, 3),
        ({"life_saving": False, "resources": 2, "heart_rate": 120}, 2),
        ({"life_saving": False, "resources": 3, "spo2": 90}, 2),
        ({"life_saving": False, "resources": 2, "respiratory_rate": 20}, 3),
        ({"life_saving": False, "resources": 1, "heart_rate": 140}, 4),
        ({"life_saving": False, "resources": 0}, 5),
    ],
)
def test_esi_suggest_follows_the_decision_points(answers, level):
    assert services.esi_suggest(**answers) == level


def test_esi_suggest_refuses_negative_resources():
    with pytest.raises(ValidationError):
        services.esi_suggest(life_saving=False, resources=-1)


# ---------------------------------------------------------------- arrival and triage


def test_arrival_creates_an_emergency_encounter(receptionist, patient):
    res = api_client_for(receptionist).post(
        "/api/ed/visits/", {"patient": patient.pk, "chief_complaint": "Fell"}, format="json"
    )
    assert res.status_code == 201, res.content
    visit = EdVisit.objects.get(pk=res.json()["id"])
    assert visit.status == EdStatus.WAITING and visit.esi_level is None
    assert visit.encounter.encounter_class == EncounterClass.EMERGENCY
    assert visit.encounter.status == "arrived" and visit.encounter.practitioner is None
    assert AuditEvent.objects.filter(
        object_type="emergency.EdVisit", object_id=str(visit.pk), action="create"
    ).exists()
    # a second arrival while the first is in progress is a conflict
    again = api_client_for(receptionist).post("/api/ed/visits/", {"patient": patient.pk}, format="json")
    assert again.status_code == 409


def test_arrival_of_an_unknown_patient(nurse):
    res = api_client_for(nurse).post(
        "/api/ed/visits/",
        {"unknown": {"gender": "male", "approx_age": 40}, "chief_complaint": "Unconscious"},
        format="json",
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["patient"]["identity_unknown"] is True
    assert body["patient"]["name"].startswith("Unknown")
    # the arriving nurse is the encounter's practitioner: the patient is in her care
    visit = EdVisit.objects.get(pk=body["id"])
    assert can_read_clinical(nurse, visit.patient)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "patient"),
        ({"patient": 1, "unknown": {"gender": "male", "approx_age": 40}}, "patient"),
        ({"unknown": {"gender": "male", "approx_age": 300}}, "unknown"),
        ({"patient": "x"}, "patient"),
    ],
)
def test_arrival_bad_input_is_400(nurse, body, field):
    res = api_client_for(nurse).post("/api/ed/visits/", body, format="json")
    assert res.status_code == 400 and field in res.json()
    assert not EdVisit.objects.exists()


def test_triage_records_level_and_vitals_and_puts_the_patient_in_the_nurses_care(
    receptionist, nurse, patient
):
    visit = services.ed_visit_create(by=receptionist, patient=patient)
    assert not can_read_clinical(nurse, patient)
    res = api_client_for(nurse).post(
        f"/api/ed/visits/{visit.pk}/triage/",
        {"chief_complaint": "Chest pain", "esi_level": 2, "vitals": VITALS, "note": "Pale"},
        format="json",
    )
    assert res.status_code == 200, res.content
    visit.refresh_from_db()
    assert visit.esi_level == 2 and visit.triaged_by == nurse and visit.triaged_at is not None
    assert visit.encounter.status == "triaged"
    assert visit.vitals.count() == 4  # BP panel, HR, RR, SpO2
    assert set(visit.vitals.values_list("encounter", flat=True)) == {visit.encounter_id}
    assert can_read_clinical(nurse, patient)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"esi_level": 0}, "esi_level"),
        ({"esi_level": 6}, "esi_level"),
        ({"esi_level": "two"}, "esi_level"),
        ({"esi_level": 2.5}, "esi_level"),
        ({"chief_complaint": ""}, "chief_complaint"),
        ({"vitals": {}}, "vitals"),
        ({"vitals": {"heart_rate": 500}}, "heart_rate"),
        ({"vitals": {"temperature": 20}}, "temperature"),
        ({"vitals": {"spo2": "abc"}}, "spo2"),
    ],
)
def test_triage_validation_is_400_and_writes_nothing(receptionist, nurse, patient, change, field):
    visit = services.ed_visit_create(by=receptionist, patient=patient)
    body = {"chief_complaint": "Chest pain", "esi_level": 3, "vitals": VITALS, **change}
    res = api_client_for(nurse).post(f"/api/ed/visits/{visit.pk}/triage/", body, format="json")
    assert res.status_code == 400, res.content
    assert field in res.json()
    visit.refresh_from_db()
    assert visit.esi_level is None and visit.triaged_at is None
    assert not Observation.objects.filter(patient=patient).exists()


def test_board_orders_by_esi_then_arrival(receptionist, nurse, doctor):
    now = timezone.now()
    rows = {}
    for name, minutes_ago, level in [("a", 50, 3), ("b", 40, 2), ("c", 30, 3), ("d", 20, None), ("e", 10, 1)]:
        visit = services.ed_visit_create(
            by=receptionist, patient=PatientFactory(), arrived_at=now - dt.timedelta(minutes=minutes_ago)
        )
        if level:
            _triage(visit, nurse, level)
        rows[visit.pk] = name
    res = api_client_for(doctor).get("/api/ed/visits/")
    assert res.status_code == 200
    order = [rows[r["id"]] for r in res.json()["results"]]
    assert order == ["d", "e", "b", "a", "c"]  # untriaged first, then ESI 1, 2, 3 (older first)
    assert res.json()["results"][3]["waiting_minutes"] >= 49
    event = AuditEvent.objects.filter(action="search", object_type="emergency.EdVisit").latest("id")
    assert len(event.patient_ids) == 5


def test_door_to_doctor_is_recorded(receptionist, nurse, doctor, patient):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        visit = services.ed_visit_create(by=receptionist, patient=patient)
        _triage(visit, nurse, 3)
    with time_machine.travel(start + dt.timedelta(minutes=17), tick=False):
        res = api_client_for(doctor).post(f"/api/ed/visits/{visit.pk}/seen/", {}, format="json")
    assert res.status_code == 200, res.content
    assert res.json()["door_to_doctor_seconds"] == 17 * 60
    visit.refresh_from_db()
    assert visit.status == EdStatus.IN_TREATMENT and visit.seen_by == doctor.practitioner
    assert visit.encounter.status == "in-progress"
    assert can_read_clinical(doctor, patient)
    again = api_client_for(doctor).post(f"/api/ed/visits/{visit.pk}/seen/", {}, format="json")
    assert again.status_code == 409


# ---------------------------------------------------------------- time targets


def test_target_alert_goes_out_once_when_exceeded(receptionist, nurse, doctor, ward, patient):
    assign(nurse, ward)
    assign(doctor, ward)
    bystander = make_user(Role.NURSE)  # not assigned to the ED: not alerted
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        visit = services.ed_visit_create(by=receptionist, patient=patient)
        _triage(visit, nurse, 2)  # target 10 minutes
    with time_machine.travel(start + dt.timedelta(minutes=9), tick=False):
        reminders_run()
    visit.refresh_from_db()
    assert visit.target_alerted_at is None
    assert not Notification.objects.filter(event="ed.target_exceeded").exists()
    with time_machine.travel(start + dt.timedelta(minutes=11), tick=False):
        reminders_run()
        reminders_run()
    visit.refresh_from_db()
    assert visit.target_alerted_at is not None
    alerted = Notification.objects.filter(event="ed.target_exceeded")
    assert sorted(alerted.values_list("recipient", flat=True)) == sorted([nurse.pk, doctor.pk])
    assert bystander.pk not in alerted.values_list("recipient", flat=True)
    assert patient.family_name not in alerted.first().body  # no name in the alert
    with time_machine.travel(start + dt.timedelta(minutes=60), tick=False):
        assert services.ed_target_alerts_send() == 0
    assert alerted.count() == 2


def test_a_seen_patient_raises_no_alert(receptionist, nurse, doctor, ward, patient):
    assign(nurse, ward)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        visit = services.ed_visit_create(by=receptionist, patient=patient)
        _triage(visit, nurse, 2)
        services.ed_seen(visit=visit, by=doctor)
    with time_machine.travel(start + dt.timedelta(minutes=30), tick=False):
        assert services.ed_target_alerts_send() == 0


# ---------------------------------------------------------------- departure


def test_admission_from_the_ed(receptionist, nurse, doctor, patient, medicine_bed):
    visit = services.ed_visit_create(by=receptionist, patient=patient, chief_complaint="Sepsis")
    _triage(visit, nurse, 2)
    services.ed_seen(visit=visit, by=doctor)
    res = api_client_for(doctor).post(
        f"/api/ed/visits/{visit.pk}/depart/",
        {"disposition": "admitted", "bed": medicine_bed.pk, "reason": "Sepsis, IV antibiotics"},
        format="json",
    )
    assert res.status_code == 200, res.content
    admission = Admission.objects.get(pk=res.json()["admission"])
    assert admission.source == "emergency" and admission.patient == patient
    assert admission.source_encounter_id == visit.encounter_id
    assert admission.admitting_practitioner == doctor.practitioner
    medicine_bed.refresh_from_db()
    assert medicine_bed.status == "occupied"
    visit.refresh_from_db()
    assert visit.status == EdStatus.ADMITTED and visit.departed_at is not None
    assert visit.encounter.status == "finished"
    # gone from the board, and nothing more can happen to it
    assert api_client_for(doctor).get("/api/ed/visits/").json()["results"] == []
    with pytest.raises(Conflict):
        services.ed_depart(visit=visit, disposition="discharged", by=doctor)


def test_admission_needs_a_bed_and_a_doctor(receptionist, nurse, doctor, patient, medicine_bed):
    visit = services.ed_visit_create(by=receptionist, patient=patient)
    _triage(visit, nurse, 3)
    res = api_client_for(doctor).post(
        f"/api/ed/visits/{visit.pk}/depart/", {"disposition": "admitted"}, format="json"
    )
    assert res.status_code == 400 and "bed" in res.json()
    res = api_client_for(nurse).post(
        f"/api/ed/visits/{visit.pk}/depart/",
        {"disposition": "admitted", "bed": medicine_bed.pk},
        format="json",
    )
    assert res.status_code == 404
    res = api_client_for(nurse).post(
        f"/api/ed/visits/{visit.pk}/depart/", {"disposition": "home"}, format="json"
    )
    assert res.status_code == 400 and "disposition" in res.json()
    assert not Admission.objects.exists()
    visit.refresh_from_db()
    assert visit.departed_at is None


def test_left_without_being_seen(receptionist, nurse, patient):
    visit = services.ed_visit_create(by=receptionist, patient=patient)
    res = api_client_for(nurse).post(
        f"/api/ed/visits/{visit.pk}/depart/", {"disposition": "left"}, format="json"
    )
    assert res.status_code == 200
    assert res.json()["visit"]["status"] == "left" and res.json()["admission"] is None


# ---------------------------------------------------------------- role matrix


ROLES = [Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.PHARMACIST, Role.LAB_TECHNICIAN,
         Role.BILLING, Role.PATIENT]  # fmt: skip


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role, receptionist, patient):
    user = make_user(role)
    client = api_client_for(user)
    visit = services.ed_visit_create(by=receptionist, patient=patient)
    board = client.get("/api/ed/visits/")
    assert board.status_code == (200 if role in (Role.DOCTOR, Role.NURSE) else 403)
    arrival = client.post("/api/ed/visits/", {"patient": PatientFactory().pk}, format="json")
    assert arrival.status_code == (201 if role in (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST) else 403)
    triage = client.post(
        f"/api/ed/visits/{visit.pk}/triage/",
        {"chief_complaint": "x", "esi_level": 4, "vitals": VITALS},
        format="json",
    )
    assert triage.status_code == (200 if role == Role.NURSE else 403)
    seen = client.post(f"/api/ed/visits/{visit.pk}/seen/", {}, format="json")
    assert seen.status_code == (200 if role == Role.DOCTOR else 403)
    suggest = client.post("/api/ed/esi-suggest/", {"life_saving": False, "resources": 1}, format="json")
    assert suggest.status_code == (200 if role in (Role.DOCTOR, Role.NURSE) else 403)
    if role in (Role.DOCTOR, Role.NURSE):
        assert suggest.json() == {"esi_level": 4}
        assert client.post("/api/ed/visits/999999/seen/", {}, format="json").status_code in (403, 404)
        assert (
            client.post("/api/ed/visits/999999/depart/", {"disposition": "left"}, format="json").status_code
            == 404
        )
    depart = client.post(f"/api/ed/visits/{visit.pk}/depart/", {"disposition": "discharged"}, format="json")
    assert depart.status_code == (200 if role in (Role.DOCTOR, Role.NURSE) else 403)
    assert api_client_for(None).get("/api/ed/visits/").status_code == 401


def test_patient_cannot_reach_the_board_or_a_visit(receptionist, patient):
    other = make_user(Role.PATIENT)
    visit = services.ed_visit_create(by=receptionist, patient=patient)
    client = api_client_for(other)
    assert client.get("/api/ed/visits/").status_code == 403
    assert client.post(f"/api/ed/visits/{visit.pk}/seen/", {}, format="json").status_code == 403


# ---------------------------------------------------------------- live push


def _headers(user=None) -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        headers.append((b"cookie", cookie.encode()))
    return headers


@pytest.mark.django_db(transaction=True)
def test_triage_is_pushed_on_the_ed_board_group():
    nurse = make_user(Role.NURSE)
    watcher = make_user(Role.DOCTOR)
    visit = services.ed_visit_create(by=make_user(Role.RECEPTIONIST), patient=PatientFactory())
    headers = _headers(watcher)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/ed/board/", headers=headers)
        connected, _ = await communicator.connect(timeout=3)
        assert connected
        assert await communicator.receive_nothing(timeout=0.1)
        await sync_to_async(_triage)(visit, nurse, 2)
        message = await communicator.receive_json_from(timeout=3)
        await communicator.disconnect()
        return message

    assert async_to_sync(scenario)() == {"event": "ed.changed"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", [Role.RECEPTIONIST, Role.PATIENT, Role.ADMIN, None])
def test_the_board_socket_refuses_non_ed_staff(role):
    headers = _headers(make_user(role) if role else None)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/ed/board/", headers=headers)
        connected, _ = await communicator.connect(timeout=3)
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


# ---------------------------------------------------------------- portal pages


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("role", ROLES)
def test_board_page_is_for_ed_staff(role, receptionist, patient):
    from django.urls import reverse

    services.ed_visit_create(by=receptionist, patient=patient, chief_complaint="Fall")
    res = _web(make_user(role)).get(reverse("portal:ed_board"))
    if role in (Role.DOCTOR, Role.NURSE):
        assert res.status_code == 200
        assert patient.family_name.upper() in res.content.decode()
        event = AuditEvent.objects.filter(action="search", channel="web", object_type="emergency.EdVisit")
        assert patient.pk in event.latest("id").patient_ids
    else:
        assert res.status_code == 403
    arrival = _web(make_user(role)).get(reverse("portal:ed_arrival"))
    assert arrival.status_code == (200 if role in (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST) else 403)


def test_triage_page_saves_and_shows_errors(receptionist, nurse, patient):
    from django.urls import reverse

    visit = services.ed_visit_create(by=receptionist, patient=patient)
    url = reverse("portal:ed_triage", args=[visit.pk])
    page = _web(nurse).get(url)
    assert page.status_code == 200 and "ESI" in page.content.decode()
    bad = _web(nurse).post(url, {"chief_complaint": "Chest pain", "esi_level": "7", "heart_rate": "90"})
    assert bad.status_code == 400 and "from 1 to 5" in bad.content.decode()
    ok = _web(nurse).post(
        url, {"chief_complaint": "Chest pain", "esi_level": "2", "heart_rate": "120", "spo2": "95"}
    )
    assert ok.status_code == 302
    visit.refresh_from_db()
    assert visit.esi_level == 2 and visit.vitals.count() == 2
    suggestion = _web(nurse).post(reverse("portal:ed_esi_suggest"), {"resources": "2", "heart_rate": "120"})
    assert "ESI 2" in suggestion.content.decode()


def test_arrival_page_registers_a_known_and_an_unknown_patient(receptionist, patient):
    from django.urls import reverse

    url = reverse("portal:ed_arrival")
    found = _web(receptionist).get(reverse("portal:ed_patient_search"), {"q": patient.mrn})
    assert patient.family_name.upper() in found.content.decode()
    assert _web(receptionist).post(url, {"kind": "known", "patient": patient.pk}).status_code == 302
    res = _web(receptionist).post(url, {"kind": "unknown", "u-gender": "female", "u-approx_age": "30"})
    assert res.status_code == 302
    assert EdVisit.objects.filter(patient__identity_unknown=True).count() == 1
    bad = _web(receptionist).post(url, {"kind": "known", "patient": "999999"})
    assert bad.status_code == 400
