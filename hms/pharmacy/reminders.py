"""Medication reminders and refill alerts to patients, sent by Celery beat (issue 5).

Registered in `PharmacyConfig.ready()` as a provider of `hms.messaging.reminders` (the beat task
`messaging.reminders_due` calls it every `REMINDERS_INTERVAL_SECONDS`, default 300).

**Dose reminders** (`medication_reminders_send`, event `medication.reminder`): for every ACTIVE, live
prescription with `reminders_enabled` whose patient has an active portal login, at each local time of
the day: the patient's own `reminder_times` ("HH:MM", at most 6) if set, else the default times of the
frequency code (`hms.pharmacy.frequencies.default_times`, e.g. QD 08:00, BID 08:00/20:00,
TID 08:00/14:00/20:00, QID 08:00/12:00/16:00/20:00, Q8H 06:00/14:00/22:00, QHS 22:00; as-needed, STAT and
unknown codes have none). Times are wall-clock times in the hospital's zone (`HOSPITAL_TIME_ZONE`; the
Patient model has no zone of its own), so 08:00 stays 08:00 across daylight-saving changes. A reminder
is due from its time until `MEDICATION_REMINDER_GRACE_MINUTES` (default 60) later: a late beat tick still
sends it, a stale one is not sent hours late. QOD reminds on even days counted from the start, QWK on the
start's weekday (also at the patient's own times). Nothing is sent for a time before the prescription
was signed (or authored, for imported rows) nor after its `duration_days` ran out.
Once only: dedupe key `medication:<id>:reminder:<local date>:<HH:MM>`.

**Refill alerts** (`refill_alerts_send`, event `medication.refill_due`): for the LATEST completed
dispense of an active prescription that has `days_supply`, once the supply is `REFILL_ALERT_DAYS`
(default 3) days from running out (`dispensed_at + days_supply`) and until 2 days after it ran out.
The alert says whether refills remain (`refills` minus the complete fills after the first) or that a
renewal must be requested. Once per dispense: dedupe key `medication:<id>:refill:<dispense id>`.

Privacy (house rule for patient messages): e-mail and SMS bodies never name the medication (they can be
read on a lock screen or a shared inbox); the in-app notification, behind the portal login, does.

The patient's settings: `prescription_reminders_update` (portal page `portal:medication_reminders` and
`PATCH /api/prescriptions/{id}/reminders/`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.messaging.models import Delivery
from hms.messaging.services import notification_send

from . import frequencies
from .models import MedicationDispense, MedicationRequest

logger = logging.getLogger(__name__)

MAX_TIMES = 6
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_UNSET = object()


def _setting_int(name: str, default: int) -> int:
    """Setting `name` (Django settings first, else the environment), an int; `default` when unset/bad."""
    value = getattr(settings, name, None)
    if value is None:
        from config.env import env

        value = env(name, default=default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def reminder_zone() -> ZoneInfo:
    return ZoneInfo(settings.HOSPITAL_TIME_ZONE)


# ---------------------------------------------------------------- the patient's settings


def clean_times(value) -> list[str]:
    """Validate reminder times: a list (or a comma/space-separated string) of "HH:MM" 24-hour times, at
    most `MAX_TIMES`, duplicates removed, sorted. "8:00" is read as "08:00". Raises `ValidationError`
    {"reminder_times": ...} (400) otherwise."""
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s;]+", value) if v]
    if not isinstance(value, list | tuple):
        raise ValidationError({"reminder_times": 'Give a list of times such as ["08:00", "20:00"].'})
    times = []
    for raw in value:
        if not isinstance(raw, str):
            raise ValidationError({"reminder_times": "Each time must be text like 08:00."})
        raw = raw.strip()
        if re.fullmatch(r"\d:[0-5]\d", raw):
            raw = f"0{raw}"
        if not TIME_RE.match(raw):
            raise ValidationError(
                {"reminder_times": f"'{raw[:10]}' is not a time of day (HH:MM, 00:00-23:59)."}
            )
        if raw not in times:
            times.append(raw)
    if len(times) > MAX_TIMES:
        raise ValidationError({"reminder_times": f"At most {MAX_TIMES} reminder times a day."})
    return sorted(times)


def effective_times(prescription: MedicationRequest) -> list[str]:
    """The local times the prescription reminds at: the patient's own, else the frequency's defaults."""
    own = prescription.reminder_times if isinstance(prescription.reminder_times, list) else []
    return sorted(own) if own else list(frequencies.default_times(prescription.frequency_code))


def reminder_prescription_get(*, user, prescription_id) -> MedicationRequest:
    """The patient's own (non-draft, live) prescription, else `NotFoundOrForbidden` (404). Patients only."""
    from .selectors import prescription_get

    if getattr(user, "role", None) != Role.PATIENT:
        raise NotFoundOrForbidden()
    return prescription_get(user=user, prescription_id=prescription_id)


def reminder_prescriptions(user):
    """The signed-in patient's ACTIVE live prescriptions (the ones reminders apply to), newest first."""
    from .selectors import prescriptions_visible

    if getattr(user, "role", None) != Role.PATIENT:
        return MedicationRequest.objects.none()
    return prescriptions_visible(user).filter(status="active")


def prescription_reminders_update(
    *, prescription: MedicationRequest, by, reminders_enabled=_UNSET, reminder_times=_UNSET, request=None
) -> MedicationRequest:
    """Switch the reminders of `prescription` on/off and/or set its times (see `clean_times`; [] = the
    frequency's default times). Only the patient themself (else 404); only while the prescription is
    active (else `Conflict`, 409). Bad values → `ValidationError` (400). One AuditEvent (update) naming
    what changed; nothing else of the prescription changes (it stays immutable)."""
    if getattr(by, "role", None) != Role.PATIENT or prescription.patient.user_id != by.pk:
        raise NotFoundOrForbidden()
    changes: dict = {}
    if reminders_enabled is not _UNSET:
        if not isinstance(reminders_enabled, bool):
            raise ValidationError({"reminders_enabled": "Must be true or false."})
        changes["reminders_enabled"] = reminders_enabled
    if reminder_times is not _UNSET:
        changes["reminder_times"] = clean_times(reminder_times)
    with transaction.atomic():
        locked = MedicationRequest.objects.select_for_update().get(pk=prescription.pk)
        if locked.status != "active" or locked.deleted_at is not None:
            raise Conflict("Reminders can only be set for an active prescription.")
        changed = {k: v for k, v in changes.items() if getattr(locked, k) != v}
        if changed:
            for key, value in changed.items():
                setattr(locked, key, value)
            locked.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"reminders": changed},
        )
    return locked


# ---------------------------------------------------------------- dose reminders


def _start(rx: MedicationRequest) -> dt.datetime | None:
    return rx.signed_at or rx.authored_on or rx.created_at


def _reminds_on(rx: MedicationRequest, day: dt.date, zone: ZoneInfo) -> bool:
    start = _start(rx)
    if start is None:
        return False
    first = start.astimezone(zone).date()
    if day < first:
        return False
    if rx.duration_days and day >= first + dt.timedelta(days=rx.duration_days):
        return False
    code = (rx.frequency_code or "").upper()
    if code == "QOD":
        return (day - first).days % 2 == 0
    if code == "QWK":
        return (day - first).days % 7 == 0
    return True


def reminder_due_times(rx: MedicationRequest, now: dt.datetime, *, grace: dt.timedelta) -> list[dt.datetime]:
    """The reminder instants (aware, hospital zone) of `rx` in (now - grace, now]."""
    zone = reminder_zone()
    local_now = now.astimezone(zone)
    due = []
    start = _start(rx)
    for day in sorted({local_now.date(), (local_now - grace).date()}):
        if not _reminds_on(rx, day, zone):
            continue
        for text in effective_times(rx):
            hour, minute = (int(x) for x in text.split(":"))
            at = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone)
            if now - grace < at <= now and (start is None or at >= start):
                due.append(at)
    return due


def _recipient(rx: MedicationRequest):
    user = rx.patient.user
    return user if user is not None and user.is_active else None


def _rx_context(rx: MedicationRequest) -> dict:
    return {
        "medication": rx.code_display or "your medication",
        "dosage": rx.dosage_text,
        "patient_name": rx.patient.given_names,
        "prescription_id": rx.pk,
    }


def medication_reminders_send(*, now: dt.datetime) -> int:
    """Send the dose reminders due at `now` (aware). Returns the number of deliveries newly recorded.
    One prescription failing is logged and does not stop the others."""
    grace = dt.timedelta(minutes=_setting_int("MEDICATION_REMINDER_GRACE_MINUTES", 60))
    with_times = Q(frequency_code__in=[c for c, f in frequencies.FREQUENCIES.items() if f.times]) | ~Q(
        reminder_times=[]
    )
    qs = (
        MedicationRequest.objects.filter(
            with_times,
            status="active",
            reminders_enabled=True,
            deleted_at__isnull=True,
            patient__deleted_at__isnull=True,
            patient__user__isnull=False,
            patient__user__is_active=True,
        )
        .select_related("patient__user")
        .order_by("id")
    )
    sent = 0
    for rx in qs.iterator(chunk_size=500):
        for at in reminder_due_times(rx, now, grace=grace):
            key = f"medication:{rx.pk}:reminder:{at.date().isoformat()}:{at:%H:%M}"
            if Delivery.objects.filter(dedupe_key=key).exists():
                continue
            recipient = _recipient(rx)
            if recipient is None:
                continue
            try:
                deliveries = notification_send(
                    recipient=recipient,
                    event="medication.reminder",
                    context={**_rx_context(rx), "at": at, "time": f"{at:%H:%M}"},
                    dedupe_key=key,
                )
            except Exception:
                logger.exception("medication reminder for prescription %s failed", rx.pk)
                continue
            sent += len(deliveries)
    return sent


# ---------------------------------------------------------------- refill alerts


def refills_remaining(rx: MedicationRequest) -> int:
    """Refills left: `refills` minus the complete (not partial) fills after the first one, never < 0."""
    fills = rx.dispenses.filter(status="completed", deleted_at__isnull=True, is_partial=False).count()
    return max(0, rx.refills - max(0, fills - 1))


def refill_alerts_send(*, now: dt.datetime) -> int:
    """Send the refill alerts due at `now` (see the module docstring); returns deliveries recorded."""
    lead = dt.timedelta(days=_setting_int("REFILL_ALERT_DAYS", 3))
    after = dt.timedelta(days=2)
    horizon = now - dt.timedelta(days=400)  # a supply longer than a year is not alerted
    qs = (
        MedicationDispense.objects.filter(
            status="completed",
            deleted_at__isnull=True,
            days_supply__isnull=False,
            dispensed_at__gte=horizon,
            dispensed_at__lte=now,
            prescription__status="active",
            prescription__reminders_enabled=True,
            prescription__deleted_at__isnull=True,
            patient__deleted_at__isnull=True,
            patient__user__isnull=False,
            patient__user__is_active=True,
        )
        .select_related("prescription__patient__user")
        .order_by("prescription_id", "-dispensed_at", "-id")
    )
    sent = 0
    seen: set[int] = set()
    for dispense in qs.iterator(chunk_size=500):
        if dispense.prescription_id in seen:
            continue  # only the latest dispense of a prescription counts
        seen.add(dispense.prescription_id)
        runs_out = dispense.dispensed_at + dt.timedelta(days=dispense.days_supply)
        if not runs_out - lead <= now < runs_out + after:
            continue
        key = f"medication:{dispense.prescription_id}:refill:{dispense.pk}"
        if Delivery.objects.filter(dedupe_key=key).exists():
            continue
        rx = dispense.prescription
        recipient = _recipient(rx)
        if recipient is None:
            continue
        remaining = refills_remaining(rx)
        try:
            deliveries = notification_send(
                recipient=recipient,
                event="medication.refill_due",
                context={
                    **_rx_context(rx),
                    "runs_out": runs_out,
                    "refills_remaining": remaining,
                    "renewal_needed": remaining == 0,
                },
                dedupe_key=key,
            )
        except Exception:
            logger.exception("refill alert for dispense %s failed", dispense.pk)
            continue
        sent += len(deliveries)
    return sent


def medication_reminders(*, now: dt.datetime, offsets=None) -> int:
    """The provider registered with `hms.messaging.reminders` (the appointment `offsets` do not apply):
    dose reminders, then refill alerts. Returns the deliveries newly recorded."""
    return medication_reminders_send(now=now) + refill_alerts_send(now=now)
