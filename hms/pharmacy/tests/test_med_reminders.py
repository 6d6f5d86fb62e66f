"""Medication reminders and refill alerts, sent through the beat's reminder registry
(`hms.messaging.reminders.reminders_run`) at the right local times, once; and the patient's settings API
(`/api/prescriptions/{id}/reminders/`) with its role matrix."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core import codes
from hms.core.testing import PatientFactory, api_client_for, make_user, put_in_care
from hms.messaging.models import Delivery, NotificationPreference
from hms.messaging.reminders import reminders_run
from hms.pharmacy.models import MedicationDispense, MedicationRequest

NY = ZoneInfo("America/New_York")


@pytest.fixture(autouse=True)
def _zone(settings):
    settings.HOSPITAL_TIME_ZONE = "America/New_York"
    settings.REFILL_ALERT_DAYS = 3
    settings.MEDICATION_REMINDER_GRACE_MINUTES = 60


@pytest.fixture
def patient_user(db):
    user = make_user(Role.PATIENT)
    NotificationPreference.objects.create(user=user, in_app=True, email=True, sms=True)
    return user


def _rx(patient, **kwargs):
    defaults = {
        "code_system": codes.RXNORM,
        "code": "308192",
        "code_display": "amoxicillin 500 MG Oral Capsule",
        "status": "active",
        "frequency_code": "BID",
        "frequency_per_day": Decimal(2),
        "dosage_text": "1 capsule twice daily",
        "signed_at": dt.datetime(2026, 3, 1, 9, 0, tzinfo=NY),
        "authored_on": dt.datetime(2026, 3, 1, 9, 0, tzinfo=NY),
    }
    return MedicationRequest.objects.create(patient=patient, **{**defaults, **kwargs})


def _run_at(local: dt.datetime) -> int:
    with time_machine.travel(local, tick=False):
        return reminders_run(now=timezone.now())


def _keys(prefix="medication:") -> list[str]:
    return sorted(
        set(Delivery.objects.filter(dedupe_key__startswith=prefix).values_list("dedupe_key", flat=True))
    )


# ---------------------------------------------------------------- dose reminders


def test_bid_reminder_at_eight_local_on_every_channel_once(patient_user):
    rx = _rx(patient_user.patient)
    assert _run_at(dt.datetime(2026, 3, 10, 7, 59, tzinfo=NY)) == 0
    assert _run_at(dt.datetime(2026, 3, 10, 8, 5, tzinfo=NY)) == 3  # in-app, email, SMS
    key = f"medication:{rx.pk}:reminder:2026-03-10:08:00"
    assert _keys() == [key]
    by_channel = {d.channel: d for d in Delivery.objects.filter(dedupe_key=key)}
    assert by_channel["in_app"].event == "medication.reminder"
    assert "amoxicillin" in by_channel["in_app"].subject + by_channel["in_app"].body
    # e-mail and SMS never name the medication
    assert "amoxicillin" not in (by_channel["email"].subject + by_channel["email"].body).lower()
    assert "amoxicillin" not in by_channel["sms"].body.lower()
    assert "08:00" in by_channel["sms"].body
    # the next tick (and a later one in the grace window) sends nothing new
    assert _run_at(dt.datetime(2026, 3, 10, 8, 10, tzinfo=NY)) == 0
    assert _run_at(dt.datetime(2026, 3, 10, 8, 55, tzinfo=NY)) == 0
    assert Delivery.objects.filter(dedupe_key=key).count() == 3
    # the evening dose
    assert _run_at(dt.datetime(2026, 3, 10, 20, 0, tzinfo=NY)) == 3
    assert _keys() == [key, f"medication:{rx.pk}:reminder:2026-03-10:20:00"]


def test_the_beat_task_sends_them(patient_user):
    from hms.messaging.tasks import reminders_due

    rx = _rx(patient_user.patient, frequency_code="QHS")
    with time_machine.travel(dt.datetime(2026, 3, 10, 22, 1, tzinfo=NY), tick=False):
        assert reminders_due.apply().get() == 3  # the Celery task the beat schedules
    assert _keys() == [f"medication:{rx.pk}:reminder:2026-03-10:22:00"]


def test_local_times_follow_daylight_saving_time(patient_user):
    rx = _rx(patient_user.patient, frequency_code="QD")
    utc = dt.UTC
    # 7 March 2026 is EST (UTC-5): 08:00 local is 13:00 UTC
    assert _run_at(dt.datetime(2026, 3, 7, 12, 5, tzinfo=utc)) == 0
    assert _run_at(dt.datetime(2026, 3, 7, 13, 5, tzinfo=utc)) == 3
    # 9 March 2026 is EDT (UTC-4, since 8 March): 08:00 local is 12:00 UTC
    assert _run_at(dt.datetime(2026, 3, 9, 12, 5, tzinfo=utc)) == 3
    assert _keys() == [
        f"medication:{rx.pk}:reminder:2026-03-07:08:00",
        f"medication:{rx.pk}:reminder:2026-03-09:08:00",
    ]


def test_a_reminder_missed_by_more_than_the_grace_period_is_not_sent_late(patient_user):
    _rx(patient_user.patient, frequency_code="QD")
    assert _run_at(dt.datetime(2026, 3, 10, 9, 30, tzinfo=NY)) == 0
    assert _keys() == []


def test_the_patients_own_times_replace_the_frequency_defaults(patient_user):
    rx = _rx(patient_user.patient, reminder_times=["07:15", "21:30"])
    assert _run_at(dt.datetime(2026, 3, 10, 7, 20, tzinfo=NY)) == 3
    assert _run_at(dt.datetime(2026, 3, 10, 8, 5, tzinfo=NY)) == 0  # not at the BID default 08:00
    assert _keys() == [f"medication:{rx.pk}:reminder:2026-03-10:07:15"]


def test_a_reminder_shortly_after_midnight_finds_the_one_due_before_midnight(patient_user):
    rx = _rx(patient_user.patient, reminder_times=["23:50"])
    assert _run_at(dt.datetime(2026, 3, 11, 0, 10, tzinfo=NY)) == 3
    assert _keys() == [f"medication:{rx.pk}:reminder:2026-03-10:23:50"]


@pytest.mark.parametrize(
    "change",
    [
        {"status": "stopped"},
        {"status": "completed"},
        {"status": "draft"},
        {"reminders_enabled": False},
        {"frequency_code": "PRN", "as_needed": True},
        {"frequency_code": ""},
        {"duration_days": 5},  # signed 1 March: the course ended on 6 March
        {"signed_at": dt.datetime(2026, 3, 10, 9, 0, tzinfo=NY)},  # signed after the 08:00 dose
    ],
    ids=["stopped", "completed", "draft", "disabled", "prn", "no-frequency", "course-over", "not-yet-signed"],
)
def test_no_reminder(patient_user, change):
    _rx(patient_user.patient, **change)
    assert _run_at(dt.datetime(2026, 3, 10, 8, 5, tzinfo=NY)) == 0
    assert _keys() == []


def test_no_reminder_for_an_entered_in_error_prescription_or_a_patient_without_login(patient_user):
    rx = _rx(patient_user.patient)
    rx.deleted_at = timezone.now()
    rx.save()
    _rx(PatientFactory())  # no portal account
    assert _run_at(dt.datetime(2026, 3, 10, 8, 5, tzinfo=NY)) == 0


def test_own_times_remind_an_as_needed_medication_too(patient_user):
    rx = _rx(patient_user.patient, frequency_code="PRN", as_needed=True, reminder_times=["12:00"])
    assert _run_at(dt.datetime(2026, 3, 10, 12, 1, tzinfo=NY)) == 3
    assert _keys() == [f"medication:{rx.pk}:reminder:2026-03-10:12:00"]


def test_weekly_keeps_its_day_at_the_patients_own_time(patient_user):
    rx = _rx(patient_user.patient, frequency_code="QWK", reminder_times=["18:00"])  # started Sunday 1 March
    assert _run_at(dt.datetime(2026, 3, 14, 18, 5, tzinfo=NY)) == 0  # Saturday
    assert _run_at(dt.datetime(2026, 3, 15, 18, 5, tzinfo=NY)) == 3  # Sunday
    assert _keys() == [f"medication:{rx.pk}:reminder:2026-03-15:18:00"]


def test_every_other_day_counts_from_the_start(patient_user):
    rx = _rx(patient_user.patient, frequency_code="QOD")  # started 1 March
    assert _run_at(dt.datetime(2026, 3, 10, 8, 5, tzinfo=NY)) == 0  # day 9
    assert _run_at(dt.datetime(2026, 3, 11, 8, 5, tzinfo=NY)) == 3  # day 10
    assert _keys() == [f"medication:{rx.pk}:reminder:2026-03-11:08:00"]


# ---------------------------------------------------------------- refill alerts


def _dispense(rx, at, days=30, **kwargs):
    pharmacist = make_user(Role.PHARMACIST)
    return MedicationDispense.objects.create(
        patient=rx.patient,
        prescription=rx,
        code_system=rx.code_system,
        code=rx.code,
        code_display=rx.code_display,
        quantity=Decimal(60),
        quantity_unit="capsule",
        days_supply=days,
        dispensed_at=at,
        dispensed_by=pharmacist,
        **kwargs,
    )


def test_refill_alert_three_days_before_the_supply_runs_out_once(patient_user):
    rx = _rx(patient_user.patient, reminders_enabled=True, frequency_code="", refills=2)
    dispense = _dispense(rx, dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC))  # runs out 31 March 10:00 UTC
    assert _run_at(dt.datetime(2026, 3, 28, 9, 55, tzinfo=dt.UTC)) == 0
    assert _run_at(dt.datetime(2026, 3, 28, 10, 5, tzinfo=dt.UTC)) == 3
    key = f"medication:{rx.pk}:refill:{dispense.pk}"
    assert _keys() == [key]
    in_app = Delivery.objects.get(dedupe_key=key, channel="in_app")
    assert in_app.event == "medication.refill_due"
    assert "2 refills remain" in in_app.body
    assert "amoxicillin" not in Delivery.objects.get(dedupe_key=key, channel="sms").body.lower()
    assert _run_at(dt.datetime(2026, 3, 29, 10, 5, tzinfo=NY)) == 0
    assert Delivery.objects.filter(dedupe_key=key).count() == 3


def test_refill_alert_suggests_a_renewal_when_no_refills_remain(patient_user):
    rx = _rx(patient_user.patient, frequency_code="", refills=1)
    _dispense(rx, dt.datetime(2026, 1, 30, 10, 0, tzinfo=NY))
    latest = _dispense(rx, dt.datetime(2026, 3, 1, 10, 0, tzinfo=NY))  # the one refill is used
    assert _run_at(dt.datetime(2026, 3, 29, 12, 0, tzinfo=NY)) == 3
    assert _keys() == [f"medication:{rx.pk}:refill:{latest.pk}"]  # only the latest dispense counts
    body = Delivery.objects.get(dedupe_key__endswith=f":{latest.pk}", channel="in_app").body
    assert "request a renewal" in body


def test_no_refill_alert_for_a_stopped_prescription_or_without_days_supply(patient_user):
    stopped = _rx(patient_user.patient, frequency_code="", status="stopped")
    _dispense(stopped, dt.datetime(2026, 3, 1, 10, 0, tzinfo=NY))
    open_ended = _rx(patient_user.patient, frequency_code="")
    _dispense(open_ended, dt.datetime(2026, 3, 1, 10, 0, tzinfo=NY), days=None)
    assert _run_at(dt.datetime(2026, 3, 29, 12, 0, tzinfo=NY)) == 0


# ---------------------------------------------------------------- settings API


def _url(rx) -> str:
    return f"/api/prescriptions/{rx.pk}/reminders/"


def test_patient_reads_and_changes_own_reminder_settings(patient_user):
    rx = _rx(patient_user.patient)
    client = api_client_for(patient_user)
    got = client.get(_url(rx))
    assert got.status_code == 200
    assert got.json()["default_times"] == ["08:00", "20:00"]
    assert got.json()["effective_times"] == ["08:00", "20:00"]
    assert got.json()["time_zone"] == "America/New_York"
    changed = client.patch(_url(rx), {"reminder_times": ["21:00", "7:30", "21:00"]}, format="json")
    assert changed.status_code == 200, changed.content
    assert changed.json()["reminder_times"] == ["07:30", "21:00"]
    assert changed.json()["effective_times"] == ["07:30", "21:00"]
    off = client.patch(_url(rx), {"reminders_enabled": False}, format="json")
    assert off.json()["reminders_enabled"] is False
    rx.refresh_from_db()
    assert (rx.reminders_enabled, rx.reminder_times) == (False, ["07:30", "21:00"])
    events = AuditEvent.objects.filter(object_type="pharmacy.MedicationRequest", object_id=str(rx.pk))
    assert events.filter(action="read").count() == 1
    assert events.filter(action="update").count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reminder_times": ["25:00"]}, "reminder_times"),
        ({"reminder_times": ["8 am"]}, "reminder_times"),
        ({"reminder_times": [f"{h:02d}:00" for h in range(7)]}, "reminder_times"),
        ({"reminder_times": "08:00"}, "reminder_times"),
        ({"reminder_times": [8]}, "reminder_times"),
        ({"reminders_enabled": "maybe"}, "reminders_enabled"),
    ],
)
def test_bad_reminder_settings_are_400_and_change_nothing(patient_user, body, field):
    rx = _rx(patient_user.patient)
    response = api_client_for(patient_user).patch(_url(rx), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    rx.refresh_from_db()
    assert (rx.reminders_enabled, rx.reminder_times) == (True, [])


def test_reminders_of_a_stopped_prescription_cannot_change(patient_user):
    rx = _rx(patient_user.patient, status="stopped")
    response = api_client_for(patient_user).patch(_url(rx), {"reminders_enabled": False}, format="json")
    assert response.status_code == 409


def test_reminder_settings_role_matrix(patient_user):
    rx = _rx(patient_user.patient)
    other = make_user(Role.PATIENT)
    others_rx = _rx(other.patient)
    draft = _rx(patient_user.patient, status="draft")
    assert api_client_for(patient_user).get(_url(rx)).status_code == 200
    assert api_client_for(patient_user).get(_url(others_rx)).status_code == 404
    assert api_client_for(patient_user).patch(_url(others_rx), {}, format="json").status_code == 404
    assert api_client_for(patient_user).get(_url(draft)).status_code == 404
    assert api_client_for(patient_user).get("/api/prescriptions/999999999/reminders/").status_code == 404
    assert api_client_for(None).get(_url(rx)).status_code == 401
    doctor = make_user(Role.DOCTOR)
    put_in_care(doctor, patient_user.patient)
    for role in (Role.DOCTOR, Role.NURSE, Role.PHARMACIST, Role.RECEPTIONIST, Role.ADMIN, Role.BILLING,
                 Role.LAB_TECHNICIAN):  # fmt: skip
        user = doctor if role == Role.DOCTOR else make_user(role)
        assert api_client_for(user).get(_url(rx)).status_code == 403, role
        assert (
            api_client_for(user).patch(_url(rx), {"reminders_enabled": False}, format="json").status_code
            == 403
        )
    rx.refresh_from_db()
    assert rx.reminders_enabled is True
