"""REST API of scheduling.

- `GET /api/doctors/{id}/slots/?from=&to=&service=`: free slots (any authenticated user; not PHI).
- `GET /api/service-types/`: what can be booked, with slot lengths.
- `/api/appointments/`: list (scoped, filters `date`, `date_from`, `date_to`, `doctor`, `patient`, `status`)
  and create; `/api/appointments/{id}/`: retrieve (with history) and `PATCH` (reschedule: `start`);
  `POST /api/appointments/{id}/cancel|confirm|check-in|start|complete|no-show/`;
  `GET /api/appointments/upcoming/`; `POST /api/appointments/auto-assign/`.

Scope: see `hms.scheduling.selectors` (patient: own; doctor/nurse: theirs; reception/admin: all; 404 for
"not yours"). Every read writes an AuditEvent ("search" with the patients listed, "read" with the patient).
"""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.patients.selectors import patient_get
from hms.staff.selectors import doctor_get, doctors_list

from . import selectors, services
from .availability import schedule_zone
from .models import (
    Appointment,
    AppointmentChange,
    AppointmentStatus,
    BookableResource,
    Channel,
    ResourceKind,
    ServiceType,
)

MAX_ID = 2**63 - 1
# Local dates accepted in queries: far enough for any real use, far from datetime's limits (year 1/9999),
# so that day ranges never overflow.
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2999, 12, 31)
NAIVE_HELP = (
    "ISO 8601; without an offset it is read in the hospital's time zone (settings.HOSPITAL_TIME_ZONE)."
)


class HospitalDateTimeField(serializers.DateTimeField):
    """A DateTimeField that reads naive input in `settings.HOSPITAL_TIME_ZONE` (resolved at call time)."""

    def default_timezone(self):
        return zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)


class LocalDateField(serializers.DateField):
    """A DateField limited to [DATE_MIN, DATE_MAX] (400 outside, never an overflow further down)."""

    def to_internal_value(self, value):
        day = super().to_internal_value(value)
        if not DATE_MIN <= day <= DATE_MAX:
            raise serializers.ValidationError(f"Must be between {DATE_MIN} and {DATE_MAX}.")
        return day


def hospital_today() -> dt.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)).date()


def horizon_date() -> dt.date:
    """The last local date (hospital zone) inside the booking horizon (`services.horizon_last_date`)."""
    return services.horizon_last_date()


# ---------------------------------------------------------------- output serializers


# The output serializers are plain `Serializer`s with their fields declared: a `ModelSerializer` rebuilds its
# fields from the model's metadata on every instantiation, which was a measurable part of a booking's CPU
# (docs/performance.md). The output is the same.


class ServiceTypeSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    display = serializers.CharField(read_only=True)
    minutes = serializers.IntegerField(source="default_minutes", read_only=True, help_text="Slot length.")

    class Meta:
        ref_name = "ServiceType"


class PatientRef(serializers.Serializer):
    """A patient as scheduling outputs show them: id, MRN, name."""

    id = serializers.IntegerField()
    medical_record_number = serializers.CharField(source="mrn")
    name = serializers.SerializerMethodField()

    class Meta:
        ref_name = "SchedulingPatientRef"

    def get_name(self, obj) -> str:
        return f"{obj.given_names} {obj.family_name}".strip()


class PractitionerRef(serializers.Serializer):
    """A practitioner as scheduling outputs show them: id, display name."""

    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")

    class Meta:
        ref_name = "SchedulingPractitionerRef"


class ResourceRef(serializers.Serializer):
    """A room or piece of equipment as scheduling outputs show them: id, kind, name."""

    id = serializers.IntegerField(read_only=True)
    kind = serializers.ChoiceField(choices=ResourceKind.choices, read_only=True)
    name = serializers.CharField(read_only=True)

    class Meta:
        ref_name = "BookableResourceRef"


class AppointmentOutputSerializer(serializers.Serializer):
    """An appointment (FHIR R4 Appointment) as the API returns it; times are UTC ISO 8601."""

    id = serializers.IntegerField(read_only=True)
    patient = PatientRef(read_only=True)
    practitioner = PractitionerRef(read_only=True)
    resource = ResourceRef(read_only=True, allow_null=True)
    service_type = ServiceTypeSerializer(read_only=True)
    start = serializers.DateTimeField(read_only=True)
    end = serializers.DateTimeField(read_only=True)
    # Plain strings, not enums: keeps the schema's enum names free of collisions with other "status" fields.
    status = serializers.CharField(
        read_only=True, help_text=f"One of: {', '.join(AppointmentStatus.values)}."
    )
    fhir_status = serializers.CharField(read_only=True, help_text="FHIR R4 appointmentstatus code.")
    reason = serializers.CharField(read_only=True, help_text="Reason for the visit / symptoms.")
    channel = serializers.CharField(read_only=True, help_text=f"One of: {', '.join(Channel.values)}.")
    created_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    cancellation_reason = serializers.CharField(read_only=True)
    cancelled_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    cancelled_at = serializers.DateTimeField(read_only=True, allow_null=True)
    late_cancellation = serializers.BooleanField(read_only=True)

    class Meta:
        ref_name = "AppointmentOutput"


class AppointmentChangeSerializer(serializers.ModelSerializer):
    changed_by_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = AppointmentChange
        fields = [
            "kind",
            "changed_at",
            "changed_by_id",
            "from_status",
            "to_status",
            "from_start",
            "from_end",
            "to_start",
            "to_end",
            "note",
        ]
        read_only_fields = fields


class AppointmentDetailSerializer(AppointmentOutputSerializer):
    history = AppointmentChangeSerializer(source="changes", many=True, read_only=True)

    class Meta:
        ref_name = "AppointmentDetail"


# ---------------------------------------------------------------- input serializers


class AppointmentCreateInput(StrictSerializer):
    patient = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Patient id; a patient may omit it (self)."
    )
    practitioner = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    service = serializers.CharField(max_length=64, help_text="ServiceType code.")
    start = HospitalDateTimeField(help_text=f"A slot start from the slots endpoint. {NAIVE_HELP}")
    resource = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    channel = serializers.CharField(
        max_length=16, default=Channel.API, help_text=f"One of: {', '.join(Channel.values)}."
    )

    def validate_channel(self, value: str) -> str:
        if value not in Channel.values:
            raise serializers.ValidationError(f"One of: {', '.join(Channel.values)}.")
        return value


class RescheduleInput(StrictSerializer):
    start = HospitalDateTimeField(
        help_text=f"The new start, a free slot of the same practitioner. {NAIVE_HELP}"
    )
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def to_internal_value(self, data):
        if isinstance(data, dict):
            extra = sorted(set(data) - set(self.fields))
            if extra:
                message = (
                    "Only the time (start) can be changed; cancel and book again to change the doctor, "
                    "service or resource."
                )
                raise serializers.ValidationError(dict.fromkeys(extra, message))
        return super().to_internal_value(data)


class CancelInput(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class StatusChangeInput(StrictSerializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AutoAssignInput(StrictSerializer):
    specialty = serializers.CharField(max_length=100, help_text="SNOMED CT code or part of the name.")
    service = serializers.CharField(max_length=64, help_text="ServiceType code.")
    window_start = HospitalDateTimeField(help_text=NAIVE_HELP)
    window_end = HospitalDateTimeField(help_text=NAIVE_HELP)
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SlotsQuery(StrictSerializer):
    """The query of the slots endpoint: `from`, `to` (local dates) and `service`. Errors are reported under
    those parameter names; `validated_data` holds `date_from`, `date_to` (default: `from`) and `service`."""

    service = serializers.CharField(max_length=64)

    def get_fields(self):
        # `from` is a Python keyword, so these two cannot be declared as class attributes.
        return {
            "from": LocalDateField(source="date_from"),
            "to": LocalDateField(source="date_to", required=False),
            **super().get_fields(),
        }

    def validate(self, attrs):
        attrs.setdefault("date_to", attrs["date_from"])
        if attrs["date_to"] < attrs["date_from"]:
            raise serializers.ValidationError({"to": "Must not be before from."})
        if (attrs["date_to"] - attrs["date_from"]).days >= selectors.MAX_SLOT_RANGE_DAYS:
            raise serializers.ValidationError({"to": f"At most {selectors.MAX_SLOT_RANGE_DAYS} days."})
        last = horizon_date()
        for key, name in (("date_from", "from"), ("date_to", "to")):
            if attrs[key] > last:
                raise serializers.ValidationError(
                    {name: f"{services.horizon_message()} (last date: {last})."}
                )
        return attrs


class AppointmentListQuery(StrictSerializer):
    date = LocalDateField(required=False, help_text="Local date in the hospital's time zone.")
    date_from = LocalDateField(required=False)
    date_to = LocalDateField(required=False)
    doctor = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    status = serializers.ChoiceField(choices=AppointmentStatus.choices, required=False)


# ---------------------------------------------------------------- helpers


def _service(code: str, field: str = "service") -> ServiceType:
    found = ServiceType.objects.filter(code=code, active=True).first()
    if found is None:
        raise ValidationError({field: "Unknown service type."})
    return found


def _booking_patient(request, patient_id: int | None):
    """Whom the caller books for: a patient books for themself only (another id -> 403); staff name a
    patient they can see (else 404)."""
    user = request.user
    if user.role == Role.PATIENT:
        own = getattr(user, "patient", None)
        if own is None or own.deleted_at is not None:
            raise PermissionDenied("No patient record is linked to this account.")
        if patient_id is not None and patient_id != own.pk:
            raise PermissionDenied("A patient can only book for themself.")
        return own
    if patient_id is None:
        raise ValidationError({"patient": "This field is required."})
    return patient_get(user, patient_id)


def _booking_doctor(practitioner_id: int):
    """The active doctor `practitioner_id` (the rule of `hms.staff.selectors.doctors_list`), without the
    specialty and organization `doctor_get` joins (a booking does not show them); ValidationError (400,
    field `practitioner`) when there is none."""
    found = doctors_list().select_related(None).order_by().filter(pk=practitioner_id)[:1]
    if not found:
        raise ValidationError({"practitioner": "Unknown doctor."})
    return found[0]


def _local_day_range(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone)


APPOINTMENT_SCHEMA = {200: AppointmentOutputSerializer, 400: None, 403: None, 404: None}

# ---------------------------------------------------------------- views


class DoctorSlotsApi(GenericAPIView):
    """GET: free slots of one doctor for a service over at most 31 local days."""

    serializer_class = None
    pagination_class = None

    @extend_schema(
        operation_id="doctors_slots",
        parameters=[
            OpenApiParameter("from", dt.date, required=True, description="First local date (YYYY-MM-DD)."),
            OpenApiParameter(
                "to", dt.date, description="Last local date, inclusive (default: from; ≤ 31 days)."
            ),
            OpenApiParameter("service", str, required=True, description="ServiceType code."),
        ],
        responses={
            200: inline_serializer(
                "DoctorSlots",
                {
                    "practitioner": serializers.IntegerField(),
                    "service": ServiceTypeSerializer(),
                    "time_zone": serializers.CharField(),
                    "slots": inline_serializer(
                        "Slot",
                        {"start": serializers.DateTimeField(), "end": serializers.DateTimeField()},
                        many=True,
                    ),
                },
            ),
            400: None,
            404: None,
        },
    )
    def get(self, request, pk: int):
        params = request.query_params
        query = SlotsQuery(data={k: params[k] for k in ("from", "to", "service") if k in params})
        query.is_valid(raise_exception=True)
        doctor = doctor_get(pk)
        service = _service(query.validated_data["service"])
        schedule = selectors.schedule_of(doctor)
        slots = selectors.slots_free(
            practitioner=doctor,
            service_type=service,
            date_from=query.validated_data["date_from"],
            date_to=query.validated_data["date_to"],
        )
        return Response(
            {
                "practitioner": doctor.pk,
                "service": ServiceTypeSerializer(service).data,
                "time_zone": schedule.time_zone if schedule else settings.HOSPITAL_TIME_ZONE,
                "slots": [{"start": s.isoformat(), "end": e.isoformat()} for s, e in slots],
            }
        )


class ServiceTypeListApi(GenericAPIView):
    """GET: the bookable service types, unpaginated."""

    serializer_class = ServiceTypeSerializer
    pagination_class = None
    queryset = ServiceType.objects.none()  # schema hint only

    @extend_schema(operation_id="service_types_list", responses=ServiceTypeSerializer(many=True))
    def get(self, request):
        return Response(ServiceTypeSerializer(ServiceType.objects.filter(active=True), many=True).data)


class AppointmentListCreateApi(GenericAPIView):
    """GET: the caller's scoped appointments. POST: book (patient for self; staff for a patient they see)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.PATIENT, Role.RECEPTIONIST, Role.ADMIN, Role.DOCTOR, Role.NURSE)}
    serializer_class = AppointmentOutputSerializer
    pagination_class = CappedCountPagination
    queryset = Appointment.objects.none()  # schema hint only: reads go through `scheduling.selectors`

    @extend_schema(
        operation_id="appointments_list",
        parameters=[
            OpenApiParameter("date", dt.date, description="Local date (hospital time zone)."),
            OpenApiParameter("date_from", dt.date),
            OpenApiParameter("date_to", dt.date),
            OpenApiParameter("doctor", int, description="Practitioner id."),
            OpenApiParameter("patient", int, description="Patient id."),
            OpenApiParameter("status", str, enum=AppointmentStatus.values),
        ],
        responses=AppointmentOutputSerializer(many=True),
    )
    def get(self, request):
        query = AppointmentListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = selectors.appointments_visible(request.user)
        if "date" in params:
            qs = qs.filter(
                start__gte=_local_day_range(params["date"])[0], start__lt=_local_day_range(params["date"])[1]
            )
        if "date_from" in params:
            qs = qs.filter(start__gte=_local_day_range(params["date_from"])[0])
        if "date_to" in params:
            qs = qs.filter(start__lt=_local_day_range(params["date_to"])[1])
        if "doctor" in params:
            qs = qs.filter(practitioner_id=params["doctor"])
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        if "status" in params:
            qs = qs.filter(status=params["status"])
        page = paginate_audited(
            self, request, qs.order_by("start", "id"), object_type="scheduling.Appointment"
        )
        return self.get_paginated_response(AppointmentOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="appointments_create",
        request=AppointmentCreateInput,
        responses={201: AppointmentOutputSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request):
        data = AppointmentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = _booking_patient(request, v.get("patient"))
        practitioner = _booking_doctor(v["practitioner"])
        resource = None
        if v.get("resource"):
            resource = BookableResource.objects.filter(pk=v["resource"], active=True).first()
            if resource is None:
                raise ValidationError({"resource": "Unknown resource."})
        appointment = services.appointment_book(
            patient=patient,
            practitioner=practitioner,
            service_type=_service(v["service"]),
            start=v["start"],
            by=request.user,
            resource=resource,
            reason=v["reason"],
            channel=v["channel"],
            request=request,
        )
        return Response(AppointmentOutputSerializer(appointment).data, status=status.HTTP_201_CREATED)


class AppointmentDetailApi(GenericAPIView):
    """GET one appointment with its history; PATCH `start` to reschedule."""

    permission_classes = (HasRole,)
    allowed_roles = {"PATCH": (Role.PATIENT, Role.RECEPTIONIST, Role.ADMIN, Role.DOCTOR)}
    serializer_class = AppointmentDetailSerializer
    queryset = Appointment.objects.none()  # schema hint only

    @extend_schema(
        operation_id="appointments_retrieve", responses={200: AppointmentDetailSerializer, 404: None}
    )
    def get(self, request, pk: int):
        with transaction.atomic():
            appointment = selectors.appointment_get(request.user, pk)
            audit_record(
                action=AuditAction.READ, request=request, patient=appointment.patient, obj=appointment
            )
        return Response(AppointmentDetailSerializer(appointment).data)

    @extend_schema(
        operation_id="appointments_reschedule",
        request=RescheduleInput,
        responses={**APPOINTMENT_SCHEMA, 409: None},
    )
    def patch(self, request, pk: int):
        appointment = selectors.appointment_get(request.user, pk)
        data = RescheduleInput(data=request.data)
        data.is_valid(raise_exception=True)
        appointment = services.appointment_reschedule(
            appointment=appointment,
            start=data.validated_data["start"],
            reason=data.validated_data["reason"],
            by=request.user,
            request=request,
        )
        return Response(AppointmentOutputSerializer(appointment).data)


class AppointmentCancelApi(GenericAPIView):
    """POST {reason}: cancel; `late_cancellation` is set when inside the notice period."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.PATIENT, Role.RECEPTIONIST, Role.ADMIN, Role.DOCTOR)}
    serializer_class = AppointmentOutputSerializer
    queryset = Appointment.objects.none()

    @extend_schema(operation_id="appointments_cancel", request=CancelInput, responses=APPOINTMENT_SCHEMA)
    def post(self, request, pk: int):
        appointment = selectors.appointment_get(request.user, pk)
        data = CancelInput(data=request.data)
        data.is_valid(raise_exception=True)
        appointment = services.appointment_cancel(
            appointment=appointment, by=request.user, reason=data.validated_data["reason"], request=request
        )
        return Response(AppointmentOutputSerializer(appointment).data)


def _status_view(name: str, service, roles: tuple, doc: str):
    class StatusApi(GenericAPIView):
        permission_classes = (HasRole,)
        allowed_roles = {"POST": roles}
        serializer_class = AppointmentOutputSerializer
        queryset = Appointment.objects.none()

        @extend_schema(
            operation_id=f"appointments_{name}", request=StatusChangeInput, responses=APPOINTMENT_SCHEMA
        )
        def post(self, request, pk: int):
            appointment = selectors.appointment_get(request.user, pk)
            data = StatusChangeInput(data=request.data)
            data.is_valid(raise_exception=True)
            appointment = service(
                appointment=appointment, by=request.user, note=data.validated_data["note"], request=request
            )
            return Response(AppointmentOutputSerializer(appointment).data)

    StatusApi.__name__ = StatusApi.__qualname__ = f"Appointment{name.title().replace('_', '')}Api"
    StatusApi.__doc__ = doc
    return StatusApi


FRONT_DESK = (Role.RECEPTIONIST, Role.ADMIN, Role.NURSE)
CLINICIANS = (Role.DOCTOR, Role.NURSE)
AppointmentConfirmApi = _status_view(
    "confirm", services.appointment_confirm, (*FRONT_DESK, Role.DOCTOR), "POST: proposed/pending → booked."
)
AppointmentCheckInApi = _status_view(
    "check_in", services.appointment_check_in, FRONT_DESK, "POST: booked → arrived."
)
AppointmentStartApi = _status_view(
    "start", services.appointment_start, CLINICIANS, "POST: arrived → in-progress."
)
AppointmentCompleteApi = _status_view(
    "complete", services.appointment_complete, CLINICIANS, "POST: in-progress → fulfilled."
)
AppointmentNoShowApi = _status_view(
    "no_show",
    services.appointment_no_show,
    (*FRONT_DESK, Role.DOCTOR),
    "POST: booked → noshow (after start).",
)


class AppointmentUpcomingApi(GenericAPIView):
    """GET: the caller's active appointments that have not ended, soonest first."""

    serializer_class = AppointmentOutputSerializer
    pagination_class = CappedCountPagination
    queryset = Appointment.objects.none()

    @extend_schema(operation_id="appointments_upcoming", responses=AppointmentOutputSerializer(many=True))
    def get(self, request):
        with transaction.atomic():
            page = self.paginate_queryset(selectors.appointments_upcoming(request.user))
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                patients=sorted({a.patient_id for a in page}),
                object_type="scheduling.Appointment",
                detail={"upcoming": True},
            )
        return self.get_paginated_response(AppointmentOutputSerializer(page, many=True).data)


class AppointmentAutoAssignApi(GenericAPIView):
    """POST: book the earliest free slot among the doctors of a specialty in a window (load-balanced)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.PATIENT, Role.RECEPTIONIST, Role.ADMIN)}
    serializer_class = AppointmentOutputSerializer
    queryset = Appointment.objects.none()

    @extend_schema(
        operation_id="appointments_auto_assign",
        request=AutoAssignInput,
        responses={201: AppointmentOutputSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request):
        data = AutoAssignInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = _booking_patient(request, v.get("patient"))
        appointment = services.appointment_auto_assign(
            patient=patient,
            specialty=v["specialty"],
            service_type=_service(v["service"]),
            window_start=v["window_start"],
            window_end=v["window_end"],
            reason=v["reason"],
            by=request.user,
            request=request,
        )
        return Response(AppointmentOutputSerializer(appointment).data, status=status.HTTP_201_CREATED)


__all__ = ["schedule_zone"]
