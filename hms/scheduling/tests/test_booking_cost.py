"""The leaner booking path (docs/performance.md, booking) keeps every rule: one overlap query that still
reports the practitioner (with buffer), then the patient, then the resource; field rules still checked
without re-reading the loaded foreign keys; and a booking's SQL stays within its budget."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.errors import Conflict
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.scheduling import services
from hms.scheduling.models import Appointment, AppointmentChange, BookableResource, ResourceKind

from .conftest import at, give_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(db):
    return make_user(Role.RECEPTIONIST)


def book(doctor, patient, service, start, by, **kwargs):
    return services.appointment_book(
        patient=patient, practitioner=doctor.practitioner, service_type=service, start=start, by=by, **kwargs
    )


def test_overlap_order_practitioner_then_patient_then_resource(consult, monday, desk):
    doctor = make_user(Role.DOCTOR)
    give_schedule(doctor.practitioner, buffer_minutes=10)
    other = make_user(Role.DOCTOR)
    give_schedule(other.practitioner)
    first, second = PatientFactory(), PatientFactory()
    room = BookableResource.objects.create(kind=ResourceKind.ROOM, name="Cost room")
    book(doctor, first, consult, at(monday, "09:00"), desk, resource=room)  # 09:00-09:20, buffer to 09:30
    # The doctor's next grid slot (09:30) is free, but a booking of `first` with the other doctor at
    # 09:00 clashes on the patient and on the room at once: the patient is reported before the room.
    with pytest.raises(Conflict) as err:
        book(other, first, consult, at(monday, "09:00"), desk, resource=room)
    assert err.value.payload["conflict"] == "patient"
    # Practitioner and patient both busy: the practitioner comes first.
    with pytest.raises(Conflict) as err:
        book(doctor, first, consult, at(monday, "09:00"), desk)
    assert err.value.payload["conflict"] == "practitioner"
    # Only the room: resource.
    with pytest.raises(Conflict) as err:
        book(other, second, consult, at(monday, "09:00"), desk, resource=room)
    assert err.value.payload["conflict"] == "resource"
    assert Appointment.objects.count() == 1
    # The next slot of the buffered grid is free for another patient.
    assert book(doctor, second, consult, at(monday, "09:30"), desk).pk


def test_buffer_clash_alone_is_a_practitioner_conflict(consult, monday, desk):
    doctor = make_user(Role.DOCTOR)
    give_schedule(doctor.practitioner, ranges=(("09:00", "12:00"),), buffer_minutes=10)
    other = make_user(Role.DOCTOR)
    give_schedule(other.practitioner, ranges=(("09:00", "12:00"),), buffer_minutes=10)
    # An appointment of `doctor` at 09:30 written around the grid (09:30-09:50 + 10 min buffer),
    # then a booking at 10:00 whose buffered range [09:50, 10:30) touches it only through the buffer.
    patient = PatientFactory()
    book(doctor, patient, consult, at(monday, "09:30"), desk)
    Appointment.objects.filter(patient=patient).update(start=at(monday, "09:35"), end=at(monday, "09:55"))
    with pytest.raises(Conflict) as err:
        book(doctor, PatientFactory(), consult, at(monday, "10:00"), desk)
    assert err.value.payload == {"conflict": "practitioner", "code": "appointment_overlap"}
    # Without the buffer clash (the other doctor) the same time is free.
    assert book(other, PatientFactory(), consult, at(monday, "10:00"), desk).pk


def test_inactive_appointments_and_the_moved_one_itself_do_not_clash(sched_doctor, consult, monday, desk):
    patient = PatientFactory()
    first = book(sched_doctor, patient, consult, at(monday, "09:00"), desk)
    services.appointment_cancel(appointment=first, by=desk, reason="ill")
    second = book(sched_doctor, patient, consult, at(monday, "09:00"), desk)
    moved = services.appointment_reschedule(appointment=second, start=at(monday, "09:20"), by=desk)
    assert moved.start == at(monday, "09:20")
    back = services.appointment_reschedule(appointment=moved, start=at(monday, "09:00"), by=desk)
    assert back.start == at(monday, "09:00")


def test_field_rules_still_hold_without_the_foreign_key_reads(sched_doctor, consult, monday, desk):
    patient = PatientFactory()
    with pytest.raises(ValidationError) as err:
        book(sched_doctor, patient, consult, at(monday, "09:00"), desk, channel="pigeon")
    assert "channel" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        book(sched_doctor, patient, consult, at(monday, "09:00"), desk, channel="")
    assert "channel" in err.value.message_dict
    assert not Appointment.objects.exists() and not AppointmentChange.objects.exists()


def test_a_booking_through_the_api_stays_within_its_sql_budget(sched_doctor, consult, monday):
    patient_user = make_user(Role.PATIENT)
    client = api_client_for(patient_user)
    body = {
        "practitioner": sched_doctor.practitioner.pk,
        "service": "consult",
        "start": at(monday, "09:00").isoformat(),
        "channel": "web",
    }
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/api/appointments/", body, format="json")
    assert response.status_code == 201, response.content
    sql = [q["sql"] for q in queries.captured_queries]
    # Tests run tasks eagerly: leave out the notice, which a worker does in production.
    notice = next((i for i, s in enumerate(sql) if "messaging_" in s), len(sql))
    booking = sql[:notice]
    # user, groups, patient, doctor, service, lock, hours, exceptions, overlaps, 3 inserts (+ BEGIN/COMMIT
    # and a SAVEPOINT pair on SQLite); it was 22 on PostgreSQL before (docs/performance.md).
    assert len([s for s in booking if "SAVEPOINT" not in s]) <= 14, booking
    assert not [s for s in booking if s.startswith('SELECT 1 AS "a"')], "foreign keys re-read"
    assert sum(1 for s in booking if "scheduling_appointment" in s and s.startswith("SELECT")) == 1
    appointment = Appointment.objects.get()
    assert AuditEvent.objects.filter(object_id=str(appointment.pk), action="create").count() == 1
    assert AppointmentChange.objects.filter(appointment=appointment).count() == 1
    assert response.json()["patient"]["id"] == patient_user.patient.pk


def test_overlapping_is_half_open_and_uses_the_range_index_on_postgresql(sched_doctor, consult, monday, desk):
    appointment = book(sched_doctor, PatientFactory(), consult, at(monday, "09:00"), desk)  # 09:00-09:20
    active = Appointment.objects.active()

    def hits(a, b):
        return list(active.overlapping(at(monday, a), at(monday, b)).values_list("pk", flat=True))

    assert hits("08:40", "09:00") == []  # ends where it starts: [) ranges do not touch
    assert hits("09:20", "09:40") == []
    assert hits("08:59", "09:01") == [appointment.pk]
    assert hits("09:05", "09:10") == [appointment.pk]  # inside
    assert hits("08:00", "10:00") == [appointment.pk]  # around
    assert hits("09:10", "09:05") == []  # an inverted window is empty, never an error
    assert hits("09:10", "09:10") == []
    with CaptureQueriesContext(connection) as queries:
        hits("09:05", "09:10")
    if connection.vendor == "postgresql":
        assert "tstzrange" in queries[0]["sql"] and "&&" in queries[0]["sql"]
    else:
        assert "tstzrange" not in queries[0]["sql"]
