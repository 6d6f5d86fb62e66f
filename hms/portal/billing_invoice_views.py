"""Portal pages of the price list, charges and invoices (issue 7).

- `portal:billing_charges` `/billing/charges/`: find the patient (htmx search-as-you-type:
  `portal:billing_charges_search`); `?patient=<id>`: their billable charges (tick some → "Create draft
  invoice"), a manual charge form, cancel a charge with a reason, and their invoices. Billing, admin.
- `portal:invoice` `/billing/invoices/<pk>/`: the invoice editor: a draft's lines (tick the charges to keep or
  add, coverage), "Issue"; an issued invoice's credit-note form; PDF. Billing, admin (receptionists read).
- `portal:invoice_pdf` `/billing/invoices/<pk>/pdf/`: the PDF (staff who may read it; the patient their own).
- `portal:price_list` `/billing/prices/?q=&category=&payer_class=&on=`; `&download=csv` exports it.
- `portal:my_bills` `/me/bills/`: the signed-in patient's invoices with PDFs.

Thin: reads through `hms.billing.selectors` (404 for "missing" and "not yours"), writes through
`hms.billing.charges` / `hms.billing.invoices` (which audit); every PHI read writes an AuditEvent.
"""

import csv
import datetime as dt

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.billing import charges, invoices, selectors
from hms.billing.api_invoices import price_list_filter
from hms.billing.models import (
    ChargeCategory,
    ChargeStatus,
    Coverage,
    InvoiceLine,
    InvoiceStatus,
    PayerClass,
    PriceListEntry,
)
from hms.billing.money import invoice_balance
from hms.billing.pdf import invoice_pdf_export
from hms.core.errors import Conflict
from hms.patients.selectors import patient_get, patient_search

from .access import role_required

MONEY = (Role.ADMIN, Role.BILLING)
PRICE_READERS = (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST)


def _errors(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [f"{k}: {m}" if k != "__all__" else m for k, msgs in exc.message_dict.items() for m in msgs]
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


class ManualChargeForm(forms.Form):
    display = forms.CharField(label="Description", max_length=300, required=False)
    code = forms.CharField(
        label="Price-list code (optional)", max_length=40, required=False, help_text="e.g. TV-DAY, 85025"
    )
    quantity = forms.DecimalField(label="Quantity", max_digits=12, decimal_places=3, min_value=0, initial=1)
    unit_price = forms.DecimalField(
        label="Unit price (blank: from the price list)",
        max_digits=16,
        decimal_places=4,
        min_value=0,
        required=False,
    )
    category = forms.ChoiceField(
        label="Category", choices=ChargeCategory.choices, initial=ChargeCategory.OTHER
    )
    reason = forms.CharField(label="Reason", max_length=500)


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500)


def _code_system_of(code: str) -> str:
    entry = PriceListEntry.objects.filter(code=code).only("code_system").first()
    return entry.code_system if entry else ""


@role_required(*MONEY)
@require_GET
def billing_charges_search(request):
    """htmx fragment: patients matching `q`, each linking to their charges."""
    q = (request.GET.get("q") or "").strip()[:100]
    found = []
    if len(q) >= 2:
        with transaction.atomic():
            found = list(patient_search(request.user, q)[:15])
            _read(request, patients=found, object_type="patients.Patient", view="billing_charges_search")
    return render(request, "portal/billing/invoice_patient_results.html", {"patients": found, "q": q})


@role_required(*MONEY)
@require_http_methods(["GET", "POST"])
def billing_charges(request):
    """Charges to invoice for one patient (or the patient search); POST: a manual charge, a cancellation,
    or a new draft from the ticked charges (field `action`: add | cancel | draft)."""
    patient = None
    status = 200
    form, cancel_form = ManualChargeForm(), ReasonForm()
    if request.GET.get("patient"):
        patient = patient_get(request.user, request.GET["patient"])
    if patient is not None and request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add":
                form = ManualChargeForm(request.POST)
                if form.is_valid():
                    data = form.cleaned_data
                    code = data["code"].strip()
                    charges.charge_manual_create(
                        patient=patient,
                        code_system=_code_system_of(code) if code else "",
                        code=code,
                        display=data["display"],
                        quantity=data["quantity"],
                        unit_price=data["unit_price"],
                        category=data["category"],
                        reason=data["reason"],
                        by=request.user,
                        request=request,
                    )
                    messages.success(request, "Charge added.")
                    return redirect(f"{request.path}?patient={patient.pk}")
            elif action == "cancel":
                cancel_form = ReasonForm(request.POST)
                if cancel_form.is_valid():
                    charge = selectors.charge_get(request.user, request.POST.get("charge"))
                    charges.charge_cancel(
                        charge=charge,
                        reason=cancel_form.cleaned_data["reason"],
                        by=request.user,
                        request=request,
                    )
                    messages.success(request, "Charge cancelled.")
                    return redirect(f"{request.path}?patient={patient.pk}")
            elif action == "draft":
                chosen = request.POST.getlist("charges")
                coverage = None
                if request.POST.get("coverage"):
                    coverage = Coverage.objects.filter(pk=request.POST["coverage"], patient=patient).first()
                    if coverage is None:
                        raise ValidationError({"coverage": "Not a coverage of this patient."})
                draft = invoices.invoice_draft_create(
                    patient=patient,
                    charges=chosen or None,
                    coverage=coverage,
                    by=request.user,
                    request=request,
                )
                return redirect("portal:invoice", draft.pk)
        except (ValidationError, Conflict, ValueError) as exc:
            for m in _errors(exc):
                messages.error(request, m)
        status = 400
    context = {"patient": patient, "form": form, "cancel_form": cancel_form}
    if patient is not None:
        with transaction.atomic():
            rows = list(
                selectors.charges_visible(request.user)
                .filter(patient=patient)
                .exclude(status=ChargeStatus.CANCELLED)
                .order_by("-occurred_at", "-id")[:200]
            )
            _read(request, patient=patient, obj=patient, view="billing_charges")
        drafted = set(
            InvoiceLine.objects.filter(
                charge__in=[c.pk for c in rows], invoice__status=InvoiceStatus.DRAFT
            ).values_list("charge_id", flat=True)
        )
        context.update(
            billable=[c for c in rows if c.status == ChargeStatus.BILLABLE and c.pk not in drafted],
            on_draft=[c for c in rows if c.pk in drafted],
            billed=[c for c in rows if c.status == ChargeStatus.INVOICED][:50],
            invoices=list(selectors.invoices_visible(request.user).filter(patient=patient)[:50]),
            coverages=list(Coverage.objects.filter(patient=patient, status="active").select_related("payer")),
        )
    return render(request, "portal/billing/invoice_charges.html", context, status=status)


@role_required(*MONEY, Role.RECEPTIONIST)
@require_http_methods(["GET", "POST"])
def invoice(request, pk: int):
    """The invoice editor. POST `action`: lines (draft: the ticked charges + coverage), issue, credit-note."""
    inv = selectors.invoice_get(request.user, pk)
    status = 200
    if request.method == "POST":
        if request.user.role not in MONEY:
            return HttpResponse(status=403)
        action = request.POST.get("action")
        try:
            if action == "lines":
                cov_id = request.POST.get("coverage") or None
                coverage = None
                if cov_id:
                    coverage = Coverage.objects.filter(pk=cov_id, patient=inv.patient).first()
                    if coverage is None:
                        raise ValidationError({"coverage": "Not a coverage of this patient."})
                invoices.invoice_draft_update(
                    invoice=inv,
                    charges=request.POST.getlist("charges"),
                    coverage=coverage,
                    note=request.POST.get("note", ""),
                    by=request.user,
                    request=request,
                )
                messages.success(request, "Draft updated.")
            elif action == "issue":
                inv = invoices.invoice_issue(invoice=inv, by=request.user, request=request)
                messages.success(request, f"Invoice {inv.number} issued.")
            elif action == "credit-note":
                note = invoices.invoice_credit_note(
                    invoice=inv, reason=request.POST.get("reason", ""), by=request.user, request=request
                )
                messages.success(
                    request, f"Credit note {note.number} issued; invoice {inv.number} cancelled."
                )
                return redirect("portal:invoice", note.pk)
            else:
                raise ValidationError({"action": "Unknown action."})
            return redirect("portal:invoice", inv.pk)
        except (ValidationError, Conflict) as exc:
            for m in _errors(exc):
                messages.error(request, m)
            status = 400
            inv = selectors.invoice_get(request.user, pk)
    with transaction.atomic():
        _read(request, patient=inv.patient, obj=inv, view="invoice")
        lines = list(inv.lines.all())
    for ln in lines:
        ln.tax_percent = f"{(ln.tax_rate * 100).normalize():f}"
    context = {
        "invoice": inv,
        "lines": lines,
        "balance": invoice_balance(inv),
        "can_edit": request.user.role in MONEY,
    }
    if inv.status == InvoiceStatus.DRAFT and request.user.role in MONEY:
        on_this = {ln.charge_id for ln in lines}
        others = set(
            InvoiceLine.objects.filter(invoice__status=InvoiceStatus.DRAFT, charge__patient=inv.patient)
            .exclude(invoice=inv)
            .values_list("charge_id", flat=True)
        )
        context["candidates"] = [
            (c, c.pk in on_this)
            for c in selectors.charges_visible(request.user).filter(
                patient=inv.patient, status=ChargeStatus.BILLABLE
            )
            if c.pk not in others
        ]
        context["coverages"] = list(
            Coverage.objects.filter(patient=inv.patient, status="active").select_related("payer")
        )
    return render(request, "portal/billing/invoice_detail.html", context, status=status)


@role_required(*MONEY, Role.RECEPTIONIST, Role.PATIENT)
@require_GET
def invoice_pdf(request, pk: int):
    """The invoice PDF (audited export)."""
    inv, data = invoice_pdf_export(user=request.user, invoice_id=pk, request=request)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="invoice-{inv.number or inv.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@role_required(*PRICE_READERS)
@require_GET
def price_list(request):
    """The price list valid on a date, filterable; `download=csv` exports the filtered list."""
    q = (request.GET.get("q") or "").strip()[:100]
    category = request.GET.get("category") if request.GET.get("category") in ChargeCategory.values else None
    payer = request.GET.get("payer_class") if request.GET.get("payer_class") in PayerClass.values else None
    try:
        on = dt.date.fromisoformat(request.GET["on"]) if request.GET.get("on") else None
    except ValueError:
        on = None
    rows = price_list_filter(request.user, q=q, category=category, payer_class=payer, on=on)
    if request.GET.get("download") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="price-list.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "code_system",
                "code",
                "display",
                "category",
                "payer_class",
                "unit_price",
                "currency",
                "tax_rate",
                "valid_from",
                "valid_to",
            ]
        )
        for e in rows:
            writer.writerow(
                [
                    e.code_system,
                    e.code,
                    e.display,
                    e.category,
                    e.payer_class,
                    e.unit_price,
                    e.currency,
                    e.tax_rate,
                    e.valid_from,
                    e.valid_to or "",
                ]
            )
        return response
    context = {
        "rows": [(e, f"{(e.tax_rate * 100).normalize():f}") for e in rows[:500]],
        "q": q,
        "category": category or "",
        "payer_class": payer or "",
        "on": on.isoformat() if on else "",
        "categories": ChargeCategory.choices,
        "payer_classes": PayerClass.choices,
    }
    template = (
        "portal/billing/invoice_price_rows.html" if request.htmx else "portal/billing/invoice_price_list.html"
    )
    return render(request, template, context)


@role_required(Role.PATIENT, redirect_home=True)
@require_GET
def my_bills(request):
    """The signed-in patient's invoices and credit notes, with balance and PDF."""
    with transaction.atomic():
        bills = list(selectors.invoices_visible(request.user)[:100])
        _read(request, patients=[b.patient_id for b in bills], object_type="billing.Invoice", view="my_bills")
    rows = [(b, invoice_balance(b)) for b in bills]
    return render(request, "portal/billing/invoice_my_bills.html", {"rows": rows})
