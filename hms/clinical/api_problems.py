"""REST API of diagnoses, the problem list and allergies (issue 4). Services: `hms.clinical.problems`,
`hms.clinical.allergies`.

Conditions (FHIR R4 Condition; ICD-10-CM codes, SNOMED CT as imported):
- `GET /api/conditions/?patient=&clinical_status=&encounter=`: scoped list (doctors and nurses: patients
  in their care; a patient: own), newest onset first, paginated; one "search" AuditEvent.
- `POST /api/conditions/` (doctors): `{patient, code, encounter?, diagnosis_role?, clinical_status?,
  onset?, abatement?, note?}` -> 201; 400 for an unknown or non-billable code, a second primary
  diagnosis in the encounter, an encounter of another patient, a future date; 404 for a patient not in
  the doctor's care.
- `GET/PATCH /api/conditions/{id}/`: PATCH (doctors) `clinical_status`, `abatement`, `note`,
  `diagnosis_role`; any other field (e.g. `code`) -> 400 "read-only".
- `POST /api/conditions/{id}/entered-in-error/` (doctors) `{reason}` -> 200; 400 without a reason.
- `GET /api/patients/{id}/problems/`: the problem list (active conditions), unpaginated (≤ 200).

Allergies (FHIR R4 AllergyIntolerance):
- `GET /api/allergies/?patient=&clinical_status=`: scoped list (clinicians in care, the patient, and
  pharmacists for every patient), paginated, with a "search" AuditEvent.
- `POST /api/allergies/` (doctors, nurses): `{patient, substance: {system?, code?, display}, category,
  type?, criticality?, clinical_status?, reactions?: [{manifestation, severity}], onset?, note?}` -> 201;
  409 when the same substance is already active.
- `GET/PATCH /api/allergies/{id}/`: PATCH `clinical_status`, `criticality`, `reactions`, `note`.
- `POST /api/allergies/{id}/entered-in-error/` `{reason}`.
- `POST /api/patients/{id}/allergies/no-known/` -> 201 (200 when already recorded); 409 while real
  allergies are active.
- `GET /api/patients/{id}/allergy-status/` -> `{"status": "unknown|none-known|present", "allergies": [...]}`.

Role checks answer 403 (a nurse writing a diagnosis, a pharmacist writing an allergy); a record or
patient outside the caller's scope answers 404, like a missing one. Reads write AuditEvents here; writes
are audited by the services.
"""

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.api_schema import NoBody
from hms.patients.selectors import patient_get_clinical

from . import allergies, problems
from .api import RecordSerializer
from .models import AllergyIntolerance, Condition, Encounter
from .selectors import encounter_of_patient
from .services import record_enter_in_error

MAX_ID = 2**63 - 1
CLINICIANS = (Role.DOCTOR, Role.NURSE)
PROBLEM_LIST_LIMIT = 200


# ---------------------------------------------------------------- output


class ConditionOutput(RecordSerializer):
    """A diagnosis or problem. `code`: ICD-10-CM (or SNOMED CT as imported); `diagnosis_role`: primary |
    secondary | "" (not recorded in an encounter)."""

    recorded_by = serializers.IntegerField(source="recorded_by_id", read_only=True, allow_null=True)

    class Meta:
        model = Condition
        fields = [
            *RecordSerializer.BASE_FIELDS,
            "clinical_status",
            "verification_status",
            "category",
            "diagnosis_role",
            "onset_at",
            "abatement_at",
            "recorded_at",
            "recorded_by",
            "note",
        ]
        read_only_fields = fields


class AllergyOutput(RecordSerializer):
    """An allergy or intolerance; `code` is the substance (RxNorm, SNOMED CT, or display only);
    `no_known_allergy` marks the SNOMED CT 716186003 "No known allergy" record."""

    type = serializers.CharField(source="allergy_type", read_only=True)
    recorded_by = serializers.IntegerField(source="recorded_by_id", read_only=True, allow_null=True)
    no_known_allergy = serializers.SerializerMethodField()

    class Meta:
        model = AllergyIntolerance
        fields = [
            *RecordSerializer.BASE_FIELDS,
            "no_known_allergy",
            "clinical_status",
            "verification_status",
            "type",
            "category",
            "criticality",
            "reactions",
            "onset_at",
            "recorded_at",
            "recorded_by",
            "note",
        ]
        read_only_fields = fields

    def get_no_known_allergy(self, obj) -> bool:
        return allergies.is_no_known_allergy(obj)


# ---------------------------------------------------------------- input


class OneOf(serializers.CharField):
    """A string from a fixed list, documented in the help text (not a schema enum, so two lists of one
    field name, e.g. the clinical statuses of conditions and of allergies, do not collide)."""

    def __init__(self, *, values, **kwargs):
        self.values = tuple(values)
        kwargs.setdefault("help_text", f"One of: {', '.join(self.values)}.")
        super().__init__(max_length=max(len(v) for v in self.values), **kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value and value not in self.values:
            raise serializers.ValidationError(f"One of: {', '.join(self.values)}.")
        return value


class ClosedInput(StrictSerializer):
    """Refuses fields it does not declare (400 "read-only or unknown field")."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            extra = sorted(set(data) - set(self.fields))
            if extra:
                raise serializers.ValidationError({name: ["Read-only or unknown field."] for name in extra})
        return super().to_internal_value(data)


class ConditionCreateInput(ClosedInput):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    code = serializers.CharField(max_length=10, help_text="ICD-10-CM code, billable, e.g. E11.9 or E119.")
    encounter = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    diagnosis_role = serializers.ChoiceField(
        choices=problems.ROLES, required=False, allow_blank=True, help_text="Only in an encounter."
    )
    clinical_status = serializers.ChoiceField(choices=problems.CLINICAL_STATUSES, default="active")
    onset = serializers.DateField(required=False, allow_null=True, help_text="YYYY-MM-DD, not future.")
    abatement = serializers.DateField(required=False, allow_null=True, help_text="Abated statuses only.")
    note = serializers.CharField(max_length=problems.MAX_NOTE, required=False, allow_blank=True, default="")


class ConditionUpdateInput(ClosedInput):
    clinical_status = serializers.ChoiceField(choices=problems.CLINICAL_STATUSES, required=False)
    abatement = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(max_length=problems.MAX_NOTE, required=False, allow_blank=True)
    diagnosis_role = serializers.ChoiceField(choices=problems.ROLES, required=False)


class EnteredInErrorReasonInput(ClosedInput):
    reason = serializers.CharField(max_length=500, help_text="Why the record was entered in error.")


class ReactionInput(ClosedInput):
    manifestation = serializers.CharField(max_length=200)
    severity = serializers.ChoiceField(choices=allergies.SEVERITIES, required=False, allow_blank=True)


class SubstanceInput(ClosedInput):
    system = serializers.ChoiceField(
        choices=list(allergies.SUBSTANCE_SYSTEMS),
        required=False,
        allow_blank=True,
        default="",
        help_text="RxNorm or SNOMED CT URI; empty for free text.",
    )
    code = serializers.CharField(max_length=18, required=False, allow_blank=True, default="")
    display = serializers.CharField(max_length=200)


class AllergyCreateInput(ClosedInput):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    substance = SubstanceInput()
    category = serializers.ChoiceField(choices=allergies.CATEGORIES)
    type = serializers.ChoiceField(choices=allergies.TYPES, default="allergy")
    criticality = serializers.ChoiceField(
        choices=allergies.CRITICALITIES, required=False, allow_blank=True, default=""
    )
    clinical_status = OneOf(values=allergies.CLINICAL_STATUSES, default="active")
    reactions = ReactionInput(many=True, required=False, max_length=allergies.MAX_REACTIONS)
    onset = serializers.DateField(required=False, allow_null=True)
    note = serializers.CharField(max_length=problems.MAX_NOTE, required=False, allow_blank=True, default="")
    encounter = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)


class AllergyUpdateInput(ClosedInput):
    clinical_status = OneOf(values=allergies.CLINICAL_STATUSES, required=False)
    criticality = serializers.ChoiceField(choices=allergies.CRITICALITIES, required=False, allow_blank=True)
    reactions = ReactionInput(many=True, required=False, max_length=allergies.MAX_REACTIONS)
    note = serializers.CharField(max_length=problems.MAX_NOTE, required=False, allow_blank=True)


class ConditionListQuery(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    encounter = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    clinical_status = serializers.ChoiceField(choices=problems.CLINICAL_STATUSES, required=False)


class AllergyListQuery(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    clinical_status = OneOf(values=allergies.CLINICAL_STATUSES, required=False)


def _query(serializer_class, request) -> dict:
    known = set(serializer_class().fields)
    query = serializer_class(data={k: v for k, v in request.query_params.items() if k in known})
    query.is_valid(raise_exception=True)
    return query.validated_data


def _encounter_of(user, patient, encounter_id) -> Encounter | None:
    """The encounter `encounter_id` of `patient` that `user` may read; 400 on the field otherwise."""
    return encounter_of_patient(user=user, patient=patient, encounter_id=encounter_id)


ERRORS = {400: None, 403: None, 404: None}

# ---------------------------------------------------------------- conditions


class ConditionListCreateApi(GenericAPIView):
    """GET the conditions the caller may read (filters); POST a diagnosis (doctors)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (*CLINICIANS, Role.PATIENT), "POST": (Role.DOCTOR,)}
    serializer_class = ConditionOutput
    pagination_class = CappedCountPagination
    queryset = Condition.objects.none()  # schema hint only: reads go through `problems.conditions_visible`

    @extend_schema(
        operation_id="conditions_list",
        parameters=[
            OpenApiParameter("patient", int, description="Patient id."),
            OpenApiParameter("encounter", int, description="Encounter id."),
            OpenApiParameter("clinical_status", str, enum=list(problems.CLINICAL_STATUSES)),
        ],
        responses=ConditionOutput(many=True),
    )
    def get(self, request):
        params = _query(ConditionListQuery, request)
        qs = problems.conditions_visible(request.user)
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        if "encounter" in params:
            qs = qs.filter(encounter_id=params["encounter"])
        if "clinical_status" in params:
            qs = qs.filter(clinical_status=params["clinical_status"])
        page = paginate_audited(self, request, qs, object_type="clinical.Condition")
        return self.get_paginated_response(ConditionOutput(page, many=True).data)

    @extend_schema(
        operation_id="conditions_create",
        request=ConditionCreateInput,
        responses={201: ConditionOutput, **ERRORS},
    )
    def post(self, request):
        data = ConditionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = patient_get_clinical(request.user, v["patient"])
        condition = problems.condition_record(
            patient=patient,
            encounter=_encounter_of(request.user, patient, v.get("encounter")),
            code=v["code"],
            clinical_status=v["clinical_status"],
            onset=v.get("onset"),
            abatement=v.get("abatement"),
            diagnosis_role=v.get("diagnosis_role", ""),
            note=v["note"],
            by=request.user,
            request=request,
        )
        return Response(ConditionOutput(condition).data, status=status.HTTP_201_CREATED)


class ConditionDetailApi(GenericAPIView):
    """GET one condition; PATCH its status, abatement, note or diagnosis role (doctors)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (*CLINICIANS, Role.PATIENT), "PATCH": (Role.DOCTOR,)}
    serializer_class = ConditionOutput
    queryset = Condition.objects.none()  # schema hint only

    @extend_schema(operation_id="conditions_retrieve", responses={200: ConditionOutput, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            condition = problems.condition_get(user=request.user, condition_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=condition.patient, obj=condition)
        return Response(ConditionOutput(condition).data)

    @extend_schema(
        operation_id="conditions_partial_update",
        request=ConditionUpdateInput,
        responses={200: ConditionOutput, **ERRORS},
    )
    def patch(self, request, pk: int):
        condition = problems.condition_get(user=request.user, condition_id=pk)
        data = ConditionUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        condition = problems.condition_update(
            condition=condition, by=request.user, request=request, **data.validated_data
        )
        return Response(ConditionOutput(condition).data)


class ConditionEnteredInErrorApi(GenericAPIView):
    """POST {reason}: mark a condition entered-in-error (doctors). It leaves every list; never deleted."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = ConditionOutput
    queryset = Condition.objects.none()

    @extend_schema(
        operation_id="conditions_entered_in_error",
        request=EnteredInErrorReasonInput,
        responses={200: ConditionOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        condition = problems.condition_get(user=request.user, condition_id=pk)
        data = EnteredInErrorReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        record_enter_in_error(
            record=condition, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return Response(ConditionOutput(condition).data)


class PatientProblemListApi(GenericAPIView):
    """GET /api/patients/{id}/problems/: the patient's active conditions (≤ 200), newest onset first."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (*CLINICIANS, Role.PATIENT)}
    serializer_class = ConditionOutput
    pagination_class = None
    queryset = Condition.objects.none()

    @extend_schema(
        operation_id="patients_problem_list", responses={200: ConditionOutput(many=True), 404: None}
    )
    def get(self, request, pk: int):
        with transaction.atomic():
            patient = patient_get_clinical(request.user, pk)
            rows = list(problems.problem_list(user=request.user, patient=patient)[:PROBLEM_LIST_LIMIT])
            audit_record(
                action=AuditAction.READ,
                request=request,
                patient=patient,
                patients=[patient],
                object_type="clinical.Condition",
                detail={"view": "problem_list", "ids": [c.pk for c in rows]},
            )
        return Response(ConditionOutput(rows, many=True).data)


# ---------------------------------------------------------------- allergies


class AllergyListCreateApi(GenericAPIView):
    """GET allergies the caller may read; POST an allergy (doctors, nurses)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (*CLINICIANS, Role.PATIENT, Role.PHARMACIST), "POST": CLINICIANS}
    serializer_class = AllergyOutput
    pagination_class = CappedCountPagination
    queryset = AllergyIntolerance.objects.none()

    @extend_schema(
        operation_id="allergies_list",
        parameters=[
            OpenApiParameter("patient", int, description="Patient id."),
            OpenApiParameter("clinical_status", str, enum=list(allergies.CLINICAL_STATUSES)),
        ],
        responses=AllergyOutput(many=True),
    )
    def get(self, request):
        params = _query(AllergyListQuery, request)
        qs = allergies.allergies_visible(request.user)
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        if "clinical_status" in params:
            qs = qs.filter(clinical_status=params["clinical_status"])
        page = paginate_audited(self, request, qs, object_type="clinical.AllergyIntolerance")
        return self.get_paginated_response(AllergyOutput(page, many=True).data)

    @extend_schema(
        operation_id="allergies_create",
        request=AllergyCreateInput,
        responses={201: AllergyOutput, **ERRORS, 409: None},
    )
    def post(self, request):
        data = AllergyCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = patient_get_clinical(request.user, v["patient"])
        allergy = allergies.allergy_record(
            patient=patient,
            substance_system=v["substance"]["system"],
            substance_code=v["substance"]["code"],
            substance_display=v["substance"]["display"],
            category=v["category"],
            allergy_type=v["type"],
            criticality=v["criticality"],
            clinical_status=v["clinical_status"],
            reactions=[dict(r) for r in v.get("reactions", [])],
            onset=v.get("onset"),
            note=v["note"],
            encounter=_encounter_of(request.user, patient, v.get("encounter")),
            by=request.user,
            request=request,
        )
        return Response(AllergyOutput(allergy).data, status=status.HTTP_201_CREATED)


class AllergyDetailApi(GenericAPIView):
    """GET one allergy; PATCH status, criticality, reactions or note (doctors, nurses)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (*CLINICIANS, Role.PATIENT, Role.PHARMACIST), "PATCH": CLINICIANS}
    serializer_class = AllergyOutput
    queryset = AllergyIntolerance.objects.none()

    @extend_schema(operation_id="allergies_retrieve", responses={200: AllergyOutput, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            allergy = allergies.allergy_get(user=request.user, allergy_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=allergy.patient, obj=allergy)
        return Response(AllergyOutput(allergy).data)

    @extend_schema(
        operation_id="allergies_partial_update",
        request=AllergyUpdateInput,
        responses={200: AllergyOutput, **ERRORS, 409: None},
    )
    def patch(self, request, pk: int):
        allergy = allergies.allergy_get(user=request.user, allergy_id=pk)
        data = AllergyUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        if "reactions" in v:
            v["reactions"] = [dict(r) for r in v["reactions"]]
        allergy = allergies.allergy_update(allergy=allergy, by=request.user, request=request, **v)
        return Response(AllergyOutput(allergy).data)


class AllergyEnteredInErrorApi(GenericAPIView):
    """POST {reason}: mark an allergy entered-in-error (doctors, nurses)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": CLINICIANS}
    serializer_class = AllergyOutput
    queryset = AllergyIntolerance.objects.none()

    @extend_schema(
        operation_id="allergies_entered_in_error",
        request=EnteredInErrorReasonInput,
        responses={200: AllergyOutput, **ERRORS},
    )
    def post(self, request, pk: int):
        allergy = allergies.allergy_get(user=request.user, allergy_id=pk)
        data = EnteredInErrorReasonInput(data=request.data)
        data.is_valid(raise_exception=True)
        record_enter_in_error(
            record=allergy, reason=data.validated_data["reason"], by=request.user, request=request
        )
        return Response(AllergyOutput(allergy).data)


class NoKnownAllergiesApi(GenericAPIView):
    """POST /api/patients/{id}/allergies/no-known/: record "no known allergies" (doctors, nurses)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": CLINICIANS}
    serializer_class = AllergyOutput
    queryset = AllergyIntolerance.objects.none()

    @extend_schema(
        operation_id="patients_allergies_no_known",
        request=NoBody,
        responses={201: AllergyOutput, 200: AllergyOutput, 403: None, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        patient = patient_get_clinical(request.user, pk)
        row, created = allergies.allergy_record_none_known(patient=patient, by=request.user, request=request)
        return Response(
            AllergyOutput(row).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class AllergyStatusApi(GenericAPIView):
    """GET /api/patients/{id}/allergy-status/: "unknown" (not yet asked), "none-known" or "present", with
    the active allergies (what the chart banner shows)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (*CLINICIANS, Role.PATIENT, Role.PHARMACIST)}
    serializer_class = AllergyOutput
    pagination_class = None
    queryset = AllergyIntolerance.objects.none()

    @extend_schema(
        operation_id="patients_allergy_status",
        responses={
            200: inline_serializer(
                "AllergyStatus",
                {
                    "status": serializers.ChoiceField(choices=["unknown", "none-known", "present"]),
                    "allergies": AllergyOutput(many=True),
                },
            ),
            404: None,
        },
    )
    def get(self, request, pk: int):
        with transaction.atomic():
            patient = allergies.allergy_patient_get(request.user, pk)
            rows = list(
                allergies.allergies_visible(request.user, patient=patient).filter(clinical_status="active")[
                    :100
                ]
            )
            rows = [a for a in rows if not allergies.is_no_known_allergy(a)]
            state = allergies.allergy_status(patient)
            audit_record(
                action=AuditAction.READ,
                request=request,
                patient=patient,
                patients=[patient],
                object_type="clinical.AllergyIntolerance",
                detail={"view": "allergy_status", "status": state, "ids": [a.pk for a in rows]},
            )
        return Response({"status": state, "allergies": AllergyOutput(rows, many=True).data})
