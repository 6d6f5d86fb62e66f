"""REST API of vital signs and daily health reports.

- `GET /api/patients/{id}/vitals/`: the patient's vital-sign Observations (category vital-signs, or a
  vital LOINC code of `hms.clinical.vitals.CHART_CODES`), newest first, paginated; filters `code` (LOINC,
  exact), `date_from`, `date_to` (local days, inclusive), `encounter`. Readable by the patient and by
  doctors and nurses caring for them; anyone else 404.
- `POST /api/patients/{id}/vitals/`: record one set (doctor or nurse with the patient in care; other roles
  403, a patient outside their care 404). Body: any of `systolic`, `diastolic` (mm[Hg]), `heart_rate`,
  `respiratory_rate` (/min), `temperature` (Cel), `spo2` (%), `weight` (kg), `height` (cm), `pain` (0-10),
  plus optional `encounter` (id) and `effective_at` (ISO 8601). BMI is computed. 201 with the
  Observations; 400 keyed by field for an impossible value ("Heart rate must be between 20 and 300 /min.").
- `POST /api/vitals/{id}/entered-in-error/` `{"reason"}`: 200 with the Observation; 400 without a reason
  or when already marked; 404 outside the writer's scope.
- `GET /api/daily-reports/?patient=&date_from=&date_to=`: reports the user may read (a patient: their own;
  doctors and nurses: patients in their care), newest first, paginated.
- `POST /api/daily-reports/`: the patient submits today's report (`mood`, `symptoms`, `rating`, optional
  `vitals` object of home measurements, optional `patient` which must be their own id, else 404);
  201 when created, 200 when today's report was updated; other roles 403.
- `GET /api/daily-reports/{id}/`.

Every response writes one AuditEvent (search for lists, read/create/update/delete otherwise).
"""

from django.db import transaction
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.errors import NotFoundOrForbidden
from hms.patients.selectors import clinical_records, patient_get, patient_get_clinical

from . import api_filters, daily_reports, selectors, vitals
from .api import ObservationSerializer
from .models import DailyHealthReport, Encounter, Observation

MAX_ID = 2**63 - 1


# ---------------------------------------------------------------- serializers


class VitalObservationSerializer(ObservationSerializer):
    """A vital-sign Observation with its flag: `interpretation` (v3 N, L, H, LL, HH; blank = no range),
    `reference_low/high` in `value_unit` (blood pressure: per component, inside `components`)."""

    reference_low = serializers.DecimalField(max_digits=20, decimal_places=6, read_only=True, allow_null=True)
    reference_high = serializers.DecimalField(
        max_digits=20, decimal_places=6, read_only=True, allow_null=True
    )
    recorded_by = serializers.IntegerField(source="recorded_by_id", read_only=True, allow_null=True)

    class Meta(ObservationSerializer.Meta):
        fields = [
            *ObservationSerializer.Meta.fields,
            "interpretation",
            "reference_low",
            "reference_high",
            "recorded_by",
            "note",
        ]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.NUMBER)
class VitalValueField(serializers.Field):
    """A number passed to `hms.clinical.vitals.vitals_clean` as sent, so that its messages (range and
    units) are the ones the caller sees."""

    def to_internal_value(self, data):
        return data

    def to_representation(self, value):  # pragma: no cover - input only
        return value


def _vital_help(key: str) -> str:
    spec = vitals.ALL_SPECS[key]
    return f"{spec.label} in {spec.unit}; {spec.range_message()}"


class VitalsSetInput(StrictSerializer):
    """One set of vital signs; every measurement optional, at least one required."""

    systolic = VitalValueField(required=False, allow_null=True, help_text=_vital_help("systolic"))
    diastolic = VitalValueField(required=False, allow_null=True, help_text=_vital_help("diastolic"))
    heart_rate = VitalValueField(required=False, allow_null=True, help_text=_vital_help("heart_rate"))
    respiratory_rate = VitalValueField(
        required=False, allow_null=True, help_text=_vital_help("respiratory_rate")
    )
    temperature = VitalValueField(required=False, allow_null=True, help_text=_vital_help("temperature"))
    spo2 = VitalValueField(required=False, allow_null=True, help_text=_vital_help("spo2"))
    weight = VitalValueField(required=False, allow_null=True, help_text=_vital_help("weight"))
    height = VitalValueField(required=False, allow_null=True, help_text=_vital_help("height"))
    pain = VitalValueField(required=False, allow_null=True, help_text=_vital_help("pain"))
    encounter = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=MAX_ID)
    effective_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Default now.")

    def to_internal_value(self, data):
        _refuse_unknown_keys(self, data)
        return super().to_internal_value(data)


def _refuse_unknown_keys(serializer, data) -> None:
    """A key the serializer does not know (e.g. a typed `bmi`, which is computed) is a 400, not ignored."""
    if isinstance(data, dict):
        unknown = sorted(str(k)[:50] for k in data if k not in serializer.fields)
        if unknown:
            raise serializers.ValidationError(
                {k: ["Not a vital sign that can be entered here (BMI is computed)."] for k in unknown}
            )


class VitalsSetOutput(serializers.Serializer):
    observations = VitalObservationSerializer(many=True)


class EnteredInErrorInput(StrictSerializer):
    reason = serializers.CharField(max_length=500, allow_blank=True)


class HomeVitalsInput(StrictSerializer):
    systolic = VitalValueField(required=False, allow_null=True, help_text=_vital_help("systolic"))
    diastolic = VitalValueField(required=False, allow_null=True, help_text=_vital_help("diastolic"))
    heart_rate = VitalValueField(required=False, allow_null=True, help_text=_vital_help("heart_rate"))
    temperature = VitalValueField(required=False, allow_null=True, help_text=_vital_help("temperature"))
    spo2 = VitalValueField(required=False, allow_null=True, help_text=_vital_help("spo2"))
    weight = VitalValueField(required=False, allow_null=True, help_text=_vital_help("weight"))
    glucose = VitalValueField(required=False, allow_null=True, help_text=_vital_help("glucose"))

    class Meta:
        ref_name = "HomeVitalsInput"


class DailyReportInput(StrictSerializer):
    patient = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Your own patient id (optional)."
    )
    mood = serializers.CharField(help_text="great | good | okay | low | bad")
    symptoms = serializers.CharField(required=False, allow_blank=True, max_length=daily_reports.SYMPTOMS_MAX)
    rating = serializers.IntegerField(help_text="1 (worst) to 10 (best).")
    vitals = HomeVitalsInput(required=False, allow_null=True)

    def to_internal_value(self, data):
        if isinstance(data, dict) and isinstance(data.get("rating"), bool):
            raise serializers.ValidationError({"rating": ["A valid integer is required."]})
        # unknown keys inside `vitals` are reported (not silently dropped) by the service
        raw_vitals = data.get("vitals") if isinstance(data, dict) else None
        out = super().to_internal_value(data)
        if isinstance(raw_vitals, dict):
            out["vitals"] = raw_vitals
        return out


class DailyReportSerializer(serializers.ModelSerializer):
    """A daily health report (FHIR QuestionnaireResponse) with its home measurements."""

    patient = serializers.IntegerField(source="patient_id", read_only=True)
    observations = VitalObservationSerializer(many=True, read_only=True)

    class Meta:
        model = DailyHealthReport
        fields = [
            "id",
            "patient",
            "report_date",
            "mood",
            "symptoms",
            "rating",
            "observations",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# ---------------------------------------------------------------- filters


class VitalsFilter(api_filters.ObservationFilter):
    """`code`, `date_from`, `date_to`, `encounter` (see `RecordFilter`)."""


class DailyReportFilter(api_filters.RecordFilter):
    DATE_FIELD = "report_date"

    patient = api_filters.filters.NumberFilter(
        field_name="patient_id", min_value=1, max_value=MAX_ID, decimal_places=0, help_text="Patient id."
    )

    class Meta:
        model = DailyHealthReport
        fields = ["patient"]

    def filter_date_from(self, queryset, name, value):
        return queryset.filter(report_date__gte=value)

    def filter_date_to(self, queryset, name, value):
        return queryset.filter(report_date__lte=value)


def _vital_rows(user, patient):
    return selectors.patient_records(user=user, patient=patient, model=Observation).filter(
        Q(category=vitals.VITAL_SIGNS_CATEGORY) | Q(code__in=vitals.VITAL_LOINC_CODES)
    )


# ---------------------------------------------------------------- views


class PatientVitalsApi(GenericAPIView):
    """GET/POST /api/patients/{id}/vitals/."""

    permission_classes = [HasRole]
    allowed_roles = {"POST": [Role.DOCTOR, Role.NURSE]}
    serializer_class = VitalObservationSerializer
    filterset_class = VitalsFilter
    pagination_class = CappedCountPagination
    queryset = Observation.objects.none()  # schema hint only: reads go through the selectors

    @extend_schema(operation_id="patients_vitals_list", responses=VitalObservationSerializer(many=True))
    def get(self, request, pk: int):
        with transaction.atomic():
            patient = patient_get_clinical(request.user, pk)
            queryset = self.filter_queryset(_vital_rows(request.user, patient))
            page = paginate_audited(self, request, queryset, object_type="clinical.Observation")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_vitals_create",
        request=VitalsSetInput,
        responses={201: VitalsSetOutput, 400: None, 403: None, 404: None},
    )
    def post(self, request, pk: int):
        patient = patient_get(request.user, pk)
        data = VitalsSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        encounter_id = values.pop("encounter", None)
        effective_at = values.pop("effective_at", None)
        encounter = None
        if encounter_id is not None:
            encounter = (
                clinical_records(request.user, Encounter, patient=patient).filter(pk=encounter_id).first()
            )
            if encounter is None:
                raise serializers.ValidationError({"encounter": ["No such encounter of this patient."]})
        rows = vitals.vitals_record(
            patient=patient,
            values=values,
            encounter=encounter,
            effective_at=effective_at,
            by=request.user,
            request=request,
        )
        body = {"observations": VitalObservationSerializer(rows, many=True).data}
        return Response(body, status=status.HTTP_201_CREATED)


class VitalEnteredInErrorApi(GenericAPIView):
    """POST /api/vitals/{id}/entered-in-error/."""

    serializer_class = EnteredInErrorInput
    queryset = Observation.objects.none()

    @extend_schema(
        operation_id="vitals_entered_in_error",
        request=EnteredInErrorInput,
        responses={200: VitalObservationSerializer, 400: None, 404: None},
    )
    def post(self, request, pk: int):
        data = EnteredInErrorInput(data=request.data)
        data.is_valid(raise_exception=True)
        if not 0 < pk <= MAX_ID:
            raise NotFoundOrForbidden()
        row = (
            clinical_records(request.user, Observation)
            .filter(pk=pk)
            .filter(Q(category=vitals.VITAL_SIGNS_CATEGORY) | Q(code__in=vitals.VITAL_LOINC_CODES))
            .select_related("patient")
            .first()
        )
        if row is None:
            raise NotFoundOrForbidden()
        row = vitals.vital_entered_in_error(
            observation=row, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return Response(VitalObservationSerializer(row).data)


class DailyReportListApi(GenericAPIView):
    """GET/POST /api/daily-reports/."""

    permission_classes = [HasRole]
    allowed_roles = {
        "GET": [Role.PATIENT, Role.DOCTOR, Role.NURSE],
        "POST": [Role.PATIENT],
    }
    serializer_class = DailyReportSerializer
    filterset_class = DailyReportFilter
    pagination_class = CappedCountPagination
    queryset = DailyHealthReport.objects.none()

    @extend_schema(
        operation_id="daily_reports_list",
        parameters=[OpenApiParameter("patient", int, description="Patient id.")],
        responses=DailyReportSerializer(many=True),
    )
    def get(self, request):
        queryset = self.filter_queryset(daily_reports.daily_reports_visible(user=request.user))
        page = paginate_audited(self, request, queryset, object_type="clinical.DailyHealthReport")
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="daily_reports_submit",
        request=DailyReportInput,
        responses={201: DailyReportSerializer, 200: DailyReportSerializer, 400: None, 404: None},
    )
    def post(self, request):
        data = DailyReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        own = getattr(request.user, "patient", None)
        if own is None:
            raise NotFoundOrForbidden()
        wanted = data.validated_data.get("patient")
        if wanted is not None and wanted != own.pk:
            raise NotFoundOrForbidden()
        patient = patient_get(request.user, own.pk)
        report, created, _alerted = daily_reports.daily_report_submit(
            patient=patient,
            by=request.user,
            mood=data.validated_data["mood"],
            rating=data.validated_data["rating"],
            symptoms=data.validated_data.get("symptoms", ""),
            vitals=data.validated_data.get("vitals"),
            request=request,
        )
        report = daily_reports.daily_reports_visible(user=request.user).get(pk=report.pk)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(DailyReportSerializer(report).data, status=code)


class DailyReportDetailApi(GenericAPIView):
    """GET /api/daily-reports/{id}/."""

    serializer_class = DailyReportSerializer
    queryset = DailyHealthReport.objects.none()

    @extend_schema(operation_id="daily_reports_retrieve", responses={200: DailyReportSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            report = daily_reports.daily_report_get(user=request.user, report_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=report.patient, obj=report)
        return Response(DailyReportSerializer(report).data)
