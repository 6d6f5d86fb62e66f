"""Inpatient and emergency-department reports: aggregate numbers only, no patient is named.

Days are calendar days in the hospital's zone (`settings.HOSPITAL_TIME_ZONE`); a period is
[`start`, `end`] inclusive, at most `MAX_DAYS` (366) days (`report_period` raises ValidationError, 400).

- `occupancy_by_ward_day`: for each active ward and day, occupied bed-days = the hours of every
  `BedStay` of the ward's beds that overlap the day (an open stay runs until now) / 24, as a Decimal with
  two places; capacity = the ward's active beds not out of service today (bed availability is not kept
  as history, so past days use today's count: documented limitation); occupancy % = bed-days / capacity x
  100, one place, ROUND_HALF_UP (the "average daily occupied beds / available beds" of NHS England's
  KH03 bed availability and occupancy return, computed from the stays rather than a midnight count).
- `length_of_stay`: admissions discharged in the period (status discharged, not soft-deleted): count,
  mean and median length of stay in days (discharged_at - admitted_at, exact, then rounded to two places),
  overall and per ward (the ward at discharge).
- `admissions_per_day`: per day, admissions (admitted_at in the day; cancelled, entered-in-error and
  soft-deleted ones left out) and discharges (discharged_at in the day, status discharged).
- `ed_waits_by_esi`: ED visits that arrived in the period and have an ESI level (1-5), door-to-doctor
  time = doctor_seen_at - arrived_at in minutes: count seen, median, 90th percentile (nearest-rank
  method: the smallest wait with at least 90% of the waits at or below it), and the visits not seen by
  a doctor (yet, or left). Levels: Emergency Severity Index v4 (AHRQ/ENA implementation handbook).

Each report has a `*_csv` twin (header row, one row per line; cells that could start a spreadsheet
formula are neutralised as in `hms.inventory.selectors`). Charts (`*_chart_svg`) are pygal SVG without
any script (see `hms.portal.charts`).
"""

import csv
import datetime as dt
import io
import math
import statistics
import zoneinfo
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pygal
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from hms.portal.charts import _COMMENT, _SCRIPT, _STYLE

from .models import Admission, AdmissionStatus, BedStatus, BedStay, Location, PhysicalType

MAX_DAYS = 366
DEFAULT_DAYS = 30
ESI_LEVELS = (1, 2, 3, 4, 5)
TWO = Decimal("0.01")
ONE = Decimal("0.1")


def _zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)


def hospital_today(now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(_zone()).date()


def day_start(day: dt.date) -> dt.datetime:
    """Midnight starting `day` in the hospital's zone, as an aware datetime."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=_zone())


def days_of(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def report_period(start=None, end=None, *, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """Parse a period from two ISO dates (strings or dates; empty = default: the `DEFAULT_DAYS` days ending
    today). Raises ValidationError {field: message} for a malformed date, end before start, or more than
    `MAX_DAYS` days (the API and the page answer 400)."""
    today = today or hospital_today()

    def parse(value, field):
        if value in (None, ""):
            return None
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError({field: "Enter a date as YYYY-MM-DD."}) from None

    start_d, end_d = parse(start, "start"), parse(end, "end")
    end_d = end_d or (today if start_d is None else min(today, start_d + dt.timedelta(days=DEFAULT_DAYS - 1)))
    start_d = start_d or end_d - dt.timedelta(days=DEFAULT_DAYS - 1)
    if end_d < start_d:
        raise ValidationError({"end": "The end date is before the start date."})
    if (end_d - start_d).days + 1 > MAX_DAYS:
        raise ValidationError({"end": f"A report covers at most {MAX_DAYS} days."})
    return start_d, end_d


def _pct(part: Decimal, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (part * 100 / Decimal(whole)).quantize(ONE, rounding=ROUND_HALF_UP)


def _days_decimal(seconds: float | int) -> Decimal:
    return (Decimal(seconds) / Decimal(86400)).quantize(TWO, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- occupancy


@dataclass(frozen=True)
class OccupancyRow:
    ward_id: int
    ward: str
    day: dt.date
    bed_days: Decimal
    capacity: int
    occupancy_pct: Decimal | None


def _ward_of_beds(ward_ids: list[int]) -> dict[int, int]:
    """bed id -> ward id, for the active beds under `ward_ids` (directly or through a room)."""
    out = {}
    beds = Location.objects.filter(physical_type=PhysicalType.BED).filter(
        Q(parent_id__in=ward_ids, parent__physical_type=PhysicalType.WARD)
        | Q(parent__parent_id__in=ward_ids, parent__physical_type=PhysicalType.ROOM)
    )
    for bed_id, parent_id, parent_type, grand_id in beds.values_list(
        "pk", "parent_id", "parent__physical_type", "parent__parent_id"
    ):
        out[bed_id] = parent_id if parent_type == PhysicalType.WARD else grand_id
    return out


def occupancy_by_ward_day(
    start: dt.date, end: dt.date, *, ward_ids: list[int] | None = None, now: dt.datetime | None = None
) -> list[OccupancyRow]:
    """Occupied bed-days and occupancy per active ward and day (see the module docstring), ordered by
    ward then day. Two queries plus one per ward for capacity at most (one in all)."""
    now = now or timezone.now()
    wards = Location.objects.filter(physical_type=PhysicalType.WARD, active=True).order_by(
        "sort_order", "name", "id"
    )
    if ward_ids is not None:
        wards = wards.filter(pk__in=ward_ids)
    wards = list(wards)
    bed_ward = _ward_of_beds([w.pk for w in wards])
    capacity: dict[int, int] = {}
    for bed_id, status, active in Location.objects.filter(pk__in=list(bed_ward)).values_list(
        "pk", "status", "active"
    ):
        if active and status != BedStatus.OUT_OF_SERVICE:
            capacity[bed_ward[bed_id]] = capacity.get(bed_ward[bed_id], 0) + 1
    lo, hi = day_start(start), day_start(end + dt.timedelta(days=1))
    stays = BedStay.objects.filter(bed_id__in=list(bed_ward), start__lt=hi).filter(
        Q(end__isnull=True) | Q(end__gt=lo)
    )
    days = days_of(start, end)
    bounds = [(day_start(d), day_start(d + dt.timedelta(days=1))) for d in days]
    seconds: dict[tuple[int, int], float] = {}
    for bed_id, s_start, s_end in stays.values_list("bed_id", "start", "end"):
        ward_id = bed_ward[bed_id]
        s_end = s_end or now
        for i, (d0, d1) in enumerate(bounds):
            overlap = (min(s_end, d1) - max(s_start, d0)).total_seconds()
            if overlap > 0:
                seconds[(ward_id, i)] = seconds.get((ward_id, i), 0) + overlap
    rows = []
    for ward in wards:
        cap = capacity.get(ward.pk, 0)
        for i, day in enumerate(days):
            bed_days = _days_decimal(seconds.get((ward.pk, i), 0))
            rows.append(OccupancyRow(ward.pk, ward.name, day, bed_days, cap, _pct(bed_days, cap)))
    return rows


# ---------------------------------------------------------------- length of stay


@dataclass(frozen=True)
class LengthOfStayRow:
    ward_id: int | None  # None: every ward
    ward: str
    discharges: int
    mean_days: Decimal | None
    median_days: Decimal | None


def _discharged(start: dt.date, end: dt.date):
    return Admission.objects.filter(
        status=AdmissionStatus.DISCHARGED,
        deleted_at__isnull=True,
        discharged_at__gte=day_start(start),
        discharged_at__lt=day_start(end + dt.timedelta(days=1)),
    )


def _los_row(ward_id, ward, seconds: list[float]) -> LengthOfStayRow:
    if not seconds:
        return LengthOfStayRow(ward_id, ward, 0, None, None)
    return LengthOfStayRow(
        ward_id,
        ward,
        len(seconds),
        _days_decimal(Decimal(sum(seconds)) / len(seconds)),
        _days_decimal(statistics.median(seconds)),
    )


def length_of_stay(start: dt.date, end: dt.date) -> list[LengthOfStayRow]:
    """Average (mean) and median length of stay of the admissions discharged in [start, end]: first the
    row of every ward ("All wards"), then one row per ward with discharges, by ward name."""
    by_ward: dict[int, list[float]] = {}
    names: dict[int, str] = {}
    for ward_id, ward_name, admitted, discharged in _discharged(start, end).values_list(
        "ward_id", "ward__name", "admitted_at", "discharged_at"
    ):
        by_ward.setdefault(ward_id, []).append(max(0.0, (discharged - admitted).total_seconds()))
        names[ward_id] = ward_name
    every = [s for values in by_ward.values() for s in values]
    rows = [_los_row(None, "All wards", every)]
    for ward_id in sorted(by_ward, key=lambda w: (names[w], w)):
        rows.append(_los_row(ward_id, names[ward_id], by_ward[ward_id]))
    return rows


# ---------------------------------------------------------------- admissions and discharges


@dataclass(frozen=True)
class AdmissionsDayRow:
    day: dt.date
    admissions: int
    discharges: int


def admissions_per_day(start: dt.date, end: dt.date) -> list[AdmissionsDayRow]:
    """Admissions and discharges per day of [start, end], every day listed (zeros included)."""
    lo, hi = day_start(start), day_start(end + dt.timedelta(days=1))
    zone = _zone()
    admitted: dict[dt.date, int] = {}
    for at in (
        Admission.objects.filter(deleted_at__isnull=True, admitted_at__gte=lo, admitted_at__lt=hi)
        .exclude(status__in=[AdmissionStatus.CANCELLED, AdmissionStatus.ENTERED_IN_ERROR])
        .values_list("admitted_at", flat=True)
    ):
        day = at.astimezone(zone).date()
        admitted[day] = admitted.get(day, 0) + 1
    discharged: dict[dt.date, int] = {}
    for at in _discharged(start, end).values_list("discharged_at", flat=True):
        day = at.astimezone(zone).date()
        discharged[day] = discharged.get(day, 0) + 1
    return [AdmissionsDayRow(d, admitted.get(d, 0), discharged.get(d, 0)) for d in days_of(start, end)]


# ---------------------------------------------------------------- ED waiting times


@dataclass(frozen=True)
class EdWaitRow:
    esi_level: int
    seen: int
    median_minutes: Decimal | None
    p90_minutes: Decimal | None
    not_seen: int


def nearest_rank(values: list[float], pct: int) -> float:
    """The `pct`-th percentile by the nearest-rank method: sorted values, rank ceil(pct/100 x n)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct * len(ordered) / 100))
    return ordered[rank - 1]


def _minutes(seconds: float) -> Decimal:
    return (Decimal(seconds) / 60).quantize(ONE, rounding=ROUND_HALF_UP)


def ed_waits_by_esi(start: dt.date, end: dt.date) -> list[EdWaitRow]:
    """Door-to-doctor times per ESI level (1-5, every level listed) of the ED visits that arrived in
    [start, end] (see the module docstring)."""
    from hms.emergency.models import EdVisit

    waits: dict[int, list[float]] = {level: [] for level in ESI_LEVELS}
    not_seen: dict[int, int] = dict.fromkeys(ESI_LEVELS, 0)
    visits = EdVisit.objects.filter(
        esi_level__in=ESI_LEVELS,
        arrived_at__gte=day_start(start),
        arrived_at__lt=day_start(end + dt.timedelta(days=1)),
    )
    for level, arrived, seen in visits.values_list("esi_level", "arrived_at", "doctor_seen_at"):
        if seen is None:
            not_seen[level] += 1
        else:
            waits[level].append(max(0.0, (seen - arrived).total_seconds()))
    rows = []
    for level in ESI_LEVELS:
        values = waits[level]
        rows.append(
            EdWaitRow(
                level,
                len(values),
                _minutes(statistics.median(values)) if values else None,
                _minutes(nearest_rank(values, 90)) if values else None,
                not_seen[level],
            )
        )
    return rows


# ---------------------------------------------------------------- CSV


def _safe(value) -> str:
    """Neutralise spreadsheet formulas (OWASP "CSV injection"): a text cell starting with = + - @ gets a '."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r":
        try:
            Decimal(text)
        except Exception:
            return "'" + text
    return text


def _csv(header: list[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe(v) for v in row])
    return buffer.getvalue()


def occupancy_csv(rows: list[OccupancyRow]) -> str:
    return _csv(
        ["ward_id", "ward", "day", "occupied_bed_days", "capacity_beds", "occupancy_pct"],
        ([r.ward_id, r.ward, r.day.isoformat(), r.bed_days, r.capacity, r.occupancy_pct] for r in rows),
    )


def length_of_stay_csv(rows: list[LengthOfStayRow]) -> str:
    return _csv(
        ["ward_id", "ward", "discharges", "mean_los_days", "median_los_days"],
        ([r.ward_id, r.ward, r.discharges, r.mean_days, r.median_days] for r in rows),
    )


def admissions_csv(rows: list[AdmissionsDayRow]) -> str:
    return _csv(
        ["day", "admissions", "discharges"], ([r.day.isoformat(), r.admissions, r.discharges] for r in rows)
    )


def ed_waits_csv(rows: list[EdWaitRow]) -> str:
    return _csv(
        ["esi_level", "seen", "median_door_to_doctor_min", "p90_door_to_doctor_min", "not_seen"],
        ([r.esi_level, r.seen, r.median_minutes, r.p90_minutes, r.not_seen] for r in rows),
    )


# ---------------------------------------------------------------- charts


def _render(chart) -> str:
    svg = chart.render(is_unicode=True)
    return _COMMENT.sub("", _SCRIPT.sub("", svg))


def _chart_options(**extra) -> dict:
    return {
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 560,
        "height": 300,
        "style": _STYLE,
        "legend_at_bottom": True,
        "legend_box_size": 10,
        "truncate_label": -1,
        "margin": 6,
        "spacing": 8,
        "no_data_text": "No data",
        **extra,
    }


def _day_labels(days: list[dt.date]) -> tuple[list[str], list[str]]:
    labels = [d.strftime("%d %b") for d in days]
    step = max(1, len(days) // 6)
    return labels, labels[::step]


def occupancy_chart_svg(rows: list[OccupancyRow]) -> str:
    """Occupancy % per day, one line per ward."""
    days = sorted({r.day for r in rows})
    labels, major = _day_labels(days)
    chart = pygal.Line(
        **_chart_options(
            y_title="%", show_minor_x_labels=False, x_labels_major=major, dots_size=2, range=(0, 100)
        )
    )
    chart.x_labels = labels
    by_ward: dict[str, list] = {}
    for r in rows:
        by_ward.setdefault(r.ward, []).append(float(r.occupancy_pct) if r.occupancy_pct is not None else None)
    for ward, values in by_ward.items():
        chart.add(ward, values)
    return _render(chart)


def admissions_chart_svg(rows: list[AdmissionsDayRow]) -> str:
    """Admissions and discharges per day, as bars."""
    labels, major = _day_labels([r.day for r in rows])
    chart = pygal.Bar(**_chart_options(y_title="patients", show_minor_x_labels=False, x_labels_major=major))
    chart.x_labels = labels
    chart.add("Admissions", [r.admissions for r in rows])
    chart.add("Discharges", [r.discharges for r in rows])
    return _render(chart)


def ed_waits_chart_svg(rows: list[EdWaitRow]) -> str:
    """Median and 90th percentile door-to-doctor minutes per ESI level, as bars."""
    chart = pygal.Bar(**_chart_options(y_title="minutes"))
    chart.x_labels = [f"ESI {r.esi_level}" for r in rows]
    chart.add("Median", [float(r.median_minutes) if r.median_minutes is not None else None for r in rows])
    chart.add("90th percentile", [float(r.p90_minutes) if r.p90_minutes is not None else None for r in rows])
    return _render(chart)


def length_of_stay_chart_svg(rows: list[LengthOfStayRow]) -> str:
    """Mean length of stay per ward (days), as bars."""
    per_ward = [r for r in rows if r.ward_id is not None]
    chart = pygal.HorizontalBar(**_chart_options(y_title="days", show_legend=False))
    chart.x_labels = [r.ward for r in per_ward]
    chart.add(
        "Mean length of stay", [float(r.mean_days) if r.mean_days is not None else None for r in per_ward]
    )
    return _render(chart)
