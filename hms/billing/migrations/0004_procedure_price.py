"""Add the seed rows added to `hms.billing.price_seed` after 0002 (the local 'PROC-OTHER' procedure
price) to databases seeded before; idempotent, the same seeding as 0002."""

from importlib import import_module

from django.db import migrations

_seed_0002 = import_module("hms.billing.migrations.0002_price_list")


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_unit_price_precision")]

    operations = [migrations.RunPython(_seed_0002.seed, migrations.RunPython.noop)]
