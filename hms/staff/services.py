"""Writes to practitioners. Each runs in one transaction with its AuditEvent."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from hms.accounts.roles import STAFF_ROLES, Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record

from .models import Practitioner, PractitionerRole

PRACTITIONER_FIELDS = (
    "prefix",
    "family_name",
    "given_names",
    "gender",
    "specialty",
    "licence_number",
    "npi",
    "bio",
    "consultation_fee",
    "currency",
    "available_days",
    "organization",
    "active",
)


def _require_admin(by) -> None:
    if by is None or by.role != Role.ADMIN:
        raise PermissionDenied("Only an administrator may manage practitioners.")


def _check_user(user, *, practitioner: Practitioner | None = None) -> None:
    if user is None:
        return
    if user.role not in {str(r) for r in STAFF_ROLES}:
        raise ValidationError({"user": "A practitioner must be linked to a staff account."})
    linked = Practitioner.objects.filter(user=user)
    if practitioner is not None:
        linked = linked.exclude(pk=practitioner.pk)
    if linked.exists():
        raise ValidationError({"user": "This account is already linked to another practitioner."})


def practitioner_create(*, by, data: dict, role: str = PractitionerRole.DOCTOR, request=None) -> Practitioner:
    """Create a practitioner (admin only), optionally linked to the staff account `data["user"]`.

    `data`: `user` (User or None) and keys of `PRACTITIONER_FIELDS`; names default to the user's.
    `consultation_fee` is a Decimal in `currency` (ISO 4217). Raises PermissionDenied (403),
    ValidationError (400).
    """
    _require_admin(by)
    user = data.get("user")
    _check_user(user)
    values = {k: v for k, v in data.items() if k in PRACTITIONER_FIELDS}
    if user is not None:
        values.setdefault("family_name", user.last_name or user.username)
        values.setdefault("given_names", user.first_name)
    with transaction.atomic():
        practitioner = Practitioner(user=user, role=role, **values)
        practitioner.full_clean()
        practitioner.save()
        audit_record(actor=by, action=AuditAction.CREATE, request=request, obj=practitioner)
    return practitioner


def practitioner_update(*, practitioner: Practitioner, by, data: dict, request=None) -> Practitioner:
    """Change a practitioner (admin only): `data` keys of `PRACTITIONER_FIELDS` and `user`.
    Raises PermissionDenied (403), ValidationError (400)."""
    _require_admin(by)
    if "user" in data:
        _check_user(data["user"], practitioner=practitioner)
    fields = [*PRACTITIONER_FIELDS, "user"]
    changed = [k for k, v in data.items() if k in fields and getattr(practitioner, k) != v]
    with transaction.atomic():
        for k in changed:
            setattr(practitioner, k, data[k])
        practitioner.full_clean()
        if changed:
            practitioner.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            obj=practitioner,
            detail={"fields": sorted(changed)},
        )
    return practitioner
