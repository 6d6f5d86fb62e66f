"""A patient adds a scan and downloads it again, in a real headless Chromium on a 375 px phone screen.

Uses the Playwright fixtures of `hms.portal.tests.test_browser` (Debian's Chromium; skipped with a reason
when absent outside CI)."""

import re
from pathlib import Path

import pytest

from hms.accounts.roles import Role
from hms.core.testing import make_user
from hms.documents.models import Document
from hms.portal.tests.test_browser import ARTIFACTS, _login

from .conftest import HTML_BYTES, PDF_BYTES, image_bytes

pytestmark = pytest.mark.browser


def test_patient_uploads_a_scan_and_downloads_it_on_a_phone(live_server, browser, transactional_db, tmp_path):
    from playwright.sync_api import expect

    user = make_user(Role.PATIENT, username="pat.docs", first_name="Dora", last_name="Docs")
    scan = tmp_path / "knee-scan.png"
    scan.write_bytes(image_bytes("PNG"))
    disguised = tmp_path / "results.pdf"
    disguised.write_bytes(HTML_BYTES)
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(
        viewport={"width": 375, "height": 812}, is_mobile=True, accept_downloads=True
    )
    page = context.new_page()
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(live_server.url) else None)
    try:
        _login(page, live_server.url, user.username)
        page.get_by_role("link", name="My documents").click()
        expect(page).to_have_url(re.compile(r"/me/documents/$"))
        expect(page.get_by_text("No documents.")).to_be_visible()

        # A web page renamed .pdf is refused, with the allowed types named.
        page.get_by_label("File").set_input_files(str(disguised))
        page.get_by_role("button", name="Upload").click()
        expect(page.get_by_role("alert").first).to_contain_text("Allowed types (checked by content): PDF")
        assert not Document.objects.exists()

        page.get_by_label("File").set_input_files(str(scan))
        page.get_by_label("Kind of document").select_option("scan")
        page.get_by_label("Title").fill("Knee MRI printout")
        page.get_by_role("button", name="Upload").click()
        expect(page.get_by_text("Document uploaded.")).to_be_visible()
        row = page.get_by_test_id("document-row")
        expect(row).to_have_count(1)
        expect(row).to_contain_text("Knee MRI printout")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"horizontal scroll of {overflow}px at 375px"
        page.screenshot(path=str(ARTIFACTS / "my-documents-375.png"), full_page=True)

        with page.expect_download() as info:
            row.get_by_role("link", name="Download").click()
        download = info.value
        assert download.suggested_filename == "knee-scan.png"
        assert Path(download.path()).read_bytes() == image_bytes("PNG")
        assert external == [], f"the page fetched resources from outside the server: {external}"
    finally:
        context.close()


def test_doctor_attaches_a_document_on_the_encounter_screen(live_server, browser, transactional_db, tmp_path):
    """The documents section of the encounter screen uploads in place (htmx multipart), no navigation."""
    from playwright.sync_api import expect

    from hms.core.testing import put_in_care

    doctor = make_user(Role.DOCTOR, username="dr.docs", first_name="Ada", last_name="Docs")
    patient = make_user(Role.PATIENT).patient
    encounter = put_in_care(doctor, patient)
    report = tmp_path / "referral.pdf"
    report.write_bytes(PDF_BYTES)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _login(page, live_server.url, doctor.username)
        url = f"{live_server.url}/encounters/{encounter.pk}/"
        page.goto(url)
        section = page.get_by_test_id("encounter-documents")
        expect(section.get_by_text("No documents.")).to_be_visible()
        section.get_by_text("Attach a document").click()
        section.get_by_label("File").set_input_files(str(report))
        section.get_by_label("Kind of document").select_option("discharge-summary")
        section.get_by_label("Title").fill("Discharge summary, cardiology")
        section.get_by_role("button", name="Upload").click()
        section = page.get_by_test_id("encounter-documents")
        expect(section.get_by_test_id("document-row")).to_contain_text("Discharge summary, cardiology")
        expect(page).to_have_url(url)
        document = Document.objects.get()
        assert (document.encounter_id, document.content_type) == (encounter.pk, "application/pdf")
        page.screenshot(path=str(ARTIFACTS / "encounter-documents.png"), full_page=True)
    finally:
        context.close()
