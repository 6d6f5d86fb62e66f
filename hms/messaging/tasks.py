"""Celery tasks of messaging: thin wrappers that load by id and call a service.

- `messaging.delivery_send(delivery_id)`: send one delivery; retried with backoff while it fails.
- `messaging.reminders_due()`: periodic (beat), calls the reminder providers.
- `messaging.deliveries_requeue()`: periodic (beat), re-queues deliveries whose task was lost.
"""

from celery import shared_task

from . import reminders, services


@shared_task(name="messaging.delivery_send", bind=True, max_retries=None, acks_late=True)
def delivery_send_task(self, delivery_id: int) -> str:
    """Returns the delivery's status after this attempt ("sent", "failed", "queued").

    On a worker a failed attempt is retried after the service's backoff. Run eagerly (no broker: the
    one-machine setup) there is one attempt only, so a request never waits on retries; the delivery stays
    queued and `deliveries_requeue` tries it again later.
    """
    try:
        return services.delivery_send(delivery_id).status
    except services.DeliveryRetry as exc:
        if self.request.is_eager:
            return exc.delivery.status
        raise self.retry(countdown=exc.retry_in, exc=exc) from exc


@shared_task(name="messaging.reminders_due")
def reminders_due() -> int:
    return reminders.reminders_run()


@shared_task(name="messaging.deliveries_requeue")
def deliveries_requeue() -> int:
    return services.deliveries_requeue()
