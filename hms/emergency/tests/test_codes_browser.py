"""Code alerts in two real browsers (Playwright, Debian Chromium) against the project's ASGI application
served by uvicorn in a thread (HTTP and WebSockets in one process, like production; Django's WSGI
live server has no WebSockets). Skips without /usr/bin/chromium (fails under CI, like the portal's)."""

import os
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from hms.accounts.roles import Role
from hms.core.testing import make_user
from hms.emergency import codes
from hms.emergency.models import CodeType

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's sync API runs a loop in this thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]

pytestmark = [
    pytest.mark.browser,
    # WhiteNoise serves static files as sync iterators; under ASGI Django warns and serves them anyway.
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators"),
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"






def _page_for(browser, base_url: str, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base_url,
            }
        ]
    )
    return context, context.new_page()


def test_member_sees_the_banner_at_once_and_the_activator_sees_the_acknowledgement(browser, asgi_server):
    from playwright.sync_api import expect

    activator = make_user(Role.NURSE, username="nurse.joy", first_name="Joy", last_name="Kim")
    member = make_user(Role.DOCTOR, username="dr.ross", first_name="Doug", last_name="Ross")
    # The seeded Code Blue when the migration's data is there (first test of a run), else a fresh one.
    code, _ = CodeType.objects.update_or_create(
        key="blue", defaults={"name": "Code Blue", "colour": "#1d4ed8"}
    )
    code.team.add(member)
    codes.duty_start(by=member)

    a_context, a_page = _page_for(browser, asgi_server, activator)
    m_context, m_page = _page_for(browser, asgi_server, member)
    try:
        m_page.goto(f"{asgi_server}/doctor/")
        expect(m_page.locator("#alerts-banners")).to_have_attribute("data-live", "1")
        expect(m_page.get_by_test_id("duty-toggle")).to_contain_text("On duty")

        a_page.goto(f"{asgi_server}/codes/activate/")
        a_page.get_by_label("Code").select_option(label="Code Blue")
        a_page.get_by_label("Location (building, ward, room or bed)").fill("Ward 5, bed 12")
        with a_page.expect_navigation():
            a_page.get_by_role("button", name="Activate code").click()
        activated = time.monotonic()

        banner = m_page.get_by_test_id("code-banner")
        expect(banner).to_be_visible(timeout=1000)
        assert time.monotonic() - activated < 1.0
        expect(banner).to_contain_text("Code Blue")
        expect(banner).to_contain_text("Ward 5, bed 12")
        ARTIFACTS.mkdir(exist_ok=True)
        m_page.screenshot(path=str(ARTIFACTS / "code-alert-banner-375.png"))

        expect(a_page.locator("#alerts-banners")).to_have_attribute("data-live", "1")
        expect(a_page.get_by_test_id("ack-count")).to_contain_text("0 of 1")
        banner.get_by_role("button", name="Acknowledge").click()
        expect(banner).to_have_count(0)

        expect(a_page.get_by_test_id("responder")).to_have_attribute("data-acknowledged", "yes", timeout=2000)
        expect(a_page.get_by_test_id("ack-count")).to_contain_text("1 of 1")
        expect(a_page.get_by_test_id("ack-toast")).to_contain_text("Doug Ross acknowledged Code Blue")
        a_page.screenshot(path=str(ARTIFACTS / "code-activation-acknowledged-375.png"), full_page=True)
    finally:
        a_context.close()
        m_context.close()
