"""The portal in a real headless Chromium (Playwright) against Django's live server.

Needs Debian's Chromium at /usr/bin/chromium. `.ci/run` installs it, and under CI (CI set) a
missing browser FAILS the run; on a developer's machine without it the tests skip with that reason.
Screenshots go to test-artifacts/ (gitignored).
"""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user, put_in_care

from .conftest import PASSWORD, build_chart

# Playwright's sync API runs an asyncio loop in this thread; Django refuses ORM calls from a thread with a
# running loop unless told it is safe (the loop never runs our ORM code concurrently).
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"

pytestmark = pytest.mark.browser




@pytest.fixture
def chart_data(transactional_db):
    doctor = make_user(Role.DOCTOR, username="dr.house", first_name="Gregory", last_name="House")
    patient = PatientFactory(family_name="Quigley", given_names="Chad")
    build_chart(patient, doctor.practitioner, visits=25)
    put_in_care(doctor, PatientFactory(family_name="Quinn", given_names="Harley"))
    return doctor, patient


def _login(page, base_url: str, username: str):
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_doctor_finds_patient_as_they_type_and_reads_the_chart(live_server, browser, chart_data):
    from playwright.sync_api import expect

    doctor, patient = chart_data
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        _login(page, live_server.url, doctor.username)
        expect(page).to_have_url(f"{live_server.url}/doctor/")

        # Results appear while typing, without submitting the form (htmx).
        page.locator("#global-q").press_sequentially("quig", delay=40)
        result = page.locator("#global-search-results a.patientrow")
        expect(result).to_have_count(1)
        expect(result).to_contain_text(patient.mrn)
        expect(page).to_have_url(f"{live_server.url}/doctor/")
        page.screenshot(path=str(ARTIFACTS / "search-as-you-type.png"))

        result.click()
        expect(page).to_have_url(f"{live_server.url}/patients/{patient.pk}/")
        banner = page.locator(".banner")
        expect(banner.get_by_test_id("mrn")).to_have_text(patient.mrn)
        expect(banner.get_by_test_id("allergies")).to_contain_text("Allergy to penicillin")
        charts = page.get_by_test_id("vitals-chart")
        expect(charts).to_have_count(3)
        expect(charts.first.locator("svg")).to_be_visible()
        timeline = page.get_by_test_id("timeline")
        expect(timeline.locator(".timeline__item")).to_have_count(20)
        expect(timeline).to_contain_text("Encounter for check up #0")
        page.screenshot(path=str(ARTIFACTS / "chart-desktop.png"), full_page=True)

        # "Show older encounters" loads the next page in place (htmx), no navigation.
        page.get_by_role("link", name="Show older encounters").click()
        expect(timeline.locator(".timeline__item")).to_have_count(25)
        expect(page).to_have_url(f"{live_server.url}/patients/{patient.pk}/")

        # The banner stays on screen while scrolling (sticky).
        page.locator("#labs").scroll_into_view_if_needed()
        assert banner.bounding_box()["y"] >= 0 and banner.is_visible()
        assert page.evaluate("document.querySelector('.banner').getBoundingClientRect().top") < 120
        assert external == [], f"the page fetched resources from outside the server: {external}"
    finally:
        context.close()


def test_chart_fits_a_375px_phone(live_server, browser, chart_data):
    from playwright.sync_api import expect

    doctor, patient = chart_data
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True
    )
    page = context.new_page()
    try:
        _login(page, live_server.url, doctor.username)
        expect(page).to_have_url(re.compile(r"/doctor/$"))
        page.screenshot(path=str(ARTIFACTS / "doctor-home-375.png"), full_page=True)
        page.goto(f"{live_server.url}/patients/{patient.pk}/")
        expect(page.get_by_test_id("mrn")).to_have_text(patient.mrn)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"horizontal scroll of {overflow}px at 375px"
        page.screenshot(path=str(ARTIFACTS / "chart-375.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture
def booking_data(transactional_db):
    """A patient login and a cardiologist open Mon-Fri in the hospital's time zone; one visit type."""
    from hms.scheduling.models import ServiceType
    from hms.scheduling.tests.conftest import give_schedule
    from hms.staff.models import Specialty

    patient = make_user(Role.PATIENT, username="pat.booker", first_name="Paula", last_name="Booker")
    doctor = make_user(Role.DOCTOR, username="dr.cho", first_name="Helen", last_name="Cho")
    doctor.practitioner.specialty = Specialty.objects.get_or_create(
        code="394579002", defaults={"display": "Cardiology"}
    )[0]
    doctor.practitioner.save()
    give_schedule(doctor.practitioner, time_zone=settings.HOSPITAL_TIME_ZONE)
    ServiceType.objects.create(code="consult", display="Consultation", default_minutes=20)
    return patient, doctor


def test_patient_finds_a_doctor_books_a_slot_and_sees_it_upcoming(live_server, browser, booking_data):
    from playwright.sync_api import expect

    from hms.scheduling.models import Appointment

    patient, _doctor = booking_data
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        _login(page, live_server.url, patient.username)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Find a doctor").click()
        expect(page).to_have_url(re.compile(r"/appointments/find/"))
        # Choosing the specialty refreshes the results in place (htmx).
        page.get_by_label("Specialty").select_option(label="Cardiology")
        card = page.locator(".doctorcard", has_text="Helen Cho")
        expect(card).to_have_count(1)
        slots = card.locator("a.slot")
        expect(slots).to_have_count(6)
        page.screenshot(path=str(ARTIFACTS / "find-a-doctor.png"), full_page=True)
        chosen = slots.first.inner_text().split()[-1]  # "Mon 30 Nov 09:00" -> "09:00"
        slots.first.click()
        expect(page.get_by_role("heading", name="Book an appointment")).to_be_visible()
        page.get_by_label("Reason for the visit").fill("Palpitations at night")
        page.screenshot(path=str(ARTIFACTS / "book-confirm.png"), full_page=True)
        page.get_by_role("button", name="Book this time").click()
        expect(page).to_have_url(f"{live_server.url}/appointments/")
        upcoming = page.locator("#upcoming")
        expect(upcoming.locator(".appt")).to_have_count(1)
        expect(upcoming).to_contain_text("Helen Cho")
        expect(upcoming).to_contain_text(chosen)
        expect(upcoming).to_contain_text("Booked (confirmed)")
        page.screenshot(path=str(ARTIFACTS / "my-appointments.png"), full_page=True)
        assert (
            Appointment.objects.filter(patient=patient.patient, reason="Palpitations at night").count() == 1
        )
        assert external == [], f"the page fetched resources from outside the server: {external}"
    finally:
        context.close()
