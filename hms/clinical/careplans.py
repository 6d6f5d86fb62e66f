"""Care plans, their goals and activities, and the care team's task list (issue 4).

Models (`hms.clinical.models`): `CarePlan` (FHIR R4 `CarePlan`), `Goal` (FHIR R4 `Goal`),
`CarePlanActivity` (FHIR R4 `CarePlan.activity.detail`). Plans imported from FHIR bundles keep their
activities in the JSON column `CarePlan.activities`; plans made here use `CarePlanActivity` rows.

Writes follow the contract of `hms.clinical.services`: `<entity>_<action>(*, ..., by, request=None)`,
one transaction each, with its AuditEvent; nothing is hard-deleted (`careplan_enter_in_error`).

Who may do what (404 = `NotFoundOrForbidden`, the same answer as a missing record; 403 = `PermissionDenied`;
400 = `ValidationError` with field errors; 409 = `Conflict`):

- create a plan, add goals and activities, change the plan's status, enter it in error: a doctor with
  the patient in their care (404 otherwise);
- tick off or update an activity: a doctor or nurse with the patient in their care (404 otherwise); an
  activity assigned to a person: that person or a doctor (403 for another nurse);
- read plans, goals and progress: the care team and the patient themself (404 otherwise).

Goal evaluation (`goal_progress`) is computed on every read from the latest Observation of the patient
with the goal's LOINC code, never stored. Its codes are FHIR R4 Goal.achievementStatus, CodeSystem
http://terminology.hl7.org/CodeSystem/goal-achievement (`achieved`, `not-achieved`; with no usable
observation no code is given, shown as "no data").
"""

import datetime as dt
import operator
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core import codes
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.selectors import can_read_clinical, clinical_records, patients_with_clinical_access

from .models import CarePlan, CarePlanActivity, Condition, Encounter, Goal, Observation
from .services import clinical_write_check, record_enter_in_error

DOCTORS = frozenset({Role.DOCTOR})
CARE_TEAM = frozenset({Role.DOCTOR, Role.NURSE})

# ---------------------------------------------------------------- code lists

GOAL_ACHIEVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/goal-achievement"

# FHIR R4 request-status (http://hl7.org/fhir/request-status), the value set of CarePlan.status: which
# status a plan may move to from which. completed, revoked and entered-in-error are final.
PLAN_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"active", "revoked"}),
    "active": frozenset({"on-hold", "completed", "revoked"}),
    "on-hold": frozenset({"active", "completed", "revoked"}),
}
PLAN_STATUSES = ("draft", "active", "on-hold", "completed", "revoked", "entered-in-error", "unknown")

# Our activity kinds (CarePlan.activity.detail.kind in FHIR is a resource type; these are the hospital's
# own categories, sent as detail.code text).
ACTIVITY_KINDS = ("medication", "appointment", "nurse-check", "education", "other")
# FHIR R4 care-plan-activity-status (http://hl7.org/fhir/care-plan-activity-status).
ACTIVITY_STATUSES = ("not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled")
ACTIVITY_OPEN = frozenset({"not-started", "scheduled", "in-progress", "on-hold"})
ACTIVITY_FINAL = frozenset({"completed", "cancelled", "stopped", "entered-in-error"})
ASSIGNABLE_ROLES = (Role.NURSE, Role.DOCTOR)

# Goal.target.detailQuantity.comparator (FHIR quantity-comparator, plus "=" for an exact target).
COMPARATORS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
}


@dataclass(frozen=True)
class GoalMeasure:
    """A measure a goal may target: LOINC code and display (LOINC 2.7x, loinc.org), its UCUM unit (the
    "example UCUM units" of the LOINC entry, as Synthea and our vitals write them) and the range of
    target values we accept (physiologically possible values; a target outside is a typing error)."""

    code: str
    display: str
    unit: str
    low: Decimal
    high: Decimal
    component_of: tuple[str, ...] = ()  # panels whose `components` carry this code (blood pressure)


GOAL_MEASURES: dict[str, GoalMeasure] = {
    m.code: m
    for m in (
        GoalMeasure("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", Decimal(3), Decimal(20)),
        GoalMeasure("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", Decimal(20), Decimal(600)),
        GoalMeasure(
            "2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", Decimal(50), Decimal(500)
        ),
        GoalMeasure(
            "18262-6",
            "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
            "mg/dL",
            Decimal(10),
            Decimal(400),
        ),
        GoalMeasure(
            "2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", Decimal(10), Decimal(2000)
        ),
        GoalMeasure(
            codes.LOINC_SYSTOLIC,
            "Systolic blood pressure",
            "mm[Hg]",
            Decimal(60),
            Decimal(250),
            codes.BLOOD_PRESSURE_PANELS,
        ),
        GoalMeasure(
            codes.LOINC_DIASTOLIC,
            "Diastolic blood pressure",
            "mm[Hg]",
            Decimal(30),
            Decimal(150),
            codes.BLOOD_PRESSURE_PANELS,
        ),
        GoalMeasure(codes.LOINC_BODY_WEIGHT, "Body weight", "kg", Decimal(1), Decimal(400)),
        GoalMeasure(codes.LOINC_BMI, "Body mass index (BMI) [Ratio]", "kg/m2", Decimal(10), Decimal(80)),
        GoalMeasure(codes.LOINC_HEART_RATE, "Heart rate", "/min", Decimal(30), Decimal(220)),
        GoalMeasure(
            "72514-3",
            "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
            "{score}",
            Decimal(0),
            Decimal(10),
        ),
    )
}

# Spellings people type for a UCUM unit -> the UCUM code (case-sensitive UCUM, https://ucum.org/ucum).
UNIT_ALIASES = {
    "percent": "%",
    "mg/dl": "mg/dL",
    "mmhg": "mm[Hg]",
    "mm hg": "mm[Hg]",
    "kg/m²": "kg/m2",
    "bpm": "/min",
    "beats/min": "/min",
    "{beats}/min": "/min",
    "score": "{score}",
}


def normalize_unit(unit: str) -> str:
    """The UCUM code for a unit as typed (`mmHg` -> `mm[Hg]`, `mg/dl` -> `mg/dL`); unknown spellings as
    given (stripped)."""
    unit = (unit or "").strip()
    return UNIT_ALIASES.get(unit.lower(), unit)


# ---------------------------------------------------------------- reads (scoped to the requesting user)


def careplans_visible(user) -> QuerySet[CarePlan]:
    """Live care plans whose patient's clinical record `user` may read (care team, the patient)."""
    return clinical_records(user, CarePlan).select_related("patient")


def careplan_get(*, user, care_plan_id) -> CarePlan:
    """One live plan `user` may read, with its goals and activities prefetched; else 404."""
    try:
        pk = int(care_plan_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    plan = careplan_with_contents(careplans_visible(user).filter(pk=pk)).first()
    if plan is None:
        raise NotFoundOrForbidden()
    return plan


def careplan_with_contents(qs: QuerySet[CarePlan]) -> QuerySet[CarePlan]:
    """`qs` with its live goals and its activities (with their assignees) prefetched."""
    from django.db.models import Prefetch

    return qs.select_related("patient", "encounter").prefetch_related(
        Prefetch("goals", queryset=Goal.objects.filter(deleted_at__isnull=True)),
        Prefetch(
            "planned_activities",
            queryset=CarePlanActivity.objects.select_related("assigned_to", "completed_by"),
        ),
    )


def patient_careplans(*, user, patient) -> QuerySet[CarePlan]:
    """The patient's live plans, active first then newest; 404 unless `user` may read the record."""
    if not can_read_clinical(user, patient):
        raise NotFoundOrForbidden()
    from django.db.models import Case, IntegerField, Value, When

    order = Case(When(status="active", then=Value(0)), default=Value(1), output_field=IntegerField())
    return careplan_with_contents(
        clinical_records(user, CarePlan, patient=patient).order_by(
            order, F("period_start").desc(nulls_last=True), "-id"
        )
    )


def activity_get(*, user, activity_id) -> CarePlanActivity:
    """One activity of a live plan `user` may read; else 404."""
    try:
        pk = int(activity_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    activity = (
        CarePlanActivity.objects.select_related("care_plan__patient", "assigned_to", "completed_by")
        .filter(pk=pk, care_plan__in=clinical_records(user, CarePlan))
        .first()
    )
    if activity is None:
        raise NotFoundOrForbidden()
    return activity


def care_tasks(*, user) -> QuerySet[CarePlanActivity]:
    """The open activities `user` should do: assigned to them, or to their role with no person named,
    on active plans of patients in their care; due first (undated last), then oldest.
    Empty for anyone outside the care team roles."""
    if user is None or not user.is_authenticated or user.role not in CARE_TEAM:
        return CarePlanActivity.objects.none()
    mine = Q(assigned_to=user) | Q(assigned_to__isnull=True, assigned_role=user.role)
    return (
        CarePlanActivity.objects.filter(mine, status__in=ACTIVITY_OPEN)
        .filter(
            care_plan__status="active",
            care_plan__deleted_at__isnull=True,
            care_plan__patient__in=patients_with_clinical_access(user),
        )
        .select_related("care_plan__patient", "assigned_to")
        .order_by(F("due_at").asc(nulls_last=True), "id")
    )


# ---------------------------------------------------------------- goal evaluation


@dataclass(frozen=True)
class GoalProgress:
    """Whether a goal is met now. `status`: "met" | "not-met" | "no-data"; `achievement`: the FHIR
    goal-achievement code (`achieved`, `not-achieved`) or "" with no data; `value`/`unit`/`observed_at`/
    `observation_id`: the observation used (None without one); `reason`: why there is no data."""

    status: str
    achievement: str = ""
    value: Decimal | None = None
    unit: str = ""
    observed_at: dt.datetime | None = None
    observation_id: int | None = None
    reason: str = ""

    @property
    def label(self) -> str:
        return {"met": "Met", "not-met": "Not met"}.get(self.status, "No data")

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "label": self.label,
            "achievement_status": (
                {"system": GOAL_ACHIEVEMENT_SYSTEM, "code": self.achievement} if self.achievement else None
            ),
            "value": self.value,
            "unit": self.unit,
            "observed_at": self.observed_at,
            "observation": self.observation_id,
            "reason": self.reason,
        }


def _latest_value(goal: Goal) -> tuple[Observation | None, Decimal | None, str]:
    """The latest final observation of the goal's measure for its patient, its value and unit.
    Blood-pressure parts are read from the panel's components."""
    measure = GOAL_MEASURES.get(goal.target_code)
    wanted = [goal.target_code, *(measure.component_of if measure else ())]
    obs = (
        Observation.objects.filter(patient_id=goal.patient_id, code__in=wanted, deleted_at__isnull=True)
        .exclude(status__in=("entered-in-error", "cancelled", "preliminary", "registered"))
        .filter(Q(code_system=codes.LOINC) | Q(code_system=""))
        .order_by(F("effective_at").desc(nulls_last=True), "-id")
    )
    for row in obs[:5]:  # the newest usable one; a panel without the part is skipped
        if row.code == goal.target_code and row.value_quantity is not None:
            return row, row.value_quantity, row.value_unit
        for part in row.components or []:
            if part.get("code") == goal.target_code and part.get("value") is not None:
                try:
                    return row, Decimal(str(part["value"])), part.get("unit", "")
                except InvalidOperation:
                    continue
    return None, None, ""


def goal_progress(goal: Goal) -> GoalProgress:
    """Is `goal` met, from the latest Observation of its patient with `target_code` (LOINC)?

    `value <comparator> target_value`, both in the goal's UCUM unit: true -> met (`achieved`), false ->
    not met (`not-achieved`). No measurable target, no observation, or an observation in another unit ->
    no data (no achievement code). Computed on every call (one query), never stored.
    """
    if not goal.target_code or goal.target_value is None or goal.target_comparator not in COMPARATORS:
        return GoalProgress("no-data", reason="The goal has no measurable target.")
    row, value, unit = _latest_value(goal)
    if row is None:
        return GoalProgress("no-data", reason="No result recorded yet.")
    if normalize_unit(unit) != normalize_unit(goal.target_unit):
        return GoalProgress(
            "no-data",
            value=value,
            unit=unit,
            observed_at=row.effective_at,
            observation_id=row.pk,
            reason=f"The latest result is in {unit or 'no unit'}, the target in {goal.target_unit}.",
        )
    met = COMPARATORS[goal.target_comparator](value, goal.target_value)
    return GoalProgress(
        "met" if met else "not-met",
        achievement="achieved" if met else "not-achieved",
        value=value,
        unit=unit,
        observed_at=row.effective_at,
        observation_id=row.pk,
    )


# ---------------------------------------------------------------- writes


def _aware(value, field: str, *, end_of_day: bool = False) -> dt.datetime | None:
    """A date (the hospital's local midnight, or the last instant of the day) or an aware datetime."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            raise ValidationError({field: "Give a time zone (e.g. 2026-05-01T09:00:00Z)."})
        return value
    if isinstance(value, dt.date):
        zone = zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)
        at = dt.datetime.combine(value, dt.time.max if end_of_day else dt.time.min, tzinfo=zone)
        return at.astimezone(dt.UTC)
    raise ValidationError({field: "Not a date."})


def _text(value, field: str, *, max_length: int, required: bool = True, one_line: bool = True) -> str:
    value = " ".join(str(value or "").split()) if one_line else str(value or "").strip()
    if required and not value:
        raise ValidationError({field: "This field is required."})
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    return value


def _check_open(plan: CarePlan) -> None:
    if plan.deleted_at is not None:
        raise NotFoundOrForbidden()
    if plan.status != "active":
        raise Conflict(f"The care plan is {plan.status}: only an active plan takes new goals and activities.")


def careplan_create(
    *,
    patient,
    encounter: Encounter | None = None,
    title: str,
    period_start: dt.date | dt.datetime | None = None,
    period_end: dt.date | dt.datetime | None = None,
    addresses: Iterable[int] = (),
    by,
    request=None,
) -> CarePlan:
    """Start an active care plan for `patient`. Doctors in the patient's care only (404 otherwise).

    - `title`: 1-200 characters; `period_start` (default now) / `period_end` (optional, ≥ start): a date
      (the hospital's local day) or an aware datetime.
    - `encounter`: optional, one of the patient's live encounters (400 otherwise).
    - `addresses`: ids of the patient's live conditions the plan treats (400 naming the others); stored
      as their displays in `CarePlan.addresses` (FHIR CarePlan.addresses), as imported plans are.
    Audit: one "create" event.
    """
    clinical_write_check(by, patient, roles=DOCTORS)
    errors = {}
    try:
        title = _text(title, "title", max_length=200)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    start = _aware(period_start, "period_start") or timezone.now()
    end = _aware(period_end, "period_end", end_of_day=True)
    if end is not None and end < start:
        errors["period_end"] = ["The end comes before the start."]
    if encounter is not None and (encounter.patient_id != patient.pk or encounter.deleted_at is not None):
        errors["encounter"] = ["Not an encounter of this patient."]
    ids = []
    for raw in addresses or ():
        try:
            ids.append(int(raw))
        except (TypeError, ValueError):
            errors["addresses"] = [f"Not a condition id: {str(raw)[:20]}."]
    conditions = {
        c.pk: c for c in Condition.objects.filter(patient=patient, deleted_at__isnull=True, pk__in=ids)
    }
    unknown = [i for i in ids if i not in conditions]
    if unknown and "addresses" not in errors:
        errors["addresses"] = [f"Not conditions of this patient: {', '.join(map(str, unknown[:10]))}."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        plan = CarePlan(
            patient=patient,
            encounter=encounter,
            status="active",
            intent="plan",
            title=title,
            period_start=start,
            period_end=end,
            addresses=[conditions[i].code_display or conditions[i].code for i in dict.fromkeys(ids)],
        )
        plan.full_clean()
        plan.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=plan,
            detail={"title": title, "addresses": list(dict.fromkeys(ids))},
        )
    return plan


def goal_add(
    *,
    care_plan: CarePlan,
    description: str,
    target_code: str = "",
    comparator: str = "",
    target_value=None,
    unit: str = "",
    due_date: dt.date | None = None,
    by,
    request=None,
) -> Goal:
    """Add a goal to an active plan. Doctors in the patient's care only (404); plan not active: 409.

    - `description`: 1-300 characters, e.g. "HbA1c below 7 %".
    - A measurable target (optional, all or nothing): `target_code` one of `GOAL_MEASURES` (LOINC, e.g.
      4548-4 HbA1c), `comparator` one of `<`, `<=`, `>`, `>=`, `=`, `target_value` a number within the
      measure's accepted range, `unit` the measure's UCUM unit (common spellings accepted: `mmHg`,
      `mg/dl`). Any of these wrong -> 400 on that field, saying what is accepted.
    - `due_date`: optional date, not before the plan's start.
    Audit: one "create" event.
    """
    clinical_write_check(by, care_plan.patient, roles=DOCTORS)
    _check_open(care_plan)
    errors: dict[str, list[str]] = {}
    try:
        description = _text(description, "description", max_length=300)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    target_code = (target_code or "").strip()
    comparator = (comparator or "").strip()
    measure = None
    value = None
    unit = normalize_unit(unit)
    if target_code or comparator or target_value not in (None, "") or unit:
        measure = GOAL_MEASURES.get(target_code)
        if measure is None:
            known = ", ".join(f"{m.code} ({m.display})" for m in GOAL_MEASURES.values())
            errors["target_code"] = [f"Not a measure goals can target. Use one of: {known}."]
        if comparator not in COMPARATORS:
            errors["comparator"] = [f"Use one of {', '.join(COMPARATORS)}."]
        try:
            value = Decimal(str(target_value).strip())
            if not value.is_finite():
                raise InvalidOperation
        except (InvalidOperation, TypeError, ValueError):
            errors["target_value"] = ["Give the target as a number."]
            value = None
        if measure is not None:
            if unit != measure.unit:
                errors["unit"] = [
                    f"{measure.display} (LOINC {measure.code}) is measured in {measure.unit} (UCUM)"
                    + (f", not {unit}." if unit else ".")
                ]
            if value is not None and not measure.low <= value <= measure.high:
                errors["target_value"] = [
                    f"A target for {measure.display} must be between {measure.low} and {measure.high} "
                    f"{measure.unit}."
                ]
    if due_date is not None:
        if not isinstance(due_date, dt.date) or isinstance(due_date, dt.datetime):
            errors["due_date"] = ["Not a date (YYYY-MM-DD)."]
        elif care_plan.period_start and due_date < timezone.localdate(care_plan.period_start):
            errors["due_date"] = ["The due date comes before the plan starts."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        goal = Goal(
            patient=care_plan.patient,
            encounter=care_plan.encounter,
            care_plan=care_plan,
            description=description,
            lifecycle_status="active",
            target_code_system=codes.LOINC if measure else "",
            target_code=measure.code if measure else "",
            target_code_display=measure.display if measure else "",
            target_comparator=comparator if measure else "",
            target_value=value if measure else None,
            target_unit=measure.unit if measure else "",
            due_date=due_date,
        )
        goal.full_clean()
        goal.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=care_plan.patient,
            obj=goal,
            detail={"care_plan": care_plan.pk, "target_code": goal.target_code},
        )
    return goal


def activity_add(
    *,
    care_plan: CarePlan,
    kind: str,
    description: str,
    assigned_role: str = "",
    assigned_to=None,
    due_at: dt.datetime | None = None,
    by,
    request=None,
) -> CarePlanActivity:
    """Add an activity to an active plan. Doctors in the patient's care only (404); plan not active: 409.

    - `kind`: one of `ACTIVITY_KINDS`; `description`: 1-300 characters.
    - `assigned_role` ("nurse" or "doctor") and/or `assigned_to` (a doctor or nurse User with the patient
      in their care); at least one (400). A person named is told by an in-app notification
      (event `careplan.activity_assigned`).
    - `due_at`: optional aware datetime (a date means the end of that local day).
    Audit: one "create" event.
    """
    clinical_write_check(by, care_plan.patient, roles=DOCTORS)
    _check_open(care_plan)
    errors: dict[str, list[str]] = {}
    if kind not in ACTIVITY_KINDS:
        errors["kind"] = [f"Use one of {', '.join(ACTIVITY_KINDS)}."]
    try:
        description = _text(description, "description", max_length=300)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    assigned_role = (assigned_role or "").strip()
    if assigned_role and assigned_role not in ASSIGNABLE_ROLES:
        errors["assigned_role"] = [f"Use one of {', '.join(str(r) for r in ASSIGNABLE_ROLES)}."]
    if assigned_to is not None and (
        not assigned_to.is_active
        or assigned_to.role not in CARE_TEAM
        or not can_read_clinical(assigned_to, care_plan.patient)
    ):
        errors["assigned_to"] = ["Assign a doctor or nurse of the patient's care team."]
    if not assigned_role and assigned_to is None and "assigned_role" not in errors:
        errors["assigned_role"] = ["Assign the activity to a role or a person."]
    try:
        due = _aware(due_at, "due_at", end_of_day=True)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        due = None
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        activity = CarePlanActivity(
            care_plan=care_plan,
            kind=kind,
            description=description,
            assigned_role=assigned_role,
            assigned_to=assigned_to,
            status="not-started",
            due_at=due,
        )
        activity.full_clean()
        activity.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=care_plan.patient,
            obj=activity,
            detail={"care_plan": care_plan.pk, "kind": kind, "assigned_role": assigned_role},
        )
        if assigned_to is not None and assigned_to.pk != by.pk:
            from hms.messaging.services import notification_send

            notification_send(
                recipient=assigned_to,
                event="careplan.activity_assigned",
                context={"activity": activity, "patient": care_plan.patient, "by": by},
                dedupe_key=f"careplan-activity:{activity.pk}:assigned:{assigned_to.pk}",
                channels=["in_app"],
                sender=by,
            )
    return activity


def activity_update(
    *, activity: CarePlanActivity, status: str = "", progress_note: str = "", by, request=None
) -> CarePlanActivity:
    """Update an activity's status and/or add a progress note (tick it off with status "completed").

    Doctors and nurses with the patient in their care (404 otherwise); an activity assigned to a person
    may be updated by that person or a doctor (403 for anyone else). `status`: one of `ACTIVITY_STATUSES`
    (400); a completed or cancelled activity, or one on a plan that is not active, is closed (409).
    `progress_note` (≤ 2000 characters) is appended, stamped with the time and the author, to
    the earlier notes, which stay. Completing sets `completed_at`/`completed_by`. Nothing to change: 400.
    Audit: one "update" event with the old and new status.
    """
    plan = activity.care_plan
    clinical_write_check(by, plan.patient, roles=CARE_TEAM)
    if activity.assigned_to_id and activity.assigned_to_id != by.pk and by.role != Role.DOCTOR:
        raise PermissionDenied("This activity is assigned to someone else: they or a doctor update it.")
    status = (status or "").strip()
    note = _text(progress_note, "progress_note", max_length=2000, required=False, one_line=False)
    if status and status not in ACTIVITY_STATUSES:
        raise ValidationError({"status": [f"Use one of {', '.join(ACTIVITY_STATUSES)}."]})
    if not status and not note:
        raise ValidationError({"status": ["Give a new status or a progress note."]})
    with transaction.atomic():
        current = CarePlanActivity.objects.select_for_update().get(pk=activity.pk)
        plan_now = CarePlan.objects.get(pk=plan.pk)
        if plan_now.deleted_at is not None or plan_now.status != "active":
            raise Conflict(f"The care plan is {plan_now.status}: its activities are closed.")
        if current.status in ACTIVITY_FINAL:
            raise Conflict(f"This activity is already {current.status}.", payload={"status": current.status})
        old = current.status
        if status == old and not note:
            raise ValidationError({"status": [f"The activity is already {old}."]})
        fields = ["updated_at"]
        if status and status != old:
            current.status = status
            fields.append("status")
            if status == "completed":
                current.completed_at = timezone.now()
                current.completed_by = by
                fields += ["completed_at", "completed_by"]
        if note:
            stamp = timezone.localtime(timezone.now(), zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE))
            who = by.get_full_name() or by.username
            line = f"[{stamp:%Y-%m-%d %H:%M} {who}] {note}"
            current.progress_note = f"{current.progress_note}\n{line}" if current.progress_note else line
            fields.append("progress_note")
        current.full_clean()
        current.save(update_fields=fields)
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=plan.patient,
            obj=current,
            detail={"care_plan": plan.pk, "status": [old, current.status], "note": bool(note)},
        )
    activity.refresh_from_db()
    return activity


def careplan_update_status(*, care_plan: CarePlan, status: str, by, request=None) -> CarePlan:
    """Move a plan to `status` (FHIR request-status: active, on-hold, completed, revoked), along
    `PLAN_TRANSITIONS`. Doctors in the patient's care only (404). Unknown status: 400; a move not allowed
    from the current status (e.g. anything from completed): 409. Completing or revoking sets `period_end`
    to now when it was empty. Audit: one "update" event with the old and new status."""
    clinical_write_check(by, care_plan.patient, roles=DOCTORS)
    if status not in ("active", "on-hold", "completed", "revoked"):
        raise ValidationError({"status": ["Use one of active, on-hold, completed, revoked."]})
    with transaction.atomic():
        plan = CarePlan.objects.select_for_update().get(pk=care_plan.pk)
        if plan.deleted_at is not None:
            raise NotFoundOrForbidden()
        old = plan.status
        if status not in PLAN_TRANSITIONS.get(old, frozenset()):
            raise Conflict(f"A {old} care plan cannot become {status}.", payload={"status": old})
        plan.status = status
        fields = ["status", "updated_at"]
        if status in ("completed", "revoked") and plan.period_end is None:
            plan.period_end = timezone.now()
            fields.append("period_end")
        plan.save(update_fields=fields)
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=plan.patient,
            obj=plan,
            detail={"status": [old, status]},
        )
    care_plan.status, care_plan.period_end = plan.status, plan.period_end
    return care_plan


def careplan_enter_in_error(*, care_plan: CarePlan, reason: str, by, request=None) -> CarePlan:
    """Mark a plan entered-in-error with `reason` (doctors in the patient's care only, 404 otherwise;
    blank reason or already marked: 400). It leaves every list and task list; its goals and activities
    stay in the database with it. See `hms.clinical.services.record_enter_in_error`."""
    clinical_write_check(by, care_plan.patient, roles=DOCTORS)
    return record_enter_in_error(record=care_plan, reason=reason, by=by, request=request)
