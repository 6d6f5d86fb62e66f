"""One bed, many simultaneous admissions, on PostgreSQL: real threads, real connections, the HTTP stack.

Exactly one admission wins; every other request answers 409 (never 500); one current stay on the bed.
"""

import threading

import pytest
from django.db import connection

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.inpatient.models import Admission, BedStay, Location

from .conftest import build_tree

THREADS = 12

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only: row locks"),
]


def test_concurrent_admissions_to_one_bed_give_one_201_and_409s():
    tree = build_tree(make_user(Role.ADMIN))
    bed = tree["beds"]["M1-1"]
    doctor = make_user(Role.DOCTOR)
    patients = [PatientFactory() for _ in range(THREADS)]
    clients = [api_client_for(doctor) for _ in patients]
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def attempt(client, patient):
        try:
            barrier.wait(timeout=30)
            res = client.post(
                "/api/admissions/",
                {
                    "patient": patient.pk,
                    "admitting_practitioner": doctor.practitioner.pk,
                    "source": "emergency",
                    "reason": "Chest pain",
                    "bed": bed.pk,
                },
                format="json",
            )
            statuses.append(res.status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(c, p)) for c, p in zip(clients, patients, strict=True)]
    pool = getattr(connection, "pool", None)
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
    assert Admission.objects.filter(status="active").count() == 1
    assert BedStay.objects.filter(bed=bed, end__isnull=True).count() == 1
    assert Location.objects.get(pk=bed.pk).status == "occupied"
