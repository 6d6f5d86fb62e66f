"""Reads of the inventory: on-hand, lots, moves and the three reports (expiring soon, valuation, low stock),
with a CSV rendering of each.

Stock figures are not patient data, except the moves of dispenses and returns, which name a patient: the
move list is for pharmacists only (`hms.inventory.api`), the rest for every stock reader.

- On hand: `StockBalance` rows (lot x location, quantity > 0); `usable` excludes lots whose expiry date is
  today or earlier (hospital time zone).
- Expiring soon: lots on hand whose expiry date falls within the next `days` days (today included), plus
  those already expired and still on hand (flagged `expired`), soonest first.
- Valuation (method: lot cost x on-hand, i.e. specific identification of each lot at its received unit
  cost, no averaging): per (item, location) the sum of quantity x `StockLot.unit_cost`; totals per
  currency. Decimal throughout, rounded half-up to 2 places only for the totals shown.
- Low stock: every (item, location) with a `ReorderLevel` whose usable on-hand is at or below it.
"""

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from .models import InventoryItem, ReorderLevel, StockBalance, StockLocation, StockLot, StockMove

CENT = Decimal("0.01")
ZERO = Decimal("0")


def balances_on_hand(*, location: StockLocation | None = None, item: InventoryItem | None = None) -> QuerySet:
    """Balances with stock (> 0), with lot, item and location joined, by location, item, FEFO."""
    qs = StockBalance.objects.filter(quantity__gt=0).select_related("lot", "item", "location")
    if location is not None:
        qs = qs.filter(location=location)
    if item is not None:
        qs = qs.filter(item=item)
    return qs.order_by("location__name", "item__name", F("lot__expiry_date").asc(nulls_last=True), "lot_id")


@dataclass(frozen=True)
class StockLine:
    """On hand of one item at one location: `on_hand` all lots, `usable` unexpired lots, `expired`."""

    item: InventoryItem
    location: StockLocation
    on_hand: Decimal
    usable: Decimal
    expired: Decimal
    reorder_level: Decimal | None
    next_expiry: dt.date | None

    @property
    def low(self) -> bool:
        return self.reorder_level is not None and self.usable <= self.reorder_level


def stock_summary(*, location: StockLocation | None = None, today: dt.date | None = None) -> list[StockLine]:
    """On hand per (item, location), including items with a reorder level and no stock left."""
    today = today or timezone.localdate()
    lines: dict[tuple[int, int], dict] = {}
    items, locations = {}, {}
    for b in balances_on_hand(location=location):
        key = (b.item_id, b.location_id)
        items[b.item_id], locations[b.location_id] = b.item, b.location
        row = lines.setdefault(key, {"on_hand": ZERO, "usable": ZERO, "expired": ZERO, "next": None})
        row["on_hand"] += b.quantity
        if b.lot.is_expired(today):
            row["expired"] += b.quantity
        else:
            row["usable"] += b.quantity
            if b.lot.expiry_date and (row["next"] is None or b.lot.expiry_date < row["next"]):
                row["next"] = b.lot.expiry_date
    levels = ReorderLevel.objects.select_related("item", "location")
    if location is not None:
        levels = levels.filter(location=location)
    level_of = {}
    for lv in levels:
        key = (lv.item_id, lv.location_id)
        level_of[key] = lv.level
        items.setdefault(lv.item_id, lv.item)
        locations.setdefault(lv.location_id, lv.location)
        lines.setdefault(key, {"on_hand": ZERO, "usable": ZERO, "expired": ZERO, "next": None})
    out = [
        StockLine(
            item=items[i],
            location=locations[loc],
            on_hand=row["on_hand"],
            usable=row["usable"],
            expired=row["expired"],
            reorder_level=level_of.get((i, loc)),
            next_expiry=row["next"],
        )
        for (i, loc), row in lines.items()
    ]
    return sorted(out, key=lambda s: (s.location.name, s.item.name, s.item.pk))


def low_stock_report(*, today: dt.date | None = None) -> list[StockLine]:
    """(item, location) pairs at or below their reorder level (usable stock), lowest first."""
    return sorted(
        (s for s in stock_summary(today=today) if s.low),
        key=lambda s: (s.usable - s.reorder_level, s.item.name),
    )


def expiring_report(*, days: int, today: dt.date | None = None) -> QuerySet:
    """Balances on hand whose lot expires on or before today + `days` (expired ones included), soonest
    first; each annotated `expired` (bool) by the caller via `lot.is_expired()`."""
    today = today or timezone.localdate()
    limit = today + dt.timedelta(days=days)
    return (
        StockBalance.objects.filter(
            quantity__gt=0, lot__expiry_date__isnull=False, lot__expiry_date__lte=limit
        )
        .select_related("lot", "item", "location")
        .order_by("lot__expiry_date", "item__name", "location__name", "lot_id")
    )


@dataclass(frozen=True)
class ValuationLine:
    item: InventoryItem
    location: StockLocation
    quantity: Decimal
    value: Decimal  # unrounded: Σ quantity x lot unit cost
    currency: str


def valuation_report() -> tuple[list[ValuationLine], dict[str, Decimal]]:
    """Stock value per (item, location) and totals per currency (rounded to cents, half-up); see the
    module docstring for the method. Summed in Python over the balances, so the Decimals are exact on
    every database (one row per lot and location: a few thousand in a hospital)."""
    grouped: dict[tuple, dict] = {}
    for b in StockBalance.objects.filter(quantity__gt=0).select_related("lot", "item", "location"):
        key = (b.item_id, b.location_id, b.lot.currency)
        row = grouped.setdefault(key, {"item": b.item, "location": b.location, "qty": ZERO, "value": ZERO})
        row["qty"] += b.quantity
        row["value"] += b.quantity * b.lot.unit_cost
    lines = [
        ValuationLine(
            item=r["item"], location=r["location"], quantity=r["qty"], value=r["value"], currency=key[2]
        )
        for key, r in grouped.items()
    ]
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for line in lines:
        totals[line.currency] += line.value
    lines.sort(key=lambda v: (v.item.name, v.location.name, v.currency))
    return lines, {c: t.quantize(CENT, rounding=ROUND_HALF_UP) for c, t in sorted(totals.items())}


def lots_visible() -> QuerySet[StockLot]:
    return StockLot.objects.select_related("item").order_by(F("expiry_date").asc(nulls_last=True), "id")


def moves_list() -> QuerySet[StockMove]:
    return StockMove.objects.select_related("item", "lot", "location", "by").order_by("-at", "-id")


def items_search(q: str = "") -> QuerySet[InventoryItem]:
    qs = InventoryItem.objects.filter(active=True)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(rxcui=q))
    return qs.order_by("name", "id")


# ---------------------------------------------------------------- CSV


def _csv(header: list[str], rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([_safe(v) for v in row])
    return buffer.getvalue()


def _safe(value) -> str:
    """Neutralise spreadsheet formulas (OWASP "CSV injection"): a cell starting with = + - @ gets a '."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except Exception:
        return False
    return True


def expiring_csv(*, days: int, today: dt.date | None = None) -> str:
    today = today or timezone.localdate()
    return _csv(
        ["item", "rxcui", "lot_number", "expiry_date", "expired", "location", "quantity", "unit"],
        (
            [
                b.item.name,
                b.item.rxcui,
                b.lot.lot_number,
                b.lot.expiry_date,
                b.lot.is_expired(today),
                b.location.name,
                b.quantity,
                b.item.unit,
            ]
            for b in expiring_report(days=days, today=today)
        ),
    )


def valuation_csv() -> str:
    lines, totals = valuation_report()
    rows = [
        [
            v.item.name,
            v.item.rxcui,
            v.location.name,
            v.quantity,
            v.item.unit,
            v.value.quantize(CENT, rounding=ROUND_HALF_UP),
            v.currency,
        ]
        for v in lines
    ]
    rows += [["TOTAL", "", "", "", "", total, currency] for currency, total in totals.items()]
    return _csv(["item", "rxcui", "location", "quantity", "unit", "value", "currency"], rows)


def low_stock_csv(*, today: dt.date | None = None) -> str:
    return _csv(
        ["item", "rxcui", "location", "usable_on_hand", "reorder_level", "unit"],
        (
            [s.item.name, s.item.rxcui, s.location.name, s.usable, s.reorder_level, s.item.unit]
            for s in low_stock_report(today=today)
        ),
    )
