"""Inventory API: role matrix of every endpoint, the write actions, reports (Decimal totals) and CSV."""

import csv
import io
from decimal import Decimal

import pytest

from hms.audit.models import AuditEvent
from hms.core.testing import api_client_for
from hms.inventory.models import ReorderLevel, StockBalance, StockLot

from .stock_fixtures import days, receive

READ_ENDPOINTS = [
    "/api/inventory/items/",
    "/api/inventory/locations/",
    "/api/inventory/lots/",
    "/api/inventory/stock/",
]
REPORTS = [
    "/api/inventory/reports/expiring/",
    "/api/inventory/reports/valuation/",
    "/api/inventory/reports/low-stock/",
]
ALL_ROLES = ["pharmacist", "doctor", "nurse", "admin", "receptionist", "billing", "lab", "patient_user"]
READERS = {"pharmacist", "doctor", "nurse", "admin"}
REPORT_READERS = {"pharmacist", "admin"}


@pytest.fixture
def stocked(world):
    receive(world, world["amox"], "A-SOON", "10", days(10), cost="0.15")
    receive(world, world["amox"], "A-LATE", "40", days(400), cost="0.1")
    receive(world, world["gloves"], "G1", "200", None, cost="0.075")
    ReorderLevel.objects.create(item=world["gloves"], location=world["pharmacy"], level=Decimal("500"))
    return world


@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_matrix_reads(stocked, role):
    client = api_client_for(stocked[role])
    for url in READ_ENDPOINTS:
        assert client.get(url).status_code == (200 if role in READERS else 403), (role, url)
    for url in REPORTS:
        assert client.get(url).status_code == (200 if role in REPORT_READERS else 403), (role, url)
    assert client.get("/api/inventory/moves/").status_code == (200 if role == "pharmacist" else 403)
    assert api_client_for(None).get(READ_ENDPOINTS[0]).status_code == 401


@pytest.mark.parametrize("role", ALL_ROLES)
def test_role_matrix_writes(stocked, role):
    w = stocked
    lot = StockLot.objects.get(lot_number="A-LATE")
    bodies = {
        "receive": {
            "item": w["amox"].pk,
            "location": w["pharmacy"].pk,
            "lot_number": "N1",
            "quantity": "5",
            "expiry_date": days(90).isoformat(),
        },
        "transfer": {
            "item": w["amox"].pk,
            "quantity": "2",
            "from_location": w["pharmacy"].pk,
            "to_location": w["ward"].pk,
        },
        "adjust": {"lot": lot.pk, "location": w["pharmacy"].pk, "delta": "-1", "reason": "broken"},
        "return": {"lot": lot.pk, "location": w["pharmacy"].pk, "quantity": "1", "reason": "unused"},
        "write-off": {"location": w["pharmacy"].pk},
    }
    client = api_client_for(w[role])
    for action, body in bodies.items():
        res = client.post(f"/api/inventory/moves/{action}/", body, format="json")
        assert res.status_code == (201 if role == "pharmacist" else 403), (role, action, res.content)
    item = client.post(
        "/api/inventory/items/",
        {"kind": "supply", "name": f"Syringe 5 mL {role}", "unit": "each"},
        format="json",
    )
    assert item.status_code == (201 if role in ("pharmacist", "admin") else 403)
    loc = client.post(
        "/api/inventory/locations/", {"name": f"ICU store {role}", "kind": "ward"}, format="json"
    )
    assert loc.status_code == (201 if role in ("pharmacist", "admin") else 403)


def test_receive_transfer_and_stock_view(stocked):
    w = stocked
    client = api_client_for(w["pharmacist"])
    res = client.post(
        "/api/inventory/moves/transfer/",
        {
            "item": w["amox"].pk,
            "quantity": "12",
            "from_location": w["pharmacy"].pk,
            "to_location": w["ward"].pk,
        },
        format="json",
    )
    assert res.status_code == 201
    assert sorted((m["lot_number"], m["quantity"]) for m in res.json()) == [
        ("A-LATE", "-2.000"),
        ("A-LATE", "2.000"),
        ("A-SOON", "-10.000"),
        ("A-SOON", "10.000"),
    ]
    stock = api_client_for(w["nurse"]).get(f"/api/inventory/stock/?location={w['ward'].pk}").json()
    assert [(s["item"]["name"], s["on_hand"], s["next_expiry"]) for s in stock] == [
        ("amoxicillin 500 MG Oral Capsule", "12.000", days(10).isoformat())
    ]
    gloves = [s for s in client.get("/api/inventory/stock/").json() if s["item"]["kind"] == "supply"]
    assert gloves[0]["low"] is True and gloves[0]["reorder_level"] == "500.000"


def test_write_errors_are_400_or_409_never_500(stocked):
    w = stocked
    client = api_client_for(w["pharmacist"])
    res = client.post(
        "/api/inventory/moves/transfer/",
        {
            "item": w["amox"].pk,
            "quantity": "51",
            "from_location": w["pharmacy"].pk,
            "to_location": w["ward"].pk,
        },
        format="json",
    )
    assert res.status_code == 409 and res.json()["available"] == "50.000"
    res = client.post(
        "/api/inventory/moves/adjust/",
        {"lot": 999999, "location": w["pharmacy"].pk, "delta": "1", "reason": "x"},
        format="json",
    )
    assert res.status_code == 400 and "lot" in res.json()
    res = client.post(
        "/api/inventory/moves/adjust/",
        {"lot": StockLot.objects.first().pk, "location": w["pharmacy"].pk, "delta": "1"},
        format="json",
    )
    assert res.status_code == 400 and "reason" in res.json()
    res = client.post(
        "/api/inventory/moves/receive/",
        {"item": w["amox"].pk, "location": w["pharmacy"].pk, "lot_number": 12, "quantity": "1e999"},
        format="json",
    )
    assert res.status_code == 400
    res = client.post(
        "/api/inventory/items/", {"kind": "medication", "rxcui": "0000", "unit": "tablet"}, format="json"
    )
    assert res.status_code == 400 and "rxcui" in res.json()
    assert client.get("/api/inventory/reports/expiring/?days=abc").status_code == 400


def test_expiring_report_and_csv(stocked):
    w = stocked
    old = StockLot.objects.create(item=w["amox"], lot_number="A-OLD", expiry_date=days(-1))
    StockBalance.objects.create(lot=old, location=w["ward"], item=w["amox"], quantity=Decimal("3"))
    client = api_client_for(w["pharmacist"])
    rows = client.get("/api/inventory/reports/expiring/?days=30").json()
    assert [(r["lot_number"], r["expired"]) for r in rows] == [("A-OLD", True), ("A-SOON", False)]
    res = client.get("/api/inventory/reports/expiring/?days=30&format=csv")
    assert res.status_code == 200 and res["Content-Type"].startswith("text/csv")
    assert "attachment" in res["Content-Disposition"]
    table = list(csv.reader(io.StringIO(res.content.decode())))
    assert table[0][:4] == ["item", "rxcui", "lot_number", "expiry_date"]
    assert [r[2] for r in table[1:]] == ["A-OLD", "A-SOON"]
    assert [r["lot_number"] for r in client.get("/api/inventory/reports/expiring/?days=500").json()] == [
        "A-OLD",
        "A-SOON",
        "A-LATE",
    ]


def test_valuation_report_is_exact_decimal(stocked):
    client = api_client_for(stocked["admin"])
    data = client.get("/api/inventory/reports/valuation/").json()
    # 10 x 0.15 + 40 x 0.10 + 200 x 0.075 = 1.50 + 4.00 + 15.00
    assert data["totals"] == {"USD": "20.50"}
    assert sorted((line["item"], line["value"]) for line in data["lines"]) == [
        ("Nitrile gloves (pair)", "15.00"),
        ("amoxicillin 500 MG Oral Capsule", "5.50"),
    ]
    table = list(
        csv.reader(io.StringIO(client.get("/api/inventory/reports/valuation/?format=csv").content.decode()))
    )
    assert table[-1] == ["TOTAL", "", "", "", "", "20.50", "USD"]


def test_low_stock_report_and_csv(stocked):
    client = api_client_for(stocked["pharmacist"])
    rows = client.get("/api/inventory/reports/low-stock/").json()
    assert [(r["item"]["name"], r["usable"], r["reorder_level"]) for r in rows] == [
        ("Nitrile gloves (pair)", "200.000", "500.000")
    ]
    table = list(
        csv.reader(io.StringIO(client.get("/api/inventory/reports/low-stock/?format=csv").content.decode()))
    )
    assert table[1][:5] == ["Nitrile gloves (pair)", "", "Main pharmacy", "200.000", "500.000"]


def test_moves_list_is_audited_with_the_patients(stocked):
    client = api_client_for(stocked["pharmacist"])
    res = client.get("/api/inventory/moves/?kind=receive")
    assert res.status_code == 200 and res.json()["count"] == 3
    assert AuditEvent.objects.filter(action="search", object_type="inventory.StockMove").exists()
