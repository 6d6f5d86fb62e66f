"""Upload checks by content (no database): allowed types, disguised files, size cap, names."""

import pytest
from django.core.exceptions import ValidationError

from hms.documents.services import sanitize_filename
from hms.documents.validation import detect_content_type, validate_upload

from .conftest import DICOM_BYTES, EXE_BYTES, HTML_BYTES, PDF_BYTES, image_bytes, upload, zip_bytes


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (PDF_BYTES, "application/pdf"),
        (image_bytes("PNG"), "image/png"),
        (image_bytes("JPEG"), "image/jpeg"),
        (DICOM_BYTES, "application/dicom"),
    ],
)
def test_allowed_types_are_detected_from_the_bytes(content, expected):
    # The name says .txt and the client's header says text/plain: only the bytes count.
    detected = validate_upload(upload("whatever.txt", content, "text/plain"))
    assert detected.content_type == expected
    assert detected.size_bytes == len(content)
    assert len(detected.sha256) == 64


@pytest.mark.parametrize(
    "content", [HTML_BYTES, zip_bytes(), EXE_BYTES, b"just some text", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40]
)
def test_disguised_or_broken_files_named_pdf_are_refused(content):
    with pytest.raises(ValidationError) as exc:
        validate_upload(upload("report.pdf", content))
    message = " ".join(exc.value.message_dict["file"])
    assert ("PDF" in message and "JPEG" in message) or "damaged" in message


def test_html_named_pdf_message_lists_the_allowed_types():
    with pytest.raises(ValidationError) as exc:
        validate_upload(upload("report.pdf", HTML_BYTES))
    assert exc.value.message_dict["file"] == [
        "This file type is not allowed. Allowed types (checked by content): PDF, PNG, JPEG, DICOM."
    ]


def test_a_zip_with_dicm_at_offset_128_is_not_dicom():
    content = bytearray(zip_bytes().ljust(200, b"\x00"))
    content[128:132] = b"DICM"
    assert detect_content_type(bytes(content)) is None


def test_empty_file_is_refused():
    with pytest.raises(ValidationError) as exc:
        validate_upload(upload("empty.pdf", b""))
    assert exc.value.message_dict["file"] == ["The file is empty."]


def test_size_cap_comes_from_settings(settings):
    settings.DOCUMENT_MAX_BYTES = len(PDF_BYTES) - 1
    with pytest.raises(ValidationError) as exc:
        validate_upload(upload("big.pdf", PDF_BYTES))
    assert "largest allowed" in exc.value.message_dict["file"][0]
    settings.DOCUMENT_MAX_BYTES = len(PDF_BYTES)
    assert validate_upload(upload("big.pdf", PDF_BYTES)).content_type == "application/pdf"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\scan 1.pdf", "scan 1.pdf"),
        ('<img src=x onerror="a">.pdf', "_img src_x onerror_a_.pdf"),
        ("..hidden", "hidden"),
        ("a\x00b\r\n.pdf", "ab.pdf"),
        ("", ""),
    ],
)
def test_sanitize_filename(raw, clean):
    assert sanitize_filename(raw) == clean


def test_sanitize_filename_caps_length_and_keeps_extension():
    name = sanitize_filename("x" * 400 + ".pdf")
    assert len(name) == 150 and name.endswith(".pdf")
