"""Vital signs: the table of what we measure, validation, flags, and the `vitals_record` service.

Each vital sign is one FHIR R4 `Observation` with `category="vital-signs"`, its LOINC code and a UCUM unit,
following the FHIR R4 Vital Signs profile (https://hl7.org/fhir/R4/observation-vitalsigns.html), which is
also how the Synthea import stores them; so vitals entered here and imported ones chart together. Blood
pressure is ONE Observation, panel LOINC 85354-9, with two components (systolic 8480-6, diastolic 8462-4,
each `{"code", "system", "display", "value", "unit", "interpretation", "reference_low", "reference_high"}`).

Input (`values`, a dict; every key optional, at least one required; numbers as int, Decimal or numeric
string; JSON floats are read through `str()`):

| key | LOINC | unit (UCUM) | possible (else 400) | adult reference (N) | L / H | LL / HH (critical) |
|---|---|---|---|---|---|---|
| systolic | 8480-6 (in 85354-9) | mm[Hg] | 40-300, whole | 90-129 | <90 / 130-180 | <70 / >180 |
| diastolic | 8462-4 (in 85354-9) | mm[Hg] | 20-200, whole | 60-79 | <60 / 80-120 | <40 / >120 |
| heart_rate | 8867-4 | /min | 20-300, whole | 60-100 | <60 / >100 | <40 / >130 |
| respiratory_rate | 9279-1 | /min | 4-80, whole | 12-20 | <12 / >20 | <8 / >30 |
| temperature | 8310-5 | Cel | 25.0-45.0, 0.1 | 36.1-37.9 | <36.1 / >=38.0 | <35.0 / >=40.0 |
| spo2 | 59408-5 | % | 50-100, whole | 95-100 | <95 / - | <90 / - |
| weight | 29463-7 | kg | 0.5-650.0, 0.1 | (none) | | |
| height | 8302-2 | cm | 30.0-272.0, 0.1 | (none) | | |
| pain | 72514-3 | {score} | 0-10, whole | 0-3 | - / 4-6 | - / 7-10 |
| glucose (home reports only) | 41653-7 | mg/dL | 10-1000, whole | 70-180 | <70 / >180 | <54 / >300 |
| bmi (computed, never typed) | 39156-5 | kg/m2 | 0.1 | 18.5-24.9 | <18.5 / 25-39.9 | <16 / >=40 |

Sources of the ranges:
- Blood pressure: 2017 ACC/AHA Guideline for the Prevention, Detection, Evaluation, and Management of
  High Blood Pressure in Adults (Whelton et al., Hypertension 2018;71:e13-e115): normal <120/<80,
  elevated 120-129/<80, stage 1 130-139 or 80-89, stage 2 >=140 or >=90, hypertensive crisis >180
  and/or >120 (HH). We flag H from stage 1 (>=130 systolic, >=80 diastolic); "elevated" 120-129 stays N.
  Hypotension below 90/60 (L) and shock-level values below 70/40 (LL), as in common early-warning scores.
- Heart rate, respiratory rate, temperature, SpO2: standard adult ranges (e.g. Royal College of
  Physicians, National Early Warning Score 2 (NEWS2), 2017, whose score-3 bands are our critical
  limits: HR <=40 or >=131, RR <=8 or >=25 (we use >30 as critical), SpO2 <=91, temperature <=35.0
  or >=39.1) and the reference intervals of Harrison's Principles of Internal Medicine, 21st ed.
  Fever from 38.0 °C; hyperpyrexia from 40.0 °C.
- BMI: WHO classification of adult BMI (WHO Technical Report Series 894, 2000): <18.5 underweight,
  18.5-24.9 normal, 25-29.9 pre-obese, 30-39.9 obese class I-II, >=40 obese class III; <16 severe
  thinness. BMI = weight (kg) / height (m)^2, rounded to 0.1.
- Pain: the 0-10 Numeric Rating Scale (LOINC 72514-3) bands: 1-3 mild, 4-6 moderate, 7-10 severe
  (Serlin et al., Pain 1995;61:277-284; used by the WHO pain ladder).
- Capillary glucose: American Diabetes Association, Standards of Care in Diabetes 2024, section 6:
  targets 80-130 mg/dL before and <180 after meals; level 1 hypoglycaemia <70, level 2 <54 (LL);
  we flag >300 mg/dL as critical (HH), the usual threshold for checking ketones.
- Possible ranges are physiological limits wide enough for any living adult or child (e.g. the record
  heart rate of ~300 /min in infants and SVT): a value outside is a typing error and is refused.

Errors: `ValidationError` keyed by the input key, e.g. {"heart_rate": ["Heart rate must be between 20 and
300 /min."]} (400 through the API); `NotFoundOrForbidden` (404) when the writer may not write the chart.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core import codes

from .models import Encounter, Observation, ObservationInterpretation
from .services import clinical_write_check

VITAL_SIGNS_CATEGORY = "vital-signs"
LABORATORY_CATEGORY = "laboratory"
LOINC_SPO2 = "59408-5"  # Oxygen saturation in Arterial blood by Pulse oximetry
LOINC_SPO2_ALT = "2708-6"  # Oxygen saturation in Arterial blood (also accepted when charting)
LOINC_PAIN = "72514-3"  # Pain severity - 0-10 verbal numeric rating [Score] - Reported
LOINC_GLUCOSE_GLUCOMETER = "41653-7"  # Glucose [Mass/volume] in Capillary blood by Glucometer
# How far in the future a measurement time may be (clock skew between devices), and how far back.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
# Height older than this is not used to compute BMI from a new weight.
BMI_HEIGHT_MAX_AGE = dt.timedelta(days=365)

Flag = ObservationInterpretation


@dataclass(frozen=True)
class VitalSpec:
    """One vital sign: identity (LOINC, UCUM), what may be typed, and how it is flagged.

    `possible_low/high`: inclusive; outside → ValidationError. `decimals`: 0 = whole numbers only.
    `ref_low/high`: inclusive adult reference interval (N inside); `crit_low/high`: LL below crit_low,
    HH above crit_high (`crit_high_inclusive`: HH from crit_high itself). None = no such limit.
    """

    key: str
    label: str
    loinc: str
    display: str
    unit: str
    unit_display: str
    possible_low: Decimal
    possible_high: Decimal
    decimals: int = 0
    ref_low: Decimal | None = None
    ref_high: Decimal | None = None
    crit_low: Decimal | None = None
    crit_high: Decimal | None = None
    crit_high_inclusive: bool = False
    category: str = VITAL_SIGNS_CATEGORY
    typed: bool = True

    def range_text(self) -> str:
        """The possible range with units, e.g. "between 20 and 300 /min"."""
        unit = f" {self.unit_display}" if self.unit_display else ""
        return f"between {_fmt(self.possible_low)} and {_fmt(self.possible_high)}{unit}"

    def range_message(self) -> str:
        """The error for a value outside the possible range: "Heart rate must be between 20 and 300 /min."."""
        return f"{self.label} must be {self.range_text()}."

    def interpret(self, value: Decimal) -> str:
        """v3 ObservationInterpretation code for `value`, or "" when this vital has no reference range."""
        if self.ref_low is None and self.ref_high is None:
            return ""
        if self.crit_low is not None and value < self.crit_low:
            return Flag.CRITICAL_LOW
        if self.crit_high is not None and (
            value >= self.crit_high if self.crit_high_inclusive else value > self.crit_high
        ):
            return Flag.CRITICAL_HIGH
        if self.ref_low is not None and value < self.ref_low:
            return Flag.LOW
        if self.ref_high is not None and value > self.ref_high:
            return Flag.HIGH
        return Flag.NORMAL


D = Decimal

SYSTOLIC = VitalSpec(
    "systolic", "Systolic blood pressure", codes.LOINC_SYSTOLIC, "Systolic blood pressure", "mm[Hg]",
    "mmHg", D(40), D(300), 0, D(90), D(129), D(70), D(180),
)  # fmt: skip
DIASTOLIC = VitalSpec(
    "diastolic", "Diastolic blood pressure", codes.LOINC_DIASTOLIC, "Diastolic blood pressure", "mm[Hg]",
    "mmHg", D(20), D(200), 0, D(60), D(79), D(40), D(120),
)  # fmt: skip
HEART_RATE = VitalSpec(
    "heart_rate", "Heart rate", codes.LOINC_HEART_RATE, "Heart rate", "/min", "/min",
    D(20), D(300), 0, D(60), D(100), D(40), D(130),
)  # fmt: skip
RESPIRATORY_RATE = VitalSpec(
    "respiratory_rate", "Respiratory rate", codes.LOINC_RESPIRATORY_RATE, "Respiratory rate", "/min", "/min",
    D(4), D(80), 0, D(12), D(20), D(8), D(30),
)  # fmt: skip
TEMPERATURE = VitalSpec(
    "temperature", "Body temperature", codes.LOINC_BODY_TEMPERATURE, "Body temperature", "Cel", "°C",
    D("25.0"), D("45.0"), 1, D("36.1"), D("37.9"), D("35.0"), D("40.0"), crit_high_inclusive=True,
)  # fmt: skip
SPO2 = VitalSpec(
    "spo2", "Oxygen saturation (SpO2)", LOINC_SPO2,
    "Oxygen saturation in Arterial blood by Pulse oximetry", "%", "%", D(50), D(100), 0, D(95), None, D(90),
)  # fmt: skip
WEIGHT = VitalSpec(
    "weight", "Body weight", codes.LOINC_BODY_WEIGHT, "Body weight", "kg", "kg", D("0.5"), D("650.0"), 1,
)  # fmt: skip
HEIGHT = VitalSpec(
    "height", "Body height", codes.LOINC_BODY_HEIGHT, "Body height", "cm", "cm", D("30.0"), D("272.0"), 1,
)  # fmt: skip
PAIN = VitalSpec(
    "pain", "Pain score", LOINC_PAIN, "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
    "{score}", "", D(0), D(10), 0, None, D(3), None, D(7), crit_high_inclusive=True,
)  # fmt: skip
GLUCOSE = VitalSpec(
    "glucose", "Blood glucose", LOINC_GLUCOSE_GLUCOMETER,
    "Glucose [Mass/volume] in Capillary blood by Glucometer", "mg/dL", "mg/dL", D(10), D(1000), 0,
    D(70), D(180), D(54), D(300), category=LABORATORY_CATEGORY,
)  # fmt: skip
BMI = VitalSpec(
    "bmi", "Body mass index", codes.LOINC_BMI, "Body mass index (BMI) [Ratio]", "kg/m2", "kg/m²",
    D("1.0"), D("300.0"), 1, D("18.5"), D("24.9"), D("16.0"), D("40.0"),
    crit_high_inclusive=True, typed=False,
)  # fmt: skip

# Every vital, by input key, in display order.
VITALS: dict[str, VitalSpec] = {
    s.key: s
    for s in (SYSTOLIC, DIASTOLIC, HEART_RATE, RESPIRATORY_RATE, TEMPERATURE, SPO2, WEIGHT, HEIGHT, BMI, PAIN)
}
# What a nurse or doctor types in a set (BMI is computed).
STAFF_KEYS = ("systolic", "diastolic", "heart_rate", "respiratory_rate", "temperature", "spo2", "weight",
              "height", "pain")  # fmt: skip
# What a patient may add to a daily report.
HOME_KEYS = ("systolic", "diastolic", "heart_rate", "temperature", "spo2", "weight", "glucose")
ALL_SPECS: dict[str, VitalSpec] = {**VITALS, "glucose": GLUCOSE}

BLOOD_PRESSURE_PANEL_DISPLAY = "Blood pressure panel with all children optional"
# LOINC codes that are "the same vital" when charting (new entries and Synthea imports).
CHART_CODES: dict[str, tuple[str, ...]] = {
    "blood_pressure": codes.BLOOD_PRESSURE_PANELS,
    "heart_rate": (codes.LOINC_HEART_RATE,),
    "respiratory_rate": (codes.LOINC_RESPIRATORY_RATE,),
    "temperature": (codes.LOINC_BODY_TEMPERATURE, codes.LOINC_ORAL_TEMPERATURE),
    "spo2": (LOINC_SPO2, LOINC_SPO2_ALT),
    "weight": (codes.LOINC_BODY_WEIGHT,),
    "height": (codes.LOINC_BODY_HEIGHT,),
    "bmi": (codes.LOINC_BMI,),
    "pain": (LOINC_PAIN,),
    "glucose": (LOINC_GLUCOSE_GLUCOMETER,),
}
VITAL_LOINC_CODES = frozenset(c for group in CHART_CODES.values() for c in group)
_LABELS = {
    **dict.fromkeys(codes.BLOOD_PRESSURE_PANELS, "Blood pressure"),
    **{
        code: ALL_SPECS[key].label for key, group in CHART_CODES.items() if key in ALL_SPECS for code in group
    },
}


_UNIT_DISPLAY = {spec.unit: spec.unit_display for spec in ALL_SPECS.values()}


def display_text(observation: Observation) -> str:
    """The value as people read it: "142/91 mmHg", "37.8 °C", "72 /min" (UCUM units shown plainly)."""
    unit = observation.value_unit
    if observation.value_quantity is None and observation.components:
        unit = next((c.get("unit") for c in observation.components if c.get("unit")), "")
        values = "/".join(str(c.get("value")) for c in observation.components if c.get("value") is not None)
    elif observation.value_quantity is not None:
        values = f"{observation.value_quantity.normalize():f}"
    else:
        return observation.display_value
    shown = _UNIT_DISPLAY.get(unit, unit)
    return f"{values} {shown}".strip()


_ORDER = {code: i for i, key in enumerate(CHART_CODES) for code in CHART_CODES[key]}


def display_order(observation: Observation) -> int:
    """Position of a vital in the usual reading order (blood pressure, heart rate, ..., glucose)."""
    return _ORDER.get(observation.code, len(_ORDER))


def label_for(observation: Observation) -> str:
    """A short label for a vital-sign row ("Heart rate", "Blood pressure"); else its code display."""
    return _LABELS.get(observation.code) or observation.code_display or observation.code


_SEVERITY = {"": 0, Flag.NORMAL: 0, Flag.LOW: 1, Flag.HIGH: 1, Flag.CRITICAL_LOW: 2, Flag.CRITICAL_HIGH: 2}


def _fmt(value: Decimal) -> str:
    return f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}"


def _parse(spec: VitalSpec, raw) -> Decimal:
    """One typed value → Decimal rounded to the spec's decimals. Raises ValidationError keyed by the key."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValidationError({spec.key: f"{spec.label} must be a number."})
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValidationError({spec.key: f"{spec.label} must be a number."}) from None
    if not value.is_finite():
        raise ValidationError({spec.key: f"{spec.label} must be a number."})
    if not spec.possible_low <= value <= spec.possible_high:
        raise ValidationError({spec.key: spec.range_message()})
    if spec.decimals == 0 and value != value.to_integral_value():
        raise ValidationError({spec.key: f"{spec.label} must be a whole number."})
    return value.quantize(Decimal(1).scaleb(-spec.decimals), rounding=ROUND_HALF_UP)


def vitals_clean(values: dict, *, allowed=STAFF_KEYS) -> dict[str, Decimal]:
    """Validate one set of typed values → {key: Decimal} (blank values dropped).

    Raises `ValidationError` with every problem keyed by its field: an unknown key, a non-number, a value
    outside the possible range (message with the range and units), a whole-number vital with decimals,
    systolic without diastolic (or the reverse), systolic not above diastolic, or an empty set.
    """
    if not isinstance(values, dict):
        raise ValidationError({"values": "Expected an object of vital signs."})
    errors: dict[str, list[str]] = {}
    clean: dict[str, Decimal] = {}
    for key, raw in values.items():
        if key not in allowed:
            errors.setdefault(str(key)[:50], []).append("Not a vital sign that can be entered here.")
            continue
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            clean[key] = _parse(ALL_SPECS[key], raw)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(field, []).extend(messages)
    if not errors:
        if ("systolic" in clean) != ("diastolic" in clean):
            missing = "diastolic" if "systolic" in clean else "systolic"
            errors[missing] = ["Enter both systolic and diastolic blood pressure."]
        elif "systolic" in clean and clean["systolic"] <= clean["diastolic"]:
            errors["systolic"] = ["Systolic blood pressure must be higher than diastolic."]
    if not errors and not clean:
        errors["values"] = ["Enter at least one measurement."]
    if errors:
        raise ValidationError(errors)
    return clean


def bmi_compute(weight_kg: Decimal, height_cm: Decimal) -> Decimal:
    """BMI in kg/m2 = weight / (height in m)^2, rounded half-up to 0.1 (WHO)."""
    metres = height_cm / Decimal(100)
    return (weight_kg / (metres * metres)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _latest_height(patient, at: dt.datetime) -> Decimal | None:
    row = (
        Observation.objects.filter(
            patient=patient,
            deleted_at__isnull=True,
            code=codes.LOINC_BODY_HEIGHT,
            value_quantity__isnull=False,
            effective_at__lte=at,
            effective_at__gte=at - BMI_HEIGHT_MAX_AGE,
        )
        .order_by("-effective_at", "-id")
        .values_list("value_quantity", flat=True)
        .first()
    )
    return row


def _observation(spec: VitalSpec, value: Decimal, **common) -> Observation:
    return Observation(
        code_system=codes.LOINC,
        code=spec.loinc,
        code_display=spec.display,
        category=spec.category,
        value_quantity=value,
        value_unit=spec.unit,
        interpretation=spec.interpret(value),
        reference_low=spec.ref_low,
        reference_high=spec.ref_high,
        **common,
    )


def _bp_observation(systolic: Decimal, diastolic: Decimal, **common) -> Observation:
    components = []
    worst = ""
    for spec, value in ((SYSTOLIC, systolic), (DIASTOLIC, diastolic)):
        flag = spec.interpret(value)
        if _SEVERITY[flag] > _SEVERITY[worst] or not worst:
            worst = flag
        components.append(
            {
                "code": spec.loinc,
                "system": codes.LOINC,
                "display": spec.display,
                "value": int(value),
                "unit": spec.unit,
                "interpretation": flag,
                "reference_low": int(spec.ref_low),
                "reference_high": int(spec.ref_high),
            }
        )
    return Observation(
        code_system=codes.LOINC,
        code=codes.LOINC_BLOOD_PRESSURE,
        code_display=BLOOD_PRESSURE_PANEL_DISPLAY,
        category=VITAL_SIGNS_CATEGORY,
        components=components,
        interpretation=worst,
        **common,
    )


def observations_build(*, patient, clean: dict[str, Decimal], effective_at, encounter=None, by=None,
                       note: str = "") -> list[Observation]:  # fmt: skip
    """Unsaved Observations for validated values (`vitals_clean`), BMI added when weight and a height
    (in the set, or recorded in the last 365 days before `effective_at`) are known."""
    common = {
        "patient": patient,
        "encounter": encounter,
        "status": "final",
        "effective_at": effective_at,
        "issued_at": timezone.now(),
        "recorded_by": by,
        "note": note,
    }
    rows = []
    if "systolic" in clean:
        rows.append(_bp_observation(clean["systolic"], clean["diastolic"], **common))
    for key, value in clean.items():
        if key not in ("systolic", "diastolic"):
            rows.append(_observation(ALL_SPECS[key], value, **common))
    if "weight" in clean:
        height = clean.get("height") or _latest_height(patient, effective_at)
        if height:
            rows.append(_observation(BMI, bmi_compute(clean["weight"], Decimal(height)), **common))
    return rows


def effective_at_clean(effective_at) -> dt.datetime:
    """The measurement time: now when None; an aware datetime not in the future (5 min tolerance)."""
    if effective_at is None:
        return timezone.now()
    if not isinstance(effective_at, dt.datetime) or timezone.is_naive(effective_at):
        raise ValidationError({"effective_at": "Give the measurement time with its time zone."})
    if effective_at > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({"effective_at": "The measurement time cannot be in the future."})
    return effective_at


def observations_save(rows: list[Observation]) -> list[Observation]:
    """`full_clean` and insert each row; call inside the caller's transaction."""
    for row in rows:
        row.full_clean()
        row.save(force_insert=True)
    return rows


def vitals_record(
    *, patient, values: dict, by, encounter: Encounter | None = None, effective_at=None, request=None
) -> list[Observation]:
    """Record one set of vital signs for `patient`: one Observation per vital (blood pressure as one panel
    with two components), plus the computed BMI. All rows or none; one AuditEvent (action create, the
    Observation ids in `detail["observations"]`).

    - `values`: {key: number} with keys from `STAFF_KEYS` (see the module table for ranges and units).
    - `encounter`: optional, must be a live encounter of the same patient.
    - `effective_at`: aware datetime of the measurement (default now; not in the future, not before birth).
    - `by`: a doctor or nurse with the patient in their care, else `NotFoundOrForbidden` (404).

    Returns the saved Observations (blood pressure first). Raises `ValidationError` (400) keyed by field.
    """
    clinical_write_check(by, patient)
    clean = vitals_clean(values, allowed=STAFF_KEYS)
    effective_at = effective_at_clean(effective_at)
    born = getattr(patient, "date_of_birth", None)
    if born is not None and effective_at.date() < born:
        raise ValidationError({"effective_at": "The measurement time is before the patient's date of birth."})
    if encounter is not None and (encounter.patient_id != patient.pk or encounter.deleted_at is not None):
        raise ValidationError({"encounter": "This encounter is not one of this patient's."})
    with transaction.atomic():
        rows = observations_save(
            observations_build(
                patient=patient, clean=clean, effective_at=effective_at, encounter=encounter, by=by
            )
        )
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            object_type="clinical.Observation",
            object_id=rows[0].pk,
            detail={"vitals": sorted(clean), "observations": [r.pk for r in rows]},
        )
    return rows


def vital_entered_in_error(*, observation: Observation, reason: str, by, request=None) -> Observation:
    """Mark one vital-sign Observation entered-in-error (delegates to `record_enter_in_error`)."""
    from .services import record_enter_in_error

    return record_enter_in_error(record=observation, reason=reason, by=by, request=request)


def abnormal(observation: Observation) -> bool:
    """True when the row is flagged anything but normal (blank = no reference range)."""
    return observation.interpretation not in ("", Flag.NORMAL)
