"""The pharmacist dispenses from the work list in a real headless Chromium (Playwright), on a 375 px phone:
the allergy banner and FEFO lots are shown, htmx refreshes the lots as the quantity changes, the dispense
completes the prescription. Needs Debian's Chromium at /usr/bin/chromium (skipped without it, failed under
CI), like `hms/portal/tests/test_browser.py`."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from hms.clinical.models import AllergyIntolerance
from hms.core import codes

from .stock_fixtures import days, receive, signed_prescription

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




def test_pharmacist_dispenses_from_the_work_list_on_a_phone(live_server, browser, transactional_db, world):
    from playwright.sync_api import expect

    from hms.pharmacy.models import MedicationDispense

    receive(world, world["amox"], "LATE-9", "100", days(300))
    receive(world, world["amox"], "SOON-1", "6", days(12))
    AllergyIntolerance.objects.create(
        patient=world["patient"],
        code_system=codes.RXNORM,
        code="7980",
        code_display="Penicillin G",
        category="medication",
        criticality="high",
        clinical_status="active",
    )
    rx = signed_prescription(world["patient"], quantity="21", doctor=world["doctor"])
    ARTIFACTS.mkdir(exist_ok=True)
    external = []
    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    page = phone.new_page()
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(world["pharmacist"].username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Dispensing work list").click()
        expect(page.get_by_test_id("dispense-row")).to_have_count(1)
        page.get_by_role("link", name="Verify and dispense").click()
        expect(page.get_by_test_id("allergy-banner")).to_contain_text("Penicillin G")
        expect(page.get_by_test_id("fefo-lot")).to_have_count(2)
        quantity = page.get_by_label("Quantity")
        quantity.fill("5")
        expect(page.get_by_test_id("fefo-lot")).to_have_count(1)  # htmx: 5 fit in the lot expiring first
        expect(page.get_by_test_id("fefo-plan")).to_contain_text("SOON-1")
        assert (
            page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        )
        page.screenshot(path=str(ARTIFACTS / "pharmacy-dispense-375.png"), full_page=True)
        quantity.fill("21")
        page.get_by_role("button", name="Dispense", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text("Dispensed 21 capsule")
        expect(page.get_by_test_id("dispense-row")).to_have_count(0)
        dispense = MedicationDispense.objects.get()
        assert [lot["lot_number"] for lot in dispense.lots] == ["SOON-1", "LATE-9"]
        rx.refresh_from_db()
        assert rx.status == "completed"
        assert external == [], f"the page fetched resources from outside the server: {external}"
    finally:
        phone.close()
