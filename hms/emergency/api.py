"""REST API of the emergency department.

- `GET /api/ed/visits/`: the tracking board (ED staff: doctors, nurses): visits in the department, board
  order (untriaged first, then ESI 1→5, then arrival); `?status=waiting|in-treatment` narrows it.
  `POST /api/ed/visits/`: an arrival (doctors, nurses, receptionists): {patient: id} or {unknown: {gender,
  approx_age, note?}}, chief_complaint?, arrived_at?} → 201 with the visit.
- `POST /api/ed/visits/{id}/triage/` (nurses): {chief_complaint, esi_level 1-5, vitals: {key: number}
  (keys, units and ranges of `hms.clinical.vitals`), note?} → 200 with the visit.
- `POST /api/ed/visits/{id}/seen/` (doctors): a doctor sees the patient now (door-to-doctor time).
- `POST /api/ed/visits/{id}/depart/` (doctors, nurses): {disposition: discharged|left|admitted, bed?
  (Location id of a bed, required to admit; doctors only), reason?} → 200 {visit, admission id or null}.
- `POST /api/ed/esi-suggest/` (doctors, nurses): {life_saving, high_risk, resources, heart_rate?,
  respiratory_rate?, spo2?} → {esi_level}: the ESI v4 decision points as guidance; not PHI, not stored.
- `GET /api/emergency-requests/`: a patient their own requests (newest first); ED staff the open ones
  (oldest first) with each patient's active allergies and problem list (emergency access, audited).
  `POST /api/emergency-requests/` (patients, for themself): {description, location_text?, latitude?,
  longitude?} → 201.
- `GET /api/emergency-requests/{id}/`: one request (the patient's own; ED staff any).
- `POST /api/emergency-requests/{id}/acknowledge/`, `/dispatch/` {note}, `/close/` {outcome} (ED staff).

Errors: 400 field errors, 403 a role that never does this act, 404 a visit/request missing or not
visible (a patient asking for another's request), 409 a state clash (already seen, already departed,
dispatch before acknowledge, closed). Every PHI read writes an AuditEvent ("search" for lists with the
patients listed); writes are audited by `hms.emergency.services`.
"""

from django.core.exceptions import ValidationError
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
from hms.core.api_schema import NoBody
from hms.core.errors import NotFoundOrForbidden
from hms.patients.models import Patient
from hms.patients.selectors import patient_get

from . import selectors, services
from .models import EdStatus, EdVisit, EmergencyRequest

STAFF = (Role.DOCTOR, Role.NURSE)
ARRIVAL = (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST)
MAX_ID = 2**63 - 1

# ---------------------------------------------------------------- output serializers


class EdPatientRef(serializers.Serializer):
    id = serializers.IntegerField()
    medical_record_number = serializers.CharField(source="mrn")
    name = serializers.SerializerMethodField()
    date_of_birth = serializers.DateField()
    gender = serializers.CharField()
    identity_unknown = serializers.BooleanField()

    def get_name(self, obj) -> str:
        return f"{obj.family_name}, {obj.given_names}"


class EdVisitSerializer(serializers.ModelSerializer):
    """An ED visit (FHIR Encounter class EMER, priority = ESI). Times are ISO 8601 UTC; minutes whole."""

    patient = EdPatientRef()
    door_to_doctor_seconds = serializers.SerializerMethodField()
    waiting_minutes = serializers.SerializerMethodField()
    target_minutes = serializers.SerializerMethodField()
    target_exceeded = serializers.SerializerMethodField()

    class Meta:
        model = EdVisit
        fields = (
            "id",
            "patient",
            "encounter",
            "status",
            "arrived_at",
            "chief_complaint",
            "esi_level",
            "triaged_at",
            "triage_note",
            "doctor_seen_at",
            "door_to_doctor_seconds",
            "departed_at",
            "waiting_minutes",
            "target_minutes",
            "target_exceeded",
            "target_alerted_at",
        )

    def get_door_to_doctor_seconds(self, obj) -> int | None:
        return services.door_to_doctor_seconds(obj)

    def get_waiting_minutes(self, obj) -> int:
        end = obj.doctor_seen_at or obj.departed_at or timezone.now()
        return max(0, int((end - obj.arrived_at).total_seconds() // 60))

    def get_target_minutes(self, obj) -> int | None:
        return services.target_minutes()[obj.esi_level] if obj.esi_level else None

    def get_target_exceeded(self, obj) -> bool:
        due = services.target_due_at(obj)
        return bool(due and obj.doctor_seen_at is None and obj.departed_at is None and timezone.now() > due)


class AllergyBrief(serializers.Serializer):
    substance = serializers.CharField(source="code_display")
    criticality = serializers.CharField()
    category = serializers.CharField()


class ProblemBrief(serializers.Serializer):
    code = serializers.CharField()
    display = serializers.CharField(source="code_display")
    clinical_status = serializers.CharField()


class EmergencyRequestSerializer(serializers.ModelSerializer):
    """A patient emergency request (FHIR CommunicationRequest, priority stat). Coordinates: WGS84 degrees
    as strings with 6 decimals. `allergies`/`problems`: for ED staff only (empty for the patient)."""

    patient = EdPatientRef()
    allergies = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField()

    class Meta:
        model = EmergencyRequest
        fields = (
            "id",
            "patient",
            "status",
            "created_at",
            "description",
            "location_text",
            "latitude",
            "longitude",
            "acknowledged_at",
            "dispatched_at",
            "dispatch_note",
            "closed_at",
            "outcome",
            "allergies",
            "problems",
        )

    def _summary(self, obj) -> dict:
        summaries = self.context.get("summaries") or {}
        return summaries.get(obj.patient_id, {"allergies": [], "problems": []})

    def get_allergies(self, obj) -> list[dict]:
        return AllergyBrief(self._summary(obj)["allergies"], many=True).data

    def get_problems(self, obj) -> list[dict]:
        return ProblemBrief(self._summary(obj)["problems"], many=True).data


def _summaries(request, rows) -> dict:
    """Allergies and problems of each request's patient, for ED staff, with one emergency-access
    AuditEvent naming the patients."""
    if not services.is_ed_staff(request.user) or not rows:
        return {}
    patients = {row.patient_id: row.patient for row in rows}
    out = {pid: selectors.request_clinical_summary(request.user, p) for pid, p in patients.items()}
    audit_record(
        action=AuditAction.READ,
        request=request,
        patients=sorted(patients),
        object_type="clinical.AllergyIntolerance",
        detail={"emergency_access": True, "reason": "emergency request", "problem_list": True},
    )
    return out


# ---------------------------------------------------------------- input serializers


class VisitListQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=[EdStatus.WAITING, EdStatus.IN_TREATMENT], required=False)


class EdUnknownPatientInput(StrictSerializer):
    gender = serializers.CharField(max_length=20)
    approx_age = serializers.IntegerField(min_value=0, max_value=120)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ArrivalInput(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    unknown = EdUnknownPatientInput(required=False)
    chief_complaint = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    arrived_at = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        if ("patient" in attrs) == ("unknown" in attrs):
            raise serializers.ValidationError({"patient": "Give either `patient` (an id) or `unknown`."})
        return attrs


class VitalsInput(serializers.DictField):
    child = serializers.JSONField()


class TriageInput(StrictSerializer):
    chief_complaint = serializers.CharField(max_length=300)
    esi_level = serializers.IntegerField(
        min_value=1,
        max_value=5,
        error_messages={"invalid": "The ESI level must be a whole number from 1 to 5."},
    )
    vitals = serializers.DictField(child=serializers.JSONField(), allow_empty=False)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DepartInput(StrictSerializer):
    disposition = serializers.CharField(max_length=20, help_text="discharged | left | admitted")
    bed = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class EsiSuggestInput(StrictSerializer):
    life_saving = serializers.BooleanField()
    high_risk = serializers.BooleanField(default=False)
    resources = serializers.IntegerField(min_value=0, max_value=20, default=0)
    heart_rate = serializers.IntegerField(min_value=20, max_value=300, required=False)
    respiratory_rate = serializers.IntegerField(min_value=4, max_value=80, required=False)
    spo2 = serializers.IntegerField(min_value=50, max_value=100, required=False)


class RequestCreateInput(StrictSerializer):
    description = serializers.CharField(max_length=500)
    location_text = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    latitude = serializers.DecimalField(max_digits=12, decimal_places=8, required=False, allow_null=True)
    longitude = serializers.DecimalField(max_digits=12, decimal_places=8, required=False, allow_null=True)


class DispatchInput(StrictSerializer):
    note = serializers.CharField(max_length=500)


class CloseInput(StrictSerializer):
    outcome = serializers.CharField(max_length=500)


VISIT_RESPONSES = {200: EdVisitSerializer, 400: None, 403: None, 404: None, 409: None}
REQUEST_RESPONSES = {200: EmergencyRequestSerializer, 400: None, 403: None, 404: None, 409: None}

# ---------------------------------------------------------------- ED visits


def _visit_out(request, visit_id) -> dict:
    visit = selectors.ed_visit_get(request.user, visit_id)
    return EdVisitSerializer(visit).data


class EdVisitListCreateApi(GenericAPIView):
    """GET: the tracking board (ED staff). POST: an arrival."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STAFF, "POST": ARRIVAL}
    serializer_class = EdVisitSerializer
    pagination_class = CappedCountPagination
    queryset = EdVisit.objects.none()  # schema hint only: reads go through `emergency.selectors`

    @extend_schema(
        operation_id="ed_visits_list",
        parameters=[OpenApiParameter("status", str, enum=[EdStatus.WAITING, EdStatus.IN_TREATMENT])],
        responses=EdVisitSerializer(many=True),
    )
    def get(self, request):
        query = VisitListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        qs = selectors.ed_active(request.user)
        if "status" in query.validated_data:
            qs = qs.filter(status=query.validated_data["status"])
        page = paginate_audited(self, request, qs, object_type="emergency.EdVisit")
        return self.get_paginated_response(EdVisitSerializer(page, many=True).data)

    @extend_schema(
        operation_id="ed_visits_create",
        request=ArrivalInput,
        responses={201: EdVisitSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request):
        data = ArrivalInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        patient = None
        if "patient" in params:
            if request.user.role == Role.RECEPTIONIST:
                patient = patient_get(request.user, params["patient"])
            else:  # ED clinicians register any live patient who arrives (the visit puts them in care)
                patient = Patient.objects.filter(
                    pk=params["patient"], deleted_at__isnull=True, merged_into__isnull=True
                ).first()
                if patient is None:
                    raise NotFoundOrForbidden()
        visit = services.ed_visit_create(
            by=request.user,
            patient=patient,
            unknown=dict(params["unknown"]) if "unknown" in params else None,
            chief_complaint=params["chief_complaint"],
            arrived_at=params.get("arrived_at"),
            request=request,
        )
        visit = EdVisit.objects.select_related("patient").get(pk=visit.pk)
        return Response(EdVisitSerializer(visit).data, status=status.HTTP_201_CREATED)


class EdTriageApi(GenericAPIView):
    """POST: triage (nurses)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.NURSE,)}
    serializer_class = EdVisitSerializer

    @extend_schema(operation_id="ed_visits_triage", request=TriageInput, responses=VISIT_RESPONSES)
    def post(self, request, pk: int):
        visit = selectors.ed_visit_get(request.user, pk)
        data = TriageInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        services.ed_triage(
            visit=visit,
            chief_complaint=p["chief_complaint"],
            esi_level=p["esi_level"],
            vitals=p["vitals"],
            note=p["note"],
            by=request.user,
            request=request,
        )
        return Response(_visit_out(request, pk))


class EdSeenApi(GenericAPIView):
    """POST: a doctor sees the patient now."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = EdVisitSerializer

    @extend_schema(operation_id="ed_visits_seen", request=NoBody, responses=VISIT_RESPONSES)
    def post(self, request, pk: int):
        visit = selectors.ed_visit_get(request.user, pk)
        services.ed_seen(visit=visit, by=request.user, request=request)
        return Response(_visit_out(request, pk))


class EdDepartApi(GenericAPIView):
    """POST: the patient leaves the ED (discharged, left, admitted)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": STAFF}
    serializer_class = EdVisitSerializer

    @extend_schema(
        operation_id="ed_visits_depart",
        request=DepartInput,
        responses={
            200: inline_serializer(
                "EdDeparture",
                {"visit": EdVisitSerializer(), "admission": serializers.IntegerField(allow_null=True)},
            ),
            400: None,
            403: None,
            404: None,
            409: None,
        },
    )
    def post(self, request, pk: int):
        visit = selectors.ed_visit_get(request.user, pk)
        data = DepartInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        bed = None
        if p["disposition"] == EdStatus.ADMITTED and "bed" in p:
            from hms.inpatient.models import Location, PhysicalType

            bed = Location.objects.filter(pk=p["bed"], physical_type=PhysicalType.BED).first()
            if bed is None:
                raise ValidationError({"bed": "No such bed."})
        _visit, admission = services.ed_depart(
            visit=visit,
            disposition=p["disposition"],
            by=request.user,
            bed=bed,
            reason=p["reason"],
            request=request,
        )
        return Response({"visit": _visit_out(request, pk), "admission": admission.pk if admission else None})


class EsiSuggestApi(GenericAPIView):
    """POST: the ESI level the decision points give (guidance only; nothing stored, no PHI)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": STAFF}
    serializer_class = EsiSuggestInput

    @extend_schema(
        operation_id="ed_esi_suggest",
        request=EsiSuggestInput,
        responses={
            200: inline_serializer("EsiSuggestion", {"esi_level": serializers.IntegerField()}),
            400: None,
        },
    )
    def post(self, request):
        data = EsiSuggestInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"esi_level": services.esi_suggest(**data.validated_data)})


# ---------------------------------------------------------------- emergency requests


class EmergencyRequestListCreateApi(GenericAPIView):
    """GET: a patient's own requests, or the open ones (ED staff). POST: a patient asks for help."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (*STAFF, Role.PATIENT), "POST": (Role.PATIENT,)}
    serializer_class = EmergencyRequestSerializer
    pagination_class = CappedCountPagination
    queryset = EmergencyRequest.objects.none()

    @extend_schema(operation_id="emergency_requests_list", responses=EmergencyRequestSerializer(many=True))
    def get(self, request):
        if services.is_ed_staff(request.user):
            qs = selectors.emergency_requests_open(request.user)
        else:
            qs = selectors.emergency_requests_visible(request.user).order_by("-created_at", "-id")
        with transaction.atomic():
            page = paginate_audited(self, request, qs, object_type="emergency.EmergencyRequest")
            summaries = _summaries(request, page)
        data = EmergencyRequestSerializer(page, many=True, context={"summaries": summaries}).data
        return self.get_paginated_response(data)

    @extend_schema(
        operation_id="emergency_requests_create",
        request=RequestCreateInput,
        responses={201: EmergencyRequestSerializer, 400: None, 403: None},
    )
    def post(self, request):
        data = RequestCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        row = services.emergency_request_create(
            by=request.user,
            description=p["description"],
            location_text=p["location_text"],
            latitude=p.get("latitude"),
            longitude=p.get("longitude"),
            request=request,
        )
        return Response(EmergencyRequestSerializer(row).data, status=status.HTTP_201_CREATED)


def _request_out(request, request_id, *, audit: bool = True) -> dict:
    """One request as the caller sees it; for ED staff with the allergies and problems (emergency
    access, audited)."""
    row = selectors.emergency_request_get(request.user, request_id)
    summaries = _summaries(request, [row]) if audit else {}
    return EmergencyRequestSerializer(row, context={"summaries": summaries}).data


class EmergencyRequestDetailApi(GenericAPIView):
    """GET: one request: the patient their own (another patient's: 404), ED staff any."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (*STAFF, Role.PATIENT)}
    serializer_class = EmergencyRequestSerializer

    @extend_schema(
        operation_id="emergency_requests_retrieve", responses={200: EmergencyRequestSerializer, 404: None}
    )
    def get(self, request, pk: int):
        with transaction.atomic():
            row = selectors.emergency_request_get(request.user, pk)
            audit_record(action=AuditAction.READ, request=request, patient=row.patient, obj=row)
            data = _request_out(request, pk, audit=True)
        return Response(data)


class EmergencyRequestAcknowledgeApi(GenericAPIView):
    permission_classes = (HasRole,)
    allowed_roles = {"POST": STAFF}
    serializer_class = EmergencyRequestSerializer

    @extend_schema(operation_id="emergency_requests_acknowledge", request=NoBody, responses=REQUEST_RESPONSES)
    def post(self, request, pk: int):
        row = selectors.emergency_request_get(request.user, pk)
        services.emergency_request_acknowledge(emergency_request=row, by=request.user, request=request)
        return Response(_request_out(request, pk))


class EmergencyRequestDispatchApi(GenericAPIView):
    permission_classes = (HasRole,)
    allowed_roles = {"POST": STAFF}
    serializer_class = EmergencyRequestSerializer

    @extend_schema(
        operation_id="emergency_requests_dispatch", request=DispatchInput, responses=REQUEST_RESPONSES
    )
    def post(self, request, pk: int):
        row = selectors.emergency_request_get(request.user, pk)
        data = DispatchInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.emergency_request_dispatch(
            emergency_request=row, note=data.validated_data["note"], by=request.user, request=request
        )
        return Response(_request_out(request, pk))


class EmergencyRequestCloseApi(GenericAPIView):
    permission_classes = (HasRole,)
    allowed_roles = {"POST": STAFF}
    serializer_class = EmergencyRequestSerializer

    @extend_schema(operation_id="emergency_requests_close", request=CloseInput, responses=REQUEST_RESPONSES)
    def post(self, request, pk: int):
        row = selectors.emergency_request_get(request.user, pk)
        data = CloseInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.emergency_request_close(
            emergency_request=row, outcome=data.validated_data["outcome"], by=request.user, request=request
        )
        return Response(_request_out(request, pk))
