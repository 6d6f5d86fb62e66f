"""Pharmacy: prescriptions (FHIR MedicationRequest), renewals and dispenses (FHIR MedicationDispense)."""

from django.conf import settings
from django.db import models

from hms.core.models import CodingFields, PatientRecordModel, TimeStampedModel, source_unique_constraint


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
    # e-prescribing (issue 5); imported rows leave these empty
    strength = models.CharField(max_length=100, blank=True, help_text="e.g. '500 mg', '5 mg/mL'")
    route = models.CharField(max_length=40, blank=True, help_text="SNOMED CT route display, e.g. oral")
    frequency_code = models.CharField(max_length=20, blank=True, help_text="e.g. BID, TID, Q6H, QHS")
    duration_days = models.PositiveIntegerField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    quantity_unit = models.CharField(max_length=40, blank=True)
    refills = models.PositiveSmallIntegerField(default=0)
    instructions = models.TextField(blank=True)
    indication = models.ForeignKey(
        "clinical.Condition", null=True, blank=True, on_delete=models.PROTECT, related_name="prescriptions"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status_reason = models.CharField(max_length=500, blank=True, help_text="why stopped / cancelled")
    verification_code = models.CharField(max_length=16, blank=True, db_index=True)
    prior_prescription = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="renewals_issued"
    )
    cds_findings = models.JSONField(default=list, blank=True, help_text="findings shown when signed")
    cds_override_reason = models.CharField(max_length=500, blank=True)
    reminders_enabled = models.BooleanField(default=True, help_text="the patient's medication reminders")
    reminder_times = models.JSONField(
        default=list, blank=True, help_text='local "HH:MM" times chosen by the patient; [] = by frequency'
    )

    class Meta:
        ordering = ["-authored_on", "-id"]
        constraints = [source_unique_constraint("medicationrequest")]

    def __str__(self) -> str:
        return self.code_display


class RenewalStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    CANCELLED = "cancelled", "Cancelled"


class PrescriptionRenewal(TimeStampedModel):
    """A patient's request to renew a prescription; lands in the prescriber's inbox.

    Maps to FHIR R4 `Task` (code `fulfill`, focus the MedicationRequest). `approved` links the new
    prescription (`renewed_as`); `denied` carries `decision_reason`.
    """

    prescription = models.ForeignKey(
        MedicationRequest, on_delete=models.PROTECT, related_name="renewal_requests"
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="renewal_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    prescriber = models.ForeignKey(
        "staff.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="renewal_inbox"
    )
    note = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=RenewalStatus.choices, default=RenewalStatus.REQUESTED)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.CharField(max_length=500, blank=True)
    renewed_as = models.OneToOneField(
        MedicationRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="renewed_from"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["prescription"],
                condition=models.Q(status="requested"),
                name="renewal_one_open_per_prescription",
            )
        ]

    def __str__(self) -> str:
        return f"Renewal of #{self.prescription_id} ({self.status})"


class MedicationDispense(PatientRecordModel, CodingFields):
    """Medication handed out against a prescription. Maps to FHIR R4 `MedicationDispense`.

    - `code*`: the medication dispensed (RxNorm); `quantity` Decimal > 0 in `quantity_unit`.
    - `status`: preparation | completed | cancelled | entered-in-error; `days_supply`: int ≥ 1, what the
      quantity lasts at the prescribed frequency (drives refill alerts).
    - `lots`: which stock lots it was taken from, as [{"lot_id", "lot_number", "quantity"}]; the stock
      moves themselves live in `hms.inventory`.
    """

    prescription = models.ForeignKey(MedicationRequest, on_delete=models.PROTECT, related_name="dispenses")
    status = models.CharField(max_length=20, default="completed")
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    quantity_unit = models.CharField(max_length=40, blank=True)
    days_supply = models.PositiveIntegerField(null=True, blank=True)
    dispensed_at = models.DateTimeField(db_index=True)
    dispensed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_partial = models.BooleanField(default=False)
    lots = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-dispensed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.code_display} x{self.quantity}"
