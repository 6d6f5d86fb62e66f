"""Cash-up and accounts-receivable ageing, with known dates (time_machine), as JSON and CSV, by role."""

import csv
import datetime as dt
import io
import zoneinfo
from decimal import Decimal

import pytest
import time_machine

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import payments, reports
from hms.core.testing import PatientFactory, api_client_for, make_user

from .payment_factories import issued_invoice

pytestmark = pytest.mark.django_db

NY = zoneinfo.ZoneInfo("America/New_York")


def at(y, m, d, h=12, minute=0):
    return dt.datetime(y, m, d, h, minute, tzinfo=NY)


def pay(invoice, amount, key, by, method="cash"):
    return payments.payment_record(invoice=invoice, method=method, amount=amount, idempotency_key=key, by=by)[
        0
    ]


@pytest.fixture
def day_of_payments(settings):
    settings.HOSPITAL_TIME_ZONE = "America/New_York"
    alice, bob, admin = make_user(Role.BILLING), make_user(Role.RECEPTIONIST), make_user(Role.ADMIN)
    patient = PatientFactory()
    inv = issued_invoice(patient, amount="500.00", by=alice)
    with time_machine.travel(at(2026, 11, 20, 0, 5), tick=False):
        p1 = pay(inv, "100.00", "a1", alice)
    with time_machine.travel(at(2026, 11, 20, 9), tick=False):
        pay(inv, "50.00", "a2", alice, method="card")
        pay(inv, "25.50", "b1", bob)
    with time_machine.travel(at(2026, 11, 20, 23, 30), tick=False):  # 04:30 UTC on the 21st: still the 20th
        pay(inv, "10.00", "b2", bob)
    with time_machine.travel(at(2026, 11, 21, 0, 1), tick=False):  # the next day
        pay(inv, "99.00", "next", alice)
    with time_machine.travel(at(2026, 11, 20, 15), tick=False):
        refund = payments.refund_request(payment=p1, amount="20.00", reason="Overcharged", by=alice)
        payments.refund_decide(refund=refund, approve=True, by=admin)
    return {"alice": alice, "bob": bob, "admin": admin}


def test_cash_up_totals_by_cashier_and_method_in_hospital_zone(day_of_payments):
    alice, bob, admin = day_of_payments["alice"], day_of_payments["bob"], day_of_payments["admin"]
    report = reports.cash_up(user=admin, day=dt.date(2026, 11, 20))
    rows = {(r["cashier_id"], r["method"]): (r["count"], r["amount"]) for r in report["rows"]}
    assert rows == {
        (alice.pk, "cash"): (1, "100.00"),
        (alice.pk, "card"): (1, "50.00"),
        (bob.pk, "cash"): (2, "35.50"),
    }
    assert report["by_method"] == {"card": "50.00", "cash": "135.50"}
    assert report["collected"] == "185.50" and report["refunded"] == "20.00" and report["net"] == "165.50"
    assert report["refunds"][0]["approver_id"] == admin.pk
    # a receptionist sees only their own drawer, whatever cashier they ask for
    own = reports.cash_up(user=bob, day=dt.date(2026, 11, 20), cashier_id=alice.pk)
    assert own["collected"] == "35.50" and own["refunded"] == "0.00"
    assert reports.cash_up(user=admin, day=dt.date(2026, 11, 21))["collected"] == "99.00"


def test_cash_up_api_json_csv_and_roles(day_of_payments):
    c = api_client_for(day_of_payments["admin"])
    res = c.get("/api/reports/billing/cash-up/?date=2026-11-20")
    assert res.status_code == 200 and res.json()["net"] == "165.50"
    as_csv = c.get("/api/reports/billing/cash-up/?date=2026-11-20&format=csv")
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode())))
    assert rows[0] == ["date", "section", "cashier", "method", "count", "amount"]
    assert rows[-1][1:] == ["net", "", "", "", "165.50"]
    assert rows[-4][:2] == ["2026-11-20", "refund"]
    assert c.get("/api/reports/billing/cash-up/?date=20-11-2026").status_code == 400
    for role, code in {
        Role.BILLING: 200,
        Role.RECEPTIONIST: 200,
        Role.DOCTOR: 403,
        Role.NURSE: 403,
        Role.PATIENT: 403,
        Role.PHARMACIST: 403,
        Role.LAB_TECHNICIAN: 403,
    }.items():
        assert api_client_for(make_user(role)).get("/api/reports/billing/cash-up/").status_code == code, role


@pytest.fixture
def open_invoices(settings):
    settings.HOSPITAL_TIME_ZONE = "America/New_York"
    clerk = make_user(Role.BILLING)
    made = {}
    for name, issued, amount in [
        ("old", at(2026, 7, 1), "300.00"),  # due 07-31 → 112 days on 11-20 → 90+
        ("sixty", at(2026, 9, 15), "200.00"),  # due 10-15 → 36 days → 31-60
        ("recent", at(2026, 11, 10), "50.00"),  # due 12-10 → not yet due → 0-30
        ("partial", at(2026, 8, 10), "100.00"),  # due 09-09 → 72 days → 61-90, 30 paid
        ("paid", at(2026, 8, 1), "40.00"),  # fully paid → not listed
    ]:
        with time_machine.travel(issued, tick=False):
            made[name] = issued_invoice(amount=amount, by=clerk)
    pay(made["partial"], "30.00", "part", clerk)
    pay(made["paid"], "40.00", "full", clerk)
    return made


def test_ageing_buckets_with_known_dates(open_invoices):
    report = reports.ageing(user=make_user(Role.BILLING), as_of=dt.date(2026, 11, 20))
    by_id = {r["invoice"]: r for r in report["invoices"]}
    assert by_id[open_invoices["old"].pk]["bucket"] == "90+" and by_id[open_invoices["old"].pk]["days"] == 112
    assert by_id[open_invoices["sixty"].pk]["bucket"] == "31-60"
    assert (
        by_id[open_invoices["recent"].pk]["bucket"] == "0-30"
        and by_id[open_invoices["recent"].pk]["days"] == 0
    )
    assert by_id[open_invoices["partial"].pk]["bucket"] == "61-90"
    assert by_id[open_invoices["partial"].pk]["balance"] == "70.00"
    assert open_invoices["paid"].pk not in by_id
    assert report["buckets"] == {"0-30": "50.00", "31-60": "200.00", "61-90": "70.00", "90+": "300.00"}
    assert report["total"] == "620.00"
    assert report["invoices"][0]["invoice"] == open_invoices["old"].pk  # oldest first
    # an earlier day: the recent invoice did not exist yet; the old one was 0-30 then
    early = reports.ageing(user=make_user(Role.ADMIN), as_of=dt.date(2026, 8, 15))
    assert {r["invoice"]: r["bucket"] for r in early["invoices"]} == {
        open_invoices["old"].pk: "0-30",
        open_invoices["partial"].pk: "0-30",
    }
    event = AuditEvent.objects.filter(object_type="billing.ageing").latest("id")
    assert set(event.patient_ids) == {open_invoices["old"].patient_id, open_invoices["partial"].patient_id}


def test_ageing_api_csv_and_roles(open_invoices):
    c = api_client_for(make_user(Role.BILLING))
    res = c.get("/api/reports/billing/ageing/?as_of=2026-11-20")
    assert res.status_code == 200 and res.json()["total"] == "620.00"
    as_csv = c.get("/api/reports/billing/ageing/?as_of=2026-11-20", HTTP_ACCEPT="text/csv")
    assert as_csv.status_code == 200 and as_csv["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.content.decode())))
    assert rows[0][0] == "invoice" and rows[-1] == ["total", "", "", "", "", "", "all", "620.00"]
    assert len(rows) == 1 + 4 + 5
    assert c.get("/api/reports/billing/ageing/?as_of=nope").status_code == 400
    for role in (
        Role.RECEPTIONIST,
        Role.DOCTOR,
        Role.NURSE,
        Role.PATIENT,
        Role.PHARMACIST,
        Role.LAB_TECHNICIAN,
    ):
        assert api_client_for(make_user(role)).get("/api/reports/billing/ageing/").status_code == 403, role
    assert api_client_for(make_user(Role.ADMIN)).get("/api/reports/billing/ageing/").status_code == 200


def test_csv_cells_cannot_start_a_formula():
    assert reports._cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert reports._cell("Smith") == "Smith"
    assert (
        Decimal(reports.ageing_csv({"invoices": [], "buckets": {}, "total": "0.00"}).splitlines()[-1][-4:])
        == 0
    )
