"""The appointment pages, per role: a patient finds a doctor, books, reschedules and cancels (and never
sees another patient's visits); reception books on behalf, sees the day board and checks in; a doctor
reads their agenda and edits their own hours and exceptions."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction, AuditEvent
from hms.core.testing import PatientFactory, make_user
from hms.scheduling import services
from hms.scheduling.models import (
    Appointment,
    AppointmentStatus,
    ExceptionKind,
    ScheduleException,
    WorkingHours,
)
from hms.scheduling.tests.conftest import at, next_monday

pytestmark = pytest.mark.django_db


def _book(patient, doctor, service, start, by):
    return services.appointment_book(
        patient=patient, practitioner=doctor.practitioner, service_type=service, start=start, by=by
    )


def _book_url(doctor, service, start, patient=None):
    from django.utils.http import urlencode

    params = {"practitioner": doctor.practitioner.pk, "service": service.code, "start": start.isoformat()}
    if patient is not None:
        params["patient"] = patient.pk
    return f"{reverse('portal:book')}?{urlencode(params)}"


# ---------------------------------------------------------------- access


@pytest.mark.parametrize(
    ("url_name", "allowed"),
    [
        ("portal:find_doctor", {Role.PATIENT, Role.RECEPTIONIST, Role.ADMIN}),
        ("portal:my_appointments", {Role.PATIENT}),
        ("portal:reception_day", {Role.RECEPTIONIST, Role.ADMIN}),
        ("portal:agenda", {Role.DOCTOR, Role.NURSE}),
        ("portal:my_schedule", {Role.DOCTOR}),
    ],
)
def test_each_page_opens_for_its_roles_only(client, consult, url_name, allowed):
    """200 on its own pages, 403 (or a redirect home) elsewhere; anonymous users go to the login page."""
    url = reverse(url_name)
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    for role in Role:
        client.force_login(make_user(role))
        response = client.get(url)
        if role in allowed:
            assert response.status_code == 200, role
        else:
            assert response.status_code in (302, 403), role
            if response.status_code == 302:
                assert response["Location"] != url


def test_nav_links_the_appointment_pages_and_the_front_desk_queue(client):
    client.force_login(make_user(Role.RECEPTIONIST))
    html = client.get(reverse("portal:reception_day")).content.decode()
    assert f'href="{reverse("portal:reception_day")}"' in html
    assert 'href="/frontdesk/queue/"' in html
    client.force_login(make_user(Role.PATIENT))
    html = client.get(reverse("portal:my_appointments")).content.decode()
    assert f'href="{reverse("portal:find_doctor")}"' in html


# ---------------------------------------------------------------- patient


def test_patient_finds_a_doctor_by_specialty_with_next_free_slots(
    client, patient_user, cardiologist, consult
):
    # given another doctor in another specialty without a schedule
    make_user(Role.DOCTOR, last_name="Nobody")
    client.force_login(patient_user)
    # when
    response = client.get(reverse("portal:find_doctor"), {"specialty": "394579002", "service": "consult"})
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert cardiologist.practitioner.display_name in html
    assert "Nobody" not in html
    assert "Cardiology" in html
    assert html.count('class="slot"') == 6
    # and an htmx change of filters answers the results partial only
    partial = client.get(
        reverse("portal:find_doctor"), {"specialty": "card", "partial": "results"}, HTTP_HX_REQUEST="true"
    )
    assert (
        b"<html" not in partial.content and cardiologist.practitioner.display_name in partial.content.decode()
    )


def test_patient_sees_all_free_times_of_a_day(client, patient_user, cardiologist, consult):
    monday = next_monday()
    _book(PatientFactory(), cardiologist, consult, at(monday, "09:00"), by=cardiologist)
    client.force_login(patient_user)
    url = reverse("portal:doctor_slots", args=[cardiologist.practitioner.pk])
    response = client.get(url, {"date": monday.isoformat(), "service": "consult"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert ">09:00<" not in html and ">09:20<" in html
    assert html.count('class="slot"') == 9 + 12 - 1  # 3 h + 4 h of 20-minute slots, minus the booked one


def test_patient_books_for_themself_and_sees_it_under_upcoming(client, patient_user, cardiologist, consult):
    start = at(next_monday(), "10:00")
    other = PatientFactory()
    client.force_login(patient_user)
    # the confirmation page shows the slot
    page = client.get(_book_url(cardiologist, consult, start))
    assert page.status_code == 200 and "Book this time" in page.content.decode()
    # when: posting, even with another patient's id slipped in
    response = client.post(
        reverse("portal:book"),
        {
            "practitioner": cardiologist.practitioner.pk,
            "service": "consult",
            "start": start.isoformat(),
            "reason": "Chest pain when climbing stairs",
            "patient": other.pk,
        },
    )
    # then: booked for their own record only, through the web channel
    assert response.status_code == 302 and response["Location"] == reverse("portal:my_appointments")
    appointment = Appointment.objects.get()
    assert appointment.patient == patient_user.patient
    assert appointment.channel == "web" and appointment.created_by == patient_user
    assert appointment.reason == "Chest pain when climbing stairs"
    mine = client.get(reverse("portal:my_appointments")).content.decode()
    assert "Booked:" in mine and cardiologist.practitioner.display_name in mine
    assert reverse("portal:reschedule", args=[appointment.pk]) in mine
    assert AuditEvent.objects.filter(action=AuditAction.SEARCH, detail__view="my_appointments").exists()


def test_a_taken_slot_and_a_broken_rule_are_friendly_messages(client, patient_user, cardiologist, consult):
    start = at(next_monday(), "10:00")
    _book(PatientFactory(), cardiologist, consult, start, by=cardiologist)
    client.force_login(patient_user)
    data = {"practitioner": cardiologist.practitioner.pk, "service": "consult", "start": start.isoformat()}
    taken = client.post(reverse("portal:book"), data)
    assert taken.status_code == 400
    assert "already has an appointment at that time" in taken.content.decode()
    assert "Please pick another time" in taken.content.decode()
    closed = client.post(reverse("portal:book"), {**data, "start": at(next_monday(), "12:30").isoformat()})
    assert closed.status_code == 400 and "Outside the practitioner" in closed.content.decode()
    assert Appointment.objects.filter(patient=patient_user.patient).count() == 0


def test_patient_reschedules_and_cancels_their_appointment(client, patient_user, cardiologist, consult):
    monday = next_monday()
    appointment = _book(patient_user.patient, cardiologist, consult, at(monday, "10:00"), by=patient_user)
    client.force_login(patient_user)
    url = reverse("portal:reschedule", args=[appointment.pk])
    page = client.get(url, {"date": monday.isoformat()})
    assert page.status_code == 200 and at(monday, "11:00").isoformat() in page.content.decode()
    moved = client.post(url, {"start": at(monday, "11:00").isoformat()})
    assert moved.status_code == 302
    appointment.refresh_from_db()
    assert appointment.start == at(monday, "11:00")
    assert appointment.changes.filter(kind="rescheduled").exists()
    cancel_url = reverse("portal:cancel", args=[appointment.pk])
    assert client.post(cancel_url, {"reason": ""}).status_code == 200  # the form asks for the reason
    done = client.post(cancel_url, {"reason": "Feeling better"})
    assert done.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED and appointment.cancelled_by == patient_user
    mine = client.get(reverse("portal:my_appointments")).content.decode()
    assert "Feeling better" in mine


def test_patient_cannot_see_or_touch_another_patients_appointment(
    client, patient_user, cardiologist, consult
):
    theirs = _book(
        PatientFactory(family_name="Zebedee"),
        cardiologist,
        consult,
        at(next_monday(), "09:00"),
        by=cardiologist,
    )
    client.force_login(patient_user)
    assert client.get(reverse("portal:reschedule", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("portal:cancel", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("portal:cancel", args=[theirs.pk]), {"reason": "x"}).status_code == 404
    assert "Zebedee" not in client.get(reverse("portal:my_appointments")).content.decode()
    theirs.refresh_from_db()
    assert theirs.status == AppointmentStatus.BOOKED


# ---------------------------------------------------------------- reception


def test_reception_picks_a_patient_as_they_type_then_books_on_their_behalf(
    client, receptionist, cardiologist, consult
):
    patient = PatientFactory(family_name="Quayle", given_names="Dan")
    client.force_login(receptionist)
    picker = client.get(reverse("portal:find_doctor")).content.decode()
    assert 'id="pick-q"' in picker and "Find the patient" in picker
    results = client.get(
        reverse("portal:patient_search"), {"q": "quay", "pick": "book"}, HTTP_HX_REQUEST="true"
    )
    assert f"{reverse('portal:find_doctor')}?patient={patient.pk}" in results.content.decode()
    found = client.get(reverse("portal:find_doctor"), {"patient": patient.pk}).content.decode()
    assert "Booking for" in found and cardiologist.practitioner.display_name in found
    start = at(next_monday(), "14:00")
    response = client.post(
        reverse("portal:book"),
        {
            "patient": patient.pk,
            "practitioner": cardiologist.practitioner.pk,
            "service": "consult",
            "start": start.isoformat(),
            "reason": "Follow-up",
            "channel": "phone",
        },
    )
    assert response.status_code == 302 and reverse("portal:reception_day") in response["Location"]
    appointment = Appointment.objects.get()
    assert appointment.patient == patient and appointment.created_by == receptionist
    assert appointment.channel == "phone"
    day = client.get(reverse("portal:reception_day"), {"date": next_monday().isoformat()}).content.decode()
    assert "QUAYLE, Dan" in day and "14:00" in day and cardiologist.practitioner.display_name in day
    event = AuditEvent.objects.filter(action=AuditAction.SEARCH, detail__view="reception_day").latest("id")
    assert patient.pk in event.patient_ids


def test_reception_checks_a_patient_in_from_the_day_board(client, receptionist, cardiologist, consult):
    now = timezone.now()
    patient = PatientFactory(family_name="Arrival")
    appointment = Appointment.objects.create(
        patient=patient,
        practitioner=cardiologist.practitioner,
        service_type=consult,
        start=now,
        end=now + dt.timedelta(minutes=20),
    )
    client.force_login(receptionist)
    board = client.get(reverse("portal:reception_day")).content.decode()
    check_in_url = reverse("portal:check_in", args=[appointment.pk])
    assert check_in_url in board
    response = client.post(check_in_url)
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.ARRIVED
    again = client.post(check_in_url, follow=True).content.decode()
    assert "Cannot check-in an appointment that is arrived" in again
    assert client.get(check_in_url).status_code == 405


# ---------------------------------------------------------------- doctor


def test_doctor_reads_own_day_and_week_agenda_only(client, cardiologist, consult):
    monday = next_monday()
    _book(PatientFactory(family_name="Mine"), cardiologist, consult, at(monday, "09:00"), by=cardiologist)
    other = make_user(Role.DOCTOR)
    from hms.scheduling.tests.conftest import give_schedule

    give_schedule(other.practitioner)
    _book(PatientFactory(family_name="Theirs"), other, consult, at(monday, "09:00"), by=other)
    client.force_login(cardiologist)
    day = client.get(reverse("portal:agenda"), {"date": monday.isoformat()}).content.decode()
    assert "Mine" in day and "Theirs" not in day and "Booked (confirmed)" in day
    week = client.get(
        reverse("portal:agenda"), {"date": (monday + dt.timedelta(days=2)).isoformat(), "view": "week"}
    )
    html = week.content.decode()
    assert "Mine" in html and "Theirs" not in html
    assert html.count('class="card agendaday') == 7


def test_doctor_edits_own_weekly_hours(client, cardiologist, consult):
    client.force_login(cardiologist)
    page = client.get(reverse("portal:my_schedule")).content.decode()
    assert "09:00-12:00, 13:00-17:00" in page
    data = {"buffer_minutes": "5", "day_1": "08:00-12:00, 13:00-16:00", "day_3": "10:00-14:00"}
    response = client.post(reverse("portal:my_schedule"), data)
    assert response.status_code == 302
    schedule = cardiologist.practitioner.schedule
    rows = [
        (w.weekday, f"{w.start_time:%H:%M}", f"{w.end_time:%H:%M}")
        for w in WorkingHours.objects.filter(schedule=schedule)
    ]
    assert rows == [(1, "08:00", "12:00"), (1, "13:00", "16:00"), (3, "10:00", "14:00")]
    schedule.refresh_from_db()
    assert schedule.buffer_minutes == 5
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, object_type="scheduling.Schedule").exists()
    bad = client.post(reverse("portal:my_schedule"), {"buffer_minutes": "0", "day_2": "12:00-09:00"})
    assert bad.status_code == 200 and "the end must be after the start" in bad.content.decode()
    overlap = client.post(
        reverse("portal:my_schedule"), {"buffer_minutes": "0", "day_2": "09:00-12:00, 11:00-13:00"}
    )
    assert "Ranges overlap" in overlap.content.decode()
    assert WorkingHours.objects.filter(schedule=schedule).count() == 3


def test_doctor_adds_and_removes_leave_which_closes_the_slots(client, cardiologist, consult):
    monday = next_monday()
    client.force_login(cardiologist)
    response = client.post(
        reverse("portal:my_schedule_exception_add"),
        {
            "kind": "leave",
            "date_from": monday.isoformat(),
            "date_to": monday.isoformat(),
            "reason": "Congress",
        },
    )
    assert response.status_code == 302
    exception = ScheduleException.objects.get()
    assert exception.kind == ExceptionKind.LEAVE
    assert "Congress" in client.get(reverse("portal:my_schedule")).content.decode()
    from hms.scheduling.selectors import slots_free

    assert (
        slots_free(
            practitioner=cardiologist.practitioner, service_type=consult, date_from=monday, date_to=monday
        )
        == []
    )
    bad = client.post(
        reverse("portal:my_schedule_exception_add"),
        {"kind": "extra", "date_from": monday.isoformat(), "date_to": monday.isoformat()},
    )
    assert bad.status_code == 400 and "extra clinic needs" in bad.content.decode()
    # another doctor cannot remove it
    client.force_login(make_user(Role.DOCTOR))
    assert client.post(reverse("portal:my_schedule_exception_remove", args=[exception.pk])).status_code == 404
    client.force_login(cardiologist)
    assert client.post(reverse("portal:my_schedule_exception_remove", args=[exception.pk])).status_code == 302
    assert not ScheduleException.objects.exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.DELETE, object_type="scheduling.ScheduleException"
    ).exists()
