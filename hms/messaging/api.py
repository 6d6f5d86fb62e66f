"""REST API of notifications.

- `GET /api/notifications/` (`?unread=true`): the caller's own in-app notifications, newest first.
- `POST /api/notifications/{id}/read/`: mark one of the caller's own read (404 if missing or not theirs).
- `POST /api/notifications/send/`: a staff member messages a user (rules in `services.message_send`).
- `GET`/`PATCH /api/notifications/preferences/`: the caller's channels (in_app, email, sms).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import STAFF_ROLES, Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import HasRole, StrictSerializer

from . import services
from .models import Channel, Delivery, Notification


class NotificationOutputSerializer(serializers.ModelSerializer):
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "event", "subject", "body", "created_at", "read_at", "read"]
        read_only_fields = fields

    def get_read(self, obj) -> bool:
        return obj.read_at is not None


class DeliveryOutputSerializer(serializers.ModelSerializer):
    channel = serializers.CharField(read_only=True, help_text="in_app, email or sms.")
    status = serializers.CharField(read_only=True, help_text="queued, sent or failed.")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "recipient",
            "channel",
            "event",
            "status",
            "attempts",
            "sent_at",
            "error",
            "created_at",
        ]
        read_only_fields = fields


class NotificationListApi(GenericAPIView):
    """The caller's own in-app notifications (everyone sees only their own)."""

    serializer_class = NotificationOutputSerializer
    queryset = Notification.objects.none()

    @extend_schema(
        operation_id="notifications_list",
        parameters=[OpenApiParameter("unread", bool, description="Only notifications not read yet.")],
        responses=NotificationOutputSerializer(many=True),
    )
    def get(self, request):
        queryset = Notification.objects.filter(recipient=request.user).order_by("-created_at", "-id")
        if request.query_params.get("unread", "").lower() in ("1", "true", "yes"):
            queryset = queryset.filter(read_at__isnull=True)
        page = self.paginate_queryset(queryset)
        patient = getattr(request.user, "patient", None) if request.user.role == Role.PATIENT else None
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=[patient.pk] if patient else [],
            object_type="messaging.Notification",
            detail={"count": len(page)},
        )
        return self.get_paginated_response(NotificationOutputSerializer(page, many=True).data)


class NotificationReadApi(GenericAPIView):
    serializer_class = NotificationOutputSerializer
    queryset = Notification.objects.none()

    @extend_schema(
        operation_id="notifications_read",
        request={"application/json": OpenApiTypes.OBJECT},  # empty: the path names it
        responses={200: NotificationOutputSerializer, 404: None},
    )
    def post(self, request, notification_id: int):
        notification = services.notification_mark_read(notification_id=notification_id, by=request.user)
        return Response(NotificationOutputSerializer(notification).data)


class NotificationSendApi(GenericAPIView):
    """A staff member sends a message to a user: in-app plus the recipient's other chosen channels."""

    class InputSerializer(StrictSerializer):
        recipient = serializers.IntegerField(help_text="The recipient's user id.")
        subject = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
        message = serializers.CharField(max_length=5000)
        channels = serializers.ListField(
            child=serializers.ChoiceField(choices=Channel.choices),
            required=False,
            allow_empty=False,
            max_length=3,
            help_text="Narrow to these channels (a channel the recipient switched off is never used).",
        )
        idempotency_key = serializers.CharField(
            max_length=64,
            required=False,
            allow_blank=True,
            default="",
            help_text="Send the same key again and nothing new is sent.",
        )

    permission_classes = (HasRole,)
    allowed_roles = {"POST": tuple(STAFF_ROLES)}
    serializer_class = InputSerializer
    queryset = Delivery.objects.none()

    @extend_schema(
        operation_id="notifications_send",
        request=InputSerializer,
        responses={201: DeliveryOutputSerializer(many=True), 400: None, 403: None},
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        deliveries = services.message_send(
            recipient_id=values["recipient"],
            subject=values["subject"],
            message=values["message"],
            channels=values.get("channels"),
            idempotency_key=values["idempotency_key"],
            by=request.user,
            request=request,
        )
        return Response(DeliveryOutputSerializer(deliveries, many=True).data, status=status.HTTP_201_CREATED)


class PreferenceSerializer(StrictSerializer):
    in_app = serializers.BooleanField(required=False)
    email = serializers.BooleanField(required=False)
    sms = serializers.BooleanField(required=False)


class NotificationPreferenceApi(GenericAPIView):
    serializer_class = PreferenceSerializer

    @extend_schema(operation_id="notification_preferences_get", responses=PreferenceSerializer)
    def get(self, request):
        pref = services.preference_get(request.user)
        return Response({"in_app": pref.in_app, "email": pref.email, "sms": pref.sms})

    @extend_schema(
        operation_id="notification_preferences_update",
        request=PreferenceSerializer,
        responses=PreferenceSerializer,
    )
    def patch(self, request):
        data = PreferenceSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        pref = services.preference_update(user=request.user, data=data.validated_data, by=request.user)
        return Response({"in_app": pref.in_app, "email": pref.email, "sms": pref.sms})
