"""Dosing frequency codes of a prescription: code → administrations per day and default clock times.

Used by the prescribing services (`MedicationRequest.frequency_code` / `frequency_per_day` /
`as_needed`) and by the medication reminders (`default_times`).

Source of the codes: HL7 v3 code system GTSAbbreviation (terminology.hl7.org/CodeSystem/v3-GTSAbbreviation:
BID, TID, QID, QD, QOD, Q4H, Q6H, ..., AM, PM) and the usual Latin sig abbreviations (QHS "quaque hora
somni", QAM/QPM, PRN "pro re nata", STAT). The Joint Commission "Do Not Use" list and ISMP's list of
error-prone abbreviations advise against *writing* QD and QOD by hand (misread as QID); here they are only
stored codes, always shown to people with their `display` text ("once daily", "every other day").

`per_day` is a `Decimal` (administrations per 24 h; None for as-needed and one-off doses); `times` are
the default local "HH:MM" times a reminder uses when the patient has not chosen their own.
"""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Frequency:
    code: str
    display: str
    per_day: Decimal | None
    times: tuple[str, ...] = ()
    as_needed: bool = False


def _f(code, display, per_day, times=(), as_needed=False) -> Frequency:
    return Frequency(
        code, display, Decimal(per_day) if per_day is not None else None, tuple(times), as_needed
    )


FREQUENCIES: dict[str, Frequency] = {
    f.code: f
    for f in (
        _f("QD", "once daily", "1", ["08:00"]),
        _f("QAM", "every morning", "1", ["08:00"]),
        _f("QPM", "every evening", "1", ["18:00"]),
        _f("QHS", "at bedtime", "1", ["22:00"]),
        _f("BID", "twice daily", "2", ["08:00", "20:00"]),
        _f("TID", "three times daily", "3", ["08:00", "14:00", "20:00"]),
        _f("QID", "four times daily", "4", ["08:00", "12:00", "16:00", "20:00"]),
        _f("Q2H", "every 2 hours", "12", [f"{h:02d}:00" for h in range(0, 24, 2)]),
        _f("Q3H", "every 3 hours", "8", [f"{h:02d}:00" for h in range(0, 24, 3)]),
        _f("Q4H", "every 4 hours", "6", ["02:00", "06:00", "10:00", "14:00", "18:00", "22:00"]),
        _f("Q6H", "every 6 hours", "4", ["00:00", "06:00", "12:00", "18:00"]),
        _f("Q8H", "every 8 hours", "3", ["06:00", "14:00", "22:00"]),
        _f("Q12H", "every 12 hours", "2", ["08:00", "20:00"]),
        _f("Q24H", "every 24 hours", "1", ["08:00"]),
        _f("QOD", "every other day", "0.5", ["08:00"]),
        _f("QWK", "once a week", "0.14", ["08:00"]),
        _f("PRN", "as needed", None, as_needed=True),
        _f("Q4H-PRN", "every 4 hours as needed", None, as_needed=True),
        _f("Q6H-PRN", "every 6 hours as needed", None, as_needed=True),
        _f("STAT", "once, immediately", None),
        _f("ONCE", "once", None),
    )
}

# Most a PRN code may be given per day, for the maximum-dose check (from the interval).
PRN_MAX_PER_DAY = {"Q4H-PRN": Decimal("6"), "Q6H-PRN": Decimal("4")}

CHOICES: list[tuple[str, str]] = [(f.code, f"{f.code} ({f.display})") for f in FREQUENCIES.values()]


def frequency_get(code: str) -> Frequency | None:
    """The frequency of `code` (case-insensitive, surrounding spaces ignored), None when unknown."""
    if not isinstance(code, str):
        return None
    return FREQUENCIES.get(code.strip().upper())


def max_per_day(code: str) -> Decimal | None:
    """Administrations per day for dose checks: `per_day`, or the interval's maximum for an "every N
    hours as needed" code; None when it cannot be known (PRN, STAT, unknown code)."""
    freq = frequency_get(code)
    if freq is None:
        return None
    return freq.per_day if freq.per_day is not None else PRN_MAX_PER_DAY.get(freq.code)


def default_times(code: str) -> tuple[str, ...]:
    """Default local "HH:MM" reminder times of `code`; () for as-needed, one-off and unknown codes."""
    freq = frequency_get(code)
    return freq.times if freq else ()
