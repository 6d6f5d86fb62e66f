"""PostgreSQL only: no two ACTIVE appointments overlap for one practitioner, one resource or one patient.

Exclusion constraints over `tstzrange(start, "end", '[)')` with `&&` (btree_gist gives `=` on the ids).
Added by SQL guarded on the database vendor rather than in `Meta.constraints`, because the project also
runs on SQLite (where the locked check in `hms.scheduling.services` is the guard). Keep the list of
inactive statuses in step with `models.INACTIVE_STATUSES`.
"""

from django.db import migrations

INACTIVE = "('cancelled', 'noshow', 'entered-in-error')"
CONSTRAINTS = {
    "appointment_practitioner_no_overlap": ("practitioner_id", ""),
    "appointment_resource_no_overlap": ("resource_id", "resource_id IS NOT NULL AND "),
    "appointment_patient_no_overlap": ("patient_id", ""),
}


def add_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    for name, (column, extra) in CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE scheduling_appointment ADD CONSTRAINT {name} EXCLUDE USING gist "
            f"({column} WITH =, tstzrange(start, \"end\", '[)') WITH &&) "
            f"WHERE ({extra}status NOT IN {INACTIVE})"
        )


def drop_constraints(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0001_schedules_appointments"),
    ]

    operations = [migrations.RunPython(add_constraints, drop_constraints)]
