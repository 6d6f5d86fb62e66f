"""Waitlist: patients waiting for an earlier slot, and offering freed time to them.

Flow:
- `waitlist_join`: a patient (for themself) or the front desk (for anyone they see) adds a `WaitlistEntry`
  for one practitioner or a specialty, with a preferred window (local dates, optional local times).
- `slot_freed(appointment_id=...)` is called by the appointment services after commit whenever a time range
  becomes free again (a cancellation, or the old time of a reschedule). `waitlist_offer_slot` offers it to
  the first matching waiting entry (oldest first): the same practitioner, or no practitioner but the same
  specialty; the window covers the slot; the service (if named) matches; the patient is not the one who
  freed it and is free at that time. The offer holds `WAITLIST_OFFER_MINUTES` (default 60, never past the
  slot's start) and is announced with `notification_send` (event "waitlist.offer", key
  `waitlist:<entry id>:offer:<practitioner id>:<start, epoch seconds>`).
- `waitlist_accept` books the offered slot through `appointment_book` (409 if it was taken meanwhile; the
  entry then waits again). `waitlist_cancel` closes an entry (an open offer passes to the next entry).
- `waitlist_offers_expire` (the sweep, run by the beat through the reminder-provider registry as
  `waitlist_sweep`) expires stale offers and offers each slot, if still free, to the next entry.

Offers of one practitioner are serialised by the lock on their `Schedule` row (the lock bookings take), and
a partial unique constraint keeps one live offer per slot. Every write is audited in its transaction;
offers and expiries are system acts (no actor, channel "system").
"""

import datetime as dt
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.messaging.services import notification_send

from .availability import schedule_zone
from .models import (
    WAITLIST_OPEN,
    Appointment,
    Channel,
    Schedule,
    ServiceType,
    WaitlistEntry,
    WaitlistStatus,
)

logger = logging.getLogger(__name__)

W = WaitlistStatus
MAX_WINDOW_DAYS = 180
MATCH_SCAN = 50  # waiting entries examined per freed slot


# ---------------------------------------------------------------- reads


def waitlist_visible(user) -> QuerySet[WaitlistEntry]:
    """Entries `user` may see: a patient their own; reception and admin all; a doctor or nurse those naming
    them or offering their time; others none."""
    qs = WaitlistEntry.objects.select_related(
        "patient", "practitioner", "specialty", "service_type", "offered_practitioner", "offered_service_type"
    )
    if user is None or not user.is_authenticated or not user.is_active:
        return qs.none()
    role = user.role
    if role in (Role.RECEPTIONIST, Role.ADMIN):
        return qs.filter(patient__deleted_at__isnull=True)
    if role in (Role.DOCTOR, Role.NURSE):
        practitioner = getattr(user, "practitioner", None)
        if practitioner is None:
            return qs.none()
        return qs.filter(Q(practitioner=practitioner) | Q(offered_practitioner=practitioner)).filter(
            patient__deleted_at__isnull=True
        )
    if role == Role.PATIENT:
        return qs.filter(patient__user=user, patient__deleted_at__isnull=True)
    return qs.none()


def waitlist_entry_get(user, entry_id) -> WaitlistEntry:
    """The entry with pk `entry_id` if `user` may see it; else `NotFoundOrForbidden` (404)."""
    try:
        pk = int(entry_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    found = waitlist_visible(user).filter(pk=pk).first()
    if found is None:
        raise NotFoundOrForbidden()
    return found


# ---------------------------------------------------------------- writes by people


def waitlist_join(
    *,
    patient,
    date_from: dt.date,
    date_to: dt.date,
    by,
    practitioner=None,
    specialty=None,
    service_type: ServiceType | None = None,
    time_from: dt.time | None = None,
    time_to: dt.time | None = None,
    reason: str = "",
    request=None,
) -> WaitlistEntry:
    """Put `patient` on the waitlist of `practitioner` OR `specialty` (exactly one) for local dates
    [date_from, date_to] (≤ 180 days, not ending in the past), optionally only [time_from, time_to] each day.

    A patient user may only add themself (`PermissionDenied`, 403). Raises ValidationError (400) for a bad
    window or target, Conflict (409, code "waitlist_duplicate") when the patient already has an open entry
    for the same practitioner or specialty. Audited ("create").
    """
    if by.role == Role.PATIENT and getattr(patient, "user_id", None) != by.pk:
        raise PermissionDenied("A patient can only join the waitlist for themself.")
    if (practitioner is None) == (specialty is None):
        raise ValidationError({"practitioner": "Name either a practitioner or a specialty."})
    from .services import horizon_last_date, horizon_message  # services import this module

    last = horizon_last_date()
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value > last:
            raise ValidationError({name: f"{horizon_message()} (last date: {last})."})
    if practitioner is not None and not practitioner.active:
        raise ValidationError({"practitioner": "This practitioner is not active."})
    today = timezone.localdate(timezone=_hospital_zone())
    if date_to < today:
        raise ValidationError({"date_to": "The window has already passed."})
    if date_to < date_from:
        raise ValidationError({"date_to": "Must not be before date_from."})
    if (date_to - date_from).days >= MAX_WINDOW_DAYS:
        raise ValidationError({"date_to": f"The window may span at most {MAX_WINDOW_DAYS} days."})
    with transaction.atomic():
        duplicate = WaitlistEntry.objects.select_for_update().filter(
            patient=patient, status__in=WAITLIST_OPEN, practitioner=practitioner, specialty=specialty
        )
        if duplicate.exists():
            raise Conflict(
                "This patient is already on that waitlist.", payload={"code": "waitlist_duplicate"}
            )
        entry = WaitlistEntry(
            patient=patient,
            practitioner=practitioner,
            specialty=specialty,
            service_type=service_type,
            date_from=date_from,
            date_to=date_to,
            time_from=time_from,
            time_to=time_to,
            reason=reason,
            created_by=by,
        )
        entry.full_clean()
        entry.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=entry,
            detail={
                "practitioner": getattr(practitioner, "pk", None),
                "specialty": getattr(specialty, "code", None),
                "window": [date_from.isoformat(), date_to.isoformat()],
            },
        )
    return entry


def waitlist_cancel(*, entry: WaitlistEntry, by, request=None) -> WaitlistEntry:
    """Close a waiting or offered entry (status "cancelled"). An open offer passes, after commit, to the next
    matching entry. Raises ValidationError (400) if the entry is already closed. Audited ("update")."""
    with transaction.atomic():
        locked = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if locked.status not in WAITLIST_OPEN:
            raise ValidationError({"status": f"This entry is already {locked.status}."})
        was_offered = locked.status == W.OFFERED
        from_status = locked.status
        locked.status, locked.closed_at = W.CANCELLED, timezone.now()
        locked.save(update_fields=["status", "closed_at", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"status": {"from": from_status, "to": W.CANCELLED}},
        )
        if was_offered:
            slot = _offered_slot(locked)
            transaction.on_commit(lambda: _offer_logged(**slot))
    return locked


def waitlist_accept(*, entry: WaitlistEntry, by, request=None, channel: str = Channel.API) -> Appointment:
    """Book the slot offered to `entry` (through `appointment_book`, so every booking rule holds) and close
    the entry as "accepted". Returns the new Appointment.

    Raises Conflict (409): code "no_offer" when the entry holds no offer, "offer_expired" after
    `offer_expires_at`, "slot_taken" when the slot was booked meanwhile (the entry then waits again for the
    next freed slot). ValidationError (400) if the slot no longer fits the schedule. Audited ("update"; the
    booking writes its own "create").
    """
    from .services import appointment_book  # the services import this module for `slot_freed`

    taken = None
    with transaction.atomic():
        locked = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
        if locked.status != W.OFFERED:
            raise Conflict(
                f"There is no open offer (the entry is {locked.status}).", payload={"code": "no_offer"}
            )
        if locked.offer_expires_at <= timezone.now():
            raise Conflict("The offer has expired.", payload={"code": "offer_expired"})
        try:
            appointment = appointment_book(
                patient=locked.patient,
                practitioner=locked.offered_practitioner,
                service_type=locked.offered_service_type,
                start=locked.offered_start,
                by=by,
                reason=locked.reason,
                channel=channel,
                request=request,
            )
        except Conflict as exc:
            taken = exc
            _offer_clear(locked)
            locked.status = W.WAITING
            locked.save(update_fields=[*_OFFER_FIELDS, "status", "updated_at"])
            detail = {"status": {"from": W.OFFERED, "to": W.WAITING}, "slot_taken": True}
        else:
            locked.status, locked.appointment, locked.closed_at = W.ACCEPTED, appointment, timezone.now()
            locked.save(update_fields=["status", "appointment", "closed_at", "updated_at"])
            detail = {"status": {"from": W.OFFERED, "to": W.ACCEPTED}, "appointment": appointment.pk}
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail=detail,
        )
    if taken is not None:
        raise Conflict(
            "That slot was taken meanwhile; the patient stays on the waitlist.",
            payload={"code": "slot_taken", "conflict": taken.payload.get("conflict", "")},
        )
    return appointment


# ---------------------------------------------------------------- offers (system)

_OFFER_FIELDS = [
    "offered_practitioner",
    "offered_service_type",
    "offered_start",
    "offered_end",
    "offered_at",
    "offer_expires_at",
    "freed_by",
]


def _offer_clear(entry: WaitlistEntry) -> None:
    for name in _OFFER_FIELDS:
        setattr(entry, name, None)


def _offered_slot(entry: WaitlistEntry) -> dict:
    return {
        "practitioner": entry.offered_practitioner,
        "service_type": entry.offered_service_type,
        "start": entry.offered_start,
        "end": entry.offered_end,
        "freed_by": entry.freed_by,
    }


def _hospital_zone():
    import zoneinfo

    return zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)


def _matching(*, practitioner, service_type, start, end, zone, freed_by) -> QuerySet[WaitlistEntry]:
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local_start.date()
    target = Q(practitioner=practitioner)
    if practitioner.specialty_id:
        target |= Q(practitioner__isnull=True, specialty_id=practitioner.specialty_id)
    qs = WaitlistEntry.objects.filter(
        target,
        Q(service_type__isnull=True) | Q(service_type=service_type),
        Q(time_from__isnull=True) | Q(time_from__lte=local_start.time()),
        status=W.WAITING,
        date_from__lte=day,
        date_to__gte=day,
        patient__deleted_at__isnull=True,
    )
    if local_end.date() == day:
        qs = qs.filter(Q(time_to__isnull=True) | Q(time_to__gte=local_end.time()))
    else:
        qs = qs.filter(time_to__isnull=True)
    if freed_by is not None:
        qs = qs.exclude(patient_id=freed_by.patient_id)
    return qs.order_by("created_at", "id")


def waitlist_offer_slot(
    *,
    practitioner,
    service_type: ServiceType,
    start: dt.datetime,
    end: dt.datetime,
    freed_by: Appointment | None = None,
    now: dt.datetime | None = None,
) -> WaitlistEntry | None:
    """Offer the practitioner's free range [start, end) to the first matching waiting entry (see the module
    docstring); returns that entry, now "offered", or None when the range is past, busy (an active
    appointment within the schedule's buffer, or a live offer), or nobody matches. Audited ("update", system)
    and announced to the patient's login ("waitlist.offer")."""
    now = now or timezone.now()
    if start <= now or not practitioner.active:
        return None
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().filter(practitioner=practitioner, active=True).first()
        if schedule is None:
            return None
        buffer = dt.timedelta(minutes=schedule.buffer_minutes)
        busy = (
            Appointment.objects.active()
            .filter(practitioner=practitioner)
            .overlapping(start - buffer, end + buffer)
        )
        offered = WaitlistEntry.objects.filter(
            status=W.OFFERED, offered_practitioner=practitioner, offered_start__lt=end, offered_end__gt=start
        )
        if busy.exists() or offered.exists():
            return None
        candidates = _matching(
            practitioner=practitioner,
            service_type=service_type,
            start=start,
            end=end,
            zone=schedule_zone(schedule),
            freed_by=freed_by,
        ).select_for_update()[:MATCH_SCAN]
        for entry in candidates:
            if (
                Appointment.objects.active()
                .filter(patient_id=entry.patient_id)
                .overlapping(start, end)
                .exists()
            ):
                continue  # could not take it anyway
            minutes = int(settings.WAITLIST_OFFER_MINUTES)
            entry.status = W.OFFERED
            entry.offered_practitioner, entry.offered_service_type = practitioner, service_type
            entry.offered_start, entry.offered_end, entry.freed_by = start, end, freed_by
            entry.offered_at = now
            entry.offer_expires_at = min(now + dt.timedelta(minutes=minutes), start)
            entry.save(update_fields=[*_OFFER_FIELDS, "status", "updated_at"])
            audit_record(
                action=AuditAction.UPDATE,
                patient=entry.patient,
                obj=entry,
                channel="system",
                detail={
                    "status": {"from": W.WAITING, "to": W.OFFERED},
                    "offer": {"practitioner": practitioner.pk, "start": start.isoformat()},
                },
            )
            _announce_offer(entry)
            return entry
    return None


def _announce_offer(entry: WaitlistEntry) -> None:
    user = entry.patient.user
    if user is None or not user.is_active:
        return
    notification_send(
        recipient=user,
        event="waitlist.offer",
        context={
            "entry": entry,
            "patient": entry.patient,
            "practitioner": entry.offered_practitioner.display_name,
            "service": entry.offered_service_type.display,
            "start": entry.offered_start,
            "end": entry.offered_end,
            "offer_expires_at": entry.offer_expires_at,
        },
        dedupe_key=(
            f"waitlist:{entry.pk}:offer:{entry.offered_practitioner_id}:{int(entry.offered_start.timestamp())}"
        ),
    )


def _offer_logged(**slot) -> WaitlistEntry | None:
    try:
        return waitlist_offer_slot(**slot)
    except Exception:
        logger.exception(
            "could not offer a freed slot of practitioner %s", getattr(slot["practitioner"], "pk", None)
        )
        return None


def slot_freed(*, appointment_id: int, start=None, end=None) -> WaitlistEntry | None:
    """Called after commit when appointment `appointment_id` frees [start, end) (defaults: its own range):
    offers that range to the waitlist (`waitlist_offer_slot`). Returns the entry offered, or None. Never
    raises: a failure is logged, the cancellation itself has already committed."""
    appointment = (
        Appointment.objects.select_related("practitioner", "service_type").filter(pk=appointment_id).first()
    )
    if appointment is None:
        return None
    return _offer_logged(
        practitioner=appointment.practitioner,
        service_type=appointment.service_type,
        start=start or appointment.start,
        end=end or appointment.end,
        freed_by=appointment,
    )


def waitlist_offers_expire(*, now: dt.datetime | None = None) -> int:
    """Expire every offer past `offer_expires_at` (status "expired"; audited, system) and offer each slot,
    if still free, to the next matching entry. Returns the number of new offers made."""
    now = now or timezone.now()
    due = list(
        WaitlistEntry.objects.filter(status=W.OFFERED, offer_expires_at__lte=now)
        .order_by("offer_expires_at", "id")
        .values_list("pk", flat=True)[:500]
    )
    reoffered = 0
    for pk in due:
        with transaction.atomic():
            entry = (
                WaitlistEntry.objects.select_for_update()
                .filter(pk=pk, status=W.OFFERED, offer_expires_at__lte=now)
                .first()
            )
            if entry is None:
                continue
            entry.status, entry.closed_at = W.EXPIRED, now
            entry.save(update_fields=["status", "closed_at", "updated_at"])
            audit_record(
                action=AuditAction.UPDATE,
                patient=entry.patient,
                obj=entry,
                channel="system",
                detail={"status": {"from": W.OFFERED, "to": W.EXPIRED}},
            )
            slot = _offered_slot(entry)
        if _offer_logged(**slot, now=now) is not None:
            reoffered += 1
    return reoffered


def waitlist_sweep(*, now: dt.datetime, offsets=None) -> int:
    """Reminder provider (registered in `SchedulingConfig.ready()`; the beat calls it with the reminders):
    expires stale offers and passes their slots on. Returns the number of new offers."""
    return waitlist_offers_expire(now=now)
