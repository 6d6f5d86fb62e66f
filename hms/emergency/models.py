"""Emergency care and hospital alerts: ED triage (ESI), patient emergency requests, code activations
with their response teams and acknowledgements, and admin broadcasts."""

from django.conf import settings
from django.db import models

from hms.core.models import TimeStampedModel


class EdStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    IN_TREATMENT = "in-treatment", "In treatment"
    ADMITTED = "admitted", "Admitted"
    DISCHARGED = "discharged", "Discharged"
    LEFT = "left", "Left without being seen"


class EdVisit(TimeStampedModel):
    """A patient's visit to the emergency department, from arrival to departure, with its triage.

    Maps to FHIR R4 `Encounter` (class EMER) with `priority` = ESI level. `esi_level`: int 1 (resuscitation)
    … 5 (non-urgent), Emergency Severity Index v4 (AHRQ / ENA, 2012/2020 handbook). `vitals`: the triage
    Observations. `doctor_seen_at` minus `arrived_at` = door-to-doctor time.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="ed_visits")
    encounter = models.OneToOneField(
        "clinical.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="ed_visit"
    )
    arrived_at = models.DateTimeField(db_index=True)
    chief_complaint = models.CharField(max_length=300)
    esi_level = models.PositiveSmallIntegerField(null=True, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    triage_note = models.TextField(blank=True)
    vitals = models.ManyToManyField("clinical.Observation", blank=True, related_name="+")
    status = models.CharField(max_length=16, choices=EdStatus.choices, default=EdStatus.WAITING)
    doctor_seen_at = models.DateTimeField(null=True, blank=True)
    seen_by = models.ForeignKey(
        "staff.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_alerted_at = models.DateTimeField(null=True, blank=True)
    departed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["esi_level", "arrived_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(esi_level__isnull=True) | models.Q(esi_level__gte=1, esi_level__lte=5),
                name="edvisit_esi_1_5",
            )
        ]

    def __str__(self) -> str:
        return f"ED visit #{self.pk} ESI {self.esi_level or '-'}"


class RequestStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    DISPATCHED = "dispatched", "Dispatched"
    CLOSED = "closed", "Closed"


class EmergencyRequest(TimeStampedModel):
    """A patient's emergency request from the portal. Maps to FHIR R4 `CommunicationRequest` (priority
    stat). `latitude`/`longitude`: WGS84 degrees (optional); each step timestamped with who."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="emergency_requests"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    location_text = models.CharField(max_length=300, blank=True)
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    description = models.CharField(max_length=500)
    status = models.CharField(max_length=14, choices=RequestStatus.choices, default=RequestStatus.OPEN)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispatch_note = models.CharField(max_length=500, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Emergency request #{self.pk} ({self.status})"


class CodeType(TimeStampedModel):
    """A hospital emergency code (Code Blue: cardiac arrest; Code Red: fire; ...) and its response team.
    Not PHI."""

    key = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=60)
    description = models.CharField(max_length=300, blank=True)
    colour = models.CharField(max_length=20, blank=True, help_text="CSS colour of the alert banner")
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="code_teams")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OnDuty(models.Model):
    """A user currently on duty (a row exists) since `since`; code alerts reach on-duty team members."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="on_duty")
    since = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user} on duty since {self.since:%H:%M}"


class CodeActivation(TimeStampedModel):
    """One activation of a code: type, where, who, when; closed when over. Logged for review."""

    code_type = models.ForeignKey(CodeType, on_delete=models.PROTECT, related_name="activations")
    location_text = models.CharField(max_length=200)
    note = models.CharField(max_length=500, blank=True)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    activated_at = models.DateTimeField(db_index=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-activated_at", "-id"]

    def __str__(self) -> str:
        return f"{self.code_type} at {self.location_text}"


class CodeAlert(models.Model):
    """The alert of one activation to one responder: when sent and when acknowledged."""

    activation = models.ForeignKey(CodeActivation, on_delete=models.PROTECT, related_name="alerts")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["activation", "recipient"], name="codealert_one_per_recipient")
        ]

    def __str__(self) -> str:
        return f"Alert of {self.activation_id} to {self.recipient_id}"


class Broadcast(TimeStampedModel):
    """An administrator's broadcast message to roles (empty = everyone), pushed like code alerts."""

    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=120)
    body = models.TextField(max_length=2000)
    roles = models.JSONField(default=list, blank=True)
    urgent = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title
