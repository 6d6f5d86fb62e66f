"""Pharmacy: prescriptions (the e-prescribing workflow arrives with the medication-safety issue)."""

from django.db import models

from hms.core.models import CodingFields, PatientRecordModel, source_unique_constraint


class MedicationRequest(PatientRecordModel, CodingFields):
    """A prescription or medication order. Maps to FHIR R4 `MedicationRequest`.

    - `code*`: the medication in RxNorm.
    - `status`: active | on-hold | cancelled | completed | entered-in-error | stopped | draft | unknown.
    - `dosage_text`: the sig as written; `dose_value`/`dose_unit`: Decimal amount per administration;
      `frequency_per_day`: administrations per day; `as_needed`: PRN.
    """

    status = models.CharField(max_length=20, default="active", db_index=True)
    intent = models.CharField(max_length=20, default="order")
    authored_on = models.DateTimeField(null=True, blank=True)
    requester = models.ForeignKey(
        "staff.Practitioner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="medication_requests",
    )
    dosage_text = models.CharField(max_length=500, blank=True)
    dose_value = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    dose_unit = models.CharField(max_length=40, blank=True)
    frequency_per_day = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    as_needed = models.BooleanField(default=False)
    reason_system = models.CharField(max_length=200, blank=True)
    reason_code = models.CharField(max_length=64, blank=True)
    reason_display = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-authored_on", "-id"]
        constraints = [source_unique_constraint("medicationrequest")]

    def __str__(self) -> str:
        return self.code_display
