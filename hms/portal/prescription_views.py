"""Portal pages of e-prescribing: the doctor's prescribing screen with live decision support, the patient's
prescriptions with renewal requests and PDF downloads, and the doctor's renewal inbox.

- `portal:prescribe` `/patients/<pk>/prescribe/`: the allergy banner, the patient's current prescriptions
  (active and drafts) and, for doctors, the prescribing form: medication search-as-you-type over the
  catalogue (`portal:medication_choices`), dose, unit, route, frequency, duration, quantity, refills,
  indication, instructions; the decision-support findings update live (`portal:prescription_check`,
  htmx on every change); "Save draft" or "Sign" (a contraindicated finding needs an override reason).
  Nurses see the list only.
- `portal:encounter_prescriptions` `/encounters/<pk>/prescriptions/`: the same panel as a section of the
  encounter screen (new prescriptions are linked to the encounter).
- `portal:medication_choices` `/prescriptions/medications/?q=&medication=`: catalogue matches as radio
  buttons (htmx fragment; not PHI).
- `portal:prescription_check` `/patients/<pk>/prescribe/check/` (POST): the findings fragment of the form's
  current values (`hms.cds.checker.cds_check`); audited as a read of the patient's record.
- `portal:prescription_stop` `/prescriptions/<pk>/stop/` (POST, doctors): stop with a reason.
- `portal:prescription_pdf` `/prescriptions/<pk>/pdf/`: the printable prescription (audited export).
- `portal:my_prescriptions` `/me/prescriptions/`: the patient's current and past prescriptions with their
  renewal requests; `portal:renewal_request` `/me/prescriptions/<pk>/renew/` (POST) asks for a renewal.
- `portal:renewal_inbox` `/doctor/renewals/`: the doctor's open renewal requests;
  `portal:renewal_decide` `/doctor/renewals/<pk>/` (POST `action` = approve | deny, `reason`,
  `override_reason`).

Thin: reads through `hms.pharmacy.selectors` and `hms.clinical.selectors.encounter_get` (404 for missing
and not-yours alike), writes through `hms.pharmacy.prescriptions` (which audit). Fragments answer 200
even with errors (htmx swaps only 2xx) with the messages inside; full pages answer 400 with errors.
"""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.models import Condition
from hms.clinical.selectors import encounter_get
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.selectors import patient_get_clinical
from hms.pharmacy import catalog, frequencies, prescriptions, selectors
from hms.pharmacy.api import pdf_response
from hms.pharmacy.models import RenewalStatus
from hms.pharmacy.prescription_pdf import prescription_pdf_export

from . import queries
from .access import role_required

CLINICIANS = (Role.DOCTOR, Role.NURSE)
PDF_ROLES = (Role.DOCTOR, Role.NURSE, Role.PATIENT, Role.PHARMACIST)
FIELDS = (
    "dose_value",
    "dose_unit",
    "route",
    "frequency_code",
    "duration_days",
    "quantity",
    "quantity_unit",
    "refills",
    "indication",
    "instructions",
)


def _messages_of(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(getattr(exc, "messages", [str(exc)]))


def _audit(request, *, view: str, patient=None, patients=None, obj=None, **detail) -> None:
    audit_record(
        action=AuditAction.SEARCH if patients is not None else AuditAction.READ,
        request=request,
        patient=patient,
        patients=patients,
        obj=obj,
        object_type="" if obj is not None else "pharmacy.MedicationRequest",
        channel="web",
        detail={"view": view, **detail},
    )


class PrescribeForm(forms.Form):
    """The prescribing form; the services check every value again (catalogue, bounds, indication)."""

    medication = forms.CharField(label="Medication", max_length=20, required=False)
    dose_value = forms.CharField(label="Dose", max_length=20, required=False)
    dose_unit = forms.ChoiceField(
        label="Unit", choices=[("", "—"), *[(u, u) for u in prescriptions.DOSE_UNITS]], required=False
    )
    route = forms.ChoiceField(
        label="Route", choices=[("", "—"), *[(r, r) for r in prescriptions.ROUTES]], required=False
    )
    frequency_code = forms.ChoiceField(
        label="Frequency", choices=[("", "—"), *frequencies.CHOICES], required=False
    )
    duration_days = forms.CharField(label="Duration (days)", max_length=5, required=False)
    quantity = forms.CharField(label="Quantity to dispense", max_length=20, required=False)
    quantity_unit = forms.CharField(label="Quantity unit", max_length=40, required=False)
    refills = forms.CharField(label="Refills", max_length=3, required=False)
    indication = forms.ChoiceField(label="Indication (diagnosis)", choices=[("", "—")], required=False)
    instructions = forms.CharField(
        label="Instructions to the patient",
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    override_reason = forms.CharField(
        label="Override reason (needed only when a contraindication blocks signing)",
        max_length=500,
        required=False,
    )
    draft = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args, conditions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indication"].choices = [
            ("", "—"),
            *[(str(c.pk), c.code_display or c.code) for c in conditions],
        ]

    def values(self) -> dict:
        """The prescription fields for the services (blank ones left out, except on a draft update)."""
        data = self.cleaned_data
        return {name: data.get(name) or None for name in FIELDS if data.get(name) not in (None, "")}


def _conditions(user, patient) -> list:
    from hms.patients.selectors import clinical_records

    return list(
        clinical_records(user, Condition, patient=patient)
        .filter(clinical_status__in=("active", "recurrence", "relapse"))
        .order_by("-recorded_at", "-id")[:50]
    )


def _panel_context(request, patient, *, encounter=None, form=None, **extra) -> dict:
    user = request.user
    current = list(
        selectors.prescriptions_visible(user)
        .filter(patient=patient, status__in=("active", "draft"))
        .order_by("-authored_on", "-id")[:100]
    )
    can_prescribe = user.role == Role.DOCTOR
    conditions = _conditions(user, patient) if can_prescribe else []
    form = form or PrescribeForm(conditions=conditions)
    chosen = catalog.medication_get(form["medication"].value() or "") if can_prescribe else None
    post_url = (
        reverse("portal:encounter_prescriptions", args=[encounter.pk])
        if encounter
        else reverse("portal:prescribe", args=[patient.pk])
    )
    return {
        "patient": patient,
        "encounter": encounter,
        "current": current,
        "can_prescribe": can_prescribe,
        "form": form,
        "chosen": chosen,
        "post_url": post_url,
        "check_url": reverse("portal:prescription_check", args=[patient.pk]),
        "errors": [],
        "findings": [],
        "blocked": False,
        "signed": None,
        **extra,
    }


def _handle_post(request, patient, encounter) -> dict:
    """Save the draft (`action=save`) or save and sign it (`action=sign`); the panel's context."""
    conditions = _conditions(request.user, patient)
    form = PrescribeForm(request.POST, conditions=conditions)
    action = request.POST.get("action", "save")
    errors: list[str] = []
    findings: list[dict] = []
    blocked = False
    signed = None
    if not form.is_valid():
        errors = [m for msgs in form.errors.values() for m in msgs]
        return _panel_context(request, patient, encounter=encounter, form=form, errors=errors)
    values = form.values()
    draft_id = form.cleaned_data.get("draft")
    rx = None
    try:
        with transaction.atomic():
            if draft_id:
                rx = selectors.prescription_get(user=request.user, prescription_id=draft_id)
                if rx.patient_id != patient.pk:
                    raise NotFoundOrForbidden()
                changes = {name: form.cleaned_data.get(name) or None for name in FIELDS}
                changes["medication"] = form.cleaned_data["medication"]
                changes["refills"] = changes["refills"] or 0
                rx = prescriptions.prescription_update_draft(
                    prescription=rx, changes=changes, by=request.user, request=request
                )
            else:
                rx = prescriptions.prescription_create_draft(
                    patient=patient,
                    medication=form.cleaned_data["medication"],
                    encounter=encounter,
                    by=request.user,
                    request=request,
                    **values,
                )
    except (ValidationError, Conflict) as exc:
        errors = _messages_of(exc)
        rx = None
    if rx is not None and action == "sign":
        try:
            signed = prescriptions.prescription_sign(
                prescription=rx,
                override_reason=form.cleaned_data.get("override_reason") or "",
                by=request.user,
                request=request,
            )
            findings = signed.cds_findings
        except Conflict as exc:
            errors = [exc.message]
            findings = exc.payload.get("findings", [])
            blocked = bool(exc.payload.get("blocking"))
        except ValidationError as exc:
            errors = _messages_of(exc)
    if signed is not None:
        form = PrescribeForm(conditions=conditions)
    elif rx is not None:
        data = request.POST.copy()
        data["draft"] = str(rx.pk)
        form = PrescribeForm(data, conditions=conditions)
        form.is_valid()
    context = _panel_context(
        request,
        patient,
        encounter=encounter,
        form=form,
        errors=errors,
        findings=findings,
        blocked=blocked,
        signed=signed,
        saved=rx if (rx is not None and action == "save" and not errors) else None,
    )
    return context


def _render_panel(request, patient, encounter=None, *, full_template: str):
    context = None
    if request.method == "POST":
        if request.user.role != Role.DOCTOR:
            raise PermissionDenied("Only doctors prescribe.")
        context = _handle_post(request, patient, encounter)
    with transaction.atomic():
        if context is None:
            context = _panel_context(request, patient, encounter=encounter)
        _audit(
            request,
            view="prescribe",
            patient=patient,
            obj=encounter,
            prescriptions=[rx.pk for rx in context["current"]],
        )
    context["allergies"] = queries.allergies_active(request.user, patient)
    status = 400 if context["errors"] and not request.htmx else 200
    template = "portal/prescriptions/_panel.html" if request.htmx else full_template
    return render(request, template, context, status=status)


@role_required(*CLINICIANS, redirect_home=True)
@require_http_methods(["GET", "POST"])
def prescribe(request, pk: int):
    """The prescribing screen of one patient (doctors write; nurses read)."""
    patient = patient_get_clinical(request.user, pk)
    return _render_panel(request, patient, full_template="portal/prescriptions/prescribe.html")


@role_required(*CLINICIANS)
@require_http_methods(["GET", "POST"])
def encounter_prescriptions(request, pk: int):
    """The prescriptions section of the encounter screen (htmx fragment; a full page without htmx)."""
    encounter = encounter_get(user=request.user, encounter_id=pk)
    return _render_panel(
        request, encounter.patient, encounter, full_template="portal/prescriptions/prescribe.html"
    )


@role_required(Role.DOCTOR)
@require_GET
def medication_choices(request):
    """Catalogue matches of `q` as radio buttons named `medication` (the chosen one kept on top). Not PHI."""
    query = (request.GET.get("q") or "").strip()[:100]
    chosen = catalog.medication_get((request.GET.get("medication") or "").strip()[:20])
    hits = [m for m in catalog.medication_search(query, limit=15) if m != chosen] if query else []
    return render(
        request,
        "portal/prescriptions/_medication_choices.html",
        {"chosen": chosen, "hits": hits, "query": query},
    )


def _number(value) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and 0 < number < prescriptions.MAX_DOSE else None


@role_required(Role.DOCTOR)
@require_POST
def prescription_check(request, pk: int):
    """The decision-support findings of the form's current values (htmx fragment)."""
    from hms.cds.checker import ProposedMedication, cds_check

    patient = patient_get_clinical(request.user, pk)
    rxcui = (request.POST.get("medication") or "").strip()[:20]
    medication = catalog.medication_get(rxcui) if rxcui else None
    findings: list[dict] = []
    if medication is not None:
        unit = request.POST.get("dose_unit") or ""
        proposed = ProposedMedication(
            rxcui=medication.rxcui,
            dose_value=_number(request.POST.get("dose_value")),
            dose_unit=unit if unit in prescriptions.DOSE_UNITS else "",
            frequency_per_day=frequencies.max_per_day(request.POST.get("frequency_code") or ""),
        )
        exclude = []
        draft = request.POST.get("draft") or ""
        if draft.isdigit():
            exclude.append(int(draft))
        with transaction.atomic():
            found = cds_check(patient=patient, proposed=[proposed], exclude_prescription_ids=tuple(exclude))
            findings = [prescriptions.finding_as_dict(f) for f in found]
            _audit(request, view="prescription_check", patient=patient, medication=medication.rxcui)
    context = {"findings": findings, "medication": medication, "checked": medication is not None}
    return render(request, "portal/prescriptions/_findings.html", context)


@role_required(Role.DOCTOR)
@require_POST
def prescription_stop(request, pk: int):
    """Stop an active prescription with a reason; back to the prescribing screen."""
    rx = selectors.prescription_get(user=request.user, prescription_id=pk)
    try:
        prescriptions.prescription_stop(
            prescription=rx, reason=request.POST.get("reason", ""), by=request.user, request=request
        )
    except (ValidationError, Conflict) as exc:
        messages.error(request, " ".join(_messages_of(exc)))
    else:
        messages.success(request, f"Stopped: {rx.code_display}.")
    return redirect(reverse("portal:prescribe", args=[rx.patient_id]))


@role_required(*PDF_ROLES)
@require_GET
def prescription_pdf(request, pk: int):
    """The printable prescription (PDF attachment); 404 when not visible, 409 page for a draft."""
    try:
        rx, data = prescription_pdf_export(user=request.user, prescription_id=pk, request=request)
    except Conflict as exc:
        return render(
            request, "portal/prescriptions/not_printable.html", {"message": exc.message}, status=409
        )
    return pdf_response(rx, data)


# ---------------------------------------------------------------- patient


@role_required(Role.PATIENT, redirect_home=True)
@require_GET
def my_prescriptions(request):
    """The patient's current (active) and past prescriptions, with their renewal requests."""
    user = request.user
    with transaction.atomic():
        rows = list(selectors.prescriptions_visible(user).order_by("-authored_on", "-id")[:200])
        renewals = list(selectors.renewals_visible(user).order_by("-created_at", "-id")[:200])
        _audit(request, view="my_prescriptions", patients=sorted({r.patient_id for r in rows}))
    latest: dict[int, object] = {}
    for renewal in renewals:
        latest.setdefault(renewal.prescription_id, renewal)
    for rx in rows:
        rx.renewal = latest.get(rx.pk)
        rx.can_renew = rx.status in prescriptions.RENEWABLE and not (
            rx.renewal and rx.renewal.status == RenewalStatus.REQUESTED
        )
    context = {
        "current": [rx for rx in rows if rx.status == "active"],
        "past": [rx for rx in rows if rx.status != "active"],
        "renewals": renewals,
    }
    return render(request, "portal/prescriptions/mine.html", context)


@role_required(Role.PATIENT)
@require_POST
def renewal_request(request, pk: int):
    """Ask for a renewal of one of the patient's prescriptions; back to "My prescriptions"."""
    rx = selectors.prescription_get(user=request.user, prescription_id=pk)
    try:
        prescriptions.renewal_request(
            prescription=rx, note=request.POST.get("note", ""), by=request.user, request=request
        )
    except (ValidationError, Conflict) as exc:
        messages.error(request, " ".join(_messages_of(exc)))
    else:
        messages.success(request, f"Renewal requested: {rx.code_display}. Your doctor has been told.")
    return redirect(reverse("portal:my_prescriptions"))


# ---------------------------------------------------------------- doctor: renewal inbox


@role_required(Role.DOCTOR, redirect_home=True)
@require_GET
def renewal_inbox(request):
    """The doctor's open renewal requests, oldest first."""
    with transaction.atomic():
        renewals = list(selectors.renewal_inbox(request.user)[:200])
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=sorted({r.patient_id for r in renewals}),
            object_type="pharmacy.PrescriptionRenewal",
            channel="web",
            detail={"view": "renewal_inbox"},
        )
    return render(request, "portal/prescriptions/inbox.html", {"renewals": renewals})


@role_required(Role.DOCTOR)
@require_POST
def renewal_decide(request, pk: int):
    """Approve (`action=approve`, optional `override_reason`) or deny (`action=deny`, `reason`)."""
    renewal = selectors.renewal_get(user=request.user, renewal_id=pk)
    action = request.POST.get("action")
    try:
        if action == "approve":
            renewal = prescriptions.renewal_approve(
                renewal=renewal,
                override_reason=request.POST.get("override_reason", ""),
                by=request.user,
                request=request,
            )
            messages.success(
                request, f"Renewed: {renewal.prescription.code_display}. The patient has been told."
            )
        elif action == "deny":
            renewal = prescriptions.renewal_deny(
                renewal=renewal, reason=request.POST.get("reason", ""), by=request.user, request=request
            )
            messages.success(
                request, f"Denied: {renewal.prescription.code_display}. The patient has been told."
            )
        else:
            messages.error(request, "Choose approve or deny.")
    except Conflict as exc:
        found = exc.payload.get("findings") or []
        detail = "; ".join(f"{f['severity']}: {f['message']}" for f in found if f.get("blocking"))
        messages.error(request, f"{exc.message} {detail}".strip())
    except ValidationError as exc:
        messages.error(request, " ".join(_messages_of(exc)))
    return redirect(reverse("portal:renewal_inbox"))
