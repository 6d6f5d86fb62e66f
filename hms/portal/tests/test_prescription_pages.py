"""Portal pages of e-prescribing: the prescribing screen (form, live decision support, sign with override),
the encounter section, the patient's prescriptions with renewal and PDF, the doctor's renewal inbox, who
may open what; and one browser test (a doctor prescribes and sees a live warning)."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from hms.accounts.roles import Role
from hms.audit.models import AuditAction, AuditEvent
from hms.core.testing import make_user, put_in_care
from hms.pharmacy.models import MedicationRequest, PrescriptionRenewal
from hms.pharmacy.tests.rx_fixtures import (
    AMOXICILLIN_500,
    make_rx_world,
    penicillin_allergy,
    signed_prescription,
)


@pytest.fixture
def rx_world(db):
    return make_rx_world()


def _client(client, user):
    client.force_login(user)
    return client


def _form(**extra) -> dict:
    return {
        "medication": AMOXICILLIN_500,
        "dose_value": "500",
        "dose_unit": "mg",
        "route": "oral",
        "frequency_code": "TID",
        "duration_days": "7",
        "quantity": "21",
        "quantity_unit": "capsule",
        "refills": "0",
        "instructions": "",
        **extra,
    }


@pytest.mark.django_db
def test_prescribing_screen_shows_banner_and_form_with_labels(client, rx_world):
    penicillin_allergy(rx_world["patient"])
    response = _client(client, rx_world["doctor"]).get(f"/patients/{rx_world['patient'].pk}/prescribe/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Allergy to penicillin" in html  # the allergy banner
    assert 'data-testid="rx-form"' in html
    for label in (
        "Find a medication",
        "Dose",
        "Unit",
        "Route",
        "Frequency",
        "Indication (diagnosis)",
        "Refills",
    ):
        assert label in html
    assert AuditEvent.objects.filter(action=AuditAction.READ, detail__view="prescribe").exists()


@pytest.mark.django_db
def test_sign_from_the_screen_blocked_then_overridden(client, rx_world):
    penicillin_allergy(rx_world["patient"])
    url = f"/patients/{rx_world['patient'].pk}/prescribe/"
    c = _client(client, rx_world["doctor"])
    blocked = c.post(url, {**_form(), "action": "sign"})
    assert blocked.status_code == 400
    html = blocked.content.decode()
    assert 'data-severity="contraindicated"' in html
    draft = MedicationRequest.objects.get()
    assert draft.status == "draft"
    assert f'name="draft" value="{draft.pk}"' in html  # the retry signs the same draft

    signed = c.post(
        url, {**_form(), "draft": draft.pk, "action": "sign", "override_reason": "Desensitised 2024"}
    )
    assert signed.status_code == 200
    assert 'data-testid="rx-signed"' in signed.content.decode()
    draft.refresh_from_db()
    assert draft.status == "active" and draft.cds_override_reason == "Desensitised 2024"
    assert MedicationRequest.objects.count() == 1


@pytest.mark.django_db
def test_live_check_fragment_and_medication_search(client, rx_world):
    penicillin_allergy(rx_world["patient"])
    c = _client(client, rx_world["doctor"])
    found = c.post(f"/patients/{rx_world['patient'].pk}/prescribe/check/", _form())
    assert found.status_code == 200
    assert 'data-kind="allergy"' in found.content.decode()
    clean = c.post(
        f"/patients/{rx_world['patient'].pk}/prescribe/check/", _form(medication="312961", dose_value="20")
    )
    assert 'data-testid="rx-no-findings"' in clean.content.decode()
    hits = c.get("/prescriptions/medications/", {"q": "amoxicillin 500"})
    assert AMOXICILLIN_500 in hits.content.decode()
    # another doctor's patient: 404
    other = _client(client, rx_world["other_doctor"])
    assert other.post(f"/patients/{rx_world['patient'].pk}/prescribe/check/", _form()).status_code == 404


@pytest.mark.django_db
def test_encounter_section_links_the_prescription_to_the_visit(client, rx_world):
    c = _client(client, rx_world["doctor"])
    enc = rx_world["encounter"]
    page = c.get(f"/encounters/{enc.pk}/")
    assert f"/encounters/{enc.pk}/prescriptions/" in page.content.decode()
    response = c.post(
        f"/encounters/{enc.pk}/prescriptions/", {**_form(), "action": "save"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    rx = MedicationRequest.objects.get()
    assert rx.encounter_id == enc.pk and rx.status == "draft"


@pytest.mark.django_db
def test_page_access_by_role(client, rx_world):
    pk = rx_world["patient"].pk
    rx = signed_prescription(rx_world)
    expectations = {
        "doctor": (200, 200),
        "nurse": (200, 200),
        "other_doctor": (404, 404),
        "patient_user": (302, 200),
        "stranger_user": (302, 404),
        "pharmacist": (302, 200),
        "receptionist": (302, 403),
        "billing": (302, 403),
        "lab": (302, 403),
    }
    for role, (screen, pdf) in expectations.items():
        client.force_login(rx_world[role])
        assert client.get(f"/patients/{pk}/prescribe/").status_code == screen, role
        assert client.get(f"/prescriptions/{rx.pk}/pdf/").status_code == pdf, role
    client.force_login(rx_world["nurse"])
    assert client.post(f"/patients/{pk}/prescribe/", {**_form(), "action": "save"}).status_code == 403
    assert MedicationRequest.objects.count() == 1


@pytest.mark.django_db
def test_patient_requests_renewal_and_doctor_approves_from_the_inbox(client, rx_world):
    rx = signed_prescription(rx_world)
    c = _client(client, rx_world["patient_user"])
    mine = c.get("/me/prescriptions/")
    assert mine.status_code == 200
    assert "amoxicillin 500 MG Oral Capsule" in mine.content.decode()
    assert f"/prescriptions/{rx.pk}/pdf/" in mine.content.decode()
    pdf = c.get(f"/prescriptions/{rx.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert c.post(f"/me/prescriptions/{rx.pk}/renew/", {"note": "Nearly out"}).status_code == 302
    renewal = PrescriptionRenewal.objects.get()
    assert "Renewal requested" in c.get("/me/prescriptions/").content.decode()

    d = _client(client, rx_world["doctor"])
    inbox = d.get("/doctor/renewals/")
    assert "Nearly out" in inbox.content.decode()
    assert d.post(f"/doctor/renewals/{renewal.pk}/", {"action": "approve"}).status_code == 302
    renewal.refresh_from_db()
    assert renewal.status == "approved" and renewal.renewed_as.prior_prescription_id == rx.pk
    assert "No renewal requests." in d.get("/doctor/renewals/").content.decode()


# ---------------------------------------------------------------- browser

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "pass-Word-123"




@pytest.mark.browser
def test_doctor_prescribes_and_sees_a_live_warning(live_server, browser, transactional_db):
    from playwright.sync_api import expect

    doctor = make_user(Role.DOCTOR, username="dr.rx", first_name="Ada", last_name="Rx")
    patient = make_user(Role.PATIENT, last_name="Penn", first_name="Ivy").patient
    put_in_care(doctor, patient)
    penicillin_allergy(patient)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill(doctor.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_server.url}/patients/{patient.pk}/prescribe/")
        expect(page.get_by_test_id("allergies")).to_contain_text("penicillin")
        page.get_by_label("Find a medication (name, ingredient or RxNorm code)").press_sequentially(
            "amoxicillin 500", delay=30
        )
        page.get_by_label("amoxicillin 500 MG Oral Capsule").check()
        # the live check runs on change: the contraindication shows before signing
        expect(page.locator('[data-testid="rx-finding"][data-kind="allergy"]')).to_be_visible()
        page.get_by_label("Dose", exact=True).fill("500")
        page.get_by_label("Unit", exact=True).select_option("mg")
        page.get_by_label("Frequency", exact=True).select_option("TID")
        page.get_by_label("Quantity to dispense").fill("21")
        page.get_by_test_id("rx-sign").click()
        expect(page.get_by_role("alert").first).to_contain_text("override reason")
        page.get_by_label("Override reason (needed only when a contraindication blocks signing)").fill(
            "Tolerated before"
        )
        page.get_by_test_id("rx-sign").click()
        expect(page.get_by_test_id("rx-signed")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 380, f"page scrolls sideways at 375 px ({width}px)"
    except Exception:
        (Path(settings.BASE_DIR) / "test-artifacts").mkdir(exist_ok=True)
        page.screenshot(
            path=str(Path(settings.BASE_DIR) / "test-artifacts" / "prescribe.png"), full_page=True
        )
        raise
    finally:
        context.close()
    rx = MedicationRequest.objects.get(patient=patient)
    assert rx.status == "active" and rx.cds_override_reason == "Tolerated before"
