"""Prescription analysis: free-text prescriptions → structured items, CDS findings and a summary.

`prescription_analyze(*, text, patient=None, provider="auto")` reads text such as
"Amoxicillin 500mg PO TID x 7 days; ibuprofen 400 mg q6h prn" and returns an `Analysis`:

- `items`: one per prescription line. Lines are split on ";", new lines and a standalone "and" that is
  followed by another medication. Each item has `status` "parsed" or "unparsed" (with `reason`), the
  original `text` fragment, and when parsed: `drug` {rxcui, name, level "product" | "ingredient",
  ingredients [{rxcui, name}], alternatives [{rxcui, name}] (other products that match as well)} from
  the bundled RxNorm catalogue (`hms.pharmacy.catalog`), `strength` ("500 mg", "5 mg/mL"), `dose_value`
  (Decimal per administration) and `dose_unit` ("mg", "g", "mcg",
  "mL", "tablet", "capsule", "puff", "unit", ...), `route` (SNOMED CT route display, e.g. "oral") and
  `route_code` (its SNOMED CT id), `frequency_code` (`hms.pharmacy.frequencies`: QD, BID, TID, QID, QnH,
  QHS, QAM, QPM, QOD, QWK, PRN, Q4H-PRN, Q6H-PRN, STAT), `frequency_per_day` (Decimal administrations per
  day used for dose checks: the interval's maximum for "every N hours as needed"), `as_needed` (PRN),
  `duration_days` (int; "x 7 days", "for 2 weeks", British "x 5/7", "x 2/52"; weeks are 7 days, months
  30), and `warnings` (what is missing, ignored or ambiguous, e.g. a strength sold as capsule and tablet).
- `findings`: ALWAYS computed by the checker `hms.cds.checker.cds_check` from the resolved items, for the
  given patient (active prescriptions, allergies) or, without a patient, among the items themselves.
- `summary`: plain-language text of the items and the findings.
- `provider`: "offline" (this module's deterministic parser) or "llm" (`hms.pharmacy.llm`); `notes` says
  when the LLM provider failed and the offline result was used instead.

Input rules (`AnalysisInputError` → HTTP 400 with a field message): the text must be a string of 1-2,000
characters after trimming, printable (no control characters other than new lines and tabs), with at most
20 lines. A line that cannot be understood never fails the request: it comes back `unparsed` with the
reason ("no medication name found", "'xyzzy' is not in the medication catalogue", ...).

Sources: route codes from the FHIR R4 value set "SNOMED CT Route Codes"
(http://hl7.org/fhir/R4/valueset-route-codes.html); sig abbreviations as in `hms.pharmacy.frequencies`
(HL7 v3 GTSAbbreviation and the usual Latin sig abbreviations); routes PO/IV/IM/SC/SL/PR/INH/TOP are the
common prescription abbreviations (ISMP List of Error-Prone Abbreviations lists SC/SQ/subq, which are
all read as subcutaneous here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from . import frequencies
from .catalog import ingredient_find, medication_get, medication_search

MAX_TEXT = 2000
MAX_ITEMS = 20

# ---------------------------------------------------------------- tables

# token → (SNOMED CT display, SNOMED CT code); FHIR R4 route-codes value set.
_ORAL = ("oral", "26643006")
_IV = ("intravenous", "47625008")
_IM = ("intramuscular", "78421000")
_SC = ("subcutaneous", "34206005")
_SL = ("sublingual", "37839007")
_PR = ("rectal", "37161004")
_INH = ("inhalation", "447694001")
_TOP = ("topical", "6064005")
ROUTES: dict[str, tuple[str, str]] = {
    "po": _ORAL,
    "oral": _ORAL,
    "orally": _ORAL,
    "by mouth": _ORAL,
    "iv": _IV,
    "ivp": _IV,
    "ivpb": _IV,
    "intravenous": _IV,
    "intravenously": _IV,
    "im": _IM,
    "intramuscular": _IM,
    "intramuscularly": _IM,
    "sc": _SC,
    "sq": _SC,
    "subq": _SC,
    "subcut": _SC,
    "subcutaneous": _SC,
    "subcutaneously": _SC,
    "sl": _SL,
    "sublingual": _SL,
    "sublingually": _SL,
    "pr": _PR,
    "rectal": _PR,
    "rectally": _PR,
    "per rectum": _PR,
    "inh": _INH,
    "inhaled": _INH,
    "inhalation": _INH,
    "by inhalation": _INH,
    "top": _TOP,
    "topical": _TOP,
    "topically": _TOP,
}
ROUTE_BY_DISPLAY = {display: (display, code) for display, code in ROUTES.values()}

# Dose units counted in pieces → the canonical unit.
COUNT_UNITS = {
    "tab": "tablet",
    "tabs": "tablet",
    "tablet": "tablet",
    "tablets": "tablet",
    "cap": "capsule",
    "caps": "capsule",
    "capsule": "capsule",
    "capsules": "capsule",
    "puff": "puff",
    "puffs": "puff",
    "spray": "spray",
    "sprays": "spray",
    "drop": "drop",
    "drops": "drop",
    "gtt": "drop",
    "gtts": "drop",
    "patch": "patch",
    "patches": "patch",
    "supp": "suppository",
    "suppository": "suppository",
    "suppositories": "suppository",
    "unit": "unit",
    "units": "unit",
    "iu": "unit",
    "ml": "mL",
    "tsp": "teaspoon",
    "teaspoon": "teaspoon",
    "teaspoons": "teaspoon",
    "sachet": "sachet",
    "sachets": "sachet",
    "application": "application",
    "applications": "application",
}
MASS_UNITS = {"mg": "mg", "g": "g", "gm": "g", "gram": "g", "grams": "g", "mcg": "mcg", "ug": "mcg",
              "µg": "mcg", "meq": "mEq", "%": "%"}  # fmt: skip
DENOMINATORS = {"ml": "mL", "l": "L", "actuat": "ACTUAT", "actuation": "ACTUAT", "puff": "ACTUAT",
                "tab": "tablet", "tablet": "tablet", "hr": "HR", "h": "HR"}  # fmt: skip
TO_MG = {"mg": Decimal(1), "g": Decimal(1000), "mcg": Decimal("0.001")}

WORD_NUMBERS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
                "eight": "8", "nine": "9", "ten": "10", "fourteen": "14", "a": "1", "an": "1",
                "half": "0.5"}  # fmt: skip

# Words that carry no meaning for the drug name.
FILLER = {"take", "takes", "taking", "give", "apply", "inhale", "instill", "use", "insert", "inject",
          "sig", "rx", "by", "mouth", "of", "the", "then", "daily", "dose", "doses", "with", "food",
          "water", "meals", "after", "before", "to", "be", "taken", "per", "day", "days", "and", "at",
          "in", "on", "x", "for", "until", "finished", "course", "please", "dispense", "disp", "qty",
          "refills", "refill", "times", "time", "a", "an", "mg", "ml", "tablet", "tablets", "capsule",
          "capsules", "tab", "tabs", "cap", "caps", "once", "twice", "every", "each", "as", "needed",
          "po", "prn"}  # fmt: skip
DOSE_FORM_WORDS = {"tablet": "tablet", "tablets": "tablet", "tab": "tablet", "tabs": "tablet",
                   "capsule": "capsule", "capsules": "capsule", "cap": "capsule", "caps": "capsule",
                   "solution": "solution", "suspension": "suspension", "syrup": "solution",
                   "injection": "injection", "inhaler": "inhaler", "cream": "cream",
                   "ointment": "ointment", "patch": "transdermal", "er": "extended release",
                   "xr": "extended release", "sr": "extended release"}  # fmt: skip

# International (INN/BAN) names and common abbreviations → the RxNorm (USAN) ingredient name. Source:
# WHO INN lists and the BNF's "former BAN" notes (paracetamol = acetaminophen, salbutamol = albuterol, ...).
SYNONYMS = {"paracetamol": "acetaminophen", "apap": "acetaminophen", "salbutamol": "albuterol",
            "frusemide": "furosemide", "adrenaline": "epinephrine", "noradrenaline": "norepinephrine",
            "glyceryl trinitrate": "nitroglycerin", "gtn": "nitroglycerin", "lignocaine": "lidocaine",
            "pethidine": "meperidine", "amoxycillin": "amoxicillin", "asa": "aspirin",
            "acetylsalicylic acid": "aspirin", "hctz": "hydrochlorothiazide", "co-amoxiclav":
            "amoxicillin clavulanate", "amoxicillin-clavulanate": "amoxicillin clavulanate",
            "augmentin": "amoxicillin clavulanate", "cephalexin": "cephalexin", "cefalexin": "cephalexin",
            "ciclosporin": "cyclosporine", "colecalciferol": "cholecalciferol", "levothyroxine sodium":
            "levothyroxine", "mst": "morphine", "tylenol": "acetaminophen", "advil": "ibuprofen",
            "motrin": "ibuprofen", "coumadin": "warfarin", "lipitor": "atorvastatin", "zocor": "simvastatin",
            "glucophage": "metformin", "ventolin": "albuterol", "lasix": "furosemide",
            "zestril": "lisinopril", "norvasc": "amlodipine", "viagra": "sildenafil"}  # fmt: skip

_NUM = r"(\d+(?:\.\d+)?|\.\d+)"

# (regex, frequency code) in the order they are tried; British sig abbreviations (bd, tds, qds, mane,
# nocte: BNF "Latin abbreviations") as well.
_INTERVAL_RANGE = re.compile(
    r"\b(?:q|every)\s*(\d{1,2})\s*(?:-|to)\s*(\d{1,2})\s*(?:h|hr|hrs|hour|hours)\b", re.IGNORECASE
)
_INTERVAL = re.compile(r"\b(?:q\s*|every\s+)(\d{1,2})\s*(?:h|hr|hrs|hour|hours)\b", re.IGNORECASE)


def _n_times(word: str, digit: int) -> str:
    """ "three times a day", "3 times daily", "3x/day", "3 x daily" ... as one alternation."""
    return (
        rf"{word} times (?:a |per )?day|{word} times daily|{digit} times (?:a |per )?day|"
        rf"{digit} ?x ?(?:a |per |/ ?)?day|{digit} ?x daily"
    )


_FREQUENCY_WORDS: list[tuple[re.Pattern, str]] = [
    (re.compile(p, re.IGNORECASE), code)
    for p, code in [
        (rf"\b(?:bid|bd|twice (?:a |per )?day|twice daily|{_n_times('two', 2)})\b", "BID"),
        (rf"\b(?:tid|tds|{_n_times('three', 3)})\b", "TID"),
        (rf"\b(?:qid|qds|{_n_times('four', 4)})\b", "QID"),
        (r"\b(?:qhs|hs|nocte|at bedtime|at night|nightly|every night|before bed)\b", "QHS"),
        (r"\b(?:qam|mane|every morning|in the morning|each morning)\b", "QAM"),
        (r"\b(?:qpm|every evening|in the evening|each evening)\b", "QPM"),
        (r"\b(?:qod|every other day|on alternate days|alternate days)\b", "QOD"),
        (r"\b(?:qwk|weekly|once (?:a |per )?week|once weekly|every week)\b", "QWK"),
        (r"\b(?:qd|od|once (?:a |per )?day|once daily|every day|daily)\b", "QD"),
        (r"\b(?:stat|immediately|single dose|one dose|once)\b", "STAT"),
    ]
]  # fmt: skip
_PRN = re.compile(r"\b(?:prn|as needed|as required|when needed|if needed|when required)\b", re.IGNORECASE)
_DURATION = re.compile(
    rf"(?:\b(?:x|for)\s*|\u00d7\s*){_NUM}\s*(d|day|days|w|wk|wks|week|weeks|mo|month|months)\b", re.IGNORECASE
)
# "x 5/7" = 5 days, "x 2/52" = 2 weeks, "x 1/12" = 1 month (British prescription notation)
_DURATION_BRITISH = re.compile(r"(?:\bx|\bfor|\u00d7)\s*(\d{1,4})\s*/\s*(7|52|12)\b", re.IGNORECASE)
_STRENGTH = re.compile(
    rf"(?<![\d.-]){_NUM}\s*(mg|mcg|ug|µg|g|gm|grams?|meq|%)(?![a-z])"
    rf"(?:\s*/\s*{_NUM}?\s*(ml|l|actuat(?:ion)?|puff|tab(?:let)?|hr|h)\b)?",
    re.IGNORECASE,
)
_COUNT = re.compile(
    rf"(?<![\d.]){_NUM}\s*({'|'.join(sorted(COUNT_UNITS, key=len, reverse=True))})\b", re.IGNORECASE
)
_ROUTE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(ROUTES, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_SPLIT = re.compile(r"[;\n\r]+")
_AND = re.compile(r"\s+(?:and|&|plus)\s+", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•·])\s+")
_DOTTED = re.compile(r"\b((?:[a-z]\.){2,})", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class AnalysisInputError(ValueError):
    """Bad input: `field` and `message` become the 400 body {field: [message]}."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class Item:
    """One prescription line as understood (see the module docstring for the fields)."""

    text: str
    status: str = "parsed"  # parsed | unparsed
    reason: str = ""
    drug: dict | None = None
    strength: str = ""
    dose_value: Decimal | None = None
    dose_unit: str = ""
    route: str = ""
    route_code: str = ""
    frequency_code: str = ""
    frequency_display: str = ""
    frequency_per_day: Decimal | None = None
    as_needed: bool = False
    duration_days: int | None = None
    warnings: list[str] = field(default_factory=list)
    # the catalogue product used for the checks (a representative one for an ingredient-level item)
    check_rxcui: str = ""

    def as_dict(self) -> dict:
        return {
            "text": self.text,
            "status": self.status,
            "reason": self.reason,
            "drug": self.drug,
            "strength": self.strength,
            "dose_value": self.dose_value,
            "dose_unit": self.dose_unit,
            "route": self.route,
            "route_code": self.route_code,
            "frequency_code": self.frequency_code,
            "frequency_display": self.frequency_display,
            "frequency_per_day": self.frequency_per_day,
            "as_needed": self.as_needed,
            "duration_days": self.duration_days,
            "warnings": list(self.warnings),
        }


@dataclass
class Analysis:
    items: list[Item]
    findings: list = field(default_factory=list)  # hms.cds.checker.Finding
    summary: str = ""
    provider: str = "offline"
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- input


def clean_text(text) -> str:
    """The trimmed text, or `AnalysisInputError` (field "text") when empty, too long, not a string or
    holding control characters."""
    if not isinstance(text, str):
        raise AnalysisInputError("text", "Give the prescription as text.")
    text = text.strip()
    if not text:
        raise AnalysisInputError("text", "Enter a prescription to analyse.")
    if len(text) > MAX_TEXT:
        raise AnalysisInputError("text", f"At most {MAX_TEXT} characters (got {len(text)}).")
    if _CONTROL.search(text):
        raise AnalysisInputError("text", "The text holds control characters; send plain text.")
    return text


def split_lines(text: str) -> list[str]:
    """Split `text` into prescription fragments: on ";" and new lines, then on a standalone "and" / "&" /
    "plus" when what follows starts with a catalogue medication (so "amoxicillin and clavulanate" stays
    whole). Leading bullets ("1.", "-") go. Raises `AnalysisInputError` beyond `MAX_ITEMS` fragments."""
    fragments: list[str] = []
    for part in _SPLIT.split(text):
        part = _BULLET.sub("", part).strip(" ,.")
        if not part:
            continue
        pieces = _AND.split(part)
        merged = [pieces[0]]
        for piece in pieces[1:]:
            if _starts_with_drug(piece) and not _combination(merged[-1], piece):
                merged.append(piece)
            else:
                merged[-1] = f"{merged[-1]} and {piece}"
        fragments.extend(p.strip(" ,.") for p in merged if p.strip(" ,."))
    if not fragments:
        raise AnalysisInputError("text", "No prescription found in the text.")
    if len(fragments) > MAX_ITEMS:
        raise AnalysisInputError(
            "text", f"At most {MAX_ITEMS} medications per analysis (got {len(fragments)})."
        )
    return fragments


def _combination(left: str, right: str) -> bool:
    """ "amoxicillin and clavulanate ...": a bare name joined to the next one names a combination product
    when the catalogue has one with both (the left part holds no dose, frequency or route)."""
    if (
        re.search(r"\d", left)
        or _ROUTE.search(left.lower())
        or any(p.search(left) for p, _ in _FREQUENCY_WORDS)
    ):
        return False
    first = re.findall(r"[a-z][a-z-]*", right.lower())[:1]
    return bool(first) and bool(medication_search(f"{left} {first[0]}", limit=1))


def _starts_with_drug(piece: str) -> bool:
    words = re.findall(r"[a-z][a-z-]*", piece.lower())
    if not words:
        return False
    for n in (3, 2, 1):
        lead = " ".join(words[:n])
        if len(words) >= n and (ingredient_find(lead) or lead in SYNONYMS):
            return True
    return bool(words[0] not in FILLER and len(words[0]) > 3 and medication_search(words[0], limit=1))


# ---------------------------------------------------------------- parsing one fragment


def _dec(raw: str) -> Decimal | None:
    try:
        return Decimal(raw)
    except (InvalidOperation, TypeError):
        return None


MAX_AMOUNT = Decimal(1_000_000)


def amount_ok(value: Decimal | None) -> bool:
    """A usable strength or dose: finite, > 0, at most 1,000,000 and at most 4 decimal places (what
    `MedicationRequest.dose_value` stores)."""
    return (
        value is not None
        and value.is_finite()
        and 0 < value <= MAX_AMOUNT
        and value.normalize().as_tuple().exponent >= -4
    )


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _normalise(fragment: str) -> str:
    text = _DOTTED.sub(lambda m: m.group(1).replace(".", ""), fragment.lower())
    words = "|".join(WORD_NUMBERS)
    text = re.sub(rf"\b({words})\b(?=\s+(?:tab|cap|puff|drop|spray|supp|patch|unit|ml|tsp|teaspoon|sachet))",
                  lambda m: WORD_NUMBERS[m.group(1)], text)  # fmt: skip
    text = re.sub(rf"\b(for|x)\s+({words})\s+(?=(?:day|week|month))",
                  lambda m: f"{m.group(1)} {WORD_NUMBERS[m.group(2)]} ", text)  # fmt: skip
    return " ".join(text.replace(",", " ").split())


def _take(pattern: re.Pattern, text: str):
    """First match of `pattern` in `text` and the text with it blanked out."""
    m = pattern.search(text)
    if not m:
        return None, text
    return m, text[: m.start()] + " " + text[m.end() :]


def _frequency(text: str, item: Item) -> str:
    prn, text = _take(_PRN, text)
    item.as_needed = prn is not None
    code = ""
    interval = None
    m, text = _take(_INTERVAL_RANGE, text)
    if m:
        interval = min(int(m.group(1)), int(m.group(2)))
    else:
        m, text = _take(_INTERVAL, text)
        if m:
            interval = int(m.group(1))
    if interval is not None:
        if not 1 <= interval <= 72:
            item.warnings.append(f"Interval of {interval} hours ignored.")
        else:
            code = f"Q{interval}H"
    else:
        for pattern, word_code in _FREQUENCY_WORDS:
            m, text = _take(pattern, text)
            if m:
                code = word_code
                break
    if item.as_needed:
        prn_code = f"{code}-PRN" if code else "PRN"
        code = prn_code if frequencies.frequency_get(prn_code) or not code else code
    freq = frequencies.frequency_get(code) if code else None
    item.frequency_code = code
    if freq is not None:
        item.frequency_display = freq.display
        item.frequency_per_day = frequencies.max_per_day(code)
    elif interval:
        item.frequency_display = f"every {interval} hours" + (" as needed" if item.as_needed else "")
        item.frequency_per_day = (Decimal(24) / Decimal(interval)).quantize(Decimal("0.01"))
    return text


def _duration(text: str, item: Item) -> str:
    m, text = _take(_DURATION_BRITISH, text)
    if m:
        days = int(m.group(1)) * {"7": 1, "52": 7, "12": 30}[m.group(2)]
        if 0 < days <= 3650:
            item.duration_days = days
        else:
            item.warnings.append(f"Duration '{m.group(0).strip()}' ignored.")
        return text
    m, text = _take(_DURATION, text)
    if m:
        amount = _dec(m.group(1))
        unit = m.group(2).lower()
        factor = 7 if unit.startswith("w") else 30 if unit.startswith("mo") else 1
        if amount is not None and amount == amount.to_integral_value() and 0 < amount * factor <= 3650:
            item.duration_days = int(amount) * factor
        else:
            item.warnings.append(f"Duration '{m.group(0).strip()}' ignored.")
    return text


def _route(text: str, item: Item) -> str:
    m, text = _take(_ROUTE, text)
    if m:
        item.route, item.route_code = ROUTES[m.group(1).lower()]
    return text


def _quantities(text: str, item: Item) -> tuple[str, tuple[Decimal, str] | str | None]:
    """Strength (first mass or concentration) and dose (a counted or volume dose, else a second mass
    quantity, else the strength itself). Returns the rest of the text and the strength: (value, unit) for
    an amount, the strength text for a concentration, None when none was given."""
    strength_q = None
    masses = []
    while True:
        m, rest = _take(_STRENGTH, text)
        if not m:
            break
        text = rest
        value = _dec(m.group(1))
        unit = MASS_UNITS.get(m.group(2).lower(), m.group(2).lower())
        if not amount_ok(value):
            item.warnings.append(f"'{m.group(0).strip()}' is not a valid amount.")
            continue
        denom = m.group(4)
        masses.append((value, unit, m.group(3), DENOMINATORS.get((denom or "").lower(), denom)))
    count, text = _take(_COUNT, text)
    if masses:
        value, unit, per_n, per = masses[0]
        if per:
            item.strength = f"{_fmt(value)} {unit}/{(_fmt(_dec(per_n)) + ' ') if per_n else ''}{per}"
            strength_q = item.strength
        else:
            item.strength = f"{_fmt(value)} {unit}"
            strength_q = (value, unit)
    if count:
        value = _dec(count.group(1))
        if not amount_ok(value):
            item.warnings.append(f"'{count.group(0).strip()}' is not a valid dose.")
        else:
            item.dose_value, item.dose_unit = value, COUNT_UNITS[count.group(2).lower()]
    elif len(masses) > 1 and not masses[1][3]:
        item.dose_value, item.dose_unit = masses[1][0], masses[1][1]
    elif isinstance(strength_q, tuple):
        item.dose_value, item.dose_unit = strength_q
    return text, strength_q


def _mg(value: Decimal, unit: str) -> Decimal | None:
    factor = TO_MG.get(unit)
    return value * factor if factor is not None else None


def _strength_key(text: str) -> str:
    """A strength written comparably: "0.090 MG/ACTUAT" and "0.09 mg/actuation" give the same key."""
    text = re.sub(r"\s+", "", text.lower()).replace("actuation", "actuat").replace("unt", "unit")
    text = text.replace("units", "unit")
    return re.sub(r"\d+(?:\.\d+)?|\.\d+", lambda m: _fmt(Decimal(m.group(0))), text)


def _strength_matches(med_strength: str, parsed) -> bool:
    """Whether a catalogue strength ("500 mg", "5 mg/mL") is the parsed one: (value, unit) for an amount,
    compared in mg when both are masses; the strength text for a concentration."""
    if not parsed or not med_strength:
        return False
    if isinstance(parsed, str):
        return _strength_key(med_strength) == _strength_key(parsed)
    med_strength = med_strength.split(" / ")[0]  # a combination is named by its first component
    m = re.match(rf"^\s*{_NUM}\s*([a-zµ%]+)\s*$", med_strength.lower())
    if not m:
        return False
    value, unit = _dec(m.group(1)), MASS_UNITS.get(m.group(2), m.group(2))
    a, b = _mg(value, unit), _mg(*parsed)
    if a is not None and b is not None:
        return a == b
    return value == parsed[0] and unit == parsed[1]


def _drug_ref(med=None, ingredient=None) -> dict:
    if med is not None:
        return {
            "rxcui": med.rxcui,
            "name": med.name,
            "level": "product",
            "ingredients": [{"rxcui": i.rxcui, "name": i.name} for i in med.ingredients],
            "alternatives": [],
        }
    return {
        "rxcui": ingredient.rxcui,
        "name": ingredient.name,
        "level": "ingredient",
        "ingredients": [{"rxcui": ingredient.rxcui, "name": ingredient.name}],
        "alternatives": [],
    }


def drug_resolve(phrase: str, *, strength=None, route: str = "", forms=()) -> tuple[dict | None, str, str]:
    """Map a drug phrase to the catalogue: (drug ref, rxcui to check, reason when not found).

    A product (RxNorm SCD/SBD) when one matches the phrase and the strength (mg/g/mcg compared after
    conversion), ranked by route and dose-form words; else the ingredient (RxNorm IN) by exact name or as
    the single ingredient all matching products share, with the best of those products as the one the
    checker sees. Used by the offline parser and, for the drug names an LLM returns, by `hms.pharmacy.llm`.
    """
    phrase = " ".join(phrase.split())
    if not phrase:
        return None, "", "no medication name found"
    phrase = SYNONYMS.get(phrase, phrase)
    candidates = medication_search(phrase, limit=50)
    if isinstance(strength, tuple):
        candidates += [
            c
            for c in medication_search(f"{phrase} {_fmt(strength[0])}", limit=20)
            if c.rxcui not in {x.rxcui for x in candidates}
        ]
    ingredient = ingredient_find(phrase)
    if ingredient is not None:
        own = [c for c in candidates if any(i.rxcui == ingredient.rxcui for i in c.ingredients)]
        candidates = own or candidates

    def score(med) -> tuple:
        return (
            _strength_matches(med.strength, strength) and (not route or med.route == route),
            bool(ingredient) and len(med.ingredients) == 1,
            bool(route) and med.route == route,
            sum(1 for f in forms if f in med.dose_form.lower() or f in med.name.lower()),
            -len(med.name),
        )

    ranked = sorted(candidates, key=score, reverse=True)
    best = ranked[0] if ranked else None
    if best is not None and _strength_matches(best.strength, strength) and (not route or best.route == route):
        ref = _drug_ref(med=best)
        # equally good products (e.g. the same strength as capsule and tablet): the first is taken, the
        # others are listed so the prescriber can name the dose form
        ref["alternatives"] = [
            {"rxcui": c.rxcui, "name": c.name} for c in ranked[1:6] if score(c)[:4] == score(best)[:4]
        ]
        return ref, best.rxcui, ""
    if ingredient is None and ranked:
        shared = {tuple(sorted(i.rxcui for i in c.ingredients)) for c in ranked}
        if len(shared) == 1 and len(best.ingredients) == 1:
            ingredient = best.ingredients[0]
        elif len(shared) == 1:  # a combination product named by its brand: the product is the drug
            return _drug_ref(med=best), best.rxcui, ""
    if ingredient is not None:
        return _drug_ref(ingredient=ingredient), (best.rxcui if best is not None else ingredient.rxcui), ""
    if ranked:
        names = ", ".join(sorted({c.name for c in ranked[:3]}))
        return None, "", f"'{phrase}' matches several medications ({names}); give the full name"
    return None, "", f"'{phrase}' is not in the medication catalogue"


def _route_from_catalogue(item: Item) -> None:
    """No route written: the product's route, or the ingredient's when all its products share one."""
    drug = item.drug
    if drug["level"] == "product":
        routes = {m.route for m in [medication_get(drug["rxcui"])] if m is not None}
    else:
        routes = {
            m.route
            for m in medication_search(drug["name"], limit=50)
            if [i.rxcui for i in m.ingredients] == [drug["rxcui"]]
        }
    if len(routes) == 1 and (route := routes.pop()) in ROUTE_BY_DISPLAY:
        item.route, item.route_code = ROUTE_BY_DISPLAY[route]


def parse_fragment(fragment: str) -> Item:
    """Parse one prescription line (see the module docstring). Never raises for odd text."""
    item = Item(text=fragment)
    text = _normalise(fragment)
    text = _duration(text, item)
    text = _frequency(text, item)
    text = _route(text, item)
    text, strength = _quantities(text, item)
    stray = re.findall(r"(?<![a-z])\d+(?:\.\d+)?(?![a-z])", text)
    if stray:
        item.warnings.append(
            f"Ignored number{'s' if len(stray) > 1 else ''} without a unit: {', '.join(stray)}."
        )
    words = re.findall(r"[a-z][a-z0-9-]*(?:/[a-z][a-z0-9-]*)*", text)
    forms = tuple(DOSE_FORM_WORDS[w] for w in words if w in DOSE_FORM_WORDS)
    name_words = [w for w in words if w not in FILLER and w not in DOSE_FORM_WORDS]
    name = " ".join(name_words).replace("/", " / ")
    drug, check_rxcui, reason = drug_resolve(name, strength=strength, route=item.route, forms=forms)
    if drug is None and len(name_words) > 1:
        # Trailing words that are not part of the name ("amoxicillin with food", "metformin er"):
        # try the longest leading run that resolves.
        for n in range(len(name_words) - 1, 0, -1):
            drug, check_rxcui, _ = drug_resolve(
                " ".join(name_words[:n]), strength=strength, route=item.route, forms=forms
            )
            if drug is not None:
                item.warnings.append(f"Ignored: {' '.join(name_words[n:])}.")
                break
    if drug is None:
        item.status, item.reason = "unparsed", reason
        return item
    item.drug, item.check_rxcui = drug, check_rxcui
    if drug["alternatives"]:
        others = ", ".join(a["name"] for a in drug["alternatives"])
        item.warnings.append(f"Also matches {others}: name the dose form to choose.")
    if not item.route:
        _route_from_catalogue(item)
    if item.dose_value is None:
        item.warnings.append("No dose given.")
    if not item.frequency_code:
        item.warnings.append("No frequency given.")
    if not item.route:
        item.warnings.append("No route given.")
    return item


def parse_offline(text: str) -> list[Item]:
    """The offline, deterministic provider: `clean_text`, `split_lines`, `parse_fragment` each line."""
    return [parse_fragment(f) for f in split_lines(clean_text(text))]


# ---------------------------------------------------------------- checks and summary


def items_check(items: list[Item], *, patient=None) -> list:
    """`cds_check` over the parsed items (for `patient`, or among the items when None).

    A product-level item is checked as written (its dose in any unit the checker converts through the
    product's strength). An ingredient-level item ("ibuprofen 400 mg", no such product) is checked as a
    representative catalogue product of that ingredient with its dose in mg/g/mcg only (a counted dose
    would be converted with the wrong strength), and the findings name the ingredient, not that product.
    """
    from dataclasses import replace

    from hms.cds.checker import ProposedMedication, cds_check

    proposed = []
    renames: dict[str, str] = {}
    for i in items:
        if i.status != "parsed" or not i.check_rxcui:
            continue
        by_mass = i.dose_unit in ("mg", "g", "mcg")
        product = i.drug["level"] == "product"
        proposed.append(
            ProposedMedication(
                rxcui=i.check_rxcui,
                dose_value=i.dose_value if (product or by_mass) else None,
                dose_unit=i.dose_unit if (product or by_mass) else "",
                frequency_per_day=i.frequency_per_day,
            )
        )
        if not product and i.dose_value is not None and not by_mass:
            i.warnings.append(
                f"The dose in {i.dose_unit} was not checked against the maximum daily dose: "
                "give the strength (e.g. 400 mg)."
            )
        med = medication_get(i.check_rxcui)
        if not product and med is not None:
            renames[med.name] = f"{i.drug['name']} {i.strength}".strip()
    if not proposed:
        return []
    findings = cds_check(patient=patient, proposed=proposed)
    if not renames:
        return list(findings)

    def rename(text: str) -> str:
        for old, new in renames.items():
            text = text.replace(old, new)
        return text

    return [replace(f, message=rename(f.message), drugs=tuple(rename(d) for d in f.drugs)) for f in findings]


def _describe(item: Item) -> str:
    drug = item.drug or {}
    name = drug.get("name", "")
    if drug.get("level") == "ingredient" and item.strength:
        name = f"{name} {item.strength}"
    parts = [name[:1].upper() + name[1:]]
    if item.dose_value is not None and f"{_fmt(item.dose_value)} {item.dose_unit}" != item.strength:
        unit = item.dose_unit + ("s" if item.dose_value > 1 and item.dose_unit not in ("mg", "g", "mcg",
                                 "mL", "mEq", "%") else "")  # fmt: skip
        parts.append(f"{_fmt(item.dose_value)} {unit}")
    if item.route:
        parts.append({"oral": "by mouth"}.get(item.route, item.route))
    if item.frequency_display:
        parts.append(item.frequency_display)
    elif item.as_needed:
        parts.append("as needed")
    if item.duration_days:
        parts.append(f"for {item.duration_days} day{'s' if item.duration_days != 1 else ''}")
    return " ".join(parts) + "."


def summary_build(items: list[Item], findings: list, *, patient=None) -> str:
    """Plain-language summary: one sentence per item, then what could not be read, then the findings."""
    lines = []
    parsed = [i for i in items if i.status == "parsed"]
    if parsed:
        lines.append(f"{len(parsed)} medication{'s' if len(parsed) != 1 else ''} recognised:")
        lines.extend(f"- {_describe(i)}" for i in parsed)
    for i in parsed:
        notes = [w for w in i.warnings if not w.startswith("Ignored")]
        if notes:
            lines.append(f'Check "{i.text}": {" ".join(notes)}')
    for i in items:
        if i.status == "unparsed":
            lines.append(f'Could not read "{i.text}": {i.reason}.')
    if findings:
        blocking = sum(1 for f in findings if f.blocking)
        head = f"{len(findings)} safety finding{'s' if len(findings) != 1 else ''}"
        if blocking:
            head += f", {blocking} contraindicated"
        lines.append(head + ":")
        lines.extend(f"- {f.severity.capitalize()} ({f.kind}): {f.message}" for f in findings)
    elif parsed:
        scope = "for this patient" if patient is not None else "among these medications"
        lines.append(f"No interaction, allergy, duplicate or dose problems found {scope}.")
    return "\n".join(lines)


def prescription_analyze(*, text, patient=None, provider: str = "auto") -> Analysis:
    """Analyse `text` (see the module docstring). `provider`: "offline", "llm" or "auto" (the LLM when
    configured, `hms.pharmacy.llm.llm_configured`). The caller has checked access to `patient` and audits.
    Raises `AnalysisInputError` (400) for bad text; never anything else for odd prescriptions."""
    from . import llm

    text = clean_text(text)
    notes: list[str] = []
    used = "offline"
    items = None
    if provider in ("auto", "llm") and llm.llm_configured():
        try:
            items = llm.parse_llm(text)
            used = "llm"
        except llm.LLMError as exc:
            notes.append(f"The language-model provider failed ({exc}); the offline parser was used.")
    elif provider == "llm":
        notes.append("No language-model provider is configured (LLM_BASE_URL); the offline parser was used.")
    if items is None:
        items = parse_offline(text)
    findings = items_check(items, patient=patient)
    return Analysis(
        items=items,
        findings=findings,
        summary=summary_build(items, findings, patient=patient),
        provider=used,
        notes=notes,
    )
