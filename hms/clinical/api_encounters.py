"""REST API of encounters, consultation notes and the patient timeline (issue 4). Thin over
`hms.clinical.encounters`, `hms.clinical.notes` and `hms.clinical.selectors`.

- `POST /api/encounters/` with `{appointment}` or a walk-in `{patient, encounter_class, reason}`, and
  `POST /api/appointments/{id}/start-encounter/`: doctors. 201 with the encounter (200 when the
  appointment's visit was already open); 400 bad field; 403 a colleague's appointment; 404.
- `GET /api/encounters/{id}/`: doctors and nurses caring for the patient, the patient; with its notes.
- `POST /api/encounters/{id}/close/ {disposition}`: doctors. 400 unknown disposition; 409 not open.
- `GET /api/encounters/{id}/notes/`: as above; drafts only to their author. `POST`: a doctor's SOAP
  draft `{template?, subjective, objective, assessment, plan}` or a nurse's `{kind: "nursing", body}`
  (signed on save). 201.
- `GET /api/notes/{id}/`; `PATCH` a draft (author only: 403 otherwise; 409 once signed).
- `POST /api/notes/{id}/sign/` (author; 409 when signed), `POST /api/notes/{id}/addenda/ {reason, text}`
  (doctor or nurse in care; 201; 409 on a draft), `POST /api/notes/{id}/entered-in-error/ {reason}`
  (author).
- `GET /api/note-templates/?specialty=`: doctors, nurses, admins; not PHI; SNOMED CT code or id.
- `GET /api/patients/{id}/timeline/?kind=&date_from=&date_to=`: clinicians in care, the patient;
  paginated, newest first.

Every other role gets 403 from the role check or 404 from the scoped selectors ("missing" and "not
yours" are the same 404). Every read writes an AuditEvent in the same transaction (lists: one "search"
event naming the patient); writes are audited by the services.
"""

import datetime as dt

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer
from hms.core.api_schema import NoBody
from hms.core.errors import NotFoundOrForbidden
from hms.patients.models import Patient
from hms.patients.selectors import patient_get_clinical
from hms.scheduling.selectors import appointment_get

from . import encounters as encounter_services
from . import notes as note_services
from . import selectors
from .api import ClinicalNoteSerializer, EncounterSerializer, NoteAddendumSerializer
from .api_filters import _day_start
from .models import ClinicalNote, Encounter, EncounterClass, NoteAddendum, NoteKind, NoteTemplate

DOCTOR = (Role.DOCTOR,)
CLINICIANS = (Role.DOCTOR, Role.NURSE)
CLINICAL_READERS = (Role.DOCTOR, Role.NURSE, Role.PATIENT)

# ---------------------------------------------------------------- serializers


class EncounterDetailSerializer(EncounterSerializer):
    """An encounter with its appointment id and its notes (with addenda)."""

    appointment = serializers.IntegerField(source="appointment_id", read_only=True, allow_null=True)
    notes = ClinicalNoteSerializer(many=True, read_only=True, source="visible_notes")

    class Meta(EncounterSerializer.Meta):
        fields = [*EncounterSerializer.Meta.fields, "appointment", "notes"]
        read_only_fields = fields


class EncounterStartInput(StrictSerializer):
    """Either `appointment` (open its visit) or `patient` + `encounter_class` (a walk-in)."""

    appointment = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    patient = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    encounter_class = serializers.ChoiceField(
        choices=EncounterClass.choices, required=False, help_text="AMB, EMER, IMP or VR (walk-in only)."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")

    def validate(self, attrs):
        if "appointment" in attrs:
            if "patient" in attrs:
                raise serializers.ValidationError({"patient": "Give either an appointment or a patient."})
            return attrs
        errors = {}
        if "patient" not in attrs:
            errors["patient"] = "Required for a walk-in (or give `appointment`)."
        if "encounter_class" not in attrs:
            errors["encounter_class"] = "Required for a walk-in: AMB, EMER, IMP or VR."
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class EncounterCloseInput(StrictSerializer):
    disposition = serializers.ChoiceField(
        choices=list(encounter_services.DISCHARGE_DISPOSITIONS.items()),
        help_text="FHIR R4 discharge-disposition code "
        "(http://terminology.hl7.org/CodeSystem/discharge-disposition).",
    )


class NoteCreateInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=NoteKind.choices, default=NoteKind.SOAP)
    template = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)
    subjective = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    objective = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    assessment = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    plan = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    body = serializers.CharField(required=False, allow_blank=True, default="", help_text="Nursing note text.")

    def validate(self, attrs):
        soap = [f for f in note_services.SOAP_FIELDS if attrs.get(f)]
        if attrs["kind"] == NoteKind.NURSING and (soap or attrs.get("template")):
            raise serializers.ValidationError(
                dict.fromkeys(soap or ["template"], "A nursing note has only a `body`.")
            )
        if attrs["kind"] == NoteKind.SOAP and attrs.get("body"):
            raise serializers.ValidationError(
                {"body": "A SOAP note has subjective, objective, assessment, plan."}
            )
        return attrs


class NoteUpdateInput(StrictSerializer):
    subjective = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    objective = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    assessment = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    plan = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class AddendumInput(StrictSerializer):
    reason = serializers.CharField(max_length=note_services.MAX_REASON_CHARS)
    text = serializers.CharField(max_length=note_services.MAX_SECTION_CHARS)


class NoteEnteredInErrorInput(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class NoteTemplateSerializer(serializers.ModelSerializer):
    specialty = serializers.SerializerMethodField()

    class Meta:
        model = NoteTemplate
        fields = ["id", "name", "specialty", "subjective", "objective", "assessment", "plan"]
        read_only_fields = fields

    def get_specialty(self, obj) -> dict | None:
        s = obj.specialty
        return {"id": s.pk, "code": s.code, "display": s.display} if s else None


class TimelineItemSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="encounter, note, diagnosis, allergy, vital, order, result, ...")
    at = serializers.DateTimeField(help_text="UTC.")
    title = serializers.CharField()
    detail = serializers.CharField()
    encounter_id = serializers.IntegerField(allow_null=True)
    object_type = serializers.CharField(help_text='"app_label.Model"')
    object_id = serializers.IntegerField(allow_null=True)
    url = serializers.CharField(help_text="Portal page, when there is one for the caller.")


class TimelineQuery(StrictSerializer):
    kind = serializers.CharField(required=False, max_length=200, help_text="Comma-separated kinds.")
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    before = serializers.DateTimeField(required=False)

    def validate(self, attrs):
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": "Must be on or after date_from."})
        return attrs


class TimelinePagination(CappedCountPagination):
    """`CappedCountPagination` plus `older_before`: null when the history is complete, else the instant
    (ISO 8601, UTC) to pass as `before` to read further back (see `selectors.patient_timeline`)."""

    def paginate_queryset(self, queryset, request, view=None):
        self.older_before = getattr(queryset, "older_before", None)
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["older_before"] = self.older_before.isoformat() if self.older_before else None
        return response

    def get_paginated_response_schema(self, schema):
        base = super().get_paginated_response_schema(schema)
        base["properties"]["older_before"] = {"type": "string", "format": "date-time", "nullable": True}
        return base


# ---------------------------------------------------------------- helpers


def _with_notes(encounter: Encounter, user) -> Encounter:
    encounter.visible_notes = list(selectors.encounter_notes(user=user, encounter=encounter))
    return encounter


def _encounter_response(request, encounter: Encounter, *, code=status.HTTP_200_OK) -> Response:
    """Re-read through the scoped selector (the caller's view of it) and answer."""
    encounter = selectors.encounter_get(user=request.user, encounter_id=encounter.pk)
    return Response(EncounterDetailSerializer(_with_notes(encounter, request.user)).data, status=code)


def _walk_in_patient(user, patient_id) -> Patient:
    """A live patient by id for a doctor's walk-in (see `encounter_start_walk_in`); 404 when missing."""
    patient = Patient.objects.filter(pk=patient_id, deleted_at__isnull=True).first()
    if patient is None:
        raise NotFoundOrForbidden()
    return patient


def _start_from_appointment(request, appointment_id) -> Response:
    appointment = appointment_get(request.user, appointment_id)
    encounter, created = encounter_services.encounter_start_from_appointment(
        appointment=appointment, by=request.user, request=request
    )
    return _encounter_response(
        request, encounter, code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
    )


def _page_for_patient(view, request, rows, *, patient, object_type: str, detail: dict | None = None) -> list:
    """One page of `rows` (all of one patient) with one "search" AuditEvent naming the patient even when
    the page is empty, in the same transaction as the read."""
    with transaction.atomic():
        page = view.paginate_queryset(rows)
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patient=patient,
            patients=[patient],
            object_type=object_type,
            detail={"query": {k: str(v)[:100] for k, v in request.query_params.items()}, **(detail or {})},
        )
    return page


ENCOUNTER_WRITE_RESPONSES = {200: EncounterDetailSerializer, 400: None, 403: None, 404: None, 409: None}

# ---------------------------------------------------------------- views


class EncounterCreateApi(GenericAPIView):
    """POST /api/encounters/: open a visit, from an appointment or as a walk-in."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": DOCTOR}
    serializer_class = EncounterDetailSerializer
    queryset = Encounter.objects.none()  # schema hint only

    @extend_schema(
        operation_id="encounters_create",
        request=EncounterStartInput,
        responses={201: EncounterDetailSerializer, **ENCOUNTER_WRITE_RESPONSES},
    )
    def post(self, request):
        data = EncounterStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if "appointment" in v:
            return _start_from_appointment(request, v["appointment"])
        encounter = encounter_services.encounter_start_walk_in(
            patient=_walk_in_patient(request.user, v["patient"]),
            encounter_class=v["encounter_class"],
            reason=v["reason"],
            by=request.user,
            request=request,
        )
        return _encounter_response(request, encounter, code=status.HTTP_201_CREATED)


class AppointmentStartEncounterApi(GenericAPIView):
    """POST /api/appointments/{id}/start-encounter/: open the appointment's visit (idempotent)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": DOCTOR}
    serializer_class = EncounterDetailSerializer
    queryset = Encounter.objects.none()

    @extend_schema(
        operation_id="appointments_start_encounter",
        request=NoBody,
        responses={201: EncounterDetailSerializer, **ENCOUNTER_WRITE_RESPONSES},
    )
    def post(self, request, pk: int):
        return _start_from_appointment(request, pk)


class EncounterRetrieveApi(GenericAPIView):
    """GET /api/encounters/{id}/: the encounter with its notes and their addenda."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": CLINICAL_READERS}
    serializer_class = EncounterDetailSerializer
    queryset = Encounter.objects.none()

    @extend_schema(operation_id="encounters_retrieve", responses={200: EncounterDetailSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            encounter = _with_notes(selectors.encounter_get(user=request.user, encounter_id=pk), request.user)
            audit_record(action=AuditAction.READ, request=request, patient=encounter.patient, obj=encounter)
        return Response(EncounterDetailSerializer(encounter).data)


class EncounterCloseApi(GenericAPIView):
    """POST /api/encounters/{id}/close/ {disposition}: finish the visit (doctors only)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": DOCTOR}
    serializer_class = EncounterDetailSerializer
    queryset = Encounter.objects.none()

    @extend_schema(
        operation_id="encounters_close", request=EncounterCloseInput, responses=ENCOUNTER_WRITE_RESPONSES
    )
    def post(self, request, pk: int):
        encounter = selectors.encounter_get(user=request.user, encounter_id=pk)
        data = EncounterCloseInput(data=request.data)
        data.is_valid(raise_exception=True)
        encounter = encounter_services.encounter_close(
            encounter=encounter,
            disposition=data.validated_data["disposition"],
            by=request.user,
            request=request,
        )
        return _encounter_response(request, encounter)


class EncounterNotesApi(GenericAPIView):
    """GET: the encounter's notes (oldest first, paginated). POST: a SOAP draft (doctor) or a nursing
    note (nurse, `kind: nursing`, signed on save)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": CLINICAL_READERS, "POST": CLINICIANS}
    serializer_class = ClinicalNoteSerializer
    pagination_class = CappedCountPagination
    queryset = ClinicalNote.objects.none()

    @extend_schema(operation_id="encounters_notes_list", responses=ClinicalNoteSerializer(many=True))
    def get(self, request, pk: int):
        encounter = selectors.encounter_get(user=request.user, encounter_id=pk)
        page = _page_for_patient(
            self,
            request,
            selectors.encounter_notes(user=request.user, encounter=encounter),
            patient=encounter.patient,
            object_type="clinical.ClinicalNote",
            detail={"encounter": encounter.pk},
        )
        return self.get_paginated_response(ClinicalNoteSerializer(page, many=True).data)

    @extend_schema(
        operation_id="encounters_notes_create",
        request=NoteCreateInput,
        responses={201: ClinicalNoteSerializer, 400: None, 403: None, 404: None},
    )
    def post(self, request, pk: int):
        encounter = selectors.encounter_get(user=request.user, encounter_id=pk)
        data = NoteCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["kind"] == NoteKind.NURSING:
            note = note_services.nursing_note_create(
                encounter=encounter, body=v["body"], by=request.user, request=request
            )
        else:
            template = None
            if v.get("template"):
                template = NoteTemplate.objects.filter(pk=v["template"], is_active=True).first()
                if template is None:
                    raise ValidationError({"template": ["Unknown note template."]})
            note = note_services.note_create_draft(
                encounter=encounter,
                by=request.user,
                template=template,
                subjective=v["subjective"],
                objective=v["objective"],
                assessment=v["assessment"],
                plan=v["plan"],
                request=request,
            )
        note = selectors.note_get(user=request.user, note_id=note.pk)
        return Response(ClinicalNoteSerializer(note).data, status=status.HTTP_201_CREATED)


class NoteDetailApi(GenericAPIView):
    """GET one note with its addenda; PATCH a draft's sections (author only; 409 once signed)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": CLINICAL_READERS, "PATCH": CLINICIANS}
    serializer_class = ClinicalNoteSerializer
    queryset = ClinicalNote.objects.none()

    @extend_schema(operation_id="notes_retrieve", responses={200: ClinicalNoteSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            note = selectors.note_get(user=request.user, note_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=note.patient, obj=note)
        return Response(ClinicalNoteSerializer(note).data)

    @extend_schema(
        operation_id="notes_update",
        request=NoteUpdateInput,
        responses={200: ClinicalNoteSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def patch(self, request, pk: int):
        note = selectors.note_get(user=request.user, note_id=pk)
        data = NoteUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        if not data.validated_data:
            raise ValidationError(
                {"detail": ["Give at least one of subjective, objective, assessment, plan."]}
            )
        note_services.note_update(note=note, by=request.user, request=request, **data.validated_data)
        return Response(ClinicalNoteSerializer(selectors.note_get(user=request.user, note_id=pk)).data)


def _note_action_view(name: str, doc: str, input_serializer, run, *, code=status.HTTP_200_OK, output=None):
    class NoteActionApi(GenericAPIView):
        permission_classes = (HasRole,)
        allowed_roles = {"POST": CLINICIANS}
        serializer_class = ClinicalNoteSerializer
        queryset = ClinicalNote.objects.none()

        @extend_schema(
            operation_id=f"notes_{name}",
            request=input_serializer or NoBody,
            responses={code: output or ClinicalNoteSerializer, 400: None, 403: None, 404: None, 409: None},
        )
        def post(self, request, pk: int):
            note = selectors.note_get(user=request.user, note_id=pk)
            values = {}
            if input_serializer is not None:
                data = input_serializer(data=request.data)
                data.is_valid(raise_exception=True)
                values = data.validated_data
            result = run(note=note, by=request.user, request=request, **values)
            if isinstance(result, NoteAddendum):
                return Response(NoteAddendumSerializer(result).data, status=code)
            if result.deleted_at is not None:  # entered in error: no longer readable through the selector
                return Response(ClinicalNoteSerializer(result).data, status=code)
            return Response(ClinicalNoteSerializer(selectors.note_get(user=request.user, note_id=pk)).data)

    NoteActionApi.__name__ = NoteActionApi.__qualname__ = f"Note{name.title().replace('_', '')}Api"
    NoteActionApi.__doc__ = doc
    return NoteActionApi


NoteSignApi = _note_action_view(
    "sign",
    "POST /api/notes/{id}/sign/: sign a draft (author only); it is final from then on.",
    None,
    note_services.note_sign,
)
NoteAddendumApi = _note_action_view(
    "addenda_create",
    "POST /api/notes/{id}/addenda/ {reason, text}: amend a signed note.",
    AddendumInput,
    note_services.note_addendum_add,
    code=status.HTTP_201_CREATED,
    output=NoteAddendumSerializer,
)
NoteEnteredInErrorApi = _note_action_view(
    "entered_in_error",
    "POST /api/notes/{id}/entered-in-error/ {reason}: mark the note entered in error (author only).",
    NoteEnteredInErrorInput,
    note_services.note_enter_in_error,
)


class NoteTemplateListApi(GenericAPIView):
    """GET /api/note-templates/?specialty=: active SOAP templates; `specialty` = SNOMED CT code or id
    (templates of that specialty plus the general ones). Not PHI: not audited."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (Role.DOCTOR, Role.NURSE, Role.ADMIN)}
    serializer_class = NoteTemplateSerializer
    pagination_class = CappedCountPagination
    queryset = NoteTemplate.objects.none()

    @extend_schema(
        operation_id="note_templates_list",
        parameters=[OpenApiParameter("specialty", str, description="SNOMED CT practice-setting code or id.")],
        responses=NoteTemplateSerializer(many=True),
    )
    def get(self, request):
        from django.db.models import Q

        qs = NoteTemplate.objects.filter(is_active=True).select_related("specialty").order_by("name", "id")
        specialty = (request.query_params.get("specialty") or "").strip()[:64]
        if specialty:
            match = Q(specialty__code=specialty)
            if specialty.isdigit() and len(specialty) < 10:
                match |= Q(specialty_id=int(specialty))
            qs = qs.filter(match | Q(specialty__isnull=True))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(NoteTemplateSerializer(page, many=True).data)


class PatientTimelineApi(GenericAPIView):
    """GET /api/patients/{id}/timeline/?kind=&date_from=&date_to=: the history, newest first.

    `kind`: comma-separated kinds (encounter, note, diagnosis, allergy, vital, observation, prescription,
    procedure, immunization, care-plan, and those of other modules: order, result, document, ...); 400 for
    an unknown one. `date_from`/`date_to`: calendar days (YYYY-MM-DD) in the hospital's time zone, both
    inclusive; `before`: an instant (ISO 8601), exclusive, as given back in `older_before` when a very long
    history is read in parts. One "search" AuditEvent per page.
    """

    permission_classes = (HasRole,)
    allowed_roles = {"GET": CLINICAL_READERS}
    serializer_class = TimelineItemSerializer
    pagination_class = TimelinePagination
    queryset = Encounter.objects.none()

    @extend_schema(
        operation_id="patients_timeline",
        parameters=[
            OpenApiParameter("kind", str, description="Comma-separated kinds."),
            OpenApiParameter("date_from", dt.date),
            OpenApiParameter("date_to", dt.date),
            OpenApiParameter("before", dt.datetime, description="Exclusive upper bound (see older_before)."),
        ],
        responses=TimelineItemSerializer(many=True),
    )
    def get(self, request, pk: int):
        query = TimelineQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        v = query.validated_data
        patient = patient_get_clinical(request.user, pk)
        kinds = [k.strip() for k in v.get("kind", "").split(",") if k.strip()]
        date_from = _day_start(v["date_from"]) if v.get("date_from") else None
        date_to = None
        if v.get("date_to") and v["date_to"] < dt.date.max:
            date_to = _day_start(v["date_to"] + dt.timedelta(days=1))
        if v.get("before") and (date_to is None or v["before"] < date_to):
            date_to = v["before"]
        items = selectors.patient_timeline(
            user=request.user, patient=patient, kinds=kinds, date_from=date_from, date_to=date_to
        )
        page = _page_for_patient(self, request, items, patient=patient, object_type="clinical.Timeline")
        return self.get_paginated_response(TimelineItemSerializer(page, many=True).data)
