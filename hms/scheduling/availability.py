"""Working windows and the slot grid of a schedule, computed in the schedule's own time zone.

A window's local start and end times are turned into real instants once (`local_instant`), then slots are
laid in elapsed time from the start instant while they fit before the end instant. Across a
daylight-saving change this keeps a 09:00-12:00 clinic at 09:00-12:00 local time. A wall-clock time that
does not exist (spring forward, 02:00-03:00 in America/New_York) yields no slot; an hour that exists twice
(fall back, 01:00-02:00) yields slots in both occurrences (01:00 EDT, 01:30 EDT, 01:00 EST, 01:30 EST).

Slot datetimes carry a fixed-offset tzinfo (`dt.timezone(offset, "EDT")`) rather than the ZoneInfo: an
ambiguous ZoneInfo time (`fold=1`) never compares equal to a datetime of another zone (PEP 495), which
would make the second 01:00 unbookable.
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


def local_instant(day: dt.date, time: dt.time, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The real instant (aware, in `zone`) of local wall time `time` on `day`: its first occurrence when
    it exists twice; the moment of the change (e.g. 03:00 EDT) when it falls in a spring-forward gap."""
    local = dt.datetime.combine(day, time, tzinfo=zone)
    if _exists(local):
        return local
    low = local.replace(fold=1).astimezone(dt.UTC)  # resolved with the offset after the change: earlier
    high = local.replace(fold=0).astimezone(dt.UTC)  # resolved with the offset before: later
    after = high.astimezone(zone).utcoffset()
    while high - low > dt.timedelta(seconds=1):  # the change is in (low, high]: bisect to the second
        mid = low + (high - low) / 2
        if mid.astimezone(zone).utcoffset() == after:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0).astimezone(zone)


def _fixed(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """`instant` in `zone`'s local time, with a fixed-offset tzinfo named like the zone's (e.g. "EST")."""
    local = instant.astimezone(zone)
    return local.astimezone(dt.timezone(local.utcoffset(), local.tzname()))


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
            out.append(Window(local_instant(day, start, self.zone), local_instant(day, end, self.zone)))
        return out

    def grid(
        self, day: dt.date, *, minutes: int, buffer_minutes: int
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        """Candidate slots of `day`: (start, end) aware, local time of the schedule's zone with a fixed
        offset, every `minutes + buffer` elapsed minutes from each window's real start instant while the
        slot ends by the window's real end instant; sorted by instant, no duplicates."""
        step = dt.timedelta(minutes=minutes + buffer_minutes)
        length = dt.timedelta(minutes=minutes)
        seen: set[dt.datetime] = set()
        out = []
        for window in self.windows(day):
            start = window.start.astimezone(dt.UTC)
            end = window.end.astimezone(dt.UTC)
            while start + length <= end:
                if start not in seen:
                    seen.add(start)
                    out.append((_fixed(start, self.zone), _fixed(start + length, self.zone)))
                start += step
        out.sort(key=lambda pair: pair[0])
        return out
