"""AuditEvent: the append-only log of every access to PHI and every authentication event.

Maps to FHIR R4 `AuditEvent` (https://hl7.org/fhir/R4/auditevent.html): `action` ~ AuditEvent.action
(C/R/U/D/E), `actor` ~ agent.who, `patient` ~ entity (the patient), `source_ip` ~ agent.network.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditAction(models.TextChoices):
    CREATE = "create", "Create"
    READ = "read", "Read"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"
    SEARCH = "search", "Search"
    EXPORT = "export", "Export"
    LOGIN = "login", "Login"
    LOGOUT = "logout", "Logout"
    LOGIN_FAILED = "login_failed", "Failed login"


class AuditOutcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise TypeError("Audit events are append-only.")

    def delete(self):
        raise TypeError("Audit events are append-only.")


class AuditEvent(models.Model):
    """One audited act. Append-only: `save()` on an existing row, `delete()`, and queryset `update()`/
    `delete()` raise `TypeError`; on PostgreSQL a trigger also rejects UPDATE and DELETE.

    - `patient_ids`: list[int], every patient a list or search returned (empty for a single read).
    - `object_type`/`object_id`: the record touched, e.g. ("clinical.Observation", "42").
    """

    recorded_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=32, blank=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices, db_index=True)
    outcome = models.CharField(max_length=8, choices=AuditOutcome.choices, default=AuditOutcome.SUCCESS)
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    patient_ids = models.JSONField(default=list, blank=True)
    object_type = models.CharField(max_length=64, blank=True, db_index=True)
    object_id = models.CharField(max_length=64, blank=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    channel = models.CharField(max_length=16, blank=True, help_text="api, web, fhir, admin, system")
    detail = models.JSONField(default=dict, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "recorded_at"]),
            models.Index(fields=["actor", "recorded_at"]),
        ]

    def __str__(self) -> str:
        who = self.actor_username or "-"
        return f"{self.recorded_at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.object_type}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise TypeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("Audit events are append-only.")
