"""ICD-10-CM, the full code list, searched offline.

Source: the CDC/NCHS ICD-10-CM tabular list (FY2026, April 1 2026 release) as shipped by the PyPI package
`simple-icd-10-cm` 1.5.0 (MIT licence; https://github.com/StefanoTrv/simple_icd_10_CM). Codes are stored
in the dotted form (`E11.9`) under the system `hms.core.codes.ICD10CM` (`http://hl7.org/fhir/sid/icd-10-cm`).

"Billable" = a leaf of the tabular list (no more specific code under it), including codes completed with
their 7th character. Only those may be recorded as a diagnosis: "a code is invalid if it has not been
coded to the full number of characters required for that code" (ICD-10-CM Official Guidelines for Coding
and Reporting, Section I.B.2 "Level of Detail in Coding").

`icd10_index()` builds an immutable `Icd10Index` once per process, on first use (parsing the tabular
XML takes ~2 s; the index then holds ~98,500 codes, ~75,000 of them billable). Search rules
(`Icd10Index.search(query, limit)`):

- a query shaped like a code (a letter then a digit, e.g. `E11`, `e11.9`, `E119`) matches codes starting
  with it, dot or no dot: the exact code first, then billable codes, then the others, each in code order;
- any other query is split into words (letters and digits); every word must be the start of a word of
  the description ("type 2 diab" finds "Type 2 diabetes mellitus ..."); billable codes first, then the
  shorter descriptions (the general case before its variants), then code order;
- at most `limit` results (1..50); an empty or blank query gives none.

Speed and size (measured with `python -m hms.terminology.icd10` on the 2-core dev VM while other test runs
loaded it): 98,225 codes (74,724 billable); building takes 3-10 s once per process (the CDC XML is parsed in a
child process, so the package's ~180 MB tree never stays in a web worker; the index itself is ~45 MB).
Code prefixes < 0.01 ms; typical word queries ("type 2 diabetes", "acute myocardial infarction", "fracture
femur") 0.05-0.2 ms; one letter 0.3-1.4 ms; the worst cases found (common words that never occur together,
"right left subsequent": 5 ms; eight one-letter words: 12 ms) stay under the 20 ms a keystroke may cost. A
word search streams the rarest word's postings and checks the others per entry, and switches to set
intersections after 3,000 entries without enough matches.
"""

from __future__ import annotations

import bisect
import heapq
import re
import threading
from dataclasses import dataclass
from itertools import accumulate

SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
MAX_LIMIT = 50
DEFAULT_LIMIT = 20
MAX_QUERY_WORDS = 8
_SCAN_BUDGET = 3000  # entries a word search streams through before it switches to set intersections

_CODE_QUERY = re.compile(r"^[A-Za-z][0-9][0-9A-Za-z]{0,5}(\.[0-9A-Za-z]{0,4})?$")
_CODE_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")
_WORD = re.compile(r"[0-9a-z]+")


@dataclass(frozen=True, slots=True)
class Icd10Code:
    """One ICD-10-CM code: `code` dotted (`E11.9`), `display` (the tabular description), `billable`."""

    code: str
    display: str
    billable: bool

    @property
    def system(self) -> str:
        return SYSTEM


def normalize_code(code: str) -> str:
    """`e119`, `E11.9`, ` E11.9 ` -> `E11.9` (the dotted form; the dot goes after the 3rd character).
    Does not check that the code exists."""
    raw = (code or "").strip().upper().replace(".", "")
    return raw if len(raw) <= 3 else f"{raw[:3]}.{raw[3:]}"


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


class Icd10Index:
    """An immutable search index over ICD-10-CM codes (see the module docstring for the rules).

    Built from `(code, display, billable)` tuples; `icd10_index()` gives the process-wide one.
    """

    def __init__(self, rows):
        # Entries ordered by relevance for word searches: billable first, shorter descriptions, code.
        entries = sorted(
            (Icd10Code(code, display, billable) for code, display, billable in rows),
            key=lambda e: (not e.billable, len(_words(e.display)), len(e.display), e.code),
        )
        self._entries: tuple[Icd10Code, ...] = tuple(entries)
        self._by_code: dict[str, int] = {e.code: i for i, e in enumerate(entries)}
        # Code-prefix search: undotted codes in code order, with the entry id of each.
        by_code = sorted((e.code.replace(".", ""), i) for i, e in enumerate(entries))
        self._code_keys: tuple[str, ...] = tuple(k for k, _ in by_code)
        self._code_ids: tuple[int, ...] = tuple(i for _, i in by_code)
        # Word search: sorted vocabulary; postings (sorted entry ids) per word; cumulative posting sizes.
        postings: dict[str, list[int]] = {}
        tokens: list[tuple[int, ...]] = []
        for i, e in enumerate(entries):
            for w in set(_words(e.display)):
                postings.setdefault(w, []).append(i)
        vocab = sorted(postings)
        word_id = {w: n for n, w in enumerate(vocab)}
        for e in entries:
            tokens.append(tuple(sorted({word_id[w] for w in _words(e.display)})))  # tuples: 1/4 of a set
        self._vocab: tuple[str, ...] = tuple(vocab)
        self._postings: tuple[tuple[int, ...], ...] = tuple(tuple(postings[w]) for w in vocab)
        self._cumulative: tuple[int, ...] = (0, *accumulate(len(p) for p in self._postings))
        self._tokens: tuple[tuple[int, ...], ...] = tuple(tokens)

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, code: str) -> Icd10Code | None:
        """The code (any form: `E119`, `e11.9`), or None when ICD-10-CM has no such code."""
        i = self._by_code.get(normalize_code(code))
        return self._entries[i] if i is not None else None

    # ------------------------------------------------------------------ search

    def search(self, query: str, limit: int = DEFAULT_LIMIT) -> list[Icd10Code]:
        """At most `limit` (clamped to 1..50) codes matching `query`, best first (module docstring)."""
        limit = max(1, min(int(limit), MAX_LIMIT))
        query = " ".join((query or "").split())
        if not query:
            return []
        if _CODE_QUERY.match(query):
            return self._search_code(query, limit)
        return self._search_words(query, limit)

    def _search_code(self, query: str, limit: int) -> list[Icd10Code]:
        prefix = query.upper().replace(".", "")
        lo = bisect.bisect_left(self._code_keys, prefix)
        hi = bisect.bisect_left(self._code_keys, prefix + "\x7f", lo)
        exact, billable, other = [], [], []
        for n in range(lo, hi):
            entry = self._entries[self._code_ids[n]]
            if self._code_keys[n] == prefix:
                exact.append(entry)
            elif entry.billable:
                billable.append(entry)
                if len(exact) + len(billable) >= limit:
                    break
            elif len(other) < limit:
                other.append(entry)
        return (exact + billable + other)[:limit]

    def _word_range(self, word: str) -> tuple[int, int]:
        lo = bisect.bisect_left(self._vocab, word)
        hi = bisect.bisect_left(self._vocab, word + "\x7f", lo)
        return lo, hi

    def _search_words(self, query: str, limit: int) -> list[Icd10Code]:
        words = list(dict.fromkeys(_words(query)))[:MAX_QUERY_WORDS]
        if not words:
            return []
        ranges = [self._word_range(w) for w in words]
        if any(lo == hi for lo, hi in ranges):
            return []
        # Drive the scan with the word that has the fewest postings; check the others per entry. Vocabulary
        # ids are in alphabetical order, so the words starting with a prefix are one id range [lo, hi), and
        # an entry's sorted token ids hold one of them iff bisect finds one in the range.
        sizes = [self._cumulative[hi] - self._cumulative[lo] for lo, hi in ranges]
        order = sorted(range(len(words)), key=sizes.__getitem__)
        lo, hi = ranges[order[0]]
        checks = [ranges[n] for n in order[1:]]
        streams = [self._postings[v] for v in range(lo, hi)]
        ids = streams[0] if len(streams) == 1 else heapq.merge(*streams)
        out: list[Icd10Code] = []
        last = -1
        tokens = self._tokens
        for scanned, i in enumerate(ids):
            if scanned == _SCAN_BUDGET:  # matches are rare: intersect id sets instead (C speed)
                return self._search_sets(streams, checks, [sizes[n] for n in order[1:]], limit)
            if i == last:
                continue
            last = i
            toks = tokens[i]
            if all(_has_any(toks, clo, chi) for clo, chi in checks):
                out.append(self._entries[i])
                if len(out) >= limit:
                    break
        return out

    def _search_sets(self, streams, checks, sizes, limit: int) -> list[Icd10Code]:
        """Rare matches among many candidates: the driver's ids as a set, narrowed by each other word
        (a set intersection when its postings are not much larger, else a per-entry check)."""
        candidates = set().union(*streams)
        tokens = self._tokens
        for (clo, chi), size in zip(checks, sizes, strict=True):
            if not candidates:
                break
            if size <= 4 * len(candidates):
                candidates &= set().union(*self._postings[clo:chi])
            else:
                candidates = {i for i in candidates if _has_any(tokens[i], clo, chi)}
        return [self._entries[i] for i in heapq.nsmallest(limit, candidates)]


def _has_any(tokens: tuple[int, ...], lo: int, hi: int) -> bool:
    """Whether the sorted `tokens` hold an id in [lo, hi)."""
    n = bisect.bisect_left(tokens, lo)
    return n < len(tokens) and tokens[n] < hi


_lock = threading.Lock()
_index: Icd10Index | None = None


# Reads the package's tree and prints [[code, display, billable], ...] as JSON. Run in a child process:
# the package keeps its whole parsed tree (~180 MB) in module globals for the life of the process, which a
# web worker should not carry; the child exits and only the rows come back (~2 s, once per process).
_DUMP_SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
import simple_icd_10_cm as cm
rows = [
    [code, cm.get_description(code), cm.is_leaf(code)]
    for code in cm.get_all_codes(with_dots=True)
    if cm.is_category_or_subcategory(code)
]
json.dump(rows, sys.stdout)
"""


def _load_rows():
    """(code, display, billable) of every ICD-10-CM category and subcategory (chapters and blocks are
    headings, not codes), read in a child process; in-process when a child cannot be started."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        done = subprocess.run(  # our own interpreter running our own constant script
            [sys.executable, "-c", _DUMP_SCRIPT], capture_output=True, check=True, timeout=120, env=env
        )
        return [tuple(row) for row in json.loads(done.stdout)]
    except (OSError, subprocess.SubprocessError, ValueError):
        pass
    import warnings

    with warnings.catch_warnings():  # the package reads its data with importlib.resources' legacy API
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as cm
    return [
        (code, cm.get_description(code), cm.is_leaf(code))
        for code in cm.get_all_codes(with_dots=True)
        if cm.is_category_or_subcategory(code)
    ]


def icd10_index() -> Icd10Index:
    """The process-wide index, built on first use (thread-safe). Immutable once built."""
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = Icd10Index(_load_rows())
    return _index


def icd10_search(query: str, limit: int = DEFAULT_LIMIT) -> list[Icd10Code]:
    """Search the full ICD-10-CM list (see `Icd10Index.search`)."""
    return icd10_index().search(query, limit)


def icd10_get(code: str) -> Icd10Code | None:
    """The ICD-10-CM code `code` (dotted or not), or None when it does not exist."""
    if not _CODE_SHAPE.match(normalize_code(code)):
        return None
    return icd10_index().get(code)


if __name__ == "__main__":  # pragma: no cover - the measurement quoted in the module docstring
    import time

    t0 = time.perf_counter()
    index = icd10_index()
    print(f"built {len(index)} codes in {time.perf_counter() - t0:.2f} s")
    for q in [
        "E11",
        "E11.9",
        "E119",
        "S72",
        "type 2 diabetes",
        "diab",
        "a",
        "s",
        "left s",
        "fracture femur",
        "essential hypertension",
        "zzz",
        "acute myocardial infarction",
        "pain",
    ]:
        runs = 50
        t0 = time.perf_counter()
        for _ in range(runs):
            res = index.search(q, 20)
        ms = (time.perf_counter() - t0) * 1000 / runs
        print(f"{q!r:32} {ms:7.3f} ms  {len(res):2d}  {[r.code for r in res[:4]]}")
