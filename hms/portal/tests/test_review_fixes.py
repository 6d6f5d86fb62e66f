"""Review fixes: refused `?date=` values are reported (not silently replaced), and adding leave checks
the past and warns about the booked appointments it covers."""

import datetime as dt

import pytest
from django.urls import reverse

from hms.core.testing import PatientFactory
from hms.portal.booking import today
from hms.scheduling import services
from hms.scheduling.models import Appointment, AppointmentStatus, ScheduleException
from hms.scheduling.tests.conftest import at, next_monday

pytestmark = pytest.mark.django_db

BAD_DATES = ["garbage", "9999-12-31", "0001-01-01", "2026-02-30", "x" * 500]


def _far(days: int) -> str:
    return (today() + dt.timedelta(days=days)).isoformat()


@pytest.mark.parametrize("raw", [*BAD_DATES, _far(400), _far(-400)])
def test_reception_day_reports_a_refused_date_and_shows_today(client, receptionist, raw):
    client.force_login(receptionist)
    response = client.get(reverse("portal:reception_day"), {"date": raw})
    assert response.status_code == 200
    html = response.content.decode()
    assert "showing today instead" in html
    assert response.context["day"] == today()


def test_reception_day_accepts_a_date_within_a_year(client, receptionist):
    client.force_login(receptionist)
    response = client.get(reverse("portal:reception_day"), {"date": _far(300)})
    assert response.status_code == 200 and "showing today instead" not in response.content.decode()
    assert response.context["day"] == today() + dt.timedelta(days=300)


@pytest.mark.parametrize("raw", [*BAD_DATES, _far(400)])
def test_doctor_slots_report_a_refused_date_and_show_today(client, patient_user, cardiologist, consult, raw):
    client.force_login(patient_user)
    url = reverse("portal:doctor_slots", args=[cardiologist.practitioner.pk])
    response = client.get(url, {"date": raw, "service": consult.code})
    assert response.status_code == 200
    assert "showing today instead" in response.content.decode()
    assert response.context["day"] == today()


def test_leave_in_the_past_is_a_form_error(client, cardiologist):
    client.force_login(cardiologist)
    yesterday = (today() - dt.timedelta(days=1)).isoformat()
    response = client.post(
        reverse("portal:my_schedule_exception_add"),
        {"kind": "leave", "date_from": yesterday, "date_to": _far(2)},
    )
    assert response.status_code == 400
    assert "is in the past" in response.content.decode()
    assert not ScheduleException.objects.exists()


def test_leave_over_booked_days_saves_and_warns_with_the_count(client, cardiologist, consult):
    monday = next_monday()
    for hhmm in ("09:00", "10:00"):
        services.appointment_book(
            patient=PatientFactory(),
            practitioner=cardiologist.practitioner,
            service_type=consult,
            start=at(monday, hhmm),
            by=cardiologist,
        )
    cancelled = services.appointment_book(
        patient=PatientFactory(),
        practitioner=cardiologist.practitioner,
        service_type=consult,
        start=at(monday, "11:00"),
        by=cardiologist,
    )
    Appointment.objects.filter(pk=cancelled.pk).update(status=AppointmentStatus.CANCELLED)
    client.force_login(cardiologist)
    response = client.post(
        reverse("portal:my_schedule_exception_add"),
        {"kind": "leave", "date_from": monday.isoformat(), "date_to": monday.isoformat()},
        follow=True,
    )
    html = response.content.decode()
    assert ScheduleException.objects.count() == 1
    assert "2 booked appointments fall in this leave" in html and "NOT cancelled" in html
    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).count() == 2
    # a leave on free days: no warning
    response = client.post(
        reverse("portal:my_schedule_exception_add"),
        {"kind": "leave", "date_from": _far(200), "date_to": _far(201)},
        follow=True,
    )
    assert "booked appointment" not in response.content.decode()
