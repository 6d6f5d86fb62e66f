"""Rows the claims tests start from: a payer, a coverage, an issued invoice with lines and charges.

Built with the real models (the invoice as `hms.billing.invoices` leaves it once issued); nothing mocked.
"""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from hms.billing.models import ChargeItem, Coverage, Invoice, InvoiceLine, Payer

SERVICE_AT = timezone.make_aware(dt.datetime(2026, 11, 2, 10, 0))


def payer(name="Acme Health") -> Payer:
    return Payer.objects.get_or_create(name=name, defaults={"identifier": "12345"})[0]


def coverage(patient, *, valid_from=dt.date(2026, 1, 1), valid_to=None, member_id="M-1001", **kw) -> Coverage:
    return Coverage.objects.create(
        patient=patient,
        payer=kw.pop("payer", None) or payer(),
        plan_name="Gold",
        member_id=member_id,
        valid_from=valid_from,
        valid_to=valid_to,
        copay_amount=Decimal("20.00"),
        coinsurance_rate=Decimal("0.2"),
        **kw,
    )


def issued_invoice(patient, by, *, lines=(("consultation", "99213", "Office visit", "150.00"),), cover=None):
    """An issued invoice of `lines` (category, code, display, amount) for `patient`, 80 % insurer share."""
    number = f"2026-{Invoice.objects.count() + 1:06d}"
    invoice = Invoice.objects.create(
        patient=patient,
        status="issued",
        number=number,
        coverage=cover,
        payer_class="insurance" if cover else "self-pay",
        created_by=by,
        issued_by=by,
        issued_at=SERVICE_AT + dt.timedelta(days=1),
    )
    total = Decimal(0)
    for index, (category, code, display, amount) in enumerate(lines):
        amount = Decimal(amount)
        charge = ChargeItem.objects.create(
            patient=patient,
            category=category,
            source_type="manual",
            source_key=f"test:{invoice.pk}:{index}",
            code=code,
            display=display,
            unit_price=amount,
            net_amount=amount,
            occurred_at=SERVICE_AT,
            status="billed",
            entered_by=by,
        )
        InvoiceLine.objects.create(
            invoice=invoice,
            charge=charge,
            description=display,
            code=code,
            quantity=1,
            unit_price=amount,
            net_amount=amount,
            tax_amount=0,
            total=amount,
        )
        total += amount
    insurer = (total * Decimal("0.8")).quantize(Decimal("0.01")) if cover else Decimal(0)
    invoice.net_total = invoice.total = total
    invoice.insurer_share, invoice.patient_share = insurer, total - insurer
    invoice.save()
    return invoice
