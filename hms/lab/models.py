"""Laboratory: diagnostic reports (orders arrive with the clinical-workflows issue)."""

from django.db import models

from hms.core.models import CodingFields, PatientRecordModel, source_unique_constraint


class DiagnosticReport(PatientRecordModel, CodingFields):
    """A report grouping results (e.g. a lipid panel). Maps to FHIR R4 `DiagnosticReport`.

    `code*`: LOINC panel; `category`: v2-0074 section code (LAB, RAD, ...); `results`: its Observations.
    """

    status = models.CharField(max_length=20, default="final")
    category = models.CharField(max_length=16, blank=True)
    effective_at = models.DateTimeField(null=True, blank=True, db_index=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    results = models.ManyToManyField("clinical.Observation", blank=True, related_name="reports")
    conclusion = models.TextField(blank=True)

    class Meta:
        ordering = ["-effective_at", "-id"]
        constraints = [source_unique_constraint("diagnosticreport")]

    def __str__(self) -> str:
        return self.code_display
