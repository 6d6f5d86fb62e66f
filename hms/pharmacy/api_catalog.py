"""REST API of the medication catalogue (`hms.pharmacy.catalog`, RxNorm).

- `GET /api/medications/?q=&limit=`: search-as-you-type over the catalogue: `q` an RxNorm code prefix
  (digits) or words that each start a word of the name / ingredients / dose form / route; `limit`
  1..50 (default 20). `q` empty → []. Staff only (every role but patient; 403 for patients, 401 anonymous).
  Not PHI: not audited. 400 when `limit` is not a whole number in 1..50.
- `GET /api/medications/{rxcui}/`: one medication, 404 when not in the catalogue.

Source: RxNorm (U.S. National Library of Medicine, public domain); the notice is returned with results.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from hms.accounts.roles import STAFF_ROLES
from hms.core.api_base import HasRole
from hms.core.errors import NotFoundOrForbidden

from . import catalog


class IngredientSerializer(serializers.Serializer):
    rxcui = serializers.CharField(help_text="RxNorm ingredient (IN) code.")
    name = serializers.CharField()


class MedicationSerializer(serializers.Serializer):
    system = serializers.SerializerMethodField()
    rxcui = serializers.CharField(help_text="RxNorm SCD/SBD/GPCK/BPCK code.")
    name = serializers.CharField(help_text="RxNorm name.")
    ingredients = IngredientSerializer(many=True)
    strength = serializers.CharField()
    dose_form = serializers.CharField()
    route = serializers.CharField()
    drug_classes = serializers.ListField(child=serializers.CharField())
    therapeutic_class = serializers.CharField()

    def get_system(self, obj) -> str:
        return catalog.RXNORM_SYSTEM


class _Query(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=100, trim_whitespace=True)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=catalog.MAX_RESULTS)


class MedicationSearchApi(GenericAPIView):
    """GET ?q=&limit=: catalogue search (see the module docstring). Staff only; not audited (not PHI)."""

    permission_classes = [HasRole]
    allowed_roles = {"*": STAFF_ROLES}
    serializer_class = MedicationSerializer
    pagination_class = None

    @extend_schema(
        operation_id="medications_search",
        parameters=[
            OpenApiParameter("q", str, description="RxNorm code prefix or words (≤ 100 characters)."),
            OpenApiParameter("limit", int, description="1..50, default 20."),
        ],
        responses={
            200: inline_serializer(
                "MedicationSearch",
                {"notice": serializers.CharField(), "results": MedicationSerializer(many=True)},
            )
        },
    )
    def get(self, request):
        query = _Query(data=request.query_params)
        query.is_valid(raise_exception=True)
        hits = catalog.medication_search(
            query.validated_data.get("q", ""), limit=query.validated_data.get("limit", 20)
        )
        return Response({"notice": catalog.NOTICE, "results": MedicationSerializer(hits, many=True).data})


class MedicationDetailApi(GenericAPIView):
    """GET: one catalogue medication by RxNorm code; 404 when unknown. Staff only; not audited."""

    permission_classes = [HasRole]
    allowed_roles = {"*": STAFF_ROLES}
    serializer_class = MedicationSerializer
    pagination_class = None

    @extend_schema(operation_id="medication_get", responses={200: MedicationSerializer})
    def get(self, request, rxcui: str):
        med = catalog.medication_get(rxcui)
        if med is None:
            raise NotFoundOrForbidden()
        return Response(MedicationSerializer(med).data)
