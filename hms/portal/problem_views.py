"""Portal pages of diagnoses, the problem list and allergies (issue 4).

- `portal:encounter_diagnoses` `/encounters/<pk>/diagnoses/`: htmx fragment of the encounter screen: the
  visit's diagnoses (primary first) and the patient's problem list; for doctors an ICD-10-CM search-as-
  you-type (`portal:icd10_search`) whose results are the "add" buttons (primary or secondary), and a
  "resolve" button per problem. POST re-renders the fragment.
- `portal:icd10_search` `/terminology/icd10/?q=`: the result buttons (staff only; a code list, not PHI).
- `portal:patient_allergies` `/patients/<pk>/allergies/`: the allergy list with its status ("not yet
  asked", "no known allergies", the allergies); doctors and nurses add an allergy, record "No known
  allergies", mark one inactive or entered-in-error. Pharmacists and the patient read it.

Thin: access through the scoped selectors (404 for "missing" and "not yours"), writes through
`hms.clinical.problems` / `hms.clinical.allergies` / `record_enter_in_error` (which audit); every read
of PHI writes a "read" AuditEvent. Service errors show next to their fields; fragments answer 200 with
errors (htmx swaps only 2xx), full pages 400.
"""

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical import allergies as al
from hms.clinical import problems as pr
from hms.clinical.selectors import encounter_get
from hms.clinical.services import record_enter_in_error
from hms.core import codes
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.selectors import can_read_clinical
from hms.terminology.icd10 import icd10_search as search_codes

from . import queries
from .access import SEARCH_ROLES, role_required

ICD10_RESULTS = 15
ALLERGY_WRITERS = (Role.DOCTOR, Role.NURSE)

# ---------------------------------------------------------------- forms


class DiagnosisForm(forms.Form):
    """Add a diagnosis: the code comes from the search result button pressed."""

    code = forms.CharField(max_length=10, required=False)
    diagnosis_role = forms.ChoiceField(
        label="Add as",
        choices=[("secondary", "Secondary diagnosis"), ("primary", "Primary diagnosis")],
        initial="secondary",
    )
    onset = forms.DateField(
        label="Onset (optional)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        if not code:
            raise ValidationError("Search, then choose a code from the list.")
        return code


class ReasonForm(forms.Form):
    reason = forms.CharField(label="Reason", max_length=500)


SYSTEM_CHOICES = [("", "Free text (not coded)"), (codes.RXNORM, "RxNorm"), (codes.SNOMED, "SNOMED CT")]


class AllergyForm(forms.Form):
    substance_display = forms.CharField(label="Substance", max_length=200)
    substance_system = forms.ChoiceField(label="Code system", choices=SYSTEM_CHOICES, required=False)
    substance_code = forms.CharField(
        label="Code (optional)", max_length=18, required=False, help_text="RxNorm RXCUI or SNOMED CT id."
    )
    category = forms.ChoiceField(label="Category", choices=[(c, c.capitalize()) for c in al.CATEGORIES])
    allergy_type = forms.ChoiceField(label="Type", choices=[(t, t.capitalize()) for t in al.TYPES])
    criticality = forms.ChoiceField(
        label="Criticality",
        choices=[("", "Not assessed"), *((c, c.replace("-", " ").capitalize()) for c in al.CRITICALITIES)],
        required=False,
    )
    manifestation = forms.CharField(label="Reaction (optional)", max_length=200, required=False)
    severity = forms.ChoiceField(
        label="Severity", choices=[("", "—"), *((s, s.capitalize()) for s in al.SEVERITIES)], required=False
    )
    note = forms.CharField(label="Note (optional)", max_length=pr.MAX_NOTE, required=False)

    def reactions(self) -> list[dict]:
        m = self.cleaned_data.get("manifestation", "").strip()
        return [{"manifestation": m, "severity": self.cleaned_data.get("severity", "")}] if m else []


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- diagnoses


@require_http_methods(["GET", "POST"])
@login_required
def encounter_diagnoses(request, pk: int):
    """/encounters/<pk>/diagnoses/: the visit's diagnoses and the problem list; doctors add (ICD-10-CM
    search) and resolve. POST `action`: `add` (code, diagnosis_role, onset) | `resolve` (condition)."""
    encounter = encounter_get(user=request.user, encounter_id=pk)
    patient = encounter.patient
    can_write = request.user.role == Role.DOCTOR
    form = DiagnosisForm(auto_id=f"dx{encounter.pk}-%s")
    message = ""
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied("Only doctors record diagnoses.")
        action = request.POST.get("action")
        if action == "add":
            form = DiagnosisForm(request.POST, auto_id=f"dx{encounter.pk}-%s")
            if form.is_valid():
                try:
                    added = pr.condition_record(
                        patient=patient,
                        encounter=encounter,
                        code=form.cleaned_data["code"],
                        diagnosis_role=form.cleaned_data["diagnosis_role"],
                        onset=form.cleaned_data["onset"],
                        by=request.user,
                        request=request,
                    )
                except ValidationError as exc:
                    _add_errors(form, exc)
                else:
                    message = f"Added {added.code} {added.code_display} ({added.diagnosis_role})."
                    form = DiagnosisForm(auto_id=f"dx{encounter.pk}-%s")
        elif action == "resolve":
            condition = pr.condition_get(user=request.user, condition_id=request.POST.get("condition"))
            if condition.patient_id != patient.pk:
                raise NotFoundOrForbidden()
            pr.condition_update(
                condition=condition, by=request.user, clinical_status="resolved", request=request
            )
            message = f"Resolved {condition.code} {condition.code_display}."
        else:
            form.add_error(None, "Unknown action.")
    with transaction.atomic():
        diagnoses = pr.encounter_diagnoses(user=request.user, encounter=encounter)
        problem_list = list(pr.problem_list(user=request.user, patient=patient)[:100])
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=patient,
            object_type="clinical.Condition",
            channel="web",
            detail={"view": "encounter_diagnoses", "encounter": encounter.pk},
        )
    context = {
        "encounter": encounter,
        "patient": patient,
        "diagnoses": diagnoses,
        "has_primary": any(c.diagnosis_role == "primary" for c in diagnoses),
        "problem_list": problem_list,
        "form": form,
        "can_write": can_write,
        "message": message,
        "post_url": reverse("portal:encounter_diagnoses", args=[encounter.pk]),
    }
    if request.htmx:
        return render(request, "portal/problems/_encounter_diagnoses.html", context)
    context.update(clinical=True, allergies=queries.allergies_active(request.user, patient))
    status = 400 if form.errors else 200
    return render(request, "portal/problems/encounter_diagnoses.html", context, status=status)


@require_GET
@role_required(*SEARCH_ROLES)
def icd10_search(request):
    """/terminology/icd10/?q=: up to 15 ICD-10-CM codes as "add" buttons (billable ones; headings shown
    disabled). Not PHI: no AuditEvent."""
    query = (request.GET.get("q") or "").strip()[:100]
    results = search_codes(query, ICD10_RESULTS) if query else None
    return render(request, "portal/problems/_icd10_results.html", {"results": results, "query": query})


# ---------------------------------------------------------------- allergies


@require_http_methods(["GET", "POST"])
@login_required
def patient_allergies(request, pk: int):
    """/patients/<pk>/allergies/: allergies with their status. POST `action` (doctors, nurses): `add`
    (AllergyForm) | `none-known` | `inactive` (allergy) | `active` (allergy) | `entered-in-error`
    (allergy, reason)."""
    patient = al.allergy_patient_get(request.user, pk)
    can_write = request.user.role in ALLERGY_WRITERS and can_read_clinical(request.user, patient)
    form = AllergyForm(auto_id="al-%s")
    reason_errors: dict[int, str] = {}
    message = ""
    error = ""
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied("Only doctors and nurses caring for the patient record allergies.")
        action = request.POST.get("action")
        try:
            if action == "add":
                form = AllergyForm(request.POST, auto_id="al-%s")
                if form.is_valid():
                    d = form.cleaned_data
                    try:
                        added = al.allergy_record(
                            patient=patient,
                            substance_display=d["substance_display"],
                            substance_system=d["substance_system"],
                            substance_code=d["substance_code"],
                            category=d["category"],
                            allergy_type=d["allergy_type"],
                            criticality=d["criticality"],
                            reactions=form.reactions(),
                            note=d["note"],
                            by=request.user,
                            request=request,
                        )
                    except ValidationError as exc:
                        _add_errors(form, exc)
                    else:
                        message = f"Recorded {added.code_display}."
                        form = AllergyForm(auto_id="al-%s")
            elif action == "none-known":
                _row, created = al.allergy_record_none_known(
                    patient=patient, by=request.user, request=request
                )
                message = (
                    "Recorded: no known allergies." if created else "No known allergies was already recorded."
                )
            elif action in ("inactive", "active", "entered-in-error"):
                allergy = al.allergy_get(user=request.user, allergy_id=request.POST.get("allergy"))
                if allergy.patient_id != patient.pk:
                    raise NotFoundOrForbidden()
                if action == "entered-in-error":
                    reason = ReasonForm(request.POST)
                    if reason.is_valid():
                        record_enter_in_error(
                            record=allergy,
                            reason=reason.cleaned_data["reason"],
                            by=request.user,
                            request=request,
                        )
                        message = f"{allergy.code_display} marked entered in error."
                    else:
                        reason_errors[allergy.pk] = "Say why this record was entered in error."
                else:
                    al.allergy_update(
                        allergy=allergy, by=request.user, clinical_status=action, request=request
                    )
                    message = f"{allergy.code_display} marked {action}."
            else:
                error = "Unknown action."
        except Conflict as exc:
            error = exc.message
            if exc.payload.get("active_allergies"):
                error += " (" + ", ".join(exc.payload["active_allergies"]) + ")"
        except ValidationError as exc:
            error = " ".join(" ".join(v) for v in exc.message_dict.values())
    with transaction.atomic():
        rows = list(al.allergies_visible(request.user, patient=patient)[:200])
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=patient,
            object_type="clinical.AllergyIntolerance",
            channel="web",
            detail={"view": "patient_allergies", "ids": [a.pk for a in rows]},
        )
    banner = queries.allergy_banner(request.user, patient)
    context = {
        "patient": patient,
        "rows": [
            {"row": a, "nka": al.is_no_known_allergy(a), "reason_error": reason_errors.get(a.pk, "")}
            for a in rows
        ],
        "status": banner.status if banner is not None else "unknown",
        "form": form,
        "can_write": can_write,
        "message": message,
        "error": error,
        "post_url": reverse("portal:patient_allergies", args=[patient.pk]),
    }
    if request.htmx:
        return render(request, "portal/problems/_allergies.html", context)
    context["allergies"] = banner
    status = 400 if (form.errors or error or reason_errors) else 200
    return render(request, "portal/problems/allergies.html", context, status=status)
