"""Portal pages of charges and invoices: the clerk's flow (find the patient as you type → charges →
draft → edit → issue → PDF → credit note), the price list with CSV, the patient's "My bills", and who may
open what."""

from decimal import Decimal

import pytest
from django.test import Client

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import charges, invoices
from hms.billing.models import ChargeItem, Invoice
from hms.core.testing import make_user

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(db):
    clerk = make_user(Role.BILLING)
    me = make_user(Role.PATIENT)
    other = make_user(Role.PATIENT)
    return {"clerk": clerk, "me": me, "patient": me.patient, "other": other}


def test_clerk_builds_issues_and_credits_an_invoice_in_the_portal(world):
    w = world
    web = _client(w["clerk"])
    home = web.get("/billing/")
    assert b"Charges to invoice" in home.content
    found = web.get("/billing/charges/find/", {"q": w["patient"].family_name}, HTTP_HX_REQUEST="true")
    assert f"?patient={w['patient'].pk}".encode() in found.content

    url = f"/billing/charges/?patient={w['patient'].pk}"
    response = web.post(
        url,
        {
            "action": "add",
            "display": "",
            "code": "TV-DAY",
            "quantity": "2",
            "category": "other",
            "reason": "TV",
        },
    )
    assert response.status_code == 302, response.content
    response = web.post(
        url,
        {
            "action": "add",
            "display": "Parking",
            "code": "",
            "quantity": "1",
            "unit_price": "4.00",
            "category": "other",
            "reason": "visitor",
        },
    )
    assert response.status_code == 302
    bad = web.post(url, {"action": "add", "display": "x", "quantity": "1", "category": "other", "reason": ""})
    assert bad.status_code == 400 and ChargeItem.objects.count() == 2
    page = web.get(url)
    assert page.status_code == 200 and page.content.count(b'data-testid="charge-row"') == 2
    tv, parking = ChargeItem.objects.order_by("id")
    assert tv.net_amount == Decimal("15.00") and tv.tax_amount == Decimal("1.24")

    response = web.post(url, {"action": "draft", "charges": [tv.pk, parking.pk], "coverage": ""})
    assert response.status_code == 302
    draft = Invoice.objects.get()
    editor = web.get(f"/billing/invoices/{draft.pk}/")
    assert editor.status_code == 200 and b"Edit the draft" in editor.content and b"20.24" in editor.content
    assert (
        web.post(
            f"/billing/invoices/{draft.pk}/", {"action": "lines", "charges": [tv.pk], "note": ""}
        ).status_code
        == 302
    )
    draft.refresh_from_db()
    assert draft.total == Decimal("16.24")
    assert web.post(f"/billing/invoices/{draft.pk}/", {"action": "issue"}).status_code == 302
    draft.refresh_from_db()
    assert draft.status == "issued" and draft.number
    assert (
        web.post(f"/billing/invoices/{draft.pk}/", {"action": "issue"}).status_code == 400
    )  # 409 shown as message
    pdf = web.get(f"/billing/invoices/{draft.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="export", object_type="billing.Invoice").exists()
    response = web.post(f"/billing/invoices/{draft.pk}/", {"action": "credit-note", "reason": "Duplicate"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "cancelled" and Invoice.objects.filter(kind="credit-note").count() == 1


def test_price_list_filters_as_you_type_and_exports_csv(world):
    web = _client(world["clerk"])
    page = web.get("/billing/prices/", {"q": "lipid", "payer_class": "self-pay"})
    assert page.status_code == 200 and b"80061" in page.content and b"85025" not in page.content
    fragment = web.get("/billing/prices/", {"q": "85025"}, HTTP_HX_REQUEST="true")
    assert b"<html" not in fragment.content and fragment.content.count(b"85025") == 3  # one per payer class
    csv = web.get("/billing/prices/", {"category": "bed-day", "download": "csv"})
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().strip().splitlines()
    assert lines[0].startswith("code_system,code,display") and len(lines) == 1 + 7 * 3


def test_my_bills_shows_only_my_issued_bills_and_their_pdfs(world):
    w = world
    mine = charges.charge_manual_create(
        patient=w["patient"], display="X-ray copy", unit_price=5, reason="r", by=w["clerk"]
    )
    charges.charge_manual_create(
        patient=w["other"].patient, display="Other", unit_price=7, reason="r", by=w["clerk"]
    )
    my_bill = invoices.invoice_issue(
        invoice=invoices.invoice_draft_create(patient=w["patient"], charges=[mine.pk], by=w["clerk"]),
        by=w["clerk"],
    )
    their_bill = invoices.invoice_issue(
        invoice=invoices.invoice_draft_create(patient=w["other"].patient, by=w["clerk"]), by=w["clerk"]
    )
    web = _client(w["me"])
    assert b"/me/bills/" in web.get("/me/").content  # linked from the patient home
    page = web.get("/me/bills/")
    assert page.status_code == 200 and my_bill.number.encode() in page.content
    assert their_bill.number.encode() not in page.content
    assert web.get(f"/billing/invoices/{my_bill.pk}/pdf/").status_code == 200
    assert web.get(f"/billing/invoices/{their_bill.pk}/pdf/").status_code == 404
    assert web.get(f"/billing/invoices/{my_bill.pk}/").status_code in (302, 403)  # the editor is staff-only


@pytest.mark.parametrize(
    "role", [Role.DOCTOR, Role.NURSE, Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.PATIENT]
)
def test_clinical_roles_and_patients_cannot_open_billing_pages(world, role):
    web = _client(make_user(role))
    for url in ("/billing/charges/", "/billing/prices/", "/billing/charges/find/?q=ab"):
        assert web.get(url).status_code in (302, 403), (role, url)
