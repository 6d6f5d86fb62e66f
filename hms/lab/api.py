"""REST API of the lab.

- `GET /api/labs/`: lab orders with their results, scoped (`hms.lab.selectors`), newest first, paginated;
  filters `patient` (id), `status` (request-status), `priority` (routine|urgent|stat).
  `POST /api/labs/`: order tests (doctor, patient in care): {patient, codes: [LOINC], priority?, encounter?,
  reason?, note?} → 201 with the created orders (one per code, shared `requisition`).
- `GET /api/labs/{id}/`: one order with its visible results.
- `POST /api/labs/{id}/collect/`: {collected_at?} the lab took the specimen (lab technician).
- `POST /api/labs/{id}/results/`: record the results (lab technician): {results: [...], conclusion?,
  status?, collected_at?} → 201 with the order.
- `POST /api/labs/{id}/acknowledge/`: the doctor acknowledges the order's final result (releases it).
- `POST /api/labs/{id}/cancel/`: {reason} revokes an order without result (doctor).
- `POST /api/labs/{id}/results/entered-in-error/`: {reason} marks the order's report entered-in-error.
- `GET /api/lab-tests/?q=`: catalogue search (LOINC code prefix or words), any signed-in user; not PHI.

Errors: 400 field errors (bad input), 403 a role that never does this act, 404 an order missing or not
visible, 409 a state clash (cancel a completed order, a second result). Every PHI read writes an
AuditEvent ("search" for lists with the patients listed, "read" for one order).
"""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.models import ObservationInterpretation
from hms.clinical.selectors import encounter_of_patient
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.api_schema import NoBody
from hms.core.errors import NotFoundOrForbidden
from hms.patients.selectors import patient_get_clinical

from . import catalog, selectors, services
from .models import OrderPriority, OrderStatus, ReportStatus, ServiceRequest

MAX_ID = 2**63 - 1
READ_ROLES = (Role.DOCTOR, Role.NURSE, Role.LAB_TECHNICIAN, Role.PATIENT)

# ---------------------------------------------------------------- output serializers


class LabCodingSerializer(serializers.Serializer):
    system = serializers.CharField(source="code_system")
    code = serializers.CharField()
    display = serializers.CharField(source="code_display")


class LabPatientRef(serializers.Serializer):
    """The patient as the lab sees them: demographics only."""

    id = serializers.IntegerField()
    medical_record_number = serializers.CharField(source="mrn")
    name = serializers.SerializerMethodField()
    date_of_birth = serializers.DateField()
    gender = serializers.CharField()

    def get_name(self, obj) -> str:
        return f"{obj.given_names} {obj.family_name}".strip()


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()

    class Meta:
        ref_name = "LabUserRef"

    def get_name(self, obj) -> str:
        return obj.get_full_name() or obj.username


class LabResultSerializer(serializers.Serializer):
    """One result Observation (FHIR Observation, category laboratory)."""

    id = serializers.IntegerField()
    code = LabCodingSerializer(source="*")
    status = serializers.CharField()
    value = serializers.DecimalField(
        source="value_quantity", max_digits=20, decimal_places=6, allow_null=True, help_text="In `unit`."
    )
    unit = serializers.CharField(source="value_unit", help_text="UCUM.")
    value_string = serializers.CharField()
    interpretation = serializers.CharField(help_text="v3 ObservationInterpretation: N, L, H, LL, HH, A, AA.")
    reference_low = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    reference_high = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    reference_text = serializers.CharField()
    effective_at = serializers.DateTimeField()
    note = serializers.CharField()


class LabReportSerializer(serializers.Serializer):
    """A DiagnosticReport of an order, with its results."""

    id = serializers.IntegerField()
    code = LabCodingSerializer(source="*")
    status = serializers.CharField(help_text="registered, preliminary, final, amended.")
    effective_at = serializers.DateTimeField(allow_null=True, help_text="Specimen collection time.")
    issued_at = serializers.DateTimeField(allow_null=True)
    performer = UserRefSerializer(allow_null=True)
    conclusion = serializers.CharField()
    is_critical = serializers.BooleanField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)
    acknowledged_by = UserRefSerializer(allow_null=True)
    released_at = serializers.DateTimeField(allow_null=True, help_text="Visible to the patient from then.")
    results = LabResultSerializer(many=True, source="results.all")


class PractitionerNameSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")

    class Meta:
        ref_name = "LabRequester"


class LabOrderSerializer(serializers.ModelSerializer):
    """A lab order (FHIR ServiceRequest) with the reports the caller may see."""

    patient = LabPatientRef(read_only=True)
    encounter = serializers.IntegerField(source="encounter_id", read_only=True, allow_null=True)
    code = LabCodingSerializer(source="*", read_only=True)
    status = serializers.CharField(read_only=True, help_text=f"One of: {', '.join(OrderStatus.values)}.")
    priority = serializers.CharField(read_only=True, help_text=f"One of: {', '.join(OrderPriority.values)}.")
    requester = PractitionerNameSerializer(read_only=True, allow_null=True)
    reports = LabReportSerializer(many=True, read_only=True, source="visible_reports")

    class Meta:
        model = ServiceRequest
        fields = [
            "id",
            "patient",
            "encounter",
            "code",
            "status",
            "intent",
            "priority",
            "requisition",
            "requester",
            "authored_at",
            "reason",
            "note",
            "specimen_collected_at",
            "status_reason",
            "reports",
        ]
        read_only_fields = fields


class LabTestSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="LOINC.")
    display = serializers.CharField()
    kind = serializers.CharField(help_text="test or panel.")
    unit = serializers.CharField(help_text="UCUM.")
    specimen = serializers.CharField()
    members = serializers.ListField(child=serializers.CharField())
    low = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    high = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    critical_low = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    critical_high = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    reference_display = serializers.CharField()


# ---------------------------------------------------------------- input serializers


class LabOrderListQuery(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)
    priority = serializers.ChoiceField(choices=OrderPriority.choices, required=False)


class LabOrderCreateInput(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    codes = serializers.ListField(
        child=serializers.CharField(max_length=20),
        min_length=1,
        max_length=services.MAX_TESTS_PER_ORDER,
        help_text="LOINC codes from /api/lab-tests/.",
    )
    priority = serializers.ChoiceField(choices=OrderPriority.choices, default=OrderPriority.ROUTINE)
    encounter = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class LabResultInput(StrictSerializer):
    code = serializers.CharField(max_length=20, required=False, help_text="LOINC; default: the ordered test.")
    value = serializers.DecimalField(
        max_digits=20, decimal_places=6, required=False, allow_null=True, help_text="Number in `unit`."
    )
    value_string = serializers.CharField(max_length=500, required=False, allow_blank=True)
    unit = serializers.CharField(max_length=40, required=False, allow_blank=True, help_text="UCUM.")
    reference_low = serializers.DecimalField(max_digits=20, decimal_places=6, required=False, allow_null=True)
    reference_high = serializers.DecimalField(
        max_digits=20, decimal_places=6, required=False, allow_null=True
    )
    reference_text = serializers.CharField(max_length=200, required=False, allow_blank=True)
    interpretation = serializers.ChoiceField(
        choices=ObservationInterpretation.choices, required=False, allow_blank=True
    )
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class LabResultsInput(StrictSerializer):
    results = LabResultInput(many=True, required=False, default=list)
    conclusion = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    status = serializers.ChoiceField(
        choices=[ReportStatus.FINAL, ReportStatus.PRELIMINARY], default=ReportStatus.FINAL
    )
    collected_at = serializers.DateTimeField(required=False, allow_null=True)


class CollectInput(StrictSerializer):
    collected_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default: now.")


class ReasonInput(StrictSerializer):
    reason = serializers.CharField(max_length=500)


# ---------------------------------------------------------------- views

ORDER_RESPONSES = {200: LabOrderSerializer, 400: None, 403: None, 404: None, 409: None}


def _order_response(request, order_id, *, code=status.HTTP_200_OK) -> Response:
    order = selectors.order_get(user=request.user, order_id=order_id)
    return Response(LabOrderSerializer(order).data, status=code)


class LabOrderListCreateApi(GenericAPIView):
    """GET: scoped lab orders with results. POST: order tests (doctors)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READ_ROLES, "POST": (Role.DOCTOR,)}
    serializer_class = LabOrderSerializer
    pagination_class = CappedCountPagination
    queryset = ServiceRequest.objects.none()  # schema hint only: reads go through `lab.selectors`

    @extend_schema(
        operation_id="labs_list",
        parameters=[
            OpenApiParameter("patient", int, description="Patient id."),
            OpenApiParameter("status", str, enum=OrderStatus.values),
            OpenApiParameter("priority", str, enum=OrderPriority.values),
        ],
        responses=LabOrderSerializer(many=True),
    )
    def get(self, request):
        query = LabOrderListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = selectors.orders_visible(request.user)
        for name in ("status", "priority"):
            if name in params:
                qs = qs.filter(**{name: params[name]})
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        page = paginate_audited(self, request, qs, object_type="lab.ServiceRequest")
        return self.get_paginated_response(LabOrderSerializer(page, many=True).data)

    @extend_schema(
        operation_id="labs_create",
        request=LabOrderCreateInput,
        responses={201: LabOrderSerializer(many=True), 400: None, 403: None, 404: None},
    )
    def post(self, request):
        data = LabOrderCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        with transaction.atomic():
            patient = patient_get_clinical(request.user, params["patient"])
            encounter = encounter_of_patient(
                user=request.user, patient=patient, encounter_id=params.get("encounter")
            )
            orders = services.lab_order_create(
                patient=patient,
                codes=params["codes"],
                by=request.user,
                encounter=encounter,
                priority=params["priority"],
                reason=params["reason"],
                note=params["note"],
                request=request,
            )
        fresh = selectors.orders_visible(request.user).filter(pk__in=[o.pk for o in orders]).order_by("id")
        return Response(LabOrderSerializer(fresh, many=True).data, status=status.HTTP_201_CREATED)


class LabOrderDetailApi(GenericAPIView):
    """GET: one lab order with the results the caller may see."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READ_ROLES}
    serializer_class = LabOrderSerializer
    queryset = ServiceRequest.objects.none()

    @extend_schema(operation_id="labs_retrieve", responses={200: LabOrderSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            order = selectors.order_get(user=request.user, order_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=order.patient, obj=order)
        return Response(LabOrderSerializer(order).data)


class LabResultsApi(GenericAPIView):
    """POST: record the results of an active order (lab technicians)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.LAB_TECHNICIAN,)}
    serializer_class = LabOrderSerializer
    queryset = ServiceRequest.objects.none()

    @extend_schema(
        operation_id="labs_results_create",
        request=LabResultsInput,
        responses={**ORDER_RESPONSES, 201: LabOrderSerializer},
    )
    def post(self, request, pk: int):
        order = selectors.order_get(user=request.user, order_id=pk)
        data = LabResultsInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        results = [
            {
                k: (str(v) if k in ("value", "reference_low", "reference_high") and v is not None else v)
                for k, v in item.items()
            }
            for item in params["results"]
        ]
        services.lab_result_record(
            order=order,
            results=results,
            conclusion=params["conclusion"],
            status=params["status"],
            collected_at=params.get("collected_at"),
            by=request.user,
            request=request,
        )
        return _order_response(request, pk, code=status.HTTP_201_CREATED)


class LabCollectApi(GenericAPIView):
    """POST {collected_at?}: the lab records that it took the specimen (lab technicians)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.LAB_TECHNICIAN,)}
    serializer_class = LabOrderSerializer
    queryset = ServiceRequest.objects.none()

    @extend_schema(operation_id="labs_collect", request=CollectInput, responses=ORDER_RESPONSES)
    def post(self, request, pk: int):
        order = selectors.order_get(user=request.user, order_id=pk)
        data = CollectInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.lab_specimen_collect(
            order=order,
            collected_at=data.validated_data.get("collected_at"),
            by=request.user,
            request=request,
        )
        return _order_response(request, pk)


def _order_report(request, pk):
    """The order and its current (live, visible) report; 404 when there is none."""
    order = selectors.order_get(user=request.user, order_id=pk)
    report = order.visible_reports[0] if order.visible_reports else None
    if report is None:
        raise NotFoundOrForbidden()
    return order, report


class LabAcknowledgeApi(GenericAPIView):
    """POST: the doctor acknowledges the order's final result, which releases it to the patient."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = LabOrderSerializer
    queryset = ServiceRequest.objects.none()

    @extend_schema(operation_id="labs_acknowledge", request=NoBody, responses=ORDER_RESPONSES)
    def post(self, request, pk: int):
        _order, report = _order_report(request, pk)
        services.lab_result_acknowledge(report=report, by=request.user, request=request)
        return _order_response(request, pk)


class LabCancelApi(GenericAPIView):
    """POST {reason}: revoke an order that has no result yet (doctors)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = LabOrderSerializer
    queryset = ServiceRequest.objects.none()

    @extend_schema(operation_id="labs_cancel", request=ReasonInput, responses=ORDER_RESPONSES)
    def post(self, request, pk: int):
        order = selectors.order_get(user=request.user, order_id=pk)
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.lab_order_cancel(
            order=order, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return _order_response(request, pk)


class LabResultErrorApi(GenericAPIView):
    """POST {reason}: mark the order's report entered-in-error (lab technicians, clinicians in care)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.LAB_TECHNICIAN, Role.DOCTOR, Role.NURSE)}
    serializer_class = LabOrderSerializer
    queryset = ServiceRequest.objects.none()

    @extend_schema(
        operation_id="labs_results_entered_in_error", request=ReasonInput, responses=ORDER_RESPONSES
    )
    def post(self, request, pk: int):
        _order, report = _order_report(request, pk)
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.lab_result_enter_in_error(
            report=report, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return _order_response(request, pk)


class LabTestSearchApi(GenericAPIView):
    """GET ?q=: the lab catalogue (LOINC), at most 20 matches; `q` empty → []. Not PHI: not audited."""

    serializer_class = LabTestSerializer
    pagination_class = None

    @extend_schema(
        operation_id="lab_tests_search",
        parameters=[OpenApiParameter("q", str, description="LOINC code prefix or words (≤ 100 characters).")],
        responses={
            200: inline_serializer(
                "LabTestSearch", {"notice": serializers.CharField(), "results": LabTestSerializer(many=True)}
            )
        },
    )
    def get(self, request):
        hits = catalog.lab_test_search(request.query_params.get("q", ""))
        return Response({"notice": catalog.NOTICE, "results": LabTestSerializer(hits, many=True).data})
