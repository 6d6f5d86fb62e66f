"""Medical record numbers: 8-digit serial + 1 Luhn check digit, e.g. `100000017`.

The check digit is the Luhn (mod 10) algorithm of ISO/IEC 7812-1 Annex B: it catches every single-digit
typo and most adjacent transpositions at the front desk. Serials come from one counter row taken under
`SELECT ... FOR UPDATE` (`MRNCounter`), so an MRN is never issued twice and never reused, even after the
patient is soft-deleted or merged.
"""

from django.db import transaction

FIRST_SERIAL = 10_000_000


def luhn_check_digit(digits: str) -> int:
    """The Luhn digit to append to `digits` (a string of 0-9). Raises ValueError on non-digits."""
    if not digits.isdigit():
        raise ValueError("digits only")
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def mrn_from_serial(serial: int) -> str:
    base = str(serial)
    return f"{base}{luhn_check_digit(base)}"


def mrn_is_valid(mrn: str) -> bool:
    """True when `mrn` is all digits, 9 long, and its last digit is the Luhn digit of the rest."""
    return len(mrn) == 9 and mrn.isdigit() and luhn_check_digit(mrn[:-1]) == int(mrn[-1])


def mrn_allocate(count: int = 1) -> list[str]:
    """Reserve `count` new MRNs (1 ≤ count ≤ 10,000,000) atomically; returns them in order."""
    from .models import MRNCounter

    if count < 1:
        raise ValueError("count must be at least 1")
    with transaction.atomic():
        counter, _ = MRNCounter.objects.select_for_update().get_or_create(pk=1)
        start = counter.next_serial
        counter.next_serial = start + count
        counter.save(update_fields=["next_serial"])
    return [mrn_from_serial(s) for s in range(start, start + count)]
