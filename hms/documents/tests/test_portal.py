"""Portal pages of documents: the encounter fragment (htmx), the chart page, the patient's own page, the
audited download and entered-in-error, each with its role checks."""

import pytest
from django.urls import reverse

from hms.audit.models import AuditEvent
from hms.documents.models import Document, DocumentKind
from hms.documents.services import document_upload

from .conftest import HTML_BYTES, PDF_BYTES, image_bytes, stored_files, upload


def make_doc(people, *, patient=None, by=None, kind=DocumentKind.OTHER, **kwargs):
    return document_upload(
        patient=patient or people["patient"],
        file=upload("letter.pdf", PDF_BYTES),
        kind=kind,
        title=kwargs.pop("title", "Referral letter"),
        by=by or people["doctor"],
        **kwargs,
    )


def login(client, user):
    client.force_login(user)
    return client


# ---------------------------------------------------------------- encounter fragment


def test_encounter_fragment_lists_its_documents_and_uploads_with_htmx(client, people, private_media):
    encounter = people["encounter"]
    in_visit = make_doc(people, encounter=encounter, title="In this visit")
    make_doc(people, title="Elsewhere")
    url = reverse("portal:encounter_documents", args=[encounter.pk])
    login(client, people["doctor"])
    response = client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "In this visit" in html and "Elsewhere" not in html
    assert reverse("portal:document_download", args=[in_visit.pk]) in html
    assert 'hx-encoding="multipart/form-data"' in html and '<label for="doc-file">' in html
    assert AuditEvent.objects.filter(action="read", patient=people["patient"]).exists()

    data = {"file": upload("ecg.png", image_bytes("PNG")), "kind": "scan", "title": "ECG strip"}
    response = client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "“ECG strip” uploaded." in response.content.decode()
    created = Document.objects.get(title="ECG strip")
    assert created.encounter == encounter and created.content_type == "image/png"

    data = {"file": upload("trap.pdf", HTML_BYTES), "kind": "lab-report"}
    response = client.post(url, data, headers={"HX-Request": "true"})
    assert response.status_code == 200  # htmx swaps the fragment with the error shown
    assert "This file type is not allowed" in response.content.decode()
    assert Document.objects.count() == 3 and len(stored_files(private_media)) == 3
    data = {"file": upload("trap.pdf", HTML_BYTES), "kind": "lab-report"}
    assert client.post(url, data).status_code == 400  # without htmx: a plain 400


@pytest.mark.parametrize(
    ("role", "status"),
    [("other_doctor", 404), ("patient_user", 403), ("receptionist", 403), ("lab", 403), ("nurse", 200)],
)
def test_encounter_fragment_role_matrix(client, people, role, status):
    url = reverse("portal:encounter_documents", args=[people["encounter"].pk])
    assert login(client, people[role]).get(url).status_code == status


# ---------------------------------------------------------------- chart page and my documents


def test_patient_documents_page_for_clinicians(client, people):
    make_doc(people, title="Discharge letter", kind=DocumentKind.DISCHARGE_SUMMARY)
    url = reverse("portal:patient_documents", args=[people["patient"].pk])
    response = login(client, people["doctor"]).get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Discharge letter" in html and people["patient"].mrn in html
    response = client.post(url, {"file": upload("cbc.pdf", PDF_BYTES), "kind": "lab-report", "title": "CBC"})
    assert response.status_code == 302 and response["Location"] == url
    assert Document.objects.filter(title="CBC", patient=people["patient"]).exists()
    other_url = reverse("portal:patient_documents", args=[people["other"].pk])
    assert client.get(other_url).status_code == 404
    assert login(client, people["patient_user"]).get(url).status_code == 403
    assert login(client, people["admin"]).get(url).status_code == 403


def test_my_documents_lists_own_and_uploads_scans(client, people, private_media):
    mine = make_doc(people, title="My letter")
    make_doc(people, patient=people["other"], by=people["other_doctor"], title="Not mine")
    url = reverse("portal:my_documents")
    login(client, people["patient_user"])
    html = client.get(url).content.decode()
    assert "My letter" in html and "Not mine" not in html
    assert reverse("portal:document_download", args=[mine.pk]) in html
    assert 'value="discharge-summary"' not in html  # patients upload scans and other documents only
    response = client.post(
        url, {"file": upload("knee.jpg", image_bytes("JPEG")), "kind": "scan", "title": ""}
    )
    assert response.status_code == 302
    assert Document.objects.get(title="knee.jpg").uploaded_by == people["patient_user"]
    response = client.post(url, {"file": upload("knee.pdf", HTML_BYTES), "kind": "scan"})
    assert response.status_code == 400
    assert "This file type is not allowed" in response.content.decode()
    # The patient home links here.
    assert url in client.get(reverse("portal:patient_home")).content.decode()
    assert login(client, people["doctor"]).get(url).status_code == 302  # other roles go to their home


# ---------------------------------------------------------------- download and entered in error


def test_portal_download_checks_access_and_is_audited(client, people):
    document = make_doc(people)
    url = reverse("portal:document_download", args=[document.pk])
    response = login(client, people["patient_user"]).get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="letter.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    event = AuditEvent.objects.get(action="export", object_id=str(document.pk))
    assert event.channel == "web" and event.actor_id == people["patient_user"].pk
    assert login(client, people["other_user"]).get(url).status_code == 404
    assert login(client, people["other_doctor"]).get(url).status_code == 404
    assert login(client, people["receptionist"]).get(url).status_code == 403
    assert AuditEvent.objects.filter(action="export").count() == 1


def test_portal_entered_in_error(client, people):
    document = make_doc(people)
    url = reverse("portal:document_enter_in_error", args=[document.pk])
    login(client, people["other_doctor"])
    assert client.post(url, {"reason": "x"}).status_code == 404
    login(client, people["doctor"])
    response = client.post(url, {"reason": ""})
    assert response.status_code == 302
    document.refresh_from_db()
    assert document.deleted_at is None
    response = client.post(url, {"reason": "Scanned for the wrong patient", "next": "https://evil.example/"})
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:patient_documents", args=[people["patient"].pk])
    document.refresh_from_db()
    assert (
        document.status == "entered-in-error" and document.deletion_reason == "Scanned for the wrong patient"
    )
    page = client.get(reverse("portal:patient_documents", args=[people["patient"].pk])).content.decode()
    assert "was marked entered in error" in page
    assert reverse("portal:document_download", args=[document.pk]) not in page


def test_an_oversize_upload_is_dropped_while_received_and_explained(client, people, settings, private_media):
    settings.DOCUMENT_MAX_BYTES = 64
    url = reverse("portal:my_documents")
    login(client, people["patient_user"])
    response = client.post(url, {"file": upload("big.png", image_bytes("PNG") * 3), "kind": "scan"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "The file is larger than the largest allowed, 64 bytes." in html
    assert "This field is required" not in html
    assert not Document.objects.exists() and stored_files(private_media) == []


def test_upload_views_still_check_csrf(people):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(people["patient_user"])
    response = client.post(reverse("portal:my_documents"), {"file": upload("s.png", image_bytes("PNG"))})
    assert response.status_code == 403
    assert not Document.objects.exists()
