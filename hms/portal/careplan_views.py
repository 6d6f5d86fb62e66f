"""Portal pages of care plans, goals and activities (issue 4).

- `portal:encounter_plan` `/encounters/<pk>/plan/`: htmx fragment of the encounter screen: the patient's
  care plans with goal progress and activities; a doctor starts a plan (from this encounter), adds goals
  and activities, changes a plan's status; doctors and nurses update activities. Every form posts back
  with htmx and the fragment re-renders (200 even with errors, which are shown at their fields: htmx
  swaps only 2xx); without htmx a POST redirects back (errors: the page answers 400).
- `portal:care_tasks` `/nurse/tasks/`: the nurse's (or doctor's) open activities, due first, for patients
  in their care; each ticked off with an optional progress note through
  `portal:care_task_update` `/nurse/tasks/<activity pk>/` (htmx swaps the row).
- `portal:patient_care_plans` `/patients/<pk>/care-plans/`: a patient's plans, goals and progress, read-only;
  for the care team and for the patient themself (their own only).

Thin: access through `hms.clinical.selectors.encounter_get`, `hms.patients.selectors` and the scoped reads of
`hms.clinical.careplans` (404 for "missing" and "not yours"); writes through the `hms.clinical.careplans`
services, which check roles and audit. Every page and fragment that shows PHI writes a "read" AuditEvent.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hms.accounts.models import User
from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical import careplans as cp
from hms.clinical.models import Condition
from hms.clinical.selectors import encounter_get
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.selectors import clinical_records, patient_get_clinical

from . import queries
from .access import role_required

TEAM_ROLES = (Role.DOCTOR, Role.NURSE)
READER_ROLES = (Role.DOCTOR, Role.NURSE, Role.PATIENT)
MAX_TASKS = 100

# ---------------------------------------------------------------- forms

DATE_INPUT = forms.DateInput(attrs={"type": "date"})


class PlanForm(forms.Form):
    title = forms.CharField(label="Plan title", max_length=200)
    period_end = forms.DateField(label="Review or end date (optional)", required=False, widget=DATE_INPUT)
    addresses = forms.MultipleChoiceField(
        label="Conditions it treats", required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, conditions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["addresses"].choices = [(str(c.pk), c.code_display or c.code) for c in conditions]


def _measure_choices():
    return [("", "No measurable target")] + [
        (m.code, f"{m.display} (LOINC {m.code}, {m.unit})") for m in cp.GOAL_MEASURES.values()
    ]


class GoalForm(forms.Form):
    description = forms.CharField(label="Goal", max_length=300, help_text="e.g. HbA1c below 7 %")
    target_code = forms.ChoiceField(label="Measure", required=False)
    comparator = forms.ChoiceField(
        label="Comparison", required=False, choices=[("", "(none)"), *((c, c) for c in cp.COMPARATORS)]
    )
    target_value = forms.CharField(
        label="Target value",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    due_date = forms.DateField(label="Due date", required=False, widget=DATE_INPUT)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_code"].choices = _measure_choices()


class ActivityForm(forms.Form):
    kind = forms.ChoiceField(
        label="Kind", choices=[(k, k.replace("-", " ").capitalize()) for k in cp.ACTIVITY_KINDS]
    )
    description = forms.CharField(label="Activity", max_length=300)
    assigned_role = forms.ChoiceField(
        label="Assign to role",
        required=False,
        choices=[("", "(no role)"), *((str(r), r.label) for r in cp.ASSIGNABLE_ROLES)],
    )
    assigned_to = forms.ChoiceField(label="or to a person", required=False)
    due_date = forms.DateField(label="Due by", required=False, widget=DATE_INPUT)

    def __init__(self, *args, team=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assigned_to"].choices = [("", "(nobody in particular)")] + [
            (str(u.pk), f"{u.get_full_name() or u.username} ({u.role_label})") for u in team
        ]


class ActivityUpdateForm(forms.Form):
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[
            ("completed", "Done"),
            ("in-progress", "In progress"),
            ("on-hold", "On hold"),
            ("cancelled", "Cancelled"),
            ("", "No change (note only)"),
        ],
    )
    progress_note = forms.CharField(
        label="Progress note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


class PlanStatusForm(forms.Form):
    status = forms.ChoiceField(
        label="Plan status",
        choices=[
            ("active", "Active"),
            ("on-hold", "On hold"),
            ("completed", "Completed"),
            ("revoked", "Revoked"),
        ],
    )


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "message_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _care_team(patient) -> list[User]:
    """Active doctor and nurse users with `patient` in their care (encounter performer or participant,
    or an appointment), for the "assign to a person" list (at most 50)."""
    from hms.clinical.models import Encounter
    from hms.scheduling.models import Appointment

    enc = Encounter.objects.filter(patient=patient, deleted_at__isnull=True)
    practitioner_ids = set(enc.exclude(practitioner__isnull=True).values_list("practitioner_id", flat=True))
    practitioner_ids |= set(enc.values_list("participants__id", flat=True)) - {None}
    practitioner_ids |= set(
        Appointment.objects.filter(patient=patient)
        .exclude(status="entered-in-error")
        .values_list("practitioner_id", flat=True)
    )
    return list(
        User.objects.filter(
            is_active=True,
            practitioner__id__in=practitioner_ids,
            groups__name__in=[str(Role.DOCTOR), str(Role.NURSE)],
        )
        .distinct()
        .order_by("last_name", "first_name", "id")[:50]
    )


def _plan_rows(plans) -> list[dict]:
    """Each plan with its goals' progress (computed now) and its activities."""
    return [
        {
            "plan": p,
            "goals": [(g, cp.goal_progress(g)) for g in p.goals.all()],
            "activities": list(p.planned_activities.all()),
            "open": p.status == "active",
        }
        for p in plans
    ]


def _audit_read(request, patient, view: str, plans) -> None:
    audit_record(
        action=AuditAction.READ,
        request=request,
        patient=patient,
        object_type="clinical.CarePlan",
        channel="web",
        detail={"view": view, "ids": [p.pk for p in plans]},
    )


# ---------------------------------------------------------------- encounter screen section


def _handle_plan_post(request, encounter, forms_: dict) -> str | None:
    """Apply the POSTed action; return a success message, or None with the errors put on `forms_`
    (keys: "plan", ("goal", plan id), ("activity", plan id), ("update", activity id), ("status", plan id))."""
    user, patient = request.user, encounter.patient
    action = request.POST.get("action", "")
    if action == "create_plan":
        form = forms_["plan"]
        if form.is_valid():
            try:
                cp.careplan_create(
                    patient=patient,
                    encounter=encounter,
                    title=form.cleaned_data["title"],
                    period_end=form.cleaned_data["period_end"],
                    addresses=form.cleaned_data["addresses"],
                    by=user,
                    request=request,
                )
                return "Care plan started."
            except ValidationError as exc:
                _add_errors(form, exc)
        return None
    if action in ("add_goal", "add_activity", "plan_status"):
        plan = cp.careplan_get(user=user, care_plan_id=request.POST.get("care_plan"))
        if plan.patient_id != patient.pk:
            raise NotFoundOrForbidden()
        key = {"add_goal": "goal", "add_activity": "activity", "plan_status": "status"}[action]
        form = forms_[(key, plan.pk)]
        if not form.is_valid():
            return None
        data = form.cleaned_data
        try:
            if action == "add_goal":
                cp.goal_add(
                    care_plan=plan,
                    description=data["description"],
                    target_code=data["target_code"],
                    comparator=data["comparator"],
                    target_value=data["target_value"] or None,
                    unit=cp.GOAL_MEASURES[data["target_code"]].unit if data["target_code"] else "",
                    due_date=data["due_date"],
                    by=user,
                    request=request,
                )
                return "Goal added."
            if action == "add_activity":
                assignee = None
                if data["assigned_to"]:
                    assignee = User.objects.filter(pk=int(data["assigned_to"])).first()
                cp.activity_add(
                    care_plan=plan,
                    kind=data["kind"],
                    description=data["description"],
                    assigned_role=data["assigned_role"],
                    assigned_to=assignee,
                    due_at=data["due_date"],
                    by=user,
                    request=request,
                )
                return "Activity added."
            cp.careplan_update_status(care_plan=plan, status=data["status"], by=user, request=request)
            return f"Plan is now {data['status']}."
        except ValidationError as exc:
            _add_errors(form, exc)
        except (Conflict, PermissionDenied) as exc:
            form.add_error(None, getattr(exc, "message", None) or str(exc))
        return None
    if action == "update_activity":
        activity = cp.activity_get(user=user, activity_id=request.POST.get("activity"))
        if activity.care_plan.patient_id != patient.pk:
            raise NotFoundOrForbidden()
        return _update_activity(request, activity, forms_[("update", activity.pk)])
    raise ValidationError("Unknown action.")


def _update_activity(request, activity, form) -> str | None:
    if not form.is_valid():
        return None
    try:
        cp.activity_update(
            activity=activity,
            status=form.cleaned_data["status"],
            progress_note=form.cleaned_data["progress_note"],
            by=request.user,
            request=request,
        )
    except ValidationError as exc:
        _add_errors(form, exc)
    except (Conflict, PermissionDenied) as exc:
        form.add_error(None, getattr(exc, "message", None) or str(exc))
    else:
        return "Activity done." if activity.status == "completed" else "Activity updated."
    return None


def _encounter_plan_forms(request, encounter, plans, conditions, team, *, bind: bool = True) -> dict:
    """One form per purpose and plan; the POSTed one bound to the request (with `bind`), the others
    blank."""
    post = request.POST if bind and request.method == "POST" else None
    action = post.get("action") if post else ""
    target_plan = post.get("care_plan") if post else None
    target_activity = post.get("activity") if post else None
    forms_ = {
        "plan": PlanForm(
            post if action == "create_plan" else None,
            conditions=conditions,
            auto_id=f"cp{encounter.pk}-new-%s",
        )
    }
    for p in plans:
        bound = post is not None and target_plan == str(p.pk)
        forms_[("goal", p.pk)] = GoalForm(
            post if bound and action == "add_goal" else None, auto_id=f"g{p.pk}-%s"
        )
        forms_[("activity", p.pk)] = ActivityForm(
            post if bound and action == "add_activity" else None, team=team, auto_id=f"a{p.pk}-%s"
        )
        forms_[("status", p.pk)] = PlanStatusForm(
            post if bound and action == "plan_status" else None,
            initial={"status": p.status},
            auto_id=f"s{p.pk}-%s",
        )
        for a in p.planned_activities.all():
            forms_[("update", a.pk)] = ActivityUpdateForm(
                post if action == "update_activity" and target_activity == str(a.pk) else None,
                auto_id=f"u{a.pk}-%s",
            )
    return forms_


@require_http_methods(["GET", "POST"])
@role_required(*TEAM_ROLES)
def encounter_plan(request, pk: int):
    """/encounters/<pk>/plan/: the patient's care plans on the encounter screen (see module docstring)."""
    encounter = encounter_get(user=request.user, encounter_id=pk)
    patient = encounter.patient
    conditions = list(
        clinical_records(request.user, Condition, patient=patient)
        .filter(clinical_status="active")
        .order_by("code_display", "id")[:50]
    )
    is_doctor = request.user.role == Role.DOCTOR
    team = _care_team(patient) if is_doctor else []
    plans = list(cp.patient_careplans(user=request.user, patient=patient)[:20])
    forms_ = _encounter_plan_forms(request, encounter, plans, conditions, team)
    done = None
    if request.method == "POST":
        try:
            done = _handle_plan_post(request, encounter, forms_)
        except ValidationError:
            done = None
            messages.error(request, "That action is not available here.")
        if done and not request.htmx:
            messages.success(request, done)
            return redirect("portal:encounter_plan", pk=encounter.pk)
        if done:
            plans = list(cp.patient_careplans(user=request.user, patient=patient)[:20])
            forms_ = _encounter_plan_forms(request, encounter, plans, conditions, team, bind=False)
    with transaction.atomic():
        rows = _plan_rows(plans)
        _audit_read(request, patient, "encounter_plan", plans)
    for row in rows:
        pk_ = row["plan"].pk
        row["goal_form"] = forms_[("goal", pk_)]
        row["activity_form"] = forms_[("activity", pk_)]
        row["status_form"] = forms_[("status", pk_)]
        row["activities"] = [(a, forms_[("update", a.pk)]) for a in row["activities"]]
    has_errors = any(f.errors for f in forms_.values())
    context = {
        "encounter": encounter,
        "patient": patient,
        "rows": rows,
        "plan_form": forms_["plan"],
        "is_doctor": is_doctor,
        "done": done,
        "post_url": reverse("portal:encounter_plan", args=[encounter.pk]),
    }
    if request.htmx:
        return render(request, "portal/careplans/_encounter_plan.html", context)
    context.update(clinical=True, allergies=queries.allergies_active(request.user, patient))
    return render(request, "portal/careplans/encounter_plan.html", context, status=400 if has_errors else 200)


# ---------------------------------------------------------------- the nurse's task list


@require_GET
@role_required(*TEAM_ROLES, redirect_home=True)
def care_tasks(request):
    """/nurse/tasks/: my open care-plan activities (assigned to me or to my role) for patients in my
    care, due first."""
    with transaction.atomic():
        tasks = list(cp.care_tasks(user=request.user)[: MAX_TASKS + 1])
        more = len(tasks) > MAX_TASKS
        tasks = tasks[:MAX_TASKS]
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=sorted({t.care_plan.patient_id for t in tasks}),
            object_type="clinical.CarePlanActivity",
            channel="web",
            detail={"view": "care_tasks", "returned": len(tasks)},
        )
    rows = [(t, ActivityUpdateForm(auto_id=f"t{t.pk}-%s")) for t in tasks]
    return render(request, "portal/careplans/tasks.html", {"rows": rows, "more": more})


@require_POST
@role_required(*TEAM_ROLES)
def care_task_update(request, pk: int):
    """/nurse/tasks/<pk>/ (POST): tick off or note progress on one activity; htmx gets the row back."""
    activity = cp.activity_get(user=request.user, activity_id=pk)
    form = ActivityUpdateForm(request.POST, auto_id=f"t{activity.pk}-%s")
    done = _update_activity(request, activity, form)
    if request.htmx:
        return render(
            request, "portal/careplans/_task_row.html", {"task": activity, "form": form, "done": done}
        )
    if done:
        messages.success(request, f"{activity.description}: {done}")
    else:
        for errors in form.errors.values():
            for e in errors:
                messages.error(request, f"{activity.description}: {e}")
    return redirect("portal:care_tasks")


# ---------------------------------------------------------------- the chart's care plans


@require_GET
@role_required(*READER_ROLES)
def patient_care_plans(request, pk: int):
    """/patients/<pk>/care-plans/: the patient's care plans with goals, progress and activities (read only).
    The care team and the patient themself; anyone else 404 (or 403 for roles without clinical access)."""
    patient = patient_get_clinical(request.user, pk)
    with transaction.atomic():
        plans = list(cp.patient_careplans(user=request.user, patient=patient)[:50])
        rows = _plan_rows(plans)
        _audit_read(request, patient, "patient_care_plans", plans)
    context = {
        "patient": patient,
        "rows": rows,
        "clinical": True,
        "allergies": queries.allergies_active(request.user, patient),
        "is_patient": request.user.role == Role.PATIENT,
    }
    return render(request, "portal/careplans/patient_plans.html", context)
