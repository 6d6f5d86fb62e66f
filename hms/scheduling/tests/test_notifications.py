"""Appointment notices and reminders go through the one notification service, once per event."""

import datetime as dt

import pytest
from django.core import mail

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user
from hms.messaging.models import Delivery, Notification
from hms.messaging.reminders import reminder_offsets, reminder_providers, reminders_run
from hms.scheduling import services
from hms.scheduling.models import AppointmentStatus
from hms.scheduling.notifications import appointment_notify
from hms.scheduling.reminders import appointment_reminders
from hms.scheduling.waitlist import waitlist_sweep

from .conftest import at

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient_login(db):
    """A patient with a login (default preferences: in-app + email)."""
    return make_user(Role.PATIENT)


@pytest.fixture
def book(sched_doctor, consult, receptionist, django_capture_on_commit_callbacks):
    def _book(patient, start, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return services.appointment_book(
                patient=patient,
                practitioner=sched_doctor.practitioner,
                service_type=consult,
                start=start,
                by=receptionist,
                **kwargs,
            )

    return _book


def keys(event=None):
    qs = Delivery.objects.all() if event is None else Delivery.objects.filter(event=event)
    return sorted(qs.values_list("dedupe_key", "channel"))


def test_booking_sends_a_confirmation_once(book, patient_login, monday):
    # given / when
    appt = book(patient_login.patient, at(monday, "09:20"))
    # then: one in-app notification and one email, both sent (eager worker)
    key = f"appointment:{appt.pk}:booked"
    assert keys() == [(key, "email"), (key, "in_app")]
    assert set(Delivery.objects.values_list("status", flat=True)) == {"sent"}
    note = Notification.objects.get(recipient=patient_login)
    assert note.event == "appointment.booked"
    assert note.subject.startswith("Appointment confirmed")
    assert [m.to for m in mail.outbox] == [[patient_login.email]]
    # when the hook runs again (a retried commit hook), nothing new is recorded or sent
    assert appointment_notify(appointment_id=appt.pk, event="booked") == 2
    assert Delivery.objects.count() == 2
    assert len(mail.outbox) == 1


def test_reschedule_and_cancel_are_announced(
    book, patient_login, monday, receptionist, django_capture_on_commit_callbacks
):
    appt = book(patient_login.patient, at(monday, "09:20"))
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_reschedule(appointment=appt, start=at(monday, "10:00"), by=receptionist)
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_reschedule(appointment=appt, start=at(monday, "09:20"), by=receptionist)
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=appt, by=receptionist, reason="Doctor away")

    moved = Notification.objects.filter(event="appointment.rescheduled").order_by("id")
    assert moved.count() == 2  # A -> B -> A announces both moves
    assert "10:00" in moved[0].body and "09:20" in moved[0].body
    cancelled = Notification.objects.get(event="appointment.cancelled")
    assert "Doctor away" in cancelled.body
    assert (f"appointment:{appt.pk}:cancelled", "in_app") in keys("appointment.cancelled")
    assert len(mail.outbox) == 4  # booked, 2 moves, cancelled


def test_pending_booking_is_announced_when_confirmed(
    book, patient_login, monday, receptionist, django_capture_on_commit_callbacks
):
    appt = book(patient_login.patient, at(monday, "09:20"), status=AppointmentStatus.PENDING)
    assert Delivery.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_confirm(appointment=appt, by=receptionist)
    assert keys() == [(f"appointment:{appt.pk}:booked", "email"), (f"appointment:{appt.pk}:booked", "in_app")]


def test_status_changes_and_patients_without_login_send_nothing(
    book, monday, receptionist, django_capture_on_commit_callbacks
):
    no_login = PatientFactory()
    appt = book(no_login, at(monday, "09:20"))
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_cancel(appointment=appt, by=receptionist, reason="x")
    assert Delivery.objects.count() == 0
    assert appointment_notify(appointment_id=appt.pk, event="arrived") == 0
    assert appointment_notify(appointment_id=10**9, event="booked") == 0


# ---------------------------------------------------------------- reminders


def run(now):
    return appointment_reminders(now=now, offsets=reminder_offsets())


def test_providers_are_registered():
    assert appointment_reminders in reminder_providers()
    assert waitlist_sweep in reminder_providers()


def test_reminders_at_24h_and_2h_once_each(book, patient_login, monday):
    # given: an appointment booked a week ahead (its confirmation is already recorded)
    appt = book(patient_login.patient, at(monday, "10:00"))
    start = appt.start
    # when: ticks long before, then inside the 24 h lead, again, then inside the 2 h lead, again
    assert run(start - dt.timedelta(hours=30)) == 0
    assert run(start - dt.timedelta(hours=23, minutes=55)) == 2  # in-app + email
    assert run(start - dt.timedelta(hours=23, minutes=50)) == 0
    assert run(start - dt.timedelta(hours=3)) == 0
    # the messaging registry calls the same provider (the beat's `reminders_due`)
    assert reminders_run(now=start - dt.timedelta(hours=1, minutes=59)) == 2
    assert run(start - dt.timedelta(minutes=30)) == 0
    # then
    stamp = int(start.timestamp())
    assert keys("appointment.reminder") == [
        (f"appointment:{appt.pk}:reminder:24h:{stamp}", "email"),
        (f"appointment:{appt.pk}:reminder:24h:{stamp}", "in_app"),
        (f"appointment:{appt.pk}:reminder:2h:{stamp}", "email"),
        (f"appointment:{appt.pk}:reminder:2h:{stamp}", "in_app"),
    ]
    assert Notification.objects.filter(event="appointment.reminder").first().subject.startswith("Reminder")


def test_reminders_follow_a_reschedule_and_skip_cancelled(
    book, patient_login, monday, receptionist, django_capture_on_commit_callbacks
):
    appt = book(patient_login.patient, at(monday, "10:00"))
    other = book(make_user(Role.PATIENT).patient, at(monday, "11:00"))
    services.appointment_cancel(appointment=other, by=receptionist, reason="x")
    assert run(appt.start - dt.timedelta(hours=23)) == 2  # `other` is cancelled: nothing for it
    services.appointment_reschedule(appointment=appt, start=at(monday, "14:00"), by=receptionist)
    appt.refresh_from_db()
    assert run(appt.start - dt.timedelta(hours=23)) == 2  # the new time is reminded too
    assert Delivery.objects.filter(event="appointment.reminder", recipient=other.patient.user).count() == 0


def test_reminder_without_login_is_skipped(book, monday):
    appt = book(PatientFactory(), at(monday, "10:00"))
    assert run(appt.start - dt.timedelta(hours=1)) == 0
