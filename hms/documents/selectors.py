"""Reads of medical documents, always scoped to the requesting user.

Who may list, read the metadata of and download a document (anything else: `NotFoundOrForbidden`, 404,
the same answer as a missing document):

| role | documents |
|---|---|
| doctor, nurse | those of patients in their care (`hms.patients.selectors`) |
| patient | their own (a lab report's attachment once the report is released: `lab.selectors.released_q`) |
| lab technician | the lab reports they uploaded themself |
| admin, receptionist, billing, pharmacist | none |

Documents marked entered-in-error leave every list and cannot be downloaded here (the row and the file
stay; an admin can see them in the Django admin).
"""

from django.db.models import Q, QuerySet
from django.urls import reverse

from hms.accounts.roles import Role
from hms.clinical.timeline import TimelineItem
from hms.core.errors import NotFoundOrForbidden
from hms.patients.models import Patient
from hms.patients.selectors import CARE_ROLES, clinical_records

from .models import Document, DocumentKind

READER_ROLES = frozenset({Role.DOCTOR, Role.NURSE, Role.PATIENT, Role.LAB_TECHNICIAN})


def documents_visible(user, *, patient: Patient | None = None) -> QuerySet[Document]:
    """Live documents `user` may see, newest first (optionally of one `patient`)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Document.objects.none()
    role = user.role
    if role in CARE_ROLES:
        qs = clinical_records(user, Document, patient=patient)
    elif role == Role.PATIENT:
        from hms.lab.selectors import released_q

        # A report's attachment reaches the patient when the report itself does (the lab release rule).
        qs = clinical_records(user, Document, patient=patient).filter(
            Q(diagnostic_report__isnull=True) | released_q(prefix="diagnostic_report__")
        )
    elif role == Role.LAB_TECHNICIAN:
        qs = Document.objects.filter(deleted_at__isnull=True, uploaded_by=user, kind=DocumentKind.LAB_REPORT)
        if patient is not None:
            qs = qs.filter(patient=patient)
    else:
        return Document.objects.none()
    return qs.select_related("uploaded_by", "patient").order_by("-created_at", "-id")


def document_get(*, user, document_id) -> Document:
    """One live document `user` may see; `NotFoundOrForbidden` (404) when missing or not theirs."""
    try:
        pk = int(document_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    document = documents_visible(user).filter(pk=pk).first()
    if document is None:
        raise NotFoundOrForbidden()
    return document


def documents_timeline(user, patient: Patient, *, date_from=None, date_to=None) -> list[TimelineItem]:
    """Timeline source `document`: the patient's live documents `user` may see, with a download link."""
    qs = documents_visible(user, patient=patient)
    if date_from is not None:
        qs = qs.filter(created_at__gte=date_from)
    if date_to is not None:
        qs = qs.filter(created_at__lt=date_to)
    return [
        TimelineItem(
            kind="document",
            at=d.created_at,
            title=d.title,
            detail=f"{d.get_kind_display()} · {d.content_type}",
            encounter_id=d.encounter_id,
            object_type="documents.Document",
            object_id=d.pk,
            url=reverse("portal:document_download", args=[d.pk]),
        )
        for d in qs
    ]
