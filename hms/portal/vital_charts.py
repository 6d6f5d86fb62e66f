"""Vital-sign and daily-report charts and tables for the portal, drawn server-side with pygal
(`hms.portal.charts.line_chart_svg`: inline SVG, no JavaScript).

Reads only through the scoped selectors (`hms.clinical.selectors.patient_records`, which raises 404 outside
the user's clinical scope). Each vital is read with one query limited to its newest `points` rows, so a
patient with years of measurements costs the same: one query per vital. New entries (`hms.clinical.vitals`)
and Synthea imports chart together because both use the LOINC codes of `vitals.CHART_CODES`.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from hms.clinical import vitals as vs
from hms.clinical.models import DailyHealthReport, Observation
from hms.clinical.selectors import patient_records
from hms.core import codes

from .charts import line_chart_svg

CHART_POINTS = 120
_SEVERITY = {"": 0, "N": 0, "L": 1, "H": 1, "LL": 2, "HH": 2}
FLAG_LABELS = {"N": "Normal", "L": "Low", "H": "High", "LL": "Critical low", "HH": "Critical high"}

# (key of CHART_CODES, title, spec used for units and ranges)
CHARTED = (
    ("blood_pressure", "Blood pressure", vs.SYSTOLIC),
    ("heart_rate", "Heart rate", vs.HEART_RATE),
    ("respiratory_rate", "Respiratory rate", vs.RESPIRATORY_RATE),
    ("temperature", "Body temperature", vs.TEMPERATURE),
    ("spo2", "Oxygen saturation (SpO2)", vs.SPO2),
    ("weight", "Body weight", vs.WEIGHT),
    ("height", "Body height", vs.HEIGHT),
    ("bmi", "Body mass index", vs.BMI),
    ("pain", "Pain score", vs.PAIN),
    ("glucose", "Blood glucose (home)", vs.GLUCOSE),
)


@dataclass
class LatestVital:
    """One row of the latest-values table: `value` display text with unit, `flag` v3 code or ""."""

    key: str
    label: str
    value: str
    flag: str
    reference: str
    at: dt.datetime | None
    observation_id: int

    @property
    def flag_label(self) -> str:
        return FLAG_LABELS.get(self.flag, "")

    @property
    def abnormal(self) -> bool:
        return self.flag not in ("", "N")


@dataclass
class VitalChart:
    key: str
    title: str
    svg: str
    count: int


def _zone():
    return zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)


def _component(components, loinc) -> Decimal | None:
    for comp in components or []:
        if comp.get("code") == loinc and comp.get("value") is not None:
            try:
                return Decimal(str(comp["value"]))
            except ArithmeticError:
                return None
    return None


def _num(value: Decimal, decimals: int) -> str:
    q = value.quantize(Decimal(1).scaleb(-decimals)) if decimals else value.quantize(Decimal(1))
    return f"{q:f}"


def _reference(spec: vs.VitalSpec) -> str:
    unit = f" {spec.unit_display}" if spec.unit_display else ""
    if spec.ref_low is not None and spec.ref_high is not None:
        return f"{_num(spec.ref_low, spec.decimals)}-{_num(spec.ref_high, spec.decimals)}{unit}"
    if spec.ref_low is not None:
        return f"≥ {_num(spec.ref_low, spec.decimals)}{unit}"
    if spec.ref_high is not None:
        return f"≤ {_num(spec.ref_high, spec.decimals)}{unit}"
    return ""


def _flag(row: Observation, spec: vs.VitalSpec, value: Decimal | None) -> str:
    """The stored flag; imported rows without one are flagged now against the same table."""
    if row.interpretation:
        return row.interpretation
    return spec.interpret(value) if value is not None else ""


def vitals_overview(user, patient, *, points: int = CHART_POINTS, with_charts: bool = True):
    """(latest: list[LatestVital], charts: list[VitalChart]) for `patient` as `user` may read them.

    Blood pressure: systolic and diastolic on one chart (components 8480-6 / 8462-4 of panel 85354-9 or
    Synthea's 55284-4), flagged by the worse of the two. Raises `NotFoundOrForbidden` outside the scope.
    """
    base = patient_records(user=user, patient=patient, model=Observation)
    tz = _zone()
    latest, charts = [], []
    for key, title, spec in CHARTED:
        rows = list(
            base.filter(code__in=vs.CHART_CODES[key], effective_at__isnull=False).order_by(
                "-effective_at", "-id"
            )[:points]
        )
        if not rows:
            continue
        newest = rows[0]
        if key == "blood_pressure":
            sys_v = _component(newest.components, codes.LOINC_SYSTOLIC)
            dia_v = _component(newest.components, codes.LOINC_DIASTOLIC)
            flags = [
                vs.SYSTOLIC.interpret(sys_v) if sys_v is not None else "",
                vs.DIASTOLIC.interpret(dia_v) if dia_v is not None else "",
            ]
            flag = newest.interpretation or max(flags, key=lambda f: (_SEVERITY[f], bool(f)))
            sys_t = _num(sys_v, 0) if sys_v is not None else "-"
            dia_t = _num(dia_v, 0) if dia_v is not None else "-"
            text = f"{sys_t}/{dia_t} mmHg"
            reference = f"{_reference(vs.SYSTOLIC).removesuffix(' mmHg')}/{_reference(vs.DIASTOLIC)}"
        else:
            value = newest.value_quantity
            if value is None:
                continue
            flag = _flag(newest, spec, value)
            unit = f" {spec.unit_display}" if spec.unit_display else ""
            text = f"{_num(value, spec.decimals)}{unit}"
            reference = _reference(spec)
        latest.append(LatestVital(key, title, text, flag, reference, newest.effective_at, newest.pk))
        if not with_charts:
            continue
        if key == "blood_pressure":
            systolic = [
                (r.effective_at.astimezone(tz), float(v))
                for r in rows
                if (v := _component(r.components, codes.LOINC_SYSTOLIC)) is not None
            ]
            diastolic = [
                (r.effective_at.astimezone(tz), float(v))
                for r in rows
                if (v := _component(r.components, codes.LOINC_DIASTOLIC)) is not None
            ]
            svg = line_chart_svg(
                series=[("Systolic", systolic), ("Diastolic", diastolic)],
                unit="mmHg",
                x_format=_x_format(systolic + diastolic),
                y_range=_y_range([v for _t, v in systolic + diastolic], vs.SYSTOLIC, vs.DIASTOLIC),
            )
        else:
            pts = [
                (r.effective_at.astimezone(tz), float(r.value_quantity))
                for r in rows
                if r.value_quantity is not None
            ]
            svg = line_chart_svg(
                series=[(title, pts)],
                unit=spec.unit_display,
                x_format=_x_format(pts),
                y_range=_y_range([v for _t, v in pts], spec) if pts else None,
            )
        charts.append(VitalChart(key, title, svg, len(rows)))
    return latest, charts


def _x_format(points) -> str:
    """Day and month when the points span less than ~4 months (month labels would repeat), else month and
    year."""
    times = [t for t, _v in points]
    if times and max(times) - min(times) < dt.timedelta(days=120):
        return "%d %b"
    return "%b %Y"


def _y_range(values: list[float], *specs: vs.VitalSpec) -> tuple[float, float]:
    """The value axis: the data and the reference limits (so the normal band is in view), padded 10 %."""
    bounds = list(values)
    for spec in specs:
        bounds += [float(x) for x in (spec.ref_low, spec.ref_high) if x is not None]
    low, high = min(bounds), max(bounds)
    pad = max((high - low) * 0.1, abs(high) * 0.05, 1.0)
    return max(low - pad, 0.0), high + pad


def rating_chart_svg(reports: list[DailyHealthReport]) -> str:
    """The daily rating (1-10) over the given reports (oldest first), one point per day at local noon."""
    tz = _zone()
    pts = [(dt.datetime.combine(r.report_date, dt.time(12), tzinfo=tz), float(r.rating)) for r in reports]
    return line_chart_svg(series=[("Rating", pts)], unit="rating (1-10)", x_format="%d %b", y_range=(0, 10))
