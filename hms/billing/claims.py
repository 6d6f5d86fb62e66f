"""Insurance claims and their lifecycle (issue 7). A Claim maps to FHIR R4 `Claim` (`fhir_claims`).

Lifecycle (every transition is a `ClaimEvent` with time, who (None = the background job) and note; any
other move raises `Conflict`, HTTP 409):

    created ──validate──▶ validated ──submit──▶ submitted ──(job)──▶ in-review ──▶ approved ──▶ paid
       │                     │                                           ├──────▶ partially-approved ──▶ paid
       └──cancel──▶ cancelled ◀──cancel──┘                               └──────▶ denied (with reasons)

Access (same rule as `hms.billing.selectors`): admin and billing clerks see every live patient's claims;
a patient sees their own; every other role nothing. Missing or out of scope → `NotFoundOrForbidden` (404).
Reads and writes are audited in the same transaction. The patient is notified of each status change
(`notification_send`, event "claim.status", templates `messaging/claim.status*.txt`).
"""

import datetime as dt
from decimal import Decimal
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict, NotFoundOrForbidden

from .coverage import coverage_active_on, coverage_is_active_on
from .models import Claim, ClaimEvent, ClaimStatus, Invoice, InvoiceStatus

S = ClaimStatus
CLAIM_STAFF = frozenset({Role.ADMIN, Role.BILLING})
TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.VALIDATED, S.CANCELLED}),
    S.VALIDATED: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.IN_REVIEW}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.DENIED}),
    S.APPROVED: frozenset({S.PAID}),
    S.PARTIALLY_APPROVED: frozenset({S.PAID}),
    S.DENIED: frozenset(),
    S.PAID: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN_STATUSES = (S.CREATED, S.VALIDATED, S.SUBMITTED, S.IN_REVIEW, S.APPROVED, S.PARTIALLY_APPROVED)
CLAIMABLE_INVOICE = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID)


# ---------------------------------------------------------------- reads


def claims_visible(user) -> QuerySet[Claim]:
    """Claims `user` may see: `hms.billing.selectors.claims_visible`, the one rule (module docstring)."""
    from .selectors import claims_visible as visible

    return visible(user)


def claim_get(*, user, claim_id) -> Claim:
    """One visible claim (events prefetched), or `NotFoundOrForbidden` (404)."""
    try:
        pk = int(claim_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    claim = (
        claims_visible(user).prefetch_related("events__by").filter(pk=pk).first() if 0 < pk < 2**63 else None
    )
    if claim is None:
        raise NotFoundOrForbidden()
    return claim


# ---------------------------------------------------------------- helpers


def _check_staff(by) -> None:
    if by is None or not by.is_active or by.role not in CLAIM_STAFF:
        raise PermissionDenied("Only billing staff handle claims.")


def _lock(claim: Claim) -> Claim:
    return (
        Claim.objects.select_for_update(of=("self",))
        .select_related("coverage__payer", "patient")
        .get(pk=claim.pk)
    )


def _notify(claim: Claim, event: ClaimEvent) -> None:
    from hms.messaging.services import notification_send

    user = getattr(claim.patient, "user", None)
    if user is None:
        return
    notification_send(
        recipient=user,
        event="claim.status",
        context={
            "claim": claim,
            "status": claim.get_status_display(),
            "payer": claim.coverage.payer.name if claim.coverage_id else "",
            "invoice": str(claim.invoice) if claim.invoice_id else "",
            "note": event.note,
        },
        dedupe_key=f"claim:{claim.pk}:status:{event.pk}",
    )


def transition(claim: Claim, to: str, *, by, note: str = "", request=None, notify: bool = True) -> ClaimEvent:
    """Move a LOCKED claim to `to` (409 when not allowed), record the event, audit it, notify the patient.
    Call inside a transaction."""
    if to not in TRANSITIONS[claim.status]:
        raise Conflict(
            f"A {claim.get_status_display().lower()} claim cannot become {ClaimStatus(to).label.lower()}.",
            payload={"status": claim.status, "allowed": sorted(TRANSITIONS[claim.status])},
        )
    event = ClaimEvent.objects.create(
        claim=claim, from_status=claim.status, to_status=to, at=timezone.now(), by=by, note=note[:500]
    )
    claim.status = to
    claim.save(update_fields=["status", "updated_at"])
    audit_record(
        action=AuditAction.UPDATE,
        actor=by,
        request=request,
        patient=claim.patient,
        obj=claim,
        detail={"transition": f"{event.from_status}->{to}"},
    )
    if notify:
        _notify(claim, event)
    return event


def _service_date(invoice: Invoice) -> dt.date | None:
    dates = [line.charge.occurred_at for line in invoice.lines.select_related("charge") if line.charge_id]
    if dates:
        return timezone.localdate(min(dates))
    return timezone.localdate(invoice.issued_at) if invoice.issued_at else None


# ---------------------------------------------------------------- writes


def claim_create(*, invoice: Invoice, coverage=None, by, request=None) -> Claim:
    """A claim (status created) to the insurer for an issued invoice (billing, admin).

    `coverage`: default the invoice's coverage, else the patient's primary coverage active on the service
    date (earliest charge of the invoice, else its issue date). `claimed_amount` = the invoice's
    `insurer_share` (its `total` when no share was computed). Errors: 400 {"invoice"} for a draft, a
    cancelled invoice or a credit note; 400 {"coverage"} for another patient's coverage; 409 when the
    invoice has an open claim already.
    """
    _check_staff(by)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if invoice.kind != "invoice" or invoice.status not in CLAIMABLE_INVOICE:
            raise ValidationError({"invoice": "Only an issued invoice can be claimed."})
        if coverage is not None and coverage.patient_id != invoice.patient_id:
            raise ValidationError({"coverage": "This coverage is not the invoice patient's."})
        open_claim = invoice.claims.filter(status__in=OPEN_STATUSES).first()
        if open_claim is not None:
            raise Conflict("This invoice has an open claim already.", payload={"claim": open_claim.pk})
        service_date = _service_date(invoice)
        if coverage is None:
            coverage = invoice.coverage or (
                coverage_active_on(invoice.patient, service_date) if service_date else None
            )
        amount = invoice.insurer_share if invoice.insurer_share > 0 else invoice.total
        claim = Claim.objects.create(
            patient=invoice.patient,
            invoice=invoice,
            coverage=coverage,
            service_date=service_date,
            currency=invoice.currency,
            claimed_amount=amount,
            created_by=by,
        )
        event = ClaimEvent.objects.create(claim=claim, to_status=S.CREATED, at=timezone.now(), by=by)
        audit_record(action=AuditAction.CREATE, actor=by, request=request, patient=claim.patient, obj=claim)
        _notify(claim, event)
    return claim


def claim_problems(claim: Claim) -> dict[str, str]:
    """What a payer would reject, by field: member id, payer, service date, at least one line, coverage in
    force on the service date, an amount > 0. Empty when the claim can be submitted."""
    problems = {}
    coverage = claim.coverage
    if coverage is None:
        problems["coverage"] = "No insurance coverage is attached."
        problems["payer"] = "No payer: attach a coverage."
        problems["member_id"] = "No member id: attach a coverage."
    else:
        if not coverage.member_id.strip():
            problems["member_id"] = "The coverage has no member id."
        if not coverage.payer.active:
            problems["payer"] = "The payer is inactive."
    if claim.service_date is None:
        problems["service_date"] = "The service date is missing."
    elif coverage is not None and not coverage_is_active_on(coverage, claim.service_date):
        problems["coverage"] = f"The coverage is not in force on the service date {claim.service_date}."
    if not claim.invoice_id or not claim.invoice.lines.exists():
        problems["lines"] = "A claim needs at least one line."
    if claim.claimed_amount <= 0:
        problems["claimed_amount"] = "The claimed amount must be more than 0."
    return problems


def claim_validate(*, claim: Claim, by, request=None) -> Claim:
    """created → validated when `claim_problems` is empty; else 400 listing every problem by field
    (the claim stays created). 409 from any other status."""
    _check_staff(by)
    with transaction.atomic():
        claim = _lock(claim)
        if claim.status != S.CREATED:
            transition(claim, S.VALIDATED, by=by, request=request)  # raises the 409
        problems = claim_problems(claim)
        if problems:
            raise ValidationError(problems)
        transition(claim, S.VALIDATED, by=by, request=request)
    return claim


def claim_submit(*, claim: Claim, by, request=None) -> Claim:
    """validated → submitted, then queues `billing.claim_process` after commit (409 from another status)."""
    _check_staff(by)
    with transaction.atomic():
        claim = _lock(claim)
        transition(claim, S.SUBMITTED, by=by, request=request)
        transaction.on_commit(partial(_enqueue, claim.pk))
    return claim


def _enqueue(claim_id: int) -> None:
    from .tasks import claim_process_task

    claim_process_task.delay(claim_id)


def claim_cancel(*, claim: Claim, reason: str, by, request=None) -> Claim:
    """created/validated → cancelled with a reason (400 {"reason"} when blank; 409 once submitted)."""
    _check_staff(by)
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why the claim is cancelled."})
    with transaction.atomic():
        claim = _lock(claim)
        transition(claim, S.CANCELLED, by=by, note=reason.strip(), request=request)
    return claim


def claim_process(*, claim_id: int) -> Claim | None:
    """The background job: a submitted claim goes in-review, is sent through the payer adapter, and the
    answer is applied (`fhir_claims.claim_response_import`). Runs once: a claim no longer "submitted"
    is left alone (None returned), so a re-delivered task does nothing."""
    from .fhir_claims import claim_response_import
    from .payer_adapters import adapter_for

    with transaction.atomic():
        claim = Claim.objects.select_for_update().filter(pk=claim_id).first()
        if claim is None or claim.status != S.SUBMITTED:
            return None
        claim = _lock(claim)
        transition(claim, S.IN_REVIEW, by=None, note="sent to the payer")
        response = adapter_for(claim).adjudicate(claim)
        claim_response_import(claim, response, by=None)
    return claim


def claim_record_insurer_payment(claim: Claim, *, amount: Decimal, by) -> str:
    """Record the insurer's payment of a paid claim; returns which path was used.

    - The invoice had no insurer share (a self-pay invoice claimed afterwards: the patient's share is the
      whole total) and is still payable: `hms.billing.payments.payment_record` with method "insurance" and
      idempotency key "claim:<id>:paid", which lowers what the patient owes ("payments.payment_record").
    - Otherwise ("claim-only"): the invoice's `insurer_share` is the insurer's part, outside the patient's
      balance (`hms.billing.money.invoice_balance` = patient_share - amount_paid), so applying the money there
      would wrongly turn it into patient credit; `claim.paid_amount` is the record of the payment.
    The payment is taken in the name of the clerk who created the claim (`Payment.cashier` is required).
    """
    from . import payments

    if not claim.invoice_id or amount <= 0:
        return "none"
    invoice = Invoice.objects.select_for_update().get(pk=claim.invoice_id)
    cashier = by or claim.created_by
    if invoice.insurer_share == 0 and invoice.status in payments.PAYABLE and cashier is not None:
        payments.payment_record(
            invoice=invoice,
            amount=amount,
            method="insurance",
            idempotency_key=f"claim:{claim.pk}:paid",
            by=cashier,
            note=f"Insurance claim #{claim.pk}",
        )
        return "payments.payment_record"
    return "claim-only"
