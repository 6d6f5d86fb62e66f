"""Schedules, bookable resources, service types and appointments.

FHIR R4 mapping: `Schedule` ~ Schedule (its `WorkingHours`/`ScheduleException` rows generate the free
Slots, which are computed, never stored: see `hms.scheduling.selectors.slots_free`); `BookableResource`
~ Location (rooms) or Device (equipment); `ServiceType` ~ Schedule/Appointment.serviceType;
`Appointment` ~ Appointment; `AppointmentChange` ~ the Appointment's history (Provenance).

Times: `WorkingHours` and exceptions are wall-clock times in the schedule's `time_zone`; appointment
`start`/`end` are aware datetimes stored in UTC. An appointment holds [start, end).
"""

from django.conf import settings
from django.contrib.postgres.fields import DateTimeRangeField
from django.contrib.postgres.lookups import Overlap
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connections, models
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.db.models import F, Func, Q, Value
from django.utils import timezone

from hms.core.models import TimeStampedModel


def _default_time_zone() -> str:
    return settings.HOSPITAL_TIME_ZONE


def _validate_time_zone(value: str) -> None:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"Unknown IANA time zone {value!r}.") from None


class ResourceKind(models.TextChoices):
    ROOM = "room", "Room"  # FHIR Location
    EQUIPMENT = "equipment", "Equipment"  # FHIR Device


class BookableResource(TimeStampedModel):
    """A room (operating room, consultation room; FHIR R4 `Location`) or a piece of equipment
    (ultrasound, lab slot; FHIR R4 `Device`) that appointments can hold, with its own `Schedule`."""

    kind = models.CharField(max_length=16, choices=ResourceKind.choices)
    name = models.CharField(max_length=120, unique=True)
    description = models.CharField(max_length=300, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ServiceType(models.Model):
    """What is booked (FHIR R4 `Appointment.serviceType` / `Schedule.serviceType`): a code, its display and
    the slot length in minutes (`default_minutes`, 5-480, e.g. 15, 20, 30)."""

    code_system = models.CharField(max_length=200, blank=True, default="")
    code = models.CharField(max_length=64, unique=True)
    display = models.CharField(max_length=200)
    default_minutes = models.PositiveSmallIntegerField(
        default=20, validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["display"]

    def __str__(self) -> str:
        return f"{self.display} ({self.default_minutes} min)"


class Schedule(TimeStampedModel):
    """The availability of one practitioner OR one bookable resource. Maps to FHIR R4 `Schedule`
    (`actor` = the practitioner or the resource).

    - `time_zone`: IANA name; working hours and exceptions are wall-clock times there.
    - `buffer_minutes`: free minutes kept after each visit (0-120).
    - Breaks are the gaps between `WorkingHours` rows of one weekday (09:00-12:00 + 13:00-17:00 = lunch).
    Its row is also the lock that serialises bookings of its actor (`select_for_update`).
    """

    practitioner = models.OneToOneField(
        "staff.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="schedule"
    )
    resource = models.OneToOneField(
        BookableResource, null=True, blank=True, on_delete=models.PROTECT, related_name="schedule"
    )
    time_zone = models.CharField(max_length=64, default=_default_time_zone, validators=[_validate_time_zone])
    buffer_minutes = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(120)])
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(practitioner__isnull=False) & Q(resource__isnull=True))
                | (Q(practitioner__isnull=True) & Q(resource__isnull=False)),
                name="schedule_one_actor",
            )
        ]

    def __str__(self) -> str:
        return f"Schedule of {self.practitioner or self.resource}"

    def clean(self):
        if (self.practitioner_id is None) == (self.resource_id is None):
            raise ValidationError("A schedule belongs to exactly one practitioner or one resource.")


class WorkingHours(models.Model):
    """One weekly working range: ISO `weekday` (1 = Monday … 7 = Sunday), wall-clock [start_time, end_time)
    in the schedule's time zone. Several rows per weekday are allowed (their gaps are the breaks)."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="working_hours")
    weekday = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(7)])
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        ordering = ["schedule", "weekday", "start_time"]
        verbose_name_plural = "working hours"
        constraints = [
            models.CheckConstraint(
                condition=Q(start_time__lt=models.F("end_time")), name="workinghours_order"
            ),
            models.CheckConstraint(condition=Q(weekday__gte=1, weekday__lte=7), name="workinghours_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start_time:%H:%M}-{self.end_time:%H:%M}"

    def clean(self):
        if self.start_time and self.end_time and self.start_time >= self.end_time:
            raise ValidationError({"end_time": "Must be after start_time."})


class ExceptionKind(models.TextChoices):
    LEAVE = "leave", "Leave"
    HOLIDAY = "holiday", "Holiday"
    EXTRA = "extra", "Extra clinic"


class ScheduleException(models.Model):
    """A date-range exception to the weekly hours (part of FHIR R4 `Schedule.planningHorizon` rules).

    - `leave`/`holiday`: no slots on any day in [date_from, date_to] (inclusive).
    - `extra`: an extra clinic on each of those days, wall-clock [start_time, end_time), added to the usual
      hours (leave/holiday win over it).
    """

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="exceptions")
    kind = models.CharField(max_length=16, choices=ExceptionKind.choices)
    date_from = models.DateField()
    date_to = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["schedule", "date_from"]
        indexes = [models.Index(fields=["schedule", "date_to", "date_from"])]
        constraints = [
            models.CheckConstraint(condition=Q(date_from__lte=models.F("date_to")), name="exception_dates")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.date_from}..{self.date_to}"

    def clean(self):
        errors = {}
        if self.date_from and self.date_to and self.date_from > self.date_to:
            errors["date_to"] = "Must not be before date_from."
        if self.kind == ExceptionKind.EXTRA:
            if self.start_time is None or self.end_time is None:
                errors["start_time"] = "An extra clinic needs start_time and end_time."
            elif self.start_time >= self.end_time:
                errors["end_time"] = "Must be after start_time."
        if errors:
            raise ValidationError(errors)


class AppointmentStatus(models.TextChoices):
    """Stored values are FHIR R4 `appointmentstatus` codes except `in-progress`, which FHIR R4 lacks.

    | ours | FHIR R4 Appointment.status | meaning |
    |---|---|---|
    | proposed | proposed | suggested, not yet requested |
    | pending | pending | requested, awaiting confirmation |
    | booked | booked | confirmed |
    | arrived | arrived | checked in, waiting |
    | in-progress | arrived (the Encounter is in-progress) | the consultation is under way |
    | fulfilled | fulfilled | completed |
    | cancelled | cancelled | cancelled (reason, by, at) |
    | noshow | noshow | the patient did not come |
    | entered-in-error | entered-in-error | recorded by mistake |
    """

    PROPOSED = "proposed", "Proposed"
    PENDING = "pending", "Pending"
    BOOKED = "booked", "Booked (confirmed)"
    ARRIVED = "arrived", "Arrived (checked in)"
    IN_PROGRESS = "in-progress", "In progress"
    FULFILLED = "fulfilled", "Completed"
    CANCELLED = "cancelled", "Cancelled"
    NOSHOW = "noshow", "No-show"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


# Statuses that no longer hold the time range (outside the exclusion constraints).
INACTIVE_STATUSES = (
    AppointmentStatus.CANCELLED,
    AppointmentStatus.NOSHOW,
    AppointmentStatus.ENTERED_IN_ERROR,
)
FHIR_STATUS = {s.value: s.value for s in AppointmentStatus} | {AppointmentStatus.IN_PROGRESS: "arrived"}


class Channel(models.TextChoices):
    WEB = "web", "Web"
    API = "api", "API"
    PHONE = "phone", "Phone"
    WALK_IN = "walk-in", "Walk-in"


# An appointment's [start, end) as a PostgreSQL range: the indexed expression of the exclusion constraints.
_SPAN = Func(F("start"), F("end"), Value("[)"), function="tstzrange", output_field=DateTimeRangeField())


def overlaps_q(start, end, *, vendor: str) -> Q:
    """The condition "the appointment's [start, end) intersects [`start`, `end`)" for a database `vendor`.

    On PostgreSQL it is `tstzrange(start, end, '[)') && tstzrange(...)`, the expression of the exclusion
    constraints (migration 0002), so the search uses their GiST indexes by time. The equivalent
    `start < end' AND end > start'` can only use the (practitioner, start) B-tree for `start < end'`, i.e. it
    walks the whole earlier history of that practitioner or patient. Elsewhere: the two comparisons.
    An empty or inverted window (`end <= start`) intersects nothing.
    """
    if not start < end:
        return Q(pk__in=[])
    if vendor == "postgresql":
        return Q(Overlap(_SPAN, DateTimeTZRange(start, end, "[)")))
    return Q(start__lt=end, end__gt=start)


class AppointmentQuerySet(models.QuerySet):
    def active(self):
        return self.exclude(status__in=INACTIVE_STATUSES)

    def overlapping(self, start, end):
        """Rows whose [start, end) intersects [start, end) (see `overlaps_q`)."""
        return self.filter(overlaps_q(start, end, vendor=connections[self.db].vendor))


class Appointment(TimeStampedModel):
    """A booked visit. Maps to FHIR R4 `Appointment` (participants: patient, practitioner, optional
    location/device = `resource`; `serviceType`; `reasonCode` text = `reason`; `start`/`end` aware UTC).

    Never deleted: cancelled (with `cancellation_reason`, `cancelled_by`, `cancelled_at`,
    `late_cancellation`) or entered-in-error. Writes go through `hms.scheduling.services`; every move or
    status change leaves an `AppointmentChange`. On PostgreSQL, exclusion constraints (migration 0002) forbid
    two active appointments overlapping for one practitioner, one resource or one patient.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="appointments")
    practitioner = models.ForeignKey(
        "staff.Practitioner", on_delete=models.PROTECT, related_name="appointments"
    )
    resource = models.ForeignKey(
        BookableResource, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    service_type = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="appointments")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.TextField(blank=True, max_length=2000, help_text="Reason for the visit / symptoms.")
    status = models.CharField(
        max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED, db_index=True
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.API)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancellation_reason = models.CharField(max_length=500, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    late_cancellation = models.BooleanField(default=False)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        ordering = ["start", "id"]
        indexes = [
            models.Index(fields=["practitioner", "start"]),
            models.Index(fields=["patient", "start"]),
            models.Index(fields=["resource", "start"]),
            models.Index(fields=["start"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=models.F("end")), name="appointment_order")
        ]

    def __str__(self) -> str:
        return f"Appointment {self.pk} {self.start:%Y-%m-%d %H:%M} {self.status}"

    def delete(self, *args, **kwargs):
        raise TypeError("Appointments are cancelled or entered-in-error, never deleted.")

    @property
    def is_active(self) -> bool:
        return self.status not in INACTIVE_STATUSES

    @property
    def fhir_status(self) -> str:
        return FHIR_STATUS[self.status]

    @property
    def minutes_to_start(self) -> float:
        return (self.start - timezone.now()).total_seconds() / 60


class ChangeKind(models.TextChoices):
    CREATED = "created", "Created"
    RESCHEDULED = "rescheduled", "Rescheduled"
    STATUS = "status", "Status change"


class AppointmentChange(models.Model):
    """One entry of an appointment's history (FHIR R4 `Provenance` of the Appointment): who changed it, when,
    and from → to (status and/or time range). Append-only, written by the services."""

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="changes")
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    from_start = models.DateTimeField(null=True, blank=True)
    from_end = models.DateTimeField(null=True, blank=True)
    to_start = models.DateTimeField(null=True, blank=True)
    to_end = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status} at {self.changed_at:%Y-%m-%d %H:%M}"


class WaitlistStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    OFFERED = "offered", "Offered a slot"
    ACCEPTED = "accepted", "Accepted (booked)"
    EXPIRED = "expired", "Offer expired"
    CANCELLED = "cancelled", "Cancelled"


# Entries that still want a slot (a patient keeps at most one per doctor or specialty).
WAITLIST_OPEN = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(TimeStampedModel):
    """A patient waiting for an earlier slot with one practitioner OR any practitioner of one specialty,
    within a preferred window: local dates [`date_from`, `date_to`] (inclusive) and, optionally, local times
    [`time_from`, `time_to`] on each day, both in the practitioner's schedule time zone. Optional
    `service_type` narrows which freed slots match. (FHIR R4 has no waitlist resource; an open entry is
    close to an `Appointment` with status `waitlist` in R5.)

    Lifecycle (`hms.scheduling.waitlist`): waiting → offered (a freed slot: `offered_practitioner`,
    `offered_service_type`, `offered_start`/`offered_end`, until `offer_expires_at`) → accepted (booked as
    `appointment`) or expired (the slot goes to the next entry); waiting/offered → cancelled. Never deleted.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="waitlist_entries")
    practitioner = models.ForeignKey(
        "staff.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    specialty = models.ForeignKey(
        "staff.Specialty", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    service_type = models.ForeignKey(
        ServiceType, null=True, blank=True, on_delete=models.PROTECT, related_name="waitlist_entries"
    )
    date_from = models.DateField()
    date_to = models.DateField()
    time_from = models.TimeField(null=True, blank=True)
    time_to = models.TimeField(null=True, blank=True)
    reason = models.TextField(blank=True, max_length=2000)
    status = models.CharField(
        max_length=16, choices=WaitlistStatus.choices, default=WaitlistStatus.WAITING, db_index=True
    )
    offered_practitioner = models.ForeignKey(
        "staff.Practitioner", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    offered_service_type = models.ForeignKey(
        ServiceType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    offered_start = models.DateTimeField(null=True, blank=True)
    offered_end = models.DateTimeField(null=True, blank=True)
    offered_at = models.DateTimeField(null=True, blank=True)
    offer_expires_at = models.DateTimeField(null=True, blank=True)
    freed_by = models.ForeignKey(
        Appointment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The cancelled or moved appointment whose time was offered.",
    )
    appointment = models.ForeignKey(
        Appointment,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="waitlist_entries",
        help_text="The appointment booked when the offer was accepted.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name_plural = "waitlist entries"
        indexes = [models.Index(fields=["status", "date_from", "date_to"])]
        constraints = [
            models.CheckConstraint(
                condition=(Q(practitioner__isnull=False) & Q(specialty__isnull=True))
                | (Q(practitioner__isnull=True) & Q(specialty__isnull=False)),
                name="waitlist_one_target",
            ),
            models.CheckConstraint(condition=Q(date_from__lte=models.F("date_to")), name="waitlist_dates"),
            # One live offer per freed slot of a practitioner.
            models.UniqueConstraint(
                fields=["offered_practitioner", "offered_start"],
                condition=Q(status="offered"),
                name="waitlist_one_offer_per_slot",
            ),
        ]

    def __str__(self) -> str:
        return f"Waitlist {self.pk} {self.status}"

    def clean(self):
        errors = {}
        if (self.practitioner_id is None) == (self.specialty_id is None):
            errors["practitioner"] = "Name either a practitioner or a specialty."
        if self.date_from and self.date_to and self.date_from > self.date_to:
            errors["date_to"] = "Must not be before date_from."
        if self.time_from and self.time_to and self.time_from >= self.time_to:
            errors["time_to"] = "Must be after time_from."
        if errors:
            raise ValidationError(errors)
