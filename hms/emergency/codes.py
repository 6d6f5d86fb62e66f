"""Hospital emergency codes and admin broadcasts: services (writes) and selectors (reads).

A code (`CodeType`: Code Blue, Code Red, ...; seeded by migration `0002_code_types`, citing the
plain-language codes of the Hospital Association of Southern California) has a response team (users,
managed in the Django admin). Staff go on duty (`duty_start`) and off (`duty_end`). When a code is
activated (`code_activate`) every ACTIVE team member who is ON DUTY at that moment gets one `CodeAlert`,
a push on their own WebSocket group (`alerts.user.<id>`, every open page shows a banner with a sound)
and a notification through `hms.messaging.services.notification_send` (event "code.activated": in-app
and SMS, as a critical notification that overrides the member's channel preferences; the SMS carries the
code and the location only, never patient data). Each recipient acknowledges their own alert
(`code_acknowledge`); the activator's pages are pushed who acknowledged and when. A code is closed
(`code_close`) when over. Every step is timestamped on the rows and written to the audit log, for
review (`portal:code_log`).

Who may do what (decided here, enforced by the API and the pages through these functions):
- activate a code: doctors, nurses and administrators (`ACTIVATE_ROLES`). Clinicians are at the bedside
  when a patient arrests; administrators cover the switchboard/security desk that calls a fire or an
  abduction code. Other staff call the switchboard. Anyone else: `PermissionDenied` (403).
- acknowledge an alert: its recipient only (anyone else: 404, the alert is not theirs).
- close a code: the activator, a member of the code's team, or an administrator (else 403).
- go on/off duty: any staff role (patients: 403).
- broadcast: administrators only (`broadcast_send`), to some staff roles or all staff.
- read: administrators read every activation (the review log); others read the activations they
  activated or were alerted for (others: 404).

Code alerts and broadcasts carry no patient data (no PHI): `location_text` is a place in the building
("Ward 3B, bed 4"), `note` is free text that the form asks to keep free of patient identifiers.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from hms.accounts.models import User
from hms.accounts.roles import STAFF_ROLES, Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.messaging.services import notification_send

from .alerts_live import ALL_GROUP, alerts_push, role_group, user_group
from .models import Broadcast, CodeActivation, CodeAlert, CodeType, OnDuty

ACTIVATE_ROLES = frozenset({str(Role.DOCTOR), str(Role.NURSE), str(Role.ADMIN)})
STAFF = frozenset(str(r) for r in STAFF_ROLES)
CODE_EVENT = "code.activated"
BROADCAST_EVENT = "broadcast"
MAX_ID = 2**63 - 1


def _name(user: User) -> str:
    return user.get_full_name() or user.username


def _staff_only(by: User) -> None:
    if by.role not in STAFF:
        raise PermissionDenied("Only hospital staff do this.")


# --- code types and duty -----------------------------------------------------------------------------


def code_types_active() -> QuerySet[CodeType]:
    """The codes staff may activate (active ones), by name. Not PHI."""
    return CodeType.objects.filter(active=True).order_by("name")


def code_type_get(key_or_id) -> CodeType:
    """An active code by its key ("blue") or id. Raises ValidationError on "code_type" (400) when unknown."""
    qs = code_types_active()
    value = str(key_or_id or "").strip()
    found = None
    if value.isdigit() and 0 < int(value) <= MAX_ID:
        found = qs.filter(pk=int(value)).first()
    if found is None and value:
        found = qs.filter(key=value).first()
    if found is None:
        raise ValidationError({"code_type": ["Unknown or inactive code."]})
    return found


def duty_get(user: User) -> OnDuty | None:
    """The user's on-duty row (with `since`), or None when off duty."""
    return OnDuty.objects.filter(user=user).first()


def duty_start(*, by: User, request=None) -> OnDuty:
    """Put `by` on duty now (a no-op when already on duty: `since` is kept). Staff only (else 403)."""
    _staff_only(by)
    with transaction.atomic():
        row, created = OnDuty.objects.get_or_create(user=by, defaults={"since": timezone.now()})
        if created:
            audit_record(actor=by, action=AuditAction.CREATE, request=request, obj=row, detail={"duty": "on"})
    return row


def duty_end(*, by: User, request=None) -> None:
    """Take `by` off duty (a no-op when already off). Staff only (else 403). The span is in the audit log."""
    _staff_only(by)
    with transaction.atomic():
        row = OnDuty.objects.select_for_update().filter(user=by).first()
        if row is not None:
            audit_record(
                actor=by,
                action=AuditAction.DELETE,
                request=request,
                obj=row,
                detail={"duty": "off", "since": row.since.isoformat()},
            )
            row.delete()


# --- codes -----------------------------------------------------------------------------------------------


def _activation_payload(alert: CodeAlert, activation: CodeActivation) -> dict:
    code = activation.code_type
    return {
        "event": "code.activated",
        "alert": alert.pk,
        "activation": activation.pk,
        "code": code.name,
        "key": code.key,
        "colour": code.colour,
        "location": activation.location_text,
        "note": activation.note,
        "at": activation.activated_at.isoformat(),
        "by": _name(activation.activated_by),
    }


def _clean_text(value, field: str, max_length: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({field: ["Not a valid string."]})
    value = " ".join(value.split()) if field != "body" else value.strip()
    if required and not value:
        raise ValidationError({field: ["This field is required."]})
    if len(value) > max_length:
        raise ValidationError({field: [f"At most {max_length} characters."]})
    return value


def code_activate(
    *, code_type: CodeType, location_text: str, note: str = "", by: User, request=None
) -> CodeActivation:
    """Activate `code_type` at `location_text` (1-200 chars, a place, no patient data; `note` ≤ 500).

    Creates the `CodeActivation` (activated now by `by`) and one `CodeAlert` per active, on-duty member
    of the code's team, then (after commit) pushes each one on `alerts.user.<id>` and tells every staff
    page `code.changed`; each member also gets the "code.activated" notification (in-app, SMS where
    accepted; dedupe key `code:<activation>:<user>`). All in one transaction: a failure alerts nobody.

    Raises PermissionDenied (403) for a role not in `ACTIVATE_ROLES`, ValidationError (400) on
    "code_type" (inactive), "location_text" or "note".
    """
    if by.role not in ACTIVATE_ROLES:
        raise PermissionDenied("Only doctors, nurses and administrators activate codes.")
    if not code_type.active:
        raise ValidationError({"code_type": ["Unknown or inactive code."]})
    location_text = _clean_text(location_text, "location_text", 200, required=True)
    note = _clean_text(note, "note", 500, required=False)
    now = timezone.now()
    with transaction.atomic():
        activation = CodeActivation.objects.create(
            code_type=code_type, location_text=location_text, note=note, activated_by=by, activated_at=now
        )
        members = list(code_type.team.filter(is_active=True, on_duty__isnull=False).order_by("pk").distinct())
        alerts = CodeAlert.objects.bulk_create(
            [CodeAlert(activation=activation, recipient=m, sent_at=now) for m in members]
        )
        context = {"code": code_type.name, "location": location_text, "note": note, "at": now}
        for alert, member in zip(alerts, members, strict=True):
            notification_send(
                recipient=member,
                event=CODE_EVENT,
                context=context,
                dedupe_key=f"code:{activation.pk}:{member.pk}",
                channels=["in_app", "sms"],
                sender=by,
                critical=True,  # a code reaches the team by SMS even if they switched SMS off
            )
            alerts_push([user_group(member.pk)], _activation_payload(alert, activation))
        alerts_push([ALL_GROUP], {"event": "code.changed", "activation": activation.pk})
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            obj=activation,
            detail={"code": code_type.key, "alerted": [m.pk for m in members]},
        )
    return activation


def code_acknowledge(*, alert: CodeAlert, by: User, request=None) -> CodeAlert:
    """The recipient `by` acknowledges `alert` (now; a second call keeps the first time).

    Pushes `code.acknowledged` (who, when) to the activator's pages and `code.changed` to every staff
    page. Raises NotFoundOrForbidden (404) when `alert` is not `by`'s, Conflict (409) when the code was
    closed before the acknowledgement.
    """
    if alert.recipient_id != by.pk:
        raise NotFoundOrForbidden()
    with transaction.atomic():
        alert = (
            CodeAlert.objects.select_for_update(of=("self",))
            .select_related("activation__code_type")
            .get(pk=alert.pk)
        )
        if alert.acknowledged_at is not None:
            return alert
        activation = alert.activation
        if activation.closed_at is not None:
            raise Conflict("This code was already closed.")
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["acknowledged_at"])
        audit_record(actor=by, action=AuditAction.UPDATE, request=request, obj=alert, detail={"ack": True})
        alerts_push(
            [user_group(activation.activated_by_id)],
            {
                "event": "code.acknowledged",
                "activation": activation.pk,
                "code": activation.code_type.name,
                "alert": alert.pk,
                "by": _name(by),
                "at": alert.acknowledged_at.isoformat(),
            },
        )
        alerts_push([ALL_GROUP], {"event": "code.changed", "activation": activation.pk})
    return alert


def code_close(*, activation: CodeActivation, by: User, request=None) -> CodeActivation:
    """Close `activation` (now, by `by`): the activator, a team member or an administrator (else 403).
    Open alerts stop showing; the rows and their times stay for review. Conflict (409) when closed."""
    allowed = (
        by.pk == activation.activated_by_id
        or by.role == Role.ADMIN
        or activation.code_type.team.filter(pk=by.pk).exists()
    )
    if not allowed:
        raise PermissionDenied("Only the activator, the team or an administrator closes a code.")
    with transaction.atomic():
        activation = CodeActivation.objects.select_for_update().get(pk=activation.pk)
        if activation.closed_at is not None:
            raise Conflict("This code is already closed.")
        activation.closed_at, activation.closed_by = timezone.now(), by
        activation.save(update_fields=["closed_at", "closed_by", "updated_at"])
        audit_record(
            actor=by, action=AuditAction.UPDATE, request=request, obj=activation, detail={"closed": True}
        )
        alerts_push([ALL_GROUP], {"event": "code.closed", "activation": activation.pk})
    return activation


def activations_visible(user: User) -> QuerySet[CodeActivation]:
    """Activations `user` may read, newest first: all for administrators (the review log); the ones
    they activated or were alerted for for other staff; none for patients."""
    qs = CodeActivation.objects.select_related("code_type", "activated_by", "closed_by")
    if user.role == Role.ADMIN:
        return qs
    if user.role not in STAFF:
        return qs.none()
    alerted = CodeAlert.objects.filter(recipient=user).values("activation_id")
    return qs.filter(Q(activated_by=user) | Q(pk__in=alerted))


def activation_get(user: User, activation_id) -> CodeActivation:
    """One visible activation. NotFoundOrForbidden (404) when missing or not visible."""
    try:
        pk = int(activation_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    found = activations_visible(user).filter(pk=pk).first() if 0 < pk <= MAX_ID else None
    if found is None:
        raise NotFoundOrForbidden()
    return found


def alerts_of(activation: CodeActivation) -> QuerySet[CodeAlert]:
    """The alerts of an activation with their recipients, in the order they were sent."""
    return activation.alerts.select_related("recipient").order_by("sent_at", "id")


def alert_get(user: User, alert_id) -> CodeAlert:
    """One of `user`'s own alerts. NotFoundOrForbidden (404) when missing or someone else's."""
    try:
        pk = int(alert_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    found = (
        CodeAlert.objects.select_related("activation__code_type", "activation__activated_by")
        .filter(pk=pk, recipient=user)
        .first()
        if 0 < pk <= MAX_ID
        else None
    )
    if found is None:
        raise NotFoundOrForbidden()
    return found


def alerts_open_for(user: User) -> QuerySet[CodeAlert]:
    """`user`'s unacknowledged alerts of codes still open, newest first (what the banner shows)."""
    return (
        CodeAlert.objects.filter(
            recipient=user, acknowledged_at__isnull=True, activation__closed_at__isnull=True
        )
        .select_related("activation__code_type", "activation__activated_by")
        .order_by("-sent_at", "-id")
    )


# --- broadcasts ----------------------------------------------------------------------------------------

BROADCAST_ROLES = sorted(STAFF)
RECENT_BROADCASTS = dt.timedelta(days=7)


def broadcast_send(
    *, title: str, body: str, roles, urgent: bool = False, by: User, request=None
) -> Broadcast:
    """An administrator's message to staff in `roles` (list of staff role values; empty = all staff).

    Stores the `Broadcast`, sends each active recipient the in-app notification "broadcast" (dedupe key
    `broadcast:<id>:<user>`), and pushes it after commit on `alerts.role.<role>` for each role (or
    `alerts.all`): open pages show it as a banner, with a sound when `urgent`.
    Raises PermissionDenied (403) for non-administrators; ValidationError (400) on "title" (1-120 chars),
    "body" (1-2000 chars) or "roles" (unknown or patient role).
    """
    if by.role != Role.ADMIN:
        raise PermissionDenied("Only administrators send broadcasts.")
    title = _clean_text(title, "title", 120, required=True)
    body = _clean_text(body, "body", 2000, required=True)
    if roles is None:
        roles = []
    if not isinstance(roles, list | tuple) or not all(isinstance(r, str) for r in roles):
        raise ValidationError({"roles": ["A list of roles."]})
    unknown = sorted(set(roles) - STAFF)
    if unknown:
        raise ValidationError({"roles": [f"Not staff roles: {', '.join(unknown)}."]})
    roles = sorted(set(roles))
    with transaction.atomic():
        broadcast = Broadcast.objects.create(
            sender=by, title=title, body=body, roles=roles, urgent=bool(urgent)
        )
        recipients = User.objects.filter(is_active=True, groups__name__in=roles or sorted(STAFF)).distinct()
        for user in recipients.order_by("pk").iterator():
            notification_send(
                recipient=user,
                event=BROADCAST_EVENT,
                context={"title": title, "body": body, "urgent": broadcast.urgent, "sender": by},
                dedupe_key=f"broadcast:{broadcast.pk}:{user.pk}",
                channels=["in_app"],
                sender=by,
            )
        payload = {
            "event": "broadcast",
            "broadcast": broadcast.pk,
            "title": title,
            "body": body,
            "urgent": broadcast.urgent,
            "at": broadcast.created_at.isoformat(),
            "by": _name(by),
        }
        alerts_push([role_group(r) for r in roles] if roles else [ALL_GROUP], payload)
        audit_record(
            actor=by, action=AuditAction.CREATE, request=request, obj=broadcast, detail={"roles": roles}
        )
    return broadcast


def broadcasts_for(user: User, *, now: dt.datetime | None = None) -> QuerySet[Broadcast]:
    """Broadcasts addressed to `user` (their role, or all staff) in the last 7 days, newest first;
    administrators see every recent broadcast. Patients: none."""
    now = now or timezone.now()
    qs = Broadcast.objects.select_related("sender").filter(created_at__gte=now - RECENT_BROADCASTS)
    if user.role == Role.ADMIN:
        return qs
    if user.role not in STAFF:
        return qs.none()
    return (
        qs.filter(Q(roles=[]) | Q(roles__contains=[user.role]))
        if _json_contains_ok()
        else _filter_py(qs, user)
    )


def _json_contains_ok() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


def _filter_py(qs: QuerySet[Broadcast], user: User) -> QuerySet[Broadcast]:
    """SQLite has no JSON `contains`: filter the (few, recent) rows in Python and re-query by id."""
    ids = [pk for pk, roles in qs.values_list("pk", "roles") if not roles or user.role in roles]
    return qs.filter(pk__in=ids)
