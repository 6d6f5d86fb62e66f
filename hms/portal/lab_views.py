"""Portal pages of the lab: ordering from the encounter screen, the lab work list and result entry, the
doctor's results inbox and the patient's results.

- `portal:encounter_orders` `/encounters/<pk>/orders/`: htmx fragment of the encounter screen: the
  encounter's lab orders with their results; doctors order tests (search-as-you-type over the LOINC
  catalogue, several tests at once, priority, reason). POST re-renders the fragment.
- `portal:lab_test_search` `/lab/tests/search/?q=&codes=`: the catalogue matches as checkboxes (htmx
  fragment); the codes already ticked stay ticked on top.
- `portal:lab_worklist` `/lab/worklist/`: active orders, STAT first, then urgent, then routine, oldest
  first (lab technicians).
- `portal:lab_specimen_collect` `/lab/orders/<pk>/collect/` (POST): the specimen was taken now.
- `portal:lab_result_entry` `/lab/orders/<pk>/result/`: one line per test of the order (a panel's
  members), value, optional interpretation, conclusion, optional PDF report (stored through
  `hms.documents.services.document_upload`).
- `portal:results_inbox` `/doctor/results/`: the doctor's unacknowledged results, critical first;
  `portal:result_acknowledge` `/doctor/results/<pk>/acknowledge/` (POST) acknowledges one.
- `portal:my_results` `/me/results/`: the signed-in patient's released results.

Thin: reads through `hms.lab.selectors` and `hms.clinical.selectors.encounter_get` (404 for "missing" and
"not yours"), writes through `hms.lab.services` (which audit); each PHI read writes an AuditEvent.
Fragments answer 200 even with errors (htmx swaps only 2xx); full pages answer 400 with errors.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.models import ObservationInterpretation
from hms.clinical.selectors import encounter_get
from hms.core.errors import Conflict
from hms.lab import catalog, selectors, services
from hms.lab.models import OrderPriority

from .access import role_required

CARE_ROLES = (Role.DOCTOR, Role.NURSE)


def _messages_of(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(getattr(exc, "messages", [str(exc)]))


def _audit_read(request, *, patient=None, patients=None, obj=None, view: str, **detail):
    audit_record(
        action=AuditAction.SEARCH if patients is not None else AuditAction.READ,
        request=request,
        patient=patient,
        patients=patients,
        obj=obj,
        object_type="" if obj is not None else "lab.ServiceRequest",
        channel="web",
        detail={"view": view, **detail},
    )


def _with_attachments(user, reports: list) -> list:
    """Set `report.attachments` (the documents of each report `user` may download, through
    `hms.documents.selectors`, which applies the same release rule to patients). One query."""
    from hms.documents.selectors import documents_visible

    by_report: dict[int, list] = {}
    if reports:
        for doc in documents_visible(user).filter(diagnostic_report__in=[r.pk for r in reports]):
            by_report.setdefault(doc.diagnostic_report_id, []).append(doc)
    for report in reports:
        report.attachments = by_report.get(report.pk, [])
    return reports


# ---------------------------------------------------------------- ordering (encounter screen)


class OrderForm(forms.Form):
    codes = forms.MultipleChoiceField(
        label="Tests",
        choices=[(c, c) for c in catalog.TESTS],
        error_messages={"required": "Tick at least one test."},
    )
    priority = forms.ChoiceField(
        label="Priority", choices=OrderPriority.choices, initial=OrderPriority.ROUTINE
    )
    reason = forms.CharField(label="Clinical reason (optional)", required=False, max_length=500)


def _chosen_tests(codes) -> list[catalog.LabTest]:
    out = []
    for code in codes:
        test = catalog.lab_test_get(code)
        if test is not None and test not in out:
            out.append(test)
    return out[: services.MAX_TESTS_PER_ORDER]


@role_required(*CARE_ROLES)
@require_http_methods(["GET", "POST"])
def encounter_orders(request, pk: int):
    """GET: the encounter's lab orders and results (+ the order form for doctors). POST (doctors): order
    the ticked tests through `lab_order_create`, then re-render."""
    encounter = encounter_get(user=request.user, encounter_id=pk)
    can_order = request.user.role == Role.DOCTOR
    form = OrderForm(request.POST if request.method == "POST" and can_order else None)
    errors: list[str] = []
    created = []
    if form.is_bound:
        if form.is_valid():
            try:
                created = services.lab_order_create(
                    patient=encounter.patient,
                    codes=form.cleaned_data["codes"],
                    encounter=encounter,
                    priority=form.cleaned_data["priority"],
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                    request=request,
                )
            except ValidationError as exc:
                errors = _messages_of(exc)
            else:
                form = OrderForm()
        else:
            errors = [m for msgs in form.errors.values() for m in msgs]
    with transaction.atomic():
        orders = list(
            selectors.orders_visible(request.user).filter(encounter=encounter).order_by("-authored_at", "-id")
        )
        _with_attachments(request.user, [r for o in orders for r in o.visible_reports])
        _audit_read(
            request,
            patient=encounter.patient,
            obj=encounter,
            view="encounter_orders",
            orders=[o.pk for o in orders],
        )
    chosen = _chosen_tests(request.POST.getlist("codes")) if errors else []
    context = {
        "encounter": encounter,
        "orders": orders,
        "form": form,
        "errors": errors,
        "created": created,
        "can_order": can_order,
        "chosen": chosen,
        "post_url": reverse("portal:encounter_orders", args=[encounter.pk]),
        "priorities": OrderPriority.choices,
    }
    template = "_encounter_orders.html" if request.htmx else "encounter_orders.html"
    return render(request, f"portal/lab/{template}", context)


@role_required(Role.DOCTOR)
@require_GET
def lab_test_search(request):
    """The catalogue matches of `q` as checkboxes named `codes`; ticked `codes` are kept on top. Not PHI."""
    chosen = _chosen_tests(request.GET.getlist("codes"))
    query = (request.GET.get("q") or "").strip()[:100]
    hits = [t for t in catalog.lab_test_search(query) if t not in chosen] if query else []
    return render(request, "portal/lab/_test_choices.html", {"chosen": chosen, "hits": hits, "query": query})


# ---------------------------------------------------------------- the lab: work list and result entry


@role_required(Role.LAB_TECHNICIAN, redirect_home=True)
@require_GET
def lab_worklist(request):
    """The active orders, STAT first (one "search" AuditEvent naming the patients listed)."""
    with transaction.atomic():
        orders = list(selectors.worklist(request.user)[:200])
        _audit_read(request, patients=sorted({o.patient_id for o in orders}), view="lab_worklist")
    return render(request, "portal/lab/worklist.html", {"orders": orders})


@role_required(Role.LAB_TECHNICIAN)
@require_POST
def lab_specimen_collect(request, pk: int):
    """POST: record that the specimen of one order was taken now (`lab_specimen_collect`); back to the
    work list with a message."""
    order = selectors.order_get(user=request.user, order_id=pk)
    try:
        services.lab_specimen_collect(order=order, by=request.user, request=request)
    except (ValidationError, Conflict) as exc:
        messages.error(request, " ".join(_messages_of(exc)))
    else:
        messages.success(request, f"Specimen collected: {order.code_display}, {order.patient.family_name}.")
    return redirect(reverse("portal:lab_worklist"))


def _result_lines(order) -> list[catalog.LabTest | None]:
    test = catalog.lab_test_get(order.code)
    if test is None:
        return [None]
    return [catalog.TESTS[m] for m in test.members] if test.is_panel else [test]


class ResultEntryForm(forms.Form):
    """One value/interpretation pair per test line (`value_<code>`, `flag_<code>`), a conclusion and an
    optional PDF. The service validates the values (units, ranges, flags)."""

    conclusion = forms.CharField(
        label="Conclusion / comment (optional)",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    attachment = forms.FileField(label="Attach the report (PDF, optional)", required=False)
    status = forms.ChoiceField(
        label="Report status",
        choices=[("final", "Final"), ("preliminary", "Preliminary (final to follow)")],
        initial="final",
        required=False,
    )

    def __init__(self, *args, lines=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = []
        flags = [("", "Automatic"), *ObservationInterpretation.choices]
        for test in lines:
            code = test.code if test else "value"
            unit = f" ({test.unit})" if test and test.unit and test.unit != "1" else ""
            label = f"{test.display if test else 'Result'}{unit}"
            self.fields[f"value_{code}"] = forms.CharField(
                label=label, required=False, max_length=500, widget=forms.TextInput(attrs={"size": "10"})
            )
            self.fields[f"flag_{code}"] = forms.ChoiceField(
                label=f"Interpretation of {test.code if test else 'the result'}",
                choices=flags,
                required=False,
            )
            self.lines.append(
                {"test": test, "value": self[f"value_{code}"], "flag": self[f"flag_{code}"], "code": code}
            )

    def results(self) -> list[dict]:
        out = []
        for line in self.lines:
            test, code = line["test"], line["code"]
            raw = (self.cleaned_data.get(f"value_{code}") or "").strip()
            if not raw:
                continue
            item: dict = {"code": test.code} if test else {}
            if test is not None and test.value_type == "text":
                item["value_string"] = raw
            else:
                item["value"] = raw
            if self.cleaned_data.get(f"flag_{code}"):
                item["interpretation"] = self.cleaned_data[f"flag_{code}"]
            out.append(item)
        return out


@role_required(Role.LAB_TECHNICIAN, redirect_home=True)
@require_http_methods(["GET", "POST"])
def lab_result_entry(request, pk: int):
    """GET: the result form of one order. POST: `lab_result_record`, then back to the work list."""
    order = selectors.order_get(user=request.user, order_id=pk)
    lines = _result_lines(order)
    form = ResultEntryForm(request.POST or None, request.FILES or None, lines=lines)
    errors: list[str] = []
    if request.method == "POST":
        if form.is_valid():
            try:
                report = services.lab_result_record(
                    order=order,
                    results=form.results(),
                    conclusion=form.cleaned_data["conclusion"],
                    status=form.cleaned_data["status"] or "final",
                    attachment=form.cleaned_data.get("attachment"),
                    by=request.user,
                    request=request,
                )
            except (ValidationError, Conflict) as exc:
                errors = _messages_of(exc)
            else:
                note = " Critical value: the ordering doctor has been alerted." if report.is_critical else ""
                messages.success(request, f"Result recorded for {order.code_display}.{note}")
                return redirect(reverse("portal:lab_worklist"))
        else:
            errors = [m for msgs in form.errors.values() for m in msgs]
    if request.method == "GET":
        _audit_read(request, patient=order.patient, obj=order, view="lab_result_entry")
    context = {"order": order, "form": form, "errors": errors, "patient": order.patient}
    return render(request, "portal/lab/result_entry.html", context, status=400 if errors else 200)


# ---------------------------------------------------------------- doctor: results inbox


@role_required(Role.DOCTOR, redirect_home=True)
@require_GET
def results_inbox(request):
    """The doctor's unacknowledged results of the orders they placed, critical first."""
    with transaction.atomic():
        reports = _with_attachments(request.user, list(selectors.results_inbox(request.user)[:200]))
        _audit_read(request, patients=sorted({r.patient_id for r in reports}), view="results_inbox")
    return render(request, "portal/lab/inbox.html", {"reports": reports})


@role_required(Role.DOCTOR)
@require_POST
def result_acknowledge(request, pk: int):
    """POST: acknowledge one result (`lab_result_acknowledge`), which releases it to the patient; htmx
    requests get the updated inbox row, others go back to the inbox."""
    report = selectors.report_get(user=request.user, report_id=pk)
    try:
        report = services.lab_result_acknowledge(report=report, by=request.user, request=request)
    except Conflict as exc:
        messages.error(request, exc.message)
        return redirect(reverse("portal:results_inbox"))
    if request.htmx:
        return render(request, "portal/lab/_inbox_acked.html", {"report": report})
    messages.success(request, f"Acknowledged: {report.code_display}.")
    return redirect(reverse("portal:results_inbox"))


# ---------------------------------------------------------------- patient: my results


@role_required(Role.PATIENT, redirect_home=True)
@require_GET
def my_results(request):
    """The signed-in patient's released results, newest first."""
    own = getattr(request.user, "patient", None)
    with transaction.atomic():
        reports = _with_attachments(request.user, list(selectors.patient_results(request.user)[:100]))
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=[own] if own is not None else [],
            object_type="lab.DiagnosticReport",
            channel="web",
            detail={"view": "my_results", "returned": len(reports)},
        )
    context = {"reports": reports, "patient": own, "release_hours": services.auto_release_hours()}
    return render(request, "portal/lab/my_results.html", context)
