"""No double booking under concurrency, on PostgreSQL: real threads, real connections, real HTTP stack.

SQLite serialises every write transaction (IMMEDIATE), so the race this proves cannot happen there.
"""

import threading

import pytest
from django.db import IntegrityError, connection, transaction

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.scheduling.models import Appointment

from .conftest import at

THREADS = 24

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="PostgreSQL only: row locks and exclusion constraints"
    ),
]

OVERLAPS_SQL = """
    SELECT count(*) FROM scheduling_appointment a JOIN scheduling_appointment b ON a.id < b.id
    WHERE a.status NOT IN ('cancelled', 'noshow', 'entered-in-error')
      AND b.status NOT IN ('cancelled', 'noshow', 'entered-in-error')
      AND (a.practitioner_id = b.practitioner_id OR a.patient_id = b.patient_id
           OR a.resource_id = b.resource_id)
      AND tstzrange(a.start, a."end", '[)') && tstzrange(b.start, b."end", '[)')
"""


def test_concurrent_bookings_of_one_slot_give_one_201_and_409s(sched_doctor, consult, monday):
    receptionist = make_user(Role.RECEPTIONIST)
    patients = [PatientFactory() for _ in range(THREADS)]
    body = {
        "practitioner": sched_doctor.practitioner.pk,
        "service": "consult",
        "start": at(monday, "09:00").isoformat(),
    }
    clients = [api_client_for(receptionist) for _ in patients]  # tokens made here, not in the race
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def attempt(client, patient):
        try:
            barrier.wait(timeout=30)
            res = client.post("/api/appointments/", {**body, "patient": patient.pk}, format="json")
            statuses.append(res.status_code)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(c, p)) for c, p in zip(clients, patients, strict=True)]
    pool = getattr(connection, "pool", None)  # psycopg pool (DB_POOL): one real connection per thread
    if pool is not None:
        sizes = (pool.min_size, pool.max_size)
        pool.resize(min_size=sizes[0], max_size=THREADS + 2)
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if pool is not None:
        pool.resize(*sizes)

    assert not errors
    assert sorted(statuses) == [201] + [409] * (THREADS - 1)
    assert Appointment.objects.active().count() == 1
    with connection.cursor() as cursor:
        cursor.execute(OVERLAPS_SQL)
        assert cursor.fetchone()[0] == 0


def test_exclusion_constraints_refuse_overlaps_written_around_the_services(sched_doctor, consult, monday):
    """The database itself refuses an overlapping active row (practitioner, then patient), but not a
    cancelled one."""
    patient = PatientFactory()
    common = {"service_type": consult, "start": at(monday, "09:00"), "end": at(monday, "09:20")}
    Appointment.objects.create(patient=patient, practitioner=sched_doctor.practitioner, **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(patient=PatientFactory(), practitioner=sched_doctor.practitioner, **common)
    other = make_user(Role.DOCTOR).practitioner
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(patient=patient, practitioner=other, **common)
    Appointment.objects.create(patient=patient, practitioner=other, status="cancelled", **common)
