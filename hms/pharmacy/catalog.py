"""The bundled medication catalogue, coded in RxNorm (contract 1 of issue 5).

Data, loaded once at import into immutable module-level objects (frozen dataclasses in
`MappingProxyType`s); nothing here changes while serving:

- `hms/pharmacy/data/ingredients.csv`: RxNorm ingredients (term type IN): `rxcui`, `name` (RxNorm
  name, lower case), `classes` (";"-separated class keys used by the decision-support rules in
  `hms.cds`, e.g. `penicillins;beta-lactams`, `qt-prolonging`, `strong-cyp3a4-inhibitors`) and
  `therapeutic_class` (the key duplicate-therapy detection compares, e.g.
  `hmg-coa-reductase-inhibitors`; empty when taking two such products is not a duplicate).
- `hms/pharmacy/data/medications.csv`: RxNorm clinical / branded drugs and packs (SCD, SBD, GPCK,
  BPCK): `rxcui`, `name` (RxNorm name as written), `ingredients` (";"-separated ingredient names of
  `ingredients.csv`), `strength` (e.g. "500 mg", "" for packs), `dose_form` (RxNorm dose form),
  `route` (lower case, e.g. oral, intravenous, inhalation, topical), `therapeutic_class` (overrides the
  ingredients' for combination products), `origin` (`synthea` | `formulary`) and `verified` (where the
  code ↔ name pair was checked: `synthea` = the Synthea sample data, `synthea-costs` = Synthea's
  `src/main/resources/costs/medications.csv`, `ecqm` = the VSAC expansions of the CMS eCQM value sets
  (e.g. as published in the eCQM Update 2025-05-08: "Antihypertensives", "Opioids", "Hypoglycemics
  Treatment Medications", "Potentially Harmful ... for Older Adults", the statin-intensity sets), `ohdsi` =
  an OHDSI standardized-vocabulary export (concept_name / concept_code rows with vocabulary_id RxNorm,
  e.g. the PEDSnet Variable-Dictionary drug code sets); empty = not yet checked against a public source,
  to be checked before production).
- Contents: every medication of the Synthea sample data (listed by
  `hms/pharmacy/data/extract_synthea_medications.py` into `synthea_rxcuis.txt`) plus the formulary of
  a general hospital (analgesics, antibiotics, anticoagulants, antihypertensives, statins, antidiabetics,
  PPIs, inhaled drugs, psychiatric drugs, opioids, the drugs of the ONC high-priority interaction list,
  IV fluids and electrolytes).
- A medication's `drug_classes` is the union of its ingredients' classes; its `therapeutic_class` is
  the row's own, else the first ingredient's that has one.

Source: RxNorm, U.S. National Library of Medicine (public domain; codes and names as published by RxNav,
https://mor.nlm.nih.gov/RxNav/). Synthea (https://synthetichealth.github.io/synthea/) for the sample
codes. Class keys are our own grouping, following the FDA labels cited in `hms/cds/data/`.
"""

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DATA_DIR = Path(__file__).parent / "data"
MAX_RESULTS = 50
NOTICE = (
    "This product uses publicly available data from the U.S. National Library of Medicine (NLM), "
    "National Institutes of Health, Department of Health and Human Services (RxNorm); NLM is not "
    "responsible for the product and does not endorse or recommend it."
)


@dataclass(frozen=True)
class Ingredient:
    """An RxNorm ingredient (IN), e.g. ("723", "amoxicillin")."""

    rxcui: str
    name: str


@dataclass(frozen=True)
class Medication:
    """An orderable drug (RxNorm SCD/SBD/GPCK/BPCK). Maps to FHIR R4 `Medication.code` (RxNorm)."""

    rxcui: str
    name: str
    ingredients: tuple[Ingredient, ...]
    strength: str
    dose_form: str
    route: str
    drug_classes: tuple[str, ...]
    therapeutic_class: str
    origin: str = "formulary"  # "synthea" | "formulary"
    verified: str = ""  # where the code was checked: "synthea" | "synthea-costs" | "ecqm" | "ohdsi" | ""

    @property
    def ingredient_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.ingredients)


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(";") if v.strip())


def _load():
    ingredients: dict[str, Ingredient] = {}
    by_name: dict[str, Ingredient] = {}
    classes: dict[str, tuple[str, ...]] = {}
    therapeutic: dict[str, str] = {}
    with (DATA_DIR / "ingredients.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            ing = Ingredient(rxcui=row["rxcui"].strip(), name=row["name"].strip())
            if ing.rxcui in ingredients or ing.name.lower() in by_name:
                raise ValueError(f"ingredients.csv: duplicate {ing.rxcui} / {ing.name}")
            ingredients[ing.rxcui] = ing
            by_name[ing.name.lower()] = ing
            classes[ing.rxcui] = _split(row["classes"])
            therapeutic[ing.rxcui] = row["therapeutic_class"].strip()
    medications: dict[str, Medication] = {}
    with (DATA_DIR / "medications.csv").open(encoding="utf-8", newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh), 2):
            ings = []
            for name in _split(row["ingredients"]):
                if name.lower() not in by_name:
                    raise ValueError(f"medications.csv line {line}: unknown ingredient {name!r}")
                ings.append(by_name[name.lower()])
            drug_classes: list[str] = []
            for ing in ings:
                drug_classes.extend(c for c in classes[ing.rxcui] if c not in drug_classes)
            tclass = row["therapeutic_class"].strip() or next(
                (therapeutic[i.rxcui] for i in ings if therapeutic[i.rxcui]), ""
            )
            med = Medication(
                rxcui=row["rxcui"].strip(),
                name=row["name"].strip(),
                ingredients=tuple(ings),
                strength=row["strength"].strip(),
                dose_form=row["dose_form"].strip(),
                route=row["route"].strip(),
                drug_classes=tuple(drug_classes),
                therapeutic_class=tclass,
                origin=row["origin"].strip(),
                verified=(row.get("verified") or "").strip(),
            )
            if med.rxcui in medications:
                raise ValueError(f"medications.csv line {line}: duplicate rxcui {med.rxcui}")
            medications[med.rxcui] = med
    return (
        MappingProxyType(medications),
        MappingProxyType(ingredients),
        MappingProxyType(by_name),
        MappingProxyType(classes),
    )


MEDICATIONS, INGREDIENTS, _INGREDIENT_BY_NAME, INGREDIENT_CLASSES = _load()

_WORD = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


# Search index: each medication's words (name, ingredient names, dose form, route), built once; immutable.
_INDEX: tuple[tuple[Medication, frozenset[str]], ...] = tuple(
    sorted(
        (
            (m, _words(f"{m.name} {' '.join(m.ingredient_names)} {m.dose_form} {m.route}"))
            for m in MEDICATIONS.values()
        ),
        key=lambda pair: pair[0].name.lower(),
    )
)


def medication_get(rxcui: str) -> Medication | None:
    """The catalogue entry of RxNorm code `rxcui` (digits), or None."""
    return MEDICATIONS.get(str(rxcui or "").strip())


def medication_search(q: str, limit: int = 20) -> list[Medication]:
    """Medications matching a search-box value, for search-as-you-type.

    - digits: RxNorm codes starting with them (e.g. "3081" finds 308182, 308192);
    - otherwise every word of `q` must start a word of the name, an ingredient, the dose form or the
      route ("amox 500", "metf", "warfarin 5").
    Alphabetical by name; `q` empty or only punctuation → []; `limit` is clamped to 1..50.
    """
    q = " ".join((q or "").split())[:100]
    limit = max(1, min(int(limit or 20), MAX_RESULTS))
    if not q:
        return []
    if q.isdigit():
        return [m for m, _ in _INDEX if m.rxcui.startswith(q)][:limit]
    terms = _WORD.findall(q.lower())
    if not terms:
        return []
    hits = []
    for med, words in _INDEX:
        if all(any(w.startswith(t) for w in words) for t in terms):
            hits.append(med)
            if len(hits) >= limit:
                break
    return hits


def ingredient_get(rxcui: str) -> Ingredient | None:
    """The RxNorm ingredient with code `rxcui`, or None."""
    return INGREDIENTS.get(str(rxcui or "").strip())


def ingredient_find(name: str) -> Ingredient | None:
    """The ingredient whose RxNorm name is `name` (case-insensitive, exact), or None."""
    return _INGREDIENT_BY_NAME.get(" ".join((name or "").split()).lower())


def ingredient_classes(ingredient: Ingredient) -> tuple[str, ...]:
    """The class keys of an ingredient (see `ingredients.csv`)."""
    return INGREDIENT_CLASSES.get(ingredient.rxcui, ())
