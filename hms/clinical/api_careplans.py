"""REST API of care plans, goals, activities and the care team's task list (issue 4).

| path | methods | who |
|---|---|---|
| `/api/care-plans/` | GET (`?patient=`, `?status=`), POST | GET: doctor, nurse, patient; POST: doctor |
| `/api/care-plans/{id}/` | GET (goals, progress, activities), PATCH status | GET: as above; PATCH: doctor |
| `/api/care-plans/{id}/goals/` | POST | doctor |
| `/api/care-plans/{id}/activities/` | POST | doctor |
| `/api/care-plans/{id}/entered-in-error/` | POST `{"reason"}` | doctor |
| `/api/care-plan-activities/{id}/` | GET, PATCH `{"status", "progress_note"}` | doctor, nurse |
| `/api/care-tasks/` | GET: the caller's open activities, due first | doctor, nurse |

Other roles get 403 from the role check; a plan or activity outside the caller's scope (not in their care,
another patient's) is 404. Errors: 400 with field errors for bad input, 409 for a closed plan or activity
(see `hms.clinical.careplans`). Every response that shows PHI writes one AuditEvent; writes are audited by
the services. Plans map to FHIR R4 CarePlan, goals to Goal (progress: Goal.achievementStatus).
"""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.models import User
from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.errors import NotFoundOrForbidden
from hms.patients.selectors import patient_get_clinical

from . import careplans
from .models import CarePlan, CarePlanActivity, Goal
from .selectors import encounter_get

READ_ROLES = (Role.DOCTOR, Role.NURSE, Role.PATIENT)
TEAM_ROLES = (Role.DOCTOR, Role.NURSE)
DOCTOR_ONLY = (Role.DOCTOR,)

# ---------------------------------------------------------------- output serializers


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()
    role = serializers.CharField()

    class Meta:
        ref_name = "CarePlanUserRef"

    def get_name(self, obj) -> str:
        return obj.get_full_name() or obj.username


class CodingOut(serializers.Serializer):
    system = serializers.CharField()
    code = serializers.CharField()

    class Meta:
        ref_name = "GoalAchievementCoding"


class GoalProgressSerializer(serializers.Serializer):
    """Computed from the latest observation (see `hms.clinical.careplans.goal_progress`)."""

    status = serializers.ChoiceField(choices=["met", "not-met", "no-data"])
    label = serializers.CharField()
    achievement_status = CodingOut(
        allow_null=True, help_text="FHIR goal-achievement code (achieved / not-achieved); null with no data."
    )
    value = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    unit = serializers.CharField(help_text="UCUM.")
    observed_at = serializers.DateTimeField(allow_null=True)
    observation = serializers.IntegerField(allow_null=True, help_text="Observation id.")
    reason = serializers.CharField(help_text="Why there is no data, if so.")


class GoalSerializer(serializers.ModelSerializer):
    """A FHIR R4 Goal with its target (LOINC measure, comparator, value in UCUM unit) and progress."""

    care_plan = serializers.IntegerField(source="care_plan_id", read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Goal
        fields = [
            "id",
            "care_plan",
            "description",
            "lifecycle_status",
            "target_code_system",
            "target_code",
            "target_code_display",
            "target_comparator",
            "target_value",
            "target_unit",
            "due_date",
            "progress",
        ]
        read_only_fields = fields

    @extend_schema_field(GoalProgressSerializer)
    def get_progress(self, obj) -> dict:
        return GoalProgressSerializer(careplans.goal_progress(obj).as_dict()).data


class CarePlanActivitySerializer(serializers.ModelSerializer):
    """A FHIR R4 CarePlan.activity.detail: kind, who does it, when, its status and progress notes."""

    care_plan = serializers.IntegerField(source="care_plan_id", read_only=True)
    assigned_to = UserRefSerializer(read_only=True, allow_null=True)
    completed_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = CarePlanActivity
        fields = [
            "id",
            "care_plan",
            "kind",
            "description",
            "assigned_role",
            "assigned_to",
            "status",
            "due_at",
            "completed_at",
            "completed_by",
            "progress_note",
        ]
        read_only_fields = fields


class CarePlanOutSerializer(serializers.ModelSerializer):
    """A FHIR R4 CarePlan. `addresses`: displays of the conditions treated; `imported_activities`: the
    activities of a plan imported from a FHIR bundle ({code, system, display, status})."""

    patient = serializers.IntegerField(source="patient_id", read_only=True)
    encounter = serializers.IntegerField(source="encounter_id", read_only=True, allow_null=True)
    imported_activities = serializers.JSONField(source="activities", read_only=True)

    class Meta:
        model = CarePlan
        fields = [
            "id",
            "patient",
            "encounter",
            "status",
            "intent",
            "title",
            "period_start",
            "period_end",
            "addresses",
            "imported_activities",
        ]
        read_only_fields = fields


class CarePlanDetailSerializer(CarePlanOutSerializer):
    goals = GoalSerializer(many=True, read_only=True)
    activities = CarePlanActivitySerializer(source="planned_activities", many=True, read_only=True)

    class Meta(CarePlanOutSerializer.Meta):
        fields = [*CarePlanOutSerializer.Meta.fields, "goals", "activities"]
        read_only_fields = fields


class CareTaskSerializer(CarePlanActivitySerializer):
    """An open activity in the caller's task list, with its patient and plan."""

    class PatientRef(serializers.Serializer):
        id = serializers.IntegerField()
        mrn = serializers.CharField()
        name = serializers.CharField(source="full_name")

        class Meta:
            ref_name = "CareTaskPatient"

    patient = PatientRef(source="care_plan.patient", read_only=True)
    care_plan_title = serializers.CharField(source="care_plan.title", read_only=True)

    class Meta(CarePlanActivitySerializer.Meta):
        fields = [*CarePlanActivitySerializer.Meta.fields, "patient", "care_plan_title"]
        read_only_fields = fields


# ---------------------------------------------------------------- input serializers


class CarePlanListQuery(StrictSerializer):
    patient = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    status = serializers.ChoiceField(choices=careplans.PLAN_STATUSES, required=False)


class CarePlanCreateInput(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    encounter = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    title = serializers.CharField(max_length=200)
    period_start = serializers.DateField(required=False, allow_null=True, help_text="Default: today.")
    period_end = serializers.DateField(required=False, allow_null=True)
    addresses = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=50,
        help_text="Ids of the patient's conditions the plan treats.",
    )


class CarePlanStatusInput(StrictSerializer):
    status = serializers.ChoiceField(choices=["active", "on-hold", "completed", "revoked"])


class GoalCreateInput(StrictSerializer):
    description = serializers.CharField(max_length=300)
    target_code = serializers.CharField(
        required=False, allow_blank=True, max_length=20, help_text="LOINC, e.g. 4548-4 (HbA1c)."
    )
    comparator = serializers.CharField(
        required=False, allow_blank=True, max_length=2, help_text="< <= > >= ="
    )
    target_value = serializers.DecimalField(max_digits=14, decimal_places=4, required=False, allow_null=True)
    unit = serializers.CharField(required=False, allow_blank=True, max_length=40, help_text="UCUM, e.g. %.")
    due_date = serializers.DateField(required=False, allow_null=True)


class CarePlanActivityCreateInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=careplans.ACTIVITY_KINDS)
    description = serializers.CharField(max_length=300)
    assigned_role = serializers.ChoiceField(
        choices=[str(r) for r in careplans.ASSIGNABLE_ROLES], required=False, allow_blank=True
    )
    assigned_to = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=2**63 - 1, help_text="User id."
    )
    due_at = serializers.DateTimeField(required=False, allow_null=True)


class CarePlanActivityUpdateInput(StrictSerializer):
    status = serializers.ChoiceField(choices=careplans.ACTIVITY_STATUSES, required=False, allow_blank=True)
    progress_note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class CarePlanEnteredInErrorInput(StrictSerializer):
    reason = serializers.CharField(max_length=500)


# ---------------------------------------------------------------- views


def _read_audited(request, plan: CarePlan) -> None:
    audit_record(action=AuditAction.READ, request=request, patient=plan.patient, obj=plan)


def _detail(request, pk) -> Response:
    with transaction.atomic():
        plan = careplans.careplan_get(user=request.user, care_plan_id=pk)
        _read_audited(request, plan)
        data = CarePlanDetailSerializer(plan).data
    return Response(data)


class CarePlanListCreateApi(GenericAPIView):
    """GET: care plans the caller may read, newest first (`?patient=`, `?status=`). POST: a new active plan
    (doctor caring for the patient; 404 for a patient outside their care)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READ_ROLES, "POST": DOCTOR_ONLY}
    serializer_class = CarePlanOutSerializer
    pagination_class = CappedCountPagination
    queryset = CarePlan.objects.none()  # schema hint only: reads go through `clinical.careplans`

    @extend_schema(
        operation_id="care_plans_list",
        parameters=[
            OpenApiParameter("patient", int, description="Patient id."),
            OpenApiParameter("status", str, enum=list(careplans.PLAN_STATUSES)),
        ],
        responses=CarePlanOutSerializer(many=True),
    )
    def get(self, request):
        query = CarePlanListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = careplans.careplans_visible(request.user)
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        if "status" in params:
            qs = qs.filter(status=params["status"])
        page = paginate_audited(
            self, request, qs.order_by("-period_start", "-id"), object_type="clinical.CarePlan"
        )
        return self.get_paginated_response(CarePlanOutSerializer(page, many=True).data)

    @extend_schema(
        operation_id="care_plans_create",
        request=CarePlanCreateInput,
        responses={201: CarePlanDetailSerializer, 400: None, 403: None, 404: None},
    )
    def post(self, request):
        data = CarePlanCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = patient_get_clinical(request.user, v["patient"])
        encounter = None
        if v.get("encounter"):
            try:
                encounter = encounter_get(user=request.user, encounter_id=v["encounter"])
            except NotFoundOrForbidden:
                raise ValidationError({"encounter": "Unknown encounter."}) from None
        plan = careplans.careplan_create(
            patient=patient,
            encounter=encounter,
            title=v["title"],
            period_start=v.get("period_start"),
            period_end=v.get("period_end"),
            addresses=v.get("addresses", []),
            by=request.user,
            request=request,
        )
        plan = careplans.careplan_get(user=request.user, care_plan_id=plan.pk)
        return Response(CarePlanDetailSerializer(plan).data, status=status.HTTP_201_CREATED)


class CarePlanDetailApi(GenericAPIView):
    """GET: one plan with its goals (and their progress) and activities. PATCH `{"status"}`: active,
    on-hold, completed, revoked (409 for a move the plan's status does not allow)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": READ_ROLES, "PATCH": DOCTOR_ONLY}
    serializer_class = CarePlanDetailSerializer
    queryset = CarePlan.objects.none()  # schema hint only

    @extend_schema(operation_id="care_plans_retrieve", responses={200: CarePlanDetailSerializer, 404: None})
    def get(self, request, pk: int):
        return _detail(request, pk)

    @extend_schema(
        operation_id="care_plans_update_status",
        request=CarePlanStatusInput,
        responses={200: CarePlanDetailSerializer, 400: None, 404: None, 409: None},
    )
    def patch(self, request, pk: int):
        plan = careplans.careplan_get(user=request.user, care_plan_id=pk)
        data = CarePlanStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        careplans.careplan_update_status(
            care_plan=plan, status=data.validated_data["status"], by=request.user, request=request
        )
        plan = careplans.careplan_get(user=request.user, care_plan_id=pk)
        return Response(CarePlanDetailSerializer(plan).data)


class CarePlanGoalCreateApi(GenericAPIView):
    """POST: add a goal, e.g. `{"description": "HbA1c below 7 %", "target_code": "4548-4",
    "comparator": "<", "target_value": "7", "unit": "%", "due_date": "2026-12-31"}`."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": DOCTOR_ONLY}
    serializer_class = GoalSerializer
    queryset = Goal.objects.none()  # schema hint only

    @extend_schema(
        operation_id="care_plans_goals_create",
        request=GoalCreateInput,
        responses={201: GoalSerializer, 400: None, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        plan = careplans.careplan_get(user=request.user, care_plan_id=pk)
        data = GoalCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        goal = careplans.goal_add(
            care_plan=plan,
            description=v["description"],
            target_code=v.get("target_code", ""),
            comparator=v.get("comparator", ""),
            target_value=v.get("target_value"),
            unit=v.get("unit", ""),
            due_date=v.get("due_date"),
            by=request.user,
            request=request,
        )
        return Response(GoalSerializer(goal).data, status=status.HTTP_201_CREATED)


class CarePlanActivityCreateApi(GenericAPIView):
    """POST: add an activity assigned to a role (`nurse`, `doctor`) and/or a person of the care team."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": DOCTOR_ONLY}
    serializer_class = CarePlanActivitySerializer
    queryset = CarePlanActivity.objects.none()  # schema hint only

    @extend_schema(
        operation_id="care_plans_activities_create",
        request=CarePlanActivityCreateInput,
        responses={201: CarePlanActivitySerializer, 400: None, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        plan = careplans.careplan_get(user=request.user, care_plan_id=pk)
        data = CarePlanActivityCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        assignee = None
        if v.get("assigned_to"):
            assignee = User.objects.filter(pk=v["assigned_to"], is_active=True).first()
            if assignee is None:
                raise ValidationError({"assigned_to": "Assign a doctor or nurse of the patient's care team."})
        activity = careplans.activity_add(
            care_plan=plan,
            kind=v["kind"],
            description=v["description"],
            assigned_role=v.get("assigned_role", ""),
            assigned_to=assignee,
            due_at=v.get("due_at"),
            by=request.user,
            request=request,
        )
        return Response(CarePlanActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


class CarePlanEnteredInErrorApi(GenericAPIView):
    """POST `{"reason"}`: mark the plan entered-in-error; it leaves every list (never deleted)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": DOCTOR_ONLY}
    serializer_class = CarePlanEnteredInErrorInput
    queryset = CarePlan.objects.none()  # schema hint only

    @extend_schema(
        operation_id="care_plans_entered_in_error",
        request=CarePlanEnteredInErrorInput,
        responses={204: None, 400: None, 404: None},
    )
    def post(self, request, pk: int):
        plan = careplans.careplan_get(user=request.user, care_plan_id=pk)
        data = CarePlanEnteredInErrorInput(data=request.data)
        data.is_valid(raise_exception=True)
        careplans.careplan_enter_in_error(
            care_plan=plan, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class CarePlanActivityDetailApi(GenericAPIView):
    """GET one activity; PATCH `{"status", "progress_note"}`: tick it off (`completed`) or note progress.
    403 when it is assigned to another person (only they or a doctor update it); 409 when closed."""

    permission_classes = (HasRole,)
    allowed_roles = {"*": TEAM_ROLES}
    serializer_class = CarePlanActivitySerializer
    queryset = CarePlanActivity.objects.none()  # schema hint only

    @extend_schema(
        operation_id="care_plan_activities_retrieve", responses={200: CarePlanActivitySerializer, 404: None}
    )
    def get(self, request, pk: int):
        with transaction.atomic():
            activity = careplans.activity_get(user=request.user, activity_id=pk)
            audit_record(
                action=AuditAction.READ, request=request, patient=activity.care_plan.patient, obj=activity
            )
        return Response(CarePlanActivitySerializer(activity).data)

    @extend_schema(
        operation_id="care_plan_activities_update",
        request=CarePlanActivityUpdateInput,
        responses={200: CarePlanActivitySerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def patch(self, request, pk: int):
        activity = careplans.activity_get(user=request.user, activity_id=pk)
        data = CarePlanActivityUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        activity = careplans.activity_update(
            activity=activity,
            status=data.validated_data.get("status", ""),
            progress_note=data.validated_data.get("progress_note", ""),
            by=request.user,
            request=request,
        )
        return Response(CarePlanActivitySerializer(activity).data)


class CareTaskListApi(GenericAPIView):
    """GET: the caller's open activities (assigned to them, or to their role with no person named) on
    active plans of patients in their care, due first. Doctors and nurses."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": TEAM_ROLES}
    serializer_class = CareTaskSerializer
    pagination_class = CappedCountPagination
    queryset = CarePlanActivity.objects.none()  # schema hint only

    @extend_schema(operation_id="care_tasks_list", responses=CareTaskSerializer(many=True))
    def get(self, request):
        page = paginate_audited(
            self,
            request,
            careplans.care_tasks(user=request.user),
            object_type="clinical.CarePlanActivity",
            patient_id_of=lambda a: a.care_plan.patient_id,
        )
        return self.get_paginated_response(CareTaskSerializer(page, many=True).data)
