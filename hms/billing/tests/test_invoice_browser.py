"""Charges to invoice in a real headless Chromium (Playwright) on a 375 px phone: the billing clerk finds the
patient as they type, builds a draft from the billable charges, issues it and sees its number.

Needs Debian's Chromium at /usr/bin/chromium (skipped without it, failed under CI), see
`hms/core/browser_testing.py`.
"""

from decimal import Decimal

import pytest

from hms.accounts.roles import Role
from hms.billing import charges
from hms.billing.models import Invoice
from hms.core.browser_testing import ARTIFACTS, browser_login
from hms.core.testing import PatientFactory, make_user

pytestmark = pytest.mark.browser


def test_clerk_finds_the_patient_drafts_and_issues_an_invoice_on_a_phone(
    live_server, browser, transactional_db
):
    from playwright.sync_api import expect

    charges.price_list_seed()  # a transactional test may run after another one flushed the seed rows
    clerk = make_user(Role.BILLING, username="clerk.inv")
    patient = PatientFactory(family_name="Quixote", given_names="Alonso")
    charges.charge_manual_create(
        patient=patient, display="Dressing pack", unit_price=Decimal("12.40"), reason="ward", by=clerk
    )
    charges.charge_manual_create(
        patient=patient,
        code_system="urn:asclepius:billing",
        code="TV-DAY",
        quantity=2,
        reason="room TV",
        by=clerk,
    )
    ARTIFACTS.mkdir(exist_ok=True)
    external = []
    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    page = phone.new_page()
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        browser_login(page, live_server.url, clerk.username)
        page.get_by_role("link", name="Charges to invoice").click()
        page.get_by_label("Patient to invoice").press_sequentially("quix", delay=40)
        result = page.get_by_test_id("charge-patient-results").get_by_role("link")
        expect(result).to_have_count(1)
        result.click()
        expect(page.get_by_test_id("charge-row")).to_have_count(2)
        overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        assert page.evaluate(overflow) <= 0
        page.screenshot(path=str(ARTIFACTS / "billing-charges-375.png"), full_page=True)
        page.get_by_role("button", name="Create draft invoice").click()
        expect(page.get_by_test_id("invoice-total")).to_have_text("28.64")  # 12.40 + 15.00 + 1.24 tax
        page.get_by_test_id("issue").click()
        invoice = Invoice.objects.get()
        expect(page.get_by_test_id("invoice-number")).to_have_text(invoice.number)
        expect(page.get_by_test_id("invoice-status")).to_have_text("Issued")
        assert page.evaluate(overflow) <= 0
        page.screenshot(path=str(ARTIFACTS / "billing-invoice-375.png"), full_page=True)
        assert external == [], f"the page fetched resources from outside the server: {external}"
    finally:
        phone.close()
