"""Medication decision support (contract 2 of issue 5): `cds_check(patient=..., proposed=[...])`.

Checks the proposed medications (RxNorm codes of `hms.pharmacy.catalog`) against each other, against the
patient's ACTIVE prescriptions (`MedicationRequest.status == "active"`, live rows, minus
`exclude_prescription_ids`) and against the patient's active allergies. Returns `Finding`s, most severe
first. A pure read: it writes nothing and no AuditEvent (callers audit their own read of the record).

Finding kinds and severities (contraindicated | major | moderate | minor; `blocking` = contraindicated):

- `interaction`: a row of `hms/cds/data/interactions.csv` (or one loaded with `manage.py cds_load`) whose
  two sides match the two drugs: `a`/`b` an RxNorm ingredient name or `class:<key>` (the class keys of
  `hms/pharmacy/data/ingredients.csv`). Severity from the row. Proposed x proposed and proposed x active.
- `allergy`: an active allergy (AllergyIntolerance, `clinical_status` active, not "no known allergy")
  whose substance is an ingredient of the drug → contraindicated; whose allergy class
  (`allergy_substances.csv`, or the classes of the allergen ingredient) matches a class of the drug per
  `allergy_classes.csv` → that row's severity (a penicillin allergy: a penicillin is contraindicated, a
  cephalosporin is a moderate cross-reactivity warning, a carbapenem minor).
- `duplicate`: the same ingredient as another proposed or active drug → major; the same
  `therapeutic_class` (catalogue) → moderate.
- `max-dose`: the daily amount of an ingredient (dose x frequency_per_day, plus the same ingredient in
  the active prescriptions) above `max_daily_doses.csv` for its route → major. Units: mg, g, mcg
  directly; tablet/capsule/puff/... and mL through the catalogue strength. Nothing is said when the
  amount cannot be worked out (an unknown unit or a combination product dosed in mg).
- `unknown-drug`: a proposed code not in the catalogue → moderate ("no checks were possible").

Sources: every knowledge-base row carries its citation (FDA labelling on DailyMed; the ONC high-priority
DDI list, Phansalkar S et al. JAMIA 2012;19(5):735-43, PMID 22539083; the AAAAI/ACAAI drug allergy
practice parameter 2022); see `docs/cds.md`.
"""

import csv
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType

from hms.core import codes
from hms.pharmacy import catalog
from hms.pharmacy.catalog import Medication

DATA_DIR = Path(__file__).parent / "data"
SEVERITIES = ("contraindicated", "major", "moderate", "minor")
KINDS = ("interaction", "allergy", "duplicate", "max-dose", "unknown-drug")
_RANK = {s: n for n, s in enumerate(SEVERITIES)}
INTERACTION_COLUMNS = ("a", "b", "severity", "effect", "management", "source")
NO_KNOWN_ALLERGY_CODE = "716186003"


# ---------------------------------------------------------------- the contract


@dataclass(frozen=True)
class ProposedMedication:
    """A drug about to be prescribed: RxNorm `rxcui`; `dose_value` per administration in `dose_unit`
    ("mg", "g", "mcg", "mL", "tablet", ...); `frequency_per_day` administrations per day."""

    rxcui: str
    dose_value: Decimal | None = None
    dose_unit: str = ""
    frequency_per_day: Decimal | None = None


@dataclass(frozen=True)
class Finding:
    """One decision-support finding; `source` cites the knowledge-base row it comes from."""

    kind: str  # "interaction" | "allergy" | "duplicate" | "max-dose" | "unknown-drug"
    severity: str  # "contraindicated" | "major" | "moderate" | "minor"
    message: str
    source: str
    drugs: tuple[str, ...] = ()
    management: str = ""

    @property
    def blocking(self) -> bool:
        return self.severity == "contraindicated"

    def as_dict(self) -> dict:
        """JSON-ready: {kind, severity, message, source, drugs: [..], management, blocking}."""
        data = asdict(self)
        data["drugs"] = list(self.drugs)
        data["blocking"] = self.blocking
        return data


# ---------------------------------------------------------------- knowledge base (immutable, at import)


@dataclass(frozen=True)
class InteractionRule:
    a: str
    b: str
    severity: str
    effect: str
    management: str
    source: str


@dataclass(frozen=True)
class AllergyRule:
    allergy_class: str
    drug_class: str
    severity: str
    message: str
    source: str


@dataclass(frozen=True)
class MaxDose:
    ingredient: str
    route: str
    max_daily: Decimal
    unit: str
    source: str


CLASS_KEYS = frozenset(c for classes in catalog.INGREDIENT_CLASSES.values() for c in classes)


def validate_interaction_row(
    row: dict, *, allow_unknown: bool = False
) -> tuple[InteractionRule | None, list]:
    """Check one CSV row of the interaction format. Returns (rule, errors); with `allow_unknown`, a row
    naming an ingredient or class the catalogue does not know returns (None, []) (skipped)."""
    errors = []
    values = {k: " ".join(str(row.get(k) or "").split()) for k in INTERACTION_COLUMNS}
    unknown = False
    for side in ("a", "b"):
        value = values[side].lower()
        values[side] = value
        if not value:
            errors.append(f"{side}: empty (an RxNorm ingredient name or class:<key>)")
        elif len(value) > 200:
            errors.append(f"{side}: longer than 200 characters")
        elif value.startswith("class:"):
            if value[6:] not in CLASS_KEYS:
                unknown = True
                if not allow_unknown:
                    errors.append(f"{side}: unknown class {value[6:]!r}")
        elif catalog.ingredient_find(value) is None:
            unknown = True
            if not allow_unknown:
                errors.append(f"{side}: unknown ingredient {value!r} (not in the catalogue)")
    if values["severity"] not in SEVERITIES:
        errors.append(f"severity: {values['severity']!r} is not one of {', '.join(SEVERITIES)}")
    for name in ("effect", "source"):
        if not values[name]:
            errors.append(f"{name}: empty (every row needs it)")
    for name in ("effect", "management", "source"):
        if len(values[name]) > 1000:
            errors.append(f"{name}: longer than 1000 characters")
    if errors:
        return None, errors
    if unknown:
        return None, []
    return InteractionRule(**values), []


def _read_csv(name: str) -> list[dict]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _load_interactions() -> tuple[InteractionRule, ...]:
    rules = []
    for line, row in enumerate(_read_csv("interactions.csv"), 2):
        rule, errors = validate_interaction_row(row)
        if errors:
            raise ValueError(f"hms/cds/data/interactions.csv line {line}: {'; '.join(errors)}")
        rules.append(rule)
    return tuple(rules)


def _load_allergy_rules() -> MappingProxyType:
    rules: dict[str, list[AllergyRule]] = {}
    for line, row in enumerate(_read_csv("allergy_classes.csv"), 2):
        rule = AllergyRule(**{k: row[k].strip() for k in AllergyRule.__dataclass_fields__})
        if rule.severity not in SEVERITIES or not rule.source or rule.drug_class not in CLASS_KEYS:
            raise ValueError(f"hms/cds/data/allergy_classes.csv line {line}: bad row")
        rules.setdefault(rule.allergy_class, []).append(rule)
    return MappingProxyType({k: tuple(v) for k, v in rules.items()})


def _load_substances() -> MappingProxyType:
    out = {}
    for line, row in enumerate(_read_csv("allergy_substances.csv"), 2):
        key, cls = row["substance"].strip().lower(), row["allergy_class"].strip()
        if cls not in ALLERGY_RULES or not row["source"].strip():
            raise ValueError(f"hms/cds/data/allergy_substances.csv line {line}: bad row")
        out[key] = cls
    return MappingProxyType(out)


def _load_max_doses() -> MappingProxyType:
    out = {}
    for line, row in enumerate(_read_csv("max_daily_doses.csv"), 2):
        ing = catalog.ingredient_find(row["ingredient"])
        if ing is None or not row["source"].strip() or row["unit"].strip() not in _MASS:
            raise ValueError(f"hms/cds/data/max_daily_doses.csv line {line}: bad row")
        out[(ing.rxcui, row["route"].strip().lower())] = MaxDose(
            ingredient=ing.name,
            route=row["route"].strip().lower(),
            max_daily=Decimal(row["max_daily"]),
            unit=row["unit"].strip(),
            source=row["source"].strip(),
        )
    return MappingProxyType(out)


_MASS = MappingProxyType(
    {
        "mg": Decimal(1),
        "milligram": Decimal(1),
        "milligrams": Decimal(1),
        "g": Decimal(1000),
        "gram": Decimal(1000),
        "grams": Decimal(1000),
        "mcg": Decimal("0.001"),
        "µg": Decimal("0.001"),
        "ug": Decimal("0.001"),
        "microgram": Decimal("0.001"),
        "micrograms": Decimal("0.001"),
    }
)
_VOLUME = MappingProxyType({"ml": Decimal(1), "l": Decimal(1000)})
_COUNT = frozenset(
    (
        *("tablet", "tablets", "tab", "tabs", "capsule", "capsules", "cap", "caps", "puff", "puffs"),
        *("actuation", "actuations", "spray", "sprays", "dose", "doses", "each", "patch", "patches"),
        *("film", "films", "suppository", "suppositories", "lozenge", "lozenges"),
    )
)

BUNDLED_INTERACTIONS = _load_interactions()
ALLERGY_RULES = _load_allergy_rules()
ALLERGY_CLASS_KEYS = frozenset(ALLERGY_RULES)
ALLERGY_SUBSTANCES = _load_substances()
MAX_DAILY_DOSES = _load_max_doses()


# ---------------------------------------------------------------- helpers


def _keys(med: Medication) -> frozenset[str]:
    return frozenset([i.name.lower() for i in med.ingredients] + [f"class:{c}" for c in med.drug_classes])


def _rules() -> tuple[InteractionRule, ...]:
    """Bundled rows plus the active rows loaded with `cds_load` (read per check: a small table)."""
    from .models import LoadedInteraction

    loaded = LoadedInteraction.objects.filter(active=True).values_list(*INTERACTION_COLUMNS)
    return BUNDLED_INTERACTIONS + tuple(InteractionRule(*row) for row in loaded)


def _index(rules: Iterable[InteractionRule]) -> dict[str, list[InteractionRule]]:
    index: dict[str, list[InteractionRule]] = {}
    for rule in rules:
        index.setdefault(rule.a, []).append(rule)
        if rule.b != rule.a:
            index.setdefault(rule.b, []).append(rule)
    return index


def _matching(index, m1: Medication, m2: Medication) -> list[InteractionRule]:
    k1, k2 = _keys(m1), _keys(m2)
    found: list[InteractionRule] = []
    for key in k1:
        for rule in index.get(key, ()):
            other = rule.b if rule.a == key else rule.a
            if (other in k2 or (rule.a == rule.b and key in k2)) and rule not in found:
                found.append(rule)
    return found


_STRENGTH = re.compile(r"^([0-9]*\.?[0-9]+)\s*([a-zµ]+)(?:\s*(?:/|per)\s*([a-z]+))?$")


def _strengths(med: Medication) -> list[tuple[Decimal, str, str]] | None:
    parts = [p.strip().lower() for p in med.strength.split(" / ")] if med.strength else []
    out = []
    for part in parts:
        match = _STRENGTH.match(part)
        if not match:
            return None
        out.append((Decimal(match.group(1)), match.group(2), match.group(3) or ""))
    return out if len(out) == len(med.ingredients) else None


def ingredient_daily_mg(
    med: Medication, dose_value, dose_unit: str, frequency_per_day
) -> dict[str, Decimal] | None:
    """{ingredient rxcui: mg per day} of one prescription, or None when it cannot be worked out.

    `dose_value` per administration in `dose_unit`; `frequency_per_day` None counts as one a day."""
    try:
        dose = Decimal(str(dose_value))
        freq = Decimal(str(frequency_per_day)) if frequency_per_day is not None else Decimal(1)
    except (InvalidOperation, TypeError, ValueError):
        return None
    if not dose.is_finite() or not freq.is_finite() or dose <= 0 or freq <= 0:
        return None
    unit = (dose_unit or "").strip().lower()
    if unit in _MASS:
        if len(med.ingredients) != 1:
            return None
        return {med.ingredients[0].rxcui: dose * _MASS[unit] * freq}
    strengths = _strengths(med)
    if strengths is None:
        return None
    out = {}
    for ing, (value, num_unit, denom) in zip(med.ingredients, strengths, strict=True):
        if num_unit not in _MASS:
            return None
        per = value * _MASS[num_unit]
        if unit in _COUNT and (denom == "" or denom in _COUNT):
            out[ing.rxcui] = dose * per * freq
        elif unit in _VOLUME and denom == "ml":
            out[ing.rxcui] = dose * _VOLUME[unit] * per * freq
        else:
            return None
    return out


def _norm(text: str) -> str:
    text = " ".join((text or "").lower().split())
    text = re.sub(r"\((substance|disorder|finding|product)\)", "", text).strip()
    text = re.sub(r"^(allergy|allergic|hypersensitivity|intolerance) to ", "", text)
    text = re.sub(r" (allergy|intolerance|hypersensitivity)$", "", text)
    return text.strip(" .")


def _allergen(allergy) -> tuple[frozenset[str], frozenset[str], str]:
    """(ingredient rxcuis, allergy classes, display) of one AllergyIntolerance row."""
    ingredients: set[str] = set()
    classes: set[str] = set()
    keys = []
    code = (allergy.code or "").strip()
    if allergy.code_system == codes.RXNORM and code:
        ing = catalog.ingredient_get(code)
        if ing is not None:
            ingredients.add(ing.rxcui)
        med = catalog.medication_get(code)
        if med is not None:
            ingredients.update(i.rxcui for i in med.ingredients)
        keys.append(f"rxnorm:{code}")
    elif allergy.code_system == codes.SNOMED and code:
        keys.append(f"snomed:{code}")
    name = _norm(allergy.code_display)
    if name:
        keys.append(f"name:{name}")
        ing = catalog.ingredient_find(name)
        if ing is not None:
            ingredients.add(ing.rxcui)
    for key in keys:
        if key in ALLERGY_SUBSTANCES:
            classes.add(ALLERGY_SUBSTANCES[key])
    for rxcui in ingredients:
        ing = catalog.ingredient_get(rxcui)
        classes.update(c for c in catalog.ingredient_classes(ing) if c in ALLERGY_CLASS_KEYS)
    return frozenset(ingredients), frozenset(classes), allergy.code_display or code


def _allergy_findings(allergies, med: Medication) -> list[Finding]:
    out = []
    med_ings = {i.rxcui: i.name for i in med.ingredients}
    for ingredients, classes, display in allergies:
        best: Finding | None = None
        direct = [med_ings[r] for r in ingredients if r in med_ings]
        if direct:
            best = Finding(
                kind="allergy",
                severity="contraindicated",
                message=f"Allergy to {display}: {med.name} contains {', '.join(sorted(direct))}.",
                source="FDA labelling: contraindicated in known hypersensitivity to the active ingredient "
                "(21 CFR 201.57(c)(5)); the patient's AllergyIntolerance record",
                drugs=(med.name,),
                management="Do not give; choose a drug without this ingredient.",
            )
        for cls in sorted(classes):
            for rule in ALLERGY_RULES.get(cls, ()):
                if rule.drug_class not in med.drug_classes:
                    continue
                if best is None or _RANK[rule.severity] < _RANK[best.severity]:
                    best = Finding(
                        kind="allergy",
                        severity=rule.severity,
                        message=f"Allergy to {display}: {med.name}. {rule.message}",
                        source=rule.source,
                        drugs=(med.name,),
                        management="Do not give; choose another class."
                        if rule.severity == "contraindicated"
                        else "Weigh the risk; give only with monitoring, or choose another class.",
                    )
        if best is not None:
            out.append(best)
    return out


def _duplicate(m1: Medication, m2: Medication, where: str) -> Finding | None:
    shared = sorted({i.name for i in m1.ingredients} & {i.name for i in m2.ingredients})
    if shared:
        return Finding(
            kind="duplicate",
            severity="major",
            message=f"Duplicate ingredient: {m1.name} and {m2.name}{where} both contain {', '.join(shared)}.",
            source="Duplicate-ingredient check on RxNorm ingredients (RxNorm, NLM); "
            "ISMP Targeted Medication Safety Best Practices (duplicate acetaminophen)",
            drugs=(m1.name, m2.name),
            management="Keep one; check the total daily dose of the ingredient.",
        )
    if m1.therapeutic_class and m1.therapeutic_class == m2.therapeutic_class:
        return Finding(
            kind="duplicate",
            severity="moderate",
            message=f"Therapeutic duplication ({m1.therapeutic_class}): {m1.name} and {m2.name}{where}.",
            source="Therapeutic class of the catalogue (hms/pharmacy/data/ingredients.csv)",
            drugs=(m1.name, m2.name),
            management="Confirm both are intended (e.g. a switch or a deliberate combination).",
        )
    return None


def _sort(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: (_RANK.get(f.severity, 9), KINDS.index(f.kind), f.message))


# ---------------------------------------------------------------- the check


def cds_check(*, patient, proposed: list[ProposedMedication], exclude_prescription_ids=()) -> list[Finding]:
    """The findings for prescribing `proposed` to `patient` (a Patient), most severe first.

    Compares the proposed drugs with each other, with the patient's live active prescriptions other than
    `exclude_prescription_ids` (e.g. the prescription being renewed or re-signed) and with the patient's
    active allergies. Pure read: no AuditEvent (the caller audits). Does not check who is asking: the
    caller has already decided that the user may see this patient.
    """
    from hms.clinical.models import AllergyIntolerance
    from hms.pharmacy.models import MedicationRequest

    findings: list[Finding] = []
    items: list[tuple[ProposedMedication, Medication]] = []
    for p in proposed:
        med = catalog.medication_get(p.rxcui)
        if med is None:
            findings.append(
                Finding(
                    kind="unknown-drug",
                    severity="moderate",
                    message=f"RxNorm {p.rxcui} is not in the medication catalogue: no interaction, allergy "
                    "or dose checks were possible.",
                    source="hms/pharmacy/data/medications.csv (RxNorm, NLM)",
                    drugs=(str(p.rxcui),),
                    management="Check this drug by hand, or choose a catalogue drug.",
                )
            )
        else:
            items.append((p, med))

    excluded = {int(x) for x in exclude_prescription_ids or () if str(x).isdigit()}
    active = []
    for rx in MedicationRequest.objects.filter(patient=patient, status="active", deleted_at__isnull=True):
        if rx.pk in excluded:
            continue
        med = catalog.medication_get(rx.code) if rx.code_system in (codes.RXNORM, "") else None
        if med is not None:
            active.append((rx, med))

    index = _index(_rules())

    def interactions(m1: Medication, m2: Medication, where: str) -> None:
        for rule in _matching(index, m1, m2):
            findings.append(
                Finding(
                    kind="interaction",
                    severity=rule.severity,
                    message=f"{m1.name} + {m2.name}{where}: {rule.effect}",
                    source=rule.source,
                    drugs=(m1.name, m2.name),
                    management=rule.management,
                )
            )

    for n, (_p1, m1) in enumerate(items):
        for _p2, m2 in items[n + 1 :]:
            interactions(m1, m2, "")
            dup = _duplicate(m1, m2, "")
            if dup:
                findings.append(dup)
        for rx, m2 in active:
            where = f" (active prescription #{rx.pk})"
            interactions(m1, m2, where)
            dup = _duplicate(m1, m2, where)
            if dup:
                findings.append(dup)

    allergy_rows = AllergyIntolerance.objects.filter(
        patient=patient, deleted_at__isnull=True, clinical_status="active"
    ).exclude(code_system=codes.SNOMED, code=NO_KNOWN_ALLERGY_CODE)
    allergies = [_allergen(a) for a in allergy_rows]
    for _p, med in items:
        findings.extend(_allergy_findings(allergies, med))

    findings.extend(_dose_findings(items, active))
    return _sort(findings)


def _dose_findings(items, active) -> list[Finding]:
    """Max-dose findings: per proposed drug and ingredient, its daily amount plus the same ingredient in
    the active prescriptions, against `max_daily_doses.csv` (route-specific row first, then any route)."""
    background: dict[str, Decimal] = {}
    for rx, med in active:
        amounts = ingredient_daily_mg(med, rx.dose_value, rx.dose_unit, rx.frequency_per_day)
        for rxcui, mg in (amounts or {}).items():
            background[rxcui] = background.get(rxcui, Decimal(0)) + mg
    proposed_total: dict[str, Decimal] = {}
    per_item = []
    for p, med in items:
        if p.dose_value is None:
            continue
        amounts = ingredient_daily_mg(med, p.dose_value, p.dose_unit, p.frequency_per_day)
        if amounts:
            per_item.append((med, amounts))
            for rxcui, mg in amounts.items():
                proposed_total[rxcui] = proposed_total.get(rxcui, Decimal(0)) + mg
    out = []
    reported: set[str] = set()
    for med, amounts in per_item:
        for rxcui in amounts:
            limit = MAX_DAILY_DOSES.get((rxcui, med.route)) or MAX_DAILY_DOSES.get((rxcui, ""))
            if limit is None or rxcui in reported:
                continue
            total = proposed_total[rxcui] + background.get(rxcui, Decimal(0))
            max_mg = limit.max_daily * _MASS[limit.unit]
            if total > max_mg:
                reported.add(rxcui)
                extra = " including the active prescriptions" if background.get(rxcui) else ""
                out.append(
                    Finding(
                        kind="max-dose",
                        severity="major",
                        message=f"{med.name}: {_fmt(total)} mg/day of {limit.ingredient}{extra} exceeds the "
                        f"maximum adult daily dose of {_fmt(max_mg)} mg.",
                        source=limit.source,
                        drugs=(med.name,),
                        management="Lower the dose or the frequency; look for the ingredient elsewhere.",
                    )
                )
    return out


def _fmt(value: Decimal) -> str:
    value = value.quantize(Decimal("0.01")).normalize()
    return f"{value:f}"
