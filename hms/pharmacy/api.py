"""REST API of e-prescribing (FHIR MedicationRequest) and renewal requests.

- `GET /api/prescriptions/` (also at the seed path `/medical/api/prescriptions/`): scoped
  (`hms.pharmacy.selectors`), newest first, paginated; filters `patient` (id), `status`.
  `POST`: a draft (doctor, patient in care): {patient, medication (RXCUI), encounter?, strength?,
  dose_value?, dose_unit?, route?, frequency_code?, duration_days?, quantity?, quantity_unit?, refills?,
  instructions?, indication?} → 201.
- `GET /api/prescriptions/{id}/`; `PATCH` changes a draft (409 once signed).
- `POST /api/prescriptions/{id}/sign/` {override_reason?}: decision support, then active. A
  contraindicated finding without `override_reason` → 409 {detail, findings, blocking}.
- `POST .../stop/` {reason}; `POST .../complete/`; `POST .../entered-in-error/` {reason}.
- `GET .../pdf/`: the printable prescription (application/pdf), audited as an export; 409 for a draft.
- `GET /api/prescriptions/verify/?code=`: pharmacists: the signed prescription with this verification
  code, else 404.
- `GET /api/renewals/`: the patient's own requests; a doctor's: those addressed to them or about patients
  in their care (`?status=requested` for the inbox). `POST` (patient): {prescription, note?} → 201.
- `POST /api/renewals/{id}/approve/` {override_reason?} → the request with `renewed_as`;
  `POST /api/renewals/{id}/deny/` {reason}.

Errors: 400 field errors, 403 a role that never does this act, 404 missing or not visible, 409 a state
clash (editing a signed prescription, a second open renewal, a blocked signature). Every PHI read writes an
AuditEvent ("search" for lists naming the patients listed, "read" for one record, "export" for the PDF).
"""

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.selectors import encounter_of_patient
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.api_schema import NoBody
from hms.patients.selectors import patient_get_clinical

from . import frequencies, prescriptions, selectors
from .models import MedicationRequest, PrescriptionRenewal, RenewalStatus
from .prescription_pdf import prescription_pdf_export

MAX_ID = 2**63 - 1
READ_ROLES = (Role.DOCTOR, Role.NURSE, Role.PATIENT, Role.PHARMACIST)
CLINICIANS = (Role.DOCTOR, Role.NURSE)

# ---------------------------------------------------------------- output serializers


class PrescriptionPatientRef(serializers.Serializer):
    id = serializers.IntegerField()
    medical_record_number = serializers.CharField(source="mrn")
    name = serializers.SerializerMethodField()
    date_of_birth = serializers.DateField()

    def get_name(self, obj) -> str:
        return f"{obj.given_names} {obj.family_name}".strip()


class PrescriptionCoding(serializers.Serializer):
    system = serializers.CharField(source="code_system")
    code = serializers.CharField(help_text="RxNorm RXCUI.")
    display = serializers.CharField(source="code_display")


class PrescriptionPractitionerRef(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class PrescriptionIndicationRef(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    display = serializers.CharField(source="code_display")


class PrescriptionFinding(serializers.Serializer):
    kind = serializers.CharField(help_text="interaction | allergy | duplicate | max-dose | unknown-drug")
    severity = serializers.CharField(help_text="contraindicated | major | moderate | minor")
    message = serializers.CharField()
    source = serializers.CharField(help_text="Citation of the knowledge-base row.")
    drugs = serializers.ListField(child=serializers.CharField())
    management = serializers.CharField()
    blocking = serializers.BooleanField()


class PrescriptionSerializer(serializers.ModelSerializer):
    """A prescription (FHIR R4 MedicationRequest)."""

    patient = PrescriptionPatientRef(read_only=True)
    encounter = serializers.IntegerField(source="encounter_id", read_only=True, allow_null=True)
    medication = PrescriptionCoding(source="*", read_only=True)
    requester = PrescriptionPractitionerRef(read_only=True, allow_null=True)
    indication = PrescriptionIndicationRef(read_only=True, allow_null=True)
    signed_by = serializers.SerializerMethodField()
    prior_prescription = serializers.IntegerField(source="prior_prescription_id", allow_null=True)
    cds_findings = PrescriptionFinding(many=True, read_only=True)
    status = serializers.CharField(help_text=f"One of: {', '.join(selectors.STATUSES)}.")
    dose_value = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    frequency_per_day = serializers.DecimalField(
        max_digits=6, decimal_places=2, allow_null=True, help_text="Administrations per day."
    )
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, allow_null=True)

    class Meta:
        model = MedicationRequest
        fields = [
            "id",
            "patient",
            "encounter",
            "medication",
            "status",
            "intent",
            "authored_on",
            "requester",
            "strength",
            "dose_value",
            "dose_unit",
            "route",
            "frequency_code",
            "frequency_per_day",
            "as_needed",
            "duration_days",
            "quantity",
            "quantity_unit",
            "refills",
            "instructions",
            "dosage_text",
            "indication",
            "signed_at",
            "signed_by",
            "status_reason",
            "verification_code",
            "prior_prescription",
            "cds_findings",
            "cds_override_reason",
        ]
        read_only_fields = fields

    def get_signed_by(self, obj) -> str:
        user = obj.signed_by
        return (user.get_full_name() or user.username) if user else ""


class PrescriptionRenewalSerializer(serializers.ModelSerializer):
    """A renewal request (FHIR R4 Task, code `fulfill`, focus the MedicationRequest)."""

    prescription = serializers.IntegerField(source="prescription_id")
    medication = serializers.CharField(source="prescription.code_display")
    patient = PrescriptionPatientRef()
    prescriber = PrescriptionPractitionerRef(allow_null=True)
    renewed_as = serializers.IntegerField(source="renewed_as_id", allow_null=True)
    status = serializers.CharField(help_text=f"One of: {', '.join(RenewalStatus.values)}.")

    class Meta:
        model = PrescriptionRenewal
        fields = [
            "id",
            "prescription",
            "medication",
            "patient",
            "prescriber",
            "note",
            "status",
            "created_at",
            "decided_at",
            "decision_reason",
            "renewed_as",
        ]
        read_only_fields = fields


# ---------------------------------------------------------------- input serializers


def _opt_choice(choices, **kw):
    return serializers.ChoiceField(choices=list(choices), required=False, allow_blank=True, **kw)


class PrescriptionFieldsInput(StrictSerializer):
    """The editable fields of a draft; the service checks them again (bounds, catalogue, indication)."""

    strength = serializers.CharField(max_length=100, required=False, allow_blank=True)
    dose_value = serializers.DecimalField(
        max_digits=12, decimal_places=3, required=False, allow_null=True, help_text="Per administration."
    )
    dose_unit = _opt_choice(prescriptions.DOSE_UNITS)
    route = _opt_choice(prescriptions.ROUTES)
    frequency_code = _opt_choice(frequencies.FREQUENCIES, help_text="hms.pharmacy.frequencies.")
    duration_days = serializers.IntegerField(
        min_value=1, max_value=prescriptions.MAX_DURATION_DAYS, required=False, allow_null=True
    )
    quantity = serializers.DecimalField(max_digits=12, decimal_places=3, required=False, allow_null=True)
    quantity_unit = serializers.CharField(max_length=40, required=False, allow_blank=True)
    refills = serializers.IntegerField(min_value=0, max_value=prescriptions.MAX_REFILLS, required=False)
    instructions = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    indication = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True, help_text="Condition id."
    )


class PrescriptionUpdateInput(PrescriptionFieldsInput):
    medication = serializers.CharField(max_length=20, required=False, help_text="RxNorm RXCUI.")


class PrescriptionCreateInput(PrescriptionFieldsInput):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    encounter = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    medication = serializers.CharField(max_length=20, help_text="RxNorm RXCUI from /api/medications/.")


class PrescriptionListQuery(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    status = serializers.ChoiceField(choices=list(selectors.STATUSES), required=False)


class PrescriptionSignInput(StrictSerializer):
    override_reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PrescriptionReasonInput(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class PrescriptionVerifyQuery(StrictSerializer):
    code = serializers.CharField(max_length=40)


class RenewalCreateInput(StrictSerializer):
    prescription = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class RenewalListQuery(StrictSerializer):
    status = serializers.ChoiceField(choices=RenewalStatus.choices, required=False)


class PrescriptionBlocked(serializers.Serializer):
    detail = serializers.CharField()
    blocking = serializers.BooleanField()
    findings = PrescriptionFinding(many=True)


# ---------------------------------------------------------------- views

RX_RESPONSES = {200: PrescriptionSerializer, 400: None, 403: None, 404: None, 409: None}


def _rx_response(request, pk, *, code=status.HTTP_200_OK) -> Response:
    rx = selectors.prescription_get(user=request.user, prescription_id=pk)
    return Response(PrescriptionSerializer(rx).data, status=code)


def _changes(validated: dict) -> dict:
    return {k: v for k, v in validated.items() if k not in ("patient", "encounter")}


class PrescriptionListCreateApi(GenericAPIView):
    """GET: scoped prescriptions. POST: a draft (doctors)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READ_ROLES, "POST": (Role.DOCTOR,)}
    serializer_class = PrescriptionSerializer
    pagination_class = CappedCountPagination
    queryset = MedicationRequest.objects.none()  # schema hint only: reads go through the selectors

    def _list(self, request):
        query = PrescriptionListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = selectors.prescriptions_visible(request.user).order_by("-authored_on", "-id")
        if "status" in params:
            qs = qs.filter(status=params["status"])
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        page = paginate_audited(self, request, qs, object_type="pharmacy.MedicationRequest")
        return self.get_paginated_response(PrescriptionSerializer(page, many=True).data)

    def _create(self, request):
        data = PrescriptionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        with transaction.atomic():
            patient = patient_get_clinical(request.user, params["patient"])
            encounter = encounter_of_patient(
                user=request.user, patient=patient, encounter_id=params.get("encounter")
            )
            fields = _changes(params)
            medication = fields.pop("medication")
            rx = prescriptions.prescription_create_draft(
                patient=patient,
                medication=medication,
                encounter=encounter,
                by=request.user,
                request=request,
                **fields,
            )
        return _rx_response(request, rx.pk, code=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="prescriptions_list",
        parameters=[
            OpenApiParameter("patient", int, description="Patient id."),
            OpenApiParameter("status", str, enum=list(selectors.STATUSES)),
        ],
        responses=PrescriptionSerializer(many=True),
    )
    def get(self, request):
        return self._list(request)

    @extend_schema(
        operation_id="prescriptions_create",
        request=PrescriptionCreateInput,
        responses={201: PrescriptionSerializer, 400: None, 403: None, 404: None},
    )
    def post(self, request):
        return self._create(request)


class SeedPrescriptionListCreateApi(PrescriptionListCreateApi):
    """The same list and create at the seed path `/medical/api/prescriptions/`."""

    @extend_schema(
        operation_id="medical_prescriptions_list",
        parameters=[
            OpenApiParameter("patient", int, description="Patient id."),
            OpenApiParameter("status", str, enum=list(selectors.STATUSES)),
        ],
        responses=PrescriptionSerializer(many=True),
    )
    def get(self, request):
        return self._list(request)

    @extend_schema(
        operation_id="medical_prescriptions_create",
        request=PrescriptionCreateInput,
        responses={201: PrescriptionSerializer, 400: None, 403: None, 404: None},
    )
    def post(self, request):
        return self._create(request)


class PrescriptionDetailApi(GenericAPIView):
    """GET: one prescription. PATCH: change a draft (doctors; 409 once signed)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READ_ROLES, "PATCH": (Role.DOCTOR,)}
    serializer_class = PrescriptionSerializer
    queryset = MedicationRequest.objects.none()

    @extend_schema(operation_id="prescriptions_retrieve", responses={200: PrescriptionSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            rx = selectors.prescription_get(user=request.user, prescription_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=rx.patient, obj=rx)
        return Response(PrescriptionSerializer(rx).data)

    @extend_schema(
        operation_id="prescriptions_partial_update", request=PrescriptionUpdateInput, responses=RX_RESPONSES
    )
    def patch(self, request, pk: int):
        rx = selectors.prescription_get(user=request.user, prescription_id=pk)
        data = PrescriptionUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        prescriptions.prescription_update_draft(
            prescription=rx, changes=dict(data.validated_data), by=request.user, request=request
        )
        return _rx_response(request, pk)


class PrescriptionSignApi(GenericAPIView):
    """POST {override_reason?}: sign a draft after the decision-support checks (doctors)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = PrescriptionSerializer
    queryset = MedicationRequest.objects.none()

    @extend_schema(
        operation_id="prescriptions_sign",
        request=PrescriptionSignInput,
        responses={
            **RX_RESPONSES,
            409: OpenApiResponse(
                PrescriptionBlocked, description="Not a draft, or blocked by contraindicated findings."
            ),
        },
    )
    def post(self, request, pk: int):
        rx = selectors.prescription_get(user=request.user, prescription_id=pk)
        data = PrescriptionSignInput(data=request.data)
        data.is_valid(raise_exception=True)
        prescriptions.prescription_sign(
            prescription=rx,
            override_reason=data.validated_data["override_reason"],
            by=request.user,
            request=request,
        )
        return _rx_response(request, pk)


class PrescriptionStopApi(GenericAPIView):
    """POST {reason}: stop an active prescription (doctors)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = PrescriptionSerializer
    queryset = MedicationRequest.objects.none()

    @extend_schema(operation_id="prescriptions_stop", request=PrescriptionReasonInput, responses=RX_RESPONSES)
    def post(self, request, pk: int):
        rx = selectors.prescription_get(user=request.user, prescription_id=pk)
        data = PrescriptionReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        prescriptions.prescription_stop(
            prescription=rx, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return _rx_response(request, pk)


class PrescriptionCompleteApi(GenericAPIView):
    """POST: mark an active prescription completed (doctors, nurses)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": CLINICIANS}
    serializer_class = PrescriptionSerializer
    queryset = MedicationRequest.objects.none()

    @extend_schema(operation_id="prescriptions_complete", request=NoBody, responses=RX_RESPONSES)
    def post(self, request, pk: int):
        rx = selectors.prescription_get(user=request.user, prescription_id=pk)
        prescriptions.prescription_complete(prescription=rx, by=request.user, request=request)
        return _rx_response(request, pk)


class PrescriptionErrorApi(GenericAPIView):
    """POST {reason}: mark a prescription entered-in-error (doctors, nurses); it leaves every list."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": CLINICIANS}
    serializer_class = PrescriptionSerializer
    queryset = MedicationRequest.objects.none()

    @extend_schema(
        operation_id="prescriptions_entered_in_error",
        request=PrescriptionReasonInput,
        responses={204: None, 400: None, 403: None, 404: None},
    )
    def post(self, request, pk: int):
        rx = selectors.prescription_get(user=request.user, prescription_id=pk)
        data = PrescriptionReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        prescriptions.prescription_enter_in_error(
            prescription=rx, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


def pdf_response(rx, data: bytes) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="prescription-{rx.pk}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


class PrescriptionPdfApi(GenericAPIView):
    """GET: the printable prescription (PDF) of a signed prescription; audited as an export."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READ_ROLES}
    queryset = MedicationRequest.objects.none()

    @extend_schema(
        operation_id="prescriptions_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(response=OpenApiTypes.BINARY, description="The PDF."),
            404: None,
            409: None,
        },
    )
    def get(self, request, pk: int):
        rx, data = prescription_pdf_export(user=request.user, prescription_id=pk, request=request)
        return pdf_response(rx, data)


class PrescriptionVerifyApi(GenericAPIView):
    """GET ?code=: the signed prescription with this verification code (pharmacists), else 404."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (Role.PHARMACIST,)}
    serializer_class = PrescriptionSerializer
    queryset = MedicationRequest.objects.none()

    @extend_schema(
        operation_id="prescriptions_verify",
        parameters=[OpenApiParameter("code", str, required=True, description='e.g. "K7QM-4X9Z-AB3C".')],
        responses={200: PrescriptionSerializer, 400: None, 403: None, 404: None},
    )
    def get(self, request):
        query = PrescriptionVerifyQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        with transaction.atomic():
            rx = selectors.prescription_by_code(user=request.user, code=query.validated_data["code"])
            audit_record(
                action=AuditAction.READ,
                request=request,
                patient=rx.patient,
                obj=rx,
                detail={"verified": True},
            )
        return Response(PrescriptionSerializer(rx).data)


# ---------------------------------------------------------------- renewals


class RenewalListCreateApi(GenericAPIView):
    """GET: renewal requests (patients: their own; doctors: theirs). POST: request one (patients)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (Role.PATIENT, Role.DOCTOR), "POST": (Role.PATIENT,)}
    serializer_class = PrescriptionRenewalSerializer
    pagination_class = CappedCountPagination
    queryset = PrescriptionRenewal.objects.none()

    @extend_schema(
        operation_id="renewals_list",
        parameters=[OpenApiParameter("status", str, enum=RenewalStatus.values)],
        responses=PrescriptionRenewalSerializer(many=True),
    )
    def get(self, request):
        query = RenewalListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        qs = selectors.renewals_visible(request.user).order_by("-created_at", "-id")
        if "status" in query.validated_data:
            qs = qs.filter(status=query.validated_data["status"])
        page = paginate_audited(self, request, qs, object_type="pharmacy.PrescriptionRenewal")
        return self.get_paginated_response(PrescriptionRenewalSerializer(page, many=True).data)

    @extend_schema(
        operation_id="renewals_create",
        request=RenewalCreateInput,
        responses={201: PrescriptionRenewalSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request):
        data = RenewalCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        rx = selectors.prescription_get(
            user=request.user, prescription_id=data.validated_data["prescription"]
        )
        renewal = prescriptions.renewal_request(
            prescription=rx, note=data.validated_data["note"], by=request.user, request=request
        )
        renewal = selectors.renewal_get(user=request.user, renewal_id=renewal.pk)
        return Response(PrescriptionRenewalSerializer(renewal).data, status=status.HTTP_201_CREATED)


RENEWAL_RESPONSES = {200: PrescriptionRenewalSerializer, 400: None, 403: None, 404: None, 409: None}


class RenewalApproveApi(GenericAPIView):
    """POST {override_reason?}: approve: a new signed prescription linked to the old one (doctors)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = PrescriptionRenewalSerializer
    queryset = PrescriptionRenewal.objects.none()

    @extend_schema(
        operation_id="renewals_approve", request=PrescriptionSignInput, responses=RENEWAL_RESPONSES
    )
    def post(self, request, pk: int):
        renewal = selectors.renewal_get(user=request.user, renewal_id=pk)
        data = PrescriptionSignInput(data=request.data)
        data.is_valid(raise_exception=True)
        prescriptions.renewal_approve(
            renewal=renewal,
            override_reason=data.validated_data["override_reason"],
            by=request.user,
            request=request,
        )
        renewal = selectors.renewal_get(user=request.user, renewal_id=pk)
        return Response(PrescriptionRenewalSerializer(renewal).data)


class RenewalDenyApi(GenericAPIView):
    """POST {reason}: deny a renewal request (doctors); the patient is told the reason."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = PrescriptionRenewalSerializer
    queryset = PrescriptionRenewal.objects.none()

    @extend_schema(operation_id="renewals_deny", request=PrescriptionReasonInput, responses=RENEWAL_RESPONSES)
    def post(self, request, pk: int):
        renewal = selectors.renewal_get(user=request.user, renewal_id=pk)
        data = PrescriptionReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        prescriptions.renewal_deny(
            renewal=renewal, reason=data.validated_data["reason"], by=request.user, request=request
        )
        renewal = selectors.renewal_get(user=request.user, renewal_id=pk)
        return Response(PrescriptionRenewalSerializer(renewal).data)
