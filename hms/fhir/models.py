"""Resources kept as received, for modules that do not model them yet."""

from django.db import models

from hms.core.models import SourceIdentifiedModel, TimeStampedModel


class RawResource(TimeStampedModel, SourceIdentifiedModel):
    """A FHIR R4 resource stored verbatim (e.g. `Claim`, `ExplanationOfBenefit` for the billing issue).

    - `resource_type`: the FHIR type name; `source_system`/`source_id`: where it came from and its id
      there (unique per type, since FHIR ids are only unique within a type).
    - `patient`: the Patient it concerns, when it names one.
    - `resource`: the JSON object exactly as imported.
    """

    resource_type = models.CharField(max_length=64, db_index=True)
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="raw_resources"
    )
    resource = models.JSONField()

    class Meta:
        ordering = ["resource_type", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource_type", "source_system", "source_id"],
                condition=~models.Q(source_id=""),
                name="rawresource_unique_source",
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.source_id}"
