"""`audit_record()`: the one way to write an AuditEvent. Call it inside the transaction of the act."""

from collections.abc import Iterable

from django.db import models

from .models import AuditAction, AuditEvent, AuditOutcome


def _client_ip(request) -> str | None:
    if request is None:
        return None
    ip = request.META.get("REMOTE_ADDR") or None
    return ip


def audit_record(
    *,
    actor=None,
    action: str,
    request=None,
    patient=None,
    patients: Iterable | None = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    outcome: str = AuditOutcome.SUCCESS,
    channel: str = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Append one AuditEvent.

    - `actor`: the User (defaults to `request.user` when authenticated); None for system jobs.
    - `patient`: the Patient the act concerns; `patients`: the ones a list/search returned (ids or objects).
    - `obj`: the record touched; its "app_label.Model" and pk fill `object_type`/`object_id`.
    Raises ValueError for an unknown `action`.
    """
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    request_user = getattr(request, "user", None) if request is not None else None
    if actor is None and request_user is not None and request_user.is_authenticated:
        actor = request_user
    if obj is not None:
        object_type = object_type or f"{obj._meta.app_label}.{obj.__class__.__name__}"
        object_id = object_id or obj.pk
    ids = [p if isinstance(p, int) else p.pk for p in patients] if patients is not None else []
    if not channel and request is not None:
        path = request.path or ""
        channel = "api" if path.startswith("/api/") else "fhir" if path.startswith("/fhir/") else "web"
    return AuditEvent.objects.create(
        actor=actor,
        actor_username=getattr(actor, "username", "") or "",
        actor_role=(getattr(actor, "role", None) or "") if actor is not None else "",
        action=action,
        outcome=outcome,
        patient=patient,
        patient_ids=ids,
        object_type=object_type,
        object_id=str(object_id or ""),
        source_ip=_client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        channel=channel,
        detail=detail or {},
    )
