"""Dispensing: verify, partial then full dispense (completes the prescription), FEFO lots recorded, limits,
the work list, the API (role matrix, another patient's dispense → 404) and concurrency on PostgreSQL."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import AllergyIntolerance
from hms.core import codes
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.inventory.models import StockBalance, StockMove
from hms.inventory.tests.stock_fixtures import days, make_world, receive, signed_prescription
from hms.pharmacy import dispensing
from hms.pharmacy.models import MedicationDispense


@pytest.fixture(name="world")
def world_fixture(db):
    return make_world()


def dispense(world, rx, qty, **kw):
    return dispensing.prescription_dispense(
        prescription=rx, quantity=Decimal(qty), location=world["pharmacy"], by=world["pharmacist"], **kw
    )


def test_partial_then_full_dispense_completes_the_prescription(world):
    receive(world, world["amox"], "LATE", "100", days(300))
    receive(world, world["amox"], "SOON", "8", days(15))
    rx = signed_prescription(world["patient"], quantity="21", doctor=world["doctor"])

    first = dispense(world, rx, "10")
    assert first.is_partial and first.quantity == 10
    assert [(lot["lot_number"], lot["quantity"]) for lot in first.lots] == [("SOON", "8"), ("LATE", "2")]
    assert first.days_supply == 3  # 10 capsules / (1 capsule x 3 a day)
    rx.refresh_from_db()
    assert rx.status == "active"
    assert dispensing.dispense_worklist(world["pharmacist"]).get(pk=rx.pk).dispensed == 10

    with pytest.raises(ValidationError) as exc:
        dispense(world, rx, "12")
    assert "11" in exc.value.message_dict["quantity"][0]

    second = dispense(world, rx, "11", days_supply=4)
    assert not second.is_partial and second.days_supply == 4
    rx.refresh_from_db()
    assert rx.status == "completed"
    assert not dispensing.dispense_worklist(world["pharmacist"]).filter(pk=rx.pk).exists()
    assert StockMove.objects.filter(dispense__prescription=rx, kind="dispense").count() == 3
    assert sum(b.quantity for b in StockBalance.objects.filter(item=world["amox"])) == 108 - 21
    assert (
        AuditEvent.objects.filter(object_type="pharmacy.MedicationDispense", patient=world["patient"]).count()
        == 2
    )
    with pytest.raises(Conflict):
        dispense(world, rx, "1")


def test_refills_multiply_the_allowed_quantity(world):
    receive(world, world["amox"], "A", "100", days(300))
    rx = signed_prescription(world["patient"], quantity="10", refills=2)
    dispense(world, rx, "10")
    dispense(world, rx, "10")
    rx.refresh_from_db()
    assert rx.status == "active"
    dispense(world, rx, "10")
    rx.refresh_from_db()
    assert rx.status == "completed"


def test_short_stock_refuses_and_writes_nothing(world):
    receive(world, world["amox"], "A", "5", days(300))
    rx = signed_prescription(world["patient"], quantity="21")
    with pytest.raises(Conflict) as exc:
        dispense(world, rx, "6")
    assert "Not enough" in exc.value.message
    assert not MedicationDispense.objects.exists()
    assert StockBalance.objects.get().quantity == 5


@pytest.mark.parametrize("status", ["draft", "stopped", "completed"])
def test_only_active_signed_prescriptions_are_dispensed(world, status):
    receive(world, world["amox"], "A", "50", days(300))
    rx = signed_prescription(world["patient"], status=status)
    with pytest.raises((Conflict, NotFoundOrForbidden)):
        dispense(world, rx, "1")
    unsigned = signed_prescription(world["patient"])
    unsigned.signed_at = None
    unsigned.save()
    with pytest.raises(Conflict):
        dispense(world, unsigned, "1")
    assert not MedicationDispense.objects.exists()


def test_only_pharmacists_dispense(world):
    receive(world, world["amox"], "A", "50", days(300))
    rx = signed_prescription(world["patient"])
    for role in ("doctor", "nurse", "admin", "patient_user"):
        with pytest.raises(PermissionDenied):
            dispensing.prescription_dispense(
                prescription=rx, quantity=Decimal("1"), location=world["pharmacy"], by=world[role]
            )


def test_verify_shows_findings_allergies_and_problems(world):
    AllergyIntolerance.objects.create(
        patient=world["patient"],
        code_system=codes.RXNORM,
        code="7980",
        code_display="Penicillin G",
        category="medication",
        criticality="high",
        clinical_status="active",
    )
    rx = signed_prescription(world["patient"], quantity=None)
    check = dispensing.dispense_verify(prescription=rx, by=world["pharmacist"])
    assert not check.dispensable
    assert any("quantity" in p for p in check.problems)
    assert check.cds_findings[0]["kind"] == "allergy"
    assert [a.code_display for a in check.allergies] == ["Penicillin G"]
    assert AuditEvent.objects.filter(action="read", object_id=str(rx.pk), patient=world["patient"]).exists()


# ---------------------------------------------------------------- API


def test_dispense_api_and_role_matrix(world):
    receive(world, world["amox"], "A", "100", days(300))
    rx = signed_prescription(world["patient"], quantity="20")
    other_rx = signed_prescription(world["stranger"], quantity="20")
    body = {"prescription": rx.pk, "quantity": "5", "location": world["pharmacy"].pk}

    for role in ("doctor", "nurse", "patient_user", "receptionist", "billing", "lab", "admin"):
        assert api_client_for(world[role]).post("/api/dispenses/", body, format="json").status_code == 403, (
            role
        )
    assert api_client_for(None).post("/api/dispenses/", body, format="json").status_code == 401

    pharmacist = api_client_for(world["pharmacist"])
    res = pharmacist.post("/api/dispenses/", body, format="json")
    assert res.status_code == 201, res.content
    assert res.json()["is_partial"] is True and res.json()["lots"][0]["lot_number"] == "A"
    mine = res.json()["id"]
    theirs = pharmacist.post("/api/dispenses/", {**body, "prescription": other_rx.pk}, format="json").json()[
        "id"
    ]

    # bad input: 400 with the field, never 500
    assert pharmacist.post("/api/dispenses/", {**body, "quantity": "abc"}, format="json").status_code == 400
    res = pharmacist.post("/api/dispenses/", {**body, "quantity": "500"}, format="json")
    assert res.status_code == 400 and "quantity" in res.json()
    res = pharmacist.post("/api/dispenses/", {**body, "location": 999999}, format="json")
    assert res.status_code == 400 and "location" in res.json()
    assert (
        pharmacist.post("/api/dispenses/", {**body, "prescription": 999999}, format="json").status_code == 404
    )

    # reads
    def ids(user, url="/api/dispenses/"):
        res = api_client_for(user).get(url)
        return res.status_code, sorted(
            d["id"] for d in res.json().get("results", [])
        ) if res.status_code == 200 else []

    assert ids(world["pharmacist"]) == (200, sorted([mine, theirs]))
    assert ids(world["doctor"]) == (200, [mine])
    assert ids(world["nurse"]) == (200, [mine])
    assert ids(world["patient_user"]) == (200, [mine])
    assert ids(world["stranger_user"]) == (200, [theirs])
    for role in ("receptionist", "billing", "lab", "admin"):
        assert ids(world[role])[0] == 403, role

    for user, ok, missing in (
        (world["patient_user"], mine, theirs),
        (world["doctor"], mine, theirs),
        (world["nurse"], mine, theirs),
        (world["stranger_user"], theirs, mine),
    ):
        assert api_client_for(user).get(f"/api/dispenses/{ok}/").status_code == 200
        assert api_client_for(user).get(f"/api/dispenses/{missing}/").status_code == 404
    assert pharmacist.get("/api/dispenses/999999/").status_code == 404
    assert AuditEvent.objects.filter(action="read", object_type="pharmacy.MedicationDispense").exists()
    assert AuditEvent.objects.filter(action="search", object_type="pharmacy.MedicationDispense").exists()


def test_worklist_api(world):
    rx = signed_prescription(world["patient"], quantity="20")
    signed_prescription(world["patient"], status="draft")
    signed_prescription(world["patient"], status="completed")
    res = api_client_for(world["pharmacist"]).get("/api/dispensing/worklist/")
    assert res.status_code == 200
    assert [r["id"] for r in res.json()["results"]] == [rx.pk]
    assert res.json()["results"][0]["allowed"] == "20.000"
    for role in ("doctor", "nurse", "patient_user", "receptionist", "billing", "lab", "admin"):
        assert api_client_for(world[role]).get("/api/dispensing/worklist/").status_code == 403, role


# ---------------------------------------------------------------- concurrency (PostgreSQL)

THREADS = 12


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only: real row locks between connections"
)
def test_concurrent_dispenses_of_the_last_units_never_go_negative():
    from hms.inventory.models import InventoryItem, StockLocation
    from hms.inventory.tests.stock_fixtures import AMOXICILLIN

    pharmacist = make_user(Role.PHARMACIST)
    location = StockLocation.objects.create(name="Main pharmacy")
    item = InventoryItem.objects.create(
        kind="medication", rxcui=AMOXICILLIN, name="amoxicillin", unit="capsule"
    )
    fake_world = {"pharmacist": pharmacist, "pharmacy": location}
    receive(fake_world, item, "L1", "3", days(30))
    receive(fake_world, item, "L2", "2", days(60))  # 5 units in all
    prescriptions = [signed_prescription(PatientFactory(), quantity="1") for _ in range(THREADS)]
    clients = [api_client_for(pharmacist) for _ in prescriptions]
    barrier = threading.Barrier(THREADS)
    statuses, errors = [], []

    def attempt(client, rx):
        try:
            barrier.wait(timeout=30)
            res = client.post(
                "/api/dispenses/",
                {"prescription": rx.pk, "quantity": "1", "location": location.pk},
                format="json",
            )
            statuses.append(res.status_code)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=attempt, args=pair) for pair in zip(clients, prescriptions, strict=True)
    ]
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
    assert sorted(statuses) == [201] * 5 + [409] * (THREADS - 5)
    assert MedicationDispense.objects.count() == 5
    assert all(b.quantity == 0 for b in StockBalance.objects.all())
    assert sum(m.quantity for m in StockMove.objects.all()) == 0
