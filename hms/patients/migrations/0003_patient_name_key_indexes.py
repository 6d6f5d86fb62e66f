"""PostgreSQL only: the ordered name-key indexes that `hms.patients.selectors.PatientNameSearch` reads.

`(UPPER(family_name) COLLATE "C", UPPER(given_names) COLLATE "C", id)` and the same with given first:
a one-word search is a range scan on one of them, already in display order, stopped after one page.
SQLite compares bytes natively; there the `patient_name_upper`/`patient_given_upper` indexes serve.
"""

from django.db import migrations

PG_INDEXES = {
    "patient_family_key": '(UPPER(family_name) COLLATE "C"), (UPPER(given_names) COLLATE "C"), id',
    "patient_given_key": '(UPPER(given_names) COLLATE "C"), (UPPER(family_name) COLLATE "C"), id',
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in PG_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON patients_patient ({expression})")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in PG_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_patient_search_indexes")]
    operations = [migrations.RunPython(forwards, backwards)]
