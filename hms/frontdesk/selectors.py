"""Reads of the front-desk queue, always scoped to the requesting user.

| role | queue entries |
|---|---|
| receptionist, admin | every practitioner's queue |
| doctor, nurse | the queue of their own practitioner record |
| others (patients included) | none |

An entry outside the scope answers like a missing one (`NotFoundOrForbidden`, 404). Callers write the
AuditEvent (queue rows name patients).

Expected waiting time (`queue_board`, `expected_wait_for_new`): each open entry ahead of a waiting
patient (the one in consultation included) counts for `entry_estimate_minutes`:

- the entry's service length S (`ServiceType.default_minutes`, `WALK_IN_MINUTES` for a walk-in) when
  the practitioner has fewer than `AVERAGE_MIN_SAMPLES` (3) finished consultations in the last
  `AVERAGE_WINDOW_DAYS` days (one unusually short or long visit must not drive the estimate);
- otherwise the practitioner's mean consultation length A over that window
  (`consultation_minutes_average`: start → end of consultation of the fulfilled appointments),
  floored at `ESTIMATE_FLOOR_MINUTES` (5) and at S / 2: max(A, 5, S / 2).
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from hms.accounts.roles import Role
from hms.core.errors import NotFoundOrForbidden
from hms.scheduling.models import AppointmentStatus

from .models import OPEN_STATUSES, WAITING_STATUSES, QueueEntry, QueueStatus

ALL_QUEUES_ROLES = frozenset({Role.RECEPTIONIST, Role.ADMIN})
QUEUE_ROLES = ALL_QUEUES_ROLES | {Role.DOCTOR, Role.NURSE}
AVERAGE_WINDOW_DAYS = 14
AVERAGE_MAX_ROWS = 500
AVERAGE_MIN_SAMPLES = 3
ESTIMATE_FLOOR_MINUTES = 5
WALK_IN_MINUTES = 15


def hospital_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in `settings.HOSPITAL_TIME_ZONE`."""
    now = now or timezone.now()
    return now.astimezone(zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)).date()


def _own_practitioner_id(user) -> int | None:
    practitioner = getattr(user, "practitioner", None)
    return practitioner.pk if practitioner is not None else None


def queue_entries_visible(user) -> QuerySet[QueueEntry]:
    """Queue entries `user` may see (module table), with patient, practitioner and appointment loaded."""
    qs = QueueEntry.objects.select_related("patient", "practitioner", "appointment__service_type")
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    if user.role in ALL_QUEUES_ROLES:
        return qs
    if user.role in (Role.DOCTOR, Role.NURSE):
        pid = _own_practitioner_id(user)
        return qs.filter(practitioner_id=pid) if pid else qs.none()
    return qs.none()


def queue_may_view(user, practitioner_id: int | None) -> bool:
    """May `user` watch the queue of practitioner `practitioner_id` (None = every queue)?"""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.role in ALL_QUEUES_ROLES:
        return True
    if user.role in (Role.DOCTOR, Role.NURSE) and practitioner_id is not None:
        return _own_practitioner_id(user) == practitioner_id
    return False


def queue_entry_get(user, entry_id) -> QueueEntry:
    """The entry with pk `entry_id` if `user` may see it; else `NotFoundOrForbidden` (404)."""
    try:
        pk = int(entry_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    entry = queue_entries_visible(user).filter(pk=pk).first()
    if entry is None:
        raise NotFoundOrForbidden()
    return entry


@dataclass(frozen=True)
class ConsultationAverage:
    """`minutes`: mean consultation length (float minutes, None without samples); `samples`: how many
    finished consultations it is based on."""

    minutes: float | None
    samples: int


def consultation_average(practitioner_id: int, *, now: dt.datetime | None = None) -> ConsultationAverage:
    """Mean minutes from start to end of consultation of the practitioner's fulfilled appointments that
    ended in the last `AVERAGE_WINDOW_DAYS` days (at most the latest `AVERAGE_MAX_ROWS`), with the
    number of consultations it is based on."""
    now = now or timezone.now()
    rows = (
        QueueEntry.objects.filter(
            practitioner_id=practitioner_id,
            status=QueueStatus.DONE,
            appointment__status=AppointmentStatus.FULFILLED,
            started_at__isnull=False,
            finished_at__gte=now - dt.timedelta(days=AVERAGE_WINDOW_DAYS),
        )
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:AVERAGE_MAX_ROWS]
    )
    lengths = [(end - start).total_seconds() / 60 for start, end in rows if end >= start]
    return ConsultationAverage(sum(lengths) / len(lengths) if lengths else None, len(lengths))


def consultation_minutes_average(practitioner_id: int, *, now: dt.datetime | None = None) -> float | None:
    """The mean of `consultation_average` in minutes (float), None without any consultation."""
    return consultation_average(practitioner_id, now=now).minutes


def _service_minutes(entry: QueueEntry) -> int:
    if entry.appointment_id is not None:
        return entry.appointment.service_type.default_minutes
    return WALK_IN_MINUTES


def entry_estimate_minutes(average: ConsultationAverage, entry: QueueEntry) -> float:
    """Minutes `entry` is expected to occupy the practitioner (see module docstring): its service
    length S when `average` has fewer than `AVERAGE_MIN_SAMPLES` samples, else
    max(average, `ESTIMATE_FLOOR_MINUTES`, S / 2)."""
    service = _service_minutes(entry)
    if average.minutes is None or average.samples < AVERAGE_MIN_SAMPLES:
        return float(service)
    return max(average.minutes, float(ESTIMATE_FLOOR_MINUTES), service / 2)


@dataclass(frozen=True)
class BoardRow:
    """One open entry of the board. `position`: 1-based place among the waiting (None once in
    consultation); `waiting_minutes`: minutes since arrival (until start when started);
    `expected_wait_minutes`: estimate until the consultation starts (0 once started)."""

    entry: QueueEntry
    position: int | None
    waiting_minutes: int
    expected_wait_minutes: int


def _order_key(entry: QueueEntry):
    started = entry.status == QueueStatus.IN_CONSULTATION
    return (0 if started else 1, entry.priority_rank, entry.arrived_at, entry.pk)


def queue_board(entries, *, now: dt.datetime | None = None) -> list[BoardRow]:
    """The open entries (in consultation first, then waiting/called by priority rank, then arrival) with
    position, time waited and expected wait, computed per practitioner (see module docstring).
    `entries`: an iterable of QueueEntry (closed ones are skipped)."""
    now = now or timezone.now()
    by_practitioner: dict[int, list[QueueEntry]] = {}
    for entry in entries:
        if entry.status in OPEN_STATUSES:
            by_practitioner.setdefault(entry.practitioner_id, []).append(entry)
    rows: list[BoardRow] = []
    for pid, group in by_practitioner.items():
        average = consultation_average(pid, now=now)
        ahead_minutes = 0.0
        position = 0
        for entry in sorted(group, key=_order_key):
            until = entry.started_at or now
            waited = max(0, int((until - entry.arrived_at).total_seconds() // 60))
            if entry.status in WAITING_STATUSES:
                position += 1
                rows.append(BoardRow(entry, position, waited, round(ahead_minutes)))
            else:
                rows.append(BoardRow(entry, None, waited, 0))
            ahead_minutes += entry_estimate_minutes(average, entry)
    return sorted(
        rows, key=lambda r: (r.entry.practitioner.display_name, r.entry.practitioner_id, _order_key(r.entry))
    )


def expected_wait_for_new(practitioner_id: int, day: dt.date) -> int:
    """Minutes a patient joining the practitioner's queue of `day` now can expect to wait: every open
    entry already there counts for `entry_estimate_minutes` (see module docstring)."""
    average = consultation_average(practitioner_id)
    total = 0.0
    for entry in QueueEntry.objects.filter(
        practitioner_id=practitioner_id, day=day, status__in=OPEN_STATUSES
    ).select_related("appointment__service_type"):
        total += entry_estimate_minutes(average, entry)
    return round(total)
