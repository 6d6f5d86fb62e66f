"""Appointment notifications: confirmation, reschedule and cancellation notices, through messaging.

The services call `appointment_notify_later` through `transaction.on_commit`, so nothing is announced for
a booking that rolled back; it queues the Celery task `scheduling.appointment_notify` (a worker does the
work when REDIS_URL is set; without a broker it runs at once, in-process), which calls
`appointment_notify`. It hands each announcement to the one notification service
(`hms.messaging.services.notification_send`), which picks the channels from the recipient's preferences,
records each delivery and never sends one twice for the same dedupe key.

Recipient: the patient's own login (`Patient.user`). A patient without a login (or with an inactive one)
gets nothing here; reaching their contact details directly is out of scope.

- "booked" (book, confirm): only once the appointment is booked (not proposed/pending);
  event appointment.booked, key `appointment:<id>:booked`.
- "rescheduled": appointment.rescheduled, key `appointment:<id>:rescheduled:<AppointmentChange id>`.
- "cancelled": appointment.cancelled, key `appointment:<id>:cancelled`.
- "arrived", "in-progress", "fulfilled", "noshow": nothing (the patient is there, or was told).

A reschedule key names the `AppointmentChange`, so A → B → A announces both moves while a repeated call
for one move sends nothing new.
"""

import logging

from hms.messaging.services import notification_send

from .models import Appointment, AppointmentChange, AppointmentStatus, ChangeKind

logger = logging.getLogger(__name__)

ANNOUNCED = {"booked", "rescheduled", "cancelled"}


def appointment_recipient(appointment: Appointment):
    """The active login of the appointment's patient, or None."""
    user = appointment.patient.user
    return user if user is not None and user.is_active else None


def appointment_context(appointment: Appointment) -> dict:
    """Template variables of the appointment.* and waitlist.offer templates: `appointment`, `patient`,
    `practitioner` (display name), `service` (display), `location` (resource name or ""), `start`/`end`
    (aware datetimes; templates show them in the hospital's zone)."""
    return {
        "appointment": appointment,
        "patient": appointment.patient,
        "practitioner": appointment.practitioner.display_name,
        "service": appointment.service_type.display,
        "location": appointment.resource.name if appointment.resource_id else "",
        "start": appointment.start,
        "end": appointment.end,
    }


def _send(appointment: Appointment, event: str) -> int:
    recipient = appointment_recipient(appointment)
    if recipient is None:
        return 0
    context = appointment_context(appointment)
    if event == "booked":
        if appointment.status != AppointmentStatus.BOOKED:
            return 0
        key = f"appointment:{appointment.pk}:booked"
    elif event == "rescheduled":
        change = (
            AppointmentChange.objects.filter(appointment=appointment, kind=ChangeKind.RESCHEDULED)
            .order_by("-changed_at", "-id")
            .first()
        )
        if change is None:
            return 0
        context["previous_start"] = change.from_start
        key = f"appointment:{appointment.pk}:rescheduled:{change.pk}"
    else:  # cancelled
        context["reason"] = appointment.cancellation_reason
        key = f"appointment:{appointment.pk}:cancelled"
    deliveries = notification_send(
        recipient=recipient, event=f"appointment.{event}", context=context, dedupe_key=key
    )
    return len(deliveries)


def appointment_notify(*, appointment_id: int, event: str) -> int:
    """Announce `event` ("booked", "rescheduled", "cancelled", ...; see the module table) about appointment
    `appointment_id` to its patient. Returns the number of deliveries (new or already recorded); 0 when the
    event is not announced, the patient has no login, or the appointment is gone.

    Runs after commit inside the request: a failure is logged, never raised, so a booking that committed
    never answers 500 because a notice could not be recorded.
    """
    if event not in ANNOUNCED:
        return 0
    try:
        appointment = (
            Appointment.objects.select_related("patient__user", "practitioner", "service_type", "resource")
            .filter(pk=appointment_id)
            .first()
        )
        if appointment is None:
            return 0
        return _send(appointment, event)
    except Exception:
        logger.exception("appointment %s: could not announce %s", appointment_id, event)
        return 0


def appointment_notify_later(*, appointment_id: int, event: str) -> None:
    """Queue the announcement of `event` (only the announced ones) for a worker; runs at once in eager mode.

    Keeps the booking request short: rendering and recording the deliveries was about half of a booking's
    cost (docs/performance.md). A broker failure is logged, never raised (the booking has committed).
    """
    if event not in ANNOUNCED:
        return
    from .tasks import appointment_notify_task

    try:
        appointment_notify_task.delay(appointment_id, event)
    except Exception:
        logger.exception("appointment %s: could not queue the %s notice", appointment_id, event)
