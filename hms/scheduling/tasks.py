"""Celery tasks of scheduling: thin, load by id and call the service."""

from celery import shared_task


@shared_task(name="scheduling.appointment_notify", ignore_result=True)
def appointment_notify_task(appointment_id: int, event: str) -> int:
    """Announce `event` about appointment `appointment_id` (see `notifications.appointment_notify`)."""
    from .notifications import appointment_notify

    return appointment_notify(appointment_id=appointment_id, event=event)
