"""Reads the portal pages make, built only on the scoped selectors of `hms.patients.selectors`.

Nothing here decides who may see what: `patients_visible`, `patient_get*` and `clinical_records` do.
Every section is limited (the chart of a patient with 1,000 encounters stays fast) and loads its
related rows with `select_related` (no N+1). The views write the AuditEvents.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, Max, Min, Q, QuerySet
from django.utils import timezone

from hms.clinical.models import (
    AllergyIntolerance,
    Condition,
    Encounter,
    Immunization,
    Observation,
    Procedure,
)
from hms.core import codes
from hms.patients.models import Patient
from hms.patients.selectors import clinical_records, patient_search, patients_visible
from hms.pharmacy.models import MedicationRequest

from .charts import line_chart_svg

SEARCH_LIMIT = 25
TIMELINE_PAGE_SIZE = 20
SECTION_LIMIT = 50
CHART_POINTS = 120
# UCUM units as people read them on a chart.
_UCUM_DISPLAY = {"mm[Hg]": "mmHg", "kg/m2": "kg/m²", "Cel": "°C", "[degF]": "°F", "{score}": "", "1": ""}


def unit_display(unit: str) -> str:
    """A UCUM unit shown to people: `mm[Hg]` -> `mmHg`, `kg/m2` -> `kg/m²`, `Cel` -> `°C`."""
    return _UCUM_DISPLAY.get(unit or "", unit or "")


ACTIVE_CONDITION_STATUSES = ("active", "recurrence", "relapse")
INACTIVE_ALLERGY_STATUSES = ("inactive", "resolved")


def patients_matching(user, query: str, *, limit: int = SEARCH_LIMIT) -> list[Patient]:
    """Patients visible to `user` matching the search box `query` (the rule of
    `hms.patients.selectors.patient_search`: name prefixes, MRN, phone, date of birth), at most `limit`.
    A malformed date matches nobody."""
    try:
        return list(patient_search(user, query)[:limit])
    except ValidationError:
        return []


def patients_in_care(user, *, limit: int = 50) -> tuple[list[Patient], int]:
    """The patients `user` may see (for a clinician: those in their care), each annotated with
    `last_encounter_at` (latest start ≤ now) and `next_encounter_at` (earliest start > now), both aware
    datetimes or None. Ordered by next encounter, then most recent. Returns (first `limit`, total)."""
    now = timezone.now()
    live = Q(encounters__deleted_at__isnull=True)
    qs = patients_visible(user)
    rows = list(
        qs.annotate(
            last_encounter_at=Max(
                "encounters__period_start", filter=live & Q(encounters__period_start__lte=now)
            ),
            next_encounter_at=Min(
                "encounters__period_start", filter=live & Q(encounters__period_start__gt=now)
            ),
        ).order_by(
            F("next_encounter_at").asc(nulls_last=True),
            F("last_encounter_at").desc(nulls_last=True),
            "family_name",
            "id",
        )[:limit]
    )
    total = len(rows) if len(rows) < limit else qs.count()
    return rows, total


@dataclass
class TimelinePage:
    """One page of the encounter timeline: `encounters` newest first; `next_page` is None on the last."""

    encounters: list[Encounter]
    page: int
    next_page: int | None


def encounter_timeline(
    user, patient: Patient, *, page: int = 1, per_page: int = TIMELINE_PAGE_SIZE
) -> TimelinePage:
    """Page `page` (1-based) of `patient`'s encounters, newest first, with practitioner and organization.
    Fetches one row more than a page to know whether another page exists (no COUNT)."""
    page = max(1, page)
    offset = (page - 1) * per_page
    qs = (
        clinical_records(user, Encounter, patient=patient)
        .select_related("practitioner", "organization")
        .order_by("-period_start", "-id")
    )
    rows = list(qs[offset : offset + per_page + 1])
    has_more = len(rows) > per_page
    return TimelinePage(encounters=rows[:per_page], page=page, next_page=page + 1 if has_more else None)


class AllergyList(list):
    """The allergies the banner lists (a list of AllergyIntolerance), with `status`: "present",
    "none-known" ("No known allergies" recorded, SNOMED CT 716186003) or "unknown" (not yet asked).
    See `hms.clinical.allergies`."""

    status: str = "unknown"


def _allergy_list(qs: QuerySet) -> AllergyList:
    from hms.clinical.allergies import STATUS_NONE_KNOWN, STATUS_PRESENT, STATUS_UNKNOWN, is_no_known_allergy

    rows = list(
        qs.exclude(clinical_status__in=INACTIVE_ALLERGY_STATUSES).order_by("code_display", "id")[
            :SECTION_LIMIT
        ]
    )
    real = AllergyList(a for a in rows if not is_no_known_allergy(a))
    real.sort(key=lambda a: (a.criticality != "high", a.code_display.casefold()))
    if real:
        real.status = STATUS_PRESENT
    elif len(rows) > len(real):
        real.status = STATUS_NONE_KNOWN
    else:
        real.status = STATUS_UNKNOWN
    return real


def allergies_active(user, patient: Patient) -> AllergyList:
    """Allergies and intolerances not marked inactive or resolved, most critical first, with the allergy
    `status` (an `AllergyList`); a "No known allergy" record is not listed, it sets the status."""
    return _allergy_list(clinical_records(user, AllergyIntolerance, patient=patient))


def allergy_banner(user, patient: Patient) -> AllergyList | None:
    """What the banner shows for `user`: `allergies_active` for anyone who may read the patient's
    allergies (clinicians in care, the patient, and pharmacists: `hms.clinical.allergies`), else None."""
    from hms.clinical.allergies import allergies_visible, can_read_allergies

    if not can_read_allergies(user, patient):
        return None
    return _allergy_list(allergies_visible(user, patient=patient).order_by())


@dataclass
class Limited:
    """A section's first rows (`rows`) and how many exist in all (`total`)."""

    rows: list
    total: int

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.rows))


def _limited(qs: QuerySet, limit: int = SECTION_LIMIT) -> Limited:
    rows = list(qs[:limit])
    total = len(rows) if len(rows) < limit else qs.count()
    return Limited(rows=rows, total=total)


# Blood-pressure panels whose components hold systolic/diastolic: 85354-9 (current LOINC panel) and
# 55284-4 ("Blood pressure systolic and diastolic", used by Synthea).
BLOOD_PRESSURE_PANELS = codes.BLOOD_PRESSURE_PANELS
LOINC_ORAL_TEMPERATURE = codes.LOINC_ORAL_TEMPERATURE
LOINC_PAIN_SCORE = "72514-3"
# Vital signs shown as latest value only: (label, LOINC codes).
LATEST_ONLY_VITALS = (
    ("Heart rate", (codes.LOINC_HEART_RATE,)),
    ("Respiratory rate", (codes.LOINC_RESPIRATORY_RATE,)),
    ("Temperature", (codes.LOINC_BODY_TEMPERATURE, LOINC_ORAL_TEMPERATURE)),
    ("Height", (codes.LOINC_BODY_HEIGHT,)),
    ("Pain score (0-10)", (LOINC_PAIN_SCORE,)),
)


@dataclass
class VitalSign:
    """The latest value of one vital sign: `label`, `value` (display text with unit), `at` (aware)."""

    label: str
    value: str
    at: dt.datetime | None


@dataclass
class Vitals:
    """`latest`: list[VitalSign] in display order; `charts`: list of (title, inline SVG markup)."""

    latest: list[VitalSign] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)


def _component_value(components: list, loinc: str) -> Decimal | None:
    for comp in components or []:
        if comp.get("code") == loinc and comp.get("value") is not None:
            try:
                return Decimal(str(comp["value"]))
            except (ArithmeticError, ValueError):
                return None
    return None


def _fmt(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.1')).normalize():f}"


def vitals(user, patient: Patient, *, points: int = CHART_POINTS, with_charts: bool = True) -> Vitals:
    """Latest vital signs and charts over time (newest `points` measurements of each).

    Charts: blood pressure (systolic LOINC 8480-6 and diastolic 8462-4, the components of panel
    85354-9 or of the older panel 55284-4 that Synthea writes), body weight (29463-7) and BMI (39156-5).
    Latest values also list heart rate, respiratory rate, temperature (8310-5 or oral 8331-1), height
    and pain score; `with_charts=False` skips drawing. Times are shown in `settings.HOSPITAL_TIME_ZONE`.
    """
    tz = zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)
    base = clinical_records(user, Observation, patient=patient)

    def series(codes_: tuple[str, ...], n: int):
        return list(
            base.filter(code__in=codes_)
            .order_by("-effective_at", "-id")
            .values_list("effective_at", "value_quantity", "value_unit", "components")[:n]
        )

    out = Vitals()
    bp = series(BLOOD_PRESSURE_PANELS, points)
    weight = series((codes.LOINC_BODY_WEIGHT,), points)
    bmi = series((codes.LOINC_BMI,), points)
    singles = [(label, series(loincs, 1)) for label, loincs in LATEST_ONLY_VITALS]

    systolic, diastolic = [], []
    for at, _value, _unit, comps in bp:
        if at is None:
            continue
        sys_v, dia_v = (
            _component_value(comps, codes.LOINC_SYSTOLIC),
            _component_value(comps, codes.LOINC_DIASTOLIC),
        )
        if sys_v is not None:
            systolic.append((at.astimezone(tz), float(sys_v)))
        if dia_v is not None:
            diastolic.append((at.astimezone(tz), float(dia_v)))
    if bp:
        at, _v, _u, comps = bp[0]
        sys_v, dia_v = (
            _component_value(comps, codes.LOINC_SYSTOLIC),
            _component_value(comps, codes.LOINC_DIASTOLIC),
        )
        # Blood pressure is read in whole mmHg.
        sys_t = f"{sys_v.quantize(Decimal('1'))}" if sys_v is not None else "-"
        dia_t = f"{dia_v.quantize(Decimal('1'))}" if dia_v is not None else "-"
        text = f"{sys_t}/{dia_t} mmHg"
        out.latest.append(VitalSign("Blood pressure", text, at))

    def quantity_latest(label, rows):
        if rows and rows[0][1] is not None:
            at, value, unit, _c = rows[0]
            out.latest.append(VitalSign(label, f"{_fmt(value)} {unit_display(unit)}".strip(), at))

    quantity_latest("Weight", weight)
    quantity_latest("BMI", bmi)
    for label, rows in singles:
        quantity_latest(label, rows)

    if not with_charts:
        return out
    if systolic or diastolic:
        out.charts.append(
            (
                "Blood pressure",
                line_chart_svg(series=[("Systolic", systolic), ("Diastolic", diastolic)], unit="mmHg"),
            )
        )

    def quantity_chart(title, rows, default_unit):
        pts = [(at.astimezone(tz), float(v)) for at, v, _u, _c in rows if at is not None and v is not None]
        if pts:
            unit = next((u for _a, _v, u, _c in rows if u), default_unit)
            out.charts.append((title, line_chart_svg(series=[(title, pts)], unit=unit_display(unit))))

    quantity_chart("Body weight", weight, "kg")
    quantity_chart("BMI", bmi, "kg/m2")
    return out


def chart_sections(user, patient: Patient) -> dict:
    """Everything the chart page shows below the banner, for a user who may read the clinical record.

    Keys: `timeline` (TimelinePage), `conditions_active` (list), `conditions_resolved` (Limited),
    `medications_active` (list), `medications_other` (Limited), `vitals` (Vitals), `labs` (Limited of
    Observations, category laboratory, newest first), `immunizations` (Limited), `procedures` (Limited).
    """
    conditions = clinical_records(user, Condition, patient=patient)
    meds = clinical_records(user, MedicationRequest, patient=patient).select_related("requester")
    return {
        "timeline": encounter_timeline(user, patient),
        "conditions_active": list(
            conditions.filter(clinical_status__in=ACTIVE_CONDITION_STATUSES).order_by(
                F("onset_at").desc(nulls_last=True), "-id"
            )[:100]
        ),
        "conditions_resolved": _limited(
            conditions.exclude(clinical_status__in=ACTIVE_CONDITION_STATUSES).order_by(
                F("abatement_at").desc(nulls_last=True), "-id"
            )
        ),
        "medications_active": list(
            meds.filter(status="active").order_by(F("authored_on").desc(nulls_last=True), "-id")[:100]
        ),
        "medications_other": _limited(
            meds.exclude(status="active").order_by(F("authored_on").desc(nulls_last=True), "-id")
        ),
        "vitals": vitals(user, patient),
        "labs": _limited(
            clinical_records(user, Observation, patient=patient)
            .filter(category="laboratory")
            .order_by(F("effective_at").desc(nulls_last=True), "-id"),
            limit=60,
        ),
        "immunizations": _limited(
            clinical_records(user, Immunization, patient=patient).order_by(
                F("occurrence_at").desc(nulls_last=True), "-id"
            )
        ),
        "procedures": _limited(
            clinical_records(user, Procedure, patient=patient).order_by(
                F("performed_start").desc(nulls_last=True), "-id"
            )
        ),
    }


def chart_summary(user, patient: Patient) -> dict:
    """The short summary of a patient's own home page (/me/): active problems and medications, latest
    vitals (no charts) and the five most recent encounters."""
    return {
        "conditions_active": list(
            clinical_records(user, Condition, patient=patient)
            .filter(clinical_status__in=ACTIVE_CONDITION_STATUSES)
            .order_by(F("onset_at").desc(nulls_last=True), "-id")[:20]
        ),
        "medications_active": list(
            clinical_records(user, MedicationRequest, patient=patient)
            .filter(status="active")
            .select_related("requester")
            .order_by(F("authored_on").desc(nulls_last=True), "-id")[:20]
        ),
        "timeline": encounter_timeline(user, patient, per_page=5),
        "vitals": vitals(user, patient, points=1, with_charts=False),
    }
