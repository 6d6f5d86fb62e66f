"""Daily health reports through the REST API: one per day, home vitals validated like staff vitals, the
alert to the patient's doctor (3-point drop or an abnormal home vital, once per report), and the role
matrix."""

import datetime as dt

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.daily_reports import hospital_today, report_doctors, timeline_daily_reports
from hms.clinical.models import DailyHealthReport, Observation
from hms.core.testing import EncounterFactory, api_client_for, make_user, put_in_care
from hms.messaging.models import Delivery, Notification
from hms.scheduling.models import Appointment, ServiceType

pytestmark = pytest.mark.django_db

URL = "/api/daily-reports/"


@pytest.fixture
def people():
    patient_user = make_user(Role.PATIENT)
    doctor = make_user(Role.DOCTOR)
    nurse = make_user(Role.NURSE)
    patient = patient_user.patient
    put_in_care(doctor, patient)
    put_in_care(nurse, patient)  # the nurse's encounter is the most recent: doctors are still found below
    EncounterFactory(patient=patient, practitioner=doctor.practitioner)  # most recent, with the doctor
    return patient_user, doctor, nurse, patient


def _previous(patient, rating, days_ago=1):
    return DailyHealthReport.objects.create(
        patient=patient,
        report_date=hospital_today() - dt.timedelta(days=days_ago),
        mood="good",
        rating=rating,
    )


def test_submit_creates_then_updates_todays_report(people):
    patient_user, _doctor, _nurse, patient = people
    client = api_client_for(patient_user)
    response = client.post(URL, {"mood": "good", "rating": 7, "symptoms": "Slight cough"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (
        body["rating"] == 7 and body["patient"] == patient.pk and body["report_date"] == str(hospital_today())
    )
    response = client.post(URL, {"mood": "okay", "rating": 6}, format="json")
    assert response.status_code == 200
    report = DailyHealthReport.objects.get(patient=patient)
    assert (report.mood, report.rating, report.symptoms) == ("okay", 6, "")
    assert AuditEvent.objects.filter(object_type="clinical.DailyHealthReport", action="create").count() == 1
    assert AuditEvent.objects.filter(object_type="clinical.DailyHealthReport", action="update").count() == 1


def test_home_vitals_are_observations_linked_to_the_report_and_replaced_on_update(people):
    patient_user, _doctor, _nurse, patient = people
    client = api_client_for(patient_user)
    vitals = {"systolic": 118, "diastolic": 76, "heart_rate": 70, "glucose": 110, "weight": "70.5"}
    response = client.post(URL, {"mood": "great", "rating": 9, "vitals": vitals}, format="json")
    assert response.status_code == 201, response.content
    report = DailyHealthReport.objects.get(patient=patient)
    codes_ = sorted(o.code for o in report.observations.all())
    assert codes_ == sorted(["85354-9", "8867-4", "41653-7", "29463-7"])
    assert all(o.recorded_by == patient_user and "home" in o.note for o in report.observations.all())
    assert {o["interpretation"] for o in response.json()["observations"]} == {"N", ""}  # weight: no range
    response = client.post(URL, {"mood": "great", "rating": 9, "vitals": {"heart_rate": 72}}, format="json")
    assert response.status_code == 200
    live = report.observations.filter(deleted_at__isnull=True)
    assert [o.code for o in live] == ["8867-4"]
    assert report.observations.filter(deleted_at__isnull=False).count() == 4  # kept, marked, never deleted
    assert [o["code"]["code"] for o in response.json()["observations"]] == ["8867-4"]


def test_out_of_range_home_vitals_are_400_with_range_and_units_and_nothing_saved(people):
    patient_user, _doctor, _nurse, _patient = people
    client = api_client_for(patient_user)
    response = client.post(
        URL, {"mood": "good", "rating": 7, "vitals": {"heart_rate": 400, "temperature": 20}}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["heart_rate"] == ["Heart rate must be between 20 and 300 /min."]
    assert response.json()["temperature"] == ["Body temperature must be between 25 and 45 °C."]
    for bad, field in (
        ({"mood": "fine", "rating": 5}, "mood"),
        ({"mood": "good", "rating": 0}, "rating"),
        ({"mood": "good", "rating": 11}, "rating"),
        ({"mood": "good", "rating": "x"}, "rating"),
        ({"mood": "good", "rating": 5, "vitals": {"respiratory_rate": 12}}, "respiratory_rate"),
        ({"mood": "good", "rating": 5, "vitals": "high"}, "vitals"),
        ({"mood": 5, "rating": 5}, "mood"),
        ({"mood": "good", "rating": True}, "rating"),
        ({"mood": "good", "rating": 5, "symptoms": "x" * 2001}, "symptoms"),
    ):
        response = client.post(URL, bad, format="json")
        assert response.status_code == 400, bad
        assert field in response.json(), (bad, response.json())
    assert not DailyHealthReport.objects.exists()
    assert not Observation.objects.exists()


def test_a_drop_of_three_alerts_the_doctor_once(people):
    patient_user, doctor, nurse, patient = people
    _previous(patient, 8)
    client = api_client_for(patient_user)
    response = client.post(URL, {"mood": "low", "rating": 5}, format="json")
    assert response.status_code == 201
    report = DailyHealthReport.objects.get(patient=patient, report_date=hospital_today())
    deliveries = Delivery.objects.filter(event="daily_report.alert")
    assert {d.recipient for d in deliveries} == {doctor}  # doctors only, not the nurse
    in_app = Notification.objects.get(recipient=doctor, event="daily_report.alert")
    assert patient.mrn in in_app.subject and "Rating dropped from 8 to 5" in in_app.body
    email = deliveries.filter(channel="email").first()
    if email is not None:  # email and SMS carry no health data
        assert "Rating" not in email.body and patient.mrn not in email.body
    assert all(d.dedupe_key == f"daily_report:{report.pk}:alert:{doctor.pk}" for d in deliveries)
    count = deliveries.count()
    # resubmitting the same day (still a drop) does not alert again
    assert client.post(URL, {"mood": "bad", "rating": 2}, format="json").status_code == 200
    assert Delivery.objects.filter(event="daily_report.alert").count() == count
    assert not Notification.objects.filter(recipient=nurse).exists()


def test_a_drop_of_two_does_not_alert(people):
    patient_user, _doctor, _nurse, patient = people
    _previous(patient, 8)
    _previous(patient, 2, days_ago=5)  # older reports do not count: only the previous one
    response = api_client_for(patient_user).post(URL, {"mood": "okay", "rating": 6}, format="json")
    assert response.status_code == 201
    assert not Delivery.objects.filter(event="daily_report.alert").exists()


def test_an_abnormal_home_vital_alerts(people):
    patient_user, doctor, _nurse, _patient = people
    body = {"mood": "okay", "rating": 6, "vitals": {"systolic": 190, "diastolic": 100, "spo2": 98}}
    response = api_client_for(patient_user).post(URL, body, format="json")
    assert response.status_code == 201
    note = Notification.objects.get(recipient=doctor, event="daily_report.alert")
    assert "190/100" in note.body and "Critical high" in note.body


def test_doctor_rule_falls_back_to_the_appointment_doctor(people):
    _patient_user, doctor, nurse, _patient = people
    lone = make_user(Role.PATIENT).patient
    EncounterFactory(patient=lone, practitioner=nurse.practitioner)  # latest encounter: nobody to alert
    assert report_doctors(lone) == []
    service = ServiceType.objects.create(code="vitals-test", display="Consultation")
    start = timezone.now() + dt.timedelta(days=2)
    common = {
        "patient": lone,
        "service_type": service,
        "start": start,
        "end": start + dt.timedelta(minutes=20),
    }
    Appointment.objects.create(practitioner=make_user(Role.DOCTOR).practitioner, status="cancelled", **common)
    assert report_doctors(lone) == []  # cancelled appointments do not count
    Appointment.objects.create(
        practitioner=doctor.practitioner,
        **{**common, "start": start + dt.timedelta(hours=1), "end": start + dt.timedelta(hours=2)},
    )
    assert report_doctors(lone) == [doctor]


def test_role_matrix_for_daily_reports(people):
    patient_user, doctor, nurse, patient = people
    other_user = make_user(Role.PATIENT)
    api_client_for(other_user).post(URL, {"mood": "good", "rating": 8}, format="json")
    response = api_client_for(patient_user).post(URL, {"mood": "good", "rating": 8}, format="json")
    own_id = response.json()["id"]
    other_id = DailyHealthReport.objects.get(patient=other_user.patient).pk

    # the patient: own list and detail; another patient's report 404; cannot post for another patient
    client = api_client_for(patient_user)
    assert [r["id"] for r in client.get(URL).json()["results"]] == [own_id]
    assert client.get(f"{URL}{own_id}/").status_code == 200
    assert client.get(f"{URL}{other_id}/").status_code == 404
    body = {"mood": "good", "rating": 8, "patient": other_user.patient.pk}
    assert client.post(URL, body, format="json").status_code == 404
    assert DailyHealthReport.objects.get(pk=other_id).rating == 8
    # doctors and nurses in care: read with ?patient=; another patient's report 404; cannot post
    for user in (doctor, nurse):
        staff = api_client_for(user)
        assert [r["id"] for r in staff.get(URL, {"patient": patient.pk}).json()["results"]] == [own_id]
        assert staff.get(URL, {"patient": other_user.patient.pk}).json()["results"] == []
        assert staff.get(f"{URL}{own_id}/").status_code == 200
        assert staff.get(f"{URL}{other_id}/").status_code == 404
        assert staff.post(URL, {"mood": "good", "rating": 8}, format="json").status_code == 403
    # other roles: no list (403), no detail (404), no posting (403)
    for role in (Role.RECEPTIONIST, Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.BILLING, Role.ADMIN):
        staff = api_client_for(make_user(role))
        assert staff.get(URL).status_code == 403, role
        assert staff.get(f"{URL}{own_id}/").status_code == 404, role
        assert staff.post(URL, {"mood": "good", "rating": 8}, format="json").status_code == 403, role
    assert api_client_for(None).get(URL).status_code == 401
    assert AuditEvent.objects.filter(action="read", object_type="clinical.DailyHealthReport").exists()


def test_timeline_source_lists_reports_in_scope(people):
    patient_user, doctor, _nurse, patient = people
    api_client_for(patient_user).post(URL, {"mood": "low", "rating": 4, "symptoms": "Dizzy"}, format="json")
    [item] = list(timeline_daily_reports(doctor, patient))
    assert (
        item.kind == "daily-report"
        and item.title == "Daily report: 4/10, mood low"
        and item.detail == "Dizzy"
    )
    assert list(timeline_daily_reports(make_user(Role.DOCTOR), patient)) == []
    later = timezone.now() + dt.timedelta(hours=1)
    assert list(timeline_daily_reports(doctor, patient, date_from=later)) == []
