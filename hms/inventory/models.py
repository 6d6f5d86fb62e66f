"""Inventory of medications and supplies: items, stock locations, lots, an append-only move ledger and
per-(lot, location) balances.

FHIR R4 mapping: `StockLocation` is a `Location`; `InventoryItem` a `Medication` (kind medication, coded
in RxNorm) or a `Device`/`SupplyItem`-like definition (kind supply); `StockLot` carries what FHIR puts in
`Medication.batch` (lot number, expiration date); `StockMove` corresponds to `SupplyDelivery` (receive,
transfer) and to the inventory side of `MedicationDispense` (dispense, return). There is no R4 resource for
an inventory ledger, so the moves are not exposed through `/fhir/`.

Quantities are `Decimal` in the item's unit of issue (e.g. "tablet", "capsule", "mL", "pair", "box").
Money is `Decimal` with an ISO 4217 currency (DESIGN "Time and money").

On hand per (lot, location) is the sum of the moves of that pair; `StockBalance` keeps that sum, updated by
`hms.inventory.services` in the same transaction as each move, under a row lock, and the database refuses a
negative balance (CHECK constraint `stockbalance_quantity_non_negative`).
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from hms.core.models import TimeStampedModel


def _default_currency() -> str:
    return getattr(settings, "HOSPITAL_CURRENCY", "USD")


class ItemKind(models.TextChoices):
    MEDICATION = "medication", "Medication"
    SUPPLY = "supply", "Supply"


class InventoryItem(TimeStampedModel):
    """Something the hospital stocks: a medication (RxNorm clinical/branded drug from
    `hms.pharmacy.catalog`, `rxcui` set) or a supply (gloves, syringes, ...; `rxcui` empty).

    `unit` is the unit of issue (what one unit of `quantity` means in moves and dispenses); `unit_cost` the
    list cost of one unit in `currency`, the default cost of lots received without a cost.
    """

    kind = models.CharField(max_length=12, choices=ItemKind.choices)
    rxcui = models.CharField(max_length=16, blank=True, db_index=True, help_text="RxNorm RXCUI (medications)")
    name = models.CharField(max_length=300)
    unit = models.CharField(max_length=40, help_text="unit of issue, e.g. tablet, capsule, mL, pair, box")
    unit_cost = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    currency = models.CharField(max_length=3, default=_default_currency)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rxcui"], condition=~models.Q(rxcui=""), name="inventoryitem_unique_rxcui"
            ),
            models.CheckConstraint(
                condition=models.Q(unit_cost__gte=0), name="inventoryitem_cost_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LocationKind(models.TextChoices):
    PHARMACY = "pharmacy", "Pharmacy"
    WARD = "ward", "Ward store"


class StockLocation(TimeStampedModel):
    """A place where stock is kept (FHIR R4 `Location`): the pharmacy or a ward store."""

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=12, choices=LocationKind.choices, default=LocationKind.PHARMACY)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name", "id"]

    def __str__(self) -> str:
        return self.name


class ReorderLevel(TimeStampedModel):
    """When the usable (unexpired) on-hand of `item` at `location` falls to or below `level`, the
    pharmacists are alerted (`inventory.low_stock`, once per item, location and day)."""

    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="reorder_levels")
    location = models.ForeignKey(StockLocation, on_delete=models.PROTECT, related_name="reorder_levels")
    level = models.DecimalField(max_digits=12, decimal_places=3)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "location"], name="reorderlevel_unique_item_location"),
            models.CheckConstraint(condition=models.Q(level__gte=0), name="reorderlevel_non_negative"),
        ]


class StockLot(TimeStampedModel):
    """One manufacturer's lot (batch) of an item: `lot_number`, `expiry_date` (the lot is unusable from
    that day on), `unit_cost` the cost of one unit of issue when received, in `currency`."""

    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=60)
    expiry_date = models.DateField(null=True, blank=True, help_text="empty for supplies that do not expire")
    unit_cost = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    currency = models.CharField(max_length=3, default=_default_currency)

    class Meta:
        ordering = ["item", "expiry_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "lot_number"], name="stocklot_unique_item_lot"),
            models.CheckConstraint(condition=models.Q(unit_cost__gte=0), name="stocklot_cost_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.item} lot {self.lot_number}"

    def is_expired(self, today=None) -> bool:
        today = today or timezone.localdate()
        return self.expiry_date is not None and self.expiry_date <= today


class StockBalance(models.Model):
    """On hand of one lot at one location: the sum of its moves, kept by the services under a row lock.
    The database refuses a negative quantity."""

    lot = models.ForeignKey(StockLot, on_delete=models.PROTECT, related_name="balances")
    location = models.ForeignKey(StockLocation, on_delete=models.PROTECT, related_name="balances")
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="balances")
    quantity = models.DecimalField(max_digits=14, decimal_places=3, default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["lot", "location"], name="stockbalance_unique_lot_location"),
            models.CheckConstraint(
                condition=models.Q(quantity__gte=0), name="stockbalance_quantity_non_negative"
            ),
        ]
        indexes = [models.Index(fields=["item", "location"], name="stockbalance_item_location")]

    def __str__(self) -> str:
        return f"{self.lot} at {self.location}: {self.quantity}"


class MoveKind(models.TextChoices):
    RECEIVE = "receive", "Receive"
    DISPENSE = "dispense", "Dispense"
    ISSUE = "issue", "Issue"
    TRANSFER_OUT = "transfer-out", "Transfer out"
    TRANSFER_IN = "transfer-in", "Transfer in"
    ADJUST = "adjust", "Adjust"
    RETURN = "return", "Return"
    WRITE_OFF = "write-off", "Write-off (expired)"


class StockMove(models.Model):
    """One line of the append-only stock ledger: `quantity` (signed Decimal, unit of issue) of `lot` at
    `location`: + for receive, transfer-in, return and positive adjustments; - for dispense, issue,
    transfer-out, write-off and negative adjustments.

    `reason` is required for adjust and write-off; `dispense` links the `pharmacy.MedicationDispense` a
    dispense (or a return of dispensed medication) belongs to, and `patient` its patient; `group` ties the
    two halves of a transfer. Rows are never updated or deleted (corrections are new moves).
    """

    kind = models.CharField(max_length=16, choices=MoveKind.choices, db_index=True)
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="moves")
    lot = models.ForeignKey(StockLot, on_delete=models.PROTECT, related_name="moves")
    location = models.ForeignKey(StockLocation, on_delete=models.PROTECT, related_name="moves")
    quantity = models.DecimalField(max_digits=14, decimal_places=3)
    reason = models.CharField(max_length=500, blank=True)
    reference = models.CharField(
        max_length=120, blank=True, help_text="e.g. a delivery note or invoice number"
    )
    group = models.CharField(max_length=32, blank=True, db_index=True)
    dispense = models.ForeignKey(
        "pharmacy.MedicationDispense",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="stock_moves",
    )
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="stock_moves"
    )
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~models.Q(quantity=0), name="stockmove_quantity_not_zero"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} of {self.lot}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("Stock moves are append-only; record a correcting move instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Stock moves are append-only, never deleted.")
