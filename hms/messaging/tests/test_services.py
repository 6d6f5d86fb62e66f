"""`notification_send` and `delivery_send`: channels, templates, dedupe, backends, retries."""

import datetime as dt
import io

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from hms.accounts.roles import Role
from hms.core.testing import make_user
from hms.messaging import reminders, services
from hms.messaging.models import Channel, Delivery, DeliveryStatus, Notification, NotificationPreference
from hms.messaging.sms import ConsoleSmsBackend, HttpSmsBackend, SmsError
from hms.messaging.tasks import delivery_send_task, reminders_due

pytestmark = pytest.mark.django_db

START = dt.datetime(2031, 3, 4, 14, 30, tzinfo=dt.UTC)  # 09:30 in America/New_York (EST)


@pytest.fixture
def alice(db):
    return make_user(Role.PATIENT, first_name="Alice", email="alice@example.org", phone="+15550100")


def _prefs(user, **channels):
    NotificationPreference.objects.update_or_create(user=user, defaults=channels)


def _send(user, key="k1", event="appointment.reminder", **kwargs):
    context = kwargs.pop("context", {"start": START, "practitioner": "Dr. House", "location": "Room 3"})
    return services.notification_send(recipient=user, event=event, context=context, dedupe_key=key, **kwargs)


def test_defaults_are_in_app_and_email_and_email_goes_after_commit(alice, django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliveries = _send(alice)
    # then: in-app is in the inbox at once, email waits for the commit
    assert [d.channel for d in deliveries] == ["in_app", "email"]
    in_app, email = deliveries
    assert in_app.status == DeliveryStatus.SENT and in_app.notification.recipient == alice
    assert email.status == DeliveryStatus.QUEUED and email.to_address == "alice@example.org"
    assert mail.outbox == [] and len(callbacks) == 1
    callbacks[0]()  # the commit: the (eager) task sends it
    email.refresh_from_db()
    assert email.status == DeliveryStatus.SENT and email.attempts == 1 and email.sent_at is not None
    (message,) = mail.outbox
    assert message.to == ["alice@example.org"]
    assert message.subject == "Reminder: appointment Tue 4 Mar 2031, 09:30"
    assert "Dr. House on Tuesday 4 March 2031, 09:30 EST at Room 3" in message.body
    assert email.provider_ref == message.extra_headers["Message-ID"]


def test_same_dedupe_key_twice_sends_once(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = _send(alice, key="appointment:1:reminder:24h")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = _send(alice, key="appointment:1:reminder:24h")
    assert [d.pk for d in second] == [d.pk for d in first]
    assert callbacks == []  # nothing queued again
    assert Delivery.objects.count() == 2 and Notification.objects.count() == 1
    assert len(mail.outbox) == 1
    # another key is another event
    with django_capture_on_commit_callbacks(execute=True):
        _send(alice, key="appointment:1:reminder:2h")
    assert len(mail.outbox) == 2


def test_a_key_belongs_to_one_recipient(alice):
    _send(alice, key="shared")
    with pytest.raises(ValueError, match="another recipient"):
        _send(make_user(Role.PATIENT), key="shared")


@pytest.mark.parametrize(
    ("prefs", "asked", "expected"),
    [
        ({}, None, ["in_app", "email"]),
        ({"sms": True, "email": False}, None, ["in_app", "sms"]),
        ({"sms": True}, ["sms"], ["sms"]),
        ({}, ["sms", "in_app"], ["in_app"]),  # SMS is off: never used, even when asked for
        ({"in_app": False, "email": False}, None, []),
    ],
)
def test_channels_follow_preferences(alice, sms_file, prefs, asked, expected):
    if prefs:
        _prefs(alice, **prefs)
    assert [d.channel for d in _send(alice, channels=asked)] == expected


def test_unknown_channel_and_bad_event_are_refused(alice):
    with pytest.raises(ValueError, match="unknown channels"):
        _send(alice, channels=["fax"])
    with pytest.raises(ValueError, match="malformed event"):
        _send(alice, event="../secret")
    with pytest.raises(ValueError, match="dedupe_key"):
        _send(alice, key="")


def test_inactive_recipient_gets_nothing(alice):
    alice.is_active = False
    alice.save()
    assert _send(alice) == []
    assert not Delivery.objects.exists()


def test_no_address_is_recorded_as_failed_and_not_queued(django_capture_on_commit_callbacks):
    user = make_user(Role.NURSE, email="")
    with django_capture_on_commit_callbacks() as callbacks:
        _, email = _send(user)
    assert email.status == DeliveryStatus.FAILED and "no Email address" in email.error
    assert callbacks == []


def test_patient_address_comes_from_the_patient_record_when_the_account_has_none(sms_file):
    user = make_user(Role.PATIENT, email="", phone="")
    user.patient.email, user.patient.phone = "rec@example.org", "+15550199"
    user.patient.save()
    _prefs(user, sms=True)
    assert [d.to_address for d in _send(user)] == [user.username, "rec@example.org", "+15550199"]


def test_templates_per_channel_with_generic_fallback(alice, sms_file):
    _prefs(alice, sms=True)
    in_app, email, sms = _send(alice, event="appointment.booked")
    assert email.template == "messaging/appointment.booked.txt"
    assert in_app.subject == email.subject == "Appointment confirmed: Tue 4 Mar 2031, 09:30"
    assert sms.template == "messaging/appointment.booked.sms.txt" and sms.subject == ""
    assert sms.body.startswith("Asclepius General Hospital: appointment with Dr. House booked for Tue 4 Mar")
    # an event with no template of its own: the generic one, no HTML escaping in plain text
    in_app, email, sms = _send(
        alice, key="k2", event="lab.result_ready", context={"subject": "Results", "message": "A < B & C"}
    )
    assert email.template == "messaging/generic.email.txt"
    assert email.subject == "Results" and "Hello Alice,\n\nA < B & C" in email.body
    assert in_app.body == "A < B & C" and sms.body == "Asclepius General Hospital: Results. A < B & C"


def test_sms_file_backend(alice, sms_file, django_capture_on_commit_callbacks):
    _prefs(alice, sms=True, email=False)
    with django_capture_on_commit_callbacks(execute=True):
        _, sms = _send(alice)
    sms.refresh_from_db()
    assert sms.status == DeliveryStatus.SENT
    (line,) = sms_file()
    assert line["to"] == "+15550100" and "reminder: appointment with Dr. House" in line["body"]


def test_sms_console_backend():
    stream = io.StringIO()
    ConsoleSmsBackend(stream).send(to="+15550100", body="hello")
    assert stream.getvalue() == "SMS to +15550100: hello\n"


def test_http_sms_adapter_posts_json_to_the_provider(sms_provider):
    ref = HttpSmsBackend().send(to="+15550100", body="Your appointment")
    assert ref == "msg-1"
    ((headers, body),) = sms_provider.requests
    assert body == {"to": "+15550100", "from": "ASCLEPIUS", "body": "Your appointment"}
    assert headers["Authorization"] == "Bearer test-token"
    assert headers["Content-Type"] == "application/json"
    sms_provider.answers = [500]
    with pytest.raises(SmsError, match="HTTP 500"):
        HttpSmsBackend().send(to="+15550100", body="x")


def test_http_sms_adapter_unreachable_and_misconfigured(settings):
    with pytest.raises(SmsError, match="unreachable"):
        HttpSmsBackend(url="http://127.0.0.1:9/", timeout=2).send(to="1", body="x")
    settings.SMS_HTTP_URL = ""
    with pytest.raises(SmsError, match="SMS_HTTP_URL"):
        HttpSmsBackend()


def _sms_delivery(user):
    _prefs(user, sms=True, email=False, in_app=False)
    (delivery,) = _send(user)
    return delivery


def test_failures_are_recorded_and_retried_with_backoff(alice, sms_provider, settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    sms_provider.answers = [503]
    delivery = _sms_delivery(alice)
    for attempt, backoff in [(1, 30), (2, 60)]:
        with pytest.raises(services.DeliveryRetry) as retry:
            services.delivery_send(delivery)
        assert retry.value.retry_in == backoff
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.QUEUED, attempt)
        assert delivery.error == "SmsError: SMS provider answered HTTP 503"
    # the last attempt fails for good: no retry asked
    assert services.delivery_send(delivery).status == DeliveryStatus.FAILED
    assert len(sms_provider.requests) == 3
    # a failed delivery is not sent again
    assert services.delivery_send(delivery).attempts == 3 and len(sms_provider.requests) == 3


def test_task_run_eagerly_tries_once_and_never_resends(alice, sms_provider):
    sms_provider.answers = [503, 200]
    delivery = _sms_delivery(alice)
    # eager (no broker): one attempt, no waiting on retries; the delivery stays queued with the error
    assert delivery_send_task.apply(args=[delivery.pk]).get() == "queued"
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.error) == (1, "SmsError: SMS provider answered HTTP 503")
    assert delivery_send_task.apply(args=[delivery.pk]).get() == "sent"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.provider_ref, delivery.error) == (
        "sent",
        2,
        "msg-2",
        "",
    )
    # the task arriving again (redelivery, requeue) sends nothing
    assert delivery_send_task.apply(args=[delivery.pk]).get() == "sent"
    assert len(sms_provider.requests) == 2


def test_lost_tasks_are_requeued(alice, settings):
    delivery = _send(alice)[1]  # on_commit never runs inside this test's transaction: the task is "lost"
    assert services.deliveries_requeue() == 0  # too recent
    later = timezone.now() + dt.timedelta(seconds=settings.NOTIFICATION_REQUEUE_AFTER + 1)
    assert services.deliveries_requeue(now=later) == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and len(mail.outbox) == 1
    assert services.deliveries_requeue(now=later) == 0


def test_reminders_hook(monkeypatch, settings):
    monkeypatch.setattr(reminders, "_providers", [])
    assert reminders_due.apply().get() == 0  # nothing registered: nothing happens
    seen = []

    def provider(*, now, offsets):
        seen.append(offsets)
        return 2

    def broken(*, now, offsets):
        raise RuntimeError("boom")

    reminders.reminder_provider_register(broken)
    reminders.reminder_provider_register(provider)
    reminders.reminder_provider_register(provider)  # once only
    assert reminders_due.apply().get() == 2
    assert seen == [[dt.timedelta(hours=24), dt.timedelta(hours=2)]]
    settings.APPOINTMENT_REMINDER_HOURS = "48, 1.5"
    assert reminders.reminder_offsets() == [dt.timedelta(hours=48), dt.timedelta(minutes=90)]
    settings.APPOINTMENT_REMINDER_HOURS = "soon"
    with pytest.raises(ImproperlyConfigured):
        reminders.reminder_offsets()


def test_preference_update_only_by_self_or_admin(alice, admin_user, doctor):
    from django.core.exceptions import PermissionDenied

    assert services.preference_get(alice).channels == [Channel.IN_APP, Channel.EMAIL]
    services.preference_update(user=alice, data={"sms": True}, by=alice)
    services.preference_update(user=alice, data={"email": False}, by=admin_user)
    assert services.preference_get(alice).channels == ["in_app", "sms"]
    with pytest.raises(PermissionDenied):
        services.preference_update(user=alice, data={"sms": False}, by=doctor)
