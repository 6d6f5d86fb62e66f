"""REST API of payers, coverage and insurance claims (issue 7).

- `GET /api/payers/` (admin, billing, receptionist, patient): payers, not PHI. `POST` (admin, billing):
  {name, identifier?, payer_class?} → 201.
- `GET /api/coverages/?patient=` scoped (`hms.billing.coverage.coverages_visible`: staff all, a patient own);
  `POST` (admin, billing, receptionist): {patient, payer, member_id, valid_from, valid_to?, plan_name?,
  order?, copay_amount?, coinsurance_rate?} → 201.
- `GET /api/coverages/{id}/`; `PATCH` (same staff): any of the fields above and `status` (active|cancelled).
- `GET /api/insurance/claims/?status=&patient=` scoped (`hms.billing.selectors.claims_visible`: admin and
  billing all, a patient own); `POST` (admin, billing): {invoice, coverage?} → 201 (a claim "created").
  The same list + create is served at the seed path `/patients/api/insurance/claim/`.
- `GET /api/insurance/claims/{id}/`: the claim with its events (time, from → to, who, note).
- `POST /api/insurance/claims/{id}/validate/` → 200, or 400 listing every missing field.
- `POST .../submit/` → 200 (status submitted; the background job `billing.claim_process` sends it).
- `POST .../cancel/` {reason} → 200.
- `GET .../fhir/` → the FHIR R4 Claim (application/fhir+json), audited as an export.
- `POST .../response/` (admin, billing) {a FHIR ClaimResponse} → 200, the answer applied.

Errors: 400 field errors, 403 a role that never does this, 404 missing or not visible, 409 an illegal
transition (body: detail, status, allowed) or a second open claim for one invoice. Reads and writes of PHI
write an AuditEvent in the same transaction.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import JsonResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.api_schema import NoBody
from hms.patients.selectors import patient_get

from . import claims, coverage
from .fhir_claims import claim_response_import, claim_to_fhir
from .models import Claim, ClaimStatus, Coverage, Payer, PayerClass

MAX_ID = 2**63 - 1
STAFF = (Role.ADMIN, Role.BILLING)
COVERAGE_STAFF = (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST)
READERS = (*COVERAGE_STAFF, Role.PATIENT)
CLAIM_READERS = (*STAFF, Role.PATIENT)

# ---------------------------------------------------------------- output


class PayerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Payer
        fields = ["id", "name", "identifier", "payer_class", "active"]
        read_only_fields = fields


class BillingPatientRef(serializers.Serializer):
    """The patient as billing sees them: demographics only."""

    id = serializers.IntegerField()
    medical_record_number = serializers.CharField(source="mrn")
    name = serializers.SerializerMethodField()

    class Meta:
        ref_name = "ClaimPatientRef"

    def get_name(self, obj) -> str:
        return f"{obj.given_names} {obj.family_name}".strip()


class CoverageSerializer(serializers.ModelSerializer):
    """A patient's insurance (FHIR R4 Coverage). Amounts are decimal strings in the invoice currency."""

    patient = BillingPatientRef(read_only=True)
    payer = PayerSerializer(read_only=True)

    class Meta:
        model = Coverage
        fields = ["id", "patient", "payer", "plan_name", "member_id", "valid_from", "valid_to", "order",
                  "copay_amount", "coinsurance_rate", "status"]  # fmt: skip
        read_only_fields = fields


class ClaimEventSerializer(serializers.Serializer):
    from_status = serializers.CharField()
    to_status = serializers.CharField()
    at = serializers.DateTimeField()
    by = serializers.SerializerMethodField(help_text="Who; null for the background job.")
    note = serializers.CharField()

    def get_by(self, obj) -> str | None:
        return (obj.by.get_full_name() or obj.by.username) if obj.by_id else None


class ClaimSerializer(serializers.ModelSerializer):
    """An insurance claim (FHIR R4 Claim) with its transitions."""

    patient = BillingPatientRef(read_only=True)
    invoice = serializers.SerializerMethodField()
    coverage = CoverageSerializer(read_only=True, allow_null=True)
    status = serializers.CharField(read_only=True, help_text=f"One of: {', '.join(ClaimStatus.values)}.")
    events = ClaimEventSerializer(many=True, read_only=True, source="events.all")

    class Meta:
        model = Claim
        fields = ["id", "patient", "invoice", "coverage", "status", "service_date", "currency",
                  "claimed_amount", "approved_amount", "paid_amount", "denial_reason", "external_id",
                  "historical", "created_at", "events"]  # fmt: skip
        read_only_fields = fields

    def get_invoice(self, obj) -> dict | None:
        if not obj.invoice_id:
            return None
        return {"id": obj.invoice_id, "number": obj.invoice.number}


# ---------------------------------------------------------------- input


class PayerInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    identifier = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    payer_class = serializers.ChoiceField(choices=PayerClass.choices, default=PayerClass.INSURANCE)


class CoverageInput(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    payer = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    member_id = serializers.CharField(max_length=60)
    plan_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    valid_from = serializers.DateField()
    valid_to = serializers.DateField(required=False, allow_null=True, default=None)
    order = serializers.IntegerField(min_value=1, max_value=9, default=1)
    copay_amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, default=0)
    coinsurance_rate = serializers.DecimalField(
        max_digits=7, decimal_places=4, min_value=0, max_value=1, default=0
    )


class CoverageUpdateInput(StrictSerializer):
    payer = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    member_id = serializers.CharField(max_length=60, required=False)
    plan_name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    valid_from = serializers.DateField(required=False)
    valid_to = serializers.DateField(required=False, allow_null=True)
    order = serializers.IntegerField(min_value=1, max_value=9, required=False)
    copay_amount = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=0, required=False)
    coinsurance_rate = serializers.DecimalField(
        max_digits=7, decimal_places=4, min_value=0, max_value=1, required=False
    )
    status = serializers.ChoiceField(
        choices=[("active", "active"), ("cancelled", "cancelled")], required=False
    )


class ClaimCreateInput(StrictSerializer):
    invoice = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    coverage = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)


class ClaimListQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=ClaimStatus.choices, required=False)
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class CoverageListQuery(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class ReasonInput(StrictSerializer):
    reason = serializers.CharField(max_length=500)

    class Meta:
        ref_name = "ClaimReasonInput"


def _payer(pk) -> Payer:
    payer = Payer.objects.filter(pk=pk, active=True).first()
    if payer is None:
        raise ValidationError({"payer": "No active payer with this id."})
    return payer


# ---------------------------------------------------------------- payers and coverage


class PayerListCreateApi(GenericAPIView):
    """GET: payers. POST: a new payer (admin, billing)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READERS, "POST": STAFF}
    serializer_class = PayerSerializer
    queryset = Payer.objects.none()

    @extend_schema(operation_id="payers_list", responses=PayerSerializer(many=True))
    def get(self, request):
        return Response(PayerSerializer(coverage.payers_visible(request.user), many=True).data)

    @extend_schema(
        operation_id="payers_create", request=PayerInput, responses={201: PayerSerializer, 400: None}
    )
    def post(self, request):
        data = PayerInput(data=request.data)
        data.is_valid(raise_exception=True)
        payer = coverage.payer_create(**data.validated_data, by=request.user, request=request)
        return Response(PayerSerializer(payer).data, status=status.HTTP_201_CREATED)


class CoverageListCreateApi(GenericAPIView):
    """GET: scoped coverages. POST: record a patient's insurance (admin, billing, receptionist)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READERS, "POST": COVERAGE_STAFF}
    serializer_class = CoverageSerializer
    pagination_class = CappedCountPagination
    queryset = Coverage.objects.none()

    @extend_schema(
        operation_id="coverages_list",
        parameters=[OpenApiParameter("patient", int, description="Patient id.")],
        responses=CoverageSerializer(many=True),
    )
    def get(self, request):
        query = CoverageListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        qs = coverage.coverages_visible(request.user)
        if "patient" in query.validated_data:
            qs = qs.filter(patient_id=query.validated_data["patient"])
        page = paginate_audited(self, request, qs, object_type="billing.Coverage")
        return self.get_paginated_response(CoverageSerializer(page, many=True).data)

    @extend_schema(
        operation_id="coverages_create",
        request=CoverageInput,
        responses={201: CoverageSerializer, 400: None, 403: None, 404: None},
    )
    def post(self, request):
        data = CoverageInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        patient = patient_get(request.user, params.pop("patient"))
        params["payer"] = _payer(params["payer"])
        cover = coverage.coverage_record(patient=patient, **params, by=request.user, request=request)
        return Response(CoverageSerializer(cover).data, status=status.HTTP_201_CREATED)


class CoverageDetailApi(GenericAPIView):
    """GET: one coverage. PATCH: change it (e.g. end it) (admin, billing, receptionist)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READERS, "PATCH": COVERAGE_STAFF}
    serializer_class = CoverageSerializer
    queryset = Coverage.objects.none()

    @extend_schema(operation_id="coverages_retrieve", responses={200: CoverageSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            cover = coverage.coverage_get(user=request.user, coverage_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=cover.patient, obj=cover)
        return Response(CoverageSerializer(cover).data)

    @extend_schema(
        operation_id="coverages_partial_update",
        request=CoverageUpdateInput,
        responses={200: CoverageSerializer, 400: None, 403: None, 404: None},
    )
    def patch(self, request, pk: int):
        cover = coverage.coverage_get(user=request.user, coverage_id=pk)
        data = CoverageUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        if "payer" in params:
            params["payer"] = _payer(params["payer"])
        cover = coverage.coverage_update(coverage=cover, data=params, by=request.user, request=request)
        return Response(CoverageSerializer(cover).data)


# ---------------------------------------------------------------- claims

CLAIM_RESPONSES = {200: ClaimSerializer, 400: None, 403: None, 404: None, 409: None}


def _claim_response(request, pk, *, code=status.HTTP_200_OK) -> Response:
    claim = claims.claim_get(user=request.user, claim_id=pk)
    return Response(ClaimSerializer(claim).data, status=code)


CLAIM_LIST_SCHEMA = {
    "parameters": [
        OpenApiParameter("status", str, enum=ClaimStatus.values),
        OpenApiParameter("patient", int, description="Patient id."),
    ],
    "responses": ClaimSerializer(many=True),
}
CLAIM_CREATE_SCHEMA = {
    "request": ClaimCreateInput,
    "responses": {201: ClaimSerializer, 400: None, 403: None, 409: None},
}


class ClaimListCreateApi(GenericAPIView):
    """GET: scoped claims. POST {invoice, coverage?}: claim an issued invoice (admin, billing)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": CLAIM_READERS, "POST": STAFF}
    serializer_class = ClaimSerializer
    pagination_class = CappedCountPagination
    queryset = Claim.objects.none()

    @extend_schema(operation_id="insurance_claims_list", **CLAIM_LIST_SCHEMA)
    def get(self, request):
        query = ClaimListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = claims.claims_visible(request.user).prefetch_related("events__by")
        if "status" in params:
            qs = qs.filter(status=params["status"])
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        page = paginate_audited(self, request, qs, object_type="billing.Claim")
        return self.get_paginated_response(ClaimSerializer(page, many=True).data)

    @extend_schema(operation_id="insurance_claims_create", **CLAIM_CREATE_SCHEMA)
    def post(self, request):
        data = ClaimCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        from .selectors import invoices_visible

        invoice = invoices_visible(request.user).filter(pk=params["invoice"]).first()
        if invoice is None:
            raise ValidationError({"invoice": "No such invoice."})
        cover = None
        if params.get("coverage"):
            cover = coverage.coverages_visible(request.user).filter(pk=params["coverage"]).first()
            if cover is None:
                raise ValidationError({"coverage": "No such coverage."})
        claim = claims.claim_create(invoice=invoice, coverage=cover, by=request.user, request=request)
        return _claim_response(request, claim.pk, code=status.HTTP_201_CREATED)


class ClaimListCreateApiV1(ClaimListCreateApi):
    """The same list + create at the seed path `/patients/api/insurance/claim/`."""

    @extend_schema(operation_id="seed_insurance_claim_list", **CLAIM_LIST_SCHEMA)
    def get(self, request):
        return super().get(request)

    @extend_schema(operation_id="seed_insurance_claim_create", **CLAIM_CREATE_SCHEMA)
    def post(self, request):
        return super().post(request)


class ClaimDetailApi(GenericAPIView):
    """GET: one claim with its events."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": CLAIM_READERS}
    serializer_class = ClaimSerializer
    queryset = Claim.objects.none()

    @extend_schema(operation_id="insurance_claims_retrieve", responses={200: ClaimSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            claim = claims.claim_get(user=request.user, claim_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=claim.patient, obj=claim)
        return Response(ClaimSerializer(claim).data)


class _ClaimActionApi(GenericAPIView):
    permission_classes = (HasRole,)
    allowed_roles = {"POST": STAFF}
    serializer_class = ClaimSerializer
    queryset = Claim.objects.none()


class ClaimValidateApi(_ClaimActionApi):
    """POST: created → validated, or 400 listing what is missing."""

    @extend_schema(operation_id="insurance_claims_validate", request=NoBody, responses=CLAIM_RESPONSES)
    def post(self, request, pk: int):
        claim = claims.claim_get(user=request.user, claim_id=pk)
        claims.claim_validate(claim=claim, by=request.user, request=request)
        return _claim_response(request, pk)


class ClaimSubmitApi(_ClaimActionApi):
    """POST: validated → submitted; the background job then sends it to the payer."""

    @extend_schema(operation_id="insurance_claims_submit", request=NoBody, responses=CLAIM_RESPONSES)
    def post(self, request, pk: int):
        claim = claims.claim_get(user=request.user, claim_id=pk)
        claims.claim_submit(claim=claim, by=request.user, request=request)
        return _claim_response(request, pk)


class ClaimCancelApi(_ClaimActionApi):
    """POST {reason}: cancel a claim not yet submitted."""

    @extend_schema(operation_id="insurance_claims_cancel", request=ReasonInput, responses=CLAIM_RESPONSES)
    def post(self, request, pk: int):
        claim = claims.claim_get(user=request.user, claim_id=pk)
        data = ReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        claims.claim_cancel(
            claim=claim, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return _claim_response(request, pk)


class ClaimResponseApi(_ClaimActionApi):
    """POST a FHIR R4 ClaimResponse: the payer's answer to an in-review claim."""

    @extend_schema(
        operation_id="insurance_claims_response",
        request={"application/json": {"type": "object", "description": "A FHIR R4 ClaimResponse."}},
        responses=CLAIM_RESPONSES,
    )
    def post(self, request, pk: int):
        claim = claims.claim_get(user=request.user, claim_id=pk)
        claim_response_import(claim, request.data, by=request.user, request=request)
        return _claim_response(request, pk)


class ClaimFhirApi(GenericAPIView):
    """GET: the claim as a FHIR R4 Claim resource (audited as an export)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": CLAIM_READERS}
    queryset = Claim.objects.none()

    @extend_schema(
        operation_id="insurance_claims_fhir",
        responses={(200, "application/fhir+json"): {"type": "object"}, 404: None},
    )
    def get(self, request, pk: int):
        with transaction.atomic():
            claim = claims.claim_get(user=request.user, claim_id=pk)
            resource = claim_to_fhir(claim)
            audit_record(action=AuditAction.EXPORT, request=request, patient=claim.patient, obj=claim)
        response = JsonResponse(resource, content_type="application/fhir+json")
        if request.query_params.get("download"):
            response["Content-Disposition"] = f'attachment; filename="claim-{claim.pk}.fhir.json"'
        return response
