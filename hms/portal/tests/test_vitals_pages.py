"""Portal pages of vitals and daily reports: the encounter section (htmx), the nurse entry page with
search-as-you-type, the charts page, the patient's daily report page, the doctor's trend fragment; access
(404 for another patient) and audit; one browser test (the patient submits a report and sees the chart)."""

import datetime as dt

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.daily_reports import hospital_today
from hms.clinical.models import DailyHealthReport, Observation
from hms.clinical.vitals import vitals_record
from hms.core.testing import PatientFactory, make_user, put_in_care
from hms.messaging.models import Notification

from .conftest import PASSWORD

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ward(db):
    nurse = make_user(Role.NURSE)
    doctor = make_user(Role.DOCTOR)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    encounter = put_in_care(doctor, patient)
    put_in_care(nurse, patient)
    return nurse, doctor, patient_user, patient, encounter


def test_encounter_section_records_a_set_and_shows_flags(client, ward):
    _nurse, doctor, _pu, _patient, encounter = ward
    client.force_login(doctor)
    url = f"/encounters/{encounter.pk}/vitals/"
    page = client.get(url, **HTMX)
    assert page.status_code == 200
    html = page.content.decode()
    assert "No vital signs recorded in this encounter." in html
    assert f'<label for="ev{encounter.pk}-heart_rate">Heart rate (/min)</label>' in html
    assert "<html" not in html  # a fragment
    response = client.post(url, {"systolic": "185", "diastolic": "95", "heart_rate": "72"}, **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "185/95 mmHg" in html and 'data-flag="HH"' in html and 'data-flag="N"' in html
    rows = Observation.objects.filter(encounter=encounter)
    assert rows.count() == 2 and {r.recorded_by for r in rows} == {doctor}


def test_encounter_section_shows_range_errors_and_saves_nothing(client, ward):
    nurse, _doctor, _pu, _patient, encounter = ward
    client.force_login(nurse)
    response = client.post(f"/encounters/{encounter.pk}/vitals/", {"heart_rate": "500", "spo2": "97"}, **HTMX)
    assert response.status_code == 200
    assert "Heart rate must be between 20 and 300 /min." in response.content.decode()
    assert not Observation.objects.exists()
    # without htmx the page answers 400 with the same message
    response = client.post(f"/encounters/{encounter.pk}/vitals/", {"heart_rate": "500"})
    assert response.status_code == 400 and "between 20 and 300 /min" in response.content.decode()


def test_encounter_section_marks_a_row_entered_in_error_with_a_reason(client, ward):
    nurse, _doctor, _pu, patient, encounter = ward
    [row] = vitals_record(patient=patient, encounter=encounter, values={"heart_rate": 250}, by=nurse)
    client.force_login(nurse)
    url = f"/encounters/{encounter.pk}/vitals/"
    assert "Mark entered in error" in client.get(url, **HTMX).content.decode()
    missing = client.post(url, {"action": "entered-in-error", "observation": row.pk, "reason": ""}, **HTMX)
    assert "Say why this record was entered in error." in missing.content.decode()
    done = client.post(
        url, {"action": "entered-in-error", "observation": row.pk, "reason": "Wrong patient"}, **HTMX
    )
    assert "Marked entered in error" in done.content.decode() and "250 /min" not in done.content.decode()
    row.refresh_from_db()
    assert row.deleted_at is not None and row.deletion_reason == "Wrong patient" and row.deleted_by == nurse


def test_encounter_section_access(client, ward):
    _nurse, _doctor, patient_user, _patient, encounter = ward
    url = f"/encounters/{encounter.pk}/vitals/"
    for role in (Role.DOCTOR, Role.RECEPTIONIST, Role.ADMIN, Role.PHARMACIST):  # the doctor: not in care
        client.force_login(make_user(role))
        assert client.get(url, **HTMX).status_code == 404, role
        assert client.post(url, {"heart_rate": "70"}, **HTMX).status_code == 404, role
    client.force_login(patient_user)  # the patient reads their own encounter's vitals, without the form
    page = client.get(url, **HTMX)
    assert page.status_code == 200 and "<form" not in page.content.decode()
    assert client.post(url, {"heart_rate": "70"}, **HTMX).status_code == 403
    client.force_login(make_user(Role.PATIENT))
    assert client.get(url, **HTMX).status_code == 404
    assert not Observation.objects.exists()


def test_nurse_entry_page_search_pick_and_record(client, ward):
    nurse, _doctor, _pu, patient, _encounter = ward
    stranger = PatientFactory(family_name=patient.family_name)
    client.force_login(nurse)
    page = client.get("/nurse/vitals/")
    assert page.status_code == 200 and 'hx-get="/nurse/vitals/"' in page.content.decode()
    results = client.get("/nurse/vitals/", {"q": patient.family_name}, **HTMX).content.decode()
    assert f"?patient={patient.pk}" in results and f"?patient={stranger.pk}" not in results
    assert client.get("/nurse/vitals/", {"patient": stranger.pk}).status_code == 404
    form = client.get("/nurse/vitals/", {"patient": patient.pk})
    assert form.status_code == 200 and patient.mrn in form.content.decode()
    response = client.post(
        "/nurse/vitals/", {"patient": patient.pk, "weight": "80", "height": "180", "temperature": "39.1"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Vital signs recorded" in page and "1 value outside the reference range" in page
    assert "24.7 kg/m²" in page  # BMI computed
    bad = client.post("/nurse/vitals/", {"patient": patient.pk, "temperature": "50"})
    assert bad.status_code == 400 and "Body temperature must be between 25 and 45 °C." in bad.content.decode()
    assert client.post("/nurse/vitals/", {"patient": stranger.pk, "weight": "80"}).status_code == 404
    assert not Observation.objects.filter(patient=stranger).exists()
    # other roles are sent home
    client.force_login(make_user(Role.RECEPTIONIST))
    assert client.get("/nurse/vitals/").status_code == 302


def test_nurse_home_links_to_vitals_entry(client, ward):
    nurse, *_ = ward
    client.force_login(nurse)
    assert 'href="/nurse/vitals/"' in client.get("/nurse/").content.decode()


def test_patient_vitals_page_draws_a_chart_per_vital_and_flags_latest(client, ward):
    nurse, doctor, patient_user, patient, _encounter = ward
    now = timezone.now()
    for days, hr in ((20, 70), (10, 75), (1, 135)):
        vitals_record(
            patient=patient,
            values={"heart_rate": hr, "systolic": 120, "diastolic": 80, "spo2": 97},
            by=nurse,
            effective_at=now - dt.timedelta(days=days),
        )
    client.force_login(doctor)
    page = client.get(f"/patients/{patient.pk}/vitals/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('data-testid="vital-chart"') == 3
    assert 'data-vital="heart_rate"' in html and 'data-vital="blood_pressure"' in html
    assert "<svg" in html and "<script" not in html.split("<svg", 1)[1]
    assert "135 /min" in html and "Critical high" in html and "60-100 /min" in html
    fragment = client.get(f"/patients/{patient.pk}/vitals/", **HTMX).content.decode()
    assert "<html" not in fragment and 'data-testid="patient-vitals"' in fragment
    assert AuditEvent.objects.filter(patient=patient, detail__view="patient_vitals").count() == 2
    client.force_login(patient_user)
    assert client.get(f"/patients/{patient.pk}/vitals/").status_code == 200
    for user in (make_user(Role.PATIENT), make_user(Role.RECEPTIONIST), make_user(Role.NURSE)):
        client.force_login(user)
        assert client.get(f"/patients/{patient.pk}/vitals/").status_code == 404


def test_patient_daily_report_page_submit_update_and_trend(client, ward):
    _nurse, doctor, patient_user, patient, _encounter = ward
    DailyHealthReport.objects.create(
        patient=patient, report_date=hospital_today() - dt.timedelta(days=1), mood="great", rating=9
    )
    client.force_login(patient_user)
    page = client.get("/me/daily-report/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<label for="id_mood">' in html and '<label for="id_glucose">' in html
    assert 'data-testid="rating-chart"' in html
    response = client.post("/me/daily-report/", {"mood": "low", "rating": "5", "symptoms": "Headache"})
    assert response.status_code == 302
    page = client.get("/me/daily-report/").content.decode()
    assert "Today&#x27;s report is saved" in page or "Today's report is saved" in page
    assert "Headache" in page
    assert Notification.objects.filter(recipient=doctor, event="daily_report.alert").count() == 1
    bad = client.post("/me/daily-report/", {"mood": "low", "rating": "5", "heart_rate": "10"})
    assert bad.status_code == 400 and "Heart rate must be between 20 and 300 /min." in bad.content.decode()
    response = client.post("/me/daily-report/", {"mood": "okay", "rating": "6", "spo2": "96"})
    assert response.status_code == 302
    report = DailyHealthReport.objects.get(patient=patient, report_date=hospital_today())
    assert report.rating == 6 and report.observations.get().code == "59408-5"
    # staff are sent to their own home
    client.force_login(doctor)
    assert client.get("/me/daily-report/").status_code == 302


def test_patient_home_links_to_the_daily_report(client, ward):
    *_, patient_user, _patient, _encounter = ward
    client.force_login(patient_user)
    assert 'href="/me/daily-report/"' in client.get("/me/").content.decode()


def test_doctor_sees_the_trend_fragment(client, ward):
    nurse, doctor, _patient_user, patient, _encounter = ward
    for days, rating in ((3, 8), (2, 7), (1, 4)):
        DailyHealthReport.objects.create(
            patient=patient,
            report_date=hospital_today() - dt.timedelta(days=days),
            mood="okay",
            rating=rating,
        )
    DailyHealthReport.objects.create(
        patient=patient, report_date=hospital_today() - dt.timedelta(days=45), mood="okay", rating=1
    )
    client.force_login(doctor)
    fragment = client.get(f"/patients/{patient.pk}/daily-reports/", **HTMX)
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert 'data-testid="rating-chart"' in html and html.count("/10</td>") == 3  # the 45-day-old one is out
    client.force_login(nurse)
    assert client.get(f"/patients/{patient.pk}/daily-reports/").status_code == 200
    for user in (make_user(Role.PATIENT), make_user(Role.BILLING), make_user(Role.DOCTOR)):
        client.force_login(user)
        assert client.get(f"/patients/{patient.pk}/daily-reports/", **HTMX).status_code == 404


@pytest.mark.browser
def test_patient_submits_a_daily_report_and_sees_the_chart(live_server, transactional_db):
    from playwright.sync_api import expect

    from hms.core.browser_testing import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.skip(f"Browser tests need Debian's Chromium at {CHROMIUM}.")
    from playwright.sync_api import sync_playwright

    patient_user = make_user(Role.PATIENT, username="pat.daily")
    DailyHealthReport.objects.create(
        patient=patient_user.patient,
        report_date=hospital_today() - dt.timedelta(days=2),
        mood="good",
        rating=8,
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
            page.goto(f"{live_server.url}/login/")
            page.get_by_label("Username").fill("pat.daily")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{live_server.url}/me/daily-report/")
            page.get_by_label("How is your mood today?").select_option("good")
            page.get_by_label("How do you feel overall?").select_option("7")
            page.get_by_label("Symptoms (optional)").fill("A little tired")
            page.get_by_label("Heart rate (/min)").fill("68")
            page.get_by_role("button", name="Send my report").click()
            expect(page.get_by_text("Today's report is saved")).to_be_visible()
            chart = page.get_by_test_id("rating-chart")
            expect(chart).to_be_visible()
            assert chart.locator("svg").count() == 1
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 375 + 1  # no horizontal scrolling on a phone
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "daily-report-375.png"), full_page=True)
        finally:
            browser.close()
    report = DailyHealthReport.objects.get(patient=patient_user.patient, report_date=hospital_today())
    assert report.rating == 7 and report.observations.get().value_quantity == 68
