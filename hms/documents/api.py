"""REST API of medical documents (FHIR R4 DocumentReference), seed path `/api/attachments/`.

- `GET /api/attachments/?patient=&encounter=&kind=`: the caller's scoped list, newest first (paginated;
  one "search" AuditEvent naming the patients listed).
- `POST /api/attachments/` (multipart/form-data): `file`, `kind`, `title`, `description`, `patient`
  (id; a patient may leave it out: their own record), `encounter` and `diagnostic_report` (ids, optional).
  201 with the metadata; 400 with field errors (`file`: empty, too large, or not PDF/PNG/JPEG/DICOM by
  content; `kind`, `encounter`, `diagnostic_report`, ...); 404 when the patient is not one the caller
  may upload for.
- `GET /api/attachments/{id}/`: metadata ("read" AuditEvent).
- `GET /api/attachments/{id}/download/`: the file, streamed, `Content-Disposition: attachment`, the
  detected content type, `X-Content-Type-Options: nosniff` ("export" AuditEvent).
- `POST /api/attachments/{id}/entered-in-error/` {reason}: 200 with the metadata; 400 blank reason.

Roles: doctor, nurse, patient and lab technician reach these endpoints (others: 403); which documents each
sees is `hms.documents.selectors` (another patient's document by id: 404). Who may upload and mark
entered-in-error is `hms.documents.services`.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.models import Encounter
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.lab.models import DiagnosticReport
from hms.patients.selectors import patient_get

from . import selectors, services
from .models import Document, DocumentKind
from .uploads import install_size_cap, oversize_check
from .validation import allowed_types_text

API_ROLES = (Role.DOCTOR, Role.NURSE, Role.PATIENT, Role.LAB_TECHNICIAN)
MAX_ID = 2**63 - 1


def file_response(document: Document, handle) -> FileResponse:
    """The streamed download of `document` from an open `handle` (see `services.document_open`)."""
    response = FileResponse(
        handle, as_attachment=True, filename=document.download_filename, content_type=document.content_type
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# ---------------------------------------------------------------- serializers


class DocumentSerializer(serializers.ModelSerializer):
    """A document's metadata (never its storage key or a URL of the file itself)."""

    class TypeCoding(serializers.Serializer):
        system = serializers.CharField(source="code_system")
        code = serializers.CharField()
        display = serializers.CharField(source="code_display")

        class Meta:
            ref_name = "DocumentTypeCoding"

    patient = serializers.IntegerField(source="patient_id", read_only=True)
    encounter = serializers.IntegerField(source="encounter_id", read_only=True, allow_null=True)
    diagnostic_report = serializers.IntegerField(
        source="diagnostic_report_id", read_only=True, allow_null=True
    )
    type = TypeCoding(source="*", read_only=True, help_text="LOINC document type (empty for `other`).")
    uploaded_by = serializers.SerializerMethodField()
    size_bytes = serializers.IntegerField(read_only=True, help_text="Bytes.")
    sha256 = serializers.CharField(read_only=True, help_text="SHA-256 of the content, hex.")
    download = serializers.SerializerMethodField(help_text="API path of the audited download.")

    class Meta:
        model = Document
        fields = [
            "id",
            "patient",
            "encounter",
            "diagnostic_report",
            "kind",
            "type",
            "status",
            "title",
            "description",
            "content_type",
            "size_bytes",
            "sha256",
            "original_filename",
            "uploaded_by",
            "created_at",
            "download",
        ]
        read_only_fields = fields

    def get_uploaded_by(self, obj) -> str:
        user = obj.uploaded_by
        return (user.get_full_name() or user.username) if user is not None else ""

    def get_download(self, obj) -> str:
        return f"/api/attachments/{obj.pk}/download/"


class DocumentListQuery(StrictSerializer):
    patient = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    encounter = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    kind = serializers.ChoiceField(required=False, choices=DocumentKind.choices)


class DocumentUploadInput(StrictSerializer):
    file = serializers.FileField(
        allow_empty_file=True,  # the service refuses empty files with our own message
        help_text="PDF, PNG, JPEG or DICOM, checked by content; at most DOCUMENT_MAX_BYTES (20 MB).",
    )
    kind = serializers.ChoiceField(choices=DocumentKind.choices)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    patient = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="Required for staff; a patient's own by default.",
    )
    encounter = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, allow_null=True)
    diagnostic_report = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, allow_null=True
    )


class DocumentEnteredInErrorInput(StrictSerializer):
    reason = serializers.CharField(max_length=500, help_text="Why the document was entered in error.")


# ---------------------------------------------------------------- views


def _upload_patient(request, patient_id):
    user = request.user
    if patient_id is None:
        if user.role == Role.PATIENT and getattr(user, "patient", None) is not None:
            return user.patient
        raise ValidationError({"patient": "Say which patient the document belongs to."})
    return patient_get(user, patient_id)


def _owned(model, pk, patient, field: str):
    if pk is None:
        return None
    row = model.objects.filter(pk=pk, patient=patient, deleted_at__isnull=True).first()
    if row is None:
        raise ValidationError({field: "Not found among this patient's records."})
    return row


class DocumentListCreateApi(GenericAPIView):
    """GET: the caller's scoped documents. POST (multipart): upload one."""

    permission_classes = (HasRole,)
    allowed_roles = {"*": API_ROLES}
    parser_classes = (MultiPartParser, FormParser)
    serializer_class = DocumentSerializer
    pagination_class = CappedCountPagination
    queryset = Document.objects.none()  # schema hint only: reads go through `documents.selectors`

    @extend_schema(
        operation_id="attachments_list",
        parameters=[
            OpenApiParameter("patient", int, description="Patient id."),
            OpenApiParameter("encounter", int, description="Encounter id."),
            OpenApiParameter("kind", str, enum=DocumentKind.values),
        ],
        responses=DocumentSerializer(many=True),
    )
    def get(self, request):
        query = DocumentListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = selectors.documents_visible(request.user)
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        if "encounter" in params:
            qs = qs.filter(encounter_id=params["encounter"])
        if "kind" in params:
            qs = qs.filter(kind=params["kind"])
        page = paginate_audited(self, request, qs, object_type="documents.Document")
        return self.get_paginated_response(DocumentSerializer(page, many=True).data)

    def initial(self, request, *args, **kwargs):
        if request.method == "POST":  # before anything parses the body (session auth's CSRF check does)
            install_size_cap(request._request)
        super().initial(request, *args, **kwargs)

    @extend_schema(
        operation_id="attachments_upload",
        request={"multipart/form-data": DocumentUploadInput},
        responses={
            201: DocumentSerializer,
            400: OpenApiResponse(
                description=f"Field errors; `file`: empty, over the size cap, or not {allowed_types_text()}."
            ),
            403: None,
            404: None,
        },
    )
    def post(self, request):
        payload = request.data  # parses the body (through the size cap)
        oversize_check(request)
        data = DocumentUploadInput(data=payload)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = _upload_patient(request, v.get("patient"))
        document = services.document_upload(
            patient=patient,
            file=v["file"],
            kind=v["kind"],
            title=v["title"],
            description=v["description"],
            encounter=_owned(Encounter, v.get("encounter"), patient, "encounter"),
            diagnostic_report=_owned(
                DiagnosticReport, v.get("diagnostic_report"), patient, "diagnostic_report"
            ),
            by=request.user,
            request=request,
        )
        return Response(DocumentSerializer(document).data, status=status.HTTP_201_CREATED)


class DocumentDetailApi(GenericAPIView):
    """GET one document's metadata."""

    permission_classes = (HasRole,)
    allowed_roles = {"*": API_ROLES}
    serializer_class = DocumentSerializer
    queryset = Document.objects.none()

    @extend_schema(operation_id="attachments_retrieve", responses={200: DocumentSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            document = selectors.document_get(user=request.user, document_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=document.patient, obj=document)
        return Response(DocumentSerializer(document).data)


class DocumentDownloadApi(GenericAPIView):
    """GET the file of one document, as an attachment."""

    permission_classes = (HasRole,)
    allowed_roles = {"*": API_ROLES}
    queryset = Document.objects.none()

    @extend_schema(
        operation_id="attachments_download",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                response=OpenApiTypes.BINARY,
                description="The file with its detected content type (application/pdf, image/png, "
                "image/jpeg, application/dicom), `Content-Disposition: attachment`, "
                "`X-Content-Type-Options: nosniff`.",
            ),
            404: None,
        },
    )
    def get(self, request, pk: int):
        document = selectors.document_get(user=request.user, document_id=pk)
        handle = services.document_open(document=document, by=request.user, request=request)
        return file_response(document, handle)


class DocumentEnteredInErrorApi(GenericAPIView):
    """POST {reason}: mark the document entered-in-error (kept, but gone from lists and downloads)."""

    permission_classes = (HasRole,)
    allowed_roles = {"*": API_ROLES}
    serializer_class = DocumentSerializer
    queryset = Document.objects.none()

    @extend_schema(
        operation_id="attachments_entered_in_error",
        request=DocumentEnteredInErrorInput,
        responses={200: DocumentSerializer, 400: None, 404: None},
    )
    def post(self, request, pk: int):
        document = selectors.document_get(user=request.user, document_id=pk)
        data = DocumentEnteredInErrorInput(data=request.data)
        data.is_valid(raise_exception=True)
        document = services.document_enter_in_error(
            document=document, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return Response(DocumentSerializer(document).data)
