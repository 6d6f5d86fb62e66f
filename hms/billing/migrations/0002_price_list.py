"""Seed the price list (hms.billing.price_seed) for every payer class. Reversible: removes the seed rows."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import migrations

from hms.billing import price_seed


def seed(apps, schema_editor):
    PriceListEntry = apps.get_model("billing", "PriceListEntry")
    valid_from = dt.date.fromisoformat(price_seed.SEED_VALID_FROM)
    for system, code, display, category, price, tax in price_seed.SEED_ROWS:
        for payer, factor in price_seed.PAYER_FACTORS.items():
            PriceListEntry.objects.get_or_create(
                code_system=system,
                code=code,
                payer_class=payer,
                valid_from=valid_from,
                defaults={
                    "display": display,
                    "category": category,
                    "unit_price": (Decimal(price) * factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
                    "tax_rate": Decimal(tax),
                },
            )


def unseed(apps, schema_editor):
    PriceListEntry = apps.get_model("billing", "PriceListEntry")
    valid_from = dt.date.fromisoformat(price_seed.SEED_VALID_FROM)
    for system, code, *_ in price_seed.SEED_ROWS:
        PriceListEntry.objects.filter(code_system=system, code=code, valid_from=valid_from).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
