"""Pharmacy portal pages: work list, verify + dispense (allergy banner, CDS findings, FEFO lots), stock
page forms, reports with CSV; who may open them."""

from decimal import Decimal

import pytest
from django.test import Client

from hms.audit.models import AuditEvent
from hms.clinical.models import AllergyIntolerance
from hms.core import codes
from hms.inventory.models import ReorderLevel, StockBalance, StockLot, StockMove
from hms.pharmacy.models import MedicationDispense

from .stock_fixtures import days, receive, signed_prescription


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rx(world):
    receive(world, world["amox"], "LATE", "100", days(300))
    receive(world, world["amox"], "SOON", "6", days(12))
    AllergyIntolerance.objects.create(
        patient=world["patient"],
        code_system=codes.RXNORM,
        code="7980",
        code_display="Penicillin G",
        category="medication",
        criticality="high",
        clinical_status="active",
    )
    return signed_prescription(world["patient"], quantity="21", doctor=world["doctor"])


def test_pages_are_for_pharmacists(world, rx):
    urls = ["/pharmacy/worklist/", f"/pharmacy/prescriptions/{rx.pk}/dispense/", "/pharmacy/stock/"]
    for role in ("doctor", "nurse", "patient_user", "receptionist", "billing", "lab", "admin"):
        c = client_for(world[role])
        for url in urls:
            assert c.get(url).status_code == 403, (role, url)
        assert c.get("/pharmacy/reports/").status_code == (200 if role == "admin" else 403)
    assert Client().get(urls[0]).status_code == 302  # to the login page


def test_worklist_and_dispense_page(world, rx):
    c = client_for(world["pharmacist"])
    page = c.get("/pharmacy/worklist/")
    assert page.status_code == 200
    assert world["patient"].mrn in page.content.decode()
    assert AuditEvent.objects.filter(action="search", object_type="pharmacy.MedicationRequest").exists()

    page = c.get(f"/pharmacy/prescriptions/{rx.pk}/dispense/").content.decode()
    assert "Penicillin G" in page and "Cross-sensitivity noted" in page
    # FEFO pre-filled for the whole remaining quantity: the soon lot first
    assert page.index(">SOON<") < page.index(">LATE<")
    plan = c.get(
        f"/pharmacy/prescriptions/{rx.pk}/dispense/?partial=plan&location={world['pharmacy'].pk}&quantity=4",
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert "SOON" in plan and "LATE" not in plan

    res = c.post(
        f"/pharmacy/prescriptions/{rx.pk}/dispense/",
        {"location": world["pharmacy"].pk, "quantity": "30", "days_supply": "", "note": ""},
    )
    assert res.status_code == 400 and "21 capsule remain" in res.content.decode()
    res = c.post(
        f"/pharmacy/prescriptions/{rx.pk}/dispense/",
        {"location": world["pharmacy"].pk, "quantity": "21", "days_supply": "7", "note": "counselled"},
    )
    assert res.status_code == 302 and res["Location"] == "/pharmacy/worklist/"
    dispense = MedicationDispense.objects.get()
    assert [lot["lot_number"] for lot in dispense.lots] == ["SOON", "LATE"]
    rx.refresh_from_db()
    assert rx.status == "completed"
    assert f"/pharmacy/prescriptions/{rx.pk}/" not in c.get("/pharmacy/worklist/").content.decode()


def test_another_patients_prescription_is_404_for_non_issued(world):
    draft = signed_prescription(world["patient"], status="draft")
    assert (
        client_for(world["pharmacist"]).get(f"/pharmacy/prescriptions/{draft.pk}/dispense/").status_code
        == 404
    )
    assert client_for(world["pharmacist"]).get("/pharmacy/prescriptions/999999/dispense/").status_code == 404


def test_stock_page_receive_adjust_write_off(world):
    c = client_for(world["pharmacist"])
    ReorderLevel.objects.create(item=world["amox"], location=world["pharmacy"], level=Decimal("50"))
    res = c.post(
        "/pharmacy/stock/",
        {
            "action": "receive",
            "receive-item": world["amox"].pk,
            "receive-location": world["pharmacy"].pk,
            "receive-lot_number": "R1",
            "receive-expiry_date": days(200).isoformat(),
            "receive-quantity": "20",
        },
    )
    assert res.status_code == 302
    lot = StockLot.objects.get(lot_number="R1")
    page = c.get("/pharmacy/stock/").content.decode()
    assert 'data-testid="low-alert"' in page and "amoxicillin" in page
    res = c.post(
        "/pharmacy/stock/",
        {
            "action": "adjust",
            "adjust-lot": lot.pk,
            "adjust-location": world["pharmacy"].pk,
            "adjust-delta": "-25",
            "adjust-reason": "count",
        },
    )
    assert res.status_code == 400 and "cannot remove" in res.content.decode()
    res = c.post(
        "/pharmacy/stock/",
        {
            "action": "adjust",
            "adjust-lot": lot.pk,
            "adjust-location": world["pharmacy"].pk,
            "adjust-delta": "-2",
            "adjust-reason": "",
        },
    )
    assert res.status_code == 400
    old = StockLot.objects.create(item=world["amox"], lot_number="OLD", expiry_date=days(-5))
    StockBalance.objects.create(
        lot=old, location=world["pharmacy"], item=world["amox"], quantity=Decimal("4")
    )
    assert 'data-testid="expired-alert"' in c.get("/pharmacy/stock/").content.decode()
    res = c.post("/pharmacy/stock/", {"action": "write-off", "write-off-location": world["pharmacy"].pk})
    assert res.status_code == 302
    assert StockMove.objects.filter(kind="write-off", lot=old).count() == 1


def test_reports_page_and_csv(world):
    receive(world, world["amox"], "A1", "10", days(5), cost="0.25")
    c = client_for(world["admin"])
    page = c.get("/pharmacy/reports/?days=10").content.decode()
    assert "A1" in page and "2.50 USD" in page
    res = c.get("/pharmacy/reports/?download=valuation")
    assert res["Content-Type"].startswith("text/csv")
    assert "TOTAL,,,,,2.50,USD" in res.content.decode()
    assert "A1" in c.get("/pharmacy/reports/?download=expiring&days=10").content.decode()
    assert c.get("/pharmacy/reports/?days=abc").status_code == 200
