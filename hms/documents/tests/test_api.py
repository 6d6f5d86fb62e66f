"""`/api/attachments/`: upload by content type, private storage, audited downloads, scope and role matrix."""

import hashlib

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone

from hms.audit.models import AuditEvent
from hms.clinical.timeline import timeline_sources
from hms.core.testing import api_client_for
from hms.documents.models import Document, DocumentKind, DocumentStatus
from hms.documents.services import document_upload
from hms.documents.storage import document_storage
from hms.lab.models import DiagnosticReport

from .conftest import (
    EXE_BYTES,
    HTML_BYTES,
    PDF_BYTES,
    image_bytes,
    lab_report,
    stored_files,
    upload,
    zip_bytes,
)

URL = "/api/attachments/"


def post_file(user, name, content, **fields):
    data = {"file": upload(name, content), "kind": "lab-report", "title": "", **fields}
    return api_client_for(user).post(URL, data, format="multipart")


def make_doc(people, *, patient=None, by=None, kind=DocumentKind.OTHER, content=PDF_BYTES, **kwargs):
    return document_upload(
        patient=patient or people["patient"],
        file=upload("report.pdf", content),
        kind=kind,
        title="A report",
        by=by or people["doctor"],
        **kwargs,
    )


# ---------------------------------------------------------------- upload


@pytest.mark.parametrize(
    ("name", "content", "mime"),
    [
        ("results.pdf", PDF_BYTES, "application/pdf"),
        ("wound.png", image_bytes("PNG"), "image/png"),
        ("xray photo.jpeg", image_bytes("JPEG"), "image/jpeg"),
    ],
)
def test_doctor_uploads_pdf_png_jpeg(people, private_media, name, content, mime):
    response = post_file(
        people["doctor"], name, content, patient=people["patient"].pk, encounter=people["encounter"].pk
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["content_type"] == mime
    assert body["size_bytes"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["original_filename"] == name
    assert body["title"] == name  # blank title: the file name
    assert body["type"] == {"system": "http://loinc.org", "code": "11502-2", "display": "Laboratory report"}
    assert body["encounter"] == people["encounter"].pk
    document = Document.objects.get(pk=body["id"])
    # Stored under a random key in the private directory, never under the client's name.
    files = stored_files(private_media)
    assert len(files) == 1
    assert files[0].read_bytes() == content
    assert name.split(".")[0] not in document.file.name
    assert document.file.name.startswith("documents/")
    event = AuditEvent.objects.get(action="create", object_type="documents.Document")
    assert event.object_id == str(document.pk) and event.patient_id == people["patient"].pk


@pytest.mark.parametrize("content", [HTML_BYTES, zip_bytes(), EXE_BYTES], ids=["html", "zip", "exe"])
def test_disguised_file_named_pdf_is_refused_and_nothing_is_stored(people, private_media, content):
    response = post_file(people["doctor"], "report.pdf", content, patient=people["patient"].pk)
    assert response.status_code == 400
    message = response.json()["file"][0]
    assert "not allowed" in message and "PDF, PNG, JPEG, DICOM" in message
    assert not Document.objects.exists()
    assert stored_files(private_media) == []
    assert not AuditEvent.objects.filter(action="create").exists()


def test_oversize_and_empty_files_are_refused(people, private_media, settings):
    settings.DOCUMENT_MAX_BYTES = 64
    response = post_file(people["doctor"], "report.pdf", PDF_BYTES, patient=people["patient"].pk)
    assert response.status_code == 400
    assert response.json() == {"file": ["The file is larger than the largest allowed, 64 bytes."]}
    response = post_file(people["doctor"], "report.pdf", b"", patient=people["patient"].pk)
    assert response.status_code == 400
    assert response.json()["file"] == ["The file is empty."]
    assert not Document.objects.exists() and stored_files(private_media) == []


def test_upload_rejects_bad_fields_with_field_errors(people):
    doctor, patient = people["doctor"], people["patient"]
    cases = [
        ({"kind": "selfie"}, "kind"),
        ({"encounter": people["other_encounter"].pk}, "encounter"),
        ({"patient": "abc"}, "patient"),
        ({"title": "x" * 201}, "title"),
    ]
    for fields, field in cases:
        data = {"patient": patient.pk, **fields}
        response = post_file(doctor, "a.pdf", PDF_BYTES, **data)
        assert response.status_code == 400, (fields, response.content)
        assert field in response.json()
    response = api_client_for(doctor).post(URL, {"patient": patient.pk, "kind": "other"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()
    assert not Document.objects.exists()


def test_patient_uploads_own_scans_only(people, private_media):
    patient_user = people["patient_user"]
    response = post_file(patient_user, "scan.png", image_bytes("PNG"), kind="scan")
    assert response.status_code == 201
    assert response.json()["patient"] == people["patient"].pk
    response = post_file(patient_user, "note.pdf", PDF_BYTES, kind="discharge-summary")
    assert response.status_code == 400 and "kind" in response.json()
    response = post_file(
        patient_user, "scan.png", image_bytes("PNG"), kind="scan", patient=people["other"].pk
    )
    assert response.status_code == 404
    response = post_file(
        patient_user, "scan.png", image_bytes("PNG"), kind="scan", encounter=people["encounter"].pk
    )
    assert response.status_code == 400
    assert Document.objects.count() == 1


def test_lab_technician_uploads_a_lab_report_for_a_report_of_an_order(people):
    report = lab_report(people["patient"], people["doctor"])
    lab = people["lab"]
    response = post_file(lab, "lipids.pdf", PDF_BYTES, patient=people["patient"].pk)
    assert response.status_code == 400 and "diagnostic_report" in response.json()
    response = post_file(
        lab, "lipids.pdf", PDF_BYTES, patient=people["patient"].pk, diagnostic_report=report.pk
    )
    assert response.status_code == 201
    assert response.json()["diagnostic_report"] == report.pk
    other_report = lab_report(people["other"], people["other_doctor"])
    response = post_file(
        lab, "cbc.pdf", PDF_BYTES, patient=people["patient"].pk, diagnostic_report=other_report.pk
    )
    assert response.status_code == 400 and "diagnostic_report" in response.json()
    # A report with no lab order (an imported one) is not the lab's to attach to.
    imported = DiagnosticReport.objects.create(patient=people["patient"], code_display="Old CBC")
    response = post_file(
        lab, "old.pdf", PDF_BYTES, patient=people["patient"].pk, diagnostic_report=imported.pk
    )
    assert response.status_code == 400 and "diagnostic_report" in response.json()


def test_patient_sees_a_report_attachment_only_once_the_report_is_released(people):
    held = lab_report(people["patient"], people["doctor"], released=False)
    document = make_doc(people, by=people["lab"], kind=DocumentKind.LAB_REPORT, diagnostic_report=held)
    client = api_client_for(people["patient_user"])
    assert client.get(URL).json()["results"] == []
    assert client.get(f"{URL}{document.pk}/download/").status_code == 404
    assert api_client_for(people["doctor"]).get(f"{URL}{document.pk}/download/").status_code == 200
    DiagnosticReport.objects.filter(pk=held.pk).update(released_at=timezone.now())
    assert [r["id"] for r in client.get(URL).json()["results"]] == [document.pk]
    assert client.get(f"{URL}{document.pk}/download/").status_code == 200


# ---------------------------------------------------------------- download


def test_download_streams_the_file_with_safe_headers_and_is_audited(people):
    document = make_doc(people, content=image_bytes("PNG"))
    response = api_client_for(people["doctor"]).get(f"{URL}{document.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == image_bytes("PNG")
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == 'attachment; filename="report.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action="export")
    assert (event.actor_id, event.patient_id, event.object_id) == (
        people["doctor"].pk,
        people["patient"].pk,
        str(document.pk),
    )
    assert event.channel == "api"


def test_the_documents_storage_has_no_public_url(people):
    document = make_doc(people)
    with pytest.raises(ValueError, match="no public URL"):
        document.file.url  # noqa: B018
    body = api_client_for(people["doctor"]).get(f"{URL}{document.pk}/").json()
    assert document.file.name not in str(body)
    assert body["download"] == f"/api/attachments/{document.pk}/download/"


# ---------------------------------------------------------------- entered in error


def test_entered_in_error_hides_the_document_but_keeps_row_and_file(people, private_media):
    document = make_doc(people)
    client = api_client_for(people["doctor"])
    response = client.post(f"{URL}{document.pk}/entered-in-error/", {"reason": "  "}, format="json")
    assert response.status_code == 400 and "reason" in response.json()
    response = client.post(
        f"{URL}{document.pk}/entered-in-error/", {"reason": "Wrong patient"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == DocumentStatus.ENTERED_IN_ERROR
    assert client.get(URL).json()["results"] == []
    assert client.get(f"{URL}{document.pk}/").status_code == 404
    assert client.get(f"{URL}{document.pk}/download/").status_code == 404
    document.refresh_from_db()
    assert document.deletion_reason == "Wrong patient" and document.deleted_by == people["doctor"]
    assert document_storage.exists(document.file.name)
    assert len(stored_files(private_media)) == 1
    assert AuditEvent.objects.filter(action="delete", object_id=str(document.pk)).count() == 1
    assert client.post(f"{URL}{document.pk}/entered-in-error/", {"reason": "again"}).status_code == 404


def test_patient_may_mark_own_upload_but_not_the_doctors(people):
    own = make_doc(people, by=people["patient_user"], kind=DocumentKind.SCAN)
    doctors = make_doc(people)
    client = api_client_for(people["patient_user"])
    assert client.post(f"{URL}{doctors.pk}/entered-in-error/", {"reason": "mine?"}).status_code == 404
    assert client.post(f"{URL}{own.pk}/entered-in-error/", {"reason": "blurry"}).status_code == 200


# ---------------------------------------------------------------- scope and role matrix


def test_list_is_scoped_and_filtered(people):
    mine = make_doc(people, encounter=people["encounter"])
    loose = make_doc(people, kind=DocumentKind.PRESCRIPTION)
    theirs = make_doc(people, patient=people["other"], by=people["other_doctor"])

    def ids(user, query=""):
        response = api_client_for(user).get(f"{URL}{query}")
        assert response.status_code == 200
        return {row["id"] for row in response.json()["results"]}

    assert ids(people["doctor"]) == {mine.pk, loose.pk}
    assert ids(people["doctor"], f"?encounter={people['encounter'].pk}") == {mine.pk}
    assert ids(people["doctor"], "?kind=prescription") == {loose.pk}
    assert ids(people["doctor"], f"?patient={people['other'].pk}") == set()
    assert ids(people["nurse"]) == {mine.pk, loose.pk}
    assert ids(people["patient_user"]) == {mine.pk, loose.pk}
    assert ids(people["other_user"]) == {theirs.pk}
    assert ids(people["other_doctor"]) == {theirs.pk}
    assert ids(people["lab"]) == set()
    assert api_client_for(people["doctor"]).get(f"{URL}?patient=x").status_code == 400
    event = AuditEvent.objects.filter(action="search", object_type="documents.Document").first()
    assert event is not None


ENDPOINTS = ["list", "upload", "detail", "download", "entered-in-error"]


def _call(user, endpoint, document, patient):
    client = api_client_for(user)
    if endpoint == "list":
        return client.get(URL)
    if endpoint == "upload":
        data = {"file": upload("s.png", image_bytes("PNG")), "kind": "scan", "patient": patient.pk}
        return client.post(URL, data, format="multipart")
    if endpoint == "detail":
        return client.get(f"{URL}{document.pk}/")
    if endpoint == "download":
        return client.get(f"{URL}{document.pk}/download/")
    return client.post(f"{URL}{document.pk}/entered-in-error/", {"reason": "test"}, format="json")


# role -> expected status per endpoint, on `patient`'s document (in the care of doctor and nurse).
MATRIX = {
    "doctor": {"list": 200, "upload": 201, "detail": 200, "download": 200, "entered-in-error": 200},
    "nurse": {"list": 200, "upload": 201, "detail": 200, "download": 200, "entered-in-error": 200},
    "patient_user": {"list": 200, "upload": 201, "detail": 200, "download": 200, "entered-in-error": 404},
    "other_doctor": {"list": 200, "upload": 404, "detail": 404, "download": 404, "entered-in-error": 404},
    "other_user": {"list": 200, "upload": 404, "detail": 404, "download": 404, "entered-in-error": 404},
    "lab": {"list": 200, "upload": 400, "detail": 404, "download": 404, "entered-in-error": 404},
    "admin": dict.fromkeys(ENDPOINTS, 403),
    "receptionist": dict.fromkeys(ENDPOINTS, 403),
    "billing": dict.fromkeys(ENDPOINTS, 403),
    "pharmacist": dict.fromkeys(ENDPOINTS, 403),
    None: dict.fromkeys(ENDPOINTS, 401),
}


@pytest.mark.parametrize("role", list(MATRIX), ids=[str(r) for r in MATRIX])
def test_role_matrix(people, role):
    user = people[role] if role else None
    for endpoint in ENDPOINTS:
        document = make_doc(people)
        response = _call(user, endpoint, document, people["patient"])
        assert response.status_code == MATRIX[role][endpoint], (role, endpoint, response.content[:200])
        if response.status_code == 200 and endpoint == "list":
            listed = {row["id"] for row in response.json()["results"]}
            assert (document.pk in listed) == (role in {"doctor", "nurse", "patient_user"})


def test_lab_technician_sees_only_the_reports_they_uploaded(people):
    report = lab_report(people["patient"], people["doctor"])
    own = make_doc(people, by=people["lab"], kind=DocumentKind.LAB_REPORT, diagnostic_report=report)
    doctors = make_doc(people, kind=DocumentKind.LAB_REPORT, diagnostic_report=report)
    client = api_client_for(people["lab"])
    assert {r["id"] for r in client.get(URL).json()["results"]} == {own.pk}
    assert client.get(f"{URL}{own.pk}/download/").status_code == 200
    assert client.get(f"{URL}{doctors.pk}/download/").status_code == 404


def test_another_patients_document_by_id_is_404_like_a_missing_one(people):
    theirs = make_doc(people, patient=people["other"], by=people["other_doctor"])
    client = api_client_for(people["patient_user"])
    for suffix in ("", "download/"):
        assert client.get(f"{URL}{theirs.pk}/{suffix}").status_code == 404
        assert client.get(f"{URL}999999/{suffix}").status_code == 404
    assert not AuditEvent.objects.filter(action="export").exists()


def test_timeline_source_lists_visible_documents(people):
    document = make_doc(people, encounter=people["encounter"])
    source = timeline_sources()["document"]
    items = list(source(people["doctor"], people["patient"], date_from=None, date_to=None))
    assert [(i.kind, i.object_id, i.encounter_id) for i in items] == [
        ("document", document.pk, people["encounter"].pk)
    ]
    assert items[0].url == f"/documents/{document.pk}/download/"
    assert list(source(people["other_doctor"], people["patient"], date_from=None, date_to=None)) == []


def test_openapi_schema_lists_the_attachment_endpoints(people):
    response = api_client_for(people["admin"]).get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/attachments/",
        "/api/attachments/{id}/",
        "/api/attachments/{id}/download/",
        "/api/attachments/{id}/entered-in-error/",
    ):
        assert path in paths


def test_a_failure_after_storing_removes_the_file_again(people, private_media):
    """If the transaction fails after the file was stored (here the audit write, given a broken request
    object), the row is rolled back and the stored file removed: nothing is half-written."""
    with pytest.raises(AttributeError):
        document_upload(
            patient=people["patient"],
            file=ContentFile(PDF_BYTES, name="a.pdf"),
            kind="other",
            title="ok",
            by=people["doctor"],
            request=object(),
        )
    assert stored_files(private_media) == []
    assert not Document.objects.exists()


def test_service_refuses_overlong_title_and_description(people):
    with pytest.raises(ValidationError) as exc:
        make_doc(people, description="x" * 2001)
    assert "description" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        document_upload(
            patient=people["patient"],
            file=upload("a.pdf", PDF_BYTES),
            kind="other",
            title="t" * 201,
            by=people["doctor"],
        )
    assert "title" in exc.value.message_dict
    assert not Document.objects.exists()
