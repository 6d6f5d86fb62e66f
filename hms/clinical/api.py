"""REST read side of the clinical record.

- `GET /api/patients/{id}/records/`: the history, encounters newest first (paginated), each with what
  was recorded in it.
- `GET /api/patients/{id}/<type>/` for encounters, observations, conditions, allergies, medications,
  immunizations, procedures, diagnostic-reports, care-plans, with filters (`code`, `date_from`,
  `date_to`, and per type e.g. `category`, `clinical_status`, `status`).
- `GET /api/records/{id}/`: one encounter with its contents.

Readable by the patient themself and by doctors and nurses caring for them; anyone else gets 404
(see `hms.patients.selectors`). Every response writes one AuditEvent ("read", with the patient).
"""

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.audit.services import audit_record
from hms.lab.models import DiagnosticReport
from hms.patients.selectors import patient_get_clinical
from hms.pharmacy.models import MedicationRequest
from hms.staff.models import Practitioner

from . import api_filters, selectors
from .models import (
    AllergyIntolerance,
    CarePlan,
    ClinicalNote,
    Condition,
    Encounter,
    Immunization,
    NoteAddendum,
    Observation,
    Procedure,
)

# ---------------------------------------------------------------- serializers


class CodingSerializer(serializers.Serializer):
    """A FHIR Coding read from the flat `code_system`/`code`/`code_display` columns."""

    system = serializers.CharField(source="code_system")
    code = serializers.CharField()
    display = serializers.CharField(source="code_display")


class ReasonSerializer(serializers.Serializer):
    system = serializers.CharField(source="reason_system")
    code = serializers.CharField(source="reason_code")
    display = serializers.CharField(source="reason_display")


class PractitionerRefSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="display_name")
    role = serializers.CharField(help_text="doctor, nurse, pharmacist, lab_technician, other.")

    class Meta:
        model = Practitioner
        fields = ["id", "name", "role"]
        read_only_fields = fields


class RecordSerializer(serializers.ModelSerializer):
    """Fields every record has: id, patient and encounter ids, code, source identifiers."""

    code = CodingSerializer(source="*", read_only=True)
    patient = serializers.IntegerField(source="patient_id", read_only=True)
    encounter = serializers.IntegerField(source="encounter_id", read_only=True, allow_null=True)

    BASE_FIELDS = ["id", "patient", "encounter", "code"]


class ConditionSerializer(RecordSerializer):
    class Meta:
        model = Condition
        fields = [
            *RecordSerializer.BASE_FIELDS,
            "clinical_status",
            "verification_status",
            "category",
            "onset_at",
            "abatement_at",
            "recorded_at",
        ]
        read_only_fields = fields


class AllergyIntoleranceSerializer(RecordSerializer):
    class Meta:
        model = AllergyIntolerance
        fields = [
            *RecordSerializer.BASE_FIELDS,
            "clinical_status",
            "verification_status",
            "allergy_type",
            "category",
            "criticality",
            "onset_at",
            "recorded_at",
            "reactions",
        ]
        read_only_fields = fields


class ObservationSerializer(RecordSerializer):
    class ValueCodeSerializer(serializers.Serializer):
        system = serializers.CharField(source="value_code_system")
        code = serializers.CharField(source="value_code")
        display = serializers.CharField(source="value_code_display")

    value_quantity = serializers.DecimalField(
        max_digits=20, decimal_places=6, read_only=True, allow_null=True, help_text="In `value_unit` (UCUM)."
    )
    value_code = ValueCodeSerializer(source="*", read_only=True)
    display_value = serializers.CharField(read_only=True)

    class Meta:
        model = Observation
        fields = [
            *RecordSerializer.BASE_FIELDS,
            "status",
            "category",
            "effective_at",
            "issued_at",
            "value_quantity",
            "value_unit",
            "value_code",
            "value_string",
            "components",
            "display_value",
        ]
        read_only_fields = fields


class MedicationRequestSerializer(RecordSerializer):
    requester = PractitionerRefSerializer(read_only=True, allow_null=True)
    reason = ReasonSerializer(source="*", read_only=True)

    class Meta:
        model = MedicationRequest
        fields = [
            *RecordSerializer.BASE_FIELDS,
            "status",
            "intent",
            "authored_on",
            "requester",
            "dosage_text",
            "dose_value",
            "dose_unit",
            "frequency_per_day",
            "as_needed",
            "reason",
        ]
        read_only_fields = fields


class ImmunizationSerializer(RecordSerializer):
    class Meta:
        model = Immunization
        fields = [*RecordSerializer.BASE_FIELDS, "status", "occurrence_at", "primary_source"]
        read_only_fields = fields


class ProcedureSerializer(RecordSerializer):
    reason = ReasonSerializer(source="*", read_only=True)

    class Meta:
        model = Procedure
        fields = [*RecordSerializer.BASE_FIELDS, "status", "performed_start", "performed_end", "reason"]
        read_only_fields = fields


class DiagnosticReportSerializer(RecordSerializer):
    results = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="Observation ids.")

    class Meta:
        model = DiagnosticReport
        fields = [
            *RecordSerializer.BASE_FIELDS,
            "status",
            "category",
            "effective_at",
            "issued_at",
            "results",
            "conclusion",
        ]
        read_only_fields = fields


class CarePlanSerializer(RecordSerializer):
    class Meta:
        model = CarePlan
        fields = [
            *RecordSerializer.BASE_FIELDS,
            "status",
            "intent",
            "title",
            "period_start",
            "period_end",
            "activities",
            "addresses",
        ]
        read_only_fields = fields


class EncounterSerializer(serializers.ModelSerializer):
    class OrganizationRefSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()

        class Meta:
            ref_name = "EncounterOrganization"

    patient = serializers.IntegerField(source="patient_id", read_only=True)
    type = CodingSerializer(source="*", read_only=True)
    encounter_class_display = serializers.CharField(source="get_encounter_class_display", read_only=True)
    practitioner = PractitionerRefSerializer(read_only=True, allow_null=True)
    organization = OrganizationRefSerializer(read_only=True, allow_null=True)
    reason = ReasonSerializer(source="*", read_only=True)

    class Meta:
        model = Encounter
        fields = [
            "id",
            "patient",
            "status",
            "encounter_class",
            "encounter_class_display",
            "type",
            "period_start",
            "period_end",
            "practitioner",
            "organization",
            "reason",
            "discharge_disposition",
        ]
        read_only_fields = fields


class EncounterWithContentsSerializer(EncounterSerializer):
    """An encounter and everything recorded in it (read from the prefetches of `clinical.selectors`)."""

    participants = PractitionerRefSerializer(many=True, read_only=True)
    conditions = ConditionSerializer(many=True, read_only=True)
    allergies = AllergyIntoleranceSerializer(source="allergyintolerances", many=True, read_only=True)
    observations = ObservationSerializer(many=True, read_only=True)
    medication_requests = MedicationRequestSerializer(source="medicationrequests", many=True, read_only=True)
    immunizations = ImmunizationSerializer(many=True, read_only=True)
    procedures = ProcedureSerializer(many=True, read_only=True)
    diagnostic_reports = DiagnosticReportSerializer(source="diagnosticreports", many=True, read_only=True)
    care_plans = CarePlanSerializer(source="careplans", many=True, read_only=True)

    class Meta(EncounterSerializer.Meta):
        fields = [
            *EncounterSerializer.Meta.fields,
            "participants",
            "conditions",
            "allergies",
            "observations",
            "medication_requests",
            "immunizations",
            "procedures",
            "diagnostic_reports",
            "care_plans",
        ]
        read_only_fields = fields


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.SerializerMethodField()

    class Meta:
        ref_name = "NoteUserRef"

    def get_name(self, user) -> str:
        return user.get_full_name() or user.username


class NoteAddendumSerializer(serializers.ModelSerializer):
    """Who (`author`), when (`created_at`, UTC) and why (`reason`) a signed note was amended."""

    author = UserRefSerializer(read_only=True)

    class Meta:
        model = NoteAddendum
        fields = ["id", "author", "created_at", "reason", "text"]
        read_only_fields = fields


class ClinicalNoteSerializer(serializers.ModelSerializer):
    """A note (FHIR R4 Composition): SOAP sections or a nursing `body`; `status` preliminary (draft),
    final (signed), amended (signed, with addenda). The signed text never changes; addenda follow it."""

    patient = serializers.IntegerField(source="patient_id", read_only=True)
    encounter = serializers.IntegerField(source="encounter_id", read_only=True)
    author = UserRefSerializer(read_only=True)
    signed_by = UserRefSerializer(read_only=True, allow_null=True)
    template = serializers.IntegerField(source="template_id", read_only=True, allow_null=True)
    addenda = NoteAddendumSerializer(many=True, read_only=True)

    class Meta:
        model = ClinicalNote
        fields = [
            "id",
            "patient",
            "encounter",
            "kind",
            "status",
            "author",
            "template",
            "subjective",
            "objective",
            "assessment",
            "plan",
            "body",
            "created_at",
            "updated_at",
            "signed_at",
            "signed_by",
            "addenda",
        ]
        read_only_fields = fields


class RecordDetailSerializer(EncounterWithContentsSerializer):
    """`/api/records/{id}/`: the encounter, everything recorded in it, and its notes with their addenda."""

    notes = ClinicalNoteSerializer(many=True, read_only=True, source="visible_notes")

    class Meta(EncounterWithContentsSerializer.Meta):
        fields = [*EncounterWithContentsSerializer.Meta.fields, "notes"]
        read_only_fields = fields


# ---------------------------------------------------------------- views


class PatientHistoryApi(GenericAPIView):
    """GET /api/patients/{id}/records/: encounters newest first (paginated), each with its contents and
    its notes (drafts only to their author) with their addenda."""

    serializer_class = RecordDetailSerializer
    queryset = Encounter.objects.none()  # schema hint only: reads go through `clinical.selectors`

    @extend_schema(operation_id="patients_records_history", responses=RecordDetailSerializer(many=True))
    def get(self, request, pk: int):
        with transaction.atomic():
            patient = patient_get_clinical(request.user, pk)
            page = self.paginate_queryset(selectors.patient_history(user=request.user, patient=patient))
            notes = selectors.notes_by_encounter(
                user=request.user, patient=patient, encounter_ids=[e.pk for e in page]
            )
            for encounter in page:
                encounter.visible_notes = notes[encounter.pk]
            audit_record(
                action="read",
                request=request,
                patient=patient,
                patients=[patient],
                object_type="clinical.Encounter",
                detail={"view": "history", "ids": [e.pk for e in page]},
            )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class PatientRecordListApi(GenericAPIView):
    """Base of `GET /api/patients/{id}/<type>/`: one record type of one patient, filtered, paginated."""

    model = None

    def get(self, request, pk: int):
        with transaction.atomic():
            patient = patient_get_clinical(request.user, pk)
            queryset = self.filter_queryset(
                selectors.patient_records(user=request.user, patient=patient, model=self.model)
            )
            page = self.paginate_queryset(queryset)
            audit_record(
                action="read",
                request=request,
                patient=patient,
                patients=[patient],
                object_type=f"{self.model._meta.app_label}.{self.model.__name__}",
                detail={
                    "query": {k: v[:100] for k, v in request.query_params.items()},
                    "ids": [r.pk for r in page],
                },
            )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


def _record_list_api(name: str, model, serializer, filterset) -> type[PatientRecordListApi]:
    """A concrete list view with its own schema (operation id `patients_<name>_list`)."""
    view = type(
        f"Patient{model.__name__}ListApi",
        (PatientRecordListApi,),
        {
            "model": model,
            "serializer_class": serializer,
            "filterset_class": filterset,
            "queryset": model.objects.none(),  # schema hint only: reads go through `clinical.selectors`
            "__doc__": f"GET /api/patients/{{id}}/{name}/: the patient's {model._meta.verbose_name_plural}.",
            "__module__": __name__,
        },
    )

    def get(self, request, pk: int):  # a fresh function per view: extend_schema annotates it in place
        return PatientRecordListApi.get(self, request, pk)

    view.get = extend_schema(
        operation_id=f"patients_{name.replace('-', '_')}_list", responses=serializer(many=True)
    )(get)
    return view


RECORD_LIST_APIS = {
    "encounters": _record_list_api("encounters", Encounter, EncounterSerializer, api_filters.EncounterFilter),
    "observations": _record_list_api(
        "observations", Observation, ObservationSerializer, api_filters.ObservationFilter
    ),
    "conditions": _record_list_api("conditions", Condition, ConditionSerializer, api_filters.ConditionFilter),
    "allergies": _record_list_api(
        "allergies", AllergyIntolerance, AllergyIntoleranceSerializer, api_filters.AllergyIntoleranceFilter
    ),
    "medications": _record_list_api(
        "medications", MedicationRequest, MedicationRequestSerializer, api_filters.MedicationRequestFilter
    ),
    "immunizations": _record_list_api(
        "immunizations", Immunization, ImmunizationSerializer, api_filters.ImmunizationFilter
    ),
    "procedures": _record_list_api("procedures", Procedure, ProcedureSerializer, api_filters.ProcedureFilter),
    "diagnostic-reports": _record_list_api(
        "diagnostic-reports", DiagnosticReport, DiagnosticReportSerializer, api_filters.DiagnosticReportFilter
    ),
    "care-plans": _record_list_api("care-plans", CarePlan, CarePlanSerializer, api_filters.CarePlanFilter),
}


class EncounterDetailApi(GenericAPIView):
    """GET /api/records/{id}/: one encounter with everything recorded in it, and its notes (drafts only
    to their author) with their addenda."""

    serializer_class = RecordDetailSerializer
    queryset = Encounter.objects.none()  # schema hint only

    @extend_schema(operation_id="records_retrieve", responses={200: RecordDetailSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            encounter = selectors.encounter_get(user=request.user, encounter_id=pk)
            encounter.visible_notes = list(selectors.encounter_notes(user=request.user, encounter=encounter))
            audit_record(action="read", request=request, patient=encounter.patient, obj=encounter)
        return Response(self.get_serializer(encounter).data)
