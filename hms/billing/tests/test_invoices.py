"""Invoices: money arithmetic (awkward rounding, mixed tax, shares), draft → issue (gapless numbers, also
under concurrent issue on PostgreSQL) → payments → paid, credit notes, immutability and bad input."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import charges, invoices, money
from hms.billing.models import (
    ChargeStatus,
    Coverage,
    Invoice,
    InvoiceStatus,
    PatientCredit,
    Payer,
)
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.core.testing import PatientFactory, make_user

pytestmark = pytest.mark.django_db


def test_money_rounds_half_up_per_line():
    assert money.quantize("0.005") == Decimal("0.01") and money.quantize("-0.005") == Decimal("-0.01")
    assert money.quantize("2.675") == Decimal("2.68")  # a float would give 2.67
    assert money.line_amounts(3, "0.335", "0.0825") == (Decimal("1.01"), Decimal("0.08"), Decimal("1.09"))
    assert money.line_amounts("1.5", "9.99", 0) == (Decimal("14.99"), Decimal("0.00"), Decimal("14.99"))
    with pytest.raises(ValueError):
        money.quantize(0.1)


class _Cov:
    def __init__(self, copay, rate):
        self.copay_amount, self.coinsurance_rate = Decimal(copay), Decimal(rate)


def test_shares_copay_then_coinsurance_and_always_add_up():
    assert money.shares("200.00") == (Decimal("0.00"), Decimal("200.00"))
    assert money.shares("200.00", _Cov("20", "0.2")) == (Decimal("144.00"), Decimal("56.00"))
    assert money.shares("15.00", _Cov("20", "0.2")) == (Decimal("0.00"), Decimal("15.00"))  # copay capped
    insurer, patient = money.shares("100.01", _Cov("0", "0.3333"))
    assert patient == Decimal("33.33") and insurer + patient == Decimal("100.01")


@pytest.fixture
def clerk(db):
    return make_user(Role.BILLING)


def _manual(patient, clerk, price, qty=1, tax=0, text="Item"):
    return charges.charge_manual_create(
        patient=patient,
        display=text,
        unit_price=Decimal(price),
        quantity=qty,
        tax_rate=Decimal(tax),
        reason="test",
        by=clerk,
    )


def test_draft_with_mixed_tax_and_awkward_rounding_then_issue_and_pay(clerk):
    patient = PatientFactory()
    a = _manual(patient, clerk, "0.335", 3, "0.0825", "Copies")  # 1.01 + 0.08
    b = _manual(patient, clerk, "0.335", 3, "0", "Leaflets")  # 1.01 + 0
    c = _manual(patient, clerk, "10.00", 1, "0.0825", "TV")  # 10.00 + 0.83 (0.825 half up)
    draft = invoices.invoice_draft_create(patient=patient, by=clerk)
    assert draft.status == "draft" and draft.number is None
    assert [ln.total for ln in draft.lines.all()] == [Decimal("1.09"), Decimal("1.01"), Decimal("10.83")]
    assert (draft.net_total, draft.tax_total, draft.total) == (
        Decimal("12.02"),
        Decimal("0.91"),
        Decimal("12.93"),
    )
    assert draft.patient_share == Decimal("12.93") and draft.insurer_share == 0

    # edit the draft: drop the leaflets
    draft = invoices.invoice_draft_update(invoice=draft, charges=[a.pk, c.pk], by=clerk)
    assert draft.total == Decimal("11.92") and draft.lines.count() == 2

    issued = invoices.invoice_issue(invoice=draft, by=clerk)
    year = timezone.localdate().year
    assert issued.number == f"{year}-000001" and issued.status == "issued" and issued.issued_at
    assert issued.due_date is not None
    a.refresh_from_db(), b.refresh_from_db()
    assert a.status == ChargeStatus.INVOICED and b.status == ChargeStatus.BILLABLE
    with pytest.raises(Conflict):
        invoices.invoice_draft_update(invoice=issued, note="changed", by=clerk)
    with pytest.raises(Conflict):
        invoices.invoice_issue(invoice=issued, by=clerk)

    assert invoices.invoice_apply_payment(invoice=issued, amount=Decimal("5.00")) == Decimal("5.00")
    assert issued.status == "partially-paid" and money.invoice_balance(issued) == Decimal("6.92")
    assert invoices.invoice_apply_payment(invoice=issued, amount=Decimal("10.00")) == Decimal("6.92")
    issued.refresh_from_db()
    assert (
        issued.status == "paid"
        and issued.amount_paid == Decimal("11.92")
        and money.invoice_balance(issued) == 0
    )
    assert invoices.invoice_apply_payment(invoice=issued, amount=Decimal("-2.00")) == Decimal("-2.00")
    assert issued.status == "partially-paid"

    second = invoices.invoice_issue(
        invoice=invoices.invoice_draft_create(patient=patient, by=clerk), by=clerk
    )
    assert second.number == f"{year}-000002" and second.total == Decimal("1.01")
    assert AuditEvent.objects.filter(object_type="billing.Invoice", patient_id=patient.pk).count() >= 5


def test_insurer_and_patient_shares_follow_the_coverage(clerk):
    patient = PatientFactory()
    payer = Payer.objects.create(name="Acme Health")
    cov = Coverage.objects.create(
        patient=patient,
        payer=payer,
        member_id="X1",
        valid_from="2020-01-01",
        copay_amount="20",
        coinsurance_rate="0.2",
    )
    _manual(patient, clerk, "150.00")
    _manual(patient, clerk, "50.00")
    inv = invoices.invoice_draft_create(patient=patient, coverage=cov, by=clerk)
    assert (inv.insurer_share, inv.patient_share, inv.payer_class) == (
        Decimal("144.00"),
        Decimal("56.00"),
        "insurance",
    )
    lines = list(inv.lines.all())
    assert sum(ln.insurer_share for ln in lines) == Decimal("144.00")
    assert all(ln.insurer_share + ln.patient_share == ln.total for ln in lines)
    other = Coverage.objects.create(
        patient=PatientFactory(), payer=payer, member_id="X2", valid_from="2020-01-01"
    )
    with pytest.raises(ValidationError) as err:
        invoices.invoice_draft_update(invoice=inv, coverage=other, by=clerk)
    assert "coverage" in err.value.message_dict


def test_credit_note_cancels_the_invoice_and_frees_the_charges(clerk):
    patient = PatientFactory()
    charge = _manual(patient, clerk, "40.00")
    inv = invoices.invoice_issue(invoice=invoices.invoice_draft_create(patient=patient, by=clerk), by=clerk)
    invoices.invoice_apply_payment(invoice=inv, amount=Decimal("15.00"))
    with pytest.raises(ValidationError):
        invoices.invoice_credit_note(invoice=inv, reason="", by=clerk)
    note = invoices.invoice_credit_note(invoice=inv, reason="Wrong payer", by=clerk)
    inv.refresh_from_db()
    charge.refresh_from_db()
    assert (
        inv.status == InvoiceStatus.CANCELLED and note.kind == "credit-note" and note.credit_note_for == inv
    )
    assert note.number and note.number != inv.number and note.total == Decimal("-40.00")
    assert [ln.total for ln in note.lines.all()] == [Decimal("-40.00")]
    assert charge.status == ChargeStatus.BILLABLE  # back to billable, to be re-invoiced
    credit = PatientCredit.objects.get(patient=patient)
    assert credit.amount == Decimal("15.00") and credit.invoice == note
    with pytest.raises(Conflict):
        invoices.invoice_credit_note(invoice=inv, reason="again", by=clerk)
    with pytest.raises(Conflict):
        invoices.invoice_credit_note(invoice=note, reason="credit of a credit", by=clerk)


def test_bad_drafts_are_400_and_other_roles_404(clerk):
    patient, other = PatientFactory(), PatientFactory()
    with pytest.raises(ValidationError) as err:
        invoices.invoice_draft_create(patient=patient, by=clerk)
    assert "charges" in err.value.message_dict
    theirs = _manual(other, clerk, "5.00")
    with pytest.raises(ValidationError) as err:
        invoices.invoice_draft_create(patient=patient, charges=[theirs.pk], by=clerk)
    assert "charges" in err.value.message_dict
    with pytest.raises(ValidationError):
        invoices.invoice_draft_create(patient=other, charges=["x"], by=clerk)
    invoices.invoice_draft_create(patient=other, charges=[theirs.pk], by=clerk)
    with pytest.raises(ValidationError):  # already on a draft
        invoices.invoice_draft_create(patient=other, charges=[theirs.pk], by=clerk)
    with pytest.raises(Conflict):  # a charge on a draft cannot be cancelled
        charges.charge_cancel(charge=theirs, reason="x", by=clerk)
    for role in (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.PATIENT, Role.PHARMACIST):
        with pytest.raises(NotFoundOrForbidden):
            invoices.invoice_draft_create(patient=other, by=make_user(role))
    assert Invoice.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_issues_get_gapless_distinct_numbers():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers on one file lock; row locks need PostgreSQL")
    clerk = make_user(Role.BILLING)
    drafts = []
    for _ in range(6):
        patient = PatientFactory()
        _manual(patient, clerk, "10.00")
        drafts.append(invoices.invoice_draft_create(patient=patient, by=clerk))
    barrier = threading.Barrier(len(drafts))
    errors = []

    def issue(draft):
        from django.db import connection as conn

        try:
            barrier.wait()
            invoices.invoice_issue(invoice=draft, by=clerk)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=issue, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    year = timezone.localdate().year
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"{year}-{n:06d}" for n in range(1, 7)]


def test_demo_billing_is_idempotent():
    from hms.billing.demo import demo_billing

    accounts = {"billing": make_user(Role.BILLING), "patient": make_user(Role.PATIENT)}
    first = demo_billing(accounts)
    assert "new 20" in first
    patient = accounts["patient"].patient
    invoice = Invoice.objects.get(patient=patient)
    # 99213 95.00 + CBC 20.00 + 12 copies x 0.25 = 3.00 + 8.25 % tax 0.25
    assert invoice.status == "issued" and invoice.total == Decimal("118.25")
    demo_billing(accounts)
    assert Invoice.objects.filter(patient=patient).count() == 1
