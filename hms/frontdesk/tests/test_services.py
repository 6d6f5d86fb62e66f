import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from hms.audit.models import AuditEvent
from hms.core.errors import Conflict
from hms.frontdesk import selectors, services
from hms.frontdesk.models import QueueEntry, QueueStatus, TriagePriority
from hms.scheduling import services as scheduling


def _age(entry: QueueEntry, minutes: int) -> QueueEntry:
    """Move the arrival `minutes` into the past (the test cannot wait)."""
    QueueEntry.objects.filter(pk=entry.pk).update(arrived_at=entry.arrived_at - dt.timedelta(minutes=minutes))
    entry.refresh_from_db()
    return entry


def test_check_in_puts_the_patient_in_todays_queue(q_doctor, checked_in):
    """Checking in through the scheduling service creates a waiting, non-urgent entry in today's queue
    of that practitioner, audited in the same transaction."""
    # when
    appointment = checked_in(q_doctor, "09:00")
    # then
    entry = QueueEntry.objects.get(appointment=appointment)
    assert entry.patient_id == appointment.patient_id
    assert entry.practitioner_id == q_doctor.practitioner.pk
    assert entry.day == selectors.hospital_today()
    assert entry.status == QueueStatus.WAITING
    assert (entry.priority, entry.priority_rank) == (TriagePriority.NON_URGENT, 4)
    assert entry.location == "Cardiology"
    assert entry.expected_wait_minutes == 0
    assert AuditEvent.objects.filter(object_type="frontdesk.QueueEntry", action="create").count() == 1


def test_start_records_the_actual_wait_and_complete_closes(q_doctor, checked_in):
    """Start → in consultation with actual wait = start - arrival; complete → done."""
    # given
    appointment = checked_in(q_doctor, "09:00")
    _age(QueueEntry.objects.get(appointment=appointment), 25)
    # when
    scheduling.appointment_start(appointment=appointment, by=q_doctor)
    # then
    entry = QueueEntry.objects.get(appointment=appointment)
    assert entry.status == QueueStatus.IN_CONSULTATION
    assert entry.actual_wait == entry.started_at - entry.arrived_at
    assert dt.timedelta(minutes=25) <= entry.actual_wait < dt.timedelta(minutes=26)
    # when
    scheduling.appointment_complete(appointment=appointment, by=q_doctor)
    # then
    entry.refresh_from_db()
    assert entry.status == QueueStatus.DONE
    assert entry.finished_at >= entry.started_at


def test_urgent_goes_before_an_earlier_non_urgent(q_doctor, checked_in, receptionist):
    """Call next takes the most pressing priority first, then the earliest arrival."""
    # given
    early = _age(QueueEntry.objects.get(appointment=checked_in(q_doctor, "09:00")), 30)
    later = QueueEntry.objects.get(appointment=checked_in(q_doctor, "09:20"))
    last = QueueEntry.objects.get(appointment=checked_in(q_doctor, "09:40"))
    services.queue_set_priority(entry=later, priority=TriagePriority.URGENT, by=receptionist)
    # when / then
    first = services.queue_call_next(practitioner=q_doctor.practitioner, by=q_doctor)
    assert first.pk == later.pk and first.status == QueueStatus.CALLED and first.called_at is not None
    assert services.queue_call_next(practitioner=q_doctor.practitioner, by=q_doctor).pk == early.pk
    assert services.queue_call_next(practitioner=q_doctor.practitioner, by=q_doctor).pk == last.pk
    with pytest.raises(Conflict):
        services.queue_call_next(practitioner=q_doctor.practitioner, by=q_doctor)


def test_priority_changes_are_audited_and_refused_once_started(q_doctor, checked_in, receptionist):
    appointment = checked_in(q_doctor, "09:00")
    entry = QueueEntry.objects.get(appointment=appointment)
    with pytest.raises(ValidationError):
        services.queue_set_priority(entry=entry, priority="whenever", by=receptionist)
    services.queue_set_priority(entry=entry, priority=TriagePriority.EMERGENT, by=receptionist)
    entry.refresh_from_db()
    assert (entry.priority, entry.priority_rank) == ("emergent", 1)
    event = AuditEvent.objects.filter(object_type="frontdesk.QueueEntry", action="update").latest("id")
    assert event.detail["priority"] == {"from": "non-urgent", "to": "emergent"}
    assert event.patient_id == appointment.patient_id
    scheduling.appointment_start(appointment=appointment, by=q_doctor)
    with pytest.raises(ValidationError):
        services.queue_set_priority(entry=entry, priority=TriagePriority.URGENT, by=receptionist)


def test_expected_wait_falls_back_to_the_service_length(q_doctor, checked_in):
    """With no consultation history, each patient ahead counts for their 20-minute service."""
    for hhmm in ("09:00", "09:20", "09:40"):
        checked_in(q_doctor, hhmm)
    rows = selectors.queue_board(QueueEntry.objects.filter(practitioner=q_doctor.practitioner))
    assert [(r.position, r.expected_wait_minutes) for r in rows] == [(1, 0), (2, 20), (3, 40)]
    assert QueueEntry.objects.order_by("id").last().expected_wait_minutes == 40


def _finish_consultations(doctor, checked_in, spec):
    for hhmm, minutes in spec:
        appointment = checked_in(doctor, hhmm)
        scheduling.appointment_start(appointment=appointment, by=doctor)
        QueueEntry.objects.filter(appointment=appointment).update(
            started_at=timezone.now() - dt.timedelta(minutes=minutes)
        )
        scheduling.appointment_complete(appointment=appointment, by=doctor)


def test_expected_wait_uses_the_recent_average_consultation(q_doctor, checked_in):
    """Three recent consultations of 10, 12 and 14 minutes: the average (12) x patients ahead, the one
    in consultation included."""
    _finish_consultations(q_doctor, checked_in, (("13:00", 10), ("13:20", 12), ("13:40", 14)))
    assert selectors.consultation_minutes_average(q_doctor.practitioner.pk) == pytest.approx(12, abs=0.1)
    in_room = checked_in(q_doctor, "09:40")
    scheduling.appointment_start(appointment=in_room, by=q_doctor)
    checked_in(q_doctor, "10:00")
    checked_in(q_doctor, "10:20")
    rows = selectors.queue_board(QueueEntry.objects.filter(practitioner=q_doctor.practitioner))
    assert [(r.position, r.expected_wait_minutes) for r in rows] == [(None, 0), (1, 12), (2, 24)]


def test_expected_wait_ignores_too_few_consultations(q_doctor, checked_in):
    """One 1-minute consultation is not enough history: the 20-minute service length is used."""
    _finish_consultations(q_doctor, checked_in, (("13:00", 1),))
    checked_in(q_doctor, "09:00")
    checked_in(q_doctor, "09:20")
    rows = selectors.queue_board(QueueEntry.objects.filter(practitioner=q_doctor.practitioner))
    assert [(r.position, r.expected_wait_minutes) for r in rows] == [(1, 0), (2, 20)]
    assert QueueEntry.objects.order_by("id").last().expected_wait_minutes == 20


def test_expected_wait_is_floored(q_doctor, checked_in):
    """Three 1-minute consultations: each patient ahead still counts for max(1, 5, 20 / 2) = 10."""
    _finish_consultations(q_doctor, checked_in, (("13:00", 1), ("13:20", 1), ("13:40", 1)))
    for hhmm in ("09:00", "09:20", "09:40"):
        checked_in(q_doctor, hhmm)
    rows = selectors.queue_board(QueueEntry.objects.filter(practitioner=q_doctor.practitioner))
    assert [(r.position, r.expected_wait_minutes) for r in rows] == [(1, 0), (2, 10), (3, 20)]
    assert QueueEntry.objects.order_by("id").last().expected_wait_minutes == 20


def test_walk_in_joins_the_queue(q_doctor, receptionist):
    from hms.core.testing import PatientFactory

    entry = services.queue_add_walk_in(
        patient=PatientFactory(), practitioner=q_doctor.practitioner, by=receptionist, priority="urgent"
    )
    assert entry.appointment is None and entry.priority_rank == 2 and entry.status == QueueStatus.WAITING
    assert services.queue_call_next(practitioner=q_doctor.practitioner, by=q_doctor).pk == entry.pk
