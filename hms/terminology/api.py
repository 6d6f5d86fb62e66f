"""REST API of the terminologies: `GET /api/terminology/icd10/?q=&limit=`.

Not PHI (a public code list), so no AuditEvent; staff only (every role but patient), 403 otherwise,
401 without a token. `q`: up to 100 characters, a code prefix or words (see `hms.terminology.icd10`);
`limit`: 1..50 (default 20), 400 outside. Response: `{"system", "count", "results": [{"code",
"display", "billable"}]}`.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from hms.accounts.roles import STAFF_ROLES
from hms.core.api_base import HasRole, StrictSerializer

from .icd10 import DEFAULT_LIMIT, MAX_LIMIT, SYSTEM, icd10_search


class Icd10Query(StrictSerializer):
    q = serializers.CharField(max_length=100, allow_blank=True, default="", trim_whitespace=True)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


class Icd10CodeSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Dotted ICD-10-CM code, e.g. E11.9.")
    display = serializers.CharField()
    billable = serializers.BooleanField(help_text="A leaf code: the only kind a diagnosis may carry.")


class Icd10SearchApi(APIView):
    """GET /api/terminology/icd10/?q=&limit=: ICD-10-CM codes matching `q`, billable first."""

    permission_classes = [HasRole]
    allowed_roles = {"*": STAFF_ROLES}

    @extend_schema(
        operation_id="terminology_icd10_search",
        parameters=[Icd10Query],
        responses=inline_serializer(
            "Icd10SearchResponse",
            {
                "system": serializers.CharField(),
                "count": serializers.IntegerField(),
                "results": Icd10CodeSerializer(many=True),
            },
        ),
    )
    def get(self, request):
        query = Icd10Query(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        rows = icd10_search(query.validated_data["q"], query.validated_data["limit"])
        return Response(
            {"system": SYSTEM, "count": len(rows), "results": Icd10CodeSerializer(rows, many=True).data}
        )
