"""Writes of medical documents: upload and entered-in-error. Nothing is ever hard-deleted.

Who may upload (anyone else: `NotFoundOrForbidden`, 404, the same answer as a missing patient):

- doctors and nurses, for a patient in their care (`hms.clinical.services.clinical_write_check`), any kind,
  optionally in one of the patient's encounters and/or for one of their diagnostic reports;
- lab technicians, a `lab-report` attached to a diagnostic report of that patient made for a lab order
  (`diagnostic_report` required; the reports `hms.lab.selectors.reports_visible` shows them);
- the patient, for themself, a `scan` or `other` document (no encounter, no report).

Who may mark a document entered-in-error: doctors and nurses caring for the patient, and the user who
uploaded it (a patient their own upload, a lab technician their report).
"""

import os
import re
import unicodedata

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.services import clinical_write_check
from hms.core.errors import NotFoundOrForbidden

from .models import KIND_LOINC, LOINC, Document, DocumentKind, DocumentStatus
from .selectors import documents_visible
from .validation import validate_upload

MAX_TITLE = 200
MAX_DESCRIPTION = 2000
PATIENT_KINDS = frozenset({DocumentKind.SCAN, DocumentKind.OTHER})
_UNSAFE = re.compile(r"[^\w.\- ()]+")


def sanitize_filename(name: str | None) -> str:
    """The client's file name made safe to store and show: the last path component only (either slash),
    NFKC-normalised, control and shell/HTML-special characters replaced by `_`, no leading dots, at most
    150 characters. May be "" (the download then offers "document.<ext>")."""
    name = unicodedata.normalize("NFKC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > 150:
        stem, ext = os.path.splitext(name)
        name = stem[: 150 - len(ext[:10])] + ext[:10]
    return name


def _upload_check(*, by, patient, kind, encounter, diagnostic_report) -> None:
    """Raise `NotFoundOrForbidden` unless `by` may upload this kind of document for `patient`."""
    role = getattr(by, "role", None) if by is not None and by.is_authenticated else None
    if role in (Role.DOCTOR, Role.NURSE):
        clinical_write_check(by, patient)
    elif role == Role.LAB_TECHNICIAN:
        if patient.deleted_at is not None:
            raise NotFoundOrForbidden()
        from hms.lab.selectors import reports_visible

        if (
            kind != DocumentKind.LAB_REPORT
            or diagnostic_report is None
            or not reports_visible(by).filter(pk=diagnostic_report.pk, patient=patient).exists()
        ):
            raise ValidationError(
                {"diagnostic_report": "Lab technicians attach lab reports to a report of a lab order."}
            )
    elif role == Role.PATIENT:
        if patient.user_id != by.pk or patient.deleted_at is not None:
            raise NotFoundOrForbidden()
        if kind not in PATIENT_KINDS:
            raise ValidationError({"kind": "You can upload scans and other documents."})
        if encounter is not None or diagnostic_report is not None:
            raise ValidationError({"encounter": "Patients upload documents to their record, not to a visit."})
    else:
        raise NotFoundOrForbidden()


def document_upload(
    *,
    patient,
    file,
    kind: str,
    title: str,
    description: str = "",
    encounter=None,
    diagnostic_report=None,
    by,
    request=None,
) -> Document:
    """Store an uploaded file as a new `Document` of `patient`.

    - `file`: a Django `UploadedFile`; checked by `hms.documents.validation.validate_upload` (type by
      content: PDF, PNG, JPEG, DICOM; size ≤ `DOCUMENT_MAX_BYTES`; not empty).
    - `kind`: a `DocumentKind` value; `title`: up to 200 characters (the file name when blank);
      `description`: up to 2000 characters.
    - `encounter` / `diagnostic_report`: optional, must be live and belong to `patient`.

    Saved under a random key in the private `documents` storage, then the row and one AuditEvent
    (create) in one transaction; if the row cannot be saved, the stored file is removed again.
    Raises `ValidationError` (400, field errors: file, kind, title, encounter, diagnostic_report) and
    `NotFoundOrForbidden` (404) when `by` may not upload for this patient (see module docstring).
    """
    if kind not in DocumentKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(DocumentKind.values)}."})
    _upload_check(by=by, patient=patient, kind=kind, encounter=encounter, diagnostic_report=diagnostic_report)
    if encounter is not None and (encounter.patient_id != patient.pk or encounter.deleted_at is not None):
        raise ValidationError({"encounter": "This visit is not one of this patient's."})
    if diagnostic_report is not None and (
        diagnostic_report.patient_id != patient.pk or diagnostic_report.deleted_at is not None
    ):
        raise ValidationError({"diagnostic_report": "This report is not one of this patient's."})
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError({"description": f"At most {MAX_DESCRIPTION} characters."})
    detected = validate_upload(file)
    original = sanitize_filename(getattr(file, "name", ""))
    title = " ".join((title or "").split())
    if len(title) > MAX_TITLE:
        raise ValidationError({"title": f"At most {MAX_TITLE} characters."})
    title = title or original[:MAX_TITLE] or "Document"
    loinc = KIND_LOINC.get(kind)
    document = Document(
        patient=patient,
        encounter=encounter,
        diagnostic_report=diagnostic_report,
        kind=kind,
        code_system=LOINC if loinc else "",
        code=loinc[0] if loinc else "",
        code_display=loinc[1] if loinc else "",
        title=title,
        description=description,
        content_type=detected.content_type,
        size_bytes=detected.size_bytes,
        sha256=detected.sha256,
        original_filename=original,
        uploaded_by=by,
    )
    document.full_clean(exclude=["file"])
    stored_name = None
    try:
        with transaction.atomic():
            document.file.save(f"upload{detected.extension}", file, save=False)
            stored_name = document.file.name
            document.save()
            audit_record(
                actor=by,
                action=AuditAction.CREATE,
                request=request,
                patient=patient,
                obj=document,
                detail={
                    "kind": kind,
                    "content_type": detected.content_type,
                    "size_bytes": detected.size_bytes,
                },
            )
    except BaseException:
        if stored_name:
            document.file.storage.delete(stored_name)
        raise
    return document


def _may_mark(by, document: Document) -> bool:
    role = getattr(by, "role", None)
    if role in (Role.DOCTOR, Role.NURSE):
        try:
            clinical_write_check(by, document.patient)
        except NotFoundOrForbidden:
            return False
        return True
    return document.uploaded_by_id == by.pk and documents_visible(by).filter(pk=document.pk).exists()


def document_enter_in_error(*, document: Document, reason: str, by, request=None) -> Document:
    """Mark `document` entered-in-error with `reason`: it leaves every list and download; the row and
    the stored file are kept. Sets `status` and the soft-delete columns; writes one AuditEvent (delete,
    detail {"reason", "entered_in_error": true}) in the same transaction.

    Raises `ValidationError` (400) for a blank reason or a document already marked; `NotFoundOrForbidden`
    (404) when `by` may not do it (see module docstring).
    """
    if by is None or not by.is_authenticated or not _may_mark(by, document):
        raise NotFoundOrForbidden()
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why this document was entered in error."})
    with transaction.atomic():
        locked = Document.objects.select_for_update().get(pk=document.pk)
        if locked.deleted_at is not None:
            raise ValidationError({"detail": "This document is already marked entered-in-error."})
        locked.deleted_at = timezone.now()
        locked.deleted_by = by
        locked.deletion_reason = reason[:500]
        locked.status = DocumentStatus.ENTERED_IN_ERROR
        locked.save(update_fields=["deleted_at", "deleted_by", "deletion_reason", "status", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.DELETE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"reason": locked.deletion_reason, "entered_in_error": True},
        )
    return locked


def document_open(*, document: Document, by, request=None):
    """Open the stored file of a document `by` may see (from `selectors.document_get`) for download and
    write its AuditEvent (export) once the file is open. Returns a binary file object; the caller
    streams and closes it."""
    handle = document.file.storage.open(document.file.name, "rb")
    try:
        with transaction.atomic():
            audit_record(
                actor=by,
                action=AuditAction.EXPORT,
                request=request,
                patient=document.patient,
                obj=document,
                detail={"download": True, "sha256": document.sha256},
            )
    except BaseException:
        handle.close()
        raise
    return handle
