"""Portal pages of vital signs and daily health reports.

- `portal:encounter_vitals` `/encounters/<pk>/vitals/`: htmx fragment of the encounter screen: the vitals
  recorded in the encounter (with flags) and, for doctors and nurses, the entry form (POST re-renders it).
- `portal:vitals_entry` `/nurse/vitals/`: a nurse (or doctor) picks a patient in their care with
  search-as-you-type (`?q=`, htmx) and records a set (`?patient=<id>`).
- `portal:patient_vitals` `/patients/<pk>/vitals/`: one SVG chart per vital plus the latest values with
  their flags (fragment for htmx, else a page with the banner).
- `portal:daily_report` `/me/daily-report/`: the patient's daily report form and the 30-day rating trend.
- `portal:patient_daily_reports` `/patients/<pk>/daily-reports/`: the rating trend and recent reports for
  the clinicians caring for the patient (fragment or page).

Thin: access through the scoped selectors (404 for "missing" and "not yours"), writes through
`hms.clinical.vitals.vitals_record` and `hms.clinical.daily_reports.daily_report_submit` (which audit);
every read of PHI writes a "read" AuditEvent. Service `ValidationError`s are shown next to their fields.
Fragments answer 200 even with errors (htmx swaps only 2xx); full pages answer 400 with errors.
"""

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical import daily_reports as dr
from hms.clinical import vitals as vs
from hms.clinical.models import DailyHealthReport, Observation
from hms.clinical.selectors import encounter_get, patient_records
from hms.patients.selectors import patient_get_clinical

from . import queries
from .access import role_required
from .vital_charts import FLAG_LABELS, rating_chart_svg, vitals_overview

WRITER_ROLES = (Role.DOCTOR, Role.NURSE)
TREND_DAYS = 30

# ---------------------------------------------------------------- forms


def _vital_field(key: str) -> forms.CharField:
    spec = vs.ALL_SPECS[key]
    unit = f" ({spec.unit_display})" if spec.unit_display and key != "pain" else ""
    step = "1" if spec.decimals == 0 else "0.1"
    attrs = {
        "step": step,
        "min": f"{spec.possible_low}",
        "max": f"{spec.possible_high}",
        "inputmode": "decimal",
    }
    label = "Pain score (0-10)" if key == "pain" else f"{spec.label}{unit}"
    return forms.CharField(
        label=label,
        required=False,
        max_length=20,
        widget=forms.NumberInput(attrs=attrs),
        help_text=spec.range_text()[:1].upper() + spec.range_text()[1:],
    )


class VitalsForm(forms.Form):
    """A set typed by a nurse or doctor; the service validates (ranges with units)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in vs.STAFF_KEYS:
            self.fields[key] = _vital_field(key)

    def values(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k in vs.STAFF_KEYS and v not in (None, "")}


class DailyReportForm(forms.Form):
    mood = forms.ChoiceField(label="How is your mood today?", choices=dr.MOOD_CHOICES)
    rating = forms.TypedChoiceField(
        label="How do you feel overall? (1 = very bad, 10 = very good)",
        choices=[(i, str(i)) for i in range(dr.RATING_MAX, dr.RATING_MIN - 1, -1)],
        coerce=int,
    )
    symptoms = forms.CharField(
        label="Symptoms (optional)",
        required=False,
        max_length=dr.SYMPTOMS_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for key in vs.HOME_KEYS:
            self.fields[key] = _vital_field(key)

    def home_vitals(self) -> dict:
        return {k: v for k, v in self.cleaned_data.items() if k in vs.HOME_KEYS and v not in (None, "")}

    def home_fields(self):
        return [self[k] for k in vs.HOME_KEYS]


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


# ---------------------------------------------------------------- helpers


def _flagged(rows: list[Observation]) -> list[dict]:
    return [
        {
            "row": r,
            "label": vs.label_for(r),
            "value": vs.display_text(r),
            "flag": r.interpretation,
            "flag_label": FLAG_LABELS.get(r.interpretation, ""),
            "abnormal": r.interpretation not in ("", "N"),
        }
        for r in rows
    ]


def _int_or_none(value) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


def _audit_read(request, patient, view: str, **detail) -> None:
    audit_record(
        action=AuditAction.READ,
        request=request,
        patient=patient,
        object_type="clinical.Observation",
        channel="web",
        detail={"view": view, **detail},
    )


# ---------------------------------------------------------------- encounter screen section


@require_http_methods(["GET", "POST"])
@login_required
def encounter_vitals(request, pk: int):
    """/encounters/<pk>/vitals/: the encounter's vitals, and for doctors and nurses the entry form."""
    encounter = encounter_get(user=request.user, encounter_id=pk)
    patient = encounter.patient
    can_write = request.user.role in WRITER_ROLES
    is_eie = request.method == "POST" and request.POST.get("action") == "entered-in-error"
    form = VitalsForm(None if is_eie else (request.POST or None), auto_id=f"ev{encounter.pk}-%s")
    saved, errors, marked = [], [], False
    live = patient_records(user=request.user, patient=patient, model=Observation).filter(
        encounter=encounter, code__in=vs.VITAL_LOINC_CODES
    )
    if request.method == "POST" and not can_write:
        raise PermissionDenied("Only doctors and nurses record vital signs.")
    if is_eie:
        row = live.filter(pk=_int_or_none(request.POST.get("observation"))).first()
        if row is None:
            errors.append("That measurement is not in this encounter any more.")
        else:
            try:
                vs.vital_entered_in_error(
                    observation=row,
                    reason=request.POST.get("reason", "")[:500],
                    by=request.user,
                    request=request,
                )
                marked = True
            except ValidationError as exc:
                errors += [m for msgs in exc.message_dict.values() for m in msgs]
    elif request.method == "POST" and form.is_valid():
        try:
            saved = vs.vitals_record(
                patient=patient,
                encounter=encounter,
                values=form.values(),
                by=request.user,
                request=request,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            form = VitalsForm(auto_id=f"ev{encounter.pk}-%s")
    with transaction.atomic():
        rows = sorted(
            live.order_by("-effective_at", "-id")[:60],
            key=lambda r: (-r.effective_at.timestamp() if r.effective_at else 0, vs.display_order(r)),
        )
        _audit_read(request, patient, "encounter_vitals", encounter=encounter.pk)
    context = {
        "encounter": encounter,
        "patient": patient,
        "rows": _flagged(rows),
        "form": form,
        "can_write": can_write,
        "saved": len(saved),
        "errors": errors,
        "marked": marked,
        "post_url": reverse("portal:encounter_vitals", args=[encounter.pk]),
    }
    if request.htmx:
        return render(request, "portal/vitals/_encounter_vitals.html", context)
    context.update(clinical=True, allergies=queries.allergies_active(request.user, patient))
    status = 400 if form.errors or errors else 200
    return render(request, "portal/vitals/encounter_vitals.html", context, status=status)


# ---------------------------------------------------------------- nurse vitals entry


@require_http_methods(["GET", "POST"])
@role_required(*WRITER_ROLES, redirect_home=True)
def vitals_entry(request):
    """/nurse/vitals/: pick a patient in my care (search as you type), record a set of vitals."""
    query = (request.GET.get("q") or "").strip()[:100]
    if request.htmx and "q" in request.GET:
        results = queries.patients_matching(request.user, query) if query else None
        if results is not None:
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                patients=results,
                channel="web",
                detail={"view": "vitals_entry", "returned": len(results)},
            )
        return render(request, "portal/vitals/_pick_results.html", {"results": results, "query": query})
    patient_id = request.POST.get("patient") or request.GET.get("patient")
    patient = patient_get_clinical(request.user, patient_id) if patient_id else None
    form = VitalsForm(request.POST or None)
    if request.method == "POST":
        if patient is None:
            return redirect("portal:vitals_entry")
        if form.is_valid():
            try:
                rows = vs.vitals_record(
                    patient=patient, values=form.values(), by=request.user, request=request
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                flagged = sum(1 for r in rows if vs.abnormal(r))
                note = (
                    f" {flagged} value{'s' if flagged != 1 else ''} outside the reference range."
                    if flagged
                    else ""
                )
                messages.success(request, f"Vital signs recorded for {patient.full_name}.{note}")
                return redirect(f"{reverse('portal:vitals_entry')}?{urlencode({'patient': patient.pk})}")
    latest = []
    if patient is not None:
        with transaction.atomic():
            latest, _charts = vitals_overview(request.user, patient, points=1, with_charts=False)
            _audit_read(request, patient, "vitals_entry")
    context = {"patient": patient, "form": form, "latest": latest, "query": query, "clinical": True}
    if patient is not None:
        context["allergies"] = queries.allergies_active(request.user, patient)
    return render(request, "portal/vitals/entry.html", context, status=400 if form.errors else 200)


# ---------------------------------------------------------------- charts


@require_GET
@login_required
def patient_vitals(request, pk: int):
    """/patients/<pk>/vitals/: a chart per vital and the latest values with flags."""
    patient = patient_get_clinical(request.user, pk)
    with transaction.atomic():
        latest, charts = vitals_overview(request.user, patient)
        _audit_read(request, patient, "patient_vitals")
    context = {"patient": patient, "latest": latest, "charts": charts}
    if request.htmx:
        return render(request, "portal/vitals/_patient_vitals.html", context)
    context.update(clinical=True, allergies=queries.allergies_active(request.user, patient))
    return render(request, "portal/vitals/patient_vitals.html", context)


# ---------------------------------------------------------------- daily reports


def _reports_with_home_vitals(user, patient, days: int) -> list[DailyHealthReport]:
    since = dr.hospital_today() - dt.timedelta(days=days - 1)
    return list(
        dr.daily_reports_visible(user=user, patient=patient)
        .filter(report_date__gte=since)
        .prefetch_related(
            Prefetch(
                "observations",
                queryset=Observation.objects.filter(deleted_at__isnull=True).order_by("id"),
                to_attr="home_vitals",
            )
        )
        .order_by("-report_date", "-id")
    )


def _trend_context(user, patient) -> dict:
    reports = _reports_with_home_vitals(user, patient, TREND_DAYS)
    oldest_first = list(reversed(reports))
    return {
        "reports": [{"report": r, "vitals": _flagged(r.home_vitals)} for r in reports],
        "trend_svg": rating_chart_svg(oldest_first) if reports else "",
        "trend_days": TREND_DAYS,
    }


@require_http_methods(["GET", "POST"])
@role_required(Role.PATIENT, redirect_home=True)
def daily_report(request):
    """/me/daily-report/: today's report (a second submission the same day updates it) and the trend."""
    own = getattr(request.user, "patient", None)
    if own is None:
        return render(request, "portal/vitals/daily_report.html", {"patient": None})
    patient = patient_get_clinical(request.user, own.pk)
    today = (
        dr.daily_reports_visible(user=request.user, patient=patient)
        .filter(report_date=dr.hospital_today())
        .first()
    )
    initial = {"mood": today.mood, "rating": today.rating, "symptoms": today.symptoms} if today else {}
    form = DailyReportForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            result = dr.daily_report_submit(
                patient=patient,
                by=request.user,
                mood=form.cleaned_data["mood"],
                rating=form.cleaned_data["rating"],
                symptoms=form.cleaned_data["symptoms"],
                vitals=form.home_vitals(),
                request=request,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            verb = "saved" if result.created else "updated"
            messages.success(request, f"Thank you. Today's report is {verb}.")
            return redirect("portal:daily_report")
    with transaction.atomic():
        context = {"patient": patient, "form": form, "today": today, **_trend_context(request.user, patient)}
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=patient,
            object_type="clinical.DailyHealthReport",
            channel="web",
            detail={"view": "daily_report"},
        )
    context.update(clinical=True, allergies=queries.allergies_active(request.user, patient))
    return render(request, "portal/vitals/daily_report.html", context, status=400 if form.errors else 200)


@require_GET
@login_required
def patient_daily_reports(request, pk: int):
    """/patients/<pk>/daily-reports/: the 30-day rating trend and the reports with their home vitals."""
    patient = patient_get_clinical(request.user, pk)
    with transaction.atomic():
        context = {"patient": patient, **_trend_context(request.user, patient)}
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=patient,
            object_type="clinical.DailyHealthReport",
            channel="web",
            detail={"view": "patient_daily_reports"},
        )
    if request.htmx:
        return render(request, "portal/vitals/_daily_reports.html", context)
    context.update(clinical=True, allergies=queries.allergies_active(request.user, patient))
    return render(request, "portal/vitals/patient_daily_reports.html", context)
