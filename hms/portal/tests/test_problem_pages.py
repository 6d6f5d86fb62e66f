"""Portal pages of diagnoses and allergies: the encounter's diagnoses fragment with the ICD-10-CM search
(htmx), the allergies page ("not yet asked" / "no known allergies" / the list) and the banner on other
patient pages; access (404 for another patient, 403 for a role that may not write) and audit; one
browser test: the ICD-10 search-as-you-type adds a diagnosis."""

import os

import pytest

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical import allergies as al
from hms.clinical import problems as pr
from hms.clinical.models import AllergyIntolerance, Condition
from hms.core import codes
from hms.core.testing import PatientFactory, make_user, put_in_care

from .conftest import PASSWORD

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def clinic(db):
    doctor, nurse = make_user(Role.DOCTOR), make_user(Role.NURSE)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    encounter = put_in_care(doctor, patient)
    put_in_care(nurse, patient)
    return doctor, nurse, patient_user, patient, encounter


# ---------------------------------------------------------------- diagnoses


def test_icd10_search_fragment_gives_add_buttons(client, clinic):
    doctor = clinic[0]
    client.force_login(doctor)
    body = client.get("/terminology/icd10/", {"q": "type 2 diabetes"}, **HTMX).content.decode()
    assert 'name="code" value="E11.9"' in body
    heading = client.get("/terminology/icd10/", {"q": "E11"}, **HTMX).content.decode()
    assert "heading: choose a code under it" in heading and 'value="E11.00"' in heading
    assert "No ICD-10-CM code matches" in client.get("/terminology/icd10/", {"q": "zzzz"}).content.decode()
    client.force_login(clinic[2])  # a patient: not a staff tool
    assert client.get("/terminology/icd10/", {"q": "E11"}).status_code == 403


def test_doctor_adds_primary_and_secondary_and_resolves(client, clinic):
    doctor, _nurse, _pu, patient, encounter = clinic
    client.force_login(doctor)
    url = f"/encounters/{encounter.pk}/diagnoses/"
    page = client.get(url, **HTMX)
    assert page.status_code == 200
    html = page.content.decode()
    assert "No diagnosis recorded in this visit yet." in html and 'hx-get="/terminology/icd10/"' in html
    added = client.post(url, {"action": "add", "code": "E11.9", "diagnosis_role": "primary"}, **HTMX)
    assert "Added E11.9" in added.content.decode()
    second = client.post(url, {"action": "add", "code": "I10", "diagnosis_role": "primary"}, **HTMX)
    assert second.status_code == 200 and "already has a primary diagnosis" in second.content.decode()
    client.post(url, {"action": "add", "code": "I10", "diagnosis_role": "secondary"}, **HTMX)
    rows = Condition.objects.filter(encounter=encounter).order_by("id")
    assert [(c.code, c.diagnosis_role) for c in rows] == [("E11.9", "primary"), ("I10", "secondary")]
    empty = client.post(url, {"action": "add", "code": "", "diagnosis_role": "secondary"})
    assert empty.status_code == 400 and "choose a code from the list" in empty.content.decode()
    resolved = client.post(url, {"action": "resolve", "condition": rows[1].pk}, **HTMX)
    assert "Resolved I10" in resolved.content.decode()
    assert Condition.objects.get(pk=rows[1].pk).clinical_status == "resolved"
    assert AuditEvent.objects.filter(detail__view="encounter_diagnoses", patient=patient).exists()


def test_diagnoses_fragment_access(client, clinic):
    doctor, nurse, patient_user, patient, encounter = clinic
    url = f"/encounters/{encounter.pk}/diagnoses/"
    pr.condition_record(patient=patient, encounter=encounter, code="E11.9", by=doctor)
    for user in (nurse, patient_user):  # read, no form, no writing
        client.force_login(user)
        page = client.get(url, **HTMX)
        assert page.status_code == 200 and "E11.9" in page.content.decode()
        assert 'data-testid="dx-form"' not in page.content.decode()
        assert client.post(url, {"action": "add", "code": "I10"}, **HTMX).status_code == 403
    for role in (Role.PHARMACIST, Role.RECEPTIONIST, Role.ADMIN, Role.DOCTOR, Role.PATIENT):
        client.force_login(make_user(role))  # not theirs: 404 like a missing encounter
        assert client.get(url, **HTMX).status_code == 404, role
        assert client.post(url, {"action": "add", "code": "I10"}, **HTMX).status_code == 404, role
    client.force_login(doctor)  # another patient's condition through this encounter: 404
    other = PatientFactory()
    put_in_care(doctor, other)
    foreign = pr.condition_record(patient=other, code="I10", by=doctor)
    assert client.post(url, {"action": "resolve", "condition": foreign.pk}, **HTMX).status_code == 404
    assert Condition.objects.get(pk=foreign.pk).clinical_status == "active"


# ---------------------------------------------------------------- allergies and the banner


def test_banner_tells_not_yet_asked_from_no_known_from_the_list(client, clinic):
    doctor, nurse, _pu, patient, _enc = clinic
    client.force_login(doctor)
    chart = f"/patients/{patient.pk}/"
    html = client.get(chart).content.decode()
    assert 'data-allergy-status="unknown"' in html and "Not yet asked" in html
    al.allergy_record_none_known(patient=patient, by=nurse)
    html = client.get(chart).content.decode()
    assert 'data-allergy-status="none-known"' in html and "No known allergies" in html
    assert "No known allergy</li>" not in html  # the NKA record is a status, not an allergy
    al.allergy_record(
        patient=patient,
        substance_system=codes.RXNORM,
        substance_code="7980",
        substance_display="Penicillin G",
        category="medication",
        criticality="high",
        by=nurse,
    )
    html = client.get(chart).content.decode()
    assert 'data-allergy-status="present"' in html and "Penicillin G" in html and "high risk" in html
    assert "Not yet asked" not in html


def test_allergies_page_records_no_known_then_an_allergy_then_entered_in_error(client, clinic):
    _doctor, nurse, _pu, patient, _enc = clinic
    client.force_login(nurse)
    url = f"/patients/{patient.pk}/allergies/"
    page = client.get(url)
    assert page.status_code == 200 and 'data-testid="nka-button"' in page.content.decode()
    nka = client.post(url, {"action": "none-known"}, **HTMX).content.decode()
    assert "Recorded: no known allergies." in nka and 'data-allergy-status="none-known"' in nka
    form = {
        "action": "add",
        "substance_display": "Peanut",
        "substance_system": "",
        "substance_code": "",
        "category": "food",
        "allergy_type": "allergy",
        "criticality": "high",
        "manifestation": "Anaphylaxis",
        "severity": "severe",
    }
    added = client.post(url, form, **HTMX).content.decode()
    assert "Recorded Peanut." in added and 'data-allergy-status="present"' in added
    peanut = AllergyIntolerance.objects.get(code_display="Peanut")
    assert peanut.reactions == [{"manifestation": "Anaphylaxis", "severity": "severe"}]
    bad = client.post(
        url, {**form, "substance_display": "Shrimp", "substance_system": codes.RXNORM, "substance_code": "x"}
    )
    assert bad.status_code == 400 and "Not a RxNorm code." in bad.content.decode()
    refused = client.post(url, {"action": "none-known"}, **HTMX).content.decode()
    assert "Active allergies are recorded" in refused and "Peanut" in refused
    no_reason = client.post(url, {"action": "entered-in-error", "allergy": peanut.pk, "reason": ""}, **HTMX)
    assert "Say why" in no_reason.content.decode()
    client.post(url, {"action": "entered-in-error", "allergy": peanut.pk, "reason": "wrong patient"}, **HTMX)
    assert AllergyIntolerance.objects.get(pk=peanut.pk).deleted_at is not None
    assert AuditEvent.objects.filter(detail__view="patient_allergies", patient=patient).exists()


def test_allergies_page_access(client, clinic):
    doctor, _nurse, patient_user, patient, _enc = clinic
    al.allergy_record(patient=patient, substance_display="Latex", category="environment", by=doctor)
    url = f"/patients/{patient.pk}/allergies/"
    pharmacist = make_user(Role.PHARMACIST)
    for user in (patient_user, pharmacist):  # read only
        client.force_login(user)
        page = client.get(url)
        assert page.status_code == 200 and "Latex" in page.content.decode()
        assert 'data-testid="allergy-form"' not in page.content.decode()
        assert client.post(url, {"action": "none-known"}).status_code == 403
    for role in (Role.RECEPTIONIST, Role.ADMIN, Role.BILLING, Role.LAB_TECHNICIAN, Role.DOCTOR, Role.PATIENT):
        client.force_login(make_user(role))
        assert client.get(url).status_code == 404, role
        assert client.post(url, {"action": "none-known"}).status_code == 404, role


# ---------------------------------------------------------------- browser


@pytest.mark.browser
def test_icd10_search_as_you_type_adds_a_diagnosis(live_server, transactional_db):
    from pathlib import Path

    from hms.core.browser_testing import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Browser tests need Chromium at {CHROMIUM}")
        pytest.skip(f"Browser tests need Chromium at {CHROMIUM}")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import expect, sync_playwright

    from hms.terminology.icd10 import icd10_index

    icd10_index()  # built once per process (seconds on a busy machine): not part of what is measured here
    doctor = make_user(Role.DOCTOR, username="dr.dx")
    patient = PatientFactory(family_name="Quigley", given_names="Chad")
    encounter = put_in_care(doctor, patient)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 812})
            page.goto(f"{live_server.url}/login/")
            page.get_by_label("Username").fill(doctor.username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"{live_server.url}/encounters/{encounter.pk}/diagnoses/")
            expect(page.get_by_test_id("allergies-unknown")).to_be_visible()
            page.get_by_label("Add as").select_option("primary")
            page.get_by_label("Search ICD-10-CM (code or words)").press_sequentially("type 2 diab", delay=30)
            button = page.locator('button.icd-result[data-code="E11.9"]')
            expect(button).to_be_visible()
            button.click()
            expect(page.get_by_test_id("visit-diagnoses")).to_contain_text("E11.9")
            expect(page.get_by_test_id("visit-diagnoses")).to_contain_text("Primary")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"horizontal scroll of {overflow}px at 375px"
            Path("test-artifacts").mkdir(exist_ok=True)
            page.screenshot(path="test-artifacts/encounter-diagnoses-375.png", full_page=True)
        finally:
            browser.close()
    condition = Condition.objects.get(encounter=encounter)
    assert (condition.code, condition.diagnosis_role, condition.code_system) == (
        "E11.9",
        "primary",
        codes.ICD10CM,
    )
