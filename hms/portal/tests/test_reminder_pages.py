"""The patient's medication-reminder page `/me/medication-reminders/`: listing, saving (plain POST and
htmx), validation, scope and roles; and one real-browser run at phone width."""

import datetime as dt
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core import codes
from hms.core.testing import make_user
from hms.pharmacy.models import MedicationRequest

from .conftest import PASSWORD

PAGE = "/me/medication-reminders/"


def _rx(patient, **kwargs):
    return MedicationRequest.objects.create(
        patient=patient,
        **{
            "code_system": codes.RXNORM,
            "code": "314076",
            "code_display": "lisinopril 10 MG Oral Tablet",
            "status": "active",
            "frequency_code": "BID",
            "frequency_per_day": Decimal(2),
            "dosage_text": "1 tablet twice daily",
            "signed_at": timezone.now() - dt.timedelta(days=3),
            **kwargs,
        },
    )


@pytest.fixture
def patient_user(db):
    return make_user(Role.PATIENT)


def _login(client, user):
    client.force_login(user)
    return client


def test_page_lists_active_prescriptions_with_their_times(client, patient_user):
    active = _rx(patient_user.patient)
    _rx(patient_user.patient, code_display="amoxicillin 500 MG Oral Capsule", status="stopped")
    _rx(patient_user.patient, code_display="warfarin draft", status="draft")
    other = make_user(Role.PATIENT)
    _rx(other.patient, code_display="someone else's drug")
    assert reverse("portal:medication_reminders") == PAGE
    response = _login(client, patient_user).get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "lisinopril 10 MG Oral Tablet" in html
    assert "08:00, 20:00" in html  # the BID defaults
    assert "amoxicillin" not in html and "warfarin" not in html and "someone else" not in html
    assert f'id="rx{active.pk}-times"' in html and f'for="rx{active.pk}-times"' in html  # labelled
    assert AuditEvent.objects.filter(action="read", patient_id=patient_user.patient.pk).exists()


def test_patient_home_links_to_the_page(client, patient_user):
    html = _login(client, patient_user).get("/me/").content.decode()
    assert f'href="{PAGE}"' in html


def test_plain_post_saves_and_redirects(client, patient_user):
    rx = _rx(patient_user.patient)
    url = reverse("portal:medication_reminder_update", args=[rx.pk])
    response = _login(client, patient_user).post(
        url, {"reminders_enabled": "on", "reminder_times": "21:00, 7:30"}
    )
    assert response.status_code == 302 and response.url == PAGE
    rx.refresh_from_db()
    assert (rx.reminders_enabled, rx.reminder_times) == (True, ["07:30", "21:00"])
    # unticking the box switches reminders off
    client.post(url, {"reminder_times": ""})
    rx.refresh_from_db()
    assert (rx.reminders_enabled, rx.reminder_times) == (False, [])


def test_htmx_post_returns_the_card_with_errors_and_changes_nothing(client, patient_user):
    rx = _rx(patient_user.patient)
    url = reverse("portal:medication_reminder_update", args=[rx.pk])
    response = _login(client, patient_user).post(
        url, {"reminders_enabled": "on", "reminder_times": "08:00, 25:61"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="rx-{rx.pk}"' in html and "<html" not in html
    assert "is not a time of day" in html
    response = client.post(
        url, {"reminders_enabled": "on", "reminder_times": "1:00,2:00,3:00,4:00,5:00,6:00,7:00"}
    )
    assert response.status_code == 400
    assert "At most 6 reminder times a day." in response.content.decode()
    rx.refresh_from_db()
    assert rx.reminder_times == []


def test_htmx_post_saves_and_shows_the_new_times(client, patient_user):
    rx = _rx(patient_user.patient)
    url = reverse("portal:medication_reminder_update", args=[rx.pk])
    response = _login(client, patient_user).post(
        url, {"reminders_enabled": "on", "reminder_times": "06:45"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Saved." in response.content.decode() and "06:45" in response.content.decode()
    rx.refresh_from_db()
    assert rx.reminder_times == ["06:45"]


def test_scope_and_roles(client, patient_user):
    rx = _rx(patient_user.patient)
    other = make_user(Role.PATIENT)
    others_rx = _rx(other.patient)
    draft = _rx(patient_user.patient, status="draft")
    stopped = _rx(patient_user.patient, status="stopped")
    _login(client, patient_user)
    for target in (others_rx, draft):
        url = reverse("portal:medication_reminder_update", args=[target.pk])
        assert client.post(url, {"reminder_times": "09:00"}).status_code == 404
    response = client.post(
        reverse("portal:medication_reminder_update", args=[stopped.pk]),
        {"reminder_times": "09:00"},
        HTTP_HX_REQUEST="true",
    )
    assert "only be set for an active prescription" in response.content.decode()
    assert client.get(reverse("portal:medication_reminder_update", args=[rx.pk])).status_code == 405
    others_rx.refresh_from_db()
    stopped.refresh_from_db()
    assert others_rx.reminder_times == [] and stopped.reminder_times == []
    client.logout()
    assert client.get(PAGE).status_code == 302  # to the login page
    for role in (Role.DOCTOR, Role.NURSE, Role.PHARMACIST, Role.RECEPTIONIST, Role.ADMIN):
        staff = make_user(role)
        client.force_login(staff)
        assert client.get(PAGE).status_code == 302  # to their own home page
        url = reverse("portal:medication_reminder_update", args=[rx.pk])
        assert client.post(url, {"reminder_times": "09:00"}).status_code == 403
    rx.refresh_from_db()
    assert rx.reminder_times == []


@pytest.mark.browser
def test_patient_sets_reminder_times_on_a_phone(live_server, transactional_db):
    from playwright.sync_api import expect, sync_playwright

    from hms.core.browser_testing import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Browser tests need Chromium at {CHROMIUM}")
        pytest.skip(f"Browser tests need Chromium at {CHROMIUM}")
    user = make_user(Role.PATIENT, username="pat.reminders")
    rx = _rx(user.patient)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
        try:
            page.goto(f"{live_server.url}/login/")
            page.get_by_label("Username").fill(user.username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("link", name="Medication reminders").click()
            card = page.locator(f"#rx-{rx.pk}")
            expect(card.get_by_test_id("effective-times")).to_have_text("08:00, 20:00")
            card.get_by_label("Reminder times").fill("07:30, 19:30")
            card.get_by_role("button", name="Save reminders").click()
            expect(page.locator(f"#rx-{rx.pk}").get_by_text("Saved.")).to_be_visible()  # swapped by htmx
            expect(page.locator(f"#rx-{rx.pk}").get_by_test_id("effective-times")).to_have_text(
                "07:30, 19:30"
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(
                path=str(Path(settings.BASE_DIR) / "test-artifacts" / "medication-reminders-375.png")
            )
        finally:
            browser.close()
    rx.refresh_from_db()
    assert rx.reminder_times == ["07:30", "19:30"]
