"""Demo billing data for `manage.py demo_setup` (idempotent: keyed on charge source keys).

The seed price list (`price_list_seed`, also loaded by migration 0002), the bed-days of the ongoing demo
admissions so far (`bed_days_capture`), and for the demo patient: a consultation, a CBC and a non-medical
taxed item as charges, and one issued invoice built from them (a second run finds it and adds nothing).
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.patients.models import Patient

from . import charges, invoices, price_seed
from .models import ChargeItem, ChargeStatus, Invoice

DEMO_CHARGES = [
    # (key, category, code system, code, quantity)
    ("consultation", "consultation", price_seed.CPT, "99213", 1),
    ("cbc", "lab", price_seed.CPT, "85025", 1),
    ("copies", "other", price_seed.LOCAL, "COPY-REC", 12),
]


def demo_billing(accounts: dict) -> str:
    """Create the demo billing data once; return a line for the command's output."""
    clerk = accounts.get("billing")
    if clerk is None or clerk.role != Role.BILLING:
        return "Billing: skipped (no demo billing clerk)."
    created_prices = charges.price_list_seed()
    admissions = charges.bed_days_capture()
    patient = Patient.objects.filter(user=accounts.get("patient"), deleted_at__isnull=True).first()
    if patient is None:
        return (
            f"Billing: {created_prices} new price(s); bed-days of {admissions} admission(s); no demo patient."
        )
    with transaction.atomic():
        made = []
        for key, category, system, code, quantity in DEMO_CHARGES:
            charge, _ = charges.charge_capture(
                patient=patient,
                source_type="manual",
                source_key=f"demo:{patient.pk}:{key}",
                category=category,
                code_system=system,
                code=code,
                quantity=Decimal(quantity),
                occurred_at=timezone.now(),
                reason="Demo data",
                by=clerk,
            )
            made.append(charge)
        number = None
        fresh = [c.pk for c in made if c.status == ChargeStatus.BILLABLE and not c.invoice_lines.exists()]
        if fresh:
            draft = invoices.invoice_draft_create(
                patient=patient, charges=fresh, note="Demo invoice", by=clerk
            )
            number = invoices.invoice_issue(invoice=draft, by=clerk).number
    total = Invoice.objects.filter(patient=patient).count()
    charged = ChargeItem.objects.filter(source_type="bed-day").count()
    return (
        f"Billing: {created_prices} new price(s); {charged} bed-day charge(s); demo patient has {total} "
        f"invoice(s){f', new {number}' if number else ''}."
    )
