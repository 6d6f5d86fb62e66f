"""Waitlist: joining, offers on cancellation, accepting, expiry to the next patient, and scoping."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.errors import Conflict
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.messaging.models import Delivery, Notification
from hms.messaging.reminders import reminders_run
from hms.scheduling import services, waitlist
from hms.scheduling.models import Appointment, AppointmentStatus, WaitlistEntry, WaitlistStatus

from .conftest import at, give_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def doc(sched_doctor):
    return sched_doctor.practitioner


@pytest.fixture
def join(doc, monday, receptionist):
    def _join(patient, *, by=None, **kwargs):
        kwargs.setdefault("practitioner", None if "specialty" in kwargs else doc)
        return waitlist.waitlist_join(
            patient=patient,
            date_from=kwargs.pop("date_from", monday),
            date_to=kwargs.pop("date_to", monday + dt.timedelta(days=4)),
            by=by or receptionist,
            **kwargs,
        )

    return _join


@pytest.fixture
def freed(doc, consult, monday, receptionist, django_capture_on_commit_callbacks):
    """Book someone at Monday 10:00 and cancel it (hooks run): returns the cancelled appointment."""

    def _freed(hhmm="10:00"):
        appt = services.appointment_book(
            patient=PatientFactory(),
            practitioner=doc,
            service_type=consult,
            start=at(monday, hhmm),
            by=receptionist,
        )
        with django_capture_on_commit_callbacks(execute=True):
            services.appointment_cancel(appointment=appt, by=receptionist, reason="Cannot come")
        return appt

    return _freed


def patient_login():
    return make_user(Role.PATIENT)


def test_cancellation_offers_the_first_matching_entry(join, freed, doc, monday, cardiology):
    # given: three waiting patients; the second asks for the specialty, the third for another window
    first, second, third = patient_login(), patient_login(), patient_login()
    e1 = join(first.patient)
    e2 = join(second.patient, specialty=cardiology)
    e3 = join(third.patient, date_from=monday + dt.timedelta(days=1))
    # when
    appt = freed()
    # then: the oldest matching entry holds the offer, announced to its patient
    e1.refresh_from_db()
    assert e1.status == WaitlistStatus.OFFERED
    assert (e1.offered_practitioner, e1.offered_start, e1.freed_by) == (doc, appt.start, appt)
    assert e1.offer_expires_at - e1.offered_at == dt.timedelta(minutes=60)
    note = Notification.objects.get(recipient=first, event="waitlist.offer")
    assert "10:00" in note.body
    assert {e.status for e in WaitlistEntry.objects.filter(pk__in=[e2.pk, e3.pk])} == {"waiting"}
    assert AuditEvent.objects.filter(object_id=str(e1.pk), action="update", channel="system").exists()
    # the same slot is never offered twice
    assert waitlist.slot_freed(appointment_id=appt.pk) is None


def test_specialty_entry_matches_and_window_times_are_respected(join, freed, cardiology):
    morning_only = join(PatientFactory(), time_from=dt.time(8, 0), time_to=dt.time(9, 30))
    by_specialty = join(PatientFactory(), specialty=cardiology, time_from=dt.time(9, 30))
    freed("10:00")
    morning_only.refresh_from_db()
    by_specialty.refresh_from_db()
    assert (morning_only.status, by_specialty.status) == ("waiting", "offered")


def test_accept_books_the_offered_slot(join, freed, monday, django_capture_on_commit_callbacks):
    user = patient_login()
    entry = join(user.patient, by=user)
    appt = freed()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client_for(user).post(f"/api/waitlist/{entry.pk}/accept/")
    assert response.status_code == 201, response.content
    booked = Appointment.objects.get(pk=response.json()["id"])
    assert (booked.patient, booked.start, booked.status) == (
        user.patient,
        appt.start,
        AppointmentStatus.BOOKED,
    )
    entry.refresh_from_db()
    assert (entry.status, entry.appointment) == (WaitlistStatus.ACCEPTED, booked)
    assert Delivery.objects.filter(recipient=user, event="appointment.booked").exists()
    # accepting twice is a 409
    assert api_client_for(user).post(f"/api/waitlist/{entry.pk}/accept/").status_code == 409


def test_accept_when_taken_meanwhile_is_409_and_the_patient_waits_again(
    join, freed, doc, consult, receptionist
):
    user = patient_login()
    entry = join(user.patient)
    appt = freed()
    services.appointment_book(
        patient=PatientFactory(), practitioner=doc, service_type=consult, start=appt.start, by=receptionist
    )
    response = api_client_for(user).post(f"/api/waitlist/{entry.pk}/accept/")
    assert response.status_code == 409
    assert response.json()["code"] == "slot_taken"
    entry.refresh_from_db()
    assert (entry.status, entry.offered_start) == (WaitlistStatus.WAITING, None)


def test_expiry_moves_the_offer_to_the_next_entry(join, freed):
    first, second = patient_login(), patient_login()
    e1, e2 = join(first.patient), join(second.patient)
    freed()
    e1.refresh_from_db()
    # a tick before the offer expires changes nothing
    assert waitlist.waitlist_offers_expire(now=e1.offer_expires_at - dt.timedelta(minutes=1)) == 0
    # the beat's tick after it expires (through the reminder registry) passes the slot on
    reminders_run(now=e1.offer_expires_at + dt.timedelta(minutes=1))
    e1.refresh_from_db()
    e2.refresh_from_db()
    assert (e1.status, e2.status) == (WaitlistStatus.EXPIRED, WaitlistStatus.OFFERED)
    assert e2.offered_start == e1.offered_start
    assert Notification.objects.filter(recipient=second, event="waitlist.offer").count() == 1
    # the expired patient can no longer take it
    with pytest.raises(Conflict):
        waitlist.waitlist_accept(entry=e1, by=first)


@override_settings(WAITLIST_OFFER_MINUTES=5)
def test_offer_length_is_configurable_and_an_expired_offer_is_refused(join, freed):
    user = patient_login()
    entry = join(user.patient)
    freed()
    entry.refresh_from_db()
    assert entry.offer_expires_at - entry.offered_at == dt.timedelta(minutes=5)
    WaitlistEntry.objects.filter(pk=entry.pk).update(
        offer_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    response = api_client_for(user).post(f"/api/waitlist/{entry.pk}/accept/")
    assert (response.status_code, response.json()["code"]) == (409, "offer_expired")


def test_cancelling_an_offered_entry_passes_the_offer_on(
    join, freed, receptionist, django_capture_on_commit_callbacks
):
    e1, e2 = join(PatientFactory()), join(PatientFactory())
    freed()
    e1.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        waitlist.waitlist_cancel(entry=e1, by=receptionist)
    e2.refresh_from_db()
    assert e2.status == WaitlistStatus.OFFERED


def test_reschedule_offers_the_old_time(
    join, doc, consult, monday, receptionist, django_capture_on_commit_callbacks
):
    entry = join(PatientFactory())
    appt = services.appointment_book(
        patient=PatientFactory(),
        practitioner=doc,
        service_type=consult,
        start=at(monday, "10:00"),
        by=receptionist,
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.appointment_reschedule(appointment=appt, start=at(monday, "15:00"), by=receptionist)
    entry.refresh_from_db()
    assert (entry.status, entry.offered_start) == (WaitlistStatus.OFFERED, at(monday, "10:00"))


def test_other_doctors_and_busy_patients_are_not_offered(join, freed, monday, consult, receptionist):
    other = make_user(Role.DOCTOR)
    give_schedule(other.practitioner)
    busy = PatientFactory()
    join(PatientFactory(), practitioner=other.practitioner)
    busy_entry = join(busy)
    services.appointment_book(
        patient=busy,
        practitioner=other.practitioner,
        service_type=consult,
        start=at(monday, "10:00"),
        by=receptionist,
    )
    freed("10:00")
    assert not WaitlistEntry.objects.filter(status=WaitlistStatus.OFFERED).exists()
    busy_entry.refresh_from_db()
    assert busy_entry.status == WaitlistStatus.WAITING


# ---------------------------------------------------------------- API and scoping


def test_patient_joins_for_self_and_sees_only_own(doc, monday):
    me, other = patient_login(), patient_login()
    body = {"practitioner": doc.pk, "date_from": str(monday), "date_to": str(monday + dt.timedelta(days=3))}
    response = api_client_for(me).post("/api/waitlist/", body, format="json")
    assert response.status_code == 201, response.content
    entry_id = response.json()["id"]
    assert response.json()["patient"]["id"] == me.patient.pk
    assert AuditEvent.objects.filter(action="create", object_id=str(entry_id), patient=me.patient).exists()
    # a duplicate is a 409; naming another patient is a 403
    assert api_client_for(me).post("/api/waitlist/", body, format="json").status_code == 409
    assert (
        api_client_for(me)
        .post("/api/waitlist/", {**body, "patient": other.patient.pk}, format="json")
        .status_code
        == 403
    )
    # the other patient sees nothing of it
    client = api_client_for(other)
    assert client.get("/api/waitlist/").json()["results"] == []
    assert client.get(f"/api/waitlist/{entry_id}/").status_code == 404
    assert client.delete(f"/api/waitlist/{entry_id}/").status_code == 404
    assert client.post(f"/api/waitlist/{entry_id}/accept/").status_code == 404
    # the owner lists and cancels it
    mine = api_client_for(me).get("/api/waitlist/")
    assert [e["id"] for e in mine.json()["results"]] == [entry_id]
    assert AuditEvent.objects.filter(action="search", object_type="scheduling.WaitlistEntry").exists()
    cancelled = api_client_for(me).delete(f"/api/waitlist/{entry_id}/")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    assert WaitlistEntry.objects.filter(pk=entry_id).exists()


@pytest.mark.parametrize(
    ("role", "create", "sees"),
    [
        (Role.RECEPTIONIST, 201, True),
        (Role.ADMIN, 201, True),
        (Role.DOCTOR, 403, False),
        (Role.NURSE, 403, False),
        (Role.PHARMACIST, 403, False),
        (Role.LAB_TECHNICIAN, 403, False),
        (Role.BILLING, 403, False),
    ],
)
def test_roles(role, create, sees, join, cardiology, monday):
    user = make_user(role)
    entry = join(PatientFactory())
    client = api_client_for(user)
    body = {
        "patient": PatientFactory().pk,
        "specialty": cardiology.code,
        "date_from": str(monday),
        "date_to": str(monday),
    }
    assert client.post("/api/waitlist/", body, format="json").status_code == create
    listed = [e["id"] for e in client.get("/api/waitlist/").json()["results"]]
    assert (entry.pk in listed) is sees
    assert client.get(f"/api/waitlist/{entry.pk}/").status_code == (200 if sees else 404)


def test_the_doctor_sees_entries_naming_them(join, sched_doctor):
    entry = join(PatientFactory())
    assert api_client_for(sched_doctor).get(f"/api/waitlist/{entry.pk}/").status_code == 200
    assert api_client_for(sched_doctor).delete(f"/api/waitlist/{entry.pk}/").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {},  # neither practitioner nor specialty
        {"practitioner": "DOC", "specialty": "394579002"},  # both
        {"specialty": "no-such-code"},
    ],
)
def test_join_validation(body, doc, monday, receptionist):
    if body.get("practitioner") == "DOC":
        body = {**body, "practitioner": doc.pk}
    data = {"patient": PatientFactory().pk, "date_from": str(monday), "date_to": str(monday), **body}
    assert api_client_for(receptionist).post("/api/waitlist/", data, format="json").status_code == 400


def test_window_in_the_past_is_refused(doc, receptionist):
    past = timezone.localdate() - dt.timedelta(days=10)
    data = {
        "patient": PatientFactory().pk,
        "practitioner": doc.pk,
        "date_from": str(past),
        "date_to": str(past),
    }
    response = api_client_for(receptionist).post("/api/waitlist/", data, format="json")
    assert response.status_code == 400
    assert "date_to" in response.json()
