"""Notifications: who wants what (`NotificationPreference`), each send (`Delivery`) and the in-app inbox
(`Notification`).

Every module notifies through `hms.messaging.services.notification_send`; nothing else sends email or
SMS. A `Delivery` maps loosely to FHIR R4 `Communication` (https://hl7.org/fhir/R4/communication.html):
`recipient` ~ recipient, `channel` ~ medium, `body` ~ payload, `status` ~ status, `sent_at` ~ sent.
"""

from django.conf import settings
from django.db import models

from hms.core.models import TimeStampedModel


class Channel(models.TextChoices):
    IN_APP = "in_app", "In-app"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # recorded, not yet sent (or failed and waiting for a retry)
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # gave up: every attempt failed, or no address to send to


class NotificationPreference(TimeStampedModel):
    """The channels one user accepts. A user without a row gets the defaults: in-app and email, no SMS."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)
    sms = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.user}: {', '.join(self.channels) or 'nothing'}"

    @property
    def channels(self) -> list[str]:
        """The enabled channels, in `Channel` order."""
        return [c.value for c in Channel if getattr(self, c.value)]


class Delivery(TimeStampedModel):
    """One notification to one user through one channel, recorded before it is sent.

    - `dedupe_key` + `channel` are unique: the same event (e.g. "appointment:42:reminder:24h") is never
      recorded, hence never sent, twice through one channel.
    - `template`: the Django template the `subject`/`body` were rendered from.
    - `to_address`: email address, phone number, or the username for in-app.
    - `attempts`: sending attempts so far; `error`: the last failure; `sent_at`: when it went out (UTC).
    - `provider_ref`: the provider's id of the sent message, when it gives one.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    event = models.CharField(max_length=64, db_index=True)
    template = models.CharField(max_length=200)
    to_address = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(
        max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    provider_ref = models.CharField(max_length=200, blank=True)
    dedupe_key = models.CharField(max_length=200)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key", "channel"], name="messaging_delivery_once"),
        ]
        indexes = [models.Index(fields=["recipient", "created_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.recipient} by {self.channel} ({self.status})"


class Notification(TimeStampedModel):
    """An in-app notification: what a user reads in their inbox (`GET /api/notifications/`).

    Created with its in-app `Delivery` in the same transaction; `read_at` is set once, by the recipient.
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="notifications"
    )
    delivery = models.OneToOneField(Delivery, on_delete=models.PROTECT, related_name="notification")
    event = models.CharField(max_length=64)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "created_at"])]

    def __str__(self) -> str:
        return f"{self.recipient}: {self.subject or self.event}"
