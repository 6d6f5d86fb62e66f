"""Payments, credit, refunds, online payments and receipts: services and the REST API (JWT, APIClient)."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import override_settings

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import payments
from hms.billing.gateways import FakeGateway
from hms.billing.models import Invoice, PatientCredit, Payment, Refund
from hms.core.errors import Conflict
from hms.core.testing import PatientFactory, api_client_for, make_user, put_in_care

from .payment_factories import issued_invoice, patient_user_with_invoice

pytestmark = pytest.mark.django_db

D = Decimal


def pay(invoice, amount, key, by, method="cash"):
    return payments.payment_record(invoice=invoice, method=method, amount=amount, idempotency_key=key, by=by)


def fresh(invoice) -> Invoice:
    return Invoice.objects.get(pk=invoice.pk)


# ---------------------------------------------------------------- services


def test_same_key_twice_records_one_payment_and_a_different_body_is_409():
    cashier = make_user(Role.BILLING)
    invoice = issued_invoice(amount="100.00")
    first, created = pay(invoice, "40.00", "k-1", cashier)
    again, created_again = pay(invoice, "40.00", "k-1", cashier)
    assert created and not created_again and again.pk == first.pk
    assert Payment.objects.filter(idempotency_key="k-1").count() == 1
    assert fresh(invoice).amount_paid == D("40.00")
    with pytest.raises(Conflict):
        pay(invoice, "41.00", "k-1", cashier)
    assert fresh(invoice).amount_paid == D("40.00")


def test_partial_then_paid_and_receipt_numbers():
    cashier = make_user(Role.BILLING)
    invoice = issued_invoice(amount="100.00")
    p1, _ = pay(invoice, "30.00", "a", cashier)
    assert fresh(invoice).status == "partially-paid"
    p2, _ = pay(invoice, "70.00", "b", cashier, method="card")
    inv = fresh(invoice)
    assert inv.status == "paid" and inv.amount_paid == D("100.00")
    assert p1.receipt_number.startswith("R-") and p1.receipt_number != p2.receipt_number
    assert not PatientCredit.objects.filter(patient=invoice.patient).exists()


def test_overpayment_becomes_credit_and_credit_pays_the_next_invoice_never_below_zero():
    cashier = make_user(Role.BILLING)
    patient = PatientFactory()
    first = issued_invoice(patient, amount="80.00")
    pay(first, "100.00", "over", cashier)
    assert fresh(first).status == "paid"
    assert payments.credit_balance(patient) == D("20.00")
    second = issued_invoice(patient, amount="50.00")
    with pytest.raises(ValidationError) as exc:
        pay(second, "25.00", "too-much-credit", cashier, method="credit")
    assert "amount" in exc.value.message_dict
    pay(second, "20.00", "use-credit", cashier, method="credit")
    assert payments.credit_balance(patient) == D("0.00")
    assert fresh(second).amount_paid == D("20.00") and fresh(second).status == "partially-paid"
    with pytest.raises(ValidationError):
        pay(second, "0.01", "empty-credit", cashier, method="credit")


def test_bad_amounts_and_methods_are_400_and_unpayable_invoice_409():
    cashier = make_user(Role.BILLING)
    invoice = issued_invoice(amount="10.00")
    for bad in ("0", "-5", "1.234", "abc"):
        with pytest.raises(ValidationError):
            pay(invoice, bad, f"bad-{bad}", cashier)
    with pytest.raises(ValidationError):
        pay(invoice, "1.00", "m", cashier, method="bitcoin")
    pay(invoice, "10.00", "full", cashier)
    with pytest.raises(Conflict):
        pay(invoice, "1.00", "after-paid", cashier)
    assert Payment.objects.count() == 1


def test_receptionist_takes_cash_but_not_credit_and_doctor_nothing():
    desk = make_user(Role.RECEPTIONIST)
    invoice = issued_invoice(amount="10.00")
    payment, _ = pay(invoice, "5.00", "desk", desk)
    assert payment.cashier == desk
    with pytest.raises(PermissionDenied):
        pay(invoice, "5.00", "desk-credit", desk, method="credit")
    with pytest.raises(PermissionDenied):
        pay(invoice, "5.00", "doc", make_user(Role.DOCTOR))


def test_refund_needs_reason_second_approver_and_never_exceeds_paid():
    clerk = make_user(Role.BILLING)
    admin = make_user(Role.ADMIN)
    invoice = issued_invoice(amount="100.00")
    payment, _ = pay(invoice, "100.00", "r", clerk)
    with pytest.raises(ValidationError) as exc:
        payments.refund_request(payment=payment, amount="10.00", reason="  ", by=clerk)
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError):
        payments.refund_request(payment=payment, amount="100.01", reason="x", by=clerk)
    refund = payments.refund_request(payment=payment, amount="60.00", reason="Duplicate charge", by=clerk)
    with pytest.raises(ValidationError):  # 60 requested + 50 > 100
        payments.refund_request(payment=payment, amount="50.00", reason="again", by=clerk)
    with pytest.raises(PermissionDenied):  # clerks do not approve
        payments.refund_decide(refund=refund, approve=True, by=make_user(Role.BILLING))
    self_request = payments.refund_request(payment=payment, amount="10.00", reason="mine", by=admin)
    with pytest.raises(PermissionDenied):  # not the requester
        payments.refund_decide(refund=self_request, approve=True, by=admin)
    payments.refund_decide(refund=refund, approve=True, by=admin)
    inv = fresh(invoice)
    assert inv.amount_paid == D("40.00") and inv.status == "partially-paid"
    with pytest.raises(Conflict):
        payments.refund_decide(refund=refund, approve=True, by=make_user(Role.ADMIN))
    assert Refund.objects.get(pk=refund.pk).decided_by == admin
    with pytest.raises(ValidationError):
        payments.refund_decide(refund=self_request, approve=False, note="", by=make_user(Role.ADMIN))


def test_refund_of_an_overpayment_takes_back_the_credit_first():
    clerk, admin = make_user(Role.BILLING), make_user(Role.ADMIN)
    invoice = issued_invoice(amount="80.00")
    payment, _ = pay(invoice, "100.00", "over", clerk)
    refund = payments.refund_request(payment=payment, amount="30.00", reason="Overpaid", by=clerk)
    payments.refund_decide(refund=refund, approve=True, by=admin)
    assert payments.credit_balance(invoice.patient) == D("0.00")
    assert fresh(invoice).amount_paid == D("70.00")


@override_settings(PAYMENT_GATEWAY="fake")
def test_online_payment_pending_then_completed_once_replay_changes_nothing():
    user, invoice = patient_user_with_invoice("75.00")
    payment, url = payments.payment_online_start(invoice=invoice, by=user, return_url="https://h.example/r/")
    assert payment.status == "pending" and fresh(invoice).amount_paid == 0
    assert url.startswith("https://h.example/r/?reference=")
    body = {"reference": payment.gateway_reference, "status": "succeeded"}
    bad = api_client_for(None).post(
        "/api/payments/gateway/fake/callback/", body, format="json", HTTP_X_GATEWAY_SIGNATURE="0" * 64
    )
    assert bad.status_code == 403
    signature = FakeGateway.sign(payment.gateway_reference, "succeeded")
    client = api_client_for(None)
    res = client.post(
        "/api/payments/gateway/fake/callback/", body, format="json", HTTP_X_GATEWAY_SIGNATURE=signature
    )
    assert res.status_code == 200 and res.json() == {"status": "completed"}
    events = AuditEvent.objects.count()
    replay = client.post(
        "/api/payments/gateway/fake/callback/", body, format="json", HTTP_X_GATEWAY_SIGNATURE=signature
    )
    assert replay.status_code == 200
    assert fresh(invoice).amount_paid == D("75.00") and fresh(invoice).status == "paid"
    assert Payment.objects.get(pk=payment.pk).receipt_number
    assert AuditEvent.objects.count() == events  # nothing written again
    assert not PatientCredit.objects.exists()


def test_online_payment_is_off_by_default_and_only_for_own_invoice():
    user, invoice = patient_user_with_invoice()
    with pytest.raises(Conflict):
        payments.payment_online_start(invoice=invoice, by=user, return_url="https://h.example/")
    other = make_user(Role.PATIENT)
    with override_settings(PAYMENT_GATEWAY="fake"), pytest.raises(payments.NotFoundOrForbidden):
        payments.payment_online_start(invoice=invoice, by=other, return_url="https://h.example/")


# ---------------------------------------------------------------- API


def test_api_post_idempotency_header_201_then_200_and_409():
    clerk = make_user(Role.BILLING)
    invoice = issued_invoice(amount="50.00")
    client = api_client_for(clerk)
    body = {"invoice": invoice.pk, "method": "cash", "amount": "20.00"}
    first = client.post("/api/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="h-1")
    assert first.status_code == 201, first.content
    assert first.json()["amount"] == "20.00" and first.json()["status"] == "completed"
    again = client.post("/api/payments/", body, format="json", HTTP_IDEMPOTENCY_KEY="h-1")
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    clash = client.post(
        "/api/payments/", {**body, "amount": "21.00"}, format="json", HTTP_IDEMPOTENCY_KEY="h-1"
    )
    assert clash.status_code == 409
    missing = client.post("/api/payments/", body, format="json")
    assert missing.status_code == 400 and "idempotency_key" in missing.json()
    bad = client.post(
        "/api/payments/", {**body, "amount": 12, "idempotency_key": "x"}, format="json"
    )  # a number where a decimal string is expected is accepted by DecimalField; a bad one is 400
    assert bad.status_code == 201
    worse = client.post("/api/payments/", {**body, "amount": "-1", "idempotency_key": "y"}, format="json")
    assert worse.status_code == 400 and "amount" in worse.json()
    assert Payment.objects.count() == 2


def test_api_refund_flow_and_receipt_pdf():
    clerk, admin = make_user(Role.BILLING), make_user(Role.ADMIN)
    invoice = issued_invoice(amount="50.00")
    payment, _ = pay(invoice, "50.00", "p", clerk)
    c = api_client_for(clerk)
    no_reason = c.post(
        "/api/refunds/", {"payment": payment.pk, "amount": "5.00", "reason": ""}, format="json"
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    res = c.post(
        "/api/refunds/", {"payment": payment.pk, "amount": "5.00", "reason": "Wrong amount"}, format="json"
    )
    assert res.status_code == 201
    rid = res.json()["id"]
    assert c.post(f"/api/refunds/{rid}/approve/", {}, format="json").status_code == 403
    ok = api_client_for(admin).post(f"/api/refunds/{rid}/approve/", {"note": "ok"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    again = api_client_for(admin).post(f"/api/refunds/{rid}/reject/", {"note": "no"}, format="json")
    assert again.status_code == 409
    pdf = c.get(f"/api/payments/{payment.pk}/receipt/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and payment.receipt_number.encode() in pdf.content
    assert AuditEvent.objects.filter(action="export", object_id=str(payment.pk)).exists()


@override_settings(PAYMENT_GATEWAY="fake")
def test_api_patient_pays_online_own_invoice_only():
    user, invoice = patient_user_with_invoice("30.00")
    _, other_invoice = patient_user_with_invoice("30.00")
    c = api_client_for(user)
    res = c.post("/api/payments/online/", {"invoice": invoice.pk}, format="json")
    assert res.status_code == 201, res.content
    assert res.json()["payment"]["status"] == "pending" and "signature=" in res.json()["redirect_url"]
    assert c.post("/api/payments/online/", {"invoice": other_invoice.pk}, format="json").status_code == 404
    assert (
        api_client_for(make_user(Role.BILLING))
        .post("/api/payments/online/", {"invoice": invoice.pk}, format="json")
        .status_code
        == 403
    )


def test_role_matrix_payments_and_refunds():
    clerk = make_user(Role.BILLING)
    patient_user, invoice = patient_user_with_invoice("40.00")
    _, other_invoice = patient_user_with_invoice("40.00")
    mine, _ = pay(invoice, "40.00", "mine", clerk)
    theirs, _ = pay(other_invoice, "40.00", "theirs", clerk)
    refund = payments.refund_request(payment=theirs, amount="1.00", reason="x", by=clerk)
    doctor = make_user(Role.DOCTOR)
    put_in_care(doctor, invoice.patient)  # even in their care: no money
    nurse = make_user(Role.NURSE)
    put_in_care(nurse, invoice.patient)
    bystander = PatientFactory()
    expect = {
        # role: (list payments, read theirs, receipt theirs, list refunds, post payment)
        Role.ADMIN: (200, 200, 200, 200, 201),
        Role.BILLING: (200, 200, 200, 200, 201),
        Role.RECEPTIONIST: (200, 200, 200, 403, 201),
        Role.DOCTOR: (403, 403, 403, 403, 403),
        Role.NURSE: (403, 403, 403, 403, 403),
        Role.PHARMACIST: (403, 403, 403, 403, 403),
        Role.LAB_TECHNICIAN: (403, 403, 403, 403, 403),
    }
    users = {Role.DOCTOR: doctor, Role.NURSE: nurse}
    for role, codes in expect.items():
        user = users.get(role) or make_user(role)
        c = api_client_for(user)
        deposit = {"patient": bystander.pk, "method": "cash", "amount": "1.00"}
        got = (
            c.get("/api/payments/").status_code,
            c.get(f"/api/payments/{theirs.pk}/").status_code,
            c.get(f"/api/payments/{theirs.pk}/receipt/").status_code,
            c.get("/api/refunds/").status_code,
            c.post("/api/payments/", deposit, format="json", HTTP_IDEMPOTENCY_KEY=f"dep-{role}").status_code,
        )
        assert got == codes, role
    # the patient: own payment yes, another patient's payment / refund by id → 404, no desk payments
    c = api_client_for(patient_user)
    listed = c.get("/api/payments/").json()["results"]
    assert [p["id"] for p in listed] == [mine.pk]
    assert c.get(f"/api/payments/{mine.pk}/").status_code == 200
    assert c.get(f"/api/payments/{mine.pk}/receipt/").status_code == 200
    assert c.get(f"/api/payments/{theirs.pk}/").status_code == 404
    assert c.get(f"/api/payments/{theirs.pk}/receipt/").status_code == 404
    assert c.get("/api/refunds/").json()["results"] == []
    assert (
        c.post("/api/refunds/", {"payment": mine.pk, "amount": "1", "reason": "x"}, format="json").status_code
        == 403
    )
    assert c.post(f"/api/refunds/{refund.pk}/approve/", {}, format="json").status_code == 403
    assert (
        c.post(
            "/api/payments/",
            {"invoice": invoice.pk, "method": "cash", "amount": "1"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="pt",
        ).status_code
        == 403
    )
    assert api_client_for(None).get("/api/payments/").status_code == 401
    admin = api_client_for(make_user(Role.ADMIN))
    assert admin.get(f"/api/payments/{2**62}/").status_code == 404
    assert admin.post(f"/api/refunds/{2**62}/approve/", {}, format="json").status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL only: real row locks and connections"
)
def test_concurrent_same_key_records_one_payment():
    threads_n = 8
    clerk = make_user(Role.BILLING)
    invoice = issued_invoice(amount="100.00")
    clients = [api_client_for(clerk) for _ in range(threads_n)]
    barrier = threading.Barrier(threads_n)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def attempt(client):
        try:
            barrier.wait(timeout=30)
            res = client.post(
                "/api/payments/",
                {"invoice": invoice.pk, "method": "cash", "amount": "60.00"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="same-key",
            )
            statuses.append(res.status_code)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    pool = getattr(connection, "pool", None)
    if pool is not None:
        sizes = (pool.min_size, pool.max_size)
        pool.resize(min_size=sizes[0], max_size=threads_n + 2)
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    if pool is not None:
        pool.resize(*sizes)
    assert not errors
    assert sorted(statuses) == [200] * (threads_n - 1) + [201]
    assert Payment.objects.filter(idempotency_key="same-key").count() == 1
    assert fresh(invoice).amount_paid == D("60.00")


@override_settings(PAYMENT_GATEWAY="fake")
def test_failed_online_payment_and_unknown_gateway_or_reference():
    user, invoice = patient_user_with_invoice("20.00")
    payment, _ = payments.payment_online_start(invoice=invoice, by=user, return_url="https://h.example/r/")
    client = api_client_for(None)
    url = "/api/payments/gateway/fake/callback/"
    failed = {"reference": payment.gateway_reference, "status": "failed"}
    sig = FakeGateway.sign(payment.gateway_reference, "failed")
    assert client.post(url, failed, format="json", HTTP_X_GATEWAY_SIGNATURE=sig).json() == {
        "status": "failed"
    }
    assert fresh(invoice).amount_paid == 0 and Payment.objects.get(pk=payment.pk).receipt_number == ""
    ok_sig = FakeGateway.sign(payment.gateway_reference, "succeeded")
    late = {"reference": payment.gateway_reference, "status": "succeeded", "signature": ok_sig}
    assert client.post(url, late, format="json").json() == {"status": "failed"}  # no resurrection
    other = client.post("/api/payments/gateway/stripe/callback/", late, format="json")
    assert other.status_code == 403
    unknown = {
        "reference": "fake_nope",
        "status": "succeeded",
        "signature": FakeGateway.sign("fake_nope", "succeeded"),
    }
    assert client.post(url, unknown, format="json").status_code == 404
    assert client.post(url, {"reference": 5, "status": "succeeded"}, format="json").status_code == 400
    with override_settings(PAYMENT_GATEWAY="none"):
        assert client.post(url, late, format="json").status_code == 403
