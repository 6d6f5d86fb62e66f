"""Inpatient care: the location tree (building → ward → room → bed), admissions and bed stays.

Written only by `hms.inpatient.services` (row locks; one patient per bed at a time).
"""

from django.conf import settings
from django.db import models

from hms.core.models import SoftDeleteModel, TimeStampedModel


class PhysicalType(models.TextChoices):
    """FHIR R4 Location.physicalType (http://terminology.hl7.org/CodeSystem/location-physical-type)."""

    BUILDING = "bu", "Building"
    WARD = "wa", "Ward"
    ROOM = "ro", "Room"
    BED = "bd", "Bed"


class BedStatus(models.TextChoices):
    """Operational status of a bed (FHIR Location.operationalStatus, v2-0116: U unoccupied, O occupied,
    C closed (cleaning / contaminated), K reserved...)."""

    FREE = "free", "Free"
    OCCUPIED = "occupied", "Occupied"
    RESERVED = "reserved", "Reserved"
    CLEANING = "cleaning", "Cleaning"
    OUT_OF_SERVICE = "out-of-service", "Out of service"


class WardType(models.TextChoices):
    ICU = "icu", "Intensive care"
    MATERNITY = "maternity", "Maternity"
    GENERAL_MEDICINE = "general-medicine", "General medicine"
    SURGERY = "surgery", "Surgery"
    PAEDIATRICS = "paediatrics", "Paediatrics"
    EMERGENCY = "emergency", "Emergency"
    OTHER = "other", "Other"


class Location(TimeStampedModel):
    """A place in the hospital's tree. Maps to FHIR R4 `Location` (physicalType bu/wa/ro/bd, partOf).

    - `parent`: building ← ward ← room ← bed (a bed's parent is a room, a room's a ward, a ward's a
      building); enforced by the services.
    - `ward_type`: for wards (`WardType`); `gender_restriction`: "" | "male" | "female" for wards/rooms.
    - `status`: for beds only (`BedStatus`); "free" also for non-beds, where it means nothing.
    - `isolation`: a bed/room under isolation precautions (free text flag shown on the board, e.g.
      "contact", "droplet", "airborne"; "" = none).
    """

    physical_type = models.CharField(max_length=2, choices=PhysicalType.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    name = models.CharField(max_length=100)
    code = models.CharField(max_length=30, blank=True, help_text="short code shown on boards, e.g. ICU-3A")
    ward_type = models.CharField(max_length=20, choices=WardType.choices, blank=True)
    gender_restriction = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=16, choices=BedStatus.choices, default=BedStatus.FREE)
    isolation = models.CharField(max_length=40, blank=True)
    active = models.BooleanField(default=True)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name", "id"]
        indexes = [models.Index(fields=["physical_type", "parent"], name="location_type_parent")]

    def __str__(self) -> str:
        return self.code or self.name


class AdmissionSource(models.TextChoices):
    EMERGENCY = "emergency", "Emergency department"
    CLINIC = "clinic", "Clinic encounter"
    PLANNED = "planned", "Planned (elective)"
    TRANSFER = "transfer", "Transfer from another facility"


class AdmissionStatus(models.TextChoices):
    ACTIVE = "active", "Admitted"
    DISCHARGED = "discharged", "Discharged"
    CANCELLED = "cancelled", "Cancelled"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class Admission(TimeStampedModel, SoftDeleteModel):
    """An inpatient stay (ADT). Maps to FHIR R4 `Encounter` (class IMP, `hospitalization`), the inpatient
    `encounter` it creates.

    - `admitted_at`/`discharged_at`: aware datetimes; `ward`: the current ward (a `Location` of type wa).
    - Discharge: `discharge_disposition` (FHIR discharge-disposition code), `discharge_summary` (text),
      `follow_up_appointment` (scheduling.Appointment), `discharged_by`.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="admissions")
    encounter = models.OneToOneField(
        "clinical.Encounter", on_delete=models.PROTECT, related_name="admission", null=True, blank=True
    )
    source = models.CharField(max_length=12, choices=AdmissionSource.choices)
    source_encounter = models.ForeignKey(
        "clinical.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    admitting_practitioner = models.ForeignKey(
        "staff.Practitioner", on_delete=models.PROTECT, related_name="admissions"
    )
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=20, choices=AdmissionStatus.choices, default=AdmissionStatus.ACTIVE)
    ward = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="admissions")
    admitted_at = models.DateTimeField(db_index=True)
    discharged_at = models.DateTimeField(null=True, blank=True, db_index=True)
    discharge_disposition = models.CharField(max_length=40, blank=True)
    discharge_summary = models.TextField(blank=True)
    follow_up_appointment = models.ForeignKey(
        "scheduling.Appointment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    admitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    discharged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-admitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status="active"),
                name="admission_one_active_per_patient",
            )
        ]

    def __str__(self) -> str:
        return f"Admission #{self.pk} ({self.status})"


class BedStay(TimeStampedModel):
    """One stretch of an admission in one bed: [start, end), end empty while current. The history of
    bed stays (admit, transfers) drives bed-days for billing. Maps to FHIR Encounter.location entries.

    One current stay per bed and per admission (partial unique constraints; the services also lock rows).
    """

    admission = models.ForeignKey(Admission, on_delete=models.PROTECT, related_name="bed_stays")
    bed = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="bed_stays")
    start = models.DateTimeField()
    end = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=20, default="admit", help_text="admit | transfer")
    moved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["bed"], condition=models.Q(end__isnull=True), name="bedstay_one_current_per_bed"
            ),
            models.UniqueConstraint(
                fields=["admission"],
                condition=models.Q(end__isnull=True),
                name="bedstay_one_current_per_admission",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bed} from {self.start:%Y-%m-%d %H:%M}"


class NurseWardAssignment(TimeStampedModel):
    """A nurse (or doctor) working on a ward: they see the ward's admitted patients ("their ward",
    DESIGN.md "Who may see what")."""

    practitioner = models.ForeignKey(
        "staff.Practitioner", on_delete=models.CASCADE, related_name="ward_assignments"
    )
    ward = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="staff_assignments")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["practitioner", "ward"], name="ward_assignment_unique")
        ]
