"""The bundled catalogue of orderable laboratory tests and panels, coded in LOINC.

Data: `hms/lab/data/lab_tests.json`, loaded once at import into immutable module-level objects (frozen
dataclasses in a `MappingProxyType`); nothing here changes while serving.

- Every laboratory LOINC code seen in the Synthea sample data (Observations with category `laboratory`
  and DiagnosticReports, listed by `hms/lab/data/extract_synthea_lab_codes.py`), plus the common panels
  and tests of a general hospital (CBC 58410-2, BMP 51990-0, CMP 24323-8, hepatic panel 24325-3, lipid
  panel 57698-3, HbA1c 4548-4, TSH 3016-3, urinalysis 24356-8, INR 6301-6, troponins, CRP, arterial blood
  gas, cultures, ...).
- Each test: `code` (LOINC), `display` (LOINC long common name), `unit` (UCUM), `value_type`
  (quantity | text | panel), the adult reference interval `low`/`high` and the critical limits
  `critical_low`/`critical_high` in that unit (None where no standard one exists), `reference_text` for
  text results (e.g. "Negative"). Panels list their `members`.
- Sources (cited per test in the data file, key `sources`): LOINC 2.77 for codes and names; Harrison's
  Principles of Internal Medicine 21st ed. appendix (reference intervals); Kost, JAMA 1990;263:704
  (critical limits); NCEP ATP III (lipids); ADA Standards of Care 2024 (HbA1c, glucose); KDIGO 2012
  (eGFR); ESC 2021 heart-failure guideline (natriuretic peptides); ImmunoCAP (specific IgE).

LOINC notice: this material contains content from LOINC (http://loinc.org). LOINC is copyright
1995-2024, Regenstrief Institute, Inc. and the Logical Observation Identifiers Names and Codes (LOINC)
Committee and is available at no cost under the license at http://loinc.org/license. LOINC® is a
registered United States trademark of Regenstrief Institute, Inc.
"""

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

LOINC_SYSTEM = "http://loinc.org"
DATA_FILE = Path(__file__).parent / "data" / "lab_tests.json"
MAX_RESULTS = 20


@dataclass(frozen=True)
class LabTest:
    """One orderable test or panel. Limits are Decimals in `unit` (UCUM), None when not defined."""

    code: str
    display: str
    kind: str  # "test" | "panel"
    unit: str
    value_type: str  # "quantity" | "text" | "panel"
    specimen: str
    members: tuple[str, ...] = ()
    low: Decimal | None = None
    high: Decimal | None = None
    critical_low: Decimal | None = None
    critical_high: Decimal | None = None
    reference_text: str = ""
    keywords: str = ""
    sources: tuple[str, ...] = ()

    @property
    def is_panel(self) -> bool:
        return self.kind == "panel"

    @property
    def reference_display(self) -> str:
        """The reference interval as shown to people, e.g. "3.5-5.0 mmol/L", "< 200 mg/dL", "Negative"."""
        unit = f" {self.unit}" if self.unit and self.unit != "1" else ""
        if self.low is not None and self.high is not None:
            return f"{self.low}-{self.high}{unit}"
        if self.high is not None:
            return f"< {self.high}{unit}"
        if self.low is not None:
            return f"≥ {self.low}{unit}"
        return self.reference_text


def _dec(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _load() -> tuple[MappingProxyType, str, MappingProxyType]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        raw = json.load(fh)
    tests = {}
    for row in raw["tests"]:
        tests[row["code"]] = LabTest(
            code=row["code"],
            display=row["display"],
            kind=row["kind"],
            unit=row.get("unit", ""),
            value_type=row["value_type"],
            specimen=row.get("specimen", ""),
            members=tuple(row.get("members", ())),
            low=_dec(row.get("low")),
            high=_dec(row.get("high")),
            critical_low=_dec(row.get("critical_low")),
            critical_high=_dec(row.get("critical_high")),
            reference_text=row.get("reference_text", ""),
            keywords=row.get("keywords", ""),
            sources=tuple(row.get("sources", ())),
        )
    return MappingProxyType(tests), raw["notice"], MappingProxyType(dict(raw["sources"]))


TESTS, NOTICE, SOURCES = _load()

_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


# Search index: each test's words (display, keywords, code), built once at import; immutable.
_INDEX: tuple[tuple[LabTest, frozenset[str]], ...] = tuple(
    (t, _words(f"{t.display} {t.keywords} {t.code}")) for t in TESTS.values()
)


def lab_test_get(code: str) -> LabTest | None:
    """The catalogue entry of LOINC `code`, or None."""
    return TESTS.get((code or "").strip())


def lab_test_search(query: str, *, limit: int = MAX_RESULTS) -> list[LabTest]:
    """Tests matching a search box value: a LOINC code prefix (e.g. "2345", "4548-4"), or words that each
    start a word of the display name or keywords ("hba1c", "potass", "lipid panel", "cbc").

    Panels come first, then tests, each alphabetically. An empty query returns [] (at most `limit`).
    """
    query = " ".join((query or "").split())[:100]
    if not query:
        return []
    if re.fullmatch(r"\d[\d-]*", query):
        hits = [t for t in TESTS.values() if t.code.startswith(query)]
    else:
        terms = _WORD.findall(query.lower())
        if not terms:
            return []
        hits = [t for t, words in _INDEX if all(any(w.startswith(term) for w in words) for term in terms)]
    hits.sort(key=lambda t: (not t.is_panel, t.display.lower()))
    return hits[:limit]


def interpretation_for(
    test: LabTest | None,
    value: Decimal,
    *,
    low: Decimal | None = None,
    high: Decimal | None = None,
) -> str:
    """The v3 ObservationInterpretation flag of a numeric `value`: "LL"/"HH" beyond the test's critical
    limits, "L"/"H" outside the reference interval (`low`/`high` given by the lab, else the catalogue's),
    "N" inside it, "" when there is no interval to compare with."""
    if test is not None:
        if test.critical_low is not None and value < test.critical_low:
            return "LL"
        if test.critical_high is not None and value > test.critical_high:
            return "HH"
    low = low if low is not None else (test.low if test else None)
    high = high if high is not None else (test.high if test else None)
    if low is None and high is None:
        return ""
    if low is not None and value < low:
        return "L"
    if high is not None and value > high:
        return "H"
    return "N"


CRITICAL_FLAGS = frozenset({"LL", "HH", "AA"})
ABNORMAL_FLAGS = frozenset({"L", "H", "A", "LL", "HH", "AA"})
