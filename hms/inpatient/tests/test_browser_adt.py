"""Quick admission in a real headless Chromium (Playwright), on a 375 px phone: the receptionist registers an
unidentified arrival and admits them in one form, and lands on the admission page showing the bed.

Needs Debian's Chromium at /usr/bin/chromium (skipped without it, failed under CI), like
`hms/portal/tests/test_browser.py`.
"""

import os
from pathlib import Path

import pytest

from hms.accounts.roles import Role
from hms.core.testing import make_user

from .conftest import build_tree

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop never runs our ORM code concurrently

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "pass-Word-123"  # hms.core.testing.UserFactory

pytestmark = pytest.mark.browser




def test_quick_admission_on_a_phone(live_server, browser, transactional_db):
    from playwright.sync_api import expect

    from hms.inpatient.models import Admission

    tree = build_tree(make_user(Role.ADMIN))
    doctor = make_user(Role.DOCTOR, first_name="Grace", last_name="Hopper")
    desk = make_user(Role.RECEPTIONIST, username="desk.adt")
    external = []
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(desk.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Quick admission").click()
        page.get_by_label("Sex").select_option("female")
        page.get_by_label("Approximate age (years)").fill("30")
        page.get_by_label("Identifying features").fill("red coat")
        page.get_by_label("Admitting doctor").select_option(str(doctor.practitioner.pk))
        page.get_by_label("Reason for admission").fill("Unconscious, found in the street")
        page.get_by_label("Bed").select_option(str(tree["beds"]["F1-1"].pk))
        page.get_by_role("button", name="Register and admit").click()
        expect(page.get_by_test_id("current-bed")).to_have_text("F1-1")
        expect(page.get_by_role("heading", name="Female ~30 Unknown")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375
        assert external == []
    finally:
        context.close()
    admission = Admission.objects.get()
    assert admission.patient.identity_unknown and admission.ward_id == tree["maternity"].pk
