"""Writes of appointments: book, reschedule, cancel, and the status transitions.

Each runs in one transaction with its AuditEvent and `AppointmentChange`, and announces itself through
`notifications.appointment_notify_later` after commit.

No double booking, on every database: the practitioner's `Schedule` row is locked (`select_for_update`)
before the overlap checks, which serialises the bookings of one practitioner (SQLite's IMMEDIATE
transactions serialise every write). On PostgreSQL the exclusion constraints of migration 0002 are the last
line (also for the same patient or resource booked concurrently with two practitioners): their violation
becomes `Conflict` (409) too.

Errors: `ValidationError` (400, field errors) for broken rules and invalid transitions; `Conflict` (409)
for an overlap.
"""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict
from hms.frontdesk.hooks import appointment_status_changed

from .availability import ScheduleCalendar, schedule_zone
from .models import (
    Appointment,
    AppointmentChange,
    AppointmentStatus,
    BookableResource,
    ChangeKind,
    Channel,
    Schedule,
    ServiceType,
    overlaps_q,
)
from .notifications import appointment_notify_later
from .waitlist import slot_freed

S = AppointmentStatus
# status -> (action name, statuses it may be applied from)
TRANSITIONS: dict[str, tuple[str, frozenset[str]]] = {
    S.BOOKED: ("confirm", frozenset({S.PROPOSED, S.PENDING})),
    S.ARRIVED: ("check_in", frozenset({S.BOOKED})),
    S.IN_PROGRESS: ("start", frozenset({S.ARRIVED})),
    S.FULFILLED: ("complete", frozenset({S.IN_PROGRESS})),
    S.NOSHOW: ("no_show", frozenset({S.BOOKED, S.PENDING})),
    # arrived: the patient left after check-in; the front desk takes them out of the queue.
    S.CANCELLED: ("cancel", frozenset({S.PROPOSED, S.PENDING, S.BOOKED, S.ARRIVED})),
}
MOVABLE = frozenset({S.PROPOSED, S.PENDING, S.BOOKED})
BOOKABLE_STATUSES = frozenset({S.PROPOSED, S.PENDING, S.BOOKED})


def _notify(appointment: Appointment, event: str) -> None:
    pk = appointment.pk
    transaction.on_commit(lambda: appointment_notify_later(appointment_id=pk, event=event))


def _lock_schedule(*, practitioner=None, resource=None) -> Schedule | None:
    """Lock and return the active schedule of the practitioner (or resource); None when it has none."""
    qs = Schedule.objects.select_for_update().filter(active=True)
    qs = qs.filter(practitioner=practitioner) if practitioner is not None else qs.filter(resource=resource)
    return qs.first()


def _check_booker(*, by, practitioner, channel: str) -> None:
    """Who may book what: a doctor books only into their own diary (PermissionDenied, 403; reception books
    for every doctor), and a patient books only online (`web` or `api`; phone and walk-in are the front
    desk's channels, ValidationError 400), so channel statistics stay true."""
    role = getattr(by, "role", None)
    if role == Role.DOCTOR and getattr(getattr(by, "practitioner", None), "pk", None) != practitioner.pk:
        raise PermissionDenied("A doctor can book only into their own diary; reception books for colleagues.")
    if role == Role.PATIENT and channel not in (Channel.WEB, Channel.API):
        raise ValidationError({"channel": "Patients book online: web or api."})


def _slot_end(start: dt.datetime, minutes: int) -> dt.datetime:
    """`start` + `minutes` of elapsed time (aware arithmetic in UTC: across a daylight-saving change a
    20-minute visit lasts 20 real minutes), in `start`'s zone."""
    return (start.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)).astimezone(start.tzinfo)


def _check_slot(*, schedule: Schedule, service_type: ServiceType, start: dt.datetime, field: str = "start"):
    """Raise ValidationError unless `start` is one of the schedule's grid slots for `service_type`."""
    zone = schedule_zone(schedule)
    day = start.astimezone(zone).date()
    calendar = ScheduleCalendar(schedule, day, day)
    closed = calendar.closed_by(day)
    if closed is not None:
        raise ValidationError(
            {field: f"The practitioner is not available on {day} ({closed.get_kind_display()})."}
        )
    end = _slot_end(start, service_type.default_minutes)
    windows = calendar.windows(day)
    if not any(w.start <= start and end <= w.end for w in windows):
        hours = ", ".join(f"{w.start:%H:%M}-{w.end:%H:%M}" for w in windows) or "none"
        raise ValidationError(
            {field: f"Outside the practitioner's working hours on {day} ({schedule.time_zone}: {hours})."}
        )
    grid = calendar.grid(day, minutes=service_type.default_minutes, buffer_minutes=schedule.buffer_minutes)
    if not any(s.astimezone(dt.UTC) == start.astimezone(dt.UTC) for s, _ in grid):
        raise ValidationError(
            {field: f"Not aligned to a {service_type.default_minutes}-minute slot of this schedule."}
        )


def _check_resource_open(schedule: Schedule | None, *, start: dt.datetime, end: dt.datetime) -> None:
    """Raise ValidationError (field `resource`) unless the room/equipment is open for all of [start, end).

    A resource without a schedule is always open; with one, its working hours and exceptions (e.g. an
    operating room closed for maintenance) apply. Resources have no slot grid of their own.
    """
    if schedule is None:
        return
    day = start.astimezone(schedule_zone(schedule)).date()
    calendar = ScheduleCalendar(schedule, day, day)
    closed = calendar.closed_by(day)
    if closed is not None:
        raise ValidationError(
            {"resource": f"The resource is not available on {day} ({closed.get_kind_display()})."}
        )
    if not any(w.start <= start and end <= w.end for w in calendar.windows(day)):
        raise ValidationError({"resource": f"Outside the resource's opening hours on {day}."})


def _check_free(
    *, schedule: Schedule, patient, practitioner, resource, start, end, exclude_pk: int | None = None
) -> None:
    """Raise Conflict if the practitioner (with the schedule's buffer), the patient or the resource already
    holds an active appointment overlapping [start, end) (reported in that order).

    One query for the three (an OR of the three conditions; on PostgreSQL a search of the exclusion
    constraints' GiST indexes, see `models.overlaps_q`); the rows it returns are few by construction (the
    active appointments of one practitioner, one patient or one resource never overlap each other).
    """
    buffer = dt.timedelta(minutes=schedule.buffer_minutes)
    wide_start, wide_end = start - buffer, end + buffer
    active = (
        Appointment.objects.active().exclude(pk=exclude_pk) if exclude_pk else Appointment.objects.active()
    )

    def overlapping(a, b):
        return overlaps_q(a, b, vendor=connection.vendor)

    who = (Q(practitioner_id=practitioner.pk) & overlapping(wide_start, wide_end)) | (
        Q(patient_id=patient.pk) & overlapping(start, end)
    )
    if resource is not None:
        who |= Q(resource_id=resource.pk) & overlapping(start, end)
    rows = list(
        active.filter(who)
        .order_by()
        .values_list("practitioner_id", "patient_id", "resource_id", "start", "end")
    )
    checks = [
        ("practitioner", lambda r: r[0] == practitioner.pk and r[3] < wide_end and r[4] > wide_start),
        ("patient", lambda r: r[1] == patient.pk and r[3] < end and r[4] > start),
        ("resource", lambda r: resource is not None and r[2] == resource.pk and r[3] < end and r[4] > start),
    ]
    for name, clashes in checks:
        if any(clashes(r) for r in rows):
            raise Conflict(
                f"The {name} already has an appointment at that time.",
                payload={"conflict": name, "code": "appointment_overlap"},
            )


def booking_horizon(now: dt.datetime | None = None) -> dt.datetime:
    """The latest instant one may book: now + `settings.BOOKING_HORIZON_DAYS` days (aware)."""
    return (now or timezone.now()) + dt.timedelta(days=settings.BOOKING_HORIZON_DAYS)


def horizon_last_date() -> dt.date:
    """The last local date (hospital zone) inside the booking horizon."""
    today = timezone.now().astimezone(zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)).date()
    return today + dt.timedelta(days=settings.BOOKING_HORIZON_DAYS)


def horizon_message() -> str:
    return f"Appointments can be booked at most {settings.BOOKING_HORIZON_DAYS} days ahead."


def _validate_start(start: dt.datetime, *, now: dt.datetime) -> None:
    if timezone.is_naive(start):
        raise ValidationError({"start": "Must include a time zone offset."})
    if start <= now:
        raise ValidationError({"start": "Cannot book in the past."})
    if start > booking_horizon(now):
        raise ValidationError({"start": horizon_message()})


# Foreign keys of an appointment whose rows the services already hold (loaded by the caller or with the
# locked row): `full_clean` would re-read each of them (one SELECT per key).
_LOADED_KEYS = ("patient", "practitioner", "resource", "service_type", "created_by", "cancelled_by")


def _validate(appointment: Appointment) -> None:
    """`full_clean` of an appointment about to be saved, without what is checked otherwise: the foreign
    keys name rows already loaded (and the database's foreign keys stand behind them), and the one check
    constraint (`start < end`) is tested here in Python instead of by a query (the database enforces it
    as well). Field rules (choices and blanks of status and channel, ...) are checked as before.
    ValidationError (400) when one fails."""
    appointment.full_clean(exclude=_LOADED_KEYS, validate_constraints=False)
    if not appointment.start < appointment.end:
        raise ValidationError({"end": "An appointment must end after it starts."})


def _is_overlap_violation(exc: IntegrityError) -> bool:
    return getattr(getattr(exc, "__cause__", None), "sqlstate", None) == "23P01"  # exclusion_violation


def appointment_book(
    *,
    patient,
    practitioner,
    service_type: ServiceType,
    start: dt.datetime,
    by,
    resource: BookableResource | None = None,
    reason: str = "",
    channel: str = Channel.API,
    status: str = AppointmentStatus.BOOKED,
    request=None,
) -> Appointment:
    """Book `patient` with `practitioner` for one slot of `service_type` starting at `start` (aware).

    `end` = start + `service_type.default_minutes`. Rules: not in the past; the practitioner has an active
    schedule; the slot is inside its working hours, not on leave/holiday, and aligned to the slot grid;
    `status` is proposed, pending or booked. Raises ValidationError (400) or Conflict (409) if the
    practitioner (with buffer), the patient or the resource is already busy. Audited ("create").
    """
    if status not in BOOKABLE_STATUSES:
        raise ValidationError({"status": "A new appointment is proposed, pending or booked."})
    if not service_type.active:
        raise ValidationError({"service_type": "This service is not offered."})
    if resource is not None and not resource.active:
        raise ValidationError({"resource": "This resource is not bookable."})
    _validate_start(start, now=timezone.now())
    _check_booker(by=by, practitioner=practitioner, channel=channel)
    end = _slot_end(start, service_type.default_minutes)
    try:
        with transaction.atomic():
            schedule = _lock_schedule(practitioner=practitioner)
            if schedule is None:
                raise ValidationError({"practitioner": "This practitioner has no schedule open for booking."})
            if resource is not None:
                _check_resource_open(_lock_schedule(resource=resource), start=start, end=end)
            _check_slot(schedule=schedule, service_type=service_type, start=start)
            _check_free(
                schedule=schedule,
                patient=patient,
                practitioner=practitioner,
                resource=resource,
                start=start,
                end=end,
            )
            appointment = Appointment(
                patient=patient,
                practitioner=practitioner,
                resource=resource,
                service_type=service_type,
                start=start,
                end=end,
                reason=reason,
                status=status,
                channel=channel,
                created_by=by,
            )
            _validate(appointment)
            appointment.save()
            AppointmentChange.objects.create(
                appointment=appointment,
                kind=ChangeKind.CREATED,
                changed_by=by,
                to_status=status,
                to_start=start,
                to_end=end,
            )
            audit_record(
                actor=by,
                action=AuditAction.CREATE,
                request=request,
                patient=patient,
                obj=appointment,
                detail={"start": start.isoformat(), "practitioner": practitioner.pk, "channel": channel},
            )
            _notify(appointment, "booked")
    except IntegrityError as exc:
        if _is_overlap_violation(exc):
            raise Conflict(
                "That time was just taken.", payload={"conflict": "overlap", "code": "appointment_overlap"}
            ) from None
        raise
    return appointment


def appointment_reschedule(
    *, appointment: Appointment, start: dt.datetime, by, reason: str = "", request=None
) -> Appointment:
    """Move `appointment` to a new `start` (same practitioner, service, resource; `end` follows the service
    length). Same rules as booking; only proposed, pending or booked appointments move. Leaves an
    `AppointmentChange` (from → to). Audited ("update"). Moving to the current start is a no-op: the
    appointment is returned unchanged (no history, audit or notice)."""
    if timezone.is_naive(start):
        raise ValidationError({"start": "Must include a time zone offset."})
    try:
        with transaction.atomic():
            schedule = _lock_schedule(practitioner=appointment.practitioner)
            locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
            if locked.status not in MOVABLE:
                raise ValidationError({"status": f"A {locked.status} appointment cannot be moved."})
            if locked.start == start:
                return locked
            _validate_start(start, now=timezone.now())
            if schedule is None:
                raise ValidationError({"practitioner": "This practitioner has no schedule open for booking."})
            service_type = locked.service_type
            end = _slot_end(start, service_type.default_minutes)
            if locked.resource_id:
                _check_resource_open(_lock_schedule(resource=locked.resource), start=start, end=end)
            _check_slot(schedule=schedule, service_type=service_type, start=start)
            _check_free(
                schedule=schedule,
                patient=locked.patient,
                practitioner=locked.practitioner,
                resource=locked.resource,
                start=start,
                end=end,
                exclude_pk=locked.pk,
            )
            from_start, from_end = locked.start, locked.end
            locked.start, locked.end = start, end
            _validate(locked)
            locked.save(update_fields=["start", "end", "updated_at"])
            AppointmentChange.objects.create(
                appointment=locked,
                kind=ChangeKind.RESCHEDULED,
                changed_by=by,
                from_status=locked.status,
                to_status=locked.status,
                from_start=from_start,
                from_end=from_end,
                to_start=start,
                to_end=end,
                note=reason[:500],
            )
            audit_record(
                actor=by,
                action=AuditAction.UPDATE,
                request=request,
                patient=locked.patient,
                obj=locked,
                detail={"rescheduled": {"from": from_start.isoformat(), "to": start.isoformat()}},
            )
            _notify(locked, "rescheduled")
            pk = locked.pk
            transaction.on_commit(lambda: slot_freed(appointment_id=pk, start=from_start, end=from_end))
    except IntegrityError as exc:
        if _is_overlap_violation(exc):
            raise Conflict(
                "That time was just taken.", payload={"conflict": "overlap", "code": "appointment_overlap"}
            ) from None
        raise
    return locked


def _is_appointment_day(appointment: Appointment) -> bool:
    """True when today, in the practitioner's schedule's time zone (settings.HOSPITAL_TIME_ZONE when there is
    no schedule), is the local day on which `appointment` starts."""
    name = (
        Schedule.objects.filter(practitioner_id=appointment.practitioner_id)
        .values_list("time_zone", flat=True)
        .first()
    )
    zone = zoneinfo.ZoneInfo(name or settings.HOSPITAL_TIME_ZONE)
    return timezone.localdate(timezone=zone) == timezone.localtime(appointment.start, zone).date()


def _transition(
    *, appointment: Appointment, to_status: str, by, request=None, note: str = "", extra: dict | None = None
) -> Appointment:
    action, allowed_from = TRANSITIONS[to_status]
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appointment.pk)
        from_status = locked.status
        if from_status not in allowed_from:
            raise ValidationError(
                {"status": f"Cannot {action.replace('_', '-')} an appointment that is {from_status}."}
            )
        if to_status == S.ARRIVED and not _is_appointment_day(locked):
            raise ValidationError({"status": "Check-in is only possible on the day of the appointment."})
        if to_status == S.NOSHOW and timezone.now() < locked.start:
            raise ValidationError(
                {"status": "A no-show can only be recorded once the appointment has started."}
            )
        locked.status = to_status
        fields = ["status", "updated_at"]
        for name, value in (extra or {}).items():
            setattr(locked, name, value)
            fields.append(name)
        _validate(locked)
        locked.save(update_fields=fields)
        AppointmentChange.objects.create(
            appointment=locked,
            kind=ChangeKind.STATUS,
            changed_by=by,
            from_status=from_status,
            to_status=to_status,
            note=note[:500],
        )
        appointment_status_changed(appointment=locked, from_status=from_status, to_status=to_status, by=by)
        if to_status == S.CANCELLED:
            pk = locked.pk
            transaction.on_commit(lambda: slot_freed(appointment_id=pk))
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"status": {"from": from_status, "to": to_status}},
        )
        _notify(locked, to_status)
    return locked


def appointment_cancel(*, appointment: Appointment, by, reason: str, request=None) -> Appointment:
    """Cancel a proposed, pending, booked or arrived (patient left) appointment; `reason` is required.
    Flags `late_cancellation` when less than `settings.APPOINTMENT_CANCEL_NOTICE_HOURS` hours remain before
    the start. Frees the time range at once. Audited ("update")."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the appointment is cancelled."})
    now = timezone.now()
    late = appointment.start - now < dt.timedelta(hours=settings.APPOINTMENT_CANCEL_NOTICE_HOURS)
    return _transition(
        appointment=appointment,
        to_status=S.CANCELLED,
        by=by,
        request=request,
        note=reason,
        extra={
            "cancellation_reason": reason[:500],
            "cancelled_by": by,
            "cancelled_at": now,
            "late_cancellation": late,
        },
    )


def appointment_confirm(*, appointment: Appointment, by, note: str = "", request=None) -> Appointment:
    """proposed/pending → booked."""
    return _transition(appointment=appointment, to_status=S.BOOKED, by=by, note=note, request=request)


def appointment_check_in(*, appointment: Appointment, by, note: str = "", request=None) -> Appointment:
    """booked → arrived (the patient is at the front desk). Only on the appointment's own day in its
    schedule's time zone (settings.HOSPITAL_TIME_ZONE without one); otherwise ValidationError (400,
    field `status`)."""
    return _transition(appointment=appointment, to_status=S.ARRIVED, by=by, note=note, request=request)


def appointment_start(*, appointment: Appointment, by, note: str = "", request=None) -> Appointment:
    """arrived → in-progress (the consultation begins)."""
    return _transition(appointment=appointment, to_status=S.IN_PROGRESS, by=by, note=note, request=request)


def appointment_complete(*, appointment: Appointment, by, note: str = "", request=None) -> Appointment:
    """in-progress → fulfilled (completed)."""
    return _transition(appointment=appointment, to_status=S.FULFILLED, by=by, note=note, request=request)


def appointment_no_show(*, appointment: Appointment, by, note: str = "", request=None) -> Appointment:
    """booked/pending → noshow, only once the start time has passed. Frees the time range."""
    return _transition(appointment=appointment, to_status=S.NOSHOW, by=by, note=note, request=request)


def appointment_auto_assign(
    *,
    patient,
    specialty: str,
    service_type: ServiceType,
    window_start: dt.datetime,
    window_end: dt.datetime,
    by,
    reason: str = "",
    channel: str = Channel.API,
    request=None,
) -> Appointment:
    """Book the earliest free slot in [window_start, window_end) among the active doctors of `specialty`
    (SNOMED CT code or part of its name). Ties (same start) go to the doctor with the fewest active bookings
    that local day, then the lowest id. Slots overlapping an active appointment of the patient are skipped.
    If the chosen slot is taken meanwhile, the next candidate is tried. Raises ValidationError (400) for a bad
    window (also beyond `settings.BOOKING_HORIZON_DAYS`), Conflict (409) when no slot is free."""
    from hms.staff.selectors import doctors_list

    from .selectors import slots_free

    if window_end <= window_start:
        raise ValidationError({"window_end": "Must be after window_start."})
    if window_end - window_start > dt.timedelta(days=31):
        raise ValidationError({"window_end": "The window may span at most 31 days."})
    horizon = booking_horizon()
    if window_start > horizon:
        raise ValidationError({"window_start": horizon_message()})
    if window_end > horizon + dt.timedelta(minutes=service_type.default_minutes):
        raise ValidationError({"window_end": horizon_message()})
    patient_busy = list(
        Appointment.objects.active()
        .filter(patient=patient)
        .overlapping(window_start, window_end)
        .values_list("start", "end")
    )
    candidates = []
    for doctor in doctors_list(specialty=specialty).filter(schedule__active=True):
        zone = schedule_zone(doctor.schedule)
        for start, end in slots_free(
            practitioner=doctor,
            service_type=service_type,
            date_from=window_start.astimezone(zone).date(),
            date_to=window_end.astimezone(zone).date(),
        ):
            if any(b0 < end and b1 > start for b0, b1 in patient_busy):
                continue  # the patient is busy then: keep looking
            if window_start <= start and end <= window_end:
                day = start.astimezone(zone).date()
                day_start = dt.datetime.combine(day, dt.time(), tzinfo=zone)
                load = (
                    Appointment.objects.active()
                    .filter(practitioner=doctor)
                    .overlapping(day_start, day_start + dt.timedelta(days=1))
                    .count()
                )
                candidates.append((start, load, doctor.pk, doctor))
                break  # the earliest slot of each doctor is enough to rank them
    for start, _load, _pk, doctor in sorted(candidates, key=lambda c: c[:3]):
        try:
            return appointment_book(
                patient=patient,
                practitioner=doctor,
                service_type=service_type,
                start=start,
                by=by,
                reason=reason,
                channel=channel,
                request=request,
            )
        except Conflict:
            continue  # taken meanwhile (by anyone, the patient included): try the next candidate
    raise Conflict("No free slot in that window for this specialty.", payload={"code": "no_slot"})
