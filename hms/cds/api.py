"""REST API of medication decision support.

- `POST /api/cds/check/` (doctors, nurses, pharmacists): run `hms.cds.checker.cds_check` for a patient.
  Body: `{"patient": id, "medications": [{"rxcui", "dose_value"?, "dose_unit"?, "frequency_per_day"?}, ...]}`
  (1..20 medications) or a single medication given inline: `{"patient": id, "rxcui": ..., ...}`;
  `exclude_prescription_ids`: optional list of the patient's prescription ids to leave out (a renewal).
  `dose_value` Decimal > 0 (per administration, in `dose_unit`: mg, g, mcg, mL, tablet, ...),
  `frequency_per_day` Decimal > 0 (administrations a day, ≤ 48).
  → 200 `{"patient": id, "blocking": bool, "findings": [{kind, severity, message, source, drugs,
  management, blocking}]}`, most severe first. Unknown RxNorm codes are not an error: they come back as
  an `unknown-drug` finding.

Errors: 400 with field errors (missing patient or medications, both or neither of `medications`/`rxcui`,
a malformed code, a dose ≤ 0); 403 for other roles; 404 for a patient the user may not see (doctors and
nurses: patients in their care; pharmacists: every live patient, as for allergies). The check reads the
patient's prescriptions and allergies: one AuditEvent "read" (object_type `cds.check`) per call.
"""

from decimal import Decimal

from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.allergies import allergy_patient_get
from hms.core.api_base import HasRole, StrictSerializer

from .checker import ProposedMedication, cds_check

MAX_MEDICATIONS = 20


class MedicationIn(StrictSerializer):
    rxcui = serializers.RegexField(r"^\d{1,10}$", help_text="RxNorm code (digits).")
    dose_value = serializers.DecimalField(
        max_digits=12, decimal_places=4, required=False, allow_null=True, min_value=Decimal("0.0001")
    )
    dose_unit = serializers.CharField(required=False, allow_blank=True, max_length=40)
    frequency_per_day = serializers.DecimalField(
        max_digits=6,
        decimal_places=2,
        required=False,
        allow_null=True,
        min_value=Decimal("0.01"),
        max_value=Decimal(48),
    )


class CheckIn(MedicationIn):
    patient = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    rxcui = serializers.RegexField(r"^\d{1,10}$", required=False, help_text="a single medication")
    medications = MedicationIn(many=True, required=False, max_length=MAX_MEDICATIONS, min_length=1)
    exclude_prescription_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, max_length=50
    )

    def validate(self, attrs):
        if ("medications" in attrs) == ("rxcui" in attrs):
            raise serializers.ValidationError(
                {"medications": "Give either `medications` (a list) or one `rxcui`."}
            )
        if "medications" in attrs:
            single = {k for k in ("dose_value", "dose_unit", "frequency_per_day") if k in attrs}
            if single:
                raise serializers.ValidationError(dict.fromkeys(single, "Put it inside `medications`."))
        return attrs


class FindingOut(serializers.Serializer):
    kind = serializers.CharField()
    severity = serializers.CharField()
    message = serializers.CharField()
    source = serializers.CharField()
    drugs = serializers.ListField(child=serializers.CharField())
    management = serializers.CharField()
    blocking = serializers.BooleanField()


class CdsCheckApi(GenericAPIView):
    """POST: decision support for proposed medications (see the module docstring)."""

    permission_classes = [HasRole]
    allowed_roles = {"*": (Role.DOCTOR, Role.NURSE, Role.PHARMACIST)}
    serializer_class = CheckIn
    pagination_class = None

    @extend_schema(
        operation_id="cds_check",
        request=CheckIn,
        responses={
            200: inline_serializer(
                "CdsCheckResult",
                {
                    "patient": serializers.IntegerField(),
                    "blocking": serializers.BooleanField(),
                    "findings": FindingOut(many=True),
                },
            )
        },
    )
    def post(self, request):
        body = CheckIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        patient = allergy_patient_get(request.user, data["patient"])
        rows = data.get("medications", [data])
        proposed = [
            ProposedMedication(
                rxcui=row["rxcui"],
                dose_value=row.get("dose_value"),
                dose_unit=row.get("dose_unit", "") or "",
                frequency_per_day=row.get("frequency_per_day"),
            )
            for row in rows
        ]
        with transaction.atomic():
            findings = cds_check(
                patient=patient,
                proposed=proposed,
                exclude_prescription_ids=data.get("exclude_prescription_ids", ()),
            )
            audit_record(
                action=AuditAction.READ,
                request=request,
                patient=patient,
                object_type="cds.check",
                object_id=patient.pk,
                detail={
                    "medications": [p.rxcui for p in proposed],
                    "findings": [f"{f.kind}:{f.severity}" for f in findings],
                },
            )
        return Response(
            {
                "patient": patient.pk,
                "blocking": any(f.blocking for f in findings),
                "findings": [f.as_dict() for f in findings],
            }
        )
