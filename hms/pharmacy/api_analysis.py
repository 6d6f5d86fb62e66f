"""REST API of prescription analysis and of the patient's medication-reminder settings (issue 5).

- `POST /api/analyze-prescription/` (doctors, nurses, pharmacists): {text: string 1-2,000 characters,
  patient?: id, provider?: "auto" | "offline" | "llm"} → 200 {provider, notes, patient, items, findings,
  blocking, summary} (see `hms.pharmacy.analysis` for the item fields). With `patient`, the findings
  include that patient's active prescriptions and allergies; the patient must be one whose allergies the
  user may read (doctors and nurses: in their care; pharmacists: any live patient), else 404, and the
  read is audited. Errors: 400 {text: [...]} for empty, too long, non-text or control-character input or
  more than 20 lines; 400 {patient: [...]} for a malformed id; never 500 for odd prescriptions (a line
  that cannot be read comes back `status: "unparsed"` with its `reason`).
- `GET /api/prescriptions/{id}/reminders/` (the patient, own prescriptions): {prescription, medication,
  status, reminders_enabled, reminder_times, default_times, effective_times, time_zone}.
  `PATCH` {reminders_enabled?: bool, reminder_times?: ["HH:MM", ...] (at most 6; [] = the frequency's
  default times)} → 200 the same shape; 400 field errors; 404 another patient's or a draft; 409 a
  prescription that is no longer active. Other roles: 403.
"""

from django.core.exceptions import ValidationError
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

from . import analysis, frequencies, reminders

MAX_ID = 2**63 - 1
ANALYSIS_ROLES = (Role.DOCTOR, Role.NURSE, Role.PHARMACIST)

# ---------------------------------------------------------------- analysis


class AnalyzeInput(StrictSerializer):
    text = serializers.CharField(
        max_length=analysis.MAX_TEXT, help_text="Free-text prescription(s), one per line or ';'."
    )
    patient = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_ID,
        help_text="Check against this patient.",
    )
    provider = serializers.ChoiceField(choices=["auto", "offline", "llm"], default="auto")


class DrugRefSerializer(serializers.Serializer):
    rxcui = serializers.CharField()
    name = serializers.CharField()
    level = serializers.CharField(help_text="product (RxNorm SCD/SBD) or ingredient (RxNorm IN).")
    ingredients = serializers.ListField(child=serializers.DictField())
    alternatives = serializers.ListField(
        child=serializers.DictField(), help_text="Other products that match as well (another dose form)."
    )


class AnalysisItemSerializer(serializers.Serializer):
    text = serializers.CharField(help_text="The original fragment.")
    status = serializers.CharField(help_text="parsed | unparsed")
    reason = serializers.CharField(help_text="Why an item is unparsed.")
    drug = DrugRefSerializer(allow_null=True)
    strength = serializers.CharField()
    dose_value = serializers.DecimalField(max_digits=14, decimal_places=4, allow_null=True)
    dose_unit = serializers.CharField()
    route = serializers.CharField(help_text="SNOMED CT route display, e.g. oral.")
    route_code = serializers.CharField(help_text="SNOMED CT route code.")
    frequency_code = serializers.CharField()
    frequency_display = serializers.CharField()
    frequency_per_day = serializers.DecimalField(max_digits=8, decimal_places=2, allow_null=True)
    as_needed = serializers.BooleanField()
    duration_days = serializers.IntegerField(allow_null=True)
    warnings = serializers.ListField(child=serializers.CharField())


class FindingSerializer(serializers.Serializer):
    kind = serializers.CharField()
    severity = serializers.CharField()
    message = serializers.CharField()
    source = serializers.CharField()
    drugs = serializers.ListField(child=serializers.CharField())
    management = serializers.CharField()
    blocking = serializers.BooleanField()


class AnalysisOutput(serializers.Serializer):
    provider = serializers.CharField(help_text="offline or llm.")
    notes = serializers.ListField(child=serializers.CharField())
    patient = serializers.IntegerField(allow_null=True)
    items = AnalysisItemSerializer(many=True)
    findings = FindingSerializer(many=True)
    blocking = serializers.BooleanField(help_text="A contraindicated finding is present.")
    summary = serializers.CharField()


def finding_dict(f) -> dict:
    return {
        "kind": f.kind,
        "severity": f.severity,
        "message": f.message,
        "source": f.source,
        "drugs": list(f.drugs),
        "management": f.management,
        "blocking": f.blocking,
    }


class AnalyzePrescriptionApi(GenericAPIView):
    permission_classes = [HasRole]
    allowed_roles = {"*": ANALYSIS_ROLES}
    serializer_class = AnalyzeInput

    @extend_schema(request=AnalyzeInput, responses=AnalysisOutput, summary="Analyse a free-text prescription")
    def post(self, request):
        data = AnalyzeInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = None
        if v.get("patient"):
            patient = allergy_patient_get(request.user, v["patient"])
        try:
            with transaction.atomic():
                result = analysis.prescription_analyze(
                    text=v["text"], patient=patient, provider=v["provider"]
                )
                if patient is not None:
                    audit_record(
                        action=AuditAction.READ,
                        request=request,
                        patient=patient,
                        object_type="pharmacy.MedicationRequest",
                        detail={
                            "view": "analyze-prescription",
                            "provider": result.provider,
                            "items": len(result.items),
                            "findings": len(result.findings),
                        },
                    )
        except analysis.AnalysisInputError as exc:
            raise ValidationError({exc.field: exc.message}) from None
        body = {
            "provider": result.provider,
            "notes": result.notes,
            "patient": patient.pk if patient else None,
            "items": [i.as_dict() for i in result.items],
            "findings": [finding_dict(f) for f in result.findings],
            "blocking": any(f.blocking for f in result.findings),
            "summary": result.summary,
        }
        return Response(AnalysisOutput(body).data)


# ---------------------------------------------------------------- reminder settings


class ReminderSettingsInput(StrictSerializer):
    reminders_enabled = serializers.BooleanField(required=False)
    reminder_times = serializers.ListField(
        child=serializers.CharField(max_length=10),
        required=False,
        max_length=24,
        help_text='["08:00", "20:00"]',
    )


ReminderSettingsOutput = inline_serializer(
    "PrescriptionReminders",
    {
        "prescription": serializers.IntegerField(),
        "medication": serializers.CharField(),
        "status": serializers.CharField(),
        "reminders_enabled": serializers.BooleanField(),
        "reminder_times": serializers.ListField(child=serializers.CharField()),
        "default_times": serializers.ListField(child=serializers.CharField()),
        "effective_times": serializers.ListField(child=serializers.CharField()),
        "time_zone": serializers.CharField(),
    },
)


def reminder_settings_dict(rx) -> dict:
    from django.conf import settings

    return {
        "prescription": rx.pk,
        "medication": rx.code_display,
        "status": rx.status,
        "reminders_enabled": rx.reminders_enabled,
        "reminder_times": list(rx.reminder_times or []),
        "default_times": list(frequencies.default_times(rx.frequency_code)),
        "effective_times": reminders.effective_times(rx),
        "time_zone": settings.HOSPITAL_TIME_ZONE,
    }


class PrescriptionRemindersApi(GenericAPIView):
    permission_classes = [HasRole]
    allowed_roles = {"*": (Role.PATIENT,)}
    serializer_class = ReminderSettingsInput

    @extend_schema(responses=ReminderSettingsOutput, summary="My reminder settings of a prescription")
    def get(self, request, pk: int):
        with transaction.atomic():
            rx = reminders.reminder_prescription_get(user=request.user, prescription_id=pk)
            audit_record(
                action=AuditAction.READ,
                request=request,
                patient=rx.patient,
                obj=rx,
                detail={"view": "prescription-reminders"},
            )
        return Response(reminder_settings_dict(rx))

    @extend_schema(request=ReminderSettingsInput, responses=ReminderSettingsOutput, summary="Change them")
    def patch(self, request, pk: int):
        rx = reminders.reminder_prescription_get(user=request.user, prescription_id=pk)
        data = ReminderSettingsInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        changes = {
            k: data.validated_data[k]
            for k in ("reminders_enabled", "reminder_times")
            if k in data.validated_data
        }
        rx = reminders.prescription_reminders_update(
            prescription=rx, by=request.user, request=request, **changes
        )
        return Response(reminder_settings_dict(rx))
