"""Portal pages of the pharmacy: the dispensing work list, verify + dispense, stock and reports.

- `portal:dispense_worklist` `/pharmacy/worklist/`: signed active prescriptions with something left to
  dispense, oldest signature first (pharmacists).
- `portal:dispense` `/pharmacy/prescriptions/<pk>/dispense/`: the verification (allergy banner, the CDS
  findings recorded at signing and any override reason, what remains) and the dispense form; the lots
  first-expiry-first-out would pick are shown for the chosen location and quantity (htmx refreshes them
  as the pharmacist changes either). POST dispenses (`hms.pharmacy.dispensing.prescription_dispense`).
- `portal:stock` `/pharmacy/stock/`: on hand per location and item with low-stock and expiry alerts;
  forms to receive a delivery, adjust a lot (with a reason) and write off the expired lots.
- `portal:stock_reports` `/pharmacy/reports/`: expiring soon (`?days=`), valuation, low stock; each with a
  CSV download (`?download=expiring|valuation|low-stock`). Pharmacists and admins (no patient data).

Thin: reads through `hms.pharmacy.dispensing` and `hms.inventory.selectors`, writes through the services
(which audit); the work list and the verify page write their own AuditEvents.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict
from hms.inventory import selectors as stock_selectors
from hms.inventory import services as stock
from hms.inventory.models import InventoryItem, StockLocation, StockLot
from hms.pharmacy import dispensing

from .access import role_required


def _messages_of(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(getattr(exc, "messages", [str(exc)]))


def _locations():
    return StockLocation.objects.filter(active=True).order_by("kind", "name", "id")


# ---------------------------------------------------------------- dispensing


@role_required(Role.PHARMACIST)
def dispense_worklist(request):
    """The prescriptions waiting to be dispensed (one "search" AuditEvent naming the patients listed)."""
    with transaction.atomic():
        rows = list(dispensing.dispense_worklist(request.user).select_related("patient")[:200])
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=sorted({rx.patient_id for rx in rows}),
            object_type="pharmacy.MedicationRequest",
            channel="web",
            detail={"view": "dispense_worklist"},
        )
    return render(request, "portal/pharmacy/worklist.html", {"rows": rows})


class DispenseForm(forms.Form):
    location = forms.ModelChoiceField(queryset=StockLocation.objects.none(), label="Dispense from")
    quantity = forms.DecimalField(
        label="Quantity", min_value=Decimal("0.001"), max_digits=14, decimal_places=3
    )
    days_supply = forms.IntegerField(
        label="Days' supply (optional)", min_value=1, max_value=366, required=False
    )
    note = forms.CharField(
        label="Note (optional)", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = _locations()


def _plan(item, location, quantity):
    if item is None or location is None or quantity is None or quantity <= 0:
        return [], Decimal("0")
    plan = stock.fefo_plan(item, location, quantity)
    return plan, stock.usable_on_hand(item, location)


@role_required(Role.PHARMACIST)
@require_http_methods(["GET", "POST"])
def dispense(request, pk: int):
    """Verify and dispense one prescription; htmx GET `?partial=plan` returns only the FEFO lots."""
    rx = dispensing.worklist_prescription_get(user=request.user, prescription_id=pk)
    item = dispensing.inventory_item_for(rx)
    if request.GET.get("partial") == "plan":
        location = _locations().filter(pk=request.GET.get("location") or 0).first()
        try:
            quantity = Decimal(request.GET.get("quantity") or "0")
        except InvalidOperation:
            quantity = None
        plan, usable = _plan(item, location, quantity if quantity and quantity.is_finite() else None)
        return render(
            request,
            "portal/pharmacy/_fefo_plan.html",
            {"plan": plan, "usable": usable, "item": item, "location": location, "quantity": quantity},
        )
    errors: list[str] = []
    status = 200
    check = dispensing.dispense_verify(prescription=rx, by=request.user, request=request)
    default_location = _locations().filter(kind="pharmacy").first()
    if request.method == "POST":
        form = DispenseForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                done = dispensing.prescription_dispense(
                    prescription=rx,
                    quantity=data["quantity"],
                    location=data["location"],
                    days_supply=data["days_supply"],
                    note=data["note"],
                    by=request.user,
                    request=request,
                )
            except (ValidationError, Conflict, PermissionDenied) as exc:
                errors = _messages_of(exc)
            else:
                lots = ", ".join(f"{lot['lot_number']} x {lot['quantity']}" for lot in done.lots)
                messages.success(
                    request,
                    f"Dispensed {done.quantity.normalize():f} {done.quantity_unit} of {done.code_display} to "
                    f"{rx.patient.family_name} (lots {lots}){' (partial)' if done.is_partial else ''}.",
                )
                return redirect(reverse("portal:dispense_worklist"))
        status = 400
    else:
        form = DispenseForm(initial={"location": default_location, "quantity": check.remaining or None})
    location = form.cleaned_data.get("location") if form.is_bound and hasattr(form, "cleaned_data") else None
    location = location or default_location
    quantity = (
        form.cleaned_data.get("quantity") if form.is_bound and hasattr(form, "cleaned_data") else None
    ) or (check.remaining)
    plan, usable = _plan(item, location, quantity)
    context = {
        "rx": rx,
        "patient": rx.patient,
        "check": check,
        "form": form,
        "errors": errors,
        "plan": plan,
        "usable": usable,
        "item": item,
        "location": location,
        "quantity": quantity,
    }
    return render(request, "portal/pharmacy/dispense.html", context, status=status)


# ---------------------------------------------------------------- stock


class ReceiveForm(forms.Form):
    item = forms.ModelChoiceField(queryset=InventoryItem.objects.none(), label="Item")
    location = forms.ModelChoiceField(queryset=StockLocation.objects.none(), label="Into location")
    lot_number = forms.CharField(label="Lot number", max_length=60)
    expiry_date = forms.DateField(
        label="Expiry date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    quantity = forms.DecimalField(
        label="Quantity", min_value=Decimal("0.001"), max_digits=14, decimal_places=3
    )
    unit_cost = forms.DecimalField(
        label="Unit cost (optional)", min_value=0, max_digits=12, decimal_places=4, required=False
    )
    reference = forms.CharField(label="Delivery note (optional)", max_length=120, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].queryset = InventoryItem.objects.filter(active=True).order_by("name")
        self.fields["location"].queryset = _locations()


class AdjustForm(forms.Form):
    lot = forms.ModelChoiceField(queryset=StockLot.objects.none(), label="Lot")
    location = forms.ModelChoiceField(queryset=StockLocation.objects.none(), label="At location")
    delta = forms.DecimalField(label="Change (+ or -)", max_digits=14, decimal_places=3)
    reason = forms.CharField(label="Reason", max_length=500)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["lot"].queryset = StockLot.objects.select_related("item").order_by(
            "item__name", "lot_number"
        )
        self.fields["location"].queryset = _locations()


class WriteOffForm(forms.Form):
    location = forms.ModelChoiceField(queryset=StockLocation.objects.none(), label="Location")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = _locations()


FORMS = {"receive": ReceiveForm, "adjust": AdjustForm, "write-off": WriteOffForm}


def _stock_write(request, action: str, form) -> str:
    data = form.cleaned_data
    if action == "receive":
        move = stock.stock_receive(
            item=data["item"],
            location=data["location"],
            lot_number=data["lot_number"],
            quantity=data["quantity"],
            expiry_date=data["expiry_date"],
            unit_cost=data["unit_cost"],
            reference=data["reference"],
            by=request.user,
            request=request,
        )
        item, lot = move.item, move.lot
        return f"Received {move.quantity.normalize():f} {item.unit} of {item.name}, lot {lot.lot_number}."
    if action == "adjust":
        move = stock.stock_adjust(
            lot=data["lot"],
            location=data["location"],
            delta=data["delta"],
            reason=data["reason"],
            by=request.user,
            request=request,
        )
        return f"Adjusted lot {move.lot.lot_number} by {move.quantity.normalize():f}."
    moves = stock.stock_write_off_expired(location=data["location"], by=request.user, request=request)
    return f"Wrote off {len(moves)} expired lot{'s' if len(moves) != 1 else ''}."


@role_required(Role.PHARMACIST)
@require_http_methods(["GET", "POST"])
def stock_page(request):
    """On hand per location and item with alerts; POST `action` = receive | adjust | write-off."""
    forms_ = {name: cls(prefix=name) for name, cls in FORMS.items()}
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in FORMS:
            errors = ["Choose an action."]
            status = 400
        else:
            form = FORMS[action](request.POST, prefix=action)
            forms_[action] = form
            if form.is_valid():
                try:
                    message = _stock_write(request, action, form)
                except (ValidationError, Conflict, PermissionDenied) as exc:
                    errors = _messages_of(exc)
                else:
                    messages.success(request, message)
                    return redirect(reverse("portal:stock"))
            status = 400
    location = _locations().filter(pk=request.GET.get("location") or 0).first()
    lines = stock_selectors.stock_summary(location=location)
    today = timezone.localdate()
    soon = today + timezone.timedelta(days=30)
    context = {
        "lines": lines,
        "locations": _locations(),
        "location": location,
        "low": [s for s in lines if s.low],
        "expired": [s for s in lines if s.expired > 0],
        "expiring": [s for s in lines if s.next_expiry and s.next_expiry <= soon],
        "forms": forms_,
        "errors": errors,
        "soon": soon,
    }
    return render(request, "portal/pharmacy/stock.html", context, status=status)


REPORT_CSV = {
    "expiring": lambda days: stock_selectors.expiring_csv(days=days),
    "valuation": lambda days: stock_selectors.valuation_csv(),
    "low-stock": lambda days: stock_selectors.low_stock_csv(),
}


@role_required(Role.PHARMACIST, Role.ADMIN)
def stock_reports(request):
    """Expiring soon, valuation and low stock, with CSV downloads."""
    try:
        days = int(request.GET.get("days") or 30)
    except ValueError:
        days = 30
    days = max(0, min(days, 3650))
    download = request.GET.get("download")
    if download in REPORT_CSV:
        response = HttpResponse(REPORT_CSV[download](days), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{download}.csv"'
        return response
    lines, totals = stock_selectors.valuation_report()
    context = {
        "days": days,
        "expiring": list(stock_selectors.expiring_report(days=days)),
        "valuation": lines,
        "totals": totals,
        "low": stock_selectors.low_stock_report(),
        "today": timezone.localdate(),
    }
    return render(request, "portal/pharmacy/reports.html", context)
