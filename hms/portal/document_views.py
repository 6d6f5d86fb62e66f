"""Portal pages of medical documents (issue 4).

- `portal:encounter_documents` `/encounters/<pk>/documents/`: the encounter screen's documents section, an
  htmx fragment (GET: the encounter's documents and an upload form; POST: upload, then the fragment again).
- `portal:patient_documents` `/patients/<pk>/documents/`: a clinician's page of all the patient's documents,
  with upload.
- `portal:my_documents` `/me/documents/`: the patient's own documents; they download them and upload their
  own scans or other documents.
- `portal:document_download` `/documents/<pk>/download/`: the audited download (the only way to the bytes
  from the web; the API has its own).
- `portal:document_enter_in_error` `/documents/<pk>/entered-in-error/` (POST reason): mark one in error.

Thin: access through `hms.clinical.selectors.encounter_get`, `hms.patients.selectors` and
`hms.documents.selectors` (404 for missing or not yours), writes through `hms.documents.services`, one
AuditEvent per page read (in the same transaction as the read).
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.selectors import encounter_get
from hms.documents import selectors as document_selectors
from hms.documents import services as document_services
from hms.documents.api import file_response
from hms.documents.forms import DocumentUploadForm, EnteredInErrorForm
from hms.documents.uploads import capped_uploads, oversize_check
from hms.patients.selectors import patient_get_clinical

from . import queries
from .access import role_required

CLINICIANS = (Role.DOCTOR, Role.NURSE)
READERS = (Role.DOCTOR, Role.NURSE, Role.PATIENT, Role.LAB_TECHNICIAN)
LIST_LIMIT = 200


def _attach_errors(form, exc: ValidationError) -> None:
    """Show a service's ValidationError on the form: on the field it names when the form has it."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, msgs in errors.items():
        for message in msgs:
            form.add_error(field if field in form.fields else None, message)


def _bound_form(request, **kwargs) -> DocumentUploadForm:
    """The upload form bound to the POST; a file the size cap skipped shows as that error on `file`."""
    form = DocumentUploadForm(request.POST, request.FILES, **kwargs)
    try:
        oversize_check(request)
    except ValidationError as exc:
        form.fields["file"].required = False
        form.is_valid()
        _attach_errors(form, exc)
    return form


def _upload(request, form, *, patient, encounter=None):
    """Run the upload service on a bound, valid form. Returns the document, or None with the errors on
    the form."""
    data = form.cleaned_data
    try:
        return document_services.document_upload(
            patient=patient,
            file=data["file"],
            kind=data["kind"],
            title=data["title"],
            description=data["description"],
            encounter=encounter,
            by=request.user,
            request=request,
        )
    except ValidationError as exc:
        _attach_errors(form, exc)
        return None


def _audit_list(request, patient, view: str, documents) -> None:
    audit_record(
        action=AuditAction.READ,
        request=request,
        patient=patient,
        object_type="documents.Document",
        channel="web",
        detail={"view": view, "documents": [d.pk for d in documents]},
    )


@capped_uploads
@role_required(*CLINICIANS)
@require_http_methods(["GET", "POST"])
def encounter_documents(request, pk: int):
    """GET: the fragment (documents of this encounter, upload form). POST (multipart): upload to this
    encounter, then the fragment again, with the errors when refused (status 200 for htmx to swap it,
    400 without htmx)."""
    encounter = encounter_get(user=request.user, encounter_id=pk)
    patient = encounter.patient
    form = DocumentUploadForm()
    status = 200
    uploaded = None
    if request.method == "POST":
        form = _bound_form(request)
        if form.is_valid():
            uploaded = _upload(request, form, patient=patient, encounter=encounter)
        if uploaded is not None:
            form = DocumentUploadForm()
        elif not request.htmx:
            status = 400
    with transaction.atomic():
        documents = list(
            document_selectors.documents_visible(request.user, patient=patient).filter(encounter=encounter)[
                :LIST_LIMIT
            ]
        )
        _audit_list(request, patient, "encounter_documents", documents)
    try:
        encounter_url = reverse("portal:encounter", args=[encounter.pk])
    except NoReverseMatch:  # the encounter screen not wired yet: come back to the patient's documents
        encounter_url = reverse("portal:patient_documents", args=[patient.pk])
    context = {
        "encounter": encounter,
        "patient": patient,
        "documents": documents,
        "form": form,
        "uploaded": uploaded,
        "encounter_url": encounter_url,
    }
    return render(request, "portal/documents/_encounter_documents.html", context, status=status)


@capped_uploads
@role_required(*CLINICIANS)
@require_http_methods(["GET", "POST"])
def patient_documents(request, pk: int):
    """The patient's documents on the chart, newest first, with an upload form (PRG after upload)."""
    patient = patient_get_clinical(request.user, pk)
    form = DocumentUploadForm()
    status = 200
    if request.method == "POST":
        form = _bound_form(request)
        if form.is_valid() and _upload(request, form, patient=patient):
            messages.success(request, "Document uploaded.")
            return redirect("portal:patient_documents", pk=patient.pk)
        status = 400
    with transaction.atomic():
        documents = list(document_selectors.documents_visible(request.user, patient=patient)[:LIST_LIMIT])
        _audit_list(request, patient, "patient_documents", documents)
        allergies = queries.allergies_active(request.user, patient)
    context = {
        "patient": patient,
        "documents": documents,
        "form": form,
        "allergies": allergies,
        "can_mark": True,
    }
    return render(request, "portal/documents/patient_documents.html", context, status=status)


@capped_uploads
@role_required(Role.PATIENT, redirect_home=True)
@require_http_methods(["GET", "POST"])
def my_documents(request):
    """The signed-in patient's own documents; they upload scans and other documents (PRG)."""
    patient = getattr(request.user, "patient", None)
    if patient is None or patient.deleted_at is not None:
        return render(request, "portal/documents/my_documents.html", {"patient": None})
    form = DocumentUploadForm(for_patient=True)
    status = 200
    if request.method == "POST":
        form = _bound_form(request, for_patient=True)
        if form.is_valid() and _upload(request, form, patient=patient):
            messages.success(request, "Document uploaded.")
            return redirect("portal:my_documents")
        status = 400
    with transaction.atomic():
        documents = list(document_selectors.documents_visible(request.user, patient=patient)[:LIST_LIMIT])
        _audit_list(request, patient, "my_documents", documents)
    context = {"patient": patient, "documents": documents, "form": form, "user_id": request.user.pk}
    return render(request, "portal/documents/my_documents.html", context, status=status)


@role_required(*READERS)
def document_download(request, pk: int):
    """The file, as an attachment with its detected type and `nosniff`; audited (export). 404 when the
    document is missing, entered in error or not the user's to see."""
    document = document_selectors.document_get(user=request.user, document_id=pk)
    handle = document_services.document_open(document=document, by=request.user, request=request)
    return file_response(document, handle)


@role_required(*READERS)
@require_POST
def document_enter_in_error(request, pk: int):
    """POST `reason` (and an optional same-site `next`): mark the document entered-in-error."""
    document = document_selectors.document_get(user=request.user, document_id=pk)
    form = EnteredInErrorForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError({"reason": "Say why this document was entered in error."})
        document_services.document_enter_in_error(
            document=document, reason=form.cleaned_data["reason"], by=request.user, request=request
        )
    except ValidationError as exc:
        messages.error(request, " ".join(m for msgs in exc.message_dict.values() for m in msgs))
    else:
        messages.success(request, f"“{document.title}” was marked entered in error.")
    target = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        target = ""
    if not target:
        if request.user.role == Role.PATIENT:
            target = reverse("portal:my_documents")
        elif request.user.role == Role.LAB_TECHNICIAN:
            target = reverse("portal:lab_home")
        else:
            target = reverse("portal:patient_documents", args=[document.patient_id])
    return redirect(target)
