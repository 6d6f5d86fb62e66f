"""Rows the payments and reports tests start from: an issued invoice as `hms.billing.invoices` leaves it
(number, issued_at now, due in 30 days, one line, self-pay so the patient share is the total). Built with the
real models, nothing mocked; payments then go through the real `invoice_apply_payment`."""

import datetime as dt
import uuid
from decimal import Decimal

from django.utils import timezone

from hms.accounts.roles import Role
from hms.billing.models import Invoice, InvoiceLine
from hms.core.testing import PatientFactory, make_user


def issued_invoice(patient=None, *, amount="100.00", by=None):
    """An issued self-pay invoice of one line of `amount` (patient share = amount), issued now."""
    by = by or make_user(Role.BILLING)
    patient = patient or PatientFactory()
    total = Decimal(amount)
    now = timezone.now()
    invoice = Invoice.objects.create(
        patient=patient,
        status="issued",
        number=f"T-{uuid.uuid4().hex[:12]}",
        net_total=total,
        total=total,
        patient_share=total,
        issued_at=now,
        due_date=timezone.localdate(now) + dt.timedelta(days=30),
        issued_by=by,
        created_by=by,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        description="Office visit",
        code="99213",
        quantity=1,
        unit_price=total,
        net_amount=total,
        tax_amount=0,
        total=total,
        patient_share=total,
    )
    return invoice


def patient_user_with_invoice(amount="100.00"):
    """(patient user, their issued invoice)."""
    user = make_user(Role.PATIENT)
    return user, issued_invoice(user.patient, amount=amount)
