"""A delivery is really sent by the Celery worker that .ci/run starts, not run eagerly in this process.

.ci/run starts `celery -A config worker` on the machine's Redis with DATABASE_URL pointing at this
session's test database and a queue of its own, and exports CELERY_WORKER_RUNNING=1,
CELERY_WORKER_DATABASE (the database name the worker uses) and CELERY_TASK_DEFAULT_QUEUE.
"""

import os
import time

import pytest
from django.core import mail
from django.db import connection

from config.celery import app
from hms.accounts.roles import Role
from hms.core.testing import make_user
from hms.messaging import services
from hms.messaging.models import Delivery, DeliveryStatus

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        os.environ.get("CELERY_WORKER_RUNNING") != "1",
        reason="no Celery worker: .ci/run starts one and sets CELERY_WORKER_RUNNING=1",
    ),
]


@pytest.fixture
def not_eager():
    """Tasks go to the broker for real during the test (the suite runs them eagerly otherwise)."""
    before = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield
    app.conf.task_always_eager = before


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_a_committed_delivery(not_eager):
    # given: the worker reads the very database this test writes to
    assert connection.settings_dict["NAME"] == os.environ["CELERY_WORKER_DATABASE"]
    user = make_user(Role.PATIENT, email="worker-test@example.org")
    # when: the send commits and its task goes to Redis after the commit
    email = services.notification_send(
        recipient=user, event="appointment.reminder", context={}, dedupe_key="worker-test", channels=["email"]
    )[0]
    # then: the worker picks it up and records the send
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        email.refresh_from_db()
        if email.status != DeliveryStatus.QUEUED:
            break
        time.sleep(0.1)
    assert email.status == DeliveryStatus.SENT, f"worker did not send it: {email.status} {email.error!r}"
    assert email.attempts == 1 and email.sent_at is not None and email.provider_ref
    assert mail.outbox == []  # not sent by this process
    assert Delivery.objects.filter(dedupe_key="worker-test").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_worker_delivers_an_appointment_reminder(not_eager):
    """The beat task `messaging.reminders_due`, run by the worker, finds an appointment starting within
    the 2-hour lead time and e-mails its reminder; the send is recorded by the worker, not this process."""
    import datetime as dt

    from django.utils import timezone

    from hms.core.testing import PractitionerFactory
    from hms.messaging.tasks import reminders_due
    from hms.scheduling.models import Appointment, AppointmentStatus, ServiceType

    # given: a booked appointment 90 minutes from now for a patient with a login and an e-mail address
    patient_user = make_user(Role.PATIENT, email="reminder-test@example.org")
    service = ServiceType.objects.create(code="worker-test", display="Consultation", default_minutes=20)
    start = timezone.now() + dt.timedelta(minutes=90)
    appointment = Appointment.objects.create(
        patient=patient_user.patient,
        practitioner=PractitionerFactory(),
        service_type=service,
        start=start,
        end=start + dt.timedelta(minutes=20),
        status=AppointmentStatus.BOOKED,
    )
    # when: the periodic task is handed to the worker through Redis
    reminders_due.apply_async()
    # then: the worker records the reminder and then sends its e-mail
    key_prefix = f"appointment:{appointment.pk}:reminder:2h:"
    deadline = time.monotonic() + 25
    email = None
    while time.monotonic() < deadline:
        email = Delivery.objects.filter(dedupe_key__startswith=key_prefix, channel="email").first()
        if email is not None and email.status != DeliveryStatus.QUEUED:
            break
        time.sleep(0.2)
    assert email is not None, "the worker recorded no reminder"
    assert email.status == DeliveryStatus.SENT, f"{email.status} {email.error!r}"
    assert email.to_address == "reminder-test@example.org"
    assert mail.outbox == []  # not sent by this process
