"""Demo stock for `manage.py demo_setup`: a pharmacy, a ward store, the common formulary and two supplies,
lots with expiry dates (some expiring within 30 days, one expired lot to write off), reorder levels (one
item below its level). Idempotent: a second run adds nothing."""

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from hms.pharmacy.catalog import medication_get

from . import services
from .models import InventoryItem, ItemKind, LocationKind, ReorderLevel, StockLocation, StockLot

# (rxcui, unit, unit cost USD, [(lot, quantity, expiry in days)], reorder level at the pharmacy)
FORMULARY = [
    ("308192", "tablet", "0.12", [("AMX-2401", 60, 20), ("AMX-2407", 300, 400)], 100),
    ("197806", "tablet", "0.06", [("IBU-2311", 40, 12), ("IBU-2405", 500, 500)], 100),
    ("198440", "tablet", "0.03", [("APAP-2402", 800, 600)], 200),
    ("861007", "tablet", "0.05", [("MET-2403", 400, 300)], 100),
    ("617311", "tablet", "0.09", [("ATV-2312", 30, 25)], 90),  # below its reorder level
    ("314076", "tablet", "0.04", [("LIS-2404", 300, 420)], 60),
    ("197361", "tablet", "0.05", [("AML-2406", 250, 365)], 60),
    ("198051", "capsule", "0.11", [("OME-2401", 200, 180)], 50),
]
SUPPLIES = [
    ("Nitrile examination gloves (pair)", "pair", "0.08", [("GLV-A1", 1000, None)], 200),
    ("Syringe 5 mL, luer lock", "each", "0.11", [("SYR-5-22", 400, 900)], 100),
]


def demo_stock(pharmacist) -> str:
    """Create the demo stock once; returns a one-line summary for the command's output."""
    today = timezone.localdate()
    with transaction.atomic():
        pharmacy, _ = StockLocation.objects.get_or_create(
            name="Main pharmacy", defaults={"kind": LocationKind.PHARMACY}
        )
        ward, _ = StockLocation.objects.get_or_create(
            name="Ward 3 store", defaults={"kind": LocationKind.WARD}
        )
        created = 0
        rows = [(rx, None, unit, cost, lots, level) for rx, unit, cost, lots, level in FORMULARY]
        rows += [("", name, unit, cost, lots, level) for name, unit, cost, lots, level in SUPPLIES]
        for rxcui, name, unit, cost, lots, level in rows:
            if rxcui:
                medication = medication_get(rxcui)
                if medication is None:
                    continue
                item, _ = InventoryItem.objects.get_or_create(
                    rxcui=rxcui,
                    defaults={
                        "kind": ItemKind.MEDICATION,
                        "name": medication.name,
                        "unit": unit,
                        "unit_cost": Decimal(cost),
                    },
                )
            else:
                item, _ = InventoryItem.objects.get_or_create(
                    name=name,
                    rxcui="",
                    defaults={"kind": ItemKind.SUPPLY, "unit": unit, "unit_cost": Decimal(cost)},
                )
            ReorderLevel.objects.get_or_create(
                item=item, location=pharmacy, defaults={"level": Decimal(level)}
            )
            for lot_number, quantity, expires_in in lots:
                if StockLot.objects.filter(item=item, lot_number=lot_number).exists():
                    continue
                services.stock_receive(
                    item=item,
                    location=pharmacy,
                    lot_number=lot_number,
                    quantity=Decimal(quantity),
                    expiry_date=today + dt.timedelta(days=expires_in) if expires_in else None,
                    reference="demo",
                    by=pharmacist,
                )
                created += 1
        amox = InventoryItem.objects.filter(rxcui="308192").first()
        if amox is not None and not StockLot.objects.filter(item=amox, lot_number="AMX-2309").exists():
            # an expired lot found in the ward store, for the write-off form
            old = StockLot.objects.create(
                item=amox,
                lot_number="AMX-2309",
                expiry_date=today - dt.timedelta(days=3),
                unit_cost=amox.unit_cost,
            )
            services.stock_adjust(
                lot=old, location=ward, delta=Decimal("12"), reason="demo: found in count", by=pharmacist
            )
            services.stock_transfer(
                item=amox,
                quantity=Decimal("20"),
                from_location=pharmacy,
                to_location=ward,
                reason="demo: ward restock",
                by=pharmacist,
            )
            created += 1
    return f"Pharmacy stock: 2 locations, {InventoryItem.objects.count()} items; {created} new demo lot(s)."
