"""REST API of the patient registry: `/api/patients/` and `/api/patients/{id}/`.

Who may do what (record-level scope comes from `hms.patients.selectors`):

| operation | roles |
|---|---|
| list/search, retrieve | every authenticated user, within their scope (a patient: only themself) |
| create, PUT/PATCH | receptionist, admin (doctors and nurses do not edit demographics: the front desk owns
  identity data, so a clinical user cannot silently re-identify a chart) |
| DELETE (soft, with a reason) | admin |

Every list/search writes one AuditEvent ("search", with the ids of the patients on the page); every
retrieve writes "read"; writes are audited by `hms.patients.services`.
"""

from collections.abc import Mapping

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictModelSerializer, StrictSerializer

from . import services
from .filters import PatientFilter
from .models import Patient
from .selectors import patient_get, patient_search_in, patients_visible

WRITE_ROLES = (Role.RECEPTIONIST, Role.ADMIN)

INCLUDE_DELETED = OpenApiParameter(
    "include_deleted", OpenApiTypes.BOOL, description="Admins only: also soft-deleted patients."
)
SEARCH = OpenApiParameter(
    "search",
    OpenApiTypes.STR,
    description="Name prefix (family or given; several words narrow), MRN, phone, or date of birth "
    "YYYY-MM-DD. At most 100 characters.",
)


def _include_deleted(request) -> bool:
    wanted = request.query_params.get("include_deleted", "").lower() in ("1", "true", "yes")
    return wanted and request.user.role == Role.ADMIN


class PatientOutputSerializer(serializers.ModelSerializer):
    medical_record_number = serializers.CharField(source="mrn", read_only=True)
    age = serializers.IntegerField(read_only=True)
    is_deleted = serializers.BooleanField(read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id",
            "medical_record_number",
            "prefix",
            "family_name",
            "given_names",
            "date_of_birth",
            "age",
            "gender",
            "deceased_at",
            "phone",
            "email",
            "address_line",
            "city",
            "state",
            "postal_code",
            "country",
            "blood_group",
            "emergency_contact_name",
            "emergency_contact_phone",
            "emergency_contact_relationship",
            "national_id",
            "preferred_language",
            "active",
            "is_deleted",
            "deleted_at",
            "deletion_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PatientInputSerializer(StrictModelSerializer):
    """Demographics a caller may set; validation (lengths, choices) comes from the model."""

    class Meta:
        model = Patient
        fields = list(services.PATIENT_FIELDS)


class PatientCreateInputSerializer(PatientInputSerializer):
    force = serializers.BooleanField(default=False, help_text="Register even if probable duplicates exist.")
    force_reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required with force; audited.",
    )

    class Meta(PatientInputSerializer.Meta):
        fields = [*PatientInputSerializer.Meta.fields, "force", "force_reason"]

    def validate(self, attrs):
        if attrs.get("force") and not attrs.get("force_reason", "").strip():
            raise serializers.ValidationError({"force_reason": "A reason is required with force."})
        return attrs


DuplicateConflictSerializer = inline_serializer(
    "PatientDuplicateConflict",
    {
        "detail": serializers.CharField(),
        "candidates": inline_serializer(
            "PatientDuplicateCandidate",
            {
                "id": serializers.IntegerField(),
                "mrn": serializers.CharField(),
                "name": serializers.CharField(),
                "date_of_birth": serializers.DateField(),
            },
            many=True,
        ),
    },
)


class PatientListCreateApi(GenericAPIView):
    """GET: search/list patients in the caller's scope (paginated). POST: register a patient."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": WRITE_ROLES}
    filterset_class = PatientFilter
    pagination_class = CappedCountPagination
    serializer_class = PatientOutputSerializer

    def get_queryset(self):
        return patients_visible(self.request.user, include_deleted=_include_deleted(self.request))

    @extend_schema(
        operation_id="patients_list",
        parameters=[SEARCH, INCLUDE_DELETED],
        responses=PatientOutputSerializer(many=True),
    )
    def get(self, request):
        queryset = self.get_queryset()
        if set(PatientFilter.base_filters) & set(request.query_params):  # django-filter costs ~0.5 ms
            queryset = self.filter_queryset(queryset)
        term = request.query_params.get("search", "")
        if len(term) > 100:
            message = "Ensure this field has no more than 100 characters."
            raise serializers.ValidationError({"search": [message]})
        if "\x00" in term:
            raise serializers.ValidationError({"search": ["Null characters are not allowed."]})
        if term.strip():
            queryset = patient_search_in(queryset, term)
        with transaction.atomic():
            page = self.paginate_queryset(queryset)
            audit_record(
                action="search",
                request=request,
                patients=page,
                object_type="patients.Patient",
                detail={"query": {k: v[:100] for k, v in request.query_params.items()}},
            )
        return self.get_paginated_response(PatientOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_create",
        request=PatientCreateInputSerializer,
        responses={201: PatientOutputSerializer, 400: None, 403: None, 409: DuplicateConflictSerializer},
    )
    def post(self, request):
        data = PatientCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        force, force_reason = values.pop("force"), values.pop("force_reason")
        patient = services.patient_create(
            by=request.user, data=values, force=force, force_reason=force_reason, request=request
        )
        return Response(PatientOutputSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailApi(GenericAPIView):
    """GET one patient; PUT/PATCH demographics (receptionist, admin); DELETE = soft delete (admin)."""

    permission_classes = (HasRole,)
    allowed_roles = {"PUT": WRITE_ROLES, "PATCH": WRITE_ROLES, "DELETE": (Role.ADMIN,)}
    serializer_class = PatientOutputSerializer

    class DeleteInputSerializer(StrictSerializer):
        reason = serializers.CharField(max_length=500, help_text="Why the record is deleted (audited).")

        class Meta:
            ref_name = "PatientDeleteInput"

    @extend_schema(
        operation_id="patients_retrieve",
        parameters=[INCLUDE_DELETED],
        responses={200: PatientOutputSerializer, 404: None},
    )
    def get(self, request, pk: int):
        with transaction.atomic():
            patient = patient_get(request.user, pk, include_deleted=_include_deleted(request))
            audit_record(action="read", request=request, patient=patient, obj=patient)
        return Response(PatientOutputSerializer(patient).data)

    def _update(self, request, pk: int, *, partial: bool):
        patient = patient_get(request.user, pk)
        data = PatientInputSerializer(patient, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        patient = services.patient_update(
            patient=patient, by=request.user, data=data.validated_data, request=request
        )
        return Response(PatientOutputSerializer(patient).data)

    @extend_schema(
        operation_id="patients_update",
        request=PatientInputSerializer,
        responses={200: PatientOutputSerializer, 400: None, 403: None, 404: None},
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="patients_partial_update",
        request=PatientInputSerializer,
        responses={200: PatientOutputSerializer, 400: None, 403: None, 404: None},
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)

    @extend_schema(
        operation_id="patients_destroy",
        request=DeleteInputSerializer,
        parameters=[
            OpenApiParameter(
                "reason", OpenApiTypes.STR, description="The reason, for clients that cannot send a body."
            )
        ],
        responses={204: None, 400: None, 403: None, 404: None},
    )
    def delete(self, request, pk: int):
        patient = patient_get(request.user, pk)
        body = request.data if isinstance(request.data, Mapping) and request.data else {}
        if not body and "reason" in request.query_params:
            body = {"reason": request.query_params["reason"]}
        data = self.DeleteInputSerializer(data=body or request.data)
        data.is_valid(raise_exception=True)
        services.patient_delete(
            patient=patient, by=request.user, reason=data.validated_data["reason"], request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
