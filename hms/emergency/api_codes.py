"""REST API of hospital codes, duty and admin broadcasts (rules in `hms.emergency.codes`).

- `GET /api/codes/`: the active codes (key, name, description, colour, team size); any staff. Not PHI.
- `GET /api/code-activations/`: the log, newest first, paginated: administrators see all, other staff
  the ones they activated or were alerted for; filters `open` (true|false), `code` (key).
  `POST /api/code-activations/` {code_type: key or id, location_text, note?}: activate (doctor, nurse,
  admin) → 201 with the activation and its alerts (who was alerted).
- `GET /api/code-activations/{id}/`: one activation with its alerts (who, sent, acknowledged).
- `POST /api/code-activations/{id}/acknowledge/`: the caller acknowledges their own alert of it → 200;
  404 when they were not alerted; 409 when the code is closed.
- `POST /api/code-activations/{id}/close/`: the activator, a team member or an admin → 200; 409 closed.
- `GET /api/duty/` → {on_duty, since}; `POST /api/duty/` {on_duty: bool} → the same; staff only.
- `GET /api/broadcasts/`: the last 7 days' broadcasts addressed to the caller; `POST` (admins)
  {title, body, roles: [staff roles] (empty = all staff), urgent?} → 201.

Errors: 400 field errors, 403 a role that may not act, 404 not visible, 409 state clash. Codes,
activations and broadcasts hold no patient data (no PHI); the activation log's reads are still
audited ("search"/"read", object type emergency.CodeActivation) for the review trail.
"""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import STAFF_ROLES, Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer
from hms.core.api_schema import NoBody
from hms.core.errors import NotFoundOrForbidden

from . import codes
from .models import Broadcast, CodeActivation, CodeType

STAFF = tuple(sorted(STAFF_ROLES))
ACTIVATE = (Role.DOCTOR, Role.NURSE, Role.ADMIN)


class CodeUserRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()

    def get_name(self, obj) -> str:
        return obj.get_full_name() or obj.username


class CodeTypeSerializer(serializers.ModelSerializer):
    team_size = serializers.SerializerMethodField()

    class Meta:
        model = CodeType
        fields = ["id", "key", "name", "description", "colour", "team_size"]

    def get_team_size(self, obj) -> int:
        return obj.team.filter(is_active=True).count()


class CodeAlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    recipient = CodeUserRef()
    sent_at = serializers.DateTimeField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class CodeActivationSerializer(serializers.ModelSerializer):
    """One activation; `alerts` only in the detail and after a write."""

    code_type = serializers.SlugRelatedField(slug_field="key", read_only=True)
    code_name = serializers.CharField(source="code_type.name")
    activated_by = CodeUserRef()
    closed_by = CodeUserRef(allow_null=True)

    class Meta:
        model = CodeActivation
        fields = [
            "id",
            "code_type",
            "code_name",
            "location_text",
            "note",
            "activated_by",
            "activated_at",
            "closed_at",
            "closed_by",
        ]


class CodeActivationDetailSerializer(CodeActivationSerializer):
    alerts = serializers.SerializerMethodField()

    class Meta(CodeActivationSerializer.Meta):
        fields = [*CodeActivationSerializer.Meta.fields, "alerts"]

    @extend_schema_field(CodeAlertSerializer(many=True))
    def get_alerts(self, obj) -> list[dict]:
        return CodeAlertSerializer(codes.alerts_of(obj), many=True).data


class ActivateInput(StrictSerializer):
    code_type = serializers.CharField(max_length=40, help_text="Code key (e.g. 'blue') or id.")
    location_text = serializers.CharField(
        max_length=200, help_text="Where, in the building; no patient data."
    )
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class LogQuery(StrictSerializer):
    open = serializers.BooleanField(required=False, allow_null=True, default=None)
    code = serializers.CharField(required=False, max_length=40)


class DutySerializer(serializers.Serializer):
    on_duty = serializers.BooleanField()
    since = serializers.DateTimeField(allow_null=True, read_only=True)


class DutyInput(StrictSerializer):
    on_duty = serializers.BooleanField()


class BroadcastSerializer(serializers.ModelSerializer):
    sender = CodeUserRef()
    roles = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = Broadcast
        fields = ["id", "title", "body", "roles", "urgent", "sender", "created_at"]


class BroadcastInput(StrictSerializer):
    title = serializers.CharField(max_length=120)
    body = serializers.CharField(max_length=2000)
    roles = serializers.ListField(
        child=serializers.ChoiceField(choices=[str(r) for r in STAFF]), required=False, default=list
    )
    urgent = serializers.BooleanField(required=False, default=False)


def _detail(activation: CodeActivation, code=status.HTTP_200_OK) -> Response:
    return Response(CodeActivationDetailSerializer(activation).data, status=code)


class CodeTypeListApi(GenericAPIView):
    """GET: the active codes."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STAFF}
    serializer_class = CodeTypeSerializer
    queryset = CodeType.objects.none()

    @extend_schema(operation_id="codes_list", responses=CodeTypeSerializer(many=True))
    def get(self, request):
        return Response(CodeTypeSerializer(codes.code_types_active(), many=True).data)


class CodeActivationListApi(GenericAPIView):
    """GET: the activation log (scoped). POST: activate a code."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STAFF, "POST": ACTIVATE}
    serializer_class = CodeActivationSerializer
    pagination_class = CappedCountPagination
    queryset = CodeActivation.objects.none()

    @extend_schema(
        operation_id="code_activations_list",
        parameters=[
            OpenApiParameter("open", bool, description="true: open codes only; false: closed only."),
            OpenApiParameter("code", str, description="Code key, e.g. blue."),
        ],
        responses=CodeActivationSerializer(many=True),
    )
    def get(self, request):
        query = LogQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = codes.activations_visible(request.user)
        if params.get("open") is not None:
            qs = qs.filter(closed_at__isnull=params["open"])
        if params.get("code"):
            qs = qs.filter(code_type__key=params["code"])
        with transaction.atomic():
            page = self.paginate_queryset(qs)
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                object_type="emergency.CodeActivation",
                detail={"query": {k: str(v)[:100] for k, v in request.query_params.items()}},
            )
        return self.get_paginated_response(CodeActivationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="code_activations_create",
        request=ActivateInput,
        responses={201: CodeActivationDetailSerializer, 400: None, 403: None},
    )
    def post(self, request):
        data = ActivateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        activation = codes.code_activate(
            code_type=codes.code_type_get(params["code_type"]),
            location_text=params["location_text"],
            note=params["note"],
            by=request.user,
            request=request,
        )
        return _detail(codes.activation_get(request.user, activation.pk), status.HTTP_201_CREATED)


class CodeActivationDetailApi(GenericAPIView):
    """GET: one activation with who was alerted and who acknowledged when."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STAFF}
    serializer_class = CodeActivationDetailSerializer
    queryset = CodeActivation.objects.none()

    @extend_schema(
        operation_id="code_activations_retrieve", responses={200: CodeActivationDetailSerializer, 404: None}
    )
    def get(self, request, pk: int):
        with transaction.atomic():
            activation = codes.activation_get(request.user, pk)
            audit_record(action=AuditAction.READ, request=request, obj=activation)
        return _detail(activation)


class CodeAcknowledgeApi(GenericAPIView):
    """POST: acknowledge the caller's own alert of this activation."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": STAFF}
    serializer_class = CodeActivationDetailSerializer
    queryset = CodeActivation.objects.none()

    @extend_schema(
        operation_id="code_activations_acknowledge",
        request=NoBody,
        responses={200: CodeActivationDetailSerializer, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        activation = codes.activation_get(request.user, pk)
        alert = activation.alerts.filter(recipient=request.user).first()
        if alert is None:
            raise NotFoundOrForbidden()
        codes.code_acknowledge(alert=alert, by=request.user, request=request)
        return _detail(codes.activation_get(request.user, pk))


class CodeCloseApi(GenericAPIView):
    """POST: close the code (activator, team member, admin; `codes.code_close` decides)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": STAFF}
    serializer_class = CodeActivationDetailSerializer
    queryset = CodeActivation.objects.none()

    @extend_schema(
        operation_id="code_activations_close",
        request=NoBody,
        responses={200: CodeActivationDetailSerializer, 403: None, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        activation = codes.activation_get(request.user, pk)
        codes.code_close(activation=activation, by=request.user, request=request)
        return _detail(codes.activation_get(request.user, pk))


class DutyApi(GenericAPIView):
    """GET: am I on duty? POST {on_duty}: go on or off duty."""

    permission_classes = (HasRole,)
    allowed_roles = {"*": STAFF}
    serializer_class = DutySerializer

    @staticmethod
    def _state(user) -> dict:
        row = codes.duty_get(user)
        return {"on_duty": row is not None, "since": row.since if row else None}

    @extend_schema(operation_id="duty_retrieve", responses=DutySerializer)
    def get(self, request):
        return Response(DutySerializer(self._state(request.user)).data)

    @extend_schema(operation_id="duty_update", request=DutyInput, responses={200: DutySerializer, 400: None})
    def post(self, request):
        data = DutyInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["on_duty"]:
            codes.duty_start(by=request.user, request=request)
        else:
            codes.duty_end(by=request.user, request=request)
        return Response(DutySerializer(self._state(request.user)).data)


class BroadcastListApi(GenericAPIView):
    """GET: recent broadcasts for me. POST: send one (admins)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STAFF, "POST": (Role.ADMIN,)}
    serializer_class = BroadcastSerializer
    pagination_class = CappedCountPagination
    queryset = Broadcast.objects.none()

    @extend_schema(operation_id="broadcasts_list", responses=BroadcastSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(codes.broadcasts_for(request.user))
        return self.get_paginated_response(BroadcastSerializer(page, many=True).data)

    @extend_schema(
        operation_id="broadcasts_create",
        request=BroadcastInput,
        responses={201: BroadcastSerializer, 400: None, 403: None},
    )
    def post(self, request):
        data = BroadcastInput(data=request.data)
        data.is_valid(raise_exception=True)
        broadcast = codes.broadcast_send(**data.validated_data, by=request.user, request=request)
        return Response(BroadcastSerializer(broadcast).data, status=status.HTTP_201_CREATED)
