"""REST API of the price list, charges and invoices.

- `GET /api/price-list/`: price-list entries valid on `on` (date, default today), filters `q` (code or words
  of the display), `category`, `payer_class`; billing, admin, receptionist. Not PHI.
- `GET /api/charges/`: charges (billing, admin), newest first, paginated; filters `patient`, `status`,
  `category`. `POST /api/charges/`: a manual charge {patient, reason, code_system?+code? (priced from the
  list) or display + unit_price, quantity?, tax_rate?, category?, occurred_at?} → 201.
- `POST /api/charges/{id}/cancel/`: {reason} → 200; 409 when invoiced or already cancelled.
- `GET /api/charges/{id}/fhir/`: the FHIR R4 ChargeItem.
- `GET /api/invoices/`: invoices and credit notes, scoped (`hms.billing.selectors.invoices_visible`);
  filters `patient`, `status`, `kind`. `POST /api/invoices/`: a draft {patient, charges?: [ids] (default:
  every billable charge), coverage?: id (the insurer billed; default self-pay), note?} → 201.
- `GET /api/invoices/{id}/` (with lines); `PATCH` a draft: {charges?, coverage? (null = self-pay), note?,
  due_date?}.
- `POST /api/invoices/{id}/issue/` → 200 (number assigned); `POST /api/invoices/{id}/credit-note/`
  {reason} → 201 with the credit note; `GET /api/invoices/{id}/pdf/` (application/pdf, audited export);
  `GET /api/invoices/{id}/fhir/` (FHIR R4 Invoice).
- `GET /api/bills/` (and the seed path `/patients/api/bills/`): the signed-in patient's own issued invoices.

Errors: 400 field errors, 403 a role that never does this act, 404 missing or not visible (another
patient's invoice), 409 a state clash (issue an issued invoice, cancel a billed charge). Every PHI read
writes an AuditEvent ("search" for lists, "read" for one, "export" for PDF/FHIR).
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.api_schema import NoBody
from hms.patients.selectors import patient_get

from . import charges, invoices, selectors
from .fhir import charge_item_to_fhir, invoice_to_fhir
from .models import (
    ChargeCategory,
    ChargeItem,
    ChargeStatus,
    Coverage,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PayerClass,
    PriceListEntry,
)
from .money import invoice_balance
from .pdf import invoice_pdf_export

MAX_ID = 2**63 - 1
CLERKS = (Role.ADMIN, Role.BILLING)
INVOICE_READ = (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST, Role.PATIENT)
PRICE_READ = (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST)
ERRORS = {400: None, 403: None, 404: None, 409: None}
MONEY_OUT = {"max_digits": 14, "decimal_places": 2, "read_only": True}

# ---------------------------------------------------------------- output serializers


class BillingPatientRef(serializers.Serializer):
    """The patient as billing sees them: demographics only."""

    id = serializers.IntegerField()
    medical_record_number = serializers.CharField(source="mrn")
    name = serializers.SerializerMethodField()
    date_of_birth = serializers.DateField()

    def get_name(self, obj) -> str:
        return f"{obj.given_names} {obj.family_name}".strip()


class PriceEntrySerializer(serializers.ModelSerializer):
    category = serializers.CharField(help_text=f"One of: {', '.join(ChargeCategory.values)}.")
    payer_class = serializers.CharField(help_text=f"One of: {', '.join(PayerClass.values)}.")

    class Meta:
        model = PriceListEntry
        fields = [
            "id",
            "code_system",
            "code",
            "display",
            "category",
            "payer_class",
            "unit_price",
            "currency",
            "tax_rate",
            "valid_from",
            "valid_to",
        ]
        read_only_fields = fields


class ChargeSerializer(serializers.ModelSerializer):
    """A charge (FHIR ChargeItem). Amounts are decimal strings in `currency`."""

    patient = BillingPatientRef(read_only=True)
    encounter = serializers.IntegerField(source="encounter_id", read_only=True, allow_null=True)
    category = serializers.CharField(help_text=f"One of: {', '.join(ChargeCategory.values)}.")
    status = serializers.CharField(help_text=f"One of: {', '.join(ChargeStatus.values)}.")

    class Meta:
        model = ChargeItem
        fields = [
            "id",
            "patient",
            "encounter",
            "category",
            "source_type",
            "source_key",
            "code_system",
            "code",
            "display",
            "quantity",
            "unit_price",
            "currency",
            "tax_rate",
            "net_amount",
            "tax_amount",
            "occurred_at",
            "status",
            "reason",
        ]
        read_only_fields = fields


class InvoiceLineSerializer(serializers.ModelSerializer):
    charge = serializers.IntegerField(source="charge_id", read_only=True, allow_null=True)

    class Meta:
        model = InvoiceLine
        fields = [
            "id",
            "charge",
            "code",
            "description",
            "quantity",
            "unit_price",
            "tax_rate",
            "net_amount",
            "tax_amount",
            "total",
            "insurer_share",
            "patient_share",
        ]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    """An invoice or credit note (FHIR Invoice) with its lines; `balance` = patient share - paid."""

    patient = BillingPatientRef(read_only=True)
    status = serializers.CharField(help_text=f"One of: {', '.join(InvoiceStatus.values)}.")
    payer_class = serializers.CharField(help_text=f"One of: {', '.join(PayerClass.values)}.")
    kind = serializers.CharField(help_text="invoice | credit-note")
    coverage = serializers.IntegerField(source="coverage_id", read_only=True, allow_null=True)
    credit_note_for = serializers.IntegerField(source="credit_note_for_id", read_only=True, allow_null=True)
    balance = serializers.SerializerMethodField()
    lines = InvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "kind",
            "status",
            "patient",
            "payer_class",
            "coverage",
            "credit_note_for",
            "currency",
            "net_total",
            "tax_total",
            "total",
            "insurer_share",
            "patient_share",
            "amount_paid",
            "balance",
            "issued_at",
            "due_date",
            "note",
            "lines",
        ]
        read_only_fields = fields

    def get_balance(self, obj) -> str:
        return f"{invoice_balance(obj):.2f}"


# ---------------------------------------------------------------- input serializers


class PriceQuery(StrictSerializer):
    q = serializers.CharField(max_length=100, required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=ChargeCategory.choices, required=False)
    payer_class = serializers.ChoiceField(choices=PayerClass.choices, required=False)
    on = serializers.DateField(required=False)


class ChargeQuery(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    status = serializers.ChoiceField(choices=ChargeStatus.choices, required=False)
    category = serializers.ChoiceField(choices=ChargeCategory.choices, required=False)


class ChargeCreateInput(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    reason = serializers.CharField(max_length=500)
    code_system = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    code = serializers.CharField(max_length=40, required=False, allow_blank=True, default="")
    display = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    category = serializers.ChoiceField(choices=ChargeCategory.choices, default=ChargeCategory.OTHER)
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, min_value=0, default=1)
    unit_price = serializers.DecimalField(
        max_digits=16, decimal_places=4, min_value=0, required=False, help_text="Omit to use the price list."
    )
    tax_rate = serializers.DecimalField(
        max_digits=5, decimal_places=4, min_value=0, max_value=Decimal("0.9999"), required=False
    )
    occurred_at = serializers.DateTimeField(required=False)


class BillingReasonInput(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class InvoiceQuery(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    status = serializers.ChoiceField(choices=InvoiceStatus.choices, required=False)
    kind = serializers.ChoiceField(
        choices=[("invoice", "Invoice"), ("credit-note", "Credit note")], required=False
    )


class InvoiceCreateInput(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    charges = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=500
    )
    coverage = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class InvoiceUpdateInput(StrictSerializer):
    charges = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=500
    )
    coverage = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    note = serializers.CharField(max_length=500, required=False, allow_blank=True)
    due_date = serializers.DateField(required=False)


def _coverage(patient, coverage_id):
    if coverage_id is None:
        return None
    cov = Coverage.objects.select_related("payer").filter(pk=coverage_id, patient=patient).first()
    if cov is None:
        raise ValidationError({"coverage": "Not a coverage of this patient."})
    return cov


def _invoice_out(user, pk) -> dict:
    invoice = selectors.invoices_visible(user).prefetch_related("lines").get(pk=pk)
    return InvoiceSerializer(invoice).data


# ---------------------------------------------------------------- views


class PriceListApi(GenericAPIView):
    """GET: the price list valid on a date."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": PRICE_READ}
    serializer_class = PriceEntrySerializer
    pagination_class = CappedCountPagination
    queryset = PriceListEntry.objects.none()

    @extend_schema(
        operation_id="price_list",
        parameters=[
            OpenApiParameter("q", str),
            OpenApiParameter("category", str, enum=ChargeCategory.values),
            OpenApiParameter("payer_class", str, enum=PayerClass.values),
            OpenApiParameter("on", OpenApiTypes.DATE),
        ],
        responses=PriceEntrySerializer(many=True),
    )
    def get(self, request):
        query = PriceQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page = self.paginate_queryset(price_list_filter(request.user, **params))
        return self.get_paginated_response(PriceEntrySerializer(page, many=True).data)


def price_list_filter(user, *, q="", category=None, payer_class=None, on=None):
    """The price list `user` may read, valid on `on` (default today), filtered; ordered by code."""
    on = on or timezone.localdate()
    qs = (
        selectors.price_list_visible(user)
        .filter(valid_from__lte=on)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=on))
    )
    for word in (q or "").split()[:5]:
        qs = qs.filter(Q(code__istartswith=word) | Q(display__icontains=word))
    if category:
        qs = qs.filter(category=category)
    if payer_class:
        qs = qs.filter(payer_class=payer_class)
    return qs.order_by("category", "code", "payer_class")


class ChargeListCreateApi(GenericAPIView):
    """GET: charges (billing, admin). POST: a manual charge."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": CLERKS, "POST": CLERKS}
    serializer_class = ChargeSerializer
    pagination_class = CappedCountPagination
    queryset = ChargeItem.objects.none()

    @extend_schema(
        operation_id="charges_list",
        parameters=[
            OpenApiParameter("patient", int),
            OpenApiParameter("status", str, enum=ChargeStatus.values),
            OpenApiParameter("category", str, enum=ChargeCategory.values),
        ],
        responses=ChargeSerializer(many=True),
    )
    def get(self, request):
        query = ChargeQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        qs = selectors.charges_visible(request.user)
        for name, value in query.validated_data.items():
            qs = qs.filter(**{"patient_id" if name == "patient" else name: value})
        page = paginate_audited(self, request, qs, object_type="billing.ChargeItem")
        return self.get_paginated_response(ChargeSerializer(page, many=True).data)

    @extend_schema(
        operation_id="charges_create", request=ChargeCreateInput, responses={201: ChargeSerializer, **ERRORS}
    )
    def post(self, request):
        data = ChargeCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        patient = patient_get(request.user, params.pop("patient"))
        charge = charges.charge_manual_create(patient=patient, by=request.user, request=request, **params)
        return Response(ChargeSerializer(charge).data, status=status.HTTP_201_CREATED)


class ChargeCancelApi(GenericAPIView):
    """POST: cancel an uninvoiced charge, with a reason."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": CLERKS}
    serializer_class = ChargeSerializer
    queryset = ChargeItem.objects.none()

    @extend_schema(
        operation_id="charges_cancel", request=BillingReasonInput, responses={200: ChargeSerializer, **ERRORS}
    )
    def post(self, request, pk: int):
        data = BillingReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        charge = selectors.charge_get(request.user, pk)
        charge = charges.charge_cancel(
            charge=charge, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return Response(ChargeSerializer(charge).data)


class ChargeFhirApi(GenericAPIView):
    """GET: the charge as a FHIR R4 ChargeItem (audited export)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": CLERKS}
    queryset = ChargeItem.objects.none()

    @extend_schema(operation_id="charges_fhir", responses={200: OpenApiTypes.OBJECT, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            charge = selectors.charge_get(request.user, pk)
            audit_record(
                action=AuditAction.EXPORT,
                request=request,
                patient=charge.patient,
                obj=charge,
                detail={"format": "fhir"},
            )
        return Response(charge_item_to_fhir(charge))


class InvoiceListCreateApi(GenericAPIView):
    """GET: scoped invoices. POST: a draft invoice from billable charges."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": INVOICE_READ, "POST": CLERKS}
    serializer_class = InvoiceSerializer
    pagination_class = CappedCountPagination
    queryset = Invoice.objects.none()

    @extend_schema(
        operation_id="invoices_list",
        parameters=[
            OpenApiParameter("patient", int),
            OpenApiParameter("status", str, enum=InvoiceStatus.values),
            OpenApiParameter("kind", str, enum=["invoice", "credit-note"]),
        ],
        responses=InvoiceSerializer(many=True),
    )
    def get(self, request):
        query = InvoiceQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        qs = selectors.invoices_visible(request.user).prefetch_related("lines")
        for name, value in query.validated_data.items():
            qs = qs.filter(**{"patient_id" if name == "patient" else name: value})
        page = paginate_audited(self, request, qs, object_type="billing.Invoice")
        return self.get_paginated_response(InvoiceSerializer(page, many=True).data)

    @extend_schema(
        operation_id="invoices_create",
        request=InvoiceCreateInput,
        responses={201: InvoiceSerializer, **ERRORS},
    )
    def post(self, request):
        data = InvoiceCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        patient = patient_get(request.user, params["patient"])
        invoice = invoices.invoice_draft_create(
            patient=patient,
            charges=params.get("charges"),
            coverage=_coverage(patient, params.get("coverage")),
            note=params["note"],
            by=request.user,
            request=request,
        )
        return Response(_invoice_out(request.user, invoice.pk), status=status.HTTP_201_CREATED)


class InvoiceDetailApi(GenericAPIView):
    """GET: one invoice with its lines. PATCH: edit a draft."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": INVOICE_READ, "PATCH": CLERKS}
    serializer_class = InvoiceSerializer
    queryset = Invoice.objects.none()

    @extend_schema(operation_id="invoices_retrieve", responses={200: InvoiceSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            invoice = selectors.invoice_get(request.user, pk)
            audit_record(action=AuditAction.READ, request=request, patient=invoice.patient, obj=invoice)
        return Response(_invoice_out(request.user, invoice.pk))

    @extend_schema(
        operation_id="invoices_update",
        request=InvoiceUpdateInput,
        responses={200: InvoiceSerializer, **ERRORS},
    )
    def patch(self, request, pk: int):
        data = InvoiceUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        invoice = selectors.invoice_get(request.user, pk)
        if "coverage" in params:
            params["coverage"] = _coverage(invoice.patient, params["coverage"])
        invoices.invoice_draft_update(invoice=invoice, by=request.user, request=request, **params)
        return Response(_invoice_out(request.user, invoice.pk))


class InvoiceIssueApi(GenericAPIView):
    """POST: issue a draft (assigns the next number)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": CLERKS}
    serializer_class = InvoiceSerializer
    queryset = Invoice.objects.none()

    @extend_schema(
        operation_id="invoices_issue", request=NoBody, responses={200: InvoiceSerializer, **ERRORS}
    )
    def post(self, request, pk: int):
        invoice = selectors.invoice_get(request.user, pk)
        invoices.invoice_issue(invoice=invoice, by=request.user, request=request)
        return Response(_invoice_out(request.user, invoice.pk))


class InvoiceCreditNoteApi(GenericAPIView):
    """POST: cancel an issued invoice by a credit note; answers the credit note."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": CLERKS}
    serializer_class = InvoiceSerializer
    queryset = Invoice.objects.none()

    @extend_schema(
        operation_id="invoices_credit_note",
        request=BillingReasonInput,
        responses={201: InvoiceSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        data = BillingReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        invoice = selectors.invoice_get(request.user, pk)
        note = invoices.invoice_credit_note(
            invoice=invoice, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return Response(_invoice_out(request.user, note.pk), status=status.HTTP_201_CREATED)


class InvoicePdfApi(GenericAPIView):
    """GET: the invoice as PDF (audited export)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": INVOICE_READ}
    queryset = Invoice.objects.none()

    @extend_schema(
        operation_id="invoices_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The PDF."),
            404: None,
        },
    )
    def get(self, request, pk: int):
        invoice, data = invoice_pdf_export(user=request.user, invoice_id=pk, request=request)
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="invoice-{invoice.number or invoice.pk}.pdf"'
        response["Cache-Control"] = "private, no-store"
        return response


class InvoiceFhirApi(GenericAPIView):
    """GET: the invoice as a FHIR R4 Invoice (audited export)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": INVOICE_READ}
    queryset = Invoice.objects.none()

    @extend_schema(operation_id="invoices_fhir", responses={200: OpenApiTypes.OBJECT, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            invoice = selectors.invoice_get(request.user, pk)
            audit_record(
                action=AuditAction.EXPORT,
                request=request,
                patient=invoice.patient,
                obj=invoice,
                detail={"format": "fhir"},
            )
        return Response(invoice_to_fhir(invoice))


class BillListApi(GenericAPIView):
    """GET: the signed-in patient's own issued invoices and credit notes."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (Role.PATIENT,)}
    serializer_class = InvoiceSerializer
    pagination_class = CappedCountPagination
    queryset = Invoice.objects.none()

    @extend_schema(operation_id="bills_list", responses=InvoiceSerializer(many=True))
    def get(self, request):
        qs = selectors.invoices_visible(request.user).prefetch_related("lines")
        page = paginate_audited(self, request, qs, object_type="billing.Invoice")
        return self.get_paginated_response(InvoiceSerializer(page, many=True).data)


class SeedBillListApi(BillListApi):
    """The seed path `/patients/api/bills/` of the same list."""

    @extend_schema(operation_id="bills_list_seed", responses=InvoiceSerializer(many=True))
    def get(self, request):
        return super().get(request)
