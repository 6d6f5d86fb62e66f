"""Fixtures of the document tests: a private storage in a temporary directory, tiny real files."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user, put_in_care

# A minimal but well-formed PDF 1.4 (one empty page).
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
HTML_BYTES = (
    b"<!DOCTYPE html><html><head><title>x</title></head><body><script>alert(1)</script></body></html>"
)
EXE_BYTES = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
DICOM_BYTES = b"\x00" * 128 + b"DICM" + b"\x02\x00\x00\x00UL\x04\x00\x00\x00\x00\x00" + b"\x00" * 32


def image_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("evil.html", HTML_BYTES)
    return buf.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture(autouse=True)
def private_media(settings, tmp_path):
    """Documents go to a temporary private directory, never into the repository."""
    root = tmp_path / "private-media"
    root.mkdir()
    settings.PRIVATE_MEDIA_ROOT = str(root)
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "hms.documents.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


def lab_report(patient, doctor, *, released: bool = True):
    """A final DiagnosticReport made for a lab order of `patient` (ordered by `doctor`), released to the
    patient now or not yet."""
    from django.utils import timezone

    from hms.lab.models import DiagnosticReport, ServiceRequest

    now = timezone.now()
    order = ServiceRequest.objects.create(
        patient=patient,
        code_system="http://loinc.org",
        code="57698-3",
        code_display="Lipid panel",
        requester=doctor.practitioner,
        authored_at=now,
    )
    return DiagnosticReport.objects.create(
        patient=patient,
        based_on=order,
        status="final",
        code_display="Lipid panel",
        issued_at=now,
        released_at=now if released else None,
    )


def stored_files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.fixture
def people(db):
    """Every role; `patient` (with a user) in the care of `doctor` and `nurse`; `other` patient in the care
    of `other_doctor` only."""
    doctor = make_user(Role.DOCTOR)
    nurse = make_user(Role.NURSE)
    other_doctor = make_user(Role.DOCTOR)
    patient_user = make_user(Role.PATIENT)
    other_user = make_user(Role.PATIENT)
    patient, other = patient_user.patient, other_user.patient
    encounter = put_in_care(doctor, patient)
    encounter.participants.add(nurse.practitioner)
    other_encounter = put_in_care(other_doctor, other)
    return {
        "doctor": doctor,
        "nurse": nurse,
        "other_doctor": other_doctor,
        "patient_user": patient_user,
        "other_user": other_user,
        "patient": patient,
        "other": other,
        "encounter": encounter,
        "other_encounter": other_encounter,
        "lab": make_user(Role.LAB_TECHNICIAN),
        "admin": make_user(Role.ADMIN),
        "receptionist": make_user(Role.RECEPTIONIST),
        "billing": make_user(Role.BILLING),
        "pharmacist": make_user(Role.PHARMACIST),
        "stranger": PatientFactory(),
    }
