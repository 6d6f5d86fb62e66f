"""Portal pages of payments, refunds, receipts and the billing reports (issue 7).

- `portal:payment_new` `/billing/payments/new/`: take a payment at the desk (billing, admin, reception).
  `?invoice=<id>`: the invoice's balance and the payment form; `?patient=<id>`: the patient's open invoices
  and a deposit form; neither: a patient search (htmx, search-as-you-type: `portal:payment_patient_search`).
  The form carries a one-time idempotency key, so a double-clicked or re-sent form records one payment.
- `portal:payment` `/billing/payments/<pk>/`: one payment, its receipt, its refunds and (billing, admin) the
  refund request form.
- `portal:receipt` `/billing/payments/<pk>/receipt/`: the PDF receipt (staff and the patient themself).
- `portal:refunds` `/billing/refunds/`: refunds waiting for a decision; admins (not the requester) approve or
  reject them (`portal:refund_decide`, POST).
- `portal:billing_reports` `/billing/reports/?date=&as_of=`: the day's cash-up and the ageing, with CSV
  downloads (`?download=cash-up|ageing`).
- `portal:my_receipts` `/me/receipts/`: the signed-in patient's payments with receipts, and their open
  invoices with "Pay online" (`portal:pay_online`, POST → the gateway; `portal:pay_online_return` is where
  the gateway sends the browser back, which confirms the payment).

Thin: reads through `hms.billing.payments` / `hms.billing.selectors` (404 for "missing" and "not yours"),
writes through `hms.billing.payments` (which audit); each PHI read writes an AuditEvent.
"""

import datetime as dt
import uuid
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.billing import payments, reports, selectors
from hms.billing.gateways import get_gateway
from hms.billing.models import InvoiceStatus, PaymentMethod, RefundStatus
from hms.billing.money import invoice_balance
from hms.billing.receipt_pdf import receipt_pdf_export
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.selectors import patient_get, patient_search

from .access import role_required

DESK = (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST)
MONEY = (Role.ADMIN, Role.BILLING)
OPEN = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)


def _messages_of(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(getattr(exc, "messages", [str(exc)]))


def _read(request, *, patient=None, patients=None, obj=None, object_type="", view: str):
    audit_record(
        action=AuditAction.SEARCH if patients is not None else AuditAction.READ,
        request=request,
        patient=patient,
        patients=patients,
        obj=obj,
        object_type=object_type,
        channel="web",
        detail={"view": view},
    )


class PaymentForm(forms.Form):
    method = forms.ChoiceField(label="Method")
    amount = forms.DecimalField(label="Amount", max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    note = forms.CharField(label="Note (optional)", max_length=500, required=False)
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args, user, deposit=False, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [c for c in PaymentMethod.choices if c[0] != PaymentMethod.ONLINE]
        if user.role == Role.RECEPTIONIST:
            choices = [c for c in choices if c[0] in payments.DESK_METHODS]
        if deposit:
            choices = [c for c in choices if c[0] != PaymentMethod.CREDIT]
        self.fields["method"].choices = choices


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        label="Amount to refund", max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    reason = forms.CharField(label="Reason", max_length=500, widget=forms.Textarea(attrs={"rows": 2}))


@role_required(*DESK)
@require_http_methods(["GET", "POST"])
def payment_new(request):
    """Take a payment of an invoice or a deposit for a patient, or find the patient first."""
    invoice = patient = None
    with transaction.atomic():
        if request.GET.get("invoice"):
            invoice = selectors.invoice_get(request.user, request.GET["invoice"])
            patient = invoice.patient
            _read(request, patient=patient, obj=invoice, view="payment_new")
        elif request.GET.get("patient"):
            patient = patient_get(request.user, request.GET["patient"])
            _read(request, patient=patient, obj=patient, view="payment_new")
    open_invoices = []
    if patient is not None and invoice is None:
        open_invoices = list(
            selectors.invoices_visible(request.user).filter(patient=patient, status__in=OPEN)
        )
    balance = invoice_balance(invoice) if invoice is not None else None
    form = None
    status = 200
    if patient is not None:
        deposit = invoice is None
        if request.method == "POST":
            form = PaymentForm(request.POST, user=request.user, deposit=deposit)
            if form.is_valid():
                try:
                    payment, created = payments.payment_record(
                        invoice=invoice,
                        patient=patient,
                        method=form.cleaned_data["method"],
                        amount=form.cleaned_data["amount"],
                        idempotency_key=form.cleaned_data["idempotency_key"],
                        note=form.cleaned_data["note"],
                        by=request.user,
                        request=request,
                    )
                except (ValidationError, Conflict, PermissionDenied) as exc:
                    for m in _messages_of(exc):
                        form.add_error(None, m)
                else:
                    messages.success(
                        request,
                        f"Payment of {payment.amount} {payment.currency} recorded "
                        f"(receipt {payment.receipt_number})."
                        if created
                        else "This payment was already recorded.",
                    )
                    return redirect("portal:payment", payment.pk)
            status = 400
        else:
            initial = {"idempotency_key": uuid.uuid4().hex, "method": PaymentMethod.CASH}
            if balance:
                initial["amount"] = balance
            form = PaymentForm(initial=initial, user=request.user, deposit=deposit)
    return render(
        request,
        "portal/billing/payment_new.html",
        {
            "invoice": invoice,
            "patient": patient,
            "balance": balance,
            "open_invoices": open_invoices,
            "credit": payments.credit_balance(patient) if patient is not None else None,
            "form": form,
        },
        status=status,
    )


@role_required(*DESK)
@require_GET
def payment_patient_search(request):
    """htmx fragment: patients matching `q` (name, MRN, phone), each linking to the payment page."""
    q = (request.GET.get("q") or "").strip()[:100]
    found = []
    if len(q) >= 2:
        with transaction.atomic():
            found = list(patient_search(request.user, q)[:15])
            _read(request, patients=found, object_type="patients.Patient", view="payment_patient_search")
    return render(request, "portal/billing/payment_patient_results.html", {"patients": found, "q": q})


@role_required(*DESK, Role.PATIENT)
@require_GET
def payment_detail(request, pk: int):
    """One payment with its refunds; billing clerks and admins can ask for a refund from here."""
    with transaction.atomic():
        payment = payments.payment_get(user=request.user, payment_id=pk)
        _read(request, patient=payment.patient, obj=payment, view="payment")
        refunds = list(payment.refunds.select_related("requested_by", "decided_by"))
    can_refund = request.user.role in MONEY and payment.status == "completed" and payment.method != "credit"
    return render(
        request,
        "portal/billing/payment_detail.html",
        {
            "payment": payment,
            "refunds": refunds,
            "refund_form": RefundForm() if can_refund else None,
            "refundable": payment.amount - payments.refunded_amount(payment, include_requested=True),
        },
    )


@role_required(*MONEY)
@require_POST
def refund_request(request, pk: int):
    """Ask for a refund of payment `pk` (billing, admin)."""
    payment = payments.payment_get(user=request.user, payment_id=pk)
    form = RefundForm(request.POST)
    if form.is_valid():
        try:
            payments.refund_request(
                payment=payment,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                by=request.user,
                request=request,
            )
        except (ValidationError, Conflict, PermissionDenied) as exc:
            for m in _messages_of(exc):
                messages.error(request, m)
        else:
            messages.success(request, "Refund requested; an administrator will decide on it.")
    else:
        for errors in form.errors.values():
            for m in errors:
                messages.error(request, m)
    return redirect("portal:payment", payment.pk)


@role_required(*DESK, Role.PATIENT)
@require_GET
def receipt(request, pk: int):
    """The PDF receipt of a completed payment (audited export)."""
    try:
        payment, data = receipt_pdf_export(user=request.user, payment_id=pk, request=request)
    except Conflict as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain")
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{payment.receipt_number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(*MONEY)
@require_GET
def refunds(request):
    """Refunds waiting for a decision, and the last decided ones."""
    with transaction.atomic():
        qs = payments.refunds_visible(request.user).select_related("payment__patient")
        waiting = list(qs.filter(status=RefundStatus.REQUESTED).order_by("created_at")[:100])
        decided = list(qs.exclude(status=RefundStatus.REQUESTED).order_by("-decided_at")[:25])
        _read(
            request,
            patients=sorted({r.payment.patient_id for r in waiting + decided}),
            object_type="billing.Refund",
            view="refunds",
        )
    return render(request, "portal/billing/payment_refunds.html", {"waiting": waiting, "decided": decided})


@role_required(Role.ADMIN)
@require_POST
def refund_decide(request, pk: int):
    """Approve or reject a requested refund (an admin other than the requester)."""
    refund = payments.refund_get(user=request.user, refund_id=pk)
    approve = request.POST.get("decision") == "approve"
    try:
        payments.refund_decide(
            refund=refund,
            approve=approve,
            note=request.POST.get("note", ""),
            by=request.user,
            request=request,
        )
    except (ValidationError, Conflict, PermissionDenied) as exc:
        for m in _messages_of(exc):
            messages.error(request, m)
    else:
        messages.success(request, "Refund approved and paid out." if approve else "Refund rejected.")
    return redirect("portal:refunds")


def _date(value: str | None, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if value else default
    except ValueError:
        return default


@role_required(*DESK)
@require_GET
def billing_reports(request):
    """The cash-up of a day (a receptionist: their own drawer) and, for billing and admins, the ageing."""
    today = reports.hospital_today()
    day = _date(request.GET.get("date"), today)
    as_of = _date(request.GET.get("as_of"), today)
    cash = reports.cash_up(user=request.user, day=day, request=request)
    download = request.GET.get("download")
    if download == "cash-up":
        return _csv(reports.cash_up_csv(cash), f"cash-up-{day.isoformat()}.csv")
    ageing = None
    if request.user.role in MONEY:
        ageing = reports.ageing(user=request.user, as_of=as_of, request=request)
        if download == "ageing":
            return _csv(reports.ageing_csv(ageing), f"ageing-{as_of.isoformat()}.csv")
    return render(
        request,
        "portal/billing/payment_reports.html",
        {"cash": cash, "ageing": ageing, "day": day, "as_of": as_of, "buckets": reports.BUCKETS},
    )


def _csv(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(Role.PATIENT)
@require_GET
def my_receipts(request):
    """The patient's payments (with receipts) and their open invoices (with "Pay online")."""
    with transaction.atomic():
        mine = list(payments.payments_visible(request.user)[:100])
        open_invoices = list(selectors.invoices_visible(request.user).filter(status__in=OPEN, kind="invoice"))
        patient = getattr(request.user, "patient", None)
        _read(request, patient=patient, object_type="billing.Payment", view="my_receipts")
    for inv in open_invoices:
        inv.balance = invoice_balance(inv)
    return render(
        request,
        "portal/billing/payment_my_receipts.html",
        {"payments": mine, "open_invoices": open_invoices, "online": get_gateway() is not None},
    )


@role_required(Role.PATIENT)
@require_POST
def pay_online(request, pk: int):
    """Start paying invoice `pk` online: off to the gateway (with the fake gateway, straight back)."""
    invoice = selectors.invoice_get(request.user, pk)
    try:
        _, url = payments.payment_online_start(
            invoice=invoice,
            by=request.user,
            return_url=request.build_absolute_uri(reverse("portal:pay_online_return")),
            request=request,
        )
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect("portal:my_receipts")
    return redirect(url)


@role_required(Role.PATIENT)
@require_GET
def pay_online_return(request):
    """The gateway sends the browser back here with a signed result; confirm the payment (idempotent)."""
    gateway = getattr(settings, "PAYMENT_GATEWAY", "none")
    try:
        payment = payments.payment_gateway_confirm(
            gateway_name=gateway,
            payload={"reference": request.GET.get("reference"), "status": request.GET.get("status")},
            signature=request.GET.get("signature", ""),
            request=request,
        )
    except (PermissionDenied, NotFoundOrForbidden):
        messages.error(request, "This payment could not be confirmed. Nothing was charged by us.")
        return redirect("portal:my_receipts")
    if payment.patient.user_id != request.user.pk:
        raise NotFoundOrForbidden()
    if payment.status == "completed":
        messages.success(request, f"Thank you: {payment.amount} {payment.currency} received.")
    else:
        messages.error(request, "The payment did not go through.")
    return redirect("portal:my_receipts")
