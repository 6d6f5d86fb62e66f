"""Portal pages of payments: desk payment (idempotent form), refunds, reports, receipts, pay online; and one
browser test of the desk payment page (Playwright, Debian Chromium)."""

import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import payments
from hms.billing.models import Invoice, Payment, Refund
from hms.core.testing import PatientFactory, make_user

from .payment_factories import issued_invoice, patient_user_with_invoice

PASSWORD = "pass-Word-123"  # hms.core.testing.UserFactory


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.mark.django_db
def test_desk_payment_form_records_once_even_when_sent_twice():
    clerk = make_user(Role.RECEPTIONIST)
    invoice = issued_invoice(amount="80.00")
    c = client_for(clerk)
    page = c.get(reverse("portal:payment_new"), {"invoice": invoice.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="80.00"' in html and '<label for="id_amount">' in html
    assert 'value="credit"' not in html  # the front desk does not spend credit
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)
    body = {"method": "cash", "amount": "50.00", "note": "", "idempotency_key": key}
    url = f"{reverse('portal:payment_new')}?invoice={invoice.pk}"
    first = c.post(url, body)
    second = c.post(url, body)
    payment = Payment.objects.get()
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == reverse("portal:payment", args=[payment.pk])
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == Decimal("50.00")
    bad = c.post(url, {**body, "amount": "-3", "idempotency_key": "other"})
    assert bad.status_code == 400 and Payment.objects.count() == 1
    detail = c.get(reverse("portal:payment", args=[payment.pk]))
    assert detail.status_code == 200 and payment.receipt_number in detail.content.decode()
    pdf = c.get(reverse("portal:receipt", args=[payment.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


@pytest.mark.django_db
def test_patient_search_fragment_and_deposit_page():
    clerk = make_user(Role.BILLING)
    patient = PatientFactory(family_name="Zebulon", given_names="Ada")
    c = client_for(clerk)
    frag = c.get(reverse("portal:payment_patient_search"), {"q": "zebu"}, HTTP_HX_REQUEST="true")
    assert frag.status_code == 200 and f"?patient={patient.pk}" in frag.content.decode()
    page = c.get(reverse("portal:payment_new"), {"patient": patient.pk})
    assert page.status_code == 200 and "Deposit" in page.content.decode()
    assert c.get(reverse("portal:payment_new"), {"patient": 2**40}).status_code == 404


@pytest.mark.django_db
def test_refund_request_and_second_person_approval_in_the_portal():
    clerk, admin = make_user(Role.BILLING), make_user(Role.ADMIN)
    invoice = issued_invoice(amount="60.00")
    payment, _ = payments.payment_record(
        invoice=invoice, method="card", amount="60.00", idempotency_key="x", by=clerk
    )
    c = client_for(clerk)
    c.post(reverse("portal:refund_request", args=[payment.pk]), {"amount": "10.00", "reason": "Double swipe"})
    refund = Refund.objects.get()
    assert refund.status == "requested"
    # the clerk sees it but cannot decide
    assert (
        c.post(reverse("portal:refund_decide", args=[refund.pk]), {"decision": "approve"}).status_code == 403
    )
    a = client_for(admin)
    listing = a.get(reverse("portal:refunds"))
    assert listing.status_code == 200 and "Double swipe" in listing.content.decode()
    a.post(reverse("portal:refund_decide", args=[refund.pk]), {"decision": "approve", "note": "ok"})
    assert Refund.objects.get().status == "approved"
    assert Invoice.objects.get(pk=invoice.pk).status == "partially-paid"


@pytest.mark.django_db
def test_reports_page_and_csv_by_role():
    clerk = make_user(Role.BILLING)
    invoice = issued_invoice(amount="40.00")
    payments.payment_record(invoice=invoice, method="cash", amount="15.00", idempotency_key="r", by=clerk)
    page = client_for(clerk).get(reverse("portal:billing_reports"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="collected">15.00<' in html and "25.00" in html  # collected; open balance aged
    csv = client_for(clerk).get(reverse("portal:billing_reports"), {"download": "ageing"})
    assert csv["Content-Type"].startswith("text/csv") and invoice.number in csv.content.decode()
    desk = client_for(make_user(Role.RECEPTIONIST)).get(reverse("portal:billing_reports"))
    assert desk.status_code == 200 and "ageing" not in desk.content.decode().lower()
    for role in (Role.DOCTOR, Role.NURSE, Role.PATIENT, Role.PHARMACIST):
        assert client_for(make_user(role)).get(reverse("portal:billing_reports")).status_code == 403


@pytest.mark.django_db
@override_settings(PAYMENT_GATEWAY="fake")
def test_patient_pays_online_with_the_fake_gateway_and_sees_the_receipt():
    user, invoice = patient_user_with_invoice("45.00")
    _, other_invoice = patient_user_with_invoice("45.00")
    c = client_for(user)
    page = c.get(reverse("portal:my_receipts"))
    assert page.status_code == 200 and "Pay online" in page.content.decode()
    start = c.post(reverse("portal:pay_online", args=[invoice.pk]))
    assert start.status_code == 302 and "signature=" in start["Location"]
    assert Payment.objects.get().status == "pending"
    back = c.get(start["Location"])
    assert back.status_code == 302 and back["Location"] == reverse("portal:my_receipts")
    payment = Payment.objects.get()
    assert payment.status == "completed" and Invoice.objects.get(pk=invoice.pk).status == "paid"
    c.get(start["Location"])  # the browser goes back: nothing changes
    assert (
        Payment.objects.get().amount == Decimal("45.00")
        and Invoice.objects.get(pk=invoice.pk).amount_paid == 45
    )
    mine = c.get(reverse("portal:my_receipts")).content.decode()
    assert payment.receipt_number in mine
    assert c.get(reverse("portal:receipt", args=[payment.pk])).status_code == 200
    # another patient's bill or receipt: 404
    assert c.post(reverse("portal:pay_online", args=[other_invoice.pk])).status_code == 404
    other_user = other_invoice.patient.user
    assert client_for(other_user).get(reverse("portal:receipt", args=[payment.pk])).status_code == 404
    assert client_for(other_user).get(reverse("portal:payment", args=[payment.pk])).status_code == 404
    assert AuditEvent.objects.filter(action="export", object_id=str(payment.pk)).exists()


@pytest.mark.django_db
def test_clinicians_reach_no_payment_page():
    invoice = issued_invoice(amount="10.00")
    payment, _ = payments.payment_record(
        invoice=invoice, method="cash", amount="10.00", idempotency_key="c", by=make_user(Role.BILLING)
    )
    for role in (Role.DOCTOR, Role.NURSE, Role.LAB_TECHNICIAN):
        c = client_for(make_user(role))
        for url in (
            reverse("portal:payment_new"),
            reverse("portal:payment", args=[payment.pk]),
            reverse("portal:receipt", args=[payment.pk]),
            reverse("portal:refunds"),
            reverse("portal:my_receipts"),
        ):
            assert c.get(url).status_code == 403, (role, url)


# ---------------------------------------------------------------- browser

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
def test_browser_desk_payment_at_phone_width(live_server, transactional_db):
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Browser tests need /usr/bin/chromium")
        pytest.skip("Browser tests need Debian's Chromium at /usr/bin/chromium")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import expect, sync_playwright

    clerk = make_user(Role.BILLING, username="bill.clerk")
    patient = PatientFactory(family_name="Quaresma", given_names="Rita")
    invoice = issued_invoice(patient, amount="120.00", by=clerk)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("bill.clerk")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_server.url}{reverse('portal:payment_new')}")
        page.get_by_label("Patient to take payment from").fill("quares")
        page.get_by_role("link", name=re.compile("QUARESMA")).click()
        page.get_by_role("link", name=invoice.number).click()
        expect(page.get_by_test_id("balance")).to_have_text("120.00")
        page.get_by_label("Amount").fill("20.00")
        page.get_by_role("button", name="Record payment").click()
        expect(page.get_by_test_id("payment-amount")).to_contain_text("20.00")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375 + 1
        browser.close()
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == Decimal("20.00")


@pytest.mark.django_db
def test_admin_lists_payments_refunds_and_credit_view_only_and_audited():
    clerk = make_user(Role.BILLING)
    invoice = issued_invoice(amount="10.00")
    payment, _ = payments.payment_record(
        invoice=invoice, method="cash", amount="12.00", idempotency_key="ad", by=clerk
    )
    payments.refund_request(payment=payment, amount="1.00", reason="x", by=clerk)
    admin_user = make_user(Role.ADMIN, is_staff=True, is_superuser=True)
    c = client_for(admin_user)
    for model in ("payment", "refund", "patientcredit"):
        before = AuditEvent.objects.count()
        res = c.get(f"/admin/billing/{model}/")
        assert res.status_code == 200, model
        assert AuditEvent.objects.count() > before
        assert c.get(f"/admin/billing/{model}/add/").status_code == 403
    event = AuditEvent.objects.latest("id")
    assert invoice.patient_id in event.patient_ids


@pytest.mark.django_db
def test_homes_link_to_the_payment_pages():
    for role, home, target in (
        (Role.BILLING, "portal:billing_home", "portal:payment_new"),
        (Role.BILLING, "portal:billing_home", "portal:billing_reports"),
        (Role.RECEPTIONIST, "portal:reception_home", "portal:payment_new"),
        (Role.ADMIN, "portal:admin_home", "portal:refunds"),
        (Role.PATIENT, "portal:patient_home", "portal:my_receipts"),
    ):
        page = client_for(make_user(role)).get(reverse(home))
        assert page.status_code == 200, role
        assert f'href="{reverse(target)}"' in page.content.decode(), (role, target)
