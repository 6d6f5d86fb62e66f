"""Encounter lifecycle through the REST API: start from an appointment or as a walk-in, close with a
discharge disposition; the linked appointment follows; the role matrix of every encounter endpoint."""

import datetime as dt

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import Encounter, EncounterClass, EncounterStatus
from hms.core.testing import PatientFactory, api_client_for, make_user, put_in_care
from hms.scheduling.models import Appointment, AppointmentChange, AppointmentStatus, ServiceType


def make_appointment(doctor, patient, *, status=AppointmentStatus.BOOKED, service=None, reason="Cough"):
    """An appointment of `patient` with `doctor` starting now (today in any time zone)."""
    service = (
        service or ServiceType.objects.get_or_create(code="consult", defaults={"display": "Consultation"})[0]
    )
    start = timezone.now()
    return Appointment.objects.create(
        patient=patient,
        practitioner=doctor.practitioner,
        service_type=service,
        start=start,
        end=start + dt.timedelta(minutes=20),
        status=status,
        reason=reason,
    )


@pytest.fixture
def visit(db):
    """(doctor, patient, appointment): a booked appointment today."""
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    return doctor, patient, make_appointment(doctor, patient)


def test_doctor_starts_the_visit_of_a_booked_appointment_and_closes_it(visit):
    doctor, patient, appointment = visit
    client = api_client_for(doctor)

    response = client.post(f"/api/appointments/{appointment.pk}/start-encounter/")
    assert response.status_code == 201, response.content
    body = response.json()
    encounter = Encounter.objects.get(pk=body["id"])
    assert body["status"] == "in-progress" and body["encounter_class"] == "AMB"
    assert body["appointment"] == appointment.pk and body["reason"]["display"] == "Cough"
    assert encounter.practitioner == doctor.practitioner and encounter.period_end is None
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.IN_PROGRESS
    # checked in, then started: two status changes recorded by the scheduling services
    assert list(
        AppointmentChange.objects.filter(appointment=appointment)
        .order_by("id")
        .values_list("to_status", flat=True)
    ) == ["arrived", "in-progress"]
    assert AuditEvent.objects.filter(
        action="create", object_type="clinical.Encounter", object_id=str(encounter.pk), patient=patient
    ).exists()

    # A second start returns the same encounter (200), nothing new is created.
    again = client.post("/api/encounters/", {"appointment": appointment.pk}, format="json")
    assert again.status_code == 200 and again.json()["id"] == encounter.pk
    assert Encounter.objects.filter(appointment=appointment).count() == 1

    bad = client.post(f"/api/encounters/{encounter.pk}/close/", {"disposition": "lunch"}, format="json")
    assert bad.status_code == 400 and "disposition" in bad.json()
    closed = client.post(f"/api/encounters/{encounter.pk}/close/", {"disposition": "home"}, format="json")
    assert closed.status_code == 200, closed.content
    assert closed.json()["status"] == "finished" and closed.json()["discharge_disposition"] == "home"
    encounter.refresh_from_db()
    appointment.refresh_from_db()
    assert encounter.period_end is not None and encounter.period_end >= encounter.period_start
    assert appointment.status == AppointmentStatus.FULFILLED

    twice = client.post(f"/api/encounters/{encounter.pk}/close/", {"disposition": "home"}, format="json")
    assert twice.status_code == 409 and twice.json()["status"] == "finished"


def test_a_virtual_service_opens_a_virtual_encounter(db):
    doctor, patient = make_user(Role.DOCTOR), PatientFactory()
    video = ServiceType.objects.create(code="video-consult", display="Video consultation")
    appointment = make_appointment(doctor, patient, service=video, status=AppointmentStatus.ARRIVED)
    response = api_client_for(doctor).post("/api/encounters/", {"appointment": appointment.pk}, format="json")
    assert response.status_code == 201 and response.json()["encounter_class"] == "VR"


def test_a_cancelled_appointment_cannot_be_started_and_nothing_is_written(visit):
    doctor, patient, appointment = visit
    Appointment.objects.filter(pk=appointment.pk).update(status=AppointmentStatus.CANCELLED)
    response = api_client_for(doctor).post(f"/api/appointments/{appointment.pk}/start-encounter/")
    assert response.status_code == 400 and "status" in response.json()
    assert not Encounter.objects.filter(patient=patient).exists()


def test_an_appointment_of_another_day_is_refused_atomically(visit):
    doctor, patient, appointment = visit
    start = timezone.now() + dt.timedelta(days=3)
    Appointment.objects.filter(pk=appointment.pk).update(start=start, end=start + dt.timedelta(minutes=20))
    response = api_client_for(doctor).post(f"/api/appointments/{appointment.pk}/start-encounter/")
    assert response.status_code == 400
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED
    assert not Encounter.objects.filter(patient=patient).exists()


def test_walk_in_puts_the_patient_in_the_doctors_care(db):
    doctor, patient = make_user(Role.DOCTOR), PatientFactory()
    client = api_client_for(doctor)
    assert client.get(f"/api/patients/{patient.pk}/records/").status_code == 404

    response = client.post(
        "/api/encounters/",
        {"patient": patient.pk, "encounter_class": "EMER", "reason": "Fall from ladder"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["encounter_class"] == "EMER" and body["status"] == "in-progress" and body["appointment"] is None
    )
    assert client.get(f"/api/patients/{patient.pk}/records/").status_code == 200
    event = AuditEvent.objects.get(
        action="create", object_type="clinical.Encounter", object_id=str(body["id"])
    )
    assert event.detail["walk_in"] is True and event.detail["care_started"] is True

    closed = client.post(f"/api/encounters/{body['id']}/close/", {"disposition": "other-hcf"}, format="json")
    assert closed.status_code == 200 and closed.json()["discharge_disposition"] == "other-hcf"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"encounter_class": "AMB"}, "patient"),
        ({"patient": 1}, "encounter_class"),
        ({"patient": 1, "encounter_class": "XYZ"}, "encounter_class"),
        ({"patient": 1, "encounter_class": "AMB", "reason": 42}, "reason"),
        ({"patient": 1, "encounter_class": "AMB", "reason": "x" * 501}, "reason"),
        ({"patient": "abc", "encounter_class": "AMB"}, "patient"),
    ],
)
def test_walk_in_bad_input_is_a_400_with_the_field(db, payload, field):
    doctor = make_user(Role.DOCTOR)
    response = api_client_for(doctor).post("/api/encounters/", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not Encounter.objects.exists()


def test_walk_in_for_a_missing_or_deleted_patient_is_404(db):
    doctor = make_user(Role.DOCTOR)
    gone = PatientFactory(deleted_at=timezone.now())
    client = api_client_for(doctor)
    for pk in (gone.pk, 999999):
        response = client.post("/api/encounters/", {"patient": pk, "encounter_class": "AMB"}, format="json")
        assert response.status_code == 404


ROLES = [Role.ADMIN, Role.RECEPTIONIST, Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.BILLING, Role.PATIENT]


@pytest.fixture
def matrix(db):
    """An open encounter of `patient` with `doctor`; a nurse in the patient's care; outsiders."""
    doctor = make_user(Role.DOCTOR)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    encounter = Encounter.objects.create(
        patient=patient,
        practitioner=doctor.practitioner,
        encounter_class=EncounterClass.AMBULATORY,
        status=EncounterStatus.IN_PROGRESS,
        period_start=timezone.now(),
    )
    nurse = make_user(Role.NURSE)
    put_in_care(nurse, patient)
    other_doctor = make_user(Role.DOCTOR)
    put_in_care(other_doctor, PatientFactory())
    users = {r: make_user(r) for r in ROLES if r != Role.PATIENT}
    users[Role.PATIENT] = patient_user
    other_patient = make_user(Role.PATIENT)
    return {
        "doctor": doctor,
        "nurse": nurse,
        "other_doctor": other_doctor,
        "other_patient": other_patient,
        "patient_record": patient,
        "encounter": encounter,
        **users,
    }


def test_role_matrix_of_reading_an_encounter(matrix):
    url = f"/api/encounters/{matrix['encounter'].pk}/"
    expected = {
        "doctor": 200,
        "nurse": 200,
        Role.PATIENT: 200,
        "other_doctor": 404,
        "other_patient": 404,
        Role.ADMIN: 403,
        Role.RECEPTIONIST: 403,
        Role.PHARMACIST: 403,
        Role.LAB_TECHNICIAN: 403,
        Role.BILLING: 403,
    }
    for who, code in expected.items():
        assert api_client_for(matrix[who]).get(url).status_code == code, who
    assert api_client_for(None).get(url).status_code == 401
    assert api_client_for(matrix["doctor"]).get("/api/encounters/999999/").status_code == 404
    assert AuditEvent.objects.filter(action="read", object_type="clinical.Encounter").count() == 3


def test_role_matrix_of_closing_and_starting(matrix):
    url = f"/api/encounters/{matrix['encounter'].pk}/close/"
    for who in ("nurse", Role.PATIENT, Role.ADMIN, Role.RECEPTIONIST, Role.BILLING, Role.PHARMACIST):
        response = api_client_for(matrix[who]).post(url, {"disposition": "home"}, format="json")
        assert response.status_code == 403, who
    response = api_client_for(matrix["other_doctor"]).post(url, {"disposition": "home"}, format="json")
    assert response.status_code == 404
    walk_in = {"patient": matrix["patient_record"].pk, "encounter_class": "AMB"}
    for who in ("nurse", Role.PATIENT, Role.ADMIN, Role.RECEPTIONIST, Role.LAB_TECHNICIAN):
        assert api_client_for(matrix[who]).post("/api/encounters/", walk_in, format="json").status_code == 403
    matrix["encounter"].refresh_from_db()
    assert matrix["encounter"].status == "in-progress"
    assert (
        api_client_for(matrix["doctor"]).post(url, {"disposition": "home"}, format="json").status_code == 200
    )


def test_another_doctors_appointment_is_not_theirs_to_start(visit):
    _doctor, patient, appointment = visit
    other = make_user(Role.DOCTOR)
    put_in_care(other, patient)
    response = api_client_for(other).post(f"/api/appointments/{appointment.pk}/start-encounter/")
    assert response.status_code == 404  # a colleague does not even see the appointment
    assert not Encounter.objects.filter(appointment=appointment).exists()


def test_record_detail_includes_the_encounters_notes(matrix):
    from hms.clinical.notes import note_addendum_add, note_create_draft, note_sign

    doctor, encounter = matrix["doctor"], matrix["encounter"]
    note = note_create_draft(encounter=encounter, by=doctor, assessment="Viral URTI")
    note_sign(note=note, by=doctor)
    note_addendum_add(note=note, by=doctor, reason="Result came back", text="CRP normal")
    note_create_draft(encounter=encounter, by=doctor, assessment="unsigned")
    body = api_client_for(matrix[Role.PATIENT]).get(f"/api/records/{encounter.pk}/").json()
    assert [n["assessment"] for n in body["notes"]] == ["Viral URTI"]  # the patient never sees drafts
    assert body["notes"][0]["status"] == "amended" and body["notes"][0]["addenda"][0]["text"] == "CRP normal"
    own = api_client_for(doctor).get(f"/api/records/{encounter.pk}/").json()
    assert [n["status"] for n in own["notes"]] == ["amended", "preliminary"]
    history = (
        api_client_for(matrix[Role.PATIENT])
        .get(f"/api/patients/{matrix['patient_record'].pk}/records/")
        .json()
    )
    assert [n["assessment"] for n in history["results"][0]["notes"]] == ["Viral URTI"]


def test_walk_in_for_a_patient_not_yet_in_care_needs_a_reason(db):
    doctor, stranger, known = make_user(Role.DOCTOR), PatientFactory(), PatientFactory()
    put_in_care(doctor, known)
    client = api_client_for(doctor)
    refused = client.post(
        "/api/encounters/", {"patient": stranger.pk, "encounter_class": "EMER"}, format="json"
    )
    assert refused.status_code == 400 and "reason" in refused.json()
    assert not Encounter.objects.filter(patient=stranger).exists()
    # A patient already in the doctor's care needs no stated reason.
    ok = client.post("/api/encounters/", {"patient": known.pk, "encounter_class": "AMB"}, format="json")
    assert ok.status_code == 201
    event = AuditEvent.objects.get(
        action="create", object_type="clinical.Encounter", object_id=str(ok.json()["id"])
    )
    assert event.detail["care_started"] is False


def test_the_endpoints_are_in_the_openapi_schema(db):
    schema = api_client_for(make_user(Role.DOCTOR)).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    for path, method in [
        ("/api/encounters/", "post"),
        ("/api/encounters/{id}/", "get"),
        ("/api/encounters/{id}/close/", "post"),
        ("/api/encounters/{id}/notes/", "get"),
        ("/api/encounters/{id}/notes/", "post"),
        ("/api/appointments/{id}/start-encounter/", "post"),
        ("/api/notes/{id}/", "patch"),
        ("/api/notes/{id}/sign/", "post"),
        ("/api/notes/{id}/addenda/", "post"),
        ("/api/notes/{id}/entered-in-error/", "post"),
        ("/api/note-templates/", "get"),
        ("/api/patients/{id}/timeline/", "get"),
    ]:
        assert method in paths[path], path
