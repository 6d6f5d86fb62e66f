"""Appointment reminders: the reminder provider that `messaging.reminders_due` (beat) calls.

Registered in `SchedulingConfig.ready()`. For each configured lead time (`APPOINTMENT_REMINDER_HOURS`,
default 24 and 2 hours) it reminds the patients of booked appointments starting in
(now + next smaller lead time, now + lead time], so an appointment booked 5 hours ahead gets only the
2-hour reminder, and a beat tick that comes late still finds what it missed.

Once only: the dedupe key `appointment:<id>:reminder:<h>h:<start, epoch seconds>` names the lead time and
the start, so repeated ticks send nothing new, while a rescheduled appointment is reminded of its new time.
"""

import datetime as dt
import logging

from hms.messaging.models import Delivery
from hms.messaging.services import notification_send

from .models import Appointment, AppointmentStatus
from .notifications import appointment_context, appointment_recipient

logger = logging.getLogger(__name__)


def _label(offset: dt.timedelta) -> str:
    return f"{offset.total_seconds() / 3600:g}h"


def appointment_reminders(*, now: dt.datetime, offsets: list[dt.timedelta]) -> int:
    """Send the appointment reminders due at `now` (aware) for `offsets` (lead times, any order).

    Returns the number of deliveries newly recorded (in-app, email, SMS). Patients without an active
    login are skipped. One appointment failing is logged and does not stop the others.
    """
    leads = sorted(offsets, reverse=True)
    sent = 0
    for i, lead in enumerate(leads):
        lower = leads[i + 1] if i + 1 < len(leads) else dt.timedelta(0)
        due = (
            Appointment.objects.filter(
                status=AppointmentStatus.BOOKED,
                start__gt=now + lower,
                start__lte=now + lead,
                patient__user__isnull=False,
                patient__user__is_active=True,
                patient__deleted_at__isnull=True,
            )
            .select_related("patient__user", "practitioner", "service_type", "resource")
            .order_by("start", "id")
        )
        for appointment in due.iterator(chunk_size=500):
            key = f"appointment:{appointment.pk}:reminder:{_label(lead)}:{int(appointment.start.timestamp())}"
            if Delivery.objects.filter(dedupe_key=key).exists():
                continue  # already reminded (the common case on every tick)
            try:
                deliveries = notification_send(
                    recipient=appointment_recipient(appointment),
                    event="appointment.reminder",
                    context={**appointment_context(appointment), "lead_hours": _label(lead)[:-1]},
                    dedupe_key=key,
                )
            except Exception:
                logger.exception("reminder for appointment %s failed", appointment.pk)
                continue
            sent += len(deliveries)
    return sent
