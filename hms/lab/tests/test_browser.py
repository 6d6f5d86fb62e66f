"""The lab in a real headless Chromium (Playwright): a doctor orders with search-as-you-type on the
encounter's orders section, a lab technician enters the result from the work list on a 375 px phone.

Needs Debian's Chromium at /usr/bin/chromium (skipped without it, failed under CI), like
`hms/portal/tests/test_browser.py`.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings

from hms.accounts.roles import Role
from hms.core.testing import make_user, put_in_care

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop never runs our ORM code concurrently

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "pass-Word-123"  # hms.core.testing.UserFactory

pytestmark = pytest.mark.browser




def _login(page, base_url: str, username: str):
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_doctor_orders_by_typing_and_lab_enters_the_result_from_the_work_list(
    live_server, browser, transactional_db
):
    from playwright.sync_api import expect

    from hms.lab.models import DiagnosticReport, ServiceRequest

    doctor = make_user(Role.DOCTOR, username="dr.lab", first_name="Ada", last_name="Lab")
    lab_tech = make_user(Role.LAB_TECHNICIAN, username="lab.tech")
    patient = make_user(Role.PATIENT, last_name="Quigley", first_name="Chad").patient
    encounter = put_in_care(doctor, patient)
    ARTIFACTS.mkdir(exist_ok=True)
    external = []

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        _login(page, live_server.url, doctor.username)
        page.goto(f"{live_server.url}/encounters/{encounter.pk}/orders/")
        search = page.get_by_label("Find a test (name, abbreviation or LOINC code)")
        search.press_sequentially("hba1c", delay=40)
        page.get_by_label("Hemoglobin A1c/Hemoglobin.total in Blood").check()
        search.fill("")
        search.press_sequentially("potass", delay=40)
        # the ticked test stays ticked while the matches change
        expect(page.get_by_test_id("chosen-tests")).to_contain_text("Hemoglobin A1c")
        page.get_by_label("Potassium [Moles/volume] in Blood").check()
        page.get_by_label("Priority").select_option("stat")
        page.get_by_role("button", name="Order selected tests").click()
        expect(page.get_by_test_id("lab-order")).to_have_count(2)
        page.screenshot(path=str(ARTIFACTS / "lab-encounter-orders.png"), full_page=True)
        assert set(ServiceRequest.objects.values_list("code", flat=True)) == {"4548-4", "6298-4"}
    finally:
        context.close()

    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    page = phone.new_page()
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        _login(page, live_server.url, lab_tech.username)
        page.get_by_role("link", name="Lab work list").click()
        rows = page.get_by_test_id("worklist-row")
        expect(rows).to_have_count(2)
        assert (
            page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        )
        page.screenshot(path=str(ARTIFACTS / "lab-worklist-375.png"), full_page=True)
        rows.filter(has_text="Potassium").get_by_role("link", name="Enter result").click()
        page.get_by_label("Potassium [Moles/volume] in Blood (mmol/L)").fill("6.8")
        assert (
            page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        )
        page.screenshot(path=str(ARTIFACTS / "lab-result-entry-375.png"), full_page=True)
        page.get_by_role("button", name="Record result").click()
        expect(page.get_by_role("status")).to_contain_text("the ordering doctor has been alerted")
        expect(page.get_by_test_id("worklist-row")).to_have_count(1)
        report = DiagnosticReport.objects.get(code="6298-4")
        assert report.is_critical and report.results.get().interpretation == "HH"
        assert external == [], f"the page fetched resources from outside the server: {external}"
    finally:
        phone.close()
