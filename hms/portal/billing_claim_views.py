"""Portal pages of insurance claims and coverage (issue 7).

- `portal:claims` `/billing/claims/?status=&q=`: the billing clerks' work list (admin, billing): claims by
  status (tabs), MRN / invoice-number filter as you type (htmx swaps `#claim-rows`), each row with its
  next action (validate, submit, cancel); a form to claim an issued invoice by its number.
- `portal:claim_create` `/billing/claims/new/` (POST {invoice_number}).
- `portal:claim_action` `/billing/claims/<pk>/<action>/` (POST; action validate | submit | cancel {reason}).
- `portal:claim` `/billing/claims/<pk>/`: one claim with its events timeline (billing, admin; the patient
  for their own), with `portal:claim_fhir` `/billing/claims/<pk>/fhir/` (download, audited as an export).
- `portal:patient_coverage` `/patients/<pk>/coverage/`: the patient's coverage and a form to record one
  (admin, billing, receptionist).
- `portal:my_claims` `/me/claims/`: the signed-in patient's claims and their status.

Thin: reads through `hms.billing.claims.claim_get`/`claims_visible`, `hms.billing.coverage` and
`hms.patients.selectors.patient_get` (404 for "missing" and "not yours"); writes through the services,
which audit; each PHI read writes an AuditEvent (channel "web").
"""

import json

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.billing import claims as claim_services
from hms.billing import coverage as coverage_services
from hms.billing.fhir_claims import claim_to_fhir
from hms.billing.models import ClaimStatus, Payer
from hms.billing.selectors import invoices_visible
from hms.core.errors import Conflict
from hms.patients.selectors import patient_get

from .access import role_required

STAFF = (Role.ADMIN, Role.BILLING)
COVERAGE_STAFF = (Role.ADMIN, Role.BILLING, Role.RECEPTIONIST)
NEXT_ACTIONS = {
    ClaimStatus.CREATED: ("validate", "cancel"),
    ClaimStatus.VALIDATED: ("submit", "cancel"),
}


def _messages_of(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [f"{k.replace('_', ' ')}: {m}" for k, msgs in exc.message_dict.items() for m in msgs]
    return list(getattr(exc, "messages", [str(exc)]))


def _audit(request, *, patient=None, patients=None, obj=None, object_type="", view: str, action=None):
    audit_record(
        action=action or (AuditAction.SEARCH if patients is not None else AuditAction.READ),
        request=request,
        patient=patient,
        patients=patients,
        obj=obj,
        object_type=object_type if obj is None else "",
        channel="web",
        detail={"view": view},
    )


# ---------------------------------------------------------------- work list


@role_required(*STAFF)
@require_GET
def claims(request):
    """The work list: 50 newest claims of the chosen status (default: open ones) matching `q`."""
    status = request.GET.get("status", "open")
    q = (request.GET.get("q") or "").strip()[:40]
    qs = claim_services.claims_visible(request.user).select_related("invoice")
    if status == "open":
        qs = qs.filter(status__in=claim_services.OPEN_STATUSES)
    elif status in ClaimStatus.values:
        qs = qs.filter(status=status)
    elif status != "all":
        status = "open"
        qs = qs.filter(status__in=claim_services.OPEN_STATUSES)
    if q:
        qs = qs.filter(
            Q(patient__mrn=q) | Q(invoice__number__startswith=q) | Q(patient__family_name__istartswith=q)
        )
    with transaction.atomic():
        rows = list(qs.order_by("-created_at", "-id")[:50])
        _audit(
            request, patients=sorted({c.patient_id for c in rows}), object_type="billing.Claim", view="claims"
        )
    for row in rows:
        row.actions = NEXT_ACTIONS.get(row.status, ())
    context = {
        "rows": rows,
        "status": status,
        "q": q,
        "tabs": [("open", "Open"), *ClaimStatus.choices, ("all", "All")],
    }
    template = "portal/billing/claim_rows.html" if request.htmx else "portal/billing/claim_list.html"
    return render(request, template, context)


@role_required(*STAFF)
@require_POST
def claim_create(request):
    """Claim an issued invoice, by its number, with the patient's primary coverage."""
    number = (request.POST.get("invoice_number") or "").strip()[:30]
    invoice = invoices_visible(request.user).filter(number=number).first() if number else None
    if invoice is None:
        messages.error(request, f"No issued invoice numbered “{number}”.")
        return redirect("portal:claims")
    try:
        claim = claim_services.claim_create(invoice=invoice, by=request.user, request=request)
    except (ValidationError, Conflict) as exc:
        for message in _messages_of(exc):
            messages.error(request, message)
        return redirect("portal:claims")
    messages.success(request, f"Claim #{claim.pk} created for invoice {invoice.number}.")
    return redirect("portal:claim", pk=claim.pk)


@role_required(*STAFF)
@require_POST
def claim_action(request, pk: int, action: str):
    """validate | submit | cancel (with a reason), then back to where the clerk came from."""
    claim = claim_services.claim_get(user=request.user, claim_id=pk)
    try:
        if action == "validate":
            claim_services.claim_validate(claim=claim, by=request.user, request=request)
        elif action == "submit":
            claim_services.claim_submit(claim=claim, by=request.user, request=request)
        elif action == "cancel":
            reason = request.POST.get("reason") or ""
            claim_services.claim_cancel(claim=claim, reason=reason, by=request.user, request=request)
        else:
            return HttpResponse("Unknown action.", status=400)
    except (ValidationError, Conflict) as exc:
        for message in _messages_of(exc):
            messages.error(request, f"Claim #{pk}: {message}")
    else:
        messages.success(request, f"Claim #{pk}: {action} done.")
    back = request.POST.get("next") or ""
    if back.startswith("/billing/claims"):
        return redirect(back)
    return redirect("portal:claim", pk=pk)


# ---------------------------------------------------------------- one claim


@role_required(*STAFF, Role.PATIENT)
@require_GET
def claim(request, pk: int):
    with transaction.atomic():
        obj = claim_services.claim_get(user=request.user, claim_id=pk)
        _audit(request, patient=obj.patient, obj=obj, view="claim")
    context = {
        "claim": obj,
        "events": list(obj.events.all()),
        "actions": NEXT_ACTIONS.get(obj.status, ()) if request.user.role in STAFF else (),
        "staff": request.user.role in STAFF,
    }
    return render(request, "portal/billing/claim_detail.html", context)


@role_required(*STAFF, Role.PATIENT)
@require_GET
def claim_fhir(request, pk: int):
    """The FHIR R4 Claim as a download (audited as an export)."""
    with transaction.atomic():
        obj = claim_services.claim_get(user=request.user, claim_id=pk)
        resource = claim_to_fhir(obj)
        _audit(request, patient=obj.patient, obj=obj, view="claim_fhir", action=AuditAction.EXPORT)
    response = HttpResponse(json.dumps(resource, indent=2), content_type="application/fhir+json")
    response["Content-Disposition"] = f'attachment; filename="claim-{obj.pk}.fhir.json"'
    return response


@role_required(Role.PATIENT)
@require_GET
def my_claims(request):
    with transaction.atomic():
        rows = list(claim_services.claims_visible(request.user).prefetch_related("events")[:100])
        _audit(
            request,
            patients=sorted({c.patient_id for c in rows}),
            object_type="billing.Claim",
            view="my_claims",
        )
    return render(request, "portal/billing/claim_mine.html", {"rows": rows})


# ---------------------------------------------------------------- coverage


class CoverageForm(forms.Form):
    payer = forms.ModelChoiceField(label="Payer", queryset=Payer.objects.filter(active=True))
    plan_name = forms.CharField(label="Plan (optional)", max_length=200, required=False)
    member_id = forms.CharField(label="Member id", max_length=60)
    valid_from = forms.DateField(label="Covered from", widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = forms.DateField(
        label="Covered until (optional, exclusive)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    order = forms.IntegerField(label="Order (1 = primary)", min_value=1, max_value=9, initial=1)
    copay_amount = forms.DecimalField(
        label="Co-pay per invoice", min_value=0, max_digits=14, decimal_places=2, initial=0
    )
    coinsurance_rate = forms.DecimalField(
        label="Co-insurance (fraction, 0.2 = 20 %)",
        min_value=0,
        max_value=1,
        max_digits=7,
        decimal_places=4,
        initial=0,
    )


@role_required(*COVERAGE_STAFF)
@require_http_methods(["GET", "POST"])
def patient_coverage(request, pk: int):
    """The patient's coverage (newest first) and the form to record one."""
    patient = patient_get(request.user, pk)
    form = CoverageForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                coverage_services.coverage_record(
                    patient=patient, **form.cleaned_data, by=request.user, request=request
                )
            except ValidationError as exc:
                for field, msgs in exc.message_dict.items():
                    for message in msgs:
                        form.add_error(field if field in form.fields else None, message)
            else:
                messages.success(request, "Coverage recorded.")
                return redirect("portal:patient_coverage", pk=patient.pk)
        status = 400
    with transaction.atomic():
        rows = list(coverage_services.coverages_visible(request.user).filter(patient=patient))
        _audit(request, patient=patient, obj=patient, view="patient_coverage")
    return render(
        request,
        "portal/billing/claim_coverage.html",
        {"patient": patient, "rows": rows, "form": form},
        status=status,
    )
