"""REST API of practitioners: `/api/doctors/` and `/api/specialties/`.

Practitioners are not PHI: every authenticated user (patients included, who pick their doctor) may
list and read them; only admins create and update.
"""

import datetime as dt

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.models import User
from hms.accounts.roles import Role
from hms.core.api_base import HasRole, StrictModelSerializer

from . import selectors, services
from .models import Organization, Practitioner, Specialty


class SpecialtySerializer(serializers.ModelSerializer):
    system = serializers.CharField(source="code_system", read_only=True)

    class Meta:
        model = Specialty
        fields = ["id", "system", "code", "display"]
        read_only_fields = fields


class DoctorOutputSerializer(serializers.ModelSerializer):
    class OrganizationSerializer(serializers.ModelSerializer):
        class Meta:
            model = Organization
            fields = ["id", "name"]
            read_only_fields = fields
            ref_name = "OrganizationRef"

    name = serializers.CharField(source="display_name", read_only=True)
    specialty = SpecialtySerializer(read_only=True, allow_null=True)
    organization = OrganizationSerializer(read_only=True, allow_null=True)
    consultation_fee = serializers.DecimalField(
        max_digits=10, decimal_places=2, read_only=True, help_text="Amount in `currency`."
    )
    user_id = serializers.IntegerField(read_only=True, allow_null=True)
    role = serializers.CharField(
        read_only=True, help_text="doctor, nurse, pharmacist, lab_technician, other."
    )

    class Meta:
        model = Practitioner
        fields = [
            "id",
            "name",
            "prefix",
            "family_name",
            "given_names",
            "gender",
            "role",
            "specialty",
            "licence_number",
            "npi",
            "bio",
            "consultation_fee",
            "currency",
            "photo",
            "available_days",
            "organization",
            "active",
            "user_id",
        ]
        read_only_fields = fields


class DoctorInputSerializer(StrictModelSerializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        help_text="The staff account this doctor logs in with.",
    )
    specialty = serializers.SlugRelatedField(
        slug_field="code",
        queryset=Specialty.objects.all(),
        required=False,
        allow_null=True,
        help_text="SNOMED CT code of the specialty.",
    )
    organization = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.all(), required=False, allow_null=True
    )
    available_days = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7),
        required=False,
        max_length=7,
        help_text="ISO weekdays, 1 = Monday … 7 = Sunday.",
    )

    class Meta:
        model = Practitioner
        fields = [
            "user",
            "prefix",
            "family_name",
            "given_names",
            "gender",
            "specialty",
            "licence_number",
            "npi",
            "bio",
            "consultation_fee",
            "currency",
            "available_days",
            "organization",
            "active",
        ]
        extra_kwargs = {"family_name": {"required": False}, "given_names": {"required": False}}


class DoctorListCreateApi(GenericAPIView):
    """GET: doctors, searchable by name and specialty. POST: create a doctor (admin)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.ADMIN,)}
    serializer_class = DoctorOutputSerializer
    queryset = Practitioner.objects.none()  # schema hint only: reads go through `staff.selectors`

    @extend_schema(
        operation_id="doctors_list",
        parameters=[
            OpenApiParameter("search", str, description="Start of the family or given names."),
            OpenApiParameter("specialty", str, description="SNOMED CT code, or part of the specialty name."),
            OpenApiParameter(
                "available_on",
                dt.date,
                description="Local date (YYYY-MM-DD): only doctors whose schedule opens that day.",
            ),
        ],
        responses=DoctorOutputSerializer(many=True),
    )
    def get(self, request):
        params = request.query_params
        available_on = None
        if params.get("available_on"):
            try:
                available_on = dt.date.fromisoformat(params["available_on"][:10])
            except ValueError:
                raise ValidationError({"available_on": ["Not a valid date (YYYY-MM-DD)."]}) from None
        queryset = selectors.doctors_list(
            search=params.get("search", "")[:100],
            specialty=params.get("specialty", "")[:100],
            available_on=available_on,
        )
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(DoctorOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="doctors_create",
        request=DoctorInputSerializer,
        responses={201: DoctorOutputSerializer, 400: None, 403: None},
    )
    def post(self, request):
        data = DoctorInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        doctor = services.practitioner_create(by=request.user, data=data.validated_data, request=request)
        return Response(DoctorOutputSerializer(doctor).data, status=status.HTTP_201_CREATED)


class DoctorDetailApi(GenericAPIView):
    """GET one doctor; PUT/PATCH (admin)."""

    permission_classes = (HasRole,)
    allowed_roles = {"PUT": (Role.ADMIN,), "PATCH": (Role.ADMIN,)}
    serializer_class = DoctorOutputSerializer
    queryset = Practitioner.objects.none()  # schema hint only

    @extend_schema(operation_id="doctors_retrieve", responses={200: DoctorOutputSerializer, 404: None})
    def get(self, request, pk: int):
        return Response(DoctorOutputSerializer(selectors.doctor_get(pk)).data)

    def _update(self, request, pk: int, *, partial: bool):
        doctor = selectors.doctor_get(pk, include_inactive=True)
        data = DoctorInputSerializer(doctor, data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        doctor = services.practitioner_update(
            practitioner=doctor, by=request.user, data=data.validated_data, request=request
        )
        return Response(DoctorOutputSerializer(doctor).data)

    @extend_schema(
        operation_id="doctors_update",
        request=DoctorInputSerializer,
        responses={200: DoctorOutputSerializer, 400: None, 403: None, 404: None},
    )
    def put(self, request, pk: int):
        return self._update(request, pk, partial=False)

    @extend_schema(
        operation_id="doctors_partial_update",
        request=DoctorInputSerializer,
        responses={200: DoctorOutputSerializer, 400: None, 403: None, 404: None},
    )
    def patch(self, request, pk: int):
        return self._update(request, pk, partial=True)


class SpecialtyListApi(GenericAPIView):
    """GET: every specialty (SNOMED CT practice settings), unpaginated."""

    serializer_class = SpecialtySerializer
    pagination_class = None
    queryset = Specialty.objects.none()  # schema hint only

    @extend_schema(operation_id="specialties_list", responses=SpecialtySerializer(many=True))
    def get(self, request):
        return Response(SpecialtySerializer(selectors.specialties_list(), many=True).data)
