"""REST authentication: JWT login (token), refresh, logout, registration and one's own profile.

Thin views: parse with the nested InputSerializer, call `hms.accounts.services`, render with the
OutputSerializer.
"""

from django.core.exceptions import PermissionDenied
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenRefreshView

from hms.audit.services import audit_record
from hms.core.api_base import StrictSerializer
from hms.patients.models import AdministrativeGender
from hms.staff.models import Specialty

from . import services
from .models import User
from .roles import Role


class UserSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")
    email = serializers.EmailField()


class ProfileOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    email = serializers.EmailField()
    phone = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    patient_id = serializers.IntegerField(
        allow_null=True, help_text="The user's own Patient (patients only)."
    )
    medical_record_number = serializers.CharField(allow_null=True, help_text="Patients only.")
    practitioner_id = serializers.IntegerField(allow_null=True, help_text="Clinical staff only.")


def _profile(user: User) -> dict:
    patient = getattr(user, "patient", None)
    practitioner = getattr(user, "practitioner", None)
    return {
        "id": user.pk,
        "username": user.username,
        "get_full_name": user.get_full_name(),
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "phone": user.phone,
        "role": user.role,
        "patient_id": patient.pk if patient else None,
        "medical_record_number": patient.mrn if patient else None,
        "practitioner_id": practitioner.pk if practitioner else None,
    }


class LoginOutputSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    user = UserSummarySerializer()
    role = serializers.CharField(allow_null=True)


class TokenObtainApi(APIView):
    """POST /api/auth/token/ (alias /api/auth/login/): username + password → JWT pair, user and role."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    class InputSerializer(StrictSerializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(
            max_length=128, trim_whitespace=False, style={"input_type": "password"}
        )

        class Meta:
            ref_name = "LoginInput"

    @extend_schema(
        operation_id="auth_token_obtain",
        request=InputSerializer,
        responses={200: LoginOutputSerializer, 400: None, 401: None},
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        if not data.is_valid():
            attempted = request.data.get("username") if isinstance(request.data, dict) else None
            services.auth_login_refused_input(attempted=attempted, request=request)
            raise serializers.ValidationError(data.errors)
        user = services.auth_login(request=request, **data.validated_data)
        if user is None:
            return Response(
                {"detail": "No active account found with the given credentials."},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        tokens = services.auth_tokens(user=user)
        body = {**tokens, "user": user, "role": user.role}
        return Response(LoginOutputSerializer(body).data)


class TokenObtainAliasApi(TokenObtainApi):
    @extend_schema(
        operation_id="auth_login",
        request=TokenObtainApi.InputSerializer,
        responses={200: LoginOutputSerializer, 400: None, 401: None},
        auth=[],
    )
    def post(self, request):
        return super().post(request)


class TokenRefreshApi(TokenRefreshView):
    """POST /api/auth/token/refresh/: a refresh token → a new access token (and a rotated refresh)."""


class LogoutApi(APIView):
    """POST /api/auth/logout/: blacklist the given refresh token. The token proves who logs out (so an
    expired access token does not stand in the way)."""

    permission_classes = (AllowAny,)
    authentication_classes = ()

    class InputSerializer(StrictSerializer):
        refresh = serializers.CharField(max_length=2000)

        class Meta:
            ref_name = "LogoutInput"

    @extend_schema(operation_id="auth_logout", request=InputSerializer, responses={204: None, 400: None})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.auth_logout(refresh=data.validated_data["refresh"], request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RegisterApi(APIView):
    """POST /api/auth/register/.

    - Anonymous (or any user) with no role or role "patient": a patient registers themself; a User in
      the patient group and a Patient with a new MRN are created atomically. 409 when the person
      probably exists already (no candidates are shown).
    - An authenticated admin with a staff role: a staff account; clinicians also get a Practitioner.
    - Anyone else asking for a staff role: 403.
    """

    permission_classes = (AllowAny,)

    class InputSerializer(StrictSerializer):
        username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
        password = serializers.CharField(
            max_length=128, trim_whitespace=False, style={"input_type": "password"}
        )
        email = serializers.EmailField(required=False, allow_blank=True, default="")
        first_name = serializers.CharField(max_length=150)
        last_name = serializers.CharField(max_length=150)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
        role = serializers.ChoiceField(choices=Role.choices, default=Role.PATIENT)
        date_of_birth = serializers.DateField(required=False, help_text="Required for patients.")
        gender = serializers.ChoiceField(
            choices=AdministrativeGender.choices,
            required=False,
            help_text="FHIR administrative-gender; required for patients.",
        )
        specialty = serializers.SlugRelatedField(
            slug_field="code",
            queryset=Specialty.objects.all(),
            required=False,
            allow_null=True,
            help_text="SNOMED CT code (clinical staff).",
        )
        licence_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

        class Meta:
            ref_name = "RegisterInput"

        def validate(self, attrs):
            if attrs["role"] == Role.PATIENT:
                missing = {
                    f: "This field is required for patients."
                    for f in ("date_of_birth", "gender")
                    if not attrs.get(f)
                }
                if missing:
                    raise serializers.ValidationError(missing)
            return attrs

    @extend_schema(
        operation_id="auth_register",
        request=InputSerializer,
        responses={201: ProfileOutputSerializer, 400: None, 403: None, 409: None},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["role"] == Role.PATIENT:
            user = services.user_register_patient(data=values, request=request)
        else:
            if not request.user.is_authenticated or request.user.role != Role.ADMIN:
                raise PermissionDenied("Only an administrator may create staff accounts.")
            user = services.user_create_staff(by=request.user, data=values, request=request)
        return Response(ProfileOutputSerializer(_profile(user)).data, status=status.HTTP_201_CREATED)


class MeApi(APIView):
    """GET/PATCH /api/auth/me/: one's own profile. A patient also sees their MRN."""

    permission_classes = (IsAuthenticated,)

    class InputSerializer(StrictSerializer):
        first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
        email = serializers.EmailField(required=False, allow_blank=True)
        phone = serializers.CharField(max_length=32, required=False, allow_blank=True)

        class Meta:
            ref_name = "ProfileInput"

    @extend_schema(operation_id="auth_me", responses={200: ProfileOutputSerializer})
    def get(self, request):
        user = request.user
        patient = getattr(user, "patient", None)
        if patient is not None:  # the patient's own MRN and name: a PHI read, audited
            audit_record(action="read", request=request, patient=patient, obj=patient, detail={"via": "me"})
        return Response(ProfileOutputSerializer(_profile(user)).data)

    @extend_schema(
        operation_id="auth_me_update",
        request=InputSerializer,
        responses={200: ProfileOutputSerializer, 400: None},
    )
    def patch(self, request):
        data = self.InputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = services.user_update_profile(
            user=request.user, by=request.user, data=data.validated_data, request=request
        )
        return Response(ProfileOutputSerializer(_profile(user)).data)
