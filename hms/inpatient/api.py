"""REST API of inpatient care (wards, beds, ADT, temporary identity, merge).

- `GET /api/wards/`: active wards with bed occupancy counts (staff). `POST`: create a ward (admins):
  {building, name, code?, ward_type, gender_restriction?} → 201.
- `GET /api/wards/{id}/`: one ward with its beds (status; the occupant only when visible to the caller).
- `GET /api/beds/?ward=&status=`: beds (staff). `PATCH /api/beds/{id}/` {status}: housekeeping (nurses,
  admins): free, reserved, cleaning, out-of-service (400 occupied; 409 an occupied bed).
- `POST /api/beds/{id}/clean/`: cleaning → free (nurses, admins; 409 otherwise).
- `GET /api/admissions/?patient=&status=&ward=`: scoped admissions (`selectors.admissions_visible`).
  `POST`: admit {patient, admitting_practitioner, source, reason, bed, source_encounter?} (doctors, nurses,
  receptionists) → 201; 409 bed taken / patient already admitted.
- `GET /api/admissions/{id}/`: one admission with its bed stays and bed-days.
- `POST /api/admissions/{id}/transfer/` {bed}: doctors/nurses in care. `POST .../discharge/`
  {disposition, summary, follow_up_appointment?}: doctors in care.
- `GET /api/admissions/{id}/summary/pdf/`: the discharge summary PDF (clinical readers; 409 before discharge).
- `POST /api/patients/unknown/` {gender, approx_age, note?}: register an unidentified patient (doctors,
  nurses, receptionists, admins) → 201.
- `POST /api/patients/{id}/merge/` {target, reason}: merge record `id` into `target` (admins, receptionists).

Errors: 400 field errors, 403 a role that never does this act, 404 missing or not visible, 409 state clash.
Every PHI read writes an AuditEvent ("search" for lists, "read" for one record).
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import STAFF_ROLES, Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.encounters import DISCHARGE_DISPOSITIONS
from hms.clinical.models import Encounter
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.api_schema import NoBody
from hms.core.errors import NotFoundOrForbidden
from hms.patients.models import AdministrativeGender, Patient
from hms.patients.selectors import patient_get
from hms.scheduling.models import Appointment
from hms.staff.models import Practitioner

from . import selectors, services
from .models import Admission, AdmissionSource, AdmissionStatus, BedStatus, Location, PhysicalType, WardType
from .summary_pdf import discharge_summary_pdf_export

MAX_ID = 2**63 - 1
STAFF = tuple(STAFF_ROLES)
ADMISSION_READERS = (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.BILLING, Role.ADMIN, Role.PATIENT)

# ---------------------------------------------------------------- output serializers


class InpatientPatientRef(serializers.Serializer):
    id = serializers.IntegerField()
    medical_record_number = serializers.CharField(source="mrn")
    name = serializers.CharField(source="full_name")
    date_of_birth = serializers.DateField()
    birth_date_estimated = serializers.BooleanField()
    gender = serializers.CharField()
    identity_unknown = serializers.BooleanField()


class WardSerializer(serializers.Serializer):
    """A ward (FHIR Location, physicalType wa) with bed counts by status."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()
    ward_type = serializers.CharField(help_text=f"One of: {', '.join(WardType.values)}.")
    gender_restriction = serializers.CharField(help_text="'', male or female.")
    building = serializers.IntegerField(source="parent_id")
    active = serializers.BooleanField()
    occupancy = serializers.DictField(
        child=serializers.IntegerField(), help_text="Active beds by status, plus 'total'."
    )


class BedSerializer(serializers.Serializer):
    """A bed (FHIR Location, physicalType bd) with its room and ward."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    code = serializers.CharField()
    status = serializers.CharField(help_text=f"One of: {', '.join(BedStatus.values)}.")
    isolation = serializers.CharField()
    active = serializers.BooleanField()
    room = serializers.IntegerField(source="parent_id")
    room_name = serializers.CharField(source="parent.name")
    ward = serializers.IntegerField(source="parent.parent_id")


class WardBedSerializer(BedSerializer):
    patient = InpatientPatientRef(allow_null=True)
    admission = serializers.IntegerField(allow_null=True)


class WardDetailSerializer(WardSerializer):
    beds = WardBedSerializer(many=True)


class AdmissionBedStaySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    bed = serializers.IntegerField(source="bed_id")
    bed_name = serializers.CharField(source="bed.__str__")
    start = serializers.DateTimeField()
    end = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField(help_text="admit or transfer.")


class AdmissionSerializer(serializers.Serializer):
    """An inpatient stay (FHIR Encounter class IMP with hospitalization)."""

    id = serializers.IntegerField()
    patient = InpatientPatientRef()
    encounter = serializers.IntegerField(source="encounter_id", allow_null=True)
    source = serializers.CharField(help_text=f"One of: {', '.join(AdmissionSource.values)}.")
    source_encounter = serializers.IntegerField(source="source_encounter_id", allow_null=True)
    admitting_practitioner = serializers.IntegerField(source="admitting_practitioner_id")
    admitting_practitioner_name = serializers.CharField(source="admitting_practitioner.display_name")
    reason = serializers.CharField()
    status = serializers.CharField(help_text=f"One of: {', '.join(AdmissionStatus.values)}.")
    ward = serializers.IntegerField(source="ward_id")
    ward_name = serializers.CharField(source="ward.name")
    admitted_at = serializers.DateTimeField()
    discharged_at = serializers.DateTimeField(allow_null=True)
    discharge_disposition = serializers.CharField(help_text="FHIR discharge-disposition code.")
    discharge_summary = serializers.CharField()
    follow_up_appointment = serializers.IntegerField(source="follow_up_appointment_id", allow_null=True)
    bed_stays = AdmissionBedStaySerializer(many=True, source="bed_stays.all")
    bed_days = serializers.SerializerMethodField()

    def get_bed_days(self, obj) -> int:
        return selectors.bed_days(obj)


class UnknownPatientSerializer(InpatientPatientRef):
    class Meta:
        ref_name = "UnknownPatient"


class MergeResultSerializer(serializers.Serializer):
    source = InpatientPatientRef()
    target = InpatientPatientRef()
    moved = serializers.DictField(child=serializers.IntegerField(), help_text="Rows moved per model.")


# ---------------------------------------------------------------- input serializers


class WardCreateInput(StrictSerializer):
    building = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    name = serializers.CharField(max_length=100)
    code = serializers.CharField(max_length=30, required=False, allow_blank=True, default="")
    ward_type = serializers.ChoiceField(choices=WardType.choices)
    gender_restriction = serializers.ChoiceField(
        choices=[("", "none"), ("male", "male"), ("female", "female")], required=False, default=""
    )


class BedListQuery(StrictSerializer):
    ward = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    status = serializers.ChoiceField(choices=BedStatus.choices, required=False)


class BedStatusInput(StrictSerializer):
    status = serializers.ChoiceField(choices=BedStatus.choices)


class AdmissionListQuery(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    ward = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    status = serializers.ChoiceField(choices=AdmissionStatus.choices, required=False)


class AdmissionCreateInput(StrictSerializer):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    admitting_practitioner = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    source = serializers.ChoiceField(choices=AdmissionSource.choices)
    reason = serializers.CharField(max_length=500)
    bed = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    source_encounter = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )


class AdmissionTransferInput(StrictSerializer):
    bed = serializers.IntegerField(min_value=1, max_value=MAX_ID)


class AdmissionDischargeInput(StrictSerializer):
    disposition = serializers.ChoiceField(choices=list(DISCHARGE_DISPOSITIONS.items()))
    summary = serializers.CharField(max_length=20000)
    follow_up_appointment = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False, allow_null=True
    )


class UnknownPatientInput(StrictSerializer):
    gender = serializers.ChoiceField(choices=AdministrativeGender.choices)
    approx_age = serializers.IntegerField(min_value=0, max_value=120, help_text="Estimated age in years.")
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class PatientMergeInput(StrictSerializer):
    target = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="The record that remains.")
    reason = serializers.CharField(max_length=400)


# ---------------------------------------------------------------- helpers


def _ward_rows(wards) -> list[dict]:
    occupancy = selectors.ward_occupancy([w.pk for w in wards])
    return [
        {
            "id": w.pk,
            "name": w.name,
            "code": w.code,
            "ward_type": w.ward_type,
            "gender_restriction": w.gender_restriction,
            "parent_id": w.parent_id,
            "active": w.active,
            "occupancy": occupancy.get(w.pk, {"total": 0}),
        }
        for w in wards
    ]


def _bed_or_400(bed_id) -> Location:
    bed = (
        Location.objects.filter(pk=bed_id, physical_type=PhysicalType.BED)
        .select_related("parent__parent")
        .first()
    )
    if bed is None:
        raise ValidationError({"bed": "No such bed."})
    return bed


# ---------------------------------------------------------------- views


class WardListCreateApi(GenericAPIView):
    """GET: active wards with occupancy (staff). POST: add a ward to a building (admins)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STAFF, "POST": (Role.ADMIN,)}
    serializer_class = WardSerializer
    queryset = Location.objects.none()
    pagination_class = None

    @extend_schema(operation_id="wards_list", responses=WardSerializer(many=True))
    def get(self, request):
        wards = list(selectors.wards_visible(request.user).order_by("sort_order", "name", "id"))
        return Response(WardSerializer(_ward_rows(wards), many=True).data)

    @extend_schema(
        operation_id="wards_create",
        request=WardCreateInput,
        responses={201: WardSerializer, 400: None, 403: None},
    )
    def post(self, request):
        data = WardCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        building = Location.objects.filter(pk=params["building"], physical_type=PhysicalType.BUILDING).first()
        if building is None:
            raise ValidationError({"building": "No such building."})
        ward = services.location_create(
            physical_type=PhysicalType.WARD,
            parent=building,
            name=params["name"],
            code=params["code"],
            ward_type=params["ward_type"],
            gender_restriction=params["gender_restriction"],
            by=request.user,
            request=request,
        )
        return Response(WardSerializer(_ward_rows([ward])[0]).data, status=status.HTTP_201_CREATED)


class WardDetailApi(GenericAPIView):
    """GET: one ward with its beds; the occupant is named only when the caller may see them (audited)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STAFF}
    serializer_class = WardDetailSerializer
    queryset = Location.objects.none()

    @extend_schema(operation_id="wards_retrieve", responses={200: WardDetailSerializer, 404: None})
    def get(self, request, pk: int):
        ward = selectors.ward_get(request.user, pk)
        with transaction.atomic():
            rows = selectors.beds_with_occupancy(ward, request.user)
            shown = sorted({r["patient"].pk for r in rows if r["patient"] is not None})
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                patients=shown,
                object_type="inpatient.Location",
                detail={"ward": ward.pk},
            )
        beds = []
        for r in rows:
            bed = r["bed"]
            beds.append(
                {
                    **{k: getattr(bed, k) for k in ("id", "name", "code", "status", "isolation", "active")},
                    "parent_id": bed.parent_id,
                    "parent": bed.parent,
                    "patient": r["patient"],
                    "admission": r["stay"].admission_id if r["stay"] and r["patient"] is not None else None,
                }
            )
        data = {**_ward_rows([ward])[0], "beds": beds}
        return Response(WardDetailSerializer(data).data)


class BedListApi(GenericAPIView):
    """GET ?ward=&status=: beds with their status (staff; not PHI)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STAFF}
    serializer_class = BedSerializer
    queryset = Location.objects.none()
    pagination_class = CappedCountPagination

    @extend_schema(
        operation_id="beds_list",
        parameters=[
            OpenApiParameter("ward", int, description="Ward id."),
            OpenApiParameter("status", str, enum=BedStatus.values),
        ],
        responses=BedSerializer(many=True),
    )
    def get(self, request):
        query = BedListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = selectors.beds_in([params["ward"]] if "ward" in params else None)
        if "status" in params:
            qs = qs.filter(status=params["status"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(BedSerializer(page, many=True).data)


class BedDetailApi(GenericAPIView):
    """GET: one bed. PATCH {status}: housekeeping sets free / reserved / cleaning / out-of-service."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STAFF, "PATCH": (Role.NURSE, Role.ADMIN)}
    serializer_class = BedSerializer
    queryset = Location.objects.none()

    @extend_schema(operation_id="beds_retrieve", responses={200: BedSerializer, 404: None})
    def get(self, request, pk: int):
        return Response(BedSerializer(selectors.bed_get(request.user, pk)).data)

    @extend_schema(
        operation_id="beds_partial_update",
        request=BedStatusInput,
        responses={200: BedSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def patch(self, request, pk: int):
        bed = selectors.bed_get(request.user, pk)
        data = BedStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.bed_set_status(
            bed=bed, status=data.validated_data["status"], by=request.user, request=request
        )
        return Response(BedSerializer(selectors.bed_get(request.user, pk)).data)


class BedCleanApi(GenericAPIView):
    """POST: housekeeping has cleaned the bed (cleaning → free)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.NURSE, Role.ADMIN)}
    serializer_class = BedSerializer
    queryset = Location.objects.none()

    @extend_schema(
        operation_id="beds_clean",
        request=NoBody,
        responses={200: BedSerializer, 403: None, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        bed = selectors.bed_get(request.user, pk)
        services.bed_mark_clean(bed=bed, by=request.user, request=request)
        return Response(BedSerializer(selectors.bed_get(request.user, pk)).data)


def _admission_response(request, pk, *, code=status.HTTP_200_OK) -> Response:
    return Response(AdmissionSerializer(selectors.admission_get(request.user, pk)).data, status=code)


class AdmissionListCreateApi(GenericAPIView):
    """GET: scoped admissions. POST: admit a patient to a bed."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": ADMISSION_READERS, "POST": tuple(services.ADMIT_ROLES)}
    serializer_class = AdmissionSerializer
    queryset = Admission.objects.none()
    pagination_class = CappedCountPagination

    @extend_schema(
        operation_id="admissions_list",
        parameters=[
            OpenApiParameter("patient", int, description="Patient id."),
            OpenApiParameter("ward", int, description="Ward id (current ward)."),
            OpenApiParameter("status", str, enum=AdmissionStatus.values),
        ],
        responses=AdmissionSerializer(many=True),
    )
    def get(self, request):
        query = AdmissionListQuery(data=dict(request.query_params.items()))
        query.is_valid(raise_exception=True)
        params = query.validated_data
        qs = selectors.admissions_visible(request.user)
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        if "ward" in params:
            qs = qs.filter(ward_id=params["ward"])
        if "status" in params:
            qs = qs.filter(status=params["status"])
        page = paginate_audited(self, request, qs, object_type="inpatient.Admission")
        return self.get_paginated_response(AdmissionSerializer(page, many=True).data)

    @extend_schema(
        operation_id="admissions_create",
        request=AdmissionCreateInput,
        responses={201: AdmissionSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request):
        data = AdmissionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        patient = (
            patient_get(request.user, params["patient"]) if request.user.role == Role.RECEPTIONIST else None
        )
        if patient is None:  # clinicians may admit a patient not yet in their care (ED); audited as such
            patient = Patient.objects.filter(pk=params["patient"], deleted_at__isnull=True).first()
            if patient is None:
                raise NotFoundOrForbidden()
        doctor = Practitioner.objects.filter(pk=params["admitting_practitioner"]).first()
        if doctor is None:
            raise ValidationError({"admitting_practitioner": "No such practitioner."})
        source_encounter = None
        if params.get("source_encounter"):
            source_encounter = Encounter.objects.filter(
                pk=params["source_encounter"], patient=patient
            ).first()
            if source_encounter is None:
                raise ValidationError({"source_encounter": "This encounter is not one of this patient's."})
        admission = services.admission_create(
            patient=patient,
            admitting_practitioner=doctor,
            source=params["source"],
            reason=params["reason"],
            bed=_bed_or_400(params["bed"]),
            source_encounter=source_encounter,
            by=request.user,
            request=request,
        )
        return _admission_response(request, admission.pk, code=status.HTTP_201_CREATED)


class AdmissionDetailApi(GenericAPIView):
    """GET: one admission with its bed stays."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": ADMISSION_READERS}
    serializer_class = AdmissionSerializer
    queryset = Admission.objects.none()

    @extend_schema(operation_id="admissions_retrieve", responses={200: AdmissionSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            admission = selectors.admission_get(request.user, pk)
            audit_record(action=AuditAction.READ, request=request, patient=admission.patient, obj=admission)
        return Response(AdmissionSerializer(admission).data)


class AdmissionTransferApi(GenericAPIView):
    """POST {bed}: move the patient to another bed (doctors, nurses in care)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR, Role.NURSE)}
    serializer_class = AdmissionSerializer
    queryset = Admission.objects.none()

    @extend_schema(
        operation_id="admissions_transfer",
        request=AdmissionTransferInput,
        responses={200: AdmissionSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        admission = selectors.admission_get(request.user, pk)
        data = AdmissionTransferInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.admission_transfer(
            admission=admission, bed=_bed_or_400(data.validated_data["bed"]), by=request.user, request=request
        )
        return _admission_response(request, pk)


class AdmissionDischargeApi(GenericAPIView):
    """POST {disposition, summary, follow_up_appointment?}: discharge (doctors in care)."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = AdmissionSerializer
    queryset = Admission.objects.none()

    @extend_schema(
        operation_id="admissions_discharge",
        request=AdmissionDischargeInput,
        responses={200: AdmissionSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        admission = selectors.admission_get(request.user, pk)
        data = AdmissionDischargeInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = data.validated_data
        appointment = None
        if params.get("follow_up_appointment"):
            appointment = Appointment.objects.filter(
                pk=params["follow_up_appointment"], patient_id=admission.patient_id
            ).first()
            if appointment is None:
                raise ValidationError(
                    {"follow_up_appointment": "This appointment is not one of this patient's."}
                )
        services.admission_discharge(
            admission=admission,
            disposition=params["disposition"],
            summary=params["summary"],
            follow_up_appointment=appointment,
            by=request.user,
            request=request,
        )
        return _admission_response(request, pk)


class AdmissionSummaryPdfApi(GenericAPIView):
    """GET: the discharge summary as a PDF (audited export)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": (Role.DOCTOR, Role.NURSE, Role.PATIENT)}
    queryset = Admission.objects.none()

    @extend_schema(
        operation_id="admissions_summary_pdf",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF."),
            404: None,
            409: None,
        },
    )
    def get(self, request, pk: int):
        admission, data = discharge_summary_pdf_export(user=request.user, admission_id=pk, request=request)
        response = HttpResponse(data, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="discharge-summary-{admission.pk}.pdf"'
        return response


class UnknownPatientApi(GenericAPIView):
    """POST {gender, approx_age, note?}: register an unidentified patient ("Unknown, Male ~40")."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": tuple(services.UNKNOWN_ROLES)}
    serializer_class = UnknownPatientSerializer
    queryset = Patient.objects.none()

    @extend_schema(
        operation_id="patients_unknown_create",
        request=UnknownPatientInput,
        responses={201: UnknownPatientSerializer, 400: None, 403: None},
    )
    def post(self, request):
        data = UnknownPatientInput(data=request.data)
        data.is_valid(raise_exception=True)
        patient = services.patient_register_unknown(**data.validated_data, by=request.user, request=request)
        return Response(UnknownPatientSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientMergeApi(GenericAPIView):
    """POST {target, reason}: merge patient `id` (e.g. a temporary record) into `target`."""

    permission_classes = (HasRole,)
    allowed_roles = {"POST": tuple(services.MERGE_ROLES)}
    serializer_class = MergeResultSerializer
    queryset = Patient.objects.none()

    @extend_schema(
        operation_id="patients_merge",
        request=PatientMergeInput,
        responses={200: MergeResultSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request, pk: int):
        source = patient_get(request.user, pk)
        data = PatientMergeInput(data=request.data)
        data.is_valid(raise_exception=True)
        target = patient_get(request.user, data.validated_data["target"])
        result = services.patient_merge(
            source=source,
            target=target,
            reason=data.validated_data["reason"],
            by=request.user,
            request=request,
        )
        source.refresh_from_db()
        target.refresh_from_db()
        return Response(MergeResultSerializer({"source": source, "target": target, **result}).data)
