"""Payments, patient credit, refunds and online (gateway) payments. The only writer of `Payment`,
`Refund` and `PatientCredit` rows other than the invoices module.

Decisions (issue 7):
- **Who takes money**: billing clerks and admins record every method; receptionists take desk payments
  (cash, card, bank transfer) only, so the front desk can collect a copay without a billing clerk; patients
  pay only online, only their own invoices (`payment_online_start`). Doctors, nurses, pharmacists and lab
  technicians never see money. Reads follow `payments_visible`.
- **Idempotency**: `idempotency_key` is unique. The same key with the same patient, invoice, method and
  amount returns the first payment (`created=False`); the same key with anything different is a 409. The
  check runs under the row lock of the invoice (or of the patient for an invoice-less deposit), so two
  concurrent requests with one key serialise and record one row; the unique constraint is the last net.
- **Application**: a completed payment is applied to its invoice through
  `hms.billing.invoices.invoice_apply_payment` up to the open balance (`hms.billing.money.invoice_balance`);
  what exceeds the balance (or a payment without an invoice) becomes `PatientCredit` (+). Method `credit`
  consumes the patient's credit (-), never below zero (patient row lock), and may not exceed the balance.
- **Receipt number**: derived, not a separate series: "R-<year received>-<payment id, 8 digits>", set when
  the payment completes. Receipts are not fiscal documents (invoices are, and their numbers are gapless),
  so uniqueness and traceability to the payment are enough and no counter row is contended at the desk.
- **Refunds**: a billing clerk or an admin requests (`refund_request`, reason required); an admin (the
  billing supervisor of this hospital) other than the requester approves or rejects (`refund_decide`).
  Requested + approved refunds never exceed the payment. An approved refund first takes back the credit
  this payment created (as far as it is still unspent), then lowers the invoice's `amount_paid`, which may
  reopen the invoice (paid → partially-paid → issued).

Errors: `ValidationError` (400, field errors), `PermissionDenied` (403), `NotFoundOrForbidden` (404),
`Conflict` (409: key reused differently, invoice not payable, refund already decided).
"""

from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.models import Patient

from . import gateways, selectors
from .invoices import invoice_apply_payment
from .models import (
    Invoice,
    InvoiceStatus,
    PatientCredit,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from .money import ZERO, invoice_balance, quantize, to_decimal

PAYABLE = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)
MONEY_ROLES = frozenset({Role.ADMIN, Role.BILLING})
DESK_ROLES = frozenset({Role.ADMIN, Role.BILLING, Role.RECEPTIONIST})
DESK_METHODS = frozenset({PaymentMethod.CASH, PaymentMethod.CARD, PaymentMethod.BANK_TRANSFER})
REFUND_REQUEST_ROLES = frozenset({Role.ADMIN, Role.BILLING})
REFUND_APPROVE_ROLES = frozenset({Role.ADMIN})
MAX_AMOUNT = Decimal("999999999999.99")
MAX_ID = 2**63 - 1
REUSED_KEY = "This idempotency key was already used for a different payment."

# ---------------------------------------------------------------- selectors


def payments_visible(user):
    """Payments `user` may read (`hms.billing.selectors.payments_visible`): admins, billing clerks and
    receptionists all; a patient their own; everyone else none."""
    return selectors.payments_visible(user).select_related("cashier")


def refunds_visible(user):
    """Refunds `user` may read: admins and billing clerks all; a patient those of their own payments."""
    if not (user and user.is_authenticated and user.is_active):
        return Refund.objects.none()
    qs = Refund.objects.select_related("payment", "payment__patient", "requested_by", "decided_by")
    if user.role == Role.ADMIN:
        return qs
    if user.role == Role.BILLING:
        return qs.filter(payment__patient__deleted_at__isnull=True)
    if user.role == Role.PATIENT:
        return qs.filter(payment__patient__user=user, payment__patient__deleted_at__isnull=True)
    return qs.none()


def payment_get(*, user, payment_id) -> Payment:
    """One payment `user` may read. Raises `NotFoundOrForbidden` (404) otherwise."""
    try:
        pk = int(payment_id)
        if not 0 < pk <= MAX_ID:
            raise ValueError
        return payments_visible(user).get(pk=pk)
    except (Payment.DoesNotExist, ValueError, TypeError):
        raise NotFoundOrForbidden() from None


def refund_get(*, user, refund_id) -> Refund:
    try:
        pk = int(refund_id)
        if not 0 < pk <= MAX_ID:
            raise ValueError
        return refunds_visible(user).get(pk=pk)
    except (Refund.DoesNotExist, ValueError, TypeError):
        raise NotFoundOrForbidden() from None


def credit_balance(patient) -> Decimal:
    """The patient's credit: the sum of their `PatientCredit` entries (Decimal, ≥ 0)."""
    total = PatientCredit.objects.filter(patient=patient).aggregate(s=Sum("amount"))["s"]
    return quantize(total or 0)


def refunded_amount(payment, *, include_requested: bool = False) -> Decimal:
    statuses = [RefundStatus.APPROVED] + ([RefundStatus.REQUESTED] if include_requested else [])
    total = payment.refunds.filter(status__in=statuses).aggregate(s=Sum("amount"))["s"]
    return quantize(total or 0)


# ---------------------------------------------------------------- helpers


def _amount(value, field="amount") -> Decimal:
    try:
        amount = to_decimal(value)
    except ValueError:
        raise ValidationError({field: "Enter an amount such as 12.50."}) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError({field: "The amount must be greater than 0."})
    if amount != quantize(amount):
        raise ValidationError({field: "At most 2 decimal places."})
    if amount > MAX_AMOUNT:
        raise ValidationError({field: "The amount is too large."})
    return amount


def _apply_to_invoice(invoice: Invoice, amount: Decimal) -> Decimal:
    """Add `amount` (negative for a refund) to the locked `invoice`'s amount_paid and set its status
    (`hms.billing.invoices.invoice_apply_payment`, contract 3) → the amount applied."""
    return invoice_apply_payment(invoice=invoice, amount=amount)


def _lock_invoice(invoice_id) -> Invoice | None:
    return Invoice.objects.select_for_update().get(pk=invoice_id) if invoice_id else None


def _lock_patient(patient_id) -> Patient:
    return Patient.objects.select_for_update().get(pk=patient_id)


def _complete(payment: Payment, invoice: Invoice | None) -> None:
    """Apply a payment that just became completed: invoice up to its balance, the rest to credit.
    Caller holds the invoice and patient row locks."""
    if payment.method == PaymentMethod.CREDIT:
        PatientCredit.objects.create(
            patient_id=payment.patient_id,
            amount=-payment.amount,
            currency=payment.currency,
            payment=payment,
            invoice=invoice,
            note="Paid from credit",
        )
    applied = ZERO
    if invoice is not None:
        applied = min(payment.amount, invoice_balance(invoice))
        if applied > 0:
            applied = _apply_to_invoice(invoice, applied)
    excess = payment.amount - applied
    if excess > 0:
        PatientCredit.objects.create(
            patient_id=payment.patient_id,
            amount=excess,
            currency=payment.currency,
            payment=payment,
            invoice=invoice,
            note="Overpayment" if invoice is not None else "Deposit",
        )
    payment.status = PaymentStatus.COMPLETED
    payment.receipt_number = f"R-{payment.received_at:%Y}-{payment.pk:08d}"
    payment.save(update_fields=["status", "receipt_number", "updated_at"])


def _same_request(existing: Payment, *, patient_id, invoice_id, method, amount) -> bool:
    return (
        existing.patient_id == patient_id
        and existing.invoice_id == invoice_id
        and existing.method == method
        and existing.amount == amount
    )


# ---------------------------------------------------------------- services


def payment_record(
    *,
    invoice: Invoice | None = None,
    patient: Patient | None = None,
    method: str,
    amount,
    idempotency_key: str,
    by,
    note: str = "",
    request=None,
) -> tuple[Payment, bool]:
    """Record a desk payment → (payment, created). `created` is False when `idempotency_key` was seen.

    - `invoice` (issued or partially paid; else 409) or `patient` (a deposit: all of it becomes credit).
    - `method`: cash | card | bank-transfer | insurance | credit (`online` only via `payment_online_start`).
    - `amount`: Decimal/str > 0 with ≤ 2 decimals, in the invoice currency (USD by default).
    Raises ValidationError (400) for a bad method/amount/key or credit too small; PermissionDenied (403)
    for a role that does not take payments; Conflict (409) for a reused key or an unpayable invoice.
    """
    if by.role not in DESK_ROLES:
        raise PermissionDenied("Your role does not take payments.")
    if method not in PaymentMethod.values or method == PaymentMethod.ONLINE:
        raise ValidationError({"method": "Choose cash, card, bank-transfer, insurance or credit."})
    if by.role == Role.RECEPTIONIST and method not in DESK_METHODS:
        raise PermissionDenied("The front desk takes cash, card or bank transfer only.")
    key = (idempotency_key or "").strip()
    if not key or len(key) > 100:
        raise ValidationError({"idempotency_key": "Send an idempotency key of 1-100 characters."})
    amount = _amount(amount)
    if invoice is None and patient is None:
        raise ValidationError({"invoice": "Name the invoice (or the patient, for a deposit)."})
    if invoice is None and method == PaymentMethod.CREDIT:
        raise ValidationError({"invoice": "Credit can only pay an invoice."})
    patient_id = invoice.patient_id if invoice is not None else patient.pk
    invoice_id = invoice.pk if invoice is not None else None
    try:
        with transaction.atomic():
            locked = Invoice.objects.select_for_update().get(pk=invoice_id) if invoice_id else None
            _lock_patient(patient_id)
            existing = Payment.objects.filter(idempotency_key=key).first()
            if existing is not None:
                if not _same_request(
                    existing, patient_id=patient_id, invoice_id=invoice_id, method=method, amount=amount
                ):
                    raise Conflict(REUSED_KEY, payload={"payment": existing.pk})
                return existing, False
            if locked is not None:
                if locked.kind != "invoice" or locked.status not in PAYABLE:
                    raise Conflict("Only an issued, unpaid invoice can be paid.")
                if method == PaymentMethod.CREDIT and amount > invoice_balance(locked):
                    raise ValidationError({"amount": "Credit can pay at most the open balance."})
            if method == PaymentMethod.CREDIT and amount > credit_balance(patient_id):
                raise ValidationError({"amount": "The patient's credit is smaller than this amount."})
            payment = Payment.objects.create(
                patient_id=patient_id,
                invoice=locked,
                method=method,
                amount=amount,
                currency=locked.currency if locked is not None else "USD",
                status=PaymentStatus.PENDING,
                idempotency_key=key,
                received_at=timezone.now(),
                cashier=by,
                note=(note or "")[:500],
            )
            _complete(payment, locked)
            audit_record(
                actor=by,
                action=AuditAction.CREATE,
                request=request,
                patient=payment.patient,
                obj=payment,
                detail={"method": method, "amount": str(amount), "invoice": invoice_id},
            )
            return payment, True
    except IntegrityError:
        # A concurrent request with the same key won the race outside our locks (e.g. a deposit for
        # another patient with the same key): answer like a replay.
        existing = Payment.objects.filter(idempotency_key=key).first()
        if existing is None:
            raise
        if not _same_request(
            existing, patient_id=patient_id, invoice_id=invoice_id, method=method, amount=amount
        ):
            raise Conflict(
                "This idempotency key was already used for a different payment.",
                payload={"payment": existing.pk},
            ) from None
        return existing, False


def payment_online_start(*, invoice: Invoice, by, return_url: str, request=None) -> tuple[Payment, str]:
    """A patient starts paying the open balance of their own `invoice` online → (pending payment, URL to
    send the browser to). The gateway is `settings.PAYMENT_GATEWAY` (see `hms.billing.gateways`).

    Raises NotFoundOrForbidden (404) when the invoice is not the patient's; Conflict (409) when nothing is
    owed, the invoice is not payable or online payment is off ("none")."""
    gateway = gateways.get_gateway()
    if gateway is None:
        raise Conflict("Online payment is not available; please pay at the desk.")
    if by.role != Role.PATIENT or invoice.patient.user_id != by.pk:
        raise NotFoundOrForbidden()
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if locked.kind != "invoice" or locked.status not in PAYABLE:
            raise Conflict("This invoice cannot be paid.")
        balance = invoice_balance(locked)
        if balance <= 0:
            raise Conflict("Nothing is owed on this invoice.")
        payment = Payment.objects.create(
            patient_id=locked.patient_id,
            invoice=locked,
            method=PaymentMethod.ONLINE,
            amount=balance,
            currency=locked.currency,
            status=PaymentStatus.PENDING,
            idempotency_key=f"online:{gateways.new_reference()}",
            received_at=timezone.now(),
            cashier=by,
            gateway=gateway.name,
        )
        intent = gateway.create_intent(payment=payment, return_url=return_url)
        payment.gateway_reference = intent.reference
        payment.save(update_fields=["gateway_reference", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=locked.patient,
            obj=payment,
            detail={"method": "online", "gateway": gateway.name, "status": "pending"},
        )
    return payment, intent.redirect_url


def payment_gateway_confirm(*, gateway_name: str, payload: dict, signature: str, request=None) -> Payment:
    """Apply a gateway's callback (webhook or browser return) → the payment. Idempotent: a replayed
    callback for a payment no longer pending changes nothing.

    Raises PermissionDenied (403) for a bad signature or an unknown/disabled gateway; NotFoundOrForbidden
    (404) for an unknown reference."""
    gateway = gateways.get_gateway(gateway_name)
    if gateway is None:
        raise PermissionDenied("Unknown payment gateway.")
    result = gateway.verify_callback(payload=payload, signature=signature)  # raises PermissionDenied
    with transaction.atomic():
        try:
            payment = Payment.objects.select_for_update().get(
                gateway=gateway.name, gateway_reference=result.reference
            )
        except Payment.DoesNotExist:
            raise NotFoundOrForbidden() from None
        if payment.status != PaymentStatus.PENDING:
            return payment
        invoice = _lock_invoice(payment.invoice_id)
        _lock_patient(payment.patient_id)
        if result.succeeded:
            if invoice is not None and invoice.status not in PAYABLE:
                invoice = None  # paid meanwhile at the desk: the whole amount becomes credit
            _complete(payment, invoice)
        else:
            payment.status = PaymentStatus.FAILED
            payment.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=None,
            action=AuditAction.UPDATE,
            request=request,
            patient=payment.patient,
            obj=payment,
            channel="api",
            detail={"gateway": gateway.name, "status": payment.status},
        )
    return payment


def refund_request(*, payment: Payment, amount, reason: str, by, request=None) -> Refund:
    """Ask to give back `amount` of a completed `payment`, with a `reason` → Refund (requested).

    Raises PermissionDenied (403) unless billing/admin; ValidationError (400) for no reason, a bad amount
    or more than paid minus refunded (requested refunds count); Conflict (409) for a payment not completed."""
    if by.role not in REFUND_REQUEST_ROLES:
        raise PermissionDenied("Only billing staff request refunds.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the money is given back."})
    if len(reason) > 500:
        raise ValidationError({"reason": "At most 500 characters."})
    amount = _amount(amount)
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.COMPLETED:
            raise Conflict("Only a completed payment can be refunded.")
        if locked.method == PaymentMethod.CREDIT:
            raise Conflict("A payment from credit is not refunded; issue a credit note instead.")
        open_amount = locked.amount - refunded_amount(locked, include_requested=True)
        if amount > open_amount:
            raise ValidationError({"amount": f"At most {open_amount} can still be refunded."})
        refund = Refund.objects.create(payment=locked, amount=amount, reason=reason, requested_by=by)
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=locked.patient,
            obj=refund,
            detail={"payment": locked.pk, "amount": str(amount)},
        )
    return refund


def refund_decide(*, refund: Refund, approve: bool, note: str = "", by, request=None) -> Refund:
    """Approve (money is paid out) or reject a requested refund. The decider is an admin and never the
    requester (403). Raises Conflict (409) when already decided; ValidationError (400) when rejecting
    without a note."""
    if by.role not in REFUND_APPROVE_ROLES:
        raise PermissionDenied("Only an administrator approves refunds.")
    note = (note or "").strip()[:500]
    if not approve and not note:
        raise ValidationError({"note": "Say why the refund is rejected."})
    with transaction.atomic():
        locked = Refund.objects.select_for_update().select_related("payment").get(pk=refund.pk)
        if locked.requested_by_id == by.pk:
            raise PermissionDenied("A second person must decide on a refund you requested.")
        if locked.status != RefundStatus.REQUESTED:
            raise Conflict("This refund was already decided.")
        payment = locked.payment
        if approve:
            invoice = _lock_invoice(payment.invoice_id)
            _lock_patient(payment.patient_id)
            created_credit = quantize(
                PatientCredit.objects.filter(payment=payment, amount__gt=0).aggregate(s=Sum("amount"))["s"]
                or 0
            )
            taken_back = quantize(
                -(
                    PatientCredit.objects.filter(
                        Q(note="Refund") & Q(payment=payment) & Q(amount__lt=0)
                    ).aggregate(s=Sum("amount"))["s"]
                    or 0
                )
            )
            from_credit = min(locked.amount, created_credit - taken_back, credit_balance(payment.patient_id))
            from_credit = max(from_credit, ZERO)
            if from_credit > 0:
                PatientCredit.objects.create(
                    patient_id=payment.patient_id,
                    amount=-from_credit,
                    currency=payment.currency,
                    payment=payment,
                    invoice=invoice,
                    note="Refund",
                )
            rest = locked.amount - from_credit
            if rest > 0:
                if invoice is None:
                    raise Conflict("The credit of this payment was already spent; it cannot be refunded.")
                _apply_to_invoice(invoice, -rest)
        locked.status = RefundStatus.APPROVED if approve else RefundStatus.REJECTED
        locked.decided_by = by
        locked.decided_at = timezone.now()
        locked.decision_note = note
        locked.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=payment.patient,
            obj=locked,
            detail={"status": locked.status, "amount": str(locked.amount)},
        )
    return locked
