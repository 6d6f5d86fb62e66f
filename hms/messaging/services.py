"""The one notification service: `notification_send` records, `delivery_send` sends.

Every module that tells a person something calls `notification_send`; no module sends email or SMS
itself (DESIGN.md "One notification service").

Flow: `notification_send` picks the channels (the recipient's `NotificationPreference`, optionally
narrowed by the caller), renders one template per channel, and records one `Delivery` per channel
under a unique (`dedupe_key`, `channel`) pair, so repeating the call (a retried task, a second beat
tick, two concurrent requests) records and sends nothing new. In-app deliveries are written at once
with their `Notification`. Email and SMS deliveries are queued: after the transaction commits, the
Celery task `messaging.delivery_send` calls `delivery_send`, which sends through Django's email
backend or the SMS backend (`hms.messaging.sms`), records the outcome, and asks for a retry with
exponential backoff while attempts remain. A `sent` delivery is never sent again.

Settings (read at call time): `NOTIFICATION_MAX_ATTEMPTS` (default 5), `NOTIFICATION_RETRY_BACKOFF`
(seconds before the 2nd attempt, doubling each time, capped by `NOTIFICATION_RETRY_BACKOFF_MAX`),
`NOTIFICATION_REQUEUE_AFTER` (seconds a delivery may sit queued before `deliveries_requeue` queues it
again), `DEFAULT_FROM_EMAIL`, `SMS_BACKEND`.
"""

import datetime as dt
import logging
import re
import uuid
from email.utils import make_msgid
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.template import Context
from django.template.loader import select_template
from django.utils import timezone

from hms.accounts.models import User
from hms.accounts.roles import STAFF_ROLES, Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import NotFoundOrForbidden
from hms.patients.selectors import patients_visible

from .models import Channel, Delivery, DeliveryStatus, Notification, NotificationPreference
from .sms import sms_backend

logger = logging.getLogger(__name__)

EVENT_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
SUBJECT_PREFIX = "Subject:"


class DeliveryRetry(Exception):
    """Sending failed and attempts remain: try again in `retry_in` seconds (raised after commit)."""

    def __init__(self, delivery: Delivery, retry_in: int):
        super().__init__(f"delivery {delivery.pk} failed ({delivery.error}); retry in {retry_in}s")
        self.delivery = delivery
        self.retry_in = retry_in


# --- preferences ---------------------------------------------------------------------------------


def preference_get(user: User) -> NotificationPreference:
    """The user's preferences; an unsaved row with the defaults (in-app + email) when none is stored."""
    pref = NotificationPreference.objects.filter(user=user).first()
    return pref or NotificationPreference(user=user)


def preference_update(*, user: User, data: dict, by: User) -> NotificationPreference:
    """Set some of `in_app`, `email`, `sms` (bools) for `user`. Only the user themselves or an admin.

    Raises `django.core.exceptions.PermissionDenied` for anyone else.
    """
    if by.pk != user.pk and by.role != Role.ADMIN:
        raise PermissionDenied("Only the user or an administrator may change notification preferences.")
    with transaction.atomic():
        pref, _ = NotificationPreference.objects.select_for_update().get_or_create(user=user)
        changed = {k: bool(v) for k, v in data.items() if k in ("in_app", "email", "sms")}
        for key, value in changed.items():
            setattr(pref, key, value)
        pref.full_clean()
        pref.save()
        audit_record(
            actor=by, action=AuditAction.UPDATE, obj=pref, channel="system", detail={"changed": changed}
        )
    return pref


# --- rendering -----------------------------------------------------------------------------------


def _address(user: User, channel: str) -> str:
    """Where `channel` reaches `user`: their account's email/phone, else their Patient record's."""
    patient = getattr(user, "patient", None) if user.role == Role.PATIENT else None
    if channel == Channel.EMAIL:
        return user.email or (patient.email if patient else "")
    if channel == Channel.SMS:
        return user.phone or (patient.phone if patient else "")
    return user.username


def notification_render(*, event: str, channel: str, context: dict) -> tuple[str, str, str]:
    """Render `event` for `channel` -> (template name, subject, body).

    Templates (plain text, no HTML escaping), first found wins:
    `messaging/<event>.<channel>.txt`, `messaging/<event>.txt`, `messaging/generic.<channel>.txt`.
    A first line `Subject: ...` becomes the subject (≤ 200 characters) and is removed from the body.
    The context also holds `event`, `hospital_name` and `hospital_time_zone`.
    """
    template = select_template(
        [f"messaging/{event}.{channel}.txt", f"messaging/{event}.txt", f"messaging/generic.{channel}.txt"]
    )
    full = {
        "event": event,
        "hospital_name": settings.HOSPITAL_NAME,
        "hospital_time_zone": settings.HOSPITAL_TIME_ZONE,
        **context,
    }
    text = template.template.render(Context(full, autoescape=False)).strip()
    subject = ""
    if text.startswith(SUBJECT_PREFIX):
        first, _, text = text.partition("\n")
        subject = first[len(SUBJECT_PREFIX) :].strip()
    subject = " ".join(subject.split())[:200]
    return template.template.name, subject, text.strip()


# --- sending ----------------------------------------------------------------------------------------


def _channels_for(recipient: User, channels, *, critical: bool = False) -> list[str]:
    if channels is not None:
        unknown = set(channels) - set(Channel.values)
        if unknown:
            raise ValueError(f"unknown channels {sorted(unknown)}")
    if critical:
        if channels is None:
            raise ValueError("a critical notification names its channels")
        return [c for c in Channel.values if c in set(channels)]
    wanted = preference_get(recipient).channels
    if channels is not None:
        wanted = [c for c in wanted if c in set(channels)]
    return wanted


def _enqueue(delivery_id: int) -> None:
    from .tasks import delivery_send_task

    try:
        delivery_send_task.delay(delivery_id)
    except Exception:
        # The delivery stays queued; `deliveries_requeue` (beat) queues it again once the broker is back.
        logger.exception("could not queue delivery %s", delivery_id)


def notification_send(
    *,
    recipient: User,
    event: str,
    context: dict,
    dedupe_key: str,
    channels=None,
    sender: User | None = None,
    critical: bool = False,
) -> list[Delivery]:
    """Notify `recipient` of `event` on each channel they accept; at most once per `dedupe_key`.

    - `event`: lower-case name, e.g. "appointment.reminder"; picks the templates (`notification_render`).
    - `context`: template variables (rendered now, in the caller's process; need not be serialisable).
    - `dedupe_key`: names this one event for this one recipient, e.g. "appointment:42:reminder:24h"
      (≤ 200 chars). A (key, channel) pair already recorded is not recorded or sent again.
    - `channels`: optional iterable of "in_app", "email", "sms" narrowing the recipient's preferences (a
      channel the recipient switched off is never used).
    - `sender`: the user who caused it, if any (a staff message); None for system events.
    - `critical`: life-safety alerts to staff (a code activation): every channel in `channels` is used
      whatever the recipient's preferences say (`channels` is then required). Never for patients' events.

    Returns one `Delivery` per channel used, the existing one where the pair was already recorded.
    An inactive recipient gets nothing ([]). A channel with no address (no email, no phone) is recorded
    as `failed` with the reason, so the front desk can see it. In-app deliveries are `sent` on return
    (their `Notification` exists); email/SMS ones are `queued` and sent by the worker after commit.
    Raises ValueError for a malformed event, an empty key, an unknown channel, or a key already used for
    another recipient.
    """
    if not EVENT_RE.match(event or ""):
        raise ValueError(f"malformed event name {event!r}")
    if not dedupe_key or len(dedupe_key) > 200:
        raise ValueError("dedupe_key must be 1-200 characters")
    if not recipient.is_active:
        return []
    deliveries: list[Delivery] = []
    with transaction.atomic():
        for channel in _channels_for(recipient, channels, critical=critical):
            existing = Delivery.objects.filter(dedupe_key=dedupe_key, channel=channel).first()
            if existing is None:
                try:
                    with transaction.atomic():  # savepoint: a concurrent twin makes only this insert fail
                        delivery = _delivery_record(recipient, event, channel, context, dedupe_key, sender)
                except IntegrityError:
                    existing = Delivery.objects.get(dedupe_key=dedupe_key, channel=channel)
            if existing is not None:
                if existing.recipient_id != recipient.pk:
                    raise ValueError(f"dedupe_key {dedupe_key!r} was used for another recipient")
                deliveries.append(existing)
                continue
            deliveries.append(delivery)
            if delivery.status == DeliveryStatus.QUEUED:
                transaction.on_commit(partial(_enqueue, delivery.pk))
    return deliveries


def _delivery_record(recipient, event, channel, context, dedupe_key, sender) -> Delivery:
    template, subject, body = notification_render(
        event=event, channel=channel, context={"recipient": recipient, **context}
    )
    now = timezone.now()
    to = _address(recipient, channel)
    delivery = Delivery(
        recipient=recipient,
        sender=sender,
        channel=channel,
        event=event,
        template=template,
        to_address=to[:254],
        subject=subject,
        body=body,
        dedupe_key=dedupe_key,
    )
    if channel == Channel.IN_APP:
        delivery.status, delivery.attempts, delivery.sent_at = DeliveryStatus.SENT, 1, now
    elif not to:
        delivery.status = DeliveryStatus.FAILED
        delivery.error = f"The recipient has no {Channel(channel).label} address."
    delivery.full_clean(validate_constraints=False)  # the unique pair is enforced by the insert itself
    delivery.save(force_insert=True)
    if channel == Channel.IN_APP:
        notification = Notification(
            recipient=recipient, delivery=delivery, event=event, subject=subject, body=body
        )
        notification.full_clean(validate_unique=False)
        notification.save(force_insert=True)
    return delivery


def _backoff(attempts: int) -> int:
    base = int(getattr(settings, "NOTIFICATION_RETRY_BACKOFF", 30))
    cap = int(getattr(settings, "NOTIFICATION_RETRY_BACKOFF_MAX", 3600))
    return min(cap, base * 2 ** max(0, attempts - 1))


def _transmit(delivery: Delivery) -> str:
    """Send through the channel's backend; return the provider's reference. Raises on failure."""
    if delivery.channel == Channel.EMAIL:
        from_email = settings.DEFAULT_FROM_EMAIL
        msgid = make_msgid(domain=from_email.rpartition("@")[2].strip("> ") or "localhost")
        message = EmailMessage(
            subject=delivery.subject or delivery.event,
            body=delivery.body,
            from_email=from_email,
            to=[delivery.to_address],
            headers={"Message-ID": msgid},
        )
        if message.send(fail_silently=False) != 1:
            raise RuntimeError("the email backend accepted no message")
        return msgid
    if delivery.channel == Channel.SMS:
        return sms_backend().send(to=delivery.to_address, body=delivery.body)
    if delivery.channel == Channel.IN_APP:
        Notification.objects.get_or_create(
            delivery=delivery,
            defaults={
                "recipient_id": delivery.recipient_id,
                "event": delivery.event,
                "subject": delivery.subject,
                "body": delivery.body,
            },
        )
        return ""
    raise ValueError(f"unknown channel {delivery.channel!r}")


def delivery_send(delivery: Delivery | int) -> Delivery:
    """Send one queued delivery and record the outcome; safe to call any number of times.

    The row is locked while sending, so two workers never send it together; a delivery that is not
    `queued` (already `sent`, or `failed` for good) is returned untouched. On failure `attempts` and
    `error` are recorded; when attempts remain (`NOTIFICATION_MAX_ATTEMPTS`) `DeliveryRetry` is raised
    after the record commits, carrying the backoff in seconds (30, 60, 120, ... by default); otherwise
    the delivery becomes `failed`. Returns the delivery as stored. Raises `Delivery.DoesNotExist`.
    """
    pk = delivery.pk if isinstance(delivery, Delivery) else int(delivery)
    max_attempts = int(getattr(settings, "NOTIFICATION_MAX_ATTEMPTS", 5))
    with transaction.atomic():
        row = Delivery.objects.select_for_update().get(pk=pk)
        if row.status != DeliveryStatus.QUEUED:
            return row
        row.attempts += 1
        try:
            ref = _transmit(row)
        except Exception as exc:
            logger.warning("delivery %s attempt %s failed: %s", row.pk, row.attempts, exc)
            row.error = f"{type(exc).__name__}: {exc}"[:2000]
            if row.attempts >= max_attempts:
                row.status = DeliveryStatus.FAILED
            row.save(update_fields=["attempts", "error", "status", "updated_at"])
        else:
            row.status, row.sent_at, row.error = DeliveryStatus.SENT, timezone.now(), ""
            row.provider_ref = (ref or "")[:200]
            row.save(update_fields=["attempts", "error", "status", "sent_at", "provider_ref", "updated_at"])
    if row.status == DeliveryStatus.QUEUED:
        raise DeliveryRetry(row, _backoff(row.attempts))
    return row


def deliveries_requeue(*, now: dt.datetime | None = None) -> int:
    """Queue again every email/SMS delivery still `queued` and untouched for `NOTIFICATION_REQUEUE_AFTER`
    seconds (default 7200): its task was lost (broker down at commit, worker killed). Returns the count.
    Sending twice is impossible: `delivery_send` locks the row and skips what is no longer queued."""
    now = now or timezone.now()
    after = int(getattr(settings, "NOTIFICATION_REQUEUE_AFTER", 7200))
    ids = list(
        Delivery.objects.filter(
            status=DeliveryStatus.QUEUED,
            channel__in=[Channel.EMAIL, Channel.SMS],
            updated_at__lt=now - dt.timedelta(seconds=after),
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:1000]
    )
    for pk in ids:
        _enqueue(pk)
    return len(ids)


# --- reading and the inbox -------------------------------------------------------------------------


def notification_mark_read(*, notification_id, by: User) -> Notification:
    """Mark one of `by`'s own notifications read (the first read time is kept).

    Raises `hms.core.errors.NotFoundOrForbidden` (404) when it is missing or someone else's.
    """
    try:
        pk = int(notification_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=pk, recipient=by).first()
        if notification is None:
            raise NotFoundOrForbidden()
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at", "updated_at"])
    return notification


def message_send(
    *,
    recipient_id,
    subject: str,
    message: str,
    channels=None,
    idempotency_key: str = "",
    by: User,
    request=None,
) -> list[Delivery]:
    """A staff member's direct message to a user (`POST /api/notifications/send/`), event "message".

    Who may message whom: any staff role may message any active staff user; a patient's account may be
    messaged by staff who may see that patient's demographics (`patients_visible`: admin, reception,
    billing, pharmacy, lab; doctors and nurses only patients in their care). Patients send nothing
    (`PermissionDenied`). An unknown, inactive or not-visible recipient is the same 400
    (`ValidationError` on "recipient"). `idempotency_key` (optional, ≤ 64 chars) makes a repeated POST
    send nothing new. The act is audited (create, with the patient when the recipient is one).
    """
    if by.role not in {str(r) for r in STAFF_ROLES}:
        raise PermissionDenied("Only staff send messages.")
    no_such = ValidationError({"recipient": ["No such user."]})
    try:
        pk = int(recipient_id)
    except (TypeError, ValueError):
        raise no_such from None
    recipient = User.objects.filter(pk=pk, is_active=True).first() if 0 < pk < 2**63 else None
    if recipient is None or recipient.role is None:
        raise no_such
    patient = None
    if recipient.role == Role.PATIENT:
        patient = patients_visible(by).filter(user=recipient).first()
        if patient is None:
            raise no_such
    key = f"message:{by.pk}:{recipient.pk}:{idempotency_key or uuid.uuid4().hex}"
    context = {"subject": subject, "message": message, "sender": by}
    with transaction.atomic():
        deliveries = notification_send(
            recipient=recipient,
            event="message",
            context=context,
            dedupe_key=key,
            channels=channels,
            sender=by,
        )
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            object_type="messaging.Delivery",
            object_id=",".join(str(d.pk) for d in deliveries)[:64],
            detail={
                "event": "message",
                "recipient": recipient.pk,
                "channels": [d.channel for d in deliveries],
            },
        )
    return deliveries
