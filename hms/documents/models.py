"""Medical documents attached to a patient's record. Maps to FHIR R4 `DocumentReference`
(https://hl7.org/fhir/R4/documentreference.html).

- `kind` ~ DocumentReference.type: our five kinds, each with the LOINC document type code where one
  exists (`code*` columns, from the FHIR R4 value set "Document Type Value Set" / C80 document type codes,
  https://hl7.org/fhir/R4/valueset-c80-doc-typecodes.html, and LOINC's Document Ontology).
- `status` ~ DocumentReference.status (document-reference-status: current | superseded | entered-in-error).
- `file` ~ content.attachment: `content_type` (detected from the bytes), `size_bytes`, `sha256`
  (attachment.hash holds SHA-1 in R4; we keep the stronger SHA-256), `original_filename`, `title`.
- `patient` ~ subject, `encounter` ~ context.encounter, `diagnostic_report` ~ context.related,
  `uploaded_by` ~ author, `created_at` ~ date.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from hms.core.models import CodingFields, PatientRecordModel

from .storage import get_document_storage

LOINC = "http://loinc.org"


class DocumentKind(models.TextChoices):
    LAB_REPORT = "lab-report", "Lab report"
    SCAN = "scan", "Scan / imaging"
    PRESCRIPTION = "prescription", "Prescription"
    DISCHARGE_SUMMARY = "discharge-summary", "Discharge summary"
    OTHER = "other", "Other"


# kind -> (LOINC code, LOINC display). "other" has no LOINC document type.
KIND_LOINC: dict[str, tuple[str, str]] = {
    DocumentKind.LAB_REPORT: ("11502-2", "Laboratory report"),
    DocumentKind.SCAN: ("18748-4", "Diagnostic imaging study"),
    DocumentKind.PRESCRIPTION: ("57833-6", "Prescription for medication"),
    DocumentKind.DISCHARGE_SUMMARY: ("18842-5", "Discharge summary"),
}


class DocumentStatus(models.TextChoices):
    CURRENT = "current", "Current"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


def document_key(instance, filename: str) -> str:
    """The storage name of a new file: `documents/YYYY/MM/<random hex><detected extension>`.

    Never derived from the client's file name; `filename` (already our extension) is only used for
    its extension."""
    now = timezone.now()
    ext = filename[filename.rfind(".") :] if "." in filename else ""
    return f"documents/{now:%Y/%m}/{uuid.uuid4().hex}{ext[:8]}"


class Document(PatientRecordModel, CodingFields):
    """One uploaded medical document (see module docstring for the FHIR mapping).

    Soft-deleted only (entered-in-error keeps the row and the file). Read it through
    `hms.documents.selectors`; write it through `hms.documents.services`.
    """

    diagnostic_report = models.ForeignKey(
        "lab.DiagnosticReport", null=True, blank=True, on_delete=models.PROTECT, related_name="documents"
    )
    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    status = models.CharField(max_length=20, choices=DocumentStatus.choices, default=DocumentStatus.CURRENT)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=2000)
    file = models.FileField(upload_to=document_key, storage=get_document_storage, max_length=255)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    original_filename = models.CharField(max_length=200, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="uploaded_documents"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="document_patient_created"),
            models.Index(fields=["encounter", "-created_at"], name="document_encounter_created"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def download_filename(self) -> str:
        """The name offered on download: the sanitised original stem with the detected extension."""
        from .validation import ALLOWED_TYPES

        ext = ALLOWED_TYPES.get(self.content_type, ("", ""))[1]
        stem = (
            self.original_filename.rsplit(".", 1)[0]
            if "." in self.original_filename
            else self.original_filename
        )
        return f"{stem or 'document'}{ext}"
