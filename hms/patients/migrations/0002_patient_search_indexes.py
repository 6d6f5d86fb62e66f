"""Indexes for patient search at scale.

- `patient_sort` (all databases): the default list ordering (family, given, id), so a page of an
  unfiltered list is read from the index instead of sorting the whole table.
- PostgreSQL only: `text_pattern_ops` expression indexes so that `UPPER(col) LIKE 'SMI%'` (Django's
  `istartswith`) and `phone LIKE '555%'` are index range scans whatever the database collation.
  SQLite has no operator classes; there the plain indexes of 0001 are used.
"""

from django.db import migrations, models

PG_INDEXES = {
    "patient_family_upper_prefix": "UPPER(family_name) text_pattern_ops",
    "patient_given_upper_prefix": "UPPER(given_names) text_pattern_ops",
    "patient_phone_prefix": "phone varchar_pattern_ops",
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

    dependencies = [
        ('patients', '0001_initial'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='patient',
            index=models.Index(fields=['family_name', 'given_names', 'id'], name='patient_sort'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
