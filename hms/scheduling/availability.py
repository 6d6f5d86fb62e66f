"""Working windows and the slot grid of a schedule, computed in the schedule's own time zone.

Wall-clock arithmetic is done on naive local times, then each time is attached to the zone. Across a
daylight-saving change this keeps a 09:00-12:00 clinic at 09:00-12:00 local time. A wall-clock time that
does not exist (spring forward, 02:00-03:00 in America/New_York) yields no slot; one that exists twice
(fall back, 01:00-02:00) yields one slot, its first occurrence (`fold=0`): none lost, none duplicated.
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from .models import ExceptionKind, Schedule, ScheduleException


@dataclass(frozen=True)
class Window:
    """One working range of one local date: aware `start`/`end` (in the schedule's zone)."""

    start: dt.datetime
    end: dt.datetime


def _exists(local: dt.datetime) -> bool:
    """False for a wall-clock time skipped by a spring-forward change."""
    return local.astimezone(dt.UTC).astimezone(local.tzinfo).replace(tzinfo=None) == local.replace(
        tzinfo=None
    )


def schedule_zone(schedule: Schedule) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(schedule.time_zone)


class ScheduleCalendar:
    """The windows of one schedule over [date_from, date_to] (local dates), from one read of its weekly
    hours and exceptions. `windows(day)` -> list[Window]; `closed_by(day)` -> the leave/holiday, or None."""

    def __init__(self, schedule: Schedule, date_from: dt.date, date_to: dt.date):
        self.zone = schedule_zone(schedule)
        self.weekly: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for wh in schedule.working_hours.all():
            self.weekly.setdefault(wh.weekday, []).append((wh.start_time, wh.end_time))
        self.exceptions = list(
            ScheduleException.objects.filter(
                schedule=schedule, date_from__lte=date_to, date_to__gte=date_from
            )
        )

    def closed_by(self, day: dt.date) -> ScheduleException | None:
        for exc in self.exceptions:
            if exc.kind != ExceptionKind.EXTRA and exc.date_from <= day <= exc.date_to:
                return exc
        return None

    def windows(self, day: dt.date) -> list[Window]:
        if self.closed_by(day) is not None:
            return []
        ranges = list(self.weekly.get(day.isoweekday(), []))
        ranges += [
            (exc.start_time, exc.end_time)
            for exc in self.exceptions
            if exc.kind == ExceptionKind.EXTRA and exc.date_from <= day <= exc.date_to
        ]
        out = []
        for start, end in sorted(ranges):
            out.append(
                Window(
                    dt.datetime.combine(day, start, tzinfo=self.zone),
                    dt.datetime.combine(day, end, tzinfo=self.zone),
                )
            )
        return out

    def grid(
        self, day: dt.date, *, minutes: int, buffer_minutes: int
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        """Candidate slots of `day`: (start, end) aware, in the schedule's zone, every `minutes + buffer`
        wall-clock minutes from each window's start while the slot fits; sorted, no duplicates."""
        step = dt.timedelta(minutes=minutes + buffer_minutes)
        length = dt.timedelta(minutes=minutes)
        seen: set[dt.datetime] = set()
        out = []
        for window in self.windows(day):
            wall = window.start.replace(tzinfo=None)
            wall_end = window.end.replace(tzinfo=None)
            while wall + length <= wall_end:
                local = wall.replace(tzinfo=self.zone)
                if _exists(local):
                    start_utc = local.astimezone(dt.UTC)
                    if start_utc not in seen:
                        seen.add(start_utc)
                        out.append((local, (start_utc + length).astimezone(self.zone)))
                wall += step
        out.sort(key=lambda pair: pair[0])
        return out
