"""Building blocks shared by every REST API: a cheap paginator for large tables, role permissions.

`CappedCountPagination` never counts a whole large table: it counts at most `count_cap` rows (a
`SELECT COUNT(*) FROM (... LIMIT cap+1)`), so a list over 1,000,000 patients or audit events costs
the same as one over a thousand. `count` is exact below the cap; above it `count` is the cap and
`count_is_exact` is false.
"""

import json
from collections import OrderedDict
from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response


class CappedCountPagination(PageNumberPagination):
    """`?page=N&page_size=M` (M ≤ 100). Response: {count, count_is_exact, next, previous, results}."""

    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    count_cap = 1000

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        page_size = self.get_page_size(request)
        raw = request.query_params.get(self.page_query_param) or "1"
        try:
            number = int(raw)
        except (TypeError, ValueError):
            number = 1
        if raw in self.last_page_strings:
            number = 1
        number = max(1, min(number, 10**6))
        offset = (number - 1) * page_size
        rows = list(queryset[offset : offset + page_size + 1])
        self.has_next = len(rows) > page_size
        self.number = number
        self.page_rows = rows[:page_size]
        if offset == 0 and not self.has_next:
            self.count, self.count_is_exact = len(self.page_rows), True
        else:
            if hasattr(queryset, "capped_count"):  # e.g. hms.patients.selectors.PatientNameSearch
                capped = queryset.capped_count(self.count_cap)
            else:
                capped = queryset.order_by()[: self.count_cap + 1].count()
            self.count_is_exact = capped <= self.count_cap
            self.count = min(capped, self.count_cap)
        return self.page_rows

    def get_next_link(self):
        if not self.has_next:
            return None
        from rest_framework.utils.urls import replace_query_param

        return replace_query_param(self.request.build_absolute_uri(), self.page_query_param, self.number + 1)

    def get_previous_link(self):
        if self.number <= 1:
            return None
        from rest_framework.utils.urls import remove_query_param, replace_query_param

        url = self.request.build_absolute_uri()
        if self.number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.number - 1)

    def get_paginated_response(self, data):
        return Response(
            OrderedDict(
                [
                    ("count", self.count),
                    ("count_is_exact", self.count_is_exact),
                    ("next", self.get_next_link()),
                    ("previous", self.get_previous_link()),
                    ("results", data),
                ]
            )
        )

    def get_paginated_response_schema(self, schema):
        base = super().get_paginated_response_schema(schema)
        base["properties"]["count_is_exact"] = {"type": "boolean", "example": True}
        base["required"] = ["count", "count_is_exact", "results"]
        return base


class HasRole(BasePermission):
    """Allows authenticated users whose `role` is in `view.allowed_roles[request.method]`
    (or `view.allowed_roles["*"]`); a method absent from both is allowed to every authenticated user."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        roles = getattr(view, "allowed_roles", {})
        wanted = roles.get(request.method, roles.get("*"))
        return wanted is None or user.role in {str(r) for r in wanted}


class SafeJSONParser(JSONParser):
    """DRF's JSONParser, but a body nested too deeply for Python's decoder (RecursionError) is a 400
    "JSON parse error" instead of a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
        except json.JSONDecodeError as exc:  # pragma: no cover - DRF already maps this
            raise ParseError(f"JSON parse error - {exc}") from None


class StrictStringsMixin:
    """Refuse a number, boolean, list or object where a string is expected.

    DRF's CharField quietly turns `123` into "123" and `1e999` into "inf"; for patient data that is
    never what the caller meant. Answers 400 with `{"field": ["Not a valid string."]}`, together with the
    errors of every other field of the same body (all bad fields at once, not one per round trip); the
    object-level `validate()` runs only once every field is valid, as usual.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for name, field in self.fields.items():
                if field.read_only or not isinstance(field, serializers.CharField):
                    continue
                value = data.get(name)
                if value is not None and not isinstance(value, str):
                    errors[name] = ["Not a valid string."]
            if errors:
                found = {**self._other_field_errors(data, errors), **errors}
                ordered = {name: found.pop(name) for name in self.fields if name in found}
                raise serializers.ValidationError({**ordered, **found})
        return super().to_internal_value(data)

    def _other_field_errors(self, data: Mapping, skip: dict) -> dict:
        """The field errors of `data` without the fields in `skip` (whose own error is already known)."""
        rest = data.copy() if hasattr(data, "copy") else dict(data)  # QueryDict.copy() keeps lists
        for name in skip:
            rest.pop(name, None)
        try:
            super().to_internal_value(rest)
        except serializers.ValidationError as exc:
            if isinstance(exc.detail, Mapping):
                return {k: v for k, v in exc.detail.items() if k not in skip}
        return {}


class StrictSerializer(StrictStringsMixin, serializers.Serializer):
    """Base of every input serializer: strings must arrive as JSON strings."""


class StrictModelSerializer(StrictStringsMixin, serializers.ModelSerializer):
    """Base of every input ModelSerializer: strings must arrive as JSON strings."""


def paginate_audited(view, request, queryset, *, object_type: str, patient_id_of=None) -> list:
    """One page of a PHI list for `view` (a GenericAPIView with a paginator), with its AuditEvent.

    Writes one "search" event, in the same transaction as the page read, naming the patients on the page
    (`patient_id_of(row)`, default `row.patient_id`) and the query string (each value cut to 100 chars).
    Returns the page's rows; answer with `view.get_paginated_response(...)`.
    """
    from django.db import transaction

    from hms.audit.models import AuditAction
    from hms.audit.services import audit_record

    patient_id_of = patient_id_of or (lambda row: row.patient_id)
    with transaction.atomic():
        page = view.paginate_queryset(queryset)
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=sorted({patient_id_of(row) for row in page}),
            object_type=object_type,
            detail={"query": {k: str(v)[:100] for k, v in request.query_params.items()}},
        )
    return page
