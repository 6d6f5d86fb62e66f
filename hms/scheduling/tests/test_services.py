"""Booking rules, transitions, slots and automatic assignment, through the real services."""

import datetime as dt
import itertools
import zoneinfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.errors import Conflict
from hms.core.testing import PatientFactory, make_user
from hms.scheduling import services
from hms.scheduling.models import (
    Appointment,
    AppointmentStatus,
    BookableResource,
    ExceptionKind,
    ResourceKind,
    Schedule,
    ScheduleException,
)
from hms.scheduling.selectors import slots_free

from .conftest import at, give_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def booker(receptionist):
    return receptionist


def book(doctor_user, patient, service, start, by, **kwargs):
    return services.appointment_book(
        patient=patient,
        practitioner=doctor_user.practitioner,
        service_type=service,
        start=start,
        by=by,
        **kwargs,
    )


def test_book_creates_appointment_with_history_and_audit(sched_doctor, a_patient, consult, monday, booker):
    appt = book(sched_doctor, a_patient, consult, at(monday, "09:20"), booker, reason="chest pain")
    assert appt.status == AppointmentStatus.BOOKED
    assert appt.end - appt.start == dt.timedelta(minutes=20)
    assert appt.changes.get().kind == "created"
    event = AuditEvent.objects.get(object_type="scheduling.Appointment", object_id=str(appt.pk))
    assert (event.action, event.patient_id, event.actor_id) == ("create", a_patient.pk, booker.pk)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("12:00", "working hours"),  # lunch break
        ("16:50", "working hours"),  # 16:50 + 20 min runs past 17:00
        ("07:00", "working hours"),
        ("09:05", "aligned"),
    ],
)
def test_book_outside_hours_or_misaligned_is_400(
    sched_doctor, a_patient, consult, monday, booker, when, message
):
    with pytest.raises(ValidationError) as err:
        book(sched_doctor, a_patient, consult, at(monday, when), booker)
    assert message in str(err.value.message_dict["start"])
    assert not Appointment.objects.exists()


def test_book_in_the_past_weekend_and_leave_are_400(sched_doctor, a_patient, consult, monday, booker):
    with pytest.raises(ValidationError, match="past"):
        book(sched_doctor, a_patient, consult, timezone.now() - dt.timedelta(hours=1), booker)
    with pytest.raises(ValidationError, match="working hours"):
        book(sched_doctor, a_patient, consult, at(monday - dt.timedelta(days=1), "09:00"), booker)
    ScheduleException.objects.create(
        schedule=sched_doctor.practitioner.schedule,
        kind=ExceptionKind.LEAVE,
        date_from=monday,
        date_to=monday,
    )
    with pytest.raises(ValidationError, match="not available"):
        book(sched_doctor, a_patient, consult, at(monday, "09:00"), booker)


def test_extra_clinic_opens_a_saturday(sched_doctor, a_patient, consult, monday, booker):
    saturday = monday + dt.timedelta(days=5)
    ScheduleException.objects.create(
        schedule=sched_doctor.practitioner.schedule,
        kind=ExceptionKind.EXTRA,
        date_from=saturday,
        date_to=saturday,
        start_time=dt.time(10),
        end_time=dt.time(11),
    )
    slots = slots_free(
        practitioner=sched_doctor.practitioner, service_type=consult, date_from=saturday, date_to=saturday
    )
    assert [s.strftime("%H:%M") for s, _ in slots] == ["10:00", "10:20", "10:40"]
    assert book(sched_doctor, a_patient, consult, at(saturday, "10:40"), booker).pk


def test_overlaps_of_practitioner_patient_and_resource_are_409(
    sched_doctor, consult, monday, booker, cardiology
):
    first, second = PatientFactory(), PatientFactory()
    room = BookableResource.objects.create(kind=ResourceKind.ROOM, name="Echo room")
    book(sched_doctor, first, consult, at(monday, "09:00"), booker, resource=room)
    with pytest.raises(Conflict) as err:
        book(sched_doctor, second, consult, at(monday, "09:00"), booker)
    assert err.value.payload["conflict"] == "practitioner"

    other = make_user(Role.DOCTOR)
    give_schedule(other.practitioner)
    with pytest.raises(Conflict) as err:
        book(other, first, consult, at(monday, "09:00"), booker)
    assert err.value.payload["conflict"] == "patient"
    with pytest.raises(Conflict) as err:
        book(other, second, consult, at(monday, "09:00"), booker, resource=room)
    assert err.value.payload["conflict"] == "resource"
    assert Appointment.objects.count() == 1


def test_buffer_spaces_the_grid_and_blocks_neighbours(a_patient, consult, monday, booker):
    doctor = make_user(Role.DOCTOR)
    give_schedule(doctor.practitioner, ranges=(("09:00", "10:30"),), buffer_minutes=10)
    slots = slots_free(
        practitioner=doctor.practitioner, service_type=consult, date_from=monday, date_to=monday
    )
    assert [s.strftime("%H:%M") for s, _ in slots] == ["09:00", "09:30", "10:00"]
    book(doctor, a_patient, consult, at(monday, "09:30"), booker)
    slots = slots_free(
        practitioner=doctor.practitioner, service_type=consult, date_from=monday, date_to=monday
    )
    assert [s.strftime("%H:%M") for s, _ in slots] == ["09:00", "10:00"]


def test_slots_leave_out_breaks_bookings_and_the_past(sched_doctor, a_patient, consult, monday, booker):
    book(sched_doctor, a_patient, consult, at(monday, "09:20"), booker)
    slots = slots_free(
        practitioner=sched_doctor.practitioner, service_type=consult, date_from=monday, date_to=monday
    )
    times = [s.strftime("%H:%M") for s, _ in slots]
    assert times[:3] == ["09:00", "09:40", "10:00"]
    assert "12:00" not in times and "13:00" in times and times[-1] == "16:40"
    assert len(times) == 9 - 1 + 12
    assert all(s.tzinfo is not None and s.utcoffset() == at(monday, "09:00").utcoffset() for s, _ in slots)
    now = at(monday, "16:10")
    late = slots_free(
        practitioner=sched_doctor.practitioner,
        service_type=consult,
        date_from=monday,
        date_to=monday,
        now=now,
    )
    assert [s.strftime("%H:%M") for s, _ in late] == ["16:20", "16:40"]


def _nth_sunday(year: int, month: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(6 - first.weekday()) % 7 + 7 * (n - 1))


@pytest.mark.parametrize("which", ["spring-forward", "fall-back"])
def test_dst_days_keep_the_same_local_slots(consult, which):
    """A 09:00-12:00 Sunday clinic gives the same 9 local slots on a DST change day as a week before."""
    year = timezone.now().year + 1
    day = _nth_sunday(year, 3, 2) if which == "spring-forward" else _nth_sunday(year, 11, 1)
    doctor = make_user(Role.DOCTOR)
    give_schedule(doctor.practitioner, weekdays=(7,), ranges=(("09:00", "12:00"),))
    before = day - dt.timedelta(days=7)
    slots = slots_free(practitioner=doctor.practitioner, service_type=consult, date_from=before, date_to=day)
    by_day = {}
    for start, end in slots:
        by_day.setdefault(start.date(), []).append(start.strftime("%H:%M"))
        assert end - start == dt.timedelta(minutes=20)
    expected = ["09:00", "09:20", "09:40", "10:00", "10:20", "10:40", "11:00", "11:20", "11:40"]
    assert by_day == {before: expected, day: expected}
    assert len({s for s, _ in slots}) == len(slots)
    assert slots[-1][0].utcoffset() != slots[0][0].utcoffset()  # the offset really changed


def test_night_clinic_across_spring_forward_loses_only_the_missing_hour(consult):
    year = timezone.now().year + 1
    day = _nth_sunday(year, 3, 2)
    doctor = make_user(Role.DOCTOR)
    give_schedule(doctor.practitioner, weekdays=(7,), ranges=(("01:00", "04:00"),))
    slots = slots_free(practitioner=doctor.practitioner, service_type=consult, date_from=day, date_to=day)
    times = [s.strftime("%H:%M") for s, _ in slots]
    assert times == ["01:00", "01:20", "01:40", "03:00", "03:20", "03:40"]


def test_night_clinic_across_fall_back_has_no_duplicate(consult):
    """00:00-03:00 local on the fall-back day lasts 4 real hours (01:00-02:00 happens twice): 12 distinct
    20-minute slots in elapsed time, none overlapping."""
    year = timezone.now().year + 1
    day = _nth_sunday(year, 11, 1)
    doctor = make_user(Role.DOCTOR)
    give_schedule(doctor.practitioner, weekdays=(7,), ranges=(("00:00", "03:00"),))
    slots = slots_free(practitioner=doctor.practitioner, service_type=consult, date_from=day, date_to=day)
    starts = [s for s, _ in slots]
    assert len(starts) == len(set(starts)) == 12
    assert all(b - a >= dt.timedelta(minutes=20) for a, b in itertools.pairwise(starts))


def test_cancel_frees_the_slot_and_flags_late(sched_doctor, a_patient, consult, monday, booker):
    appt = book(sched_doctor, a_patient, consult, at(monday, "09:00"), booker)
    with pytest.raises(ValidationError):
        services.appointment_cancel(appointment=appt, by=booker, reason="  ")
    cancelled = services.appointment_cancel(appointment=appt, by=booker, reason="feeling better")
    assert cancelled.status == "cancelled" and cancelled.cancelled_by == booker
    assert cancelled.late_cancellation is False
    again = book(sched_doctor, PatientFactory(), consult, at(monday, "09:00"), booker)
    with override_settings(APPOINTMENT_CANCEL_NOTICE_HOURS=24 * 30):
        assert services.appointment_cancel(appointment=again, by=booker, reason="x").late_cancellation
    with pytest.raises(ValidationError, match="Cannot cancel"):
        services.appointment_cancel(appointment=again, by=booker, reason="twice")


def test_transition_table(sched_doctor, a_patient, consult, monday, booker, appointment_day):
    appt = book(sched_doctor, a_patient, consult, at(monday, "09:00"), booker, status="pending")
    appointment_day.arrive()
    with pytest.raises(ValidationError, match="Cannot check-in"):
        services.appointment_check_in(appointment=appt, by=booker)
    by = sched_doctor
    for step, expected in [
        (services.appointment_confirm, "booked"),
        (services.appointment_check_in, "arrived"),
        (services.appointment_start, "in-progress"),
        (services.appointment_complete, "fulfilled"),
    ]:
        appt = step(appointment=appt, by=by)
        assert appt.status == expected
    assert appt.fhir_status == "fulfilled"
    assert [c.to_status for c in appt.changes.all()] == [
        "pending",
        "booked",
        "arrived",
        "in-progress",
        "fulfilled",
    ]
    with pytest.raises(ValidationError):
        services.appointment_cancel(appointment=appt, by=by, reason="too late")


def test_no_show_only_after_start(sched_doctor, a_patient, consult, monday, booker):
    appt = book(sched_doctor, a_patient, consult, at(monday, "09:00"), booker)
    with pytest.raises(ValidationError, match="no-show"):
        services.appointment_no_show(appointment=appt, by=booker)
    Appointment.objects.filter(pk=appt.pk).update(
        start=timezone.now() - dt.timedelta(minutes=30), end=timezone.now() - dt.timedelta(minutes=10)
    )
    assert services.appointment_no_show(appointment=appt, by=booker).status == "noshow"


def test_reschedule_moves_and_keeps_history(sched_doctor, a_patient, consult, monday, booker):
    appt = book(sched_doctor, a_patient, consult, at(monday, "09:00"), booker)
    book(sched_doctor, PatientFactory(), consult, at(monday, "10:00"), booker)
    with pytest.raises(Conflict):
        services.appointment_reschedule(appointment=appt, start=at(monday, "10:00"), by=booker)
    with pytest.raises(ValidationError):
        services.appointment_reschedule(appointment=appt, start=at(monday, "12:20"), by=booker)
    moved = services.appointment_reschedule(appointment=appt, start=at(monday, "09:20"), by=booker)
    assert moved.start == at(monday, "09:20") and moved.end == at(monday, "09:40")
    change = moved.changes.get(kind="rescheduled")
    assert (change.from_start, change.to_start) == (at(monday, "09:00"), at(monday, "09:20"))
    # moving onto its own old neighbourhood is fine: the appointment does not clash with itself
    assert (
        services.appointment_reschedule(appointment=moved, start=at(monday, "09:00"), by=booker).pk == appt.pk
    )


def test_auto_assign_earliest_then_least_loaded(consult, cardiology, monday, booker):
    busy, idle = make_user(Role.DOCTOR), make_user(Role.DOCTOR)
    for user in (busy, idle):
        user.practitioner.specialty = cardiology
        user.practitioner.save()
        give_schedule(user.practitioner)
    book(busy, PatientFactory(), consult, at(monday, "11:00"), booker)
    patient = PatientFactory()
    appt = services.appointment_auto_assign(
        patient=patient,
        specialty=cardiology.code,
        service_type=consult,
        window_start=at(monday, "09:00"),
        window_end=at(monday, "12:00"),
        by=booker,
    )
    assert (appt.practitioner_id, appt.start) == (idle.practitioner.pk, at(monday, "09:00"))
    second = services.appointment_auto_assign(
        patient=PatientFactory(),
        specialty="cardio",
        service_type=consult,
        window_start=at(monday, "09:00"),
        window_end=at(monday, "12:00"),
        by=booker,
    )
    assert (second.practitioner_id, second.start) == (busy.practitioner.pk, at(monday, "09:00"))
    with pytest.raises(Conflict):
        services.appointment_auto_assign(
            patient=PatientFactory(),
            specialty="cardio",
            service_type=consult,
            window_start=at(monday, "12:00"),
            window_end=at(monday, "13:00"),
            by=booker,
        )


def test_an_appointment_puts_the_patient_in_the_doctors_care(sched_doctor, a_patient, consult, monday):
    """A booked appointment alone lets the doctor find the patient and open the chart (issue 2 §8)."""
    from django.test import Client

    from hms.patients.selectors import patients_visible
    from hms.scheduling.services import appointment_book

    assert not patients_visible(sched_doctor).filter(pk=a_patient.pk).exists()
    appointment_book(
        patient=a_patient,
        practitioner=sched_doctor.practitioner,
        service_type=consult,
        start=at(monday, "09:00"),
        by=sched_doctor,
    )
    assert patients_visible(sched_doctor).filter(pk=a_patient.pk).exists()
    browser = Client()
    browser.force_login(sched_doctor)
    assert browser.get(f"/patients/{a_patient.pk}/").status_code == 200


def test_a_room_with_its_own_schedule_is_booked_only_when_open(sched_doctor, a_patient, consult, monday):
    """An ultrasound room open 09:00-10:00 takes a 09:00 booking and refuses 11:00 (field `resource`)."""
    from hms.scheduling.models import BookableResource, ResourceKind, Schedule, WorkingHours
    from hms.scheduling.services import appointment_book

    room = BookableResource.objects.create(kind=ResourceKind.EQUIPMENT, name="Ultrasound 1")
    schedule = Schedule.objects.create(resource=room, time_zone="America/New_York")
    WorkingHours.objects.create(
        schedule=schedule, weekday=monday.isoweekday(), start_time=dt.time(9), end_time=dt.time(10)
    )
    booked = appointment_book(
        patient=a_patient,
        practitioner=sched_doctor.practitioner,
        service_type=consult,
        start=at(monday, "09:00"),
        by=sched_doctor,
        resource=room,
    )
    assert booked.resource == room
    with pytest.raises(ValidationError) as refused:
        appointment_book(
            patient=PatientFactory(),
            practitioner=sched_doctor.practitioner,
            service_type=consult,
            start=at(monday, "11:00"),
            by=sched_doctor,
            resource=room,
        )
    assert "resource" in refused.value.message_dict


def test_check_in_only_on_the_day_in_the_schedules_time_zone(a_patient, consult, monday, booker):
    """09:00 Monday in Tokyo is 19:00 Sunday in New York: the Tokyo day counts, not the hospital's."""
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    doctor = make_user(Role.DOCTOR)
    give_schedule(doctor.practitioner, time_zone="Asia/Tokyo")
    appt = book(doctor, a_patient, consult, dt.datetime.combine(monday, dt.time(9), tzinfo=tokyo), booker)
    sunday_evening_tokyo = dt.datetime.combine(monday - dt.timedelta(days=1), dt.time(23), tzinfo=tokyo)
    with time_machine.travel(sunday_evening_tokyo, tick=False), pytest.raises(ValidationError) as err:
        services.appointment_check_in(appointment=appt, by=booker)
    assert err.value.message_dict == {"status": ["Check-in is only possible on the day of the appointment."]}
    appt.refresh_from_db()
    assert appt.status == "booked"
    with time_machine.travel(dt.datetime.combine(monday, dt.time(8), tzinfo=tokyo), tick=False):
        assert services.appointment_check_in(appointment=appt, by=booker).status == "arrived"


@override_settings(HOSPITAL_TIME_ZONE="America/New_York")
def test_check_in_day_falls_back_to_the_hospital_time_zone(a_patient, consult, monday, booker):
    """Without a schedule the hospital's zone decides: 23:00 Sunday Tokyo is Sunday in New York, the
    appointment's (New York) day."""
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    doctor = make_user(Role.DOCTOR)
    give_schedule(doctor.practitioner, time_zone="Asia/Tokyo")
    appt = book(doctor, a_patient, consult, dt.datetime.combine(monday, dt.time(9), tzinfo=tokyo), booker)
    Schedule.objects.filter(practitioner=doctor.practitioner).delete()
    sunday_evening_tokyo = dt.datetime.combine(monday - dt.timedelta(days=1), dt.time(23), tzinfo=tokyo)
    with time_machine.travel(sunday_evening_tokyo, tick=False):
        assert services.appointment_check_in(appointment=appt, by=booker).status == "arrived"
