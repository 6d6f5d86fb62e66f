"""The hook the periodic `reminders_due` task calls: a registry of reminder providers.

A provider is a function `provider(*, now: datetime, offsets: list[timedelta]) -> int` that sends the
reminders due at `now` (aware, UTC) through `notification_send` and returns how many it sent.
`offsets` are the configured lead times, largest first (`APPOINTMENT_REMINDER_HOURS`, default "24,2").
Providers must be idempotent: the beat calls them every `REMINDERS_INTERVAL_SECONDS` (default 300), so
each reminder needs a dedupe key naming the offset, e.g. "appointment:42:reminder:24h".

Register at start-up, from the owning app's `AppConfig.ready()`:

    from hms.messaging.reminders import reminder_provider_register
    reminder_provider_register(appointment_reminders)

The registry is filled at import time only and never mutated afterwards, so it is the same in every
process (web, worker, beat).
"""

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

logger = logging.getLogger(__name__)

ReminderProvider = Callable[..., int]
_providers: list[ReminderProvider] = []


def reminder_provider_register(provider: ReminderProvider) -> ReminderProvider:
    """Add `provider` (once; registering it again is a no-op). Usable as a decorator."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def reminder_providers() -> tuple[ReminderProvider, ...]:
    return tuple(_providers)


def reminder_offsets() -> list[dt.timedelta]:
    """`APPOINTMENT_REMINDER_HOURS` ("24,2": hours, decimals allowed) as timedeltas, largest first.

    Raises `ImproperlyConfigured` for a value that is not a comma-separated list of positive numbers.
    """
    raw = str(getattr(settings, "APPOINTMENT_REMINDER_HOURS", "24,2"))
    try:
        hours = sorted({float(part) for part in raw.split(",") if part.strip()}, reverse=True)
    except ValueError:
        raise ImproperlyConfigured(f"APPOINTMENT_REMINDER_HOURS={raw!r}: expected e.g. '24,2'") from None
    if any(h <= 0 for h in hours):
        raise ImproperlyConfigured(f"APPOINTMENT_REMINDER_HOURS={raw!r}: hours must be positive")
    return [dt.timedelta(hours=h) for h in hours]


def reminders_run(*, now: dt.datetime | None = None) -> int:
    """Call every registered provider; return the total they report. With none registered: 0.

    One provider failing is logged and does not stop the others.
    """
    now = now or timezone.now()
    offsets = reminder_offsets()
    total = 0
    for provider in reminder_providers():
        try:
            total += int(provider(now=now, offsets=offsets) or 0)
        except Exception:
            logger.exception("reminder provider %r failed", provider)
    return total
