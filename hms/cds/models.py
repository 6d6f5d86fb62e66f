"""Clinical decision support: the interaction rows loaded from a (licensed) knowledge-base file.

The bundled knowledge base lives in `hms/cds/data/*.csv` (read at import, never in the database);
`manage.py cds_load --interactions file.csv` adds rows here, which `hms.cds.checker` uses in addition
to the bundled ones. Reference data, not PHI. Rows are never deleted: `--replace` marks the previous
rows inactive (`active=False`, `replaced_at`).
"""

from django.db import models

from hms.core.models import TimeStampedModel


class Severity(models.TextChoices):
    CONTRAINDICATED = "contraindicated", "Contraindicated"
    MAJOR = "major", "Major"
    MODERATE = "moderate", "Moderate"
    MINOR = "minor", "Minor"


class LoadedInteraction(TimeStampedModel):
    """One drug-drug interaction row of a loaded knowledge-base file (same columns as
    `hms/cds/data/interactions.csv`): `a`, `b` an RxNorm ingredient name or `class:<key>`."""

    a = models.CharField(max_length=200)
    b = models.CharField(max_length=200)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    effect = models.CharField(max_length=1000)
    management = models.CharField(max_length=1000, blank=True)
    source = models.CharField(max_length=1000)
    file_name = models.CharField(max_length=255, help_text="the file it was loaded from")
    line = models.PositiveIntegerField(help_text="line number in that file")
    loaded_by = models.CharField(max_length=150, blank=True, help_text="who ran cds_load (OS or user name)")
    active = models.BooleanField(default=True, db_index=True)
    replaced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.a} + {self.b} ({self.severity})"
