"""The ED tracking board in a real headless Chromium, served by the project's ASGI application (uvicorn)
so the board's WebSocket is live: a patient sends an emergency request from the portal on a phone, and it
appears on the nurse's open board (with the patient's allergy) without a reload."""

import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from hms.accounts.roles import Role
from hms.clinical.models import AllergyIntolerance
from hms.core.testing import make_user

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop in this thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]

pytestmark = pytest.mark.browser






def _page_for(browser, base_url: str, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
          "url": base_url}]
    )  # fmt: skip
    return context, context.new_page()


def _status_after_reload(page, text: str) -> None:
    """Reload the patient's status page until it shows `text` (3 tries: on SQLite, a page read that
    collides with the board's concurrent audited read can fail with "database table is locked")."""
    for _ in range(3):
        page.reload()
        status = page.get_by_test_id("request-status")
        if status.count() and status.inner_text() == text:
            return
        time.sleep(0.3)
    raise AssertionError(f"the status page never showed {text!r}")


def test_a_patients_emergency_request_appears_on_the_open_board(browser, asgi_server):
    from playwright.sync_api import expect

    nurse = make_user(Role.NURSE, username="nurse.ed")
    patient_user = make_user(Role.PATIENT, username="pat.ed", last_name="Okafor", first_name="Ada")
    AllergyIntolerance.objects.create(
        patient=patient_user.patient, code="91936005", code_display="Penicillin", criticality="high"
    )
    n_context, n_page = _page_for(browser, asgi_server, nurse)
    p_context, p_page = _page_for(browser, asgi_server, patient_user)
    try:
        n_page.goto(f"{asgi_server}/ed/board/")
        expect(n_page.locator("#ed-live-status")).to_have_text("live")
        expect(n_page.get_by_test_id("request-count")).to_have_text("0")

        p_page.goto(f"{asgi_server}/me/emergency/")
        p_page.get_by_label("What is happening?").fill("Crushing chest pain")
        p_page.get_by_label("Where are you? (address, landmarks)").fill("12 High Street, flat 3")
        with p_page.expect_navigation():
            p_page.get_by_test_id("send-emergency").click()
        sent = time.monotonic()

        row = n_page.get_by_test_id("ed-request")
        expect(row).to_contain_text("OKAFOR", timeout=3000)
        assert time.monotonic() - sent < 3.0
        _status_after_reload(p_page, "Open")
        expect(row).to_contain_text("Crushing chest pain")
        expect(row).to_contain_text("Penicillin")
        row.get_by_role("button", name="Acknowledge").click()
        expect(n_page.get_by_test_id("ed-request")).to_contain_text("Acknowledged")

        _status_after_reload(p_page, "Acknowledged")
        # usable at 375 px: nothing wider than the viewport
        assert n_page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    finally:
        n_context.close()
        p_context.close()
