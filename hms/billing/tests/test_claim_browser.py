"""Claims in a real headless Chromium on a 375 px phone: the billing clerk filters the work list as they
type (htmx), validates and submits a claim (the background job answers at once: eager Celery), and the
patient follows it under "My claims". Needs Debian's Chromium (see `hms.core.browser_testing`)."""

import pytest

from hms.accounts.roles import Role
from hms.billing import claims
from hms.billing.models import Claim
from hms.core.browser_testing import ARTIFACTS, browser_login
from hms.core.testing import make_user

from . import claim_factories as f

pytestmark = pytest.mark.browser


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0


def test_clerk_works_a_claim_and_patient_follows_it(live_server, browser, transactional_db):
    from playwright.sync_api import expect

    clerk = make_user(Role.BILLING, username="billing.clerk")
    me = make_user(Role.PATIENT, username="pat.claims", last_name="Quigley", first_name="Chad")
    claim = claims.claim_create(
        invoice=f.issued_invoice(me.patient, clerk, cover=f.coverage(me.patient)), by=clerk
    )
    other = make_user(Role.PATIENT, last_name="Zed")
    claims.claim_create(invoice=f.issued_invoice(other.patient, clerk), by=clerk)
    ARTIFACTS.mkdir(exist_ok=True)
    external = []

    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    page = phone.new_page()
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        browser_login(page, live_server.url, clerk.username)
        page.get_by_role("link", name="Insurance claims").click()
        rows = page.get_by_test_id("claim-row")
        expect(rows).to_have_count(2)
        page.get_by_label("Patient MRN, family name or invoice number").press_sequentially("quig", delay=40)
        expect(rows).to_have_count(1)
        assert _no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / "claims-worklist-375.png"), full_page=True)
        rows.get_by_role("button", name=f"Validate claim #{claim.pk}").click()
        expect(page.get_by_role("button", name=f"Submit claim #{claim.pk}")).to_be_visible()
        page.get_by_role("button", name=f"Submit claim #{claim.pk}").click()
        page.goto(f"{live_server.url}/billing/claims/{claim.pk}/")
        expect(page.get_by_test_id("claim-status")).to_have_text("Paid")
        expect(page.get_by_test_id("claim-events").locator("li")).to_have_count(6)
        assert _no_sideways_scroll(page)
        page.screenshot(path=str(ARTIFACTS / "claim-detail-375.png"), full_page=True)
    finally:
        phone.close()
    assert Claim.objects.get(pk=claim.pk).status == "paid"

    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    page = phone.new_page()
    try:
        browser_login(page, live_server.url, me.username)
        page.get_by_role("link", name="My insurance claims").click()
        expect(page.get_by_test_id("my-claims").locator("li")).to_have_count(1)
        expect(page.get_by_test_id("my-claims")).to_contain_text("Paid")
        assert _no_sideways_scroll(page)
    finally:
        phone.close()
    assert external == [], f"the page fetched resources from outside the server: {external}"
