"""`POST /api/procedures/`: record a procedure performed (doctors with the patient in care).

201 with the procedure; 400 per field; 403 for other roles; 404 for a patient out of scope. The reading
side is `GET /api/patients/{id}/procedures/` (`hms.clinical.api`). The procedure's charge is captured by
the service (`hms.clinical.procedures`).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.core.api_base import HasRole
from hms.patients.selectors import patient_get_clinical

from . import procedures
from .api import ProcedureSerializer
from .api_problems import MAX_ID, ClosedInput, _encounter_of
from .models import Procedure


class ProcedureRecordInput(ClosedInput):
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    code = serializers.CharField(max_length=18, help_text="SNOMED CT concept id, e.g. 29303009 (ECG).")
    display = serializers.CharField(max_length=300)
    encounter = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    performed_at = serializers.DateTimeField(required=False, allow_null=True, help_text="not in the future")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ProcedureRecordApi(GenericAPIView):
    permission_classes = (HasRole,)
    allowed_roles = {"POST": (Role.DOCTOR,)}
    serializer_class = ProcedureSerializer
    queryset = Procedure.objects.none()

    @extend_schema(
        operation_id="procedures_create",
        request=ProcedureRecordInput,
        responses={201: ProcedureSerializer, 400: None, 403: None, 404: None},
    )
    def post(self, request):
        data = ProcedureRecordInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        patient = patient_get_clinical(request.user, v["patient"])
        procedure = procedures.procedure_record(
            patient=patient,
            code=v["code"],
            display=v["display"],
            encounter=_encounter_of(request.user, patient, v.get("encounter")),
            performed_at=v.get("performed_at"),
            reason=v["reason"],
            by=request.user,
            request=request,
        )
        return Response(ProcedureSerializer(procedure).data, status=status.HTTP_201_CREATED)
