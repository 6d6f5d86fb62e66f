"""schedule_set_hours / schedule_exception_add / schedule_exception_remove: atomic, audited, validated."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from hms.audit.models import AuditAction, AuditEvent
from hms.scheduling.models import ScheduleException, WorkingHours
from hms.scheduling.schedule_services import (
    schedule_exception_add,
    schedule_exception_remove,
    schedule_for_practitioner,
    schedule_set_hours,
)

pytestmark = pytest.mark.django_db
T = dt.time.fromisoformat


def test_set_hours_replaces_the_week_and_is_audited(sched_doctor):
    schedule = schedule_for_practitioner(practitioner=sched_doctor.practitioner)
    schedule_set_hours(
        schedule=schedule, hours=[(2, T("08:00"), T("11:00"))], buffer_minutes=10, by=sched_doctor
    )
    assert list(WorkingHours.objects.filter(schedule=schedule).values_list("weekday", "start_time")) == [
        (2, T("08:00"))
    ]
    schedule.refresh_from_db()
    assert schedule.buffer_minutes == 10
    assert AuditEvent.objects.filter(action=AuditAction.UPDATE, actor=sched_doctor).count() == 1


@pytest.mark.parametrize(
    "hours",
    [
        [(8, T("08:00"), T("09:00"))],
        [(1, T("10:00"), T("09:00"))],
        [(1, T("09:00"), T("12:00")), (1, T("11:00"), T("13:00"))],
    ],
)
def test_set_hours_refuses_bad_ranges_and_changes_nothing(sched_doctor, hours):
    schedule = sched_doctor.practitioner.schedule
    before = WorkingHours.objects.filter(schedule=schedule).count()
    with pytest.raises(ValidationError):
        schedule_set_hours(schedule=schedule, hours=hours, by=sched_doctor)
    assert WorkingHours.objects.filter(schedule=schedule).count() == before
    assert not AuditEvent.objects.exists()


def test_schedule_is_created_for_a_doctor_without_one(db):
    from hms.accounts.roles import Role
    from hms.core.testing import make_user

    doctor = make_user(Role.DOCTOR)
    schedule = schedule_for_practitioner(practitioner=doctor.practitioner)
    assert schedule.practitioner == doctor.practitioner and schedule.active


def test_exception_add_and_remove_are_audited(sched_doctor, monday):
    schedule = sched_doctor.practitioner.schedule
    extra = schedule_exception_add(
        schedule=schedule,
        kind="extra",
        date_from=monday,
        date_to=monday,
        start_time=T("18:00"),
        end_time=T("20:00"),
        by=sched_doctor,
    )
    leave = schedule_exception_add(
        schedule=schedule,
        kind="leave",
        date_from=monday,
        date_to=monday,
        start_time=T("10:00"),
        by=sched_doctor,
    )
    assert leave.start_time is None  # whole days
    with pytest.raises(ValidationError):
        schedule_exception_add(
            schedule=schedule,
            kind="holiday",
            date_from=monday,
            date_to=monday - dt.timedelta(days=1),
            by=sched_doctor,
        )
    schedule_exception_remove(exception=extra, by=sched_doctor)
    assert list(ScheduleException.objects.all()) == [leave]
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [AuditAction.CREATE, AuditAction.CREATE, AuditAction.DELETE]
