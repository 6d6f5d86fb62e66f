"""REST API of the waitlist.

- `GET /api/waitlist/` (scoped: a patient their own, reception/admin all, a doctor/nurse those naming them;
  filter `status`) and `POST /api/waitlist/` (a patient for self; reception/admin for a patient they see).
- `GET /api/waitlist/{id}/`; `DELETE /api/waitlist/{id}/` cancels the entry (200 with it; never deleted).
- `POST /api/waitlist/{id}/accept/`: book the offered slot (201 with the appointment; 409 when there is no
  live offer or the slot was taken meanwhile).

Every read writes an AuditEvent ("search" with the patients listed, "read" with the patient).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.errors import NotFoundOrForbidden
from hms.staff.models import Specialty
from hms.staff.selectors import doctor_get

from . import waitlist
from .api import (
    MAX_ID,
    AppointmentOutputSerializer,
    LocalDateField,
    PatientRef,
    PractitionerRef,
    _booking_patient,
    _service,
)
from .models import Channel, WaitlistEntry, WaitlistStatus

WRITERS = (Role.PATIENT, Role.RECEPTIONIST, Role.ADMIN)


class WaitlistEntrySerializer(serializers.ModelSerializer):
    class SpecialtyRef(serializers.Serializer):
        code = serializers.CharField()
        display = serializers.CharField()

        class Meta:
            ref_name = "WaitlistSpecialtyRef"

    class Offer(serializers.Serializer):
        practitioner = serializers.SerializerMethodField()
        service = serializers.CharField(source="offered_service_type.code")
        start = serializers.DateTimeField(source="offered_start")
        end = serializers.DateTimeField(source="offered_end")
        offered_at = serializers.DateTimeField()
        expires_at = serializers.DateTimeField(source="offer_expires_at")

        class Meta:
            ref_name = "WaitlistOffer"

        def get_practitioner(self, obj) -> dict:
            return {"id": obj.offered_practitioner_id, "name": obj.offered_practitioner.display_name}

    patient = PatientRef(read_only=True)
    practitioner = PractitionerRef(read_only=True, allow_null=True)
    specialty = SpecialtyRef(read_only=True, allow_null=True)
    service = serializers.CharField(source="service_type.code", read_only=True, allow_null=True, default=None)
    status = serializers.CharField(read_only=True, help_text=f"One of: {', '.join(WaitlistStatus.values)}.")
    offer = serializers.SerializerMethodField(help_text="The slot offered, while the entry is 'offered'.")
    appointment_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "patient",
            "practitioner",
            "specialty",
            "service",
            "date_from",
            "date_to",
            "time_from",
            "time_to",
            "reason",
            "status",
            "offer",
            "appointment_id",
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields

    def get_offer(self, obj) -> dict | None:
        if obj.status != WaitlistStatus.OFFERED:
            return None
        return self.Offer(obj).data


class WaitlistJoinInput(StrictSerializer):
    patient = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Patient id; a patient may omit it (self)."
    )
    practitioner = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    specialty = serializers.CharField(max_length=32, required=False, help_text="SNOMED CT code.")
    service = serializers.CharField(max_length=64, required=False, help_text="ServiceType code (optional).")
    date_from = LocalDateField(help_text="First local date of the preferred window.")
    date_to = LocalDateField(help_text="Last local date, inclusive (within settings.BOOKING_HORIZON_DAYS).")
    time_from = serializers.TimeField(required=False, allow_null=True, default=None)
    time_to = serializers.TimeField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if ("practitioner" in attrs) == ("specialty" in attrs):
            raise serializers.ValidationError({"practitioner": "Name either a practitioner or a specialty."})
        return attrs


class WaitlistAcceptInput(StrictSerializer):
    channel = serializers.ChoiceField(
        choices=Channel.choices, default=Channel.API, help_text="How the patient accepted (web, api, phone)."
    )


class WaitlistListQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=WaitlistStatus.choices, required=False)


class WaitlistListCreateApi(GenericAPIView):
    """GET: the caller's scoped waitlist entries. POST: join (patient for self; front desk for anyone)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": WRITERS}
    serializer_class = WaitlistEntrySerializer
    pagination_class = CappedCountPagination
    queryset = WaitlistEntry.objects.none()  # schema hint only: reads go through `waitlist_visible`

    @extend_schema(
        operation_id="waitlist_list",
        parameters=[OpenApiParameter("status", str, enum=WaitlistStatus.values)],
        responses=WaitlistEntrySerializer(many=True),
    )
    def get(self, request):
        query = WaitlistListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        qs = waitlist.waitlist_visible(request.user)
        if "status" in query.validated_data:
            qs = qs.filter(status=query.validated_data["status"])
        page = paginate_audited(
            self, request, qs.order_by("created_at", "id"), object_type="scheduling.WaitlistEntry"
        )
        return self.get_paginated_response(WaitlistEntrySerializer(page, many=True).data)

    @extend_schema(
        operation_id="waitlist_join",
        request=WaitlistJoinInput,
        responses={201: WaitlistEntrySerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request):
        data = WaitlistJoinInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = _booking_patient(request, v.get("patient"))
        practitioner = specialty = None
        if "practitioner" in v:
            try:
                practitioner = doctor_get(v["practitioner"])
            except NotFoundOrForbidden:
                raise ValidationError({"practitioner": "Unknown doctor."}) from None
        else:
            specialty = Specialty.objects.filter(code=v["specialty"]).first()
            if specialty is None:
                raise ValidationError({"specialty": "Unknown specialty code."})
        entry = waitlist.waitlist_join(
            patient=patient,
            practitioner=practitioner,
            specialty=specialty,
            service_type=_service(v["service"]) if v.get("service") else None,
            date_from=v["date_from"],
            date_to=v["date_to"],
            time_from=v["time_from"],
            time_to=v["time_to"],
            reason=v["reason"],
            by=request.user,
            request=request,
        )
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class WaitlistDetailApi(GenericAPIView):
    """GET one entry; DELETE cancels it (the entry is kept, status "cancelled")."""

    permission_classes = (HasRole,)
    allowed_roles = {"DELETE": WRITERS}
    serializer_class = WaitlistEntrySerializer
    queryset = WaitlistEntry.objects.none()

    @extend_schema(operation_id="waitlist_retrieve", responses={200: WaitlistEntrySerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            entry = waitlist.waitlist_entry_get(request.user, pk)
            audit_record(action=AuditAction.READ, request=request, patient=entry.patient, obj=entry)
        return Response(WaitlistEntrySerializer(entry).data)

    @extend_schema(
        operation_id="waitlist_cancel", responses={200: WaitlistEntrySerializer, 400: None, 404: None}
    )
    def delete(self, request, pk: int):
        entry = waitlist.waitlist_entry_get(request.user, pk)
        entry = waitlist.waitlist_cancel(entry=entry, by=request.user, request=request)
        return Response(
            WaitlistEntrySerializer(waitlist.waitlist_visible(request.user).get(pk=entry.pk)).data
        )


class WaitlistAcceptApi(GenericAPIView):
    """POST: book the slot offered to this entry."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": WRITERS}
    serializer_class = AppointmentOutputSerializer
    queryset = WaitlistEntry.objects.none()

    @extend_schema(
        operation_id="waitlist_accept",
        request=WaitlistAcceptInput,
        responses={201: AppointmentOutputSerializer, 400: None, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        entry = waitlist.waitlist_entry_get(request.user, pk)
        data = WaitlistAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        appointment = waitlist.waitlist_accept(
            entry=entry, by=request.user, request=request, channel=data.validated_data["channel"]
        )
        return Response(AppointmentOutputSerializer(appointment).data, status=status.HTTP_201_CREATED)
