"""The same event sent from many threads at once is recorded (and sent) once per channel."""

import threading

import pytest
from django.db import connection, connections

from hms.accounts.roles import Role
from hms.core.testing import make_user
from hms.messaging import services
from hms.messaging.models import Delivery, Notification


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_of_one_event_record_one_delivery_per_channel():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent writers need PostgreSQL (SQLite serialises every writer)")
    user = make_user(Role.PATIENT, email="p@example.org")
    barrier = threading.Barrier(12)
    results, errors = [], []

    def send():
        try:
            barrier.wait(timeout=10)
            deliveries = services.notification_send(
                recipient=user, event="appointment.booked", context={}, dedupe_key="appointment:7:booked"
            )
            results.append(sorted(d.pk for d in deliveries))
        except Exception as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert Delivery.objects.count() == 2 and Notification.objects.count() == 1
    assert len(results) == 12 and all(r == results[0] for r in results)
