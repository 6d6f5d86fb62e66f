"""REST API of the inpatient and emergency-department reports (`hms.inpatient.reports`).

- `GET /api/reports/inpatient/occupancy/?start=&end=&ward=`: occupied bed-days and occupancy % per ward
  and day (`ward`: optional ward id to narrow to one ward).
- `GET /api/reports/inpatient/length-of-stay/?start=&end=`: mean and median length of stay (days) of the
  admissions discharged in the period, all wards and per ward.
- `GET /api/reports/inpatient/admissions/?start=&end=`: admissions and discharges per day.
- `GET /api/reports/inpatient/ed-waits/?start=&end=`: door-to-doctor minutes per ESI level (count seen,
  median, 90th percentile by nearest rank, not seen).

`start`/`end`: ISO dates (hospital time zone), inclusive; default the last 30 days; at most 366 days.
Answer: `{"start", "end", "rows": [...]}` (Decimals as strings, as DRF does); `?format=csv` (or
`Accept: text/csv`) answers a CSV download instead (`Content-Disposition: attachment`).

Who (decided for issue 6): admins (bed management), doctors and nurses (clinical leadership, ward
managers). The numbers are aggregates that name no patient, so they are not PHI and the reads are not
audited; receptionists, billing, pharmacists and lab technicians get 403 (not their work), patients 403,
anonymous callers 401. Errors: 400 with a field message for a malformed date (`start`/`end`), an end
before the start or a period over 366 days (`end`), a bad `ward` id.
"""

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.core.api_base import HasRole, StrictSerializer

from . import reports
from .models import Location

REPORT_ROLES = (Role.ADMIN, Role.DOCTOR, Role.NURSE)


class CSVRenderer(BaseRenderer):
    """Lets `?format=csv` / `Accept: text/csv` through content negotiation; the views build the body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # pragma: no cover - unused
        return data if isinstance(data, str | bytes) else b""


class PeriodQuery(StrictSerializer):
    start = serializers.CharField(required=False, allow_blank=True, max_length=10)
    end = serializers.CharField(required=False, allow_blank=True, max_length=10)
    ward = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def validate(self, attrs):
        start, end = reports.report_period(attrs.get("start"), attrs.get("end"))
        attrs["start"], attrs["end"] = start, end
        ward = attrs.get("ward")
        if ward is not None and not Location.objects.filter(pk=ward, physical_type="wa").exists():
            raise serializers.ValidationError({"ward": "No such ward."})
        return attrs


class OccupancyRowSerializer(serializers.Serializer):
    ward_id = serializers.IntegerField()
    ward = serializers.CharField()
    day = serializers.DateField()
    bed_days = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="occupied bed-days")
    capacity = serializers.IntegerField(help_text="beds in service (today's count)")
    occupancy_pct = serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True)


class LengthOfStayRowSerializer(serializers.Serializer):
    ward_id = serializers.IntegerField(allow_null=True, help_text="null: all wards")
    ward = serializers.CharField()
    discharges = serializers.IntegerField()
    mean_days = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    median_days = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)


class AdmissionsDayRowSerializer(serializers.Serializer):
    day = serializers.DateField()
    admissions = serializers.IntegerField()
    discharges = serializers.IntegerField()


class EdWaitRowSerializer(serializers.Serializer):
    esi_level = serializers.IntegerField()
    seen = serializers.IntegerField()
    median_minutes = serializers.DecimalField(max_digits=10, decimal_places=1, allow_null=True)
    p90_minutes = serializers.DecimalField(max_digits=10, decimal_places=1, allow_null=True)
    not_seen = serializers.IntegerField()


PERIOD_PARAMS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="first day (default: 29 days before end)"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="last day, inclusive (default: today)"),
    OpenApiParameter("format", str, enum=["json", "csv"], description="csv: a CSV download."),
]


def _report_schema(name: str, row_serializer, extra=()):
    """The OpenAPI description of one report: {start, end, rows: [row]} as JSON, text/csv on request."""
    envelope = inline_serializer(
        name=f"InpatientReport{''.join(p.capitalize() for p in name.split('_'))}",
        fields={
            "start": serializers.DateField(),
            "end": serializers.DateField(),
            "rows": row_serializer(many=True),
        },
    )
    return extend_schema(
        operation_id=f"reports_inpatient_{name}",
        parameters=[*PERIOD_PARAMS, *extra],
        responses={
            (200, "application/json"): envelope,
            (200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description="with ?format=csv"),
            400: OpenApiResponse(description="bad start/end/ward (field errors)"),
        },
    )


class _ReportApi(GenericAPIView):
    permission_classes = (HasRole,)
    allowed_roles = {"GET": REPORT_ROLES}
    pagination_class = None
    renderer_classes = (JSONRenderer, BrowsableAPIRenderer, CSVRenderer)
    queryset = Location.objects.none()
    filename = "report"
    row_serializer = serializers.Serializer

    def compute(self, params) -> list:
        raise NotImplementedError

    def to_csv(self, rows) -> str:
        raise NotImplementedError

    def get(self, request):
        query = PeriodQuery(
            data={k: v for k, v in request.query_params.items() if k in ("start", "end", "ward")}
        )
        query.is_valid(raise_exception=True)
        params = query.validated_data
        rows = self.compute(params)
        if getattr(request.accepted_renderer, "format", "") == "csv":
            response = HttpResponse(self.to_csv(rows), content_type="text/csv; charset=utf-8")
            name = f"{self.filename}-{params['start']:%Y%m%d}-{params['end']:%Y%m%d}.csv"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            return response
        return Response(
            {
                "start": params["start"].isoformat(),
                "end": params["end"].isoformat(),
                "rows": self.row_serializer(rows, many=True).data,
            }
        )


class OccupancyReportApi(_ReportApi):
    """GET: occupied bed-days and occupancy % per ward and day."""

    filename = "occupancy"
    row_serializer = OccupancyRowSerializer
    serializer_class = OccupancyRowSerializer

    def compute(self, params):
        ward = params.get("ward")
        return reports.occupancy_by_ward_day(
            params["start"], params["end"], ward_ids=[ward] if ward else None
        )

    def to_csv(self, rows):
        return reports.occupancy_csv(rows)

    @_report_schema("occupancy", OccupancyRowSerializer, [OpenApiParameter("ward", int)])
    def get(self, request):
        return super().get(request)


class LengthOfStayReportApi(_ReportApi):
    """GET: mean and median length of stay of the admissions discharged in the period."""

    filename = "length-of-stay"
    row_serializer = LengthOfStayRowSerializer
    serializer_class = LengthOfStayRowSerializer

    def compute(self, params):
        return reports.length_of_stay(params["start"], params["end"])

    def to_csv(self, rows):
        return reports.length_of_stay_csv(rows)

    @_report_schema("length_of_stay", LengthOfStayRowSerializer)
    def get(self, request):
        return super().get(request)


class AdmissionsReportApi(_ReportApi):
    """GET: admissions and discharges per day."""

    filename = "admissions"
    row_serializer = AdmissionsDayRowSerializer
    serializer_class = AdmissionsDayRowSerializer

    def compute(self, params):
        return reports.admissions_per_day(params["start"], params["end"])

    def to_csv(self, rows):
        return reports.admissions_csv(rows)

    @_report_schema("admissions", AdmissionsDayRowSerializer)
    def get(self, request):
        return super().get(request)


class EdWaitsReportApi(_ReportApi):
    """GET: door-to-doctor minutes per ESI level."""

    filename = "ed-waits"
    row_serializer = EdWaitRowSerializer
    serializer_class = EdWaitRowSerializer

    def compute(self, params):
        return reports.ed_waits_by_esi(params["start"], params["end"])

    def to_csv(self, rows):
        return reports.ed_waits_csv(rows)

    @_report_schema("ed_waits", EdWaitRowSerializer)
    def get(self, request):
        return super().get(request)
