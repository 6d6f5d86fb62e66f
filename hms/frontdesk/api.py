"""REST API of the front-desk queue.

- `GET /api/queue/?practitioner=&date=&include_closed=`: a day's queue (default today, hospital time
  zone), open entries in board order with position, minutes waited and expected wait; closed ones after
  them with `include_closed=true`. Receptionist/admin: every queue (all practitioners unless
  `practitioner` is given); doctor/nurse: their own; others (patients included): 403.
- `POST /api/queue/{id}/priority/` `{"priority": "urgent"}`: triage (receptionist, admin, nurse).
- `POST /api/queue/walk-in/` `{"patient": id, "practitioner": id, "priority"?, "reason"?}`: add a patient
  without appointment to today's queue (receptionist, admin, nurse); 201 with the new row, 400 for bad
  fields or an unknown practitioner, 404 for a patient the caller may not see.
- `POST /api/queue/call-next/` `{"practitioner": id}`: a doctor calls their own next patient (the id may
  be omitted); reception/admin call for the practitioner named. 409 when nobody waits.

Every read writes an AuditEvent ("search" with the patients listed); writes are audited by the services.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import HasRole, StrictSerializer
from hms.patients.selectors import patient_get
from hms.staff.models import Practitioner

from . import selectors, services
from .models import OPEN_STATUSES, QueueEntry, QueueStatus, TriagePriority

MAX_ID = 2**63 - 1
WALK_IN_ROLES = frozenset({Role.RECEPTIONIST, Role.ADMIN, Role.NURSE})


class QueueEntrySerializer(serializers.Serializer):
    """One row of the queue (`QueueEntry` + its place on the board)."""

    class PatientRef(serializers.Serializer):
        id = serializers.IntegerField()
        medical_record_number = serializers.CharField(source="mrn")
        name = serializers.SerializerMethodField()

        class Meta:
            ref_name = "QueuePatientRef"

        def get_name(self, obj) -> str:
            return f"{obj.given_names} {obj.family_name}".strip()

    class PractitionerRef(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField(source="display_name")

        class Meta:
            ref_name = "QueuePractitionerRef"

    id = serializers.IntegerField(source="entry.pk")
    appointment_id = serializers.IntegerField(source="entry.appointment_id", allow_null=True)
    patient = PatientRef(source="entry.patient")
    practitioner = PractitionerRef(source="entry.practitioner")
    location = serializers.CharField(source="entry.location")
    reason = serializers.CharField(source="entry.reason", help_text="Why a walk-in came; may be empty.")
    day = serializers.DateField(source="entry.day")
    arrived_at = serializers.DateTimeField(source="entry.arrived_at")
    priority = serializers.CharField(
        source="entry.priority", help_text=f"One of: {', '.join(TriagePriority.values)}."
    )
    priority_rank = serializers.IntegerField(source="entry.priority_rank", help_text="1 = most pressing.")
    status = serializers.CharField(
        source="entry.status", help_text=f"One of: {', '.join(QueueStatus.values)}."
    )
    called_at = serializers.DateTimeField(source="entry.called_at", allow_null=True)
    started_at = serializers.DateTimeField(source="entry.started_at", allow_null=True)
    finished_at = serializers.DateTimeField(source="entry.finished_at", allow_null=True)
    actual_wait_minutes = serializers.SerializerMethodField(help_text="Arrival → start, once started.")
    position = serializers.IntegerField(allow_null=True, help_text="1-based place among those waiting.")
    waiting_minutes = serializers.IntegerField(help_text="Minutes since arrival (until start).")
    expected_wait_minutes = serializers.IntegerField(help_text="Estimated minutes until the start.")

    def get_actual_wait_minutes(self, row) -> float | None:
        wait = row.entry.actual_wait
        return round(wait.total_seconds() / 60, 1) if wait is not None else None


def _closed_row(entry: QueueEntry) -> selectors.BoardRow:
    waited = int(entry.actual_wait.total_seconds() // 60) if entry.actual_wait is not None else 0
    return selectors.BoardRow(entry, None, waited, 0)


def _row_of(entry: QueueEntry) -> selectors.BoardRow:
    board = selectors.queue_board(
        QueueEntry.objects.filter(
            practitioner_id=entry.practitioner_id, day=entry.day, status__in=OPEN_STATUSES
        ).select_related("patient", "practitioner", "appointment__service_type")
    )
    return next((r for r in board if r.entry.pk == entry.pk), _closed_row(entry))


class QueueQuery(StrictSerializer):
    practitioner = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    date = serializers.DateField(required=False)
    include_closed = serializers.BooleanField(required=False, default=False)


class QueueListApi(GenericAPIView):
    """A day's queue, scoped to the caller."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": tuple(selectors.QUEUE_ROLES)}
    queryset = QueueEntry.objects.none()  # schema hint only: reads go through `frontdesk.selectors`
    serializer_class = QueueEntrySerializer
    pagination_class = None

    @extend_schema(
        operation_id="queue_list", parameters=[QueueQuery], responses={200: QueueEntrySerializer(many=True)}
    )
    def get(self, request):
        query = QueueQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        day = params.get("date") or selectors.hospital_today()
        qs = selectors.queue_entries_visible(request.user).filter(day=day)
        if "practitioner" in params:
            qs = qs.filter(practitioner_id=params["practitioner"])
        entries = list(qs)
        rows = selectors.queue_board(entries)
        if params["include_closed"]:
            closed = [e for e in entries if e.status not in OPEN_STATUSES]
            rows += [_closed_row(e) for e in sorted(closed, key=lambda e: (e.arrived_at, e.pk))]
        with transaction.atomic():
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                patients=sorted({r.entry.patient_id for r in rows}),
                object_type="frontdesk.QueueEntry",
                detail={"query": {k: str(v)[:100] for k, v in request.query_params.items()}},
            )
        return Response(QueueEntrySerializer(rows, many=True).data)


class PriorityInput(StrictSerializer):
    priority = serializers.CharField(max_length=16, help_text=f"One of: {', '.join(TriagePriority.values)}.")


class QueuePriorityApi(GenericAPIView):
    """Set the triage priority of a waiting patient."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.RECEPTIONIST, Role.ADMIN, Role.NURSE)}
    queryset = QueueEntry.objects.none()  # schema hint only
    serializer_class = QueueEntrySerializer

    @extend_schema(
        operation_id="queue_set_priority", request=PriorityInput, responses={200: QueueEntrySerializer}
    )
    def post(self, request, pk: int):
        data = PriorityInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = selectors.queue_entry_get(request.user, pk)
        entry = services.queue_set_priority(
            entry=entry, priority=data.validated_data["priority"], by=request.user, request=request
        )
        return Response(QueueEntrySerializer(_row_of(entry)).data)


class WalkInInput(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    practitioner = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    priority = serializers.ChoiceField(choices=TriagePriority.choices, default=TriagePriority.NON_URGENT)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


def walk_in_practitioner(practitioner_id: int) -> Practitioner:
    """The active practitioner whose queue a walk-in joins; ValidationError (400) when unknown."""
    practitioner = (
        Practitioner.objects.select_related("specialty").filter(pk=practitioner_id, active=True).first()
    )
    if practitioner is None:
        raise ValidationError({"practitioner": "Unknown practitioner."})
    return practitioner


def walk_in_location(practitioner: Practitioner) -> str:
    """The queue label of a walk-in: the practitioner's specialty (empty without one)."""
    return practitioner.specialty.display if practitioner.specialty_id else ""


class QueueWalkInApi(GenericAPIView):
    """Add a walk-in patient (no appointment) to today's queue of a practitioner, arriving now."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": tuple(WALK_IN_ROLES)}
    queryset = QueueEntry.objects.none()  # schema hint only
    serializer_class = QueueEntrySerializer

    @extend_schema(
        operation_id="queue_add_walk_in",
        request=WalkInInput,
        responses={201: QueueEntrySerializer, 400: None, 403: None, 404: None},
    )
    def post(self, request):
        data = WalkInInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        patient = patient_get(request.user, params["patient"])
        practitioner = walk_in_practitioner(params["practitioner"])
        entry = services.queue_add_walk_in(
            patient=patient,
            practitioner=practitioner,
            location=walk_in_location(practitioner),
            reason=params["reason"],
            priority=params["priority"],
            by=request.user,
            request=request,
        )
        entry = QueueEntry.objects.select_related("patient", "practitioner").get(pk=entry.pk)
        return Response(QueueEntrySerializer(_row_of(entry)).data, status=201)


class CallNextInput(StrictSerializer):
    practitioner = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, help_text="Whose queue; a doctor may omit it (self)."
    )


def queue_practitioner_for_call(user, practitioner_id: int | None) -> Practitioner:
    """The practitioner whose next patient `user` may call: a doctor their own (PermissionDenied for
    another); reception/admin the one named (ValidationError when missing or unknown)."""
    if user.role == Role.DOCTOR:
        own = getattr(user, "practitioner", None)
        if own is None or (practitioner_id is not None and practitioner_id != own.pk):
            raise PermissionDenied("A doctor calls the next patient of their own queue.")
        return own
    if practitioner_id is None:
        raise ValidationError({"practitioner": "Say whose queue."})
    practitioner = Practitioner.objects.filter(pk=practitioner_id, active=True).first()
    if practitioner is None:
        raise ValidationError({"practitioner": "Unknown practitioner."})
    return practitioner


class QueueCallNextApi(GenericAPIView):
    """Call the next patient (most pressing priority, then earliest arrival)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR, Role.RECEPTIONIST, Role.ADMIN)}
    serializer_class = QueueEntrySerializer

    @extend_schema(
        operation_id="queue_call_next",
        request=CallNextInput,
        responses={200: QueueEntrySerializer, 400: None, 403: None, 409: None},
    )
    def post(self, request):
        data = CallNextInput(data=request.data)
        data.is_valid(raise_exception=True)
        practitioner = queue_practitioner_for_call(request.user, data.validated_data.get("practitioner"))
        entry = services.queue_call_next(practitioner=practitioner, by=request.user, request=request)
        entry = QueueEntry.objects.select_related("patient", "practitioner").get(pk=entry.pk)
        return Response(QueueEntrySerializer(_row_of(entry)).data)
