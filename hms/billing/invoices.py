"""Invoices and credit notes (FHIR R4 Invoice): draft → issued → partially-paid → paid; cancelled only by a
credit note. Written by billing clerks and admins (404 for anyone else, as for a missing record).

- Draft: built from the patient's billable charges (all, or those chosen); lines copy the charge amounts
  (`hms.billing.money`: per-line half-up rounding, mixed tax rates). Lines can be replaced while draft; a
  charge is on at most one draft.
- Issue: the draft gets the next gapless number of the year's series ("2026-000001") from `InvoiceCounter`
  taken under `select_for_update` (the counter row lock serialises concurrent issues; a rolled-back issue
  rolls its number back too, so no gaps), its charges become `billed`, and it is immutable from then on.
- Shares: `money.shares(total, coverage)`: copay then coinsurance to the patient, the rest to the insurer;
  split over the lines proportionally (largest line absorbs the cent left by rounding).
- Payment: `invoice_apply_payment` (called by `hms.billing.payments` under the invoice row lock) moves
  `amount_paid` and the status issued → partially-paid → paid (and back for a refund).
- Credit note: a new document (`kind="credit-note"`) with the original's lines negated, its own number
  from the same series, issued at once; the original becomes `cancelled`. Its charges go back to
  `billable`: the usual reason for a credit note is a wrong invoice (payer, lines), so the charges are
  re-invoiced; a charge that
  should not be billed at all is then cancelled with `charge_cancel`. What the patient had paid on the
  original becomes patient credit (`PatientCredit`, + amount paid) to be applied or refunded by the payments
  desk.
"""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.selectors import patients_visible

from .models import (
    ChargeItem,
    ChargeStatus,
    Coverage,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceStatus,
    PatientCredit,
    PayerClass,
)
from .money import ZERO, invoice_balance, quantize, shares

CLERK_ROLES = frozenset({Role.BILLING, Role.ADMIN})
PAYMENT_DAYS = 30
OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)
_UNSET = object()


def _clerk_check(by, patient=None) -> None:
    if by is None or not by.is_authenticated or by.role not in CLERK_ROLES:
        raise NotFoundOrForbidden()
    if patient is not None and not patients_visible(by).filter(pk=patient.pk).exists():
        raise NotFoundOrForbidden()


def _check_coverage(coverage, patient):
    if coverage is None:
        return None
    if not isinstance(coverage, Coverage) or coverage.patient_id != patient.pk or coverage.status != "active":
        raise ValidationError({"coverage": "Choose an active coverage of this patient."})
    return coverage


def _lock_charges(patient, charges, invoice=None) -> list[ChargeItem]:
    """Lock and validate the chosen charges (ids or objects; None = every billable charge of the patient not
    on another draft)."""
    qs = ChargeItem.objects.select_for_update().filter(patient=patient, status=ChargeStatus.BILLABLE)
    on_drafts = InvoiceLine.objects.filter(invoice__status=InvoiceStatus.DRAFT, charge__isnull=False)
    if invoice is not None:
        on_drafts = on_drafts.exclude(invoice=invoice)
    busy = set(on_drafts.filter(charge__patient=patient).values_list("charge_id", flat=True))
    if charges is None:
        rows = [c for c in qs.order_by("occurred_at", "id") if c.pk not in busy]
        if not rows:
            raise ValidationError({"charges": "This patient has no billable charges."})
        return rows
    try:
        ids = [int(c.pk if isinstance(c, ChargeItem) else c) for c in charges]
    except (TypeError, ValueError):
        raise ValidationError({"charges": "A list of charge ids."}) from None
    if not ids:
        raise ValidationError({"charges": "Choose at least one charge."})
    rows = list(qs.filter(pk__in=ids).order_by("occurred_at", "id"))
    found = {c.pk for c in rows}
    bad = [i for i in ids if i not in found or i in busy]
    if bad:
        raise ValidationError(
            {"charges": f"Not billable charges of this patient (or already on a draft): {sorted(set(bad))}."}
        )
    return rows


def _write_lines(invoice: Invoice, charges: list[ChargeItem], sign: int = 1) -> list[InvoiceLine]:
    lines = [
        InvoiceLine(
            invoice=invoice,
            charge=c,
            description=c.display,
            code=c.code,
            quantity=c.quantity * sign,
            unit_price=c.unit_price,
            tax_rate=c.tax_rate,
            net_amount=c.net_amount * sign,
            tax_amount=c.tax_amount * sign,
            total=(c.net_amount + c.tax_amount) * sign,
        )
        for c in charges
    ]
    return lines


def _apply_totals(invoice: Invoice, lines: list[InvoiceLine]) -> None:
    """Totals = sums of the (already rounded) lines; shares split over the lines (module docstring)."""
    invoice.net_total = sum((ln.net_amount for ln in lines), ZERO)
    invoice.tax_total = sum((ln.tax_amount for ln in lines), ZERO)
    invoice.total = invoice.net_total + invoice.tax_total
    invoice.insurer_share, invoice.patient_share = shares(invoice.total, invoice.coverage)
    remaining = invoice.insurer_share
    for ln in lines:
        share = quantize(invoice.insurer_share * ln.total / invoice.total) if invoice.total else ZERO
        ln.insurer_share = share
        remaining -= share
    if lines and remaining:
        biggest = max(lines, key=lambda ln: abs(ln.total))
        biggest.insurer_share += remaining
    for ln in lines:
        ln.patient_share = ln.total - ln.insurer_share


def invoice_draft_create(
    *, patient, charges=None, coverage=None, note: str = "", by, request=None
) -> Invoice:
    """A draft invoice for `patient` from `charges` (ChargeItems or ids; None = all billable charges not on
    another draft). `coverage`: the patient's `Coverage` the insurer share is billed to (None = self-pay).

    404 unless billing/admin and the patient is visible; 400 `charges` (none, or not billable charges of this
    patient), `coverage`, `note` (≤ 500). One AuditEvent (create).
    """
    _clerk_check(by, patient)
    coverage = _check_coverage(coverage, patient)
    note = (note or "").strip()
    if len(note) > 500:
        raise ValidationError({"note": "At most 500 characters."})
    with transaction.atomic():
        rows = _lock_charges(patient, charges)
        currencies = {c.currency for c in rows}
        if len(currencies) > 1:
            raise ValidationError({"charges": "Charges in different currencies go on different invoices."})
        invoice = Invoice(
            patient=patient,
            coverage=coverage,
            payer_class=coverage.payer.payer_class if coverage else PayerClass.SELF_PAY,
            currency=currencies.pop(),
            created_by=by,
            note=note,
        )
        lines = _write_lines(invoice, rows)
        _apply_totals(invoice, lines)
        invoice.save()
        InvoiceLine.objects.bulk_create(lines)
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=invoice,
            detail={"charges": [c.pk for c in rows], "total": str(invoice.total)},
        )
    return invoice


def _lock_draft(invoice: Invoice) -> Invoice:
    locked = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("coverage__payer", "patient")
        .get(pk=invoice.pk)
    )
    if locked.status != InvoiceStatus.DRAFT:
        raise Conflict(f"This invoice is {locked.get_status_display().lower()}; only a draft can be changed.")
    return locked


def invoice_draft_update(
    *, invoice: Invoice, charges=None, coverage=_UNSET, note=None, due_date=None, by, request=None
) -> Invoice:
    """Edit a draft: `charges` (ids) replaces its lines; `coverage` (a Coverage or None for self-pay);
    `note`; `due_date` (a date, not before today). 404 unless billing/admin; 409 unless draft; 400 as for
    `invoice_draft_create` and `due_date`."""
    _clerk_check(by, invoice.patient)
    with transaction.atomic():
        locked = _lock_draft(invoice)
        changed = {}
        if coverage is not _UNSET:
            locked.coverage = _check_coverage(coverage, locked.patient)
            locked.payer_class = locked.coverage.payer.payer_class if locked.coverage else PayerClass.SELF_PAY
            changed["coverage"] = locked.coverage_id
        if note is not None:
            note = note.strip()
            if len(note) > 500:
                raise ValidationError({"note": "At most 500 characters."})
            locked.note = note
            changed["note"] = True
        if due_date is not None:
            if not isinstance(due_date, dt.date) or due_date < timezone.localdate():
                raise ValidationError({"due_date": "A date from today on."})
            locked.due_date = due_date
            changed["due_date"] = due_date.isoformat()
        if charges is not None:
            rows = _lock_charges(locked.patient, charges, invoice=locked)
            locked.lines.all().delete()  # draft lines are work in progress, not records: replaced freely
            lines = _write_lines(locked, rows)
            changed["charges"] = [c.pk for c in rows]
        else:
            lines = list(locked.lines.all())
        _apply_totals(locked, lines)
        if charges is not None:
            InvoiceLine.objects.bulk_create(lines)
        else:
            InvoiceLine.objects.bulk_update(lines, ["insurer_share", "patient_share"])
        locked.save()
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail=changed,
        )
    return locked


def _next_number(series: str) -> str:
    """The next number of `series` under the counter's row lock (call inside a transaction)."""
    InvoiceCounter.objects.get_or_create(series=series)
    counter = InvoiceCounter.objects.select_for_update().get(series=series)
    number = counter.next_number
    InvoiceCounter.objects.filter(pk=counter.pk).update(next_number=F("next_number") + 1)
    return f"{series}-{number:06d}"


def invoice_issue(*, invoice: Invoice, by, request=None) -> Invoice:
    """Issue a draft: number (gapless, module docstring), `issued_at` now, `due_date` (default +30 days),
    its charges → billed. 404 unless billing/admin; 409 unless draft; 400 `lines` for an empty draft or a
    charge no longer billable."""
    _clerk_check(by, invoice.patient)
    with transaction.atomic():
        locked = _lock_draft(invoice)
        lines = list(locked.lines.select_related("charge"))
        if not lines:
            raise ValidationError({"lines": "An invoice needs at least one line."})
        charge_ids = [ln.charge_id for ln in lines if ln.charge_id]
        billable = ChargeItem.objects.select_for_update().filter(
            pk__in=charge_ids, status=ChargeStatus.BILLABLE
        )
        if billable.count() != len(charge_ids):
            raise ValidationError(
                {"lines": "A charge on this draft was cancelled or billed; rebuild the lines."}
            )
        now = timezone.now()
        locked.number = _next_number(str(timezone.localdate(now).year))
        locked.status = InvoiceStatus.ISSUED
        locked.issued_at = now
        locked.issued_by = by
        locked.due_date = locked.due_date or timezone.localdate(now) + dt.timedelta(days=PAYMENT_DAYS)
        locked.save()
        ChargeItem.objects.filter(pk__in=charge_ids).update(status=ChargeStatus.INVOICED, updated_at=now)
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={
                "status": {"from": "draft", "to": "issued"},
                "number": locked.number,
                "total": str(locked.total),
            },
        )
    return locked


def invoice_credit_note(*, invoice: Invoice, reason: str, by, request=None) -> Invoice:
    """Cancel an issued invoice by a credit note (module docstring); returns the credit note (issued, its own
    number). 404 unless billing/admin; 400 blank `reason` (≤ 500); 409 when the invoice is a draft, a credit
    note, or already cancelled."""
    _clerk_check(by, invoice.patient)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this invoice is cancelled."})
    if len(reason) > 500:
        raise ValidationError({"reason": "At most 500 characters."})
    with transaction.atomic():
        original = (
            Invoice.objects.select_for_update(of=("self",)).select_related("coverage").get(pk=invoice.pk)
        )
        if original.kind != "invoice" or original.status in (InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED):
            raise Conflict(f"Only an issued invoice can be credited (this one is {original.status}).")
        now = timezone.now()
        note = Invoice(
            patient=original.patient,
            kind="credit-note",
            credit_note_for=original,
            status=InvoiceStatus.ISSUED,
            payer_class=original.payer_class,
            coverage=original.coverage,
            currency=original.currency,
            net_total=-original.net_total,
            tax_total=-original.tax_total,
            total=-original.total,
            insurer_share=-original.insurer_share,
            patient_share=-original.patient_share,
            issued_at=now,
            issued_by=by,
            created_by=by,
            note=reason,
        )
        note.number = _next_number(str(timezone.localdate(now).year))
        note.save()
        lines = []
        for ln in original.lines.all():
            lines.append(
                InvoiceLine(
                    invoice=note,
                    charge=ln.charge,
                    description=ln.description,
                    code=ln.code,
                    quantity=-ln.quantity,
                    unit_price=ln.unit_price,
                    tax_rate=ln.tax_rate,
                    net_amount=-ln.net_amount,
                    tax_amount=-ln.tax_amount,
                    total=-ln.total,
                    insurer_share=-ln.insurer_share,
                    patient_share=-ln.patient_share,
                )
            )
        InvoiceLine.objects.bulk_create(lines)
        from_status = original.status
        original.status = InvoiceStatus.CANCELLED
        original.save(update_fields=["status", "updated_at"])
        ids = [ln.charge_id for ln in lines if ln.charge_id]
        ChargeItem.objects.filter(pk__in=ids, status=ChargeStatus.INVOICED).update(
            status=ChargeStatus.BILLABLE, updated_at=now
        )
        if original.amount_paid > 0:
            PatientCredit.objects.create(
                patient=original.patient,
                amount=original.amount_paid,
                currency=original.currency,
                invoice=note,
                note=f"Paid on {original.number}, cancelled by credit note {note.number}",
            )
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=original.patient,
            obj=note,
            detail={
                "credit_note_for": original.number,
                "original_status": {"from": from_status, "to": "cancelled"},
                "reason": reason,
                "credited_to_patient": str(original.amount_paid),
            },
        )
    return note


def invoice_apply_payment(*, invoice: Invoice, amount) -> Decimal:
    """Apply `amount` (Decimal; > 0 a payment or applied credit, < 0 a refund reversal) to an issued invoice;
    returns the amount actually applied. A payment larger than the balance is applied up to the balance (the
    caller turns the rest into patient credit); a reversal at most undoes what was paid. Status follows:
    nothing paid → issued, some → partially-paid, patient share covered → paid.

    Called by `hms.billing.payments` inside its transaction, after it locked the invoice row (locked again
    here, harmless). 409 for a draft, cancelled invoice or credit note; 400 `amount` for zero. No audit here:
    the payment that calls it is audited.
    """
    amount = quantize(amount)
    if amount == 0:
        raise ValidationError({"amount": "Not zero."})
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.kind != "invoice" or locked.status not in (*OPEN_STATUSES, InvoiceStatus.PAID):
            raise Conflict(f"Payments apply to an issued invoice (this one is {locked.status}).")
        if amount > 0:
            applied = min(amount, invoice_balance(locked))
        else:
            applied = max(amount, -quantize(locked.amount_paid))
        locked.amount_paid = quantize(locked.amount_paid) + applied
        if locked.amount_paid <= 0:
            locked.status = InvoiceStatus.ISSUED
        elif locked.amount_paid >= locked.patient_share:
            locked.status = InvoiceStatus.PAID
        else:
            locked.status = InvoiceStatus.PARTIALLY_PAID
        locked.save(update_fields=["amount_paid", "status", "updated_at"])
    invoice.amount_paid, invoice.status = locked.amount_paid, locked.status
    return applied
