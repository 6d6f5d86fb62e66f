"""REST API of payments, refunds, online payment and the billing reports.

- `GET /api/payments/`: payments, scoped (`hms.billing.payments.payments_visible`), newest first, paginated;
  filters `patient`, `invoice`, `method`, `status`, `cashier`.
  `POST /api/payments/`: record a desk payment (billing, admin; receptionist: cash/card/bank-transfer):
  {invoice | patient, method, amount: "12.50", note?, idempotency_key?}; the key may come in the
  `Idempotency-Key` header instead (one of the two is required). → 201 with the payment, or 200 with the
  first payment when the key was seen with the same body; 409 when the key was used for another payment.
- `GET /api/payments/{id}/`; `GET /api/payments/{id}/receipt/` (application/pdf, audited export; 409 when
  not completed).
- `POST /api/payments/online/`: a patient starts paying their own invoice: {invoice} → 201
  {payment, redirect_url}; 409 when online payment is off (`PAYMENT_GATEWAY="none"`) or nothing is owed.
- `POST /api/payments/gateway/{name}/callback/`: the gateway's webhook, no login: {reference, status,
  signature?} with the signature in the `X-Gateway-Signature` header or the body; 403 bad signature, 404
  unknown reference; replays answer 200 and change nothing.
- `GET /api/refunds/` (billing, admin; a patient their own); `POST /api/refunds/` (billing, admin):
  {payment, amount, reason} → 201; `POST /api/refunds/{id}/approve/` {note?} and `/reject/` {note} (admin,
  not the requester: 403).
- `GET /api/reports/billing/cash-up/?date=YYYY-MM-DD&cashier=` and `GET /api/reports/billing/ageing/?as_of=`:
  JSON, or CSV with `Accept: text/csv` or `?format=csv` (see `hms.billing.reports`).

Errors: 400 field errors, 403 a role that never does this act, 404 missing or not visible (another patient's
payment), 409 a state clash. Every PHI read writes an AuditEvent.
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.urls import NoReverseMatch, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.patients.selectors import patient_get

from . import payments, reports, selectors
from .models import Payment, PaymentMethod, PaymentStatus, Refund, RefundStatus
from .receipt_pdf import receipt_pdf_export

MAX_ID = 2**63 - 1
PAYMENT_READ = (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST, Role.PATIENT)
PAYMENT_WRITE = (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST)
REFUND_READ = (Role.ADMIN, Role.BILLING, Role.PATIENT)
REFUND_WRITE = (Role.ADMIN, Role.BILLING)
ERRORS = {400: None, 403: None, 404: None, 409: None}

# ---------------------------------------------------------------- output serializers


class PaymentUserRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()

    def get_name(self, obj) -> str:
        return obj.get_full_name() or obj.username


class PaymentPatientRef(serializers.Serializer):
    id = serializers.IntegerField()
    medical_record_number = serializers.CharField(source="mrn")
    name = serializers.SerializerMethodField()

    def get_name(self, obj) -> str:
        return f"{obj.given_names} {obj.family_name}".strip()


class PaymentSerializer(serializers.ModelSerializer):
    """A payment (FHIR PaymentReconciliation detail). Amounts are decimal strings in `currency`."""

    patient = PaymentPatientRef(read_only=True)
    invoice = serializers.IntegerField(source="invoice_id", read_only=True, allow_null=True)
    invoice_number = serializers.SerializerMethodField()
    cashier = PaymentUserRef(read_only=True)
    method = serializers.CharField(read_only=True, help_text=f"One of: {', '.join(PaymentMethod.values)}.")
    status = serializers.CharField(read_only=True, help_text=f"One of: {', '.join(PaymentStatus.values)}.")

    class Meta:
        model = Payment
        fields = [
            "id",
            "patient",
            "invoice",
            "invoice_number",
            "method",
            "amount",
            "currency",
            "status",
            "received_at",
            "cashier",
            "gateway",
            "receipt_number",
            "note",
        ]
        read_only_fields = fields

    def get_invoice_number(self, obj) -> str | None:
        return obj.invoice.number if obj.invoice_id else None


class RefundSerializer(serializers.ModelSerializer):
    """A refund of a payment; `status` requested | approved | rejected."""

    payment = serializers.IntegerField(source="payment_id", read_only=True)
    patient = serializers.IntegerField(source="payment.patient_id", read_only=True)
    requested_by = PaymentUserRef(read_only=True)
    decided_by = PaymentUserRef(read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True, help_text=f"One of: {', '.join(RefundStatus.values)}.")

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "patient",
            "amount",
            "reason",
            "status",
            "requested_by",
            "created_at",
            "decided_by",
            "decided_at",
            "decision_note",
        ]
        read_only_fields = fields


# ---------------------------------------------------------------- input serializers

AMOUNT = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal("0.01"), "coerce_to_string": True}


class PaymentListQuery(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    invoice = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    cashier = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    method = serializers.ChoiceField(choices=PaymentMethod.choices, required=False)
    status = serializers.ChoiceField(choices=PaymentStatus.choices, required=False)


class PaymentCreateInput(StrictSerializer):
    invoice = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    patient = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="For a deposit.",
    )
    method = serializers.ChoiceField(
        choices=[c for c in PaymentMethod.choices if c[0] != PaymentMethod.ONLINE],
        help_text="cash | card | bank-transfer | insurance | credit.",
    )
    amount = serializers.DecimalField(**AMOUNT, help_text="> 0, at most 2 decimals, in the invoice currency.")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    idempotency_key = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Or the `Idempotency-Key` header."
    )

    def validate(self, attrs):
        if not attrs.get("invoice") and not attrs.get("patient"):
            raise serializers.ValidationError(
                {"invoice": "Name the invoice (or the patient, for a deposit)."}
            )
        return attrs


class OnlineInput(StrictSerializer):
    invoice = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class CallbackInput(StrictSerializer):
    reference = serializers.CharField(max_length=100)
    status = serializers.ChoiceField(choices=["succeeded", "failed"])
    signature = serializers.CharField(max_length=200, required=False, allow_blank=True)


class RefundListQuery(StrictSerializer):
    payment = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    status = serializers.ChoiceField(choices=RefundStatus.choices, required=False)


class RefundCreateInput(StrictSerializer):
    payment = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    amount = serializers.DecimalField(**AMOUNT)
    reason = serializers.CharField(max_length=500)


class DecisionInput(StrictSerializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CashUpQuery(StrictSerializer):
    date = serializers.DateField(required=False, help_text="Hospital-zone day; default today.")
    cashier = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class AgeingQuery(StrictSerializer):
    as_of = serializers.DateField(required=False, help_text="Default today (hospital zone).")


# ---------------------------------------------------------------- views


class CSVRenderer(BaseRenderer):
    """text/csv; the report views build the CSV text themselves."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, (str, bytes)) else str(data)


def _payment_response(payment, code=status.HTTP_200_OK) -> Response:
    return Response(PaymentSerializer(payment).data, status=code)


class PaymentListCreateApi(GenericAPIView):
    """GET: scoped payments. POST: record a desk payment (idempotent)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": PAYMENT_READ, "POST": PAYMENT_WRITE}
    serializer_class = PaymentSerializer
    pagination_class = CappedCountPagination
    queryset = Payment.objects.none()

    @extend_schema(
        operation_id="payments_list",
        parameters=[
            OpenApiParameter("patient", int),
            OpenApiParameter("invoice", int),
            OpenApiParameter("cashier", int),
            OpenApiParameter("method", str, enum=PaymentMethod.values),
            OpenApiParameter("status", str, enum=PaymentStatus.values),
        ],
        responses=PaymentSerializer(many=True),
    )
    def get(self, request):
        query = PaymentListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        qs = payments.payments_visible(request.user)
        for name, value in query.validated_data.items():
            qs = qs.filter(**{f"{name}_id" if name in ("patient", "invoice", "cashier") else name: value})
        page = paginate_audited(self, request, qs, object_type="billing.Payment")
        return self.get_paginated_response(PaymentSerializer(page, many=True).data)

    @extend_schema(
        operation_id="payments_create",
        request=PaymentCreateInput,
        parameters=[OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER)],
        responses={
            201: PaymentSerializer,
            200: PaymentSerializer,
            400: None,
            403: None,
            404: None,
            409: None,
        },
    )
    def post(self, request):
        data = PaymentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        key = request.headers.get("Idempotency-Key") or params.get("idempotency_key") or ""
        if not key.strip():
            raise ValidationError({"idempotency_key": "Send an Idempotency-Key header or body field."})
        invoice = patient = None
        if params.get("invoice"):
            invoice = selectors.invoice_get(request.user, params["invoice"])
        else:
            patient = patient_get(request.user, params["patient"])
        payment, created = payments.payment_record(
            invoice=invoice,
            patient=patient,
            method=params["method"],
            amount=params["amount"],
            idempotency_key=key,
            note=params["note"],
            by=request.user,
            request=request,
        )
        return _payment_response(
            payments.payment_get(user=request.user, payment_id=payment.pk),
            status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class PaymentDetailApi(GenericAPIView):
    """GET: one payment."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": PAYMENT_READ}
    serializer_class = PaymentSerializer
    queryset = Payment.objects.none()

    @extend_schema(operation_id="payments_retrieve", responses={200: PaymentSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            payment = payments.payment_get(user=request.user, payment_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=payment.patient, obj=payment)
        return _payment_response(payment)


class PaymentReceiptApi(GenericAPIView):
    """GET: the PDF receipt of a completed payment; audited as an export."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": PAYMENT_READ}
    queryset = Payment.objects.none()

    @extend_schema(
        operation_id="payments_receipt",
        responses={
            (200, "application/pdf"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The PDF."),
            404: None,
            409: None,
        },
    )
    def get(self, request, pk: int):
        payment, data = receipt_pdf_export(user=request.user, payment_id=pk, request=request)
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="receipt-{payment.receipt_number}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response


def online_return_url(request) -> str:
    """Where the gateway sends the browser back: the portal's return page (it confirms the payment)."""
    try:
        return request.build_absolute_uri(reverse("portal:pay_online_return"))
    except NoReverseMatch:  # pragma: no cover - portal not installed
        return request.build_absolute_uri("/")


OnlineOutput = inline_serializer(
    "OnlinePaymentStart", {"payment": PaymentSerializer(), "redirect_url": serializers.URLField()}
)


class PaymentOnlineApi(GenericAPIView):
    """POST: a patient starts paying their own invoice online; the payment stays pending until the gateway
    confirms."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.PATIENT,)}
    serializer_class = PaymentSerializer
    queryset = Payment.objects.none()

    @extend_schema(
        operation_id="payments_online_create",
        request=OnlineInput,
        responses={201: OnlineOutput, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request):
        data = OnlineInput(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = selectors.invoice_get(request.user, data.validated_data["invoice"])
        payment, url = payments.payment_online_start(
            invoice=invoice, by=request.user, return_url=online_return_url(request), request=request
        )
        return Response(
            {"payment": PaymentSerializer(payment).data, "redirect_url": url}, status=status.HTTP_201_CREATED
        )


class GatewayCallbackApi(GenericAPIView):
    """POST: the payment gateway's signed callback (no login: the signature authenticates it)."""

    permission_classes = (AllowAny,)
    authentication_classes = ()
    queryset = Payment.objects.none()

    @extend_schema(
        operation_id="payments_gateway_callback",
        request=CallbackInput,
        parameters=[OpenApiParameter("X-Gateway-Signature", str, location=OpenApiParameter.HEADER)],
        responses={
            200: inline_serializer("GatewayCallbackResult", {"status": serializers.CharField()}),
            400: None,
            403: None,
            404: None,
        },
    )
    def post(self, request, name: str):
        data = CallbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        signature = request.headers.get("X-Gateway-Signature") or params.get("signature") or ""
        payment = payments.payment_gateway_confirm(
            gateway_name=name, payload=params, signature=signature, request=request
        )
        return Response({"status": payment.status})


class RefundListCreateApi(GenericAPIView):
    """GET: scoped refunds. POST: request a refund (billing, admin)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": REFUND_READ, "POST": REFUND_WRITE}
    serializer_class = RefundSerializer
    pagination_class = CappedCountPagination
    queryset = Refund.objects.none()

    @extend_schema(
        operation_id="refunds_list",
        parameters=[
            OpenApiParameter("payment", int),
            OpenApiParameter("status", str, enum=RefundStatus.values),
        ],
        responses=RefundSerializer(many=True),
    )
    def get(self, request):
        query = RefundListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        qs = payments.refunds_visible(request.user)
        params = query.validated_data
        if "payment" in params:
            qs = qs.filter(payment_id=params["payment"])
        if "status" in params:
            qs = qs.filter(status=params["status"])
        page = paginate_audited(
            self, request, qs, object_type="billing.Refund", patient_id_of=lambda r: r.payment.patient_id
        )
        return self.get_paginated_response(RefundSerializer(page, many=True).data)

    @extend_schema(
        operation_id="refunds_create",
        request=RefundCreateInput,
        responses={201: RefundSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request):
        data = RefundCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        payment = payments.payment_get(user=request.user, payment_id=params["payment"])
        refund = payments.refund_request(
            payment=payment,
            amount=params["amount"],
            reason=params["reason"],
            by=request.user,
            request=request,
        )
        return Response(RefundSerializer(refund).data, status=status.HTTP_201_CREATED)


class _RefundDecisionApi(GenericAPIView):
    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.ADMIN,)}
    serializer_class = RefundSerializer
    queryset = Refund.objects.none()
    approve = True

    def post(self, request, pk: int):
        refund = payments.refund_get(user=request.user, refund_id=pk)
        data = DecisionInput(data=request.data)
        data.is_valid(raise_exception=True)
        refund = payments.refund_decide(
            refund=refund,
            approve=self.approve,
            note=data.validated_data["note"],
            by=request.user,
            request=request,
        )
        return Response(RefundSerializer(refund).data)


DECISION_RESPONSES = {200: RefundSerializer, 400: None, 403: None, 404: None, 409: None}


class RefundApproveApi(_RefundDecisionApi):
    """POST: approve (pay out) a requested refund: an admin other than the requester."""

    approve = True

    @extend_schema(operation_id="refunds_approve", request=DecisionInput, responses=DECISION_RESPONSES)
    def post(self, request, pk: int):
        return super().post(request, pk)


class RefundRejectApi(_RefundDecisionApi):
    """POST: reject a requested refund with a note: an admin other than the requester."""

    approve = False

    @extend_schema(operation_id="refunds_reject", request=DecisionInput, responses=DECISION_RESPONSES)
    def post(self, request, pk: int):
        return super().post(request, pk)


def _csv(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


REPORT_JSON = OpenApiResponse(response=OpenApiTypes.OBJECT, description="The report (JSON).")
REPORT_CSV = OpenApiResponse(response=OpenApiTypes.STR, description="The report (CSV).")
REPORT_RESPONSES = {
    (200, "application/json"): REPORT_JSON,
    (200, "text/csv"): REPORT_CSV,
    400: None,
    403: None,
}


class CashUpApi(GenericAPIView):
    """GET: the daily cash-up (billing, admin; a receptionist their own payments only)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST)}
    renderer_classes = (JSONRenderer, CSVRenderer)
    queryset = Payment.objects.none()

    @extend_schema(
        operation_id="reports_billing_cash_up",
        parameters=[OpenApiParameter("date", OpenApiTypes.DATE), OpenApiParameter("cashier", int)],
        responses={
            (200, "application/json"): REPORT_JSON,
            (200, "text/csv"): REPORT_CSV,
            400: None,
            403: None,
        },
    )
    def get(self, request):
        params = dict(request.query_params.items())
        params.pop("format", None)
        query = CashUpQuery(data=params)
        query.is_valid(raise_exception=True)
        day = query.validated_data.get("date") or reports.hospital_today()
        report = reports.cash_up(
            user=request.user, day=day, cashier_id=query.validated_data.get("cashier"), request=request
        )
        if request.accepted_renderer.format == "csv":
            return _csv(reports.cash_up_csv(report), f"cash-up-{day.isoformat()}.csv")
        return Response(report)


class AgeingApi(GenericAPIView):
    """GET: accounts-receivable ageing (billing, admin)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (Role.ADMIN, Role.BILLING)}
    renderer_classes = (JSONRenderer, CSVRenderer)
    queryset = Payment.objects.none()

    @extend_schema(
        operation_id="reports_billing_ageing",
        parameters=[OpenApiParameter("as_of", OpenApiTypes.DATE)],
        responses={
            (200, "application/json"): REPORT_JSON,
            (200, "text/csv"): REPORT_CSV,
            400: None,
            403: None,
        },
    )
    def get(self, request):
        params = dict(request.query_params.items())
        params.pop("format", None)
        query = AgeingQuery(data=params)
        query.is_valid(raise_exception=True)
        report = reports.ageing(user=request.user, as_of=query.validated_data.get("as_of"), request=request)
        if request.accepted_renderer.format == "csv":
            return _csv(reports.ageing_csv(report), f"ageing-{report['as_of']}.csv")
        return Response(report)
