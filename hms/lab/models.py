"""Laboratory: orders (ServiceRequest) and their reports (DiagnosticReport) with result Observations.

Lifecycle: a doctor orders tests (`ServiceRequest`, status `active`, one row per test or panel, the rows
of one ordering act share a `requisition`); the lab work list shows the active orders; a lab technician
records the results (`DiagnosticReport` `final`, `based_on` the order, its `results` are
`clinical.Observation` rows with category `laboratory`); the order becomes `completed`; the ordering
doctor is notified and acknowledges. See `hms.lab.services` for the rules (release to the patient,
critical values).
"""

from django.conf import settings
from django.db import models

from hms.core.models import CodingFields, PatientRecordModel, source_unique_constraint


class OrderPriority(models.TextChoices):
    """FHIR R4 request-priority (subset used by the lab; `asap` is treated as urgent)."""

    ROUTINE = "routine", "Routine"
    URGENT = "urgent", "Urgent"
    STAT = "stat", "STAT"


class OrderStatus(models.TextChoices):
    """FHIR R4 request-status."""

    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    REVOKED = "revoked", "Revoked"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class ReportStatus(models.TextChoices):
    """FHIR R4 diagnostic-report-status (the values used here)."""

    REGISTERED = "registered", "Registered"
    PRELIMINARY = "preliminary", "Preliminary"
    FINAL = "final", "Final"
    AMENDED = "amended", "Amended"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class ServiceRequest(PatientRecordModel, CodingFields):
    """A laboratory order for one test or panel. Maps to FHIR R4 `ServiceRequest` (category laboratory).

    - `code*`: LOINC (system http://loinc.org), from `hms.lab.catalog`.
    - `requester`: the ordering Practitioner; `encounter`: optional, the visit it was ordered in.
    - `priority`: `OrderPriority`; `status`: `OrderStatus`; `intent`: always "order".
    - `requisition`: shared by the orders of one ordering act (FHIR ServiceRequest.requisition).
    - `authored_at`: aware datetime (UTC); `specimen_collected_at`: when the lab took the specimen.
    - `performer`: the lab user handling it (set when results are recorded).
    - `status_reason`: why it was revoked (FHIR statusReason), with `status_changed_by`.
    """

    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.ACTIVE)
    intent = models.CharField(max_length=20, default="order")
    priority = models.CharField(max_length=10, choices=OrderPriority.choices, default=OrderPriority.ROUTINE)
    requisition = models.CharField(max_length=40, blank=True, db_index=True)
    requester = models.ForeignKey(
        "staff.Practitioner", on_delete=models.PROTECT, related_name="lab_orders", null=True, blank=True
    )
    authored_at = models.DateTimeField(db_index=True)
    reason = models.CharField(max_length=500, blank=True, help_text="Clinical reason / question.")
    note = models.TextField(blank=True)
    specimen_collected_at = models.DateTimeField(null=True, blank=True)
    performer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status_reason = models.CharField(max_length=500, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-authored_at", "-id"]
        constraints = [source_unique_constraint("servicerequest")]
        indexes = [models.Index(fields=["status", "priority", "authored_at"], name="labord_worklist")]

    def __str__(self) -> str:
        return f"{self.code_display} ({self.get_priority_display()})"


class DiagnosticReport(PatientRecordModel, CodingFields):
    """A report grouping results (e.g. a lipid panel). Maps to FHIR R4 `DiagnosticReport`.

    `code*`: LOINC test or panel; `category`: v2-0074 section code (LAB, RAD, ...); `results`: its
    Observations; `status`: `ReportStatus`. Reports made here have `based_on` (the order), `performer`
    (the lab user), `is_critical` (a result flagged LL/HH/AA), `acknowledged_at/by` (the doctor who read
    it) and `released_at` (from when the patient may see it; see `hms.lab.services` "Release rule").
    Imported reports (Synthea) have no order and count as released.
    """

    status = models.CharField(max_length=20, default=ReportStatus.FINAL, choices=ReportStatus.choices)
    category = models.CharField(max_length=16, blank=True)
    effective_at = models.DateTimeField(null=True, blank=True, db_index=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    results = models.ManyToManyField("clinical.Observation", blank=True, related_name="reports")
    conclusion = models.TextField(blank=True)
    based_on = models.ForeignKey(
        ServiceRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="reports"
    )
    performer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    is_critical = models.BooleanField(default=False)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-effective_at", "-id"]
        constraints = [source_unique_constraint("diagnosticreport")]

    def __str__(self) -> str:
        return self.code_display
