"""The front-desk queue: who waits for which practitioner today, in which order.

FHIR R4 mapping: a `QueueEntry` is the waiting part of an `Encounter` (status `arrived` → `triaged` →
`in-progress` → `finished`/`cancelled`) with `Encounter.priority` = the triage priority (v3 ActPriority:
emergent EM, urgent UR, less urgent / non-urgent R); the appointment's `arrived` status starts it.

Times are aware datetimes stored in UTC; `day` is the local date in `settings.HOSPITAL_TIME_ZONE`.
Queue rows name a patient, so every read and write is audited (see `services` and `api`).
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from hms.core.models import TimeStampedModel


class TriagePriority(models.TextChoices):
    """Triage priority, most pressing first. `PRIORITY_RANK` gives its sort rank (1 = first)."""

    EMERGENT = "emergent", "Emergent"
    URGENT = "urgent", "Urgent"
    LESS_URGENT = "less-urgent", "Less urgent"
    NON_URGENT = "non-urgent", "Non-urgent"


PRIORITY_RANK: dict[str, int] = {
    TriagePriority.EMERGENT: 1,
    TriagePriority.URGENT: 2,
    TriagePriority.LESS_URGENT: 3,
    TriagePriority.NON_URGENT: 4,
}


class QueueStatus(models.TextChoices):
    WAITING = "waiting", "Waiting"
    CALLED = "called", "Called"
    IN_CONSULTATION = "in-consultation", "In consultation"
    DONE = "done", "Done"
    LEFT = "left", "Left"


# Entries still in the room (shown on the live board).
OPEN_STATUSES = (QueueStatus.WAITING, QueueStatus.CALLED, QueueStatus.IN_CONSULTATION)
# Entries waiting for the practitioner (ordered by priority, then arrival).
WAITING_STATUSES = (QueueStatus.WAITING, QueueStatus.CALLED)


class QueueEntry(TimeStampedModel):
    """One patient in one practitioner's queue for one day.

    - `appointment`: the checked-in appointment (one queue row at most), or None for a walk-in.
    - `location`: free label of the department/room shown on the board (e.g. "Cardiology", "Room 3").
    - `priority` + `priority_rank` (1 emergent … 4 non-urgent; kept equal to `PRIORITY_RANK[priority]`).
    - `arrived_at` → `called_at` → `started_at` → `finished_at`; `actual_wait` = started_at - arrived_at,
      recorded when the consultation starts; `expected_wait_minutes` = the estimate given at arrival.
    Writes go through `hms.frontdesk.services` and `hms.frontdesk.hooks`.
    """

    appointment = models.OneToOneField(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="queue_entry",
    )
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="queue_entries")
    practitioner = models.ForeignKey(
        "staff.Practitioner", on_delete=models.PROTECT, related_name="queue_entries"
    )
    location = models.CharField(max_length=120, blank=True, help_text="Department or room label.")
    reason = models.CharField(max_length=200, blank=True, help_text="Why a walk-in came (free text).")
    day = models.DateField(help_text="Local date (hospital time zone) of the queue.")
    arrived_at = models.DateTimeField()
    priority = models.CharField(
        max_length=16, choices=TriagePriority.choices, default=TriagePriority.NON_URGENT
    )
    priority_rank = models.PositiveSmallIntegerField(default=PRIORITY_RANK[TriagePriority.NON_URGENT])
    status = models.CharField(max_length=16, choices=QueueStatus.choices, default=QueueStatus.WAITING)
    called_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actual_wait = models.DurationField(null=True, blank=True, help_text="started_at - arrived_at.")
    expected_wait_minutes = models.PositiveIntegerField(
        null=True, blank=True, help_text="Expected wait estimated at arrival, in minutes."
    )

    class Meta:
        ordering = ["day", "priority_rank", "arrived_at", "id"]
        verbose_name_plural = "queue entries"
        indexes = [
            models.Index(fields=["practitioner", "day", "status"]),
            models.Index(fields=["day", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority_rank__gte=1, priority_rank__lte=4), name="queueentry_rank"
            ),
        ]

    def __str__(self) -> str:
        return f"Queue {self.day} #{self.pk} {self.status} ({self.priority})"

    def clean(self):
        if self.priority in PRIORITY_RANK and self.priority_rank != PRIORITY_RANK[self.priority]:
            raise ValidationError({"priority_rank": "Must match the priority."})
        if self.appointment_id is not None and self.appointment.patient_id != self.patient_id:
            raise ValidationError({"patient": "Must be the appointment's patient."})

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
