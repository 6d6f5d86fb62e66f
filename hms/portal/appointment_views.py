"""Appointment pages: a patient's find-a-doctor, booking, rescheduling and cancelling; the reception day
view, booking on behalf and check-in; a doctor's agenda and own schedule.

Thin: parse the request, call a selector (`hms.scheduling.selectors` through `hms.portal.booking`) or a
service (`hms.scheduling.services`, `hms.scheduling.schedule_services`), write the AuditEvent of PHI
reads, render. Service errors become friendly messages: `ValidationError` (a broken rule, 400) and
`Conflict` (the time was taken, 409) re-render the page with the reason.
"""

import datetime as dt
import zoneinfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.selectors import patient_get
from hms.scheduling import services as appointment_services
from hms.scheduling.models import (
    Appointment,
    AppointmentStatus,
    Channel,
    ExceptionKind,
    ScheduleException,
    ServiceType,
)
from hms.scheduling.schedule_services import (
    schedule_exception_add,
    schedule_exception_remove,
    schedule_for_practitioner,
    schedule_set_hours,
)
from hms.scheduling.selectors import appointment_get
from hms.staff.selectors import doctor_get

from . import booking
from .access import role_required
from .forms import BookForm, CancelForm, RescheduleForm, ScheduleExceptionForm, WorkingHoursForm

BOOKING_ROLES = (Role.PATIENT, Role.RECEPTIONIST, Role.ADMIN)
DESK_ROLES = (Role.RECEPTIONIST, Role.ADMIN)
AGENDA_ROLES = (Role.DOCTOR, Role.NURSE)
MAX_DAYS_AHEAD = 366


def error_messages(exc: Exception) -> list[str]:
    """The sentences to show for a service error (ValidationError or Conflict)."""
    if isinstance(exc, Conflict):
        return [f"{exc.message} Please pick another time."]
    if isinstance(exc, ValidationError):
        if hasattr(exc, "message_dict"):
            return [m for msgs in exc.message_dict.values() for m in msgs]
        return list(exc.messages)
    return [str(exc)]


def _parse_date(value: str | None, default: dt.date, *, request=None) -> dt.date:
    """A local date from `?date=YYYY-MM-DD`. Missing: `default`. Malformed, or more than
    `MAX_DAYS_AHEAD` days away from today (either way): refused, `booking.today()` is used instead and,
    given `request`, an error message says so (Django messages). Never raises."""
    if not value:
        return default
    shown = str(value)[:40]
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        day = None
        reason = f"“{shown}” is not a date (use YYYY-MM-DD)"
    else:
        if abs((day - booking.today()).days) > MAX_DAYS_AHEAD:
            day = None
            reason = f"{shown} is more than a year away"
    if day is None:
        if request is not None:
            messages.error(request, f"{reason}; showing today instead.")
        return booking.today()
    return day


def _service_from(code: str | None) -> ServiceType | None:
    qs = ServiceType.objects.filter(active=True)
    return (qs.filter(code=code).first() if code else None) or qs.first()


def _booking_patient(request):
    """Whom the page books for: a patient's own record; for the desk, the `patient` parameter (a patient
    they may see, else 404), or None when not chosen yet."""
    user = request.user
    if user.role == Role.PATIENT:
        own = getattr(user, "patient", None)
        if own is None or own.deleted_at is not None:
            raise PermissionDenied("Your account is not linked to a patient record yet.")
        return own
    raw = request.POST.get("patient") or request.GET.get("patient")
    if not raw:
        return None
    try:
        return patient_get(user, int(raw))
    except (TypeError, ValueError):
        raise Http404() from None


def _audit_patient_read(request, patient, view: str, obj=None):
    if patient is not None and request.user.role != Role.PATIENT:
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=patient,
            obj=obj,
            channel="web",
            detail={"view": view},
        )


def _doctor(pk) -> object:
    try:
        return doctor_get(int(pk))
    except (TypeError, ValueError, OverflowError):
        raise Http404() from None


# ---------------------------------------------------------------- patient portal and booking


@role_required(*BOOKING_ROLES)
def find_doctor(request):
    """/appointments/find/?specialty=&service=&date=[&patient=]: doctors of a specialty with their next
    free slots over two weeks from `date`. The desk picks the patient first (search as you type)."""
    patient = _booking_patient(request)
    service = _service_from(request.GET.get("service"))
    day = max(_parse_date(request.GET.get("date"), booking.today(), request=request), booking.today())
    specialty = (request.GET.get("specialty") or "").strip()[:100]
    results = None
    if service is not None and (patient is not None or request.user.role == Role.PATIENT):
        results = booking.doctors_with_slots(specialty=specialty, service_type=service, date_from=day)
    _audit_patient_read(request, patient, "find_doctor")
    context = {
        "patient": patient,
        "service": service,
        "services": booking.service_types(),
        "specialties": booking.specialties_bookable(),
        "specialty": specialty,
        "day": day,
        "today": booking.today(),
        "results": results,
        "days_ahead": booking.FIND_DAYS_AHEAD,
        "for_desk": request.user.role != Role.PATIENT,
    }
    if request.htmx and request.GET.get("partial") == "results":
        return render(request, "portal/appointments/_doctor_results.html", context)
    return render(request, "portal/appointments/find.html", context)


@role_required(*BOOKING_ROLES)
def doctor_slots(request, pk: int):
    """/appointments/doctors/<pk>/?date=&service=[&patient=]: every free slot of one doctor on one day,
    with the previous/next day. htmx requests get the slot grid only."""
    doctor = _doctor(pk)
    patient = _booking_patient(request)
    if patient is None:
        return redirect(reverse("portal:find_doctor"))
    service = _service_from(request.GET.get("service"))
    if service is None:
        raise Http404()
    day = max(_parse_date(request.GET.get("date"), booking.today(), request=request), booking.today())
    slots = booking.slots_of_day(practitioner=doctor, service_type=service, day=day)
    _audit_patient_read(request, patient, "doctor_slots")
    context = {
        "doctor": doctor,
        "patient": patient,
        "service": service,
        "services": booking.service_types(),
        "day": day,
        "today": booking.today(),
        "prev_day": day - dt.timedelta(days=1) if day > booking.today() else None,
        "next_day": day + dt.timedelta(days=1),
        "slots": slots,
        "for_desk": request.user.role != Role.PATIENT,
    }
    if request.htmx:
        return render(request, "portal/appointments/_slots.html", context)
    return render(request, "portal/appointments/slots.html", context)


@role_required(*BOOKING_ROLES)
def book(request):
    """/appointments/book/: GET ?practitioner=&service=&start=[&patient=] shows the slot and asks for the
    reason; POST books it through `appointment_book`. Errors (slot taken, outside hours) are shown."""
    patient = _booking_patient(request)
    if patient is None:
        return redirect(reverse("portal:find_doctor"))
    for_desk = request.user.role != Role.PATIENT
    form = BookForm(request.POST or request.GET or None)
    errors: list[str] = []
    doctor = service = start = None
    if form.is_bound and form.is_valid():
        doctor = _doctor(form.cleaned_data["practitioner"])
        service = ServiceType.objects.filter(code=form.cleaned_data["service"], active=True).first()
        start = form.cleaned_data["start"]
        if service is None:
            errors.append("This service is not offered.")
    elif form.is_bound:
        errors.append("That slot link is not valid any more. Please pick a time again.")
    if request.method == "POST" and not errors and form.is_valid():
        channel = Channel.WEB
        if for_desk:
            channel = Channel.WALK_IN if form.cleaned_data["channel"] == "walk-in" else Channel.PHONE
        try:
            appointment = appointment_services.appointment_book(
                patient=patient,
                practitioner=doctor,
                service_type=service,
                start=start,
                by=request.user,
                reason=form.cleaned_data["reason"],
                channel=channel,
                request=request,
            )
        except (ValidationError, Conflict) as exc:
            errors += error_messages(exc)
        else:
            when = appointment.start.astimezone(booking.hospital_zone())
            messages.success(
                request,
                f"Booked: {doctor.display_name}, {when:%A %-d %B %Y at %H:%M}. A confirmation is on its way.",
            )
            if for_desk:
                return redirect(f"{reverse('portal:reception_day')}?{urlencode({'date': when.date()})}")
            return redirect(reverse("portal:my_appointments"))
    _audit_patient_read(request, patient, "book")
    context = {
        "form": form,
        "errors": errors,
        "patient": patient,
        "doctor": doctor,
        "service": service,
        "start": start,
        "end": start + dt.timedelta(minutes=service.default_minutes) if start and service else None,
        "for_desk": for_desk,
    }
    return render(request, "portal/appointments/book.html", context, status=400 if errors else 200)


@role_required(Role.PATIENT, redirect_home=True)
def my_appointments(request):
    """/appointments/: the signed-in patient's upcoming and past appointments (one "search" AuditEvent)."""
    own = getattr(request.user, "patient", None)
    upcoming, past = booking.patient_appointments(request.user) if own is not None else ([], [])
    audit_record(
        action=AuditAction.SEARCH,
        request=request,
        patients=[own] if own is not None else [],
        channel="web",
        detail={"view": "my_appointments", "returned": len(upcoming) + len(past)},
    )
    return render(
        request, "portal/appointments/mine.html", {"patient": own, "upcoming": upcoming, "past": past}
    )


def _back_url(request, appointment) -> str:
    if request.user.role == Role.PATIENT:
        return reverse("portal:my_appointments")
    day = appointment.start.astimezone(booking.hospital_zone()).date()
    return f"{reverse('portal:reception_day')}?{urlencode({'date': day})}"


@role_required(*BOOKING_ROLES)
def reschedule(request, pk: int):
    """/appointments/<pk>/reschedule/?date=: the free slots of the same doctor and service on one day;
    POST `start` moves the appointment through `appointment_reschedule` (history kept)."""
    appointment = appointment_get(request.user, pk)
    errors: list[str] = []
    if appointment.status not in appointment_services.MOVABLE:
        errors.append(f"This appointment is {appointment.get_status_display().lower()} and cannot be moved.")
    if request.method == "POST" and not errors:
        form = RescheduleForm(request.POST)
        if not form.is_valid():
            errors.append("Pick one of the free times.")
        else:
            try:
                moved = appointment_services.appointment_reschedule(
                    appointment=appointment,
                    start=form.cleaned_data["start"],
                    by=request.user,
                    request=request,
                )
            except (ValidationError, Conflict) as exc:
                errors += error_messages(exc)
            else:
                when = moved.start.astimezone(booking.hospital_zone())
                messages.success(request, f"Moved to {when:%A %-d %B %Y at %H:%M}.")
                return redirect(_back_url(request, moved))
    default_day = max(appointment.start.astimezone(booking.hospital_zone()).date(), booking.today())
    day = max(_parse_date(request.GET.get("date"), default_day, request=request), booking.today())
    slots = booking.slots_of_day(
        practitioner=appointment.practitioner, service_type=appointment.service_type, day=day
    )
    audit_record(
        action=AuditAction.READ,
        request=request,
        patient=appointment.patient,
        obj=appointment,
        channel="web",
        detail={"view": "reschedule"},
    )
    context = {
        "appointment": appointment,
        "errors": errors,
        "day": day,
        "today": booking.today(),
        "prev_day": day - dt.timedelta(days=1) if day > booking.today() else None,
        "next_day": day + dt.timedelta(days=1),
        "slots": slots,
        "back_url": _back_url(request, appointment),
    }
    if request.htmx and request.method == "GET":
        return render(request, "portal/appointments/_reschedule_slots.html", context)
    return render(request, "portal/appointments/reschedule.html", context, status=400 if errors else 200)


@role_required(*BOOKING_ROLES)
def cancel(request, pk: int):
    """/appointments/<pk>/cancel/: asks for the reason; POST cancels through `appointment_cancel` (a late
    cancellation is flagged by the service and said here)."""
    appointment = appointment_get(request.user, pk)
    form = CancelForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            done = appointment_services.appointment_cancel(
                appointment=appointment, by=request.user, reason=form.cleaned_data["reason"], request=request
            )
        except (ValidationError, Conflict) as exc:
            errors += error_messages(exc)
        else:
            note = " (less than the notice period before the start: recorded as a late cancellation)"
            messages.success(
                request, "Appointment cancelled" + (note if done.late_cancellation else "") + "."
            )
            return redirect(_back_url(request, done))
    audit_record(
        action=AuditAction.READ,
        request=request,
        patient=appointment.patient,
        obj=appointment,
        channel="web",
        detail={"view": "cancel"},
    )
    context = {
        "appointment": appointment,
        "form": form,
        "errors": errors,
        "back_url": _back_url(request, appointment),
    }
    return render(request, "portal/appointments/cancel.html", context, status=400 if errors else 200)


# ---------------------------------------------------------------- reception


@role_required(*DESK_ROLES)
def reception_day(request):
    """/reception/day/?date=: every doctor as a column with the day's appointments (time, patient,
    status) and a check-in button. One "search" AuditEvent listing the patients shown."""
    day = _parse_date(request.GET.get("date"), booking.today(), request=request)
    columns = booking.reception_day(request.user, day)
    shown = {a.patient_id for c in columns for a in c.appointments}
    audit_record(
        action=AuditAction.SEARCH,
        request=request,
        patients=sorted(shown),
        channel="web",
        detail={"view": "reception_day", "date": day.isoformat()},
    )
    context = {
        "day": day,
        "today": booking.today(),
        "prev_day": day - dt.timedelta(days=1),
        "next_day": day + dt.timedelta(days=1),
        "columns": columns,
        "total": sum(len(c.appointments) for c in columns),
        "checkin_status": AppointmentStatus.BOOKED,
    }
    return render(request, "portal/appointments/reception_day.html", context)


@require_POST
@role_required(*DESK_ROLES)
def check_in(request, pk: int):
    """POST /reception/appointments/<pk>/check-in/: booked → arrived through `appointment_check_in`."""
    appointment = appointment_get(request.user, pk)
    try:
        appointment_services.appointment_check_in(appointment=appointment, by=request.user, request=request)
    except (ValidationError, Conflict) as exc:
        messages.error(request, " ".join(error_messages(exc)))
    else:
        messages.success(request, f"{appointment.patient.full_name} checked in.")
    return redirect(_back_url(request, appointment))


# ---------------------------------------------------------------- doctor


@role_required(*AGENDA_ROLES)
def agenda(request):
    """/doctor/agenda/?date=&view=day|week: the clinician's own appointments of one day or of the
    Monday-Sunday week holding `date`, with statuses. One "search" AuditEvent."""
    day = _parse_date(request.GET.get("date"), booking.today(), request=request)
    week = request.GET.get("view") == "week"
    if week:
        first = day - dt.timedelta(days=day.weekday())
        last, step = first + dt.timedelta(days=6), dt.timedelta(days=7)
    else:
        first = last = day
        step = dt.timedelta(days=1)
    days = booking.agenda(request.user, first, last)
    shown = {a.patient_id for d in days for a in d.appointments}
    audit_record(
        action=AuditAction.SEARCH,
        request=request,
        patients=sorted(shown),
        channel="web",
        detail={"view": "agenda", "from": first.isoformat(), "to": last.isoformat()},
    )
    context = {
        "days": days,
        "week": week,
        "day": day,
        "first": first,
        "last": last,
        "today": booking.today(),
        "prev_day": day - step,
        "next_day": day + step,
        "total": sum(len(d.appointments) for d in days),
    }
    return render(request, "portal/appointments/agenda.html", context)


def _own_schedule(request):
    practitioner = getattr(request.user, "practitioner", None)
    if practitioner is None:
        raise PermissionDenied("Your account is not linked to a practitioner.")
    return schedule_for_practitioner(practitioner=practitioner)


@role_required(Role.DOCTOR)
def my_schedule(request):
    """/doctor/schedule/: edit my weekly hours and buffer (POST → `schedule_set_hours`), list my upcoming
    exceptions with a form to add one."""
    schedule = _own_schedule(request)
    if request.method == "POST":
        form = WorkingHoursForm(request.POST)
        if form.is_valid():
            try:
                schedule_set_hours(
                    schedule=schedule,
                    hours=form.cleaned_data["hours"],
                    buffer_minutes=form.cleaned_data["buffer_minutes"],
                    by=request.user,
                    request=request,
                )
            except ValidationError as exc:
                for msg in error_messages(exc):
                    form.add_error(None, msg)
            else:
                messages.success(request, "Working hours saved. New bookings follow them.")
                return redirect(reverse("portal:my_schedule"))
    else:
        form = WorkingHoursForm(initial=WorkingHoursForm.initial_for(schedule))
    return _schedule_page(request, schedule, form=form, exception_form=ScheduleExceptionForm())


def _schedule_page(request, schedule, *, form, exception_form, status=200):
    exceptions = list(schedule.exceptions.filter(date_to__gte=booking.today()).order_by("date_from", "id"))
    context = {"schedule": schedule, "form": form, "exception_form": exception_form, "exceptions": exceptions}
    return render(request, "portal/appointments/schedule.html", context, status=status)


def _booked_during(exception: ScheduleException) -> int:
    """How many active (not cancelled, no-show or in error) appointments of the schedule's practitioner
    start on the days of a leave or holiday `exception` (wall-clock days in the schedule's time zone);
    0 for an extra clinic."""
    if exception.kind == ExceptionKind.EXTRA:
        return 0
    schedule = exception.schedule
    zone = zoneinfo.ZoneInfo(schedule.time_zone)
    start = dt.datetime.combine(exception.date_from, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(exception.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return (
        Appointment.objects.active()
        .filter(practitioner_id=schedule.practitioner_id, start__gte=start, start__lt=end)
        .count()
    )


@require_POST
@role_required(Role.DOCTOR)
def my_schedule_exception_add(request):
    """POST /doctor/schedule/exceptions/: add a leave, holiday or extra clinic (`schedule_exception_add`)."""
    schedule = _own_schedule(request)
    exception_form = ScheduleExceptionForm(request.POST)
    if exception_form.is_valid():
        data = exception_form.cleaned_data
        try:
            exception = schedule_exception_add(schedule=schedule, by=request.user, request=request, **data)
        except ValidationError as exc:
            for msg in error_messages(exc):
                exception_form.add_error(None, msg)
        else:
            messages.success(request, "Exception added.")
            booked = _booked_during(exception)
            if booked:
                plural = "appointment falls" if booked == 1 else "appointments fall"
                messages.warning(
                    request,
                    f"{booked} booked {plural} in this {exception.get_kind_display().lower()} "
                    f"({exception.date_from} to {exception.date_to}). They are NOT cancelled: "
                    "reschedule or cancel them from the agenda.",
                )
            return redirect(reverse("portal:my_schedule"))
    form = WorkingHoursForm(initial=WorkingHoursForm.initial_for(schedule))
    return _schedule_page(request, schedule, form=form, exception_form=exception_form, status=400)


@require_POST
@role_required(Role.DOCTOR)
def my_schedule_exception_remove(request, pk: int):
    """POST /doctor/schedule/exceptions/<pk>/remove/: remove one of MY exceptions (another's: 404)."""
    schedule = _own_schedule(request)
    exception = ScheduleException.objects.filter(pk=pk, schedule=schedule).first()
    if exception is None:
        raise NotFoundOrForbidden()
    schedule_exception_remove(exception=exception, by=request.user, request=request)
    messages.success(request, "Exception removed.")
    return redirect(reverse("portal:my_schedule"))
