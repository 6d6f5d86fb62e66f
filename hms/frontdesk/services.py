"""Writes of the front-desk queue. Each runs in one transaction with its AuditEvent (queue rows name a
patient) and announces the change to the live board after commit (`live.queue_publish`).

The appointment-driven writes (`queue_check_in`, `queue_start`, `queue_close`) are called by
`hms.frontdesk.hooks` inside the appointment's own transaction; reception and doctors call
`queue_add_walk_in`, `queue_set_priority` and `queue_call_next`.

Errors: `ValidationError` (400) for a bad value or a closed entry; `Conflict` (409) when nobody waits.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict

from .live import queue_publish
from .models import PRIORITY_RANK, WAITING_STATUSES, QueueEntry, QueueStatus, TriagePriority
from .selectors import expected_wait_for_new, hospital_today


def _audit(*, by, action: str, entry: QueueEntry, request=None, detail: dict) -> None:
    audit_record(actor=by, action=action, request=request, patient=entry.patient, obj=entry, detail=detail)


def _location_of(appointment) -> str:
    if appointment.resource_id is not None:
        return appointment.resource.name
    specialty = appointment.practitioner.specialty
    return specialty.display if specialty is not None else ""


def _add(
    *,
    patient,
    practitioner,
    by,
    appointment=None,
    location: str = "",
    reason: str = "",
    priority: str,
    request=None,
):
    if priority not in PRIORITY_RANK:
        raise ValidationError({"priority": f"One of: {', '.join(TriagePriority.values)}."})
    now = timezone.now()
    day = hospital_today(now)
    entry = QueueEntry(
        appointment=appointment,
        patient=patient,
        practitioner=practitioner,
        location=location[:120],
        reason=reason,
        day=day,
        arrived_at=now,
        priority=priority,
        priority_rank=PRIORITY_RANK[priority],
        expected_wait_minutes=expected_wait_for_new(practitioner.pk, day),
    )
    entry.full_clean()
    entry.save()
    _audit(
        by=by,
        action=AuditAction.CREATE,
        entry=entry,
        request=request,
        detail={
            "queue": "arrived",
            "practitioner": practitioner.pk,
            "appointment": appointment and appointment.pk,
        },
    )
    queue_publish(practitioner.pk)
    return entry


def queue_check_in(*, appointment, by) -> QueueEntry:
    """Put the checked-in `appointment`'s patient in today's queue (hospital time zone) of its
    practitioner, arriving now, non-urgent. Idempotent: an existing entry is returned unchanged.
    Call inside the appointment's transaction. Audited ("create")."""
    existing = QueueEntry.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing
    return _add(
        patient=appointment.patient,
        practitioner=appointment.practitioner,
        appointment=appointment,
        location=_location_of(appointment),
        priority=TriagePriority.NON_URGENT,
        by=by,
    )


def queue_add_walk_in(
    *,
    patient,
    practitioner,
    by,
    location: str = "",
    reason: str = "",
    priority: str = TriagePriority.NON_URGENT,
    request=None,
) -> QueueEntry:
    """Add a walk-in `patient` (no appointment) to today's queue of `practitioner`, arriving now, with an
    optional free-text `reason` (≤ 200 characters). Raises ValidationError for an unknown `priority` or
    an over-long reason. Audited ("create")."""
    with transaction.atomic():
        return _add(
            patient=patient,
            practitioner=practitioner,
            location=location,
            reason=reason,
            priority=priority,
            by=by,
            request=request,
        )


def queue_start(*, appointment, by) -> QueueEntry | None:
    """The consultation of `appointment` starts now: its entry goes in-consultation and records
    `actual_wait` = started_at - arrived_at. No-op (None) without an entry. Audited ("update")."""
    entry = QueueEntry.objects.select_for_update().filter(appointment=appointment).first()
    if entry is None or entry.started_at is not None:
        return entry
    now = timezone.now()
    entry.status = QueueStatus.IN_CONSULTATION
    entry.started_at = now
    entry.called_at = entry.called_at or now
    entry.actual_wait = max(now - entry.arrived_at, dt.timedelta(0))
    entry.save(update_fields=["status", "started_at", "called_at", "actual_wait", "updated_at"])
    _audit(
        by=by,
        action=AuditAction.UPDATE,
        entry=entry,
        detail={"queue": "started", "actual_wait_seconds": int(entry.actual_wait.total_seconds())},
    )
    queue_publish(entry.practitioner_id)
    return entry


def queue_close(*, appointment, by, status: str) -> QueueEntry | None:
    """Close `appointment`'s open entry as `done` (consultation over) or `left` (cancelled, no-show),
    stamping `finished_at`. No-op (None) without an open entry. Audited ("update")."""
    if status not in (QueueStatus.DONE, QueueStatus.LEFT):
        raise ValueError(f"queue entries close as done or left, not {status!r}")
    entry = QueueEntry.objects.select_for_update().filter(appointment=appointment).first()
    if entry is None or not entry.is_open:
        return None
    entry.status = status
    entry.finished_at = timezone.now()
    entry.save(update_fields=["status", "finished_at", "updated_at"])
    _audit(by=by, action=AuditAction.UPDATE, entry=entry, detail={"queue": status})
    queue_publish(entry.practitioner_id)
    return entry


def queue_set_priority(*, entry: QueueEntry, priority: str, by, request=None) -> QueueEntry:
    """Set the triage `priority` (emergent, urgent, less-urgent, non-urgent) of a waiting or called
    entry; it moves in the queue accordingly. ValidationError for an unknown priority or an entry no
    longer waiting. Audited ("update", from → to)."""
    if priority not in PRIORITY_RANK:
        raise ValidationError({"priority": f"One of: {', '.join(TriagePriority.values)}."})
    with transaction.atomic():
        locked = QueueEntry.objects.select_for_update().select_related("patient").get(pk=entry.pk)
        if locked.status not in WAITING_STATUSES:
            raise ValidationError({"status": f"This patient is no longer waiting ({locked.status})."})
        before = locked.priority
        locked.priority, locked.priority_rank = priority, PRIORITY_RANK[priority]
        locked.full_clean()
        locked.save(update_fields=["priority", "priority_rank", "updated_at"])
        _audit(
            by=by,
            action=AuditAction.UPDATE,
            entry=locked,
            request=request,
            detail={"priority": {"from": before, "to": priority}},
        )
        queue_publish(locked.practitioner_id)
    return locked


def queue_call_next(*, practitioner, by, day: dt.date | None = None, request=None) -> QueueEntry:
    """Call the next patient of `practitioner`'s queue of `day` (default today): the waiting entry with
    the most pressing priority, then the earliest arrival, becomes `called` (stamping `called_at`).
    The waiting rows are locked first, so two concurrent calls never call the same patient.
    Raises Conflict (409, code "queue_empty") when nobody waits. Audited ("update")."""
    day = day or hospital_today()
    with transaction.atomic():
        waiting = list(
            QueueEntry.objects.select_for_update()
            .filter(practitioner=practitioner, day=day, status=QueueStatus.WAITING)
            .order_by("priority_rank", "arrived_at", "id")
        )
        if not waiting:
            raise Conflict("Nobody is waiting in this queue.", payload={"code": "queue_empty"})
        entry = waiting[0]
        entry.status = QueueStatus.CALLED
        entry.called_at = timezone.now()
        entry.save(update_fields=["status", "called_at", "updated_at"])
        _audit(by=by, action=AuditAction.UPDATE, entry=entry, request=request, detail={"queue": "called"})
        queue_publish(entry.practitioner_id)
    return entry
