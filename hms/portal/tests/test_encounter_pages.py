"""Portal pages of encounters: the agenda's Start visit button, the encounter screen and its note section
(draft, template, sign, addendum, nursing note), closing, walk-ins, the timeline page; role matrix."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import ClinicalNote, Encounter, EncounterClass, EncounterStatus, NoteTemplate
from hms.clinical.notes import note_create_draft, note_sign
from hms.core.testing import PatientFactory, make_user, put_in_care
from hms.scheduling.models import Appointment, AppointmentStatus, ServiceType

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def visit():
    """A doctor, a nurse, the patient (with a portal account) and an open encounter in their care."""
    doctor = make_user(Role.DOCTOR)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    encounter = Encounter.objects.create(
        patient=patient,
        practitioner=doctor.practitioner,
        encounter_class=EncounterClass.AMBULATORY,
        status=EncounterStatus.IN_PROGRESS,
        period_start=timezone.now(),
    )
    nurse = make_user(Role.NURSE)
    put_in_care(nurse, patient)
    return {
        "doctor": doctor,
        "nurse": nurse,
        "patient_user": patient_user,
        "patient": patient,
        "encounter": encounter,
    }


def test_start_visit_from_the_agenda_opens_the_encounter_screen(db):
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory(family_name="Agendason")
    service = ServiceType.objects.create(code="consult", display="Consultation")
    start = timezone.now()
    appointment = Appointment.objects.create(
        patient=patient,
        practitioner=doctor.practitioner,
        service_type=service,
        start=start,
        end=start + dt.timedelta(minutes=20),
        status=AppointmentStatus.ARRIVED,
    )
    client = login(doctor)
    agenda = client.get(reverse("portal:agenda"))
    visit_url = reverse("portal:appointment_visit", args=[appointment.pk])
    assert visit_url in agenda.content.decode() and "Start visit" in agenda.content.decode()

    response = client.post(visit_url)
    encounter = Encounter.objects.get(appointment=appointment)
    assert response.status_code == 302 and response["Location"] == reverse(
        "portal:encounter", args=[encounter.pk]
    )
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.IN_PROGRESS
    page = client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200 and "Agendason".upper() in body
    assert reverse("portal:encounter_note", args=[encounter.pk]) in body  # the note section loads by htmx
    assert 'data-testid="allergies"' in body  # the allergy banner
    # Pressing again opens the same visit.
    assert client.post(visit_url)["Location"] == reverse("portal:encounter", args=[encounter.pk])
    assert "Open visit" in client.get(reverse("portal:agenda")).content.decode()


def test_a_visit_that_cannot_start_goes_back_to_the_agenda_with_the_reason(db):
    doctor = make_user(Role.DOCTOR)
    service = ServiceType.objects.create(code="consult", display="Consultation")
    start = timezone.now()
    appointment = Appointment.objects.create(
        patient=PatientFactory(),
        practitioner=doctor.practitioner,
        service_type=service,
        start=start,
        end=start + dt.timedelta(minutes=20),
        status=AppointmentStatus.CANCELLED,
    )
    response = login(doctor).post(reverse("portal:appointment_visit", args=[appointment.pk]), follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("portal:agenda"))
    assert "No visit can be opened for a cancelled appointment." in response.content.decode()
    assert not Encounter.objects.exists()


def test_doctor_writes_a_draft_from_a_template_signs_and_amends(visit):
    doctor, encounter = visit["doctor"], visit["encounter"]
    client = login(doctor)
    url = reverse("portal:encounter_note", args=[encounter.pk])
    general = NoteTemplate.objects.get(name="General consultation")

    fragment = client.get(url, {"template": general.pk}, **HTMX)
    assert fragment.status_code == 200
    assert "Presenting complaint:" in fragment.content.decode()  # the template fills the form
    assert '<label for="id_subjective">Subjective</label>' in fragment.content.decode()

    saved = client.post(
        url,
        {
            "action": "save",
            "template": general.pk,
            "subjective": "Sore throat 3 days",
            "objective": "",
            "assessment": "Pharyngitis",
            "plan": "",
        },
        **HTMX,
    )
    assert saved.status_code == 200 and "Your draft" in saved.content.decode()
    note = ClinicalNote.objects.get(encounter=encounter)
    assert note.status == "preliminary" and note.subjective == "Sore throat 3 days"
    assert note.objective == general.objective and note.template == general

    signed = client.post(
        url,
        {
            "action": "sign",
            "subjective": "Sore throat 3 days",
            "objective": "Red pharynx",
            "assessment": "Viral pharyngitis",
            "plan": "Fluids",
        },
        **HTMX,
    )
    assert signed.status_code == 200
    note.refresh_from_db()
    assert note.status == "final" and note.assessment == "Viral pharyngitis"
    assert ClinicalNote.objects.filter(encounter=encounter).count() == 1

    refused = client.post(
        url,
        {"action": "addendum", "note": note.pk, f"add{note.pk}-reason": "", f"add{note.pk}-text": "x"},
        **HTMX,
    )
    assert refused.status_code == 200 and "field--invalid" in refused.content.decode()
    assert not note.addenda.exists()
    added = client.post(
        url,
        {
            "action": "addendum",
            "note": note.pk,
            f"add{note.pk}-reason": "Swab result",
            f"add{note.pk}-text": "Strep negative",
        },
        **HTMX,
    )
    assert added.status_code == 200 and "Strep negative" in added.content.decode()
    note.refresh_from_db()
    assert note.status == "amended" and note.assessment == "Viral pharyngitis"
    # every answer that shows the notes is audited as a read of them
    reads = AuditEvent.objects.filter(
        action="read", object_type="clinical.ClinicalNote", patient=visit["patient"]
    )
    assert reads.count() == 5  # the GET and the four POSTs answered with the section


def test_signing_an_empty_note_is_refused_with_a_message(visit):
    client = login(visit["doctor"])
    url = reverse("portal:encounter_note", args=[visit["encounter"].pk])
    empty = {"action": "sign", "subjective": "", "objective": "", "assessment": "", "plan": ""}
    response = client.post(url, empty)  # without htmx: a 400 page with the reason
    assert response.status_code == 400 and "cannot be signed" in response.content.decode()
    assert not ClinicalNote.objects.filter(status="final").exists()


def test_nurse_writes_a_nursing_note_but_cannot_close(visit):
    client = login(visit["nurse"])
    encounter = visit["encounter"]
    url = reverse("portal:encounter_note", args=[encounter.pk])
    fragment = client.get(url, **HTMX).content.decode()
    assert "Nursing note" in fragment and "Sign note" not in fragment
    response = client.post(url, {"action": "nursing", "body": "Comfortable, obs stable"}, **HTMX)
    assert response.status_code == 200 and "Comfortable, obs stable" in response.content.decode()
    assert ClinicalNote.objects.get(encounter=encounter).status == "final"
    page = client.get(reverse("portal:encounter", args=[encounter.pk])).content.decode()
    assert "Close visit" not in page
    close = client.post(reverse("portal:encounter_close", args=[encounter.pk]), {"disposition": "home"})
    assert close.status_code == 403
    encounter.refresh_from_db()
    assert encounter.status == "in-progress"


def test_doctor_closes_the_visit_with_a_disposition(visit):
    client = login(visit["doctor"])
    encounter = visit["encounter"]
    url = reverse("portal:encounter_close", args=[encounter.pk])
    client.post(url, {"disposition": ""})
    encounter.refresh_from_db()
    assert encounter.status == "in-progress"
    response = client.post(url, {"disposition": "home"}, follow=True)
    encounter.refresh_from_db()
    assert encounter.status == "finished" and encounter.discharge_disposition == "home"
    assert "Visit closed." in response.content.decode() and "Discharge: Home" in response.content.decode()


def test_walk_in_from_the_chart(visit):
    client = login(visit["doctor"])
    patient = visit["patient"]
    chart = client.get(reverse("portal:patient_chart", args=[patient.pk])).content.decode()
    url = reverse("portal:encounter_walk_in", args=[patient.pk])
    assert url in chart
    form = client.get(url)
    assert form.status_code == 200 and '<label for="id_encounter_class">' in form.content.decode()
    assert client.post(url, {"encounter_class": "XX"}).status_code == 400
    response = client.post(url, {"encounter_class": "EMER", "reason": "Chest pain"})
    created = Encounter.objects.get(encounter_class="EMER", patient=patient)
    assert response["Location"] == reverse("portal:encounter", args=[created.pk])
    assert created.reason_display == "Chest pain" and created.status == "in-progress"


def test_timeline_page_filters_by_kind_with_htmx(db, charted):
    doctor, patient = charted
    client = login(doctor)
    url = reverse("portal:patient_timeline", args=[patient.pk])
    page = client.get(url)
    body = page.content.decode()
    assert page.status_code == 200 and 'data-kind="encounter"' in body and 'data-kind="vital"' in body
    assert '<label for="id_kind">Type</label>' in body
    filtered = client.get(url, {"kind": "diagnosis"}, **HTMX).content.decode()
    assert (
        "<html" not in filtered
        and 'data-kind="diagnosis"' in filtered
        and 'data-kind="vital"' not in filtered
    )
    assert "Essential hypertension" in filtered
    assert client.get(url, {"kind": "nonsense"}).status_code == 400
    assert client.get(url, {"date_from": "2025-02-02", "date_to": "2025-01-01"}).status_code == 400
    assert (
        AuditEvent.objects.filter(object_type="clinical.Timeline", patient=patient, channel="web").count()
        == 2
    )


def test_timeline_page_reads_a_long_history_in_parts(db, charted, monkeypatch):
    from hms.clinical import selectors

    doctor, patient = charted
    monkeypatch.setattr(selectors, "TIMELINE_SOURCE_LIMIT", 5)
    client = login(doctor)
    url = reverse("portal:patient_timeline", args=[patient.pk])
    first = client.get(url, **HTMX)
    body = first.content.decode()
    assert "Show older" in body and "before=" in body
    older_url = body.split('hx-get="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = client.get(older_url, **HTMX).content.decode()
    assert second.count("timeline__item") > 0
    first_ids = {line for line in body.splitlines() if "datetime=" in line}
    assert not first_ids & {line for line in second.splitlines() if "datetime=" in line}


def test_role_matrix_of_the_pages(visit):
    encounter, patient = visit["encounter"], visit["patient"]
    note = note_create_draft(encounter=encounter, by=visit["doctor"], assessment="A")
    note_sign(note=note, by=visit["doctor"])
    outsider = make_user(Role.DOCTOR)
    put_in_care(outsider, PatientFactory())
    other_patient = make_user(Role.PATIENT)
    pages = {
        "encounter": reverse("portal:encounter", args=[encounter.pk]),
        "note": reverse("portal:encounter_note", args=[encounter.pk]),
        "timeline": reverse("portal:patient_timeline", args=[patient.pk]),
        "walk_in": reverse("portal:encounter_walk_in", args=[patient.pk]),
    }
    expected = {
        visit["doctor"]: {"encounter": 200, "note": 200, "timeline": 200, "walk_in": 200},
        visit["nurse"]: {"encounter": 200, "note": 200, "timeline": 200, "walk_in": 403},
        visit["patient_user"]: {"encounter": 403, "note": 403, "timeline": 200, "walk_in": 403},
        outsider: {"encounter": 404, "note": 404, "timeline": 404, "walk_in": 404},
        other_patient: {"encounter": 403, "note": 403, "timeline": 404, "walk_in": 403},
    }
    for role in (Role.ADMIN, Role.RECEPTIONIST, Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.BILLING):
        expected[make_user(role)] = dict.fromkeys(pages, 403)
    for user, codes in expected.items():
        client = login(user)
        for name, url in pages.items():
            assert client.get(url).status_code == codes[name], (user.role, name)
    anonymous = Client().get(pages["encounter"])
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    # Writes by someone outside the care team change nothing.
    out = login(outsider)
    assert out.post(pages["note"], {"action": "save", "assessment": "x"}).status_code == 404
    assert (
        out.post(reverse("portal:encounter_close", args=[encounter.pk]), {"disposition": "home"}).status_code
        == 404
    )
    assert ClinicalNote.objects.count() == 1


# ---------------------------------------------------------------- in a real browser


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_doctor_opens_the_visit_from_the_agenda_writes_and_signs_a_note(live_server, browser):
    """At phone width (375 px): agenda → Start visit → encounter screen → the note section loads by htmx →
    write the assessment → Sign; the signed note replaces the form without a page load."""
    from playwright.sync_api import expect

    from .test_browser import ARTIFACTS, _login

    doctor = make_user(Role.DOCTOR, username="dr.visit", first_name="Meredith", last_name="Grey")
    patient = PatientFactory(family_name="Visitor", given_names="Vera")
    service = ServiceType.objects.create(code="consult", display="Consultation")
    start = timezone.now()
    Appointment.objects.create(
        patient=patient,
        practitioner=doctor.practitioner,
        service_type=service,
        start=start,
        end=start + dt.timedelta(minutes=20),
        status=AppointmentStatus.ARRIVED,
        reason="Headache",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        _login(page, live_server.url, doctor.username)
        page.goto(f"{live_server.url}{reverse('portal:agenda')}")
        page.get_by_role("button", name="Start visit").click()
        encounter = Encounter.objects.get(patient=patient)
        expect(page).to_have_url(f"{live_server.url}{reverse('portal:encounter', args=[encounter.pk])}")
        expect(page.get_by_test_id("allergies")).to_be_visible()
        assessment = page.get_by_label("Assessment")
        expect(assessment).to_be_visible()  # loaded into the screen by htmx
        page.get_by_label("Subjective").fill("Headache for two days, no red flags")
        assessment.fill("Tension-type headache")
        page.get_by_role("button", name="Sign note").click()
        note = page.get_by_test_id("note")
        expect(note).to_contain_text("Tension-type headache")
        expect(note).to_contain_text("Signed")
        expect(page.locator("summary", has_text="Add an addendum")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375 + 1, f"the encounter screen scrolls sideways at 375 px ({width} px)"
        page.screenshot(path=str(ARTIFACTS / "encounter-note-signed.png"), full_page=True)
        stored = ClinicalNote.objects.get(encounter=encounter)
        assert stored.status == "final" and stored.signed_by == doctor
    finally:
        context.close()
