"""REST API of the audit log: `/api/audit-events/` (admins only, read-only).

Audit events are append-only: the API has no create, update or delete (those methods answer 405).
Lists use `CappedCountPagination`, so the size of the log does not make a page slow.
"""

import datetime as dt

import django_filters as filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.core.api_base import CappedCountPagination, HasRole
from hms.core.errors import NotFoundOrForbidden

from .models import AuditAction, AuditEvent, AuditOutcome

_ID = {"min_value": 1, "max_value": 2**63 - 1, "decimal_places": 0}


class AuditEventFilter(filters.FilterSet):
    actor = filters.NumberFilter(field_name="actor_id", help_text="User id.", **_ID)
    actor_username = filters.CharFilter(max_length=150)
    action = filters.ChoiceFilter(choices=AuditAction.choices)
    outcome = filters.ChoiceFilter(choices=AuditOutcome.choices)
    patient = filters.NumberFilter(field_name="patient_id", help_text="The patient the act concerned.", **_ID)
    object_type = filters.CharFilter(max_length=64, help_text='e.g. "patients.Patient".')
    channel = filters.CharFilter(max_length=16)
    date_from = filters.DateFilter(method="filter_date_from", help_text="Recorded on or after (UTC day).")
    date_to = filters.DateFilter(method="filter_date_to", help_text="Recorded on or before (UTC day).")

    class Meta:
        model = AuditEvent
        fields = ["actor", "actor_username", "action", "outcome", "patient", "object_type", "channel"]

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(recorded_at__gte=dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC))

    def filter_date_to(self, queryset, name, value):
        if value >= dt.date.max:
            return queryset
        end = dt.datetime.combine(value + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        return queryset.filter(recorded_at__lt=end)


class AuditEventOutputSerializer(serializers.ModelSerializer):
    actor = serializers.IntegerField(source="actor_id", read_only=True, allow_null=True)
    patient = serializers.IntegerField(source="patient_id", read_only=True, allow_null=True)
    patient_ids = serializers.ListField(child=serializers.IntegerField(), read_only=True)
    detail = serializers.DictField(read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "recorded_at",
            "actor",
            "actor_username",
            "actor_role",
            "action",
            "outcome",
            "patient",
            "patient_ids",
            "object_type",
            "object_id",
            "source_ip",
            "user_agent",
            "channel",
            "detail",
        ]
        read_only_fields = fields


class AuditEventListApi(GenericAPIView):
    """GET: audit events, newest first, filtered (admins only)."""

    permission_classes = (HasRole,)
    allowed_roles = {"*": (Role.ADMIN,)}
    filterset_class = AuditEventFilter
    pagination_class = CappedCountPagination
    serializer_class = AuditEventOutputSerializer

    def get_queryset(self):
        return AuditEvent.objects.all()

    @extend_schema(operation_id="audit_events_list", responses=AuditEventOutputSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(AuditEventOutputSerializer(page, many=True).data)


class AuditEventDetailApi(GenericAPIView):
    """GET: one audit event (admins only)."""

    permission_classes = (HasRole,)
    allowed_roles = {"*": (Role.ADMIN,)}
    serializer_class = AuditEventOutputSerializer

    @extend_schema(
        operation_id="audit_events_retrieve", responses={200: AuditEventOutputSerializer, 404: None}
    )
    def get(self, request, pk: int):
        event = AuditEvent.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
        if event is None:
            raise NotFoundOrForbidden()
        return Response(AuditEventOutputSerializer(event).data)
