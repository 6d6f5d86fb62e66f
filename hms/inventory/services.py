"""Writes of the inventory: receive, issue (first-expiry-first-out), transfer, adjust, return, write-off.

Contract (like `hms.clinical.services`): keyword arguments, `by` the acting user; a role that never does
this act is `PermissionDenied` (403); bad input is `ValidationError` (400, field-level); not enough stock or
a state clash is `Conflict` (409) with a clear message; every write is atomic with its AuditEvent.

Who: pharmacists do every stock write (the pharmacy keeps the stores, ward stores included: a ward is
restocked by a transfer from the pharmacy). Nurses, admins and the rest read only (see `hms.inventory.api`).

Never negative, under concurrency too: every write locks the `StockBalance` rows it touches
(`SELECT ... FOR UPDATE`, always in the order expiry date, lot id, so two issues cannot deadlock), checks the
quantity on the locked rows and only then writes the move and the new balance; the database CHECK
`stockbalance_quantity_non_negative` is the last line. SQLite serialises write transactions, so the same
code is safe there too.

First-expiry-first-out (FEFO, WHO "Guidelines for the storage of essential medicines and other health
commodities", 2003, section 6): `stock_issue` takes units from the lot that expires first, lots without an
expiry date last, and skips lots that have expired (expiry date ≤ today in the hospital's time zone); those
wait for `stock_write_off_expired`.

Reorder alert: after a write that lowers stock, when the usable (unexpired) on-hand of the item at the
location is at or below its `ReorderLevel`, every active pharmacist is notified through
`hms.messaging.services.notification_send`, event `inventory.low_stock` (templates
`hms/messaging/templates/messaging/inventory.low_stock*.txt`), with the dedupe key
`inventory.low_stock:<item>:<location>:<date>:<user>`: at most once per item, location and day.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from hms.accounts.models import User
from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict
from hms.messaging.services import notification_send

from .models import (
    InventoryItem,
    ItemKind,
    LocationKind,
    MoveKind,
    ReorderLevel,
    StockBalance,
    StockLocation,
    StockLot,
    StockMove,
)

WRITER_ROLES = frozenset({Role.PHARMACIST})
CATALOG_ROLES = frozenset({Role.PHARMACIST, Role.ADMIN})
MAX_QUANTITY = Decimal("1000000")
LOW_STOCK_EVENT = "inventory.low_stock"
FEFO_ORDER = (F("lot__expiry_date").asc(nulls_last=True), "lot_id")


def _check_role(by, roles=WRITER_ROLES) -> None:
    if by is None or not by.is_authenticated or not by.is_active or by.role not in roles:
        raise PermissionDenied("Only the pharmacy manages stock.")


def _text(value, field: str, max_length: int, *, required: bool = False, message: str = "") -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: "Not a valid string."})
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    if required and not value:
        raise ValidationError({field: message or "This field is required."})
    return value


def _quantity(value, field: str = "quantity", *, allow_negative: bool = False) -> Decimal:
    """A Decimal with at most 3 decimal places, > 0 (or ≠ 0 when `allow_negative`), ≤ 1,000,000 units."""
    try:
        q = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: "Enter a number."}) from None
    if not q.is_finite():
        raise ValidationError({field: "Enter a number."})
    if q.as_tuple().exponent < -3:
        raise ValidationError({field: "At most 3 decimal places."})
    if allow_negative:
        if q == 0:
            raise ValidationError({field: "The change cannot be zero."})
    elif q <= 0:
        raise ValidationError({field: "Must be greater than zero."})
    if abs(q) > MAX_QUANTITY:
        raise ValidationError({field: f"At most {MAX_QUANTITY} units."})
    return q


def _money(value, field: str) -> Decimal:
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({field: "Enter an amount."}) from None
    if not amount.is_finite() or amount < 0 or amount.as_tuple().exponent < -4 or amount >= Decimal("1e8"):
        raise ValidationError({field: "Enter an amount ≥ 0 with at most 4 decimal places."})
    return amount


def _live_location(location, field: str = "location") -> StockLocation:
    if not isinstance(location, StockLocation) or not location.active:
        raise ValidationError({field: "Choose an active stock location."})
    return location


def _audit(*, by, request, move: StockMove, detail: dict | None = None) -> None:
    audit_record(
        actor=by,
        action=AuditAction.CREATE,
        request=request,
        patient=move.patient,
        obj=move,
        detail={
            "kind": move.kind,
            "item": move.item_id,
            "lot": move.lot_id,
            "location": move.location_id,
            "quantity": str(move.quantity),
            **(detail or {}),
        },
    )


def _write_move(
    *,
    balance: StockBalance,
    kind: str,
    delta: Decimal,
    by,
    reason="",
    reference="",
    group="",
    dispense=None,
    patient=None,
    at=None,
) -> StockMove:
    """Append one move and apply it to the (already locked) balance row. Conflict if it would go negative."""
    new = balance.quantity + delta
    if new < 0:  # callers check first with a better message; this is the service's own last line
        raise Conflict(
            f"Not enough stock of lot {balance.lot.lot_number} at {balance.location}: "
            f"{balance.quantity} on hand, {-delta} asked.",
            payload={"available": str(balance.quantity)},
        )
    move = StockMove(
        kind=kind,
        item_id=balance.item_id,
        lot_id=balance.lot_id,
        location_id=balance.location_id,
        quantity=delta,
        reason=reason,
        reference=reference,
        group=group,
        dispense=dispense,
        patient=patient,
        by=by,
        at=at or timezone.now(),
    )
    move.save()
    balance.quantity = new
    balance.save(update_fields=["quantity", "updated_at"])
    return move


def _locked_balance(lot: StockLot, location: StockLocation) -> StockBalance:
    balance, _ = StockBalance.objects.select_for_update().get_or_create(
        lot=lot, location=location, defaults={"item_id": lot.item_id, "quantity": Decimal("0")}
    )
    balance.lot = lot
    balance.location = location
    return balance


# ---------------------------------------------------------------- catalogue of items and locations


def item_create(
    *,
    kind: str,
    name: str = "",
    unit: str,
    by,
    rxcui: str = "",
    unit_cost=Decimal("0"),
    currency: str = "",
    request=None,
) -> InventoryItem:
    """Add an item. Medications: `rxcui` from `hms.pharmacy.catalog` (the name defaults to the RxNorm name);
    supplies: `name` required, no `rxcui`. `unit`: unit of issue (≤ 40 chars); `unit_cost` ≥ 0 Decimal in
    `currency` (ISO 4217, default `HOSPITAL_CURRENCY`).
    403 unless pharmacist or admin; 400 on "kind", "rxcui", "name", "unit", "unit_cost", "currency";
    409 when the medication is already an item."""
    _check_role(by, CATALOG_ROLES)
    if kind not in ItemKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(ItemKind.values)}."})
    rxcui = _text(rxcui, "rxcui", 16)
    name = _text(name, "name", 300)
    if kind == ItemKind.MEDICATION:
        from hms.pharmacy.catalog import medication_get

        medication = medication_get(rxcui) if rxcui else None
        if medication is None:
            raise ValidationError({"rxcui": "Choose a medication from the catalogue (RxNorm code)."})
        name = name or medication.name
        if InventoryItem.objects.filter(rxcui=rxcui).exists():
            raise Conflict("This medication is already an inventory item.")
    else:
        if rxcui:
            raise ValidationError({"rxcui": "Supplies have no RxNorm code."})
        if not name:
            raise ValidationError({"name": "Name the supply."})
    unit = _text(unit, "unit", 40, required=True, message="Give the unit of issue (e.g. tablet, box).")
    currency = _text(currency, "currency", 3) or None
    if currency is not None and not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
        raise ValidationError({"currency": "An ISO 4217 code such as USD."})
    item = InventoryItem(
        kind=kind, rxcui=rxcui, name=name, unit=unit, unit_cost=_money(unit_cost, "unit_cost")
    )
    if currency:
        item.currency = currency
    with transaction.atomic():
        item.full_clean()
        item.save()
        audit_record(actor=by, action=AuditAction.CREATE, request=request, obj=item, detail={"name": name})
    return item


def location_create(*, name: str, kind: str = LocationKind.PHARMACY, by, request=None) -> StockLocation:
    """Add a stock location (pharmacy or ward store). 403 unless pharmacist or admin; 400 on "name",
    "kind"; 409 when the name is taken."""
    _check_role(by, CATALOG_ROLES)
    name = _text(name, "name", 120, required=True)
    if kind not in LocationKind.values:
        raise ValidationError({"kind": f"Choose one of: {', '.join(LocationKind.values)}."})
    if StockLocation.objects.filter(name__iexact=name).exists():
        raise Conflict("A stock location with this name exists.")
    with transaction.atomic():
        location = StockLocation.objects.create(name=name, kind=kind)
        audit_record(actor=by, action=AuditAction.CREATE, request=request, obj=location)
    return location


def reorder_level_set(
    *, item: InventoryItem, location: StockLocation, level, by, request=None
) -> ReorderLevel:
    """Set the reorder level (Decimal ≥ 0, unit of issue) of `item` at `location`. 403 unless pharmacist or
    admin; 400 on "level"."""
    _check_role(by, CATALOG_ROLES)
    try:
        level = Decimal(str(level))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"level": "Enter a number."}) from None
    if not level.is_finite() or level < 0 or level > MAX_QUANTITY:
        raise ValidationError({"level": "Enter a number between 0 and 1000000."})
    with transaction.atomic():
        row, _ = ReorderLevel.objects.update_or_create(
            item=item, location=location, defaults={"level": level}
        )
        audit_record(
            actor=by, action=AuditAction.UPDATE, request=request, obj=row, detail={"level": str(level)}
        )
    return row


# ---------------------------------------------------------------- moves


def stock_receive(
    *,
    item: InventoryItem,
    location: StockLocation,
    lot_number: str,
    quantity,
    by,
    expiry_date=None,
    unit_cost=None,
    reference: str = "",
    request=None,
) -> StockMove:
    """Receive `quantity` (Decimal > 0, unit of issue) of `item` into `location` as lot `lot_number`.

    A new lot records `expiry_date` (required for medications, must be after today: an expired delivery is
    refused) and `unit_cost` (Decimal ≥ 0 per unit, default the item's cost); receiving more of an existing
    lot must give the same expiry date (or none). `reference`: the delivery note (≤ 120 chars).
    403 unless pharmacist; 400 on "quantity", "lot_number", "expiry_date", "unit_cost", "location", "item".
    """
    _check_role(by)
    if not isinstance(item, InventoryItem) or not item.active:
        raise ValidationError({"item": "Choose an active inventory item."})
    _live_location(location)
    quantity = _quantity(quantity)
    lot_number = _text(lot_number, "lot_number", 60, required=True, message="Give the lot number.")
    reference = _text(reference, "reference", 120)
    today = timezone.localdate()
    if expiry_date is not None and expiry_date <= today:
        raise ValidationError({"expiry_date": "This lot has expired; do not receive it."})
    cost = _money(unit_cost, "unit_cost") if unit_cost is not None else item.unit_cost
    with transaction.atomic():
        lot = StockLot.objects.filter(item=item, lot_number=lot_number).first()
        if lot is None:
            if expiry_date is None and item.kind == ItemKind.MEDICATION:
                raise ValidationError({"expiry_date": "Give the expiry date of a medication lot."})
            lot, _ = StockLot.objects.get_or_create(
                item=item,
                lot_number=lot_number,
                defaults={"expiry_date": expiry_date, "unit_cost": cost, "currency": item.currency},
            )
        if expiry_date is not None and lot.expiry_date != expiry_date:
            raise ValidationError(
                {"expiry_date": f"Lot {lot_number} is on record with expiry {lot.expiry_date}."}
            )
        balance = _locked_balance(lot, location)
        move = _write_move(balance=balance, kind=MoveKind.RECEIVE, delta=quantity, by=by, reference=reference)
        _audit(by=by, request=request, move=move, detail={"lot_number": lot_number})
    return move


@dataclass(frozen=True)
class Pick:
    """Units taken from one lot by `stock_issue` (FEFO)."""

    lot: StockLot
    quantity: Decimal
    move: StockMove


def usable_on_hand(item: InventoryItem, location: StockLocation, today=None) -> Decimal:
    """Units of `item` at `location` in lots that have not expired (expiry after `today`, or none)."""
    today = today or timezone.localdate()
    total = (
        StockBalance.objects.filter(item=item, location=location)
        .filter(Q(lot__expiry_date__isnull=True) | Q(lot__expiry_date__gt=today))
        .aggregate(total=Sum("quantity"))["total"]
    )
    return total or Decimal("0")


def fefo_plan(item: InventoryItem, location: StockLocation, quantity: Decimal, today=None) -> list[tuple]:
    """What FEFO would pick now, without locking: [(lot, quantity)], for pre-filling the dispense page.
    Shorter than `quantity` when there is not enough usable stock."""
    today = today or timezone.localdate()
    plan, left = [], quantity
    for balance in _usable_balances(item, location, today, lock=False):
        if left <= 0:
            break
        take = min(left, balance.quantity)
        plan.append((balance.lot, take))
        left -= take
    return plan


def _usable_balances(item, location, today, *, lock: bool):
    qs = StockBalance.objects.filter(item=item, location=location, quantity__gt=0).filter(
        Q(lot__expiry_date__isnull=True) | Q(lot__expiry_date__gt=today)
    )
    if lock:
        qs = qs.select_for_update(of=("self",))
    # FEFO: earliest expiry first, lots without expiry last; the lot id breaks ties and fixes the lock order.
    return list(qs.select_related("lot", "location").order_by(*FEFO_ORDER))


def stock_issue(
    *,
    item: InventoryItem,
    location: StockLocation,
    quantity,
    by,
    kind: str = MoveKind.ISSUE,
    dispense=None,
    patient=None,
    reason: str = "",
    group: str = "",
    request=None,
    audit: bool = True,
) -> list[Pick]:
    """Take `quantity` (Decimal > 0) of `item` out of `location`, first-expiry-first-out across the usable
    lots (expired ones skipped), one move per lot touched. Returns the picks, earliest expiry first.

    `kind`: issue (ward use), dispense (with `dispense`/`patient`, called by `hms.pharmacy.dispensing`) or
    transfer-out (called by `stock_transfer`). Runs in the caller's transaction when there is one.
    403 unless pharmacist; 400 on "quantity", "location"; 409 when the usable stock is short (nothing is
    written), with `available` in the payload.
    """
    _check_role(by)
    _live_location(location)
    quantity = _quantity(quantity)
    if kind not in (MoveKind.ISSUE, MoveKind.DISPENSE, MoveKind.TRANSFER_OUT):
        raise ValueError(f"stock_issue cannot write {kind!r} moves")
    reason = _text(reason, "reason", 500)
    today = timezone.localdate()
    picks: list[Pick] = []
    with transaction.atomic():
        balances = _usable_balances(item, location, today, lock=True)
        available = sum((b.quantity for b in balances), Decimal("0"))
        if available < quantity:
            raise Conflict(
                f"Not enough {item.name} at {location.name}: {available} {item.unit} usable on hand, "
                f"{quantity} asked (expired lots are not issued).",
                payload={"available": str(available)},
            )
        left = quantity
        for balance in balances:
            if left <= 0:
                break
            take = min(left, balance.quantity)
            move = _write_move(
                balance=balance,
                kind=kind,
                delta=-take,
                by=by,
                reason=reason,
                group=group,
                dispense=dispense,
                patient=patient,
            )
            if audit:
                _audit(by=by, request=request, move=move)
            picks.append(Pick(lot=balance.lot, quantity=take, move=move))
            left -= take
        low_stock_check(item=item, location=location)
    return picks


def stock_transfer(
    *,
    item: InventoryItem,
    quantity,
    from_location: StockLocation,
    to_location: StockLocation,
    by,
    reason: str = "",
    request=None,
) -> list[StockMove]:
    """Move `quantity` of `item` from one location to another (e.g. restock a ward store), FEFO from the
    source; each lot moved gives a transfer-out and a transfer-in move sharing one `group`. Returns the moves.
    403 unless pharmacist; 400 on "to_location" (same as the source), "quantity"; 409 when the source is
    short.
    """
    _check_role(by)
    _live_location(from_location, "from_location")
    _live_location(to_location, "to_location")
    if from_location.pk == to_location.pk:
        raise ValidationError({"to_location": "Choose a different location."})
    group = uuid.uuid4().hex
    moves = []
    with transaction.atomic():
        picks = stock_issue(
            item=item,
            location=from_location,
            quantity=quantity,
            by=by,
            kind=MoveKind.TRANSFER_OUT,
            reason=reason,
            group=group,
            request=request,
        )
        for pick in picks:
            moves.append(pick.move)
            balance = _locked_balance(pick.lot, to_location)
            move = _write_move(
                balance=balance,
                kind=MoveKind.TRANSFER_IN,
                delta=pick.quantity,
                by=by,
                reason=reason,
                group=group,
            )
            _audit(by=by, request=request, move=move)
            moves.append(move)
    return moves


def stock_adjust(
    *, lot: StockLot, location: StockLocation, delta, reason: str, by, request=None
) -> StockMove:
    """Correct the on-hand of `lot` at `location` by `delta` (signed Decimal ≠ 0) after a count, a breakage,
    a loss, with a required `reason` (≤ 500 chars).
    403 unless pharmacist; 400 on "delta", "reason"; 409 when a negative delta exceeds the on-hand."""
    _check_role(by)
    _live_location(location)
    delta = _quantity(delta, "delta", allow_negative=True)
    reason = _text(reason, "reason", 500, required=True, message="Say why the stock is adjusted.")
    with transaction.atomic():
        balance = _locked_balance(lot, location)
        if balance.quantity + delta < 0:
            raise Conflict(
                f"Lot {lot.lot_number} has {balance.quantity} {lot.item.unit} at {location.name}; "
                f"cannot remove {-delta}.",
                payload={"available": str(balance.quantity)},
            )
        move = _write_move(balance=balance, kind=MoveKind.ADJUST, delta=delta, by=by, reason=reason)
        _audit(by=by, request=request, move=move, detail={"reason": reason})
        if delta < 0:
            low_stock_check(item=lot.item, location=location)
    return move


def stock_return(
    *, lot: StockLot, location: StockLocation, quantity, reason: str, by, dispense=None, request=None
) -> StockMove:
    """Put `quantity` (Decimal > 0) of `lot` back into `location`: unused medication handed back
    (`dispense`: the MedicationDispense it left with; no more than was dispensed from this lot, less what
    was already returned) or goods sent back from a ward. `reason` required. An expired lot is not taken back
    into stock (400). 403 unless pharmacist; 400 on "quantity", "reason", "lot", "dispense"."""
    _check_role(by)
    _live_location(location)
    quantity = _quantity(quantity)
    reason = _text(reason, "reason", 500, required=True, message="Say why the stock is returned.")
    if lot.is_expired():
        raise ValidationError({"lot": "This lot has expired; write it off instead of returning it."})
    patient = None
    with transaction.atomic():
        if dispense is not None:
            out = -(
                StockMove.objects.filter(dispense=dispense, lot=lot).aggregate(total=Sum("quantity"))["total"]
                or Decimal("0")
            )
            # dispense moves are negative, returns positive: `out` is what is still with the patient
            if quantity > out:
                raise ValidationError(
                    {"quantity": f"At most {max(out, Decimal('0'))} of this lot can come back."}
                )
            patient = dispense.patient
        balance = _locked_balance(lot, location)
        move = _write_move(
            balance=balance,
            kind=MoveKind.RETURN,
            delta=quantity,
            by=by,
            reason=reason,
            dispense=dispense,
            patient=patient,
        )
        _audit(by=by, request=request, move=move, detail={"reason": reason})
    return move


def stock_write_off_expired(
    *, location: StockLocation, by, lot: StockLot | None = None, reason: str = "Expired", request=None
) -> list[StockMove]:
    """Write off every expired lot (expiry ≤ today) still on hand at `location` (or just `lot`): one
    write-off move per lot, for its whole on-hand. Returns the moves ([] when nothing is expired).
    403 unless pharmacist; 400 on "lot" when that lot has not expired."""
    _check_role(by)
    _live_location(location)
    reason = _text(reason, "reason", 500) or "Expired"
    today = timezone.localdate()
    if lot is not None and not lot.is_expired(today):
        raise ValidationError({"lot": "This lot has not expired; use an adjustment with a reason."})
    moves = []
    with transaction.atomic():
        qs = StockBalance.objects.select_for_update(of=("self",)).filter(
            location=location, quantity__gt=0, lot__expiry_date__lte=today
        )
        if lot is not None:
            qs = qs.filter(lot=lot)
        for balance in qs.select_related("lot", "location").order_by(*FEFO_ORDER):
            move = _write_move(
                balance=balance, kind=MoveKind.WRITE_OFF, delta=-balance.quantity, by=by, reason=reason
            )
            _audit(by=by, request=request, move=move, detail={"reason": reason})
            moves.append(move)
    return moves


# ---------------------------------------------------------------- reorder alerts


def low_stock_check(*, item: InventoryItem, location: StockLocation, today=None) -> bool:
    """Alert the pharmacists when the usable on-hand of `item` at `location` is at or below its reorder
    level; True when at/below. Once per item, location and day (dedupe key, see the module docstring)."""
    level = ReorderLevel.objects.filter(item=item, location=location).values_list("level", flat=True).first()
    if level is None:
        return False
    today = today or timezone.localdate()
    on_hand = usable_on_hand(item, location, today)
    if on_hand > level:
        return False
    context = {
        "item": item.name,
        "unit": item.unit,
        "location": location.name,
        "on_hand": on_hand,
        "level": level,
    }
    for pharmacist in User.objects.filter(groups__name=Role.PHARMACIST, is_active=True).order_by("pk"):
        notification_send(
            recipient=pharmacist,
            event=LOW_STOCK_EVENT,
            context=context,
            dedupe_key=f"{LOW_STOCK_EVENT}:{item.pk}:{location.pk}:{today.isoformat()}:{pharmacist.pk}",
            channels=("in_app", "email"),
        )
    return True
