"""Writes of a practitioner's own schedule: weekly working hours and date exceptions (leave, holiday,
extra clinic). Each runs in one transaction with its AuditEvent.

Changing the hours never touches booked appointments: an appointment already booked outside the new
hours stays booked (the agenda still shows it), only new bookings follow the new hours.

Errors: `ValidationError` (400) with field errors.
"""

import datetime as dt
import itertools

from django.core.exceptions import ValidationError
from django.db import transaction

from hms.audit.models import AuditAction
from hms.audit.services import audit_record

from .models import ExceptionKind, Schedule, ScheduleException, WorkingHours


def schedule_for_practitioner(*, practitioner) -> Schedule:
    """The practitioner's schedule, created (active, hospital time zone, no hours) when missing."""
    schedule, _ = Schedule.objects.get_or_create(practitioner=practitioner)
    return schedule


def schedule_set_hours(
    *,
    schedule: Schedule,
    hours: list[tuple[int, dt.time, dt.time]],
    buffer_minutes: int | None = None,
    by,
    request=None,
) -> Schedule:
    """Replace the weekly hours of `schedule` with `hours`: list of (ISO weekday 1-7, start, end) wall-clock
    times in the schedule's time zone, start < end. Ranges of one weekday must not overlap (their gaps are
    the breaks). `buffer_minutes` (0-120) replaces the buffer when given. Audited ("update").
    Raises ValidationError naming the bad range."""
    by_day: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for weekday, start, end in hours:
        if not 1 <= int(weekday) <= 7:
            raise ValidationError({"hours": f"Unknown weekday {weekday}."})
        if start >= end:
            raise ValidationError({"hours": f"{start:%H:%M}-{end:%H:%M}: the end must be after the start."})
        by_day.setdefault(int(weekday), []).append((start, end))
    for weekday, ranges in by_day.items():
        ranges.sort()
        for (_s1, e1), (s2, _e2) in itertools.pairwise(ranges):
            if s2 < e1:
                raise ValidationError({"hours": f"Ranges overlap on weekday {weekday} at {s2:%H:%M}."})
    with transaction.atomic():
        locked = Schedule.objects.select_for_update().get(pk=schedule.pk)
        fields = []
        if buffer_minutes is not None:
            locked.buffer_minutes = buffer_minutes
            fields.append("buffer_minutes")
        locked.full_clean()
        if fields:
            locked.save(update_fields=[*fields, "updated_at"])
        locked.working_hours.all().delete()
        rows = [
            WorkingHours(schedule=locked, weekday=weekday, start_time=start, end_time=end)
            for weekday, ranges in sorted(by_day.items())
            for start, end in ranges
        ]
        for row in rows:
            row.full_clean()
        WorkingHours.objects.bulk_create(rows)
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            obj=locked,
            detail={
                "working_hours": [[r.weekday, f"{r.start_time:%H:%M}", f"{r.end_time:%H:%M}"] for r in rows],
                "buffer_minutes": locked.buffer_minutes,
            },
        )
    return locked


def schedule_exception_add(
    *,
    schedule: Schedule,
    kind: str,
    date_from: dt.date,
    date_to: dt.date,
    start_time: dt.time | None = None,
    end_time: dt.time | None = None,
    reason: str = "",
    by,
    request=None,
) -> ScheduleException:
    """Add a leave, holiday (no slots on [date_from, date_to], inclusive) or extra clinic (extra hours
    [start_time, end_time) on each of those days) to `schedule`. Existing appointments are kept.
    Audited ("create"). Raises ValidationError for a bad range or kind."""
    if kind != ExceptionKind.EXTRA:
        start_time = end_time = None
    exception = ScheduleException(
        schedule=schedule,
        kind=kind,
        date_from=date_from,
        date_to=date_to,
        start_time=start_time,
        end_time=end_time,
        reason=(reason or "").strip(),
    )
    if date_from and date_to and (date_to - date_from).days > 366:
        raise ValidationError({"date_to": "An exception may span at most one year."})
    with transaction.atomic():
        exception.full_clean()
        exception.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            obj=exception,
            detail={"kind": kind, "from": date_from.isoformat(), "to": date_to.isoformat()},
        )
    return exception


def schedule_exception_remove(*, exception: ScheduleException, by, request=None) -> None:
    """Delete one exception (the days return to the weekly hours). Audited ("delete")."""
    with transaction.atomic():
        audit_record(
            actor=by,
            action=AuditAction.DELETE,
            request=request,
            obj=exception,
            detail={
                "kind": exception.kind,
                "from": exception.date_from.isoformat(),
                "to": exception.date_to.isoformat(),
            },
        )
        exception.delete()
