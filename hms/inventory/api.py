"""REST API of the inventory and of dispensing.

Inventory (`/api/inventory/...`):
- `GET|POST items/`: stocked medications (RxNorm) and supplies. GET `?q=` (name words or RXCUI).
  POST {kind, rxcui?, name?, unit, unit_cost?, currency?} (pharmacist, admin).
- `GET|POST locations/`: pharmacy and ward stores. POST {name, kind} (pharmacist, admin).
- `GET lots/?item=`: lots with expiry and cost.
- `GET stock/?location=&item=`: on hand per item and location (`on_hand`, `usable` = unexpired,
  `expired`, `reorder_level`, `low`).
- `GET moves/?kind=&item=&location=`: the ledger (pharmacists only: dispense and return moves name a
  patient; audited as a search). Writes, pharmacists only, each answering 201 with the moves written:
  `POST moves/receive/` {item, location, lot_number, quantity, expiry_date?, unit_cost?, reference?};
  `POST moves/transfer/` {item, quantity, from_location, to_location, reason?};
  `POST moves/adjust/` {lot, location, delta, reason}; `POST moves/return/` {lot, location, quantity,
  reason, dispense?}; `POST moves/write-off/` {location, lot?, reason?} (expired lots).
- `GET reports/expiring/?days=30`, `reports/valuation/`, `reports/low-stock/`: JSON; add `?format=csv`
  (or `Accept: text/csv`) for a CSV download.

Dispensing:
- `GET /api/dispensing/worklist/`: signed active prescriptions with something left to dispense
  (pharmacists).
- `GET /api/dispenses/?patient=&prescription=`: dispenses, scoped (pharmacists all; doctors and nurses
  their patients'; patients their own); `GET /api/dispenses/{id}/`. `POST /api/dispenses/`
  {prescription, quantity, location, days_supply?, note?} dispenses (pharmacists) → 201.

Roles (decided for issue 5): stock is kept by the pharmacy. Pharmacists read and write everything here.
Doctors and nurses read items, locations, lots and stock (to know what the ward store holds); a ward is
restocked by a pharmacy transfer, so nurses do not write moves. Admins read items, locations, lots, stock
and the three reports (no patient data in them) and may add items and locations, but never move stock or
read the ledger. Receptionists, billing, lab technicians and patients reach nothing of the inventory (403);
patients read their own dispenses.

Errors: 400 field errors, 403 a role that never does this act, 404 missing or not visible, 409 not enough
stock or a state clash, with `available` in the body for stock.
"""

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import BaseRenderer, BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.api_base import CappedCountPagination, HasRole, StrictSerializer, paginate_audited
from hms.core.errors import NotFoundOrForbidden
from hms.pharmacy import dispensing
from hms.pharmacy.models import MedicationDispense, MedicationRequest

from . import selectors, services
from .models import InventoryItem, ItemKind, LocationKind, MoveKind, StockLocation, StockLot, StockMove

MAX_ID = 2**63 - 1
STOCK_READERS = (Role.PHARMACIST, Role.DOCTOR, Role.NURSE, Role.ADMIN)
CATALOG_WRITERS = (Role.PHARMACIST, Role.ADMIN)
REPORT_READERS = (Role.PHARMACIST, Role.ADMIN)
PHARMACIST = (Role.PHARMACIST,)
DISPENSE_READERS = (Role.PHARMACIST, Role.DOCTOR, Role.NURSE, Role.PATIENT)


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # pragma: no cover - unused
        return data if isinstance(data, str | bytes) else b""


def _get_or_400(model, pk, field: str, **filters):
    from django.core.exceptions import ValidationError

    row = model.objects.filter(pk=pk, **filters).first() if pk is not None else None
    if row is None:
        raise ValidationError({field: "Not found."})
    return row


# ---------------------------------------------------------------- output serializers


class InventoryItemSerializer(serializers.ModelSerializer):
    class Meta:
        model = InventoryItem
        fields = ["id", "kind", "rxcui", "name", "unit", "unit_cost", "currency", "active"]
        read_only_fields = fields


class StockLocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = StockLocation
        fields = ["id", "name", "kind", "active"]
        read_only_fields = fields


class StockLotSerializer(serializers.ModelSerializer):
    item_name = serializers.CharField(source="item.name", read_only=True)

    class Meta:
        model = StockLot
        fields = ["id", "item", "item_name", "lot_number", "expiry_date", "unit_cost", "currency"]
        read_only_fields = fields


class StockMoveSerializer(serializers.ModelSerializer):
    quantity = serializers.DecimalField(
        max_digits=14, decimal_places=3, read_only=True, help_text="Signed, in the item's unit of issue."
    )
    lot_number = serializers.CharField(source="lot.lot_number", read_only=True)
    by = serializers.CharField(source="by.username", read_only=True)

    class Meta:
        model = StockMove
        fields = [
            "id",
            "kind",
            "item",
            "lot",
            "lot_number",
            "location",
            "quantity",
            "reason",
            "reference",
            "group",
            "dispense",
            "patient",
            "by",
            "at",
        ]
        read_only_fields = fields


class StockLineSerializer(serializers.Serializer):
    item = InventoryItemSerializer()
    location = StockLocationSerializer()
    on_hand = serializers.DecimalField(max_digits=14, decimal_places=3)
    usable = serializers.DecimalField(max_digits=14, decimal_places=3, help_text="In unexpired lots.")
    expired = serializers.DecimalField(max_digits=14, decimal_places=3)
    reorder_level = serializers.DecimalField(max_digits=12, decimal_places=3, allow_null=True)
    next_expiry = serializers.DateField(allow_null=True)
    low = serializers.BooleanField()


class ExpiringLotSerializer(serializers.Serializer):
    item = serializers.CharField(source="item.name")
    rxcui = serializers.CharField(source="item.rxcui")
    lot = serializers.IntegerField(source="lot_id")
    lot_number = serializers.CharField(source="lot.lot_number")
    expiry_date = serializers.DateField(source="lot.expiry_date")
    expired = serializers.SerializerMethodField()
    location = serializers.CharField(source="location.name")
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    unit = serializers.CharField(source="item.unit")

    def get_expired(self, obj) -> bool:
        return obj.lot.is_expired()


class ValuationLineSerializer(serializers.Serializer):
    item = serializers.CharField(source="item.name")
    item_id = serializers.IntegerField(source="item.pk")
    location = serializers.CharField(source="location.name")
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    value = serializers.DecimalField(max_digits=20, decimal_places=2, help_text="Lot cost x on hand.")
    currency = serializers.CharField()


class ValuationReportSerializer(serializers.Serializer):
    method = serializers.CharField()
    lines = ValuationLineSerializer(many=True)
    totals = serializers.DictField(child=serializers.DecimalField(max_digits=20, decimal_places=2))


class DispenseSerializer(serializers.ModelSerializer):
    """A MedicationDispense (FHIR R4)."""

    medication = serializers.SerializerMethodField()
    lots = serializers.ListField(child=serializers.DictField(), read_only=True)
    dispensed_by = serializers.CharField(source="dispensed_by.username", read_only=True)

    class Meta:
        model = MedicationDispense
        fields = [
            "id",
            "patient",
            "prescription",
            "medication",
            "status",
            "quantity",
            "quantity_unit",
            "days_supply",
            "is_partial",
            "dispensed_at",
            "dispensed_by",
            "lots",
            "note",
        ]
        read_only_fields = fields

    def get_medication(self, obj) -> dict:
        return obj.coding


class WorklistEntrySerializer(serializers.ModelSerializer):
    medication = serializers.SerializerMethodField()
    patient_name = serializers.SerializerMethodField()
    mrn = serializers.CharField(source="patient.mrn", read_only=True)
    dispensed = serializers.DecimalField(max_digits=14, decimal_places=3, read_only=True)
    allowed = serializers.DecimalField(
        max_digits=14, decimal_places=3, read_only=True, help_text="quantity x (1 + refills)."
    )

    class Meta:
        model = MedicationRequest
        fields = [
            "id",
            "patient",
            "patient_name",
            "mrn",
            "medication",
            "dosage_text",
            "quantity",
            "quantity_unit",
            "refills",
            "signed_at",
            "dispensed",
            "allowed",
            "cds_findings",
            "cds_override_reason",
        ]
        read_only_fields = fields

    def get_medication(self, obj) -> dict:
        return obj.coding

    def get_patient_name(self, obj) -> str:
        return f"{obj.patient.given_names} {obj.patient.family_name}".strip()


# ---------------------------------------------------------------- input serializers


class ItemCreateInput(StrictSerializer):
    kind = serializers.ChoiceField(choices=ItemKind.choices)
    rxcui = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    name = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    unit = serializers.CharField(max_length=40)
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=4, min_value=0, default=0)
    currency = serializers.CharField(max_length=3, required=False, allow_blank=True, default="")


class LocationCreateInput(StrictSerializer):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=LocationKind.choices, default=LocationKind.PHARMACY)


class ReceiveInput(StrictSerializer):
    item = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    location = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    lot_number = serializers.CharField(max_length=60)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    expiry_date = serializers.DateField(required=False, allow_null=True)
    unit_cost = serializers.DecimalField(max_digits=12, decimal_places=4, required=False, allow_null=True)
    reference = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")


class TransferInput(StrictSerializer):
    item = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    from_location = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    to_location = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class AdjustInput(StrictSerializer):
    lot = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    location = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    delta = serializers.DecimalField(max_digits=14, decimal_places=3, help_text="Signed change.")
    reason = serializers.CharField(max_length=500)


class ReturnInput(StrictSerializer):
    lot = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    location = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    reason = serializers.CharField(max_length=500)
    dispense = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)


class WriteOffInput(StrictSerializer):
    location = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    lot = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False, allow_null=True)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="Expired")


class DispenseCreateInput(StrictSerializer):
    prescription = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = serializers.DecimalField(max_digits=14, decimal_places=3)
    location = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    days_supply = serializers.IntegerField(min_value=1, max_value=366, required=False, allow_null=True)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class StockQuery(StrictSerializer):
    location = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    item = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    kind = serializers.ChoiceField(choices=MoveKind.choices, required=False)
    q = serializers.CharField(max_length=100, required=False, allow_blank=True)
    days = serializers.IntegerField(min_value=0, max_value=3650, required=False, default=30)
    patient = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    prescription = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


def _query(request) -> dict:
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "page_size", "format")}
    query = StockQuery(data=params)
    query.is_valid(raise_exception=True)
    return query.validated_data


# ---------------------------------------------------------------- catalogue views


class InventoryItemListApi(GenericAPIView):
    """GET: stocked items (`?q=`). POST: add an item (pharmacists, admins)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STOCK_READERS, "POST": CATALOG_WRITERS}
    serializer_class = InventoryItemSerializer
    pagination_class = CappedCountPagination
    queryset = InventoryItem.objects.none()

    @extend_schema(operation_id="inventory_items_list", parameters=[OpenApiParameter("q", str)])
    def get(self, request):
        params = _query(request)
        page = self.paginate_queryset(selectors.items_search(params.get("q", "")))
        return self.get_paginated_response(InventoryItemSerializer(page, many=True).data)

    @extend_schema(
        operation_id="inventory_items_create",
        request=ItemCreateInput,
        responses={201: InventoryItemSerializer, 400: None, 403: None, 409: None},
    )
    def post(self, request):
        data = ItemCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.item_create(**data.validated_data, by=request.user, request=request)
        return Response(InventoryItemSerializer(item).data, status=status.HTTP_201_CREATED)


class StockLocationListApi(GenericAPIView):
    """GET: stock locations. POST: add one (pharmacists, admins)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STOCK_READERS, "POST": CATALOG_WRITERS}
    serializer_class = StockLocationSerializer
    pagination_class = CappedCountPagination
    queryset = StockLocation.objects.none()

    @extend_schema(operation_id="inventory_locations_list")
    def get(self, request):
        page = self.paginate_queryset(
            StockLocation.objects.filter(active=True).order_by("kind", "name", "id")
        )
        return self.get_paginated_response(StockLocationSerializer(page, many=True).data)

    @extend_schema(
        operation_id="inventory_locations_create",
        request=LocationCreateInput,
        responses={201: StockLocationSerializer, 400: None, 403: None, 409: None},
    )
    def post(self, request):
        data = LocationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        location = services.location_create(**data.validated_data, by=request.user, request=request)
        return Response(StockLocationSerializer(location).data, status=status.HTTP_201_CREATED)


class StockLotListApi(GenericAPIView):
    """GET: lots (`?item=`), soonest expiry first."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STOCK_READERS}
    serializer_class = StockLotSerializer
    pagination_class = CappedCountPagination
    queryset = StockLot.objects.none()

    @extend_schema(operation_id="inventory_lots_list", parameters=[OpenApiParameter("item", int)])
    def get(self, request):
        params = _query(request)
        qs = selectors.lots_visible()
        if "item" in params:
            qs = qs.filter(item_id=params["item"])
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(StockLotSerializer(page, many=True).data)


class StockOnHandApi(GenericAPIView):
    """GET: on hand per item and location (`?location=`, `?item=`)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": STOCK_READERS}
    serializer_class = StockLineSerializer
    pagination_class = None
    queryset = StockLocation.objects.none()

    @extend_schema(
        operation_id="inventory_stock_list",
        parameters=[OpenApiParameter("location", int), OpenApiParameter("item", int)],
        responses=StockLineSerializer(many=True),
    )
    def get(self, request):
        params = _query(request)
        location = None
        if "location" in params:
            location = StockLocation.objects.filter(pk=params["location"]).first()
            if location is None:
                raise NotFoundOrForbidden()
        lines = selectors.stock_summary(location=location)
        if "item" in params:
            lines = [s for s in lines if s.item.pk == params["item"]]
        return Response(StockLineSerializer(lines, many=True).data)


# ---------------------------------------------------------------- moves


class StockMoveListApi(GenericAPIView):
    """GET: the stock ledger, newest first (pharmacists; audited: dispense moves name a patient)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": PHARMACIST}
    serializer_class = StockMoveSerializer
    pagination_class = CappedCountPagination
    queryset = StockMove.objects.none()

    @extend_schema(
        operation_id="inventory_moves_list",
        parameters=[
            OpenApiParameter("kind", str, enum=MoveKind.values),
            OpenApiParameter("item", int),
            OpenApiParameter("location", int),
        ],
    )
    def get(self, request):
        params = _query(request)
        qs = selectors.moves_list()
        for name in ("kind", "item", "location"):
            if name in params:
                qs = qs.filter(**{name if name == "kind" else f"{name}_id": params[name]})
        with transaction.atomic():
            page = self.paginate_queryset(qs)
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                patients=sorted({m.patient_id for m in page if m.patient_id}),
                object_type="inventory.StockMove",
                detail={"query": {k: str(v)[:100] for k, v in request.query_params.items()}},
            )
        return self.get_paginated_response(StockMoveSerializer(page, many=True).data)


class _MoveWriteApi(GenericAPIView):
    permission_classes = (HasRole,)
    allowed_roles = {"POST": PHARMACIST}
    serializer_class = StockMoveSerializer
    queryset = StockMove.objects.none()

    def _done(self, moves) -> Response:
        return Response(StockMoveSerializer(moves, many=True).data, status=status.HTTP_201_CREATED)


MOVE_RESPONSES = {201: StockMoveSerializer(many=True), 400: None, 403: None, 409: None}


class StockReceiveApi(_MoveWriteApi):
    """POST: receive a delivery into a location (a lot with its expiry and cost)."""

    @extend_schema(operation_id="inventory_moves_receive", request=ReceiveInput, responses=MOVE_RESPONSES)
    def post(self, request):
        data = ReceiveInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        move = services.stock_receive(
            item=_get_or_400(InventoryItem, p["item"], "item"),
            location=_get_or_400(StockLocation, p["location"], "location"),
            lot_number=p["lot_number"],
            quantity=p["quantity"],
            expiry_date=p.get("expiry_date"),
            unit_cost=p.get("unit_cost"),
            reference=p["reference"],
            by=request.user,
            request=request,
        )
        return self._done([move])


class StockTransferApi(_MoveWriteApi):
    """POST: move stock between locations, FEFO from the source."""

    @extend_schema(operation_id="inventory_moves_transfer", request=TransferInput, responses=MOVE_RESPONSES)
    def post(self, request):
        data = TransferInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        moves = services.stock_transfer(
            item=_get_or_400(InventoryItem, p["item"], "item"),
            quantity=p["quantity"],
            from_location=_get_or_400(StockLocation, p["from_location"], "from_location"),
            to_location=_get_or_400(StockLocation, p["to_location"], "to_location"),
            reason=p["reason"],
            by=request.user,
            request=request,
        )
        return self._done(moves)


class StockAdjustApi(_MoveWriteApi):
    """POST: correct the on hand of a lot at a location, with a reason."""

    @extend_schema(operation_id="inventory_moves_adjust", request=AdjustInput, responses=MOVE_RESPONSES)
    def post(self, request):
        data = AdjustInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        move = services.stock_adjust(
            lot=_get_or_400(StockLot, p["lot"], "lot"),
            location=_get_or_400(StockLocation, p["location"], "location"),
            delta=p["delta"],
            reason=p["reason"],
            by=request.user,
            request=request,
        )
        return self._done([move])


class StockReturnApi(_MoveWriteApi):
    """POST: put stock back (unused dispensed medication or ward returns), with a reason."""

    @extend_schema(operation_id="inventory_moves_return", request=ReturnInput, responses=MOVE_RESPONSES)
    def post(self, request):
        data = ReturnInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        dispense = None
        if p.get("dispense"):
            dispense = dispensing.dispenses_visible(request.user).filter(pk=p["dispense"]).first()
            if dispense is None:
                raise NotFoundOrForbidden()
        move = services.stock_return(
            lot=_get_or_400(StockLot, p["lot"], "lot"),
            location=_get_or_400(StockLocation, p["location"], "location"),
            quantity=p["quantity"],
            reason=p["reason"],
            dispense=dispense,
            by=request.user,
            request=request,
        )
        return self._done([move])


class StockWriteOffApi(_MoveWriteApi):
    """POST: write off the expired lots on hand at a location (or one expired lot)."""

    @extend_schema(operation_id="inventory_moves_write_off", request=WriteOffInput, responses=MOVE_RESPONSES)
    def post(self, request):
        data = WriteOffInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        moves = services.stock_write_off_expired(
            location=_get_or_400(StockLocation, p["location"], "location"),
            lot=_get_or_400(StockLot, p["lot"], "lot") if p.get("lot") else None,
            reason=p["reason"],
            by=request.user,
            request=request,
        )
        return self._done(moves)


# ---------------------------------------------------------------- reports

CSV_PARAM = OpenApiParameter("format", str, enum=["json", "csv"], description="csv: a CSV download.")


class _ReportApi(GenericAPIView):
    permission_classes = (HasRole,)
    allowed_roles = {"GET": REPORT_READERS}
    pagination_class = None
    renderer_classes = (JSONRenderer, BrowsableAPIRenderer, CSVRenderer)
    queryset = StockLocation.objects.none()
    filename = "report"

    def _wants_csv(self, request) -> bool:
        return getattr(request.accepted_renderer, "format", "") == "csv"

    def _csv(self, text: str) -> HttpResponse:
        response = HttpResponse(text, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.filename}.csv"'
        return response


CSV_RESPONSE = OpenApiResponse(response=OpenApiTypes.STR, description="text/csv with ?format=csv")


class ExpiringReportApi(_ReportApi):
    """GET `?days=30`: lots on hand expiring within `days` days (0-3650), expired ones included."""

    serializer_class = ExpiringLotSerializer
    filename = "expiring"

    @extend_schema(
        operation_id="inventory_reports_expiring",
        parameters=[OpenApiParameter("days", int), CSV_PARAM],
        responses={200: ExpiringLotSerializer(many=True)},
    )
    def get(self, request):
        days = _query(request)["days"]
        if self._wants_csv(request):
            return self._csv(selectors.expiring_csv(days=days))
        return Response(ExpiringLotSerializer(selectors.expiring_report(days=days), many=True).data)


class ValuationReportApi(_ReportApi):
    """GET: stock value per item and location and totals per currency (lot cost x on hand)."""

    serializer_class = ValuationReportSerializer
    filename = "valuation"

    @extend_schema(
        operation_id="inventory_reports_valuation",
        parameters=[CSV_PARAM],
        responses={200: ValuationReportSerializer},
    )
    def get(self, request):
        _query(request)
        if self._wants_csv(request):
            return self._csv(selectors.valuation_csv())
        lines, totals = selectors.valuation_report()
        data = {"method": "lot cost x on hand (specific identification)", "lines": lines, "totals": totals}
        return Response(ValuationReportSerializer(data).data)


class LowStockReportApi(_ReportApi):
    """GET: items at or below their reorder level (usable stock), per location."""

    serializer_class = StockLineSerializer
    filename = "low-stock"

    @extend_schema(
        operation_id="inventory_reports_low_stock",
        parameters=[CSV_PARAM],
        responses={200: StockLineSerializer(many=True)},
    )
    def get(self, request):
        _query(request)
        if self._wants_csv(request):
            return self._csv(selectors.low_stock_csv())
        return Response(StockLineSerializer(selectors.low_stock_report(), many=True).data)


# ---------------------------------------------------------------- dispensing


class DispenseWorklistApi(GenericAPIView):
    """GET: signed active prescriptions with something left to dispense (pharmacists), oldest first."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": PHARMACIST}
    serializer_class = WorklistEntrySerializer
    pagination_class = CappedCountPagination
    queryset = MedicationRequest.objects.none()

    @extend_schema(operation_id="dispensing_worklist")
    def get(self, request):
        qs = dispensing.dispense_worklist(request.user)
        page = paginate_audited(self, request, qs, object_type="pharmacy.MedicationRequest")
        return self.get_paginated_response(WorklistEntrySerializer(page, many=True).data)


class DispenseListCreateApi(GenericAPIView):
    """GET: dispenses the caller may see. POST: dispense a prescription (pharmacists)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": DISPENSE_READERS, "POST": PHARMACIST}
    serializer_class = DispenseSerializer
    pagination_class = CappedCountPagination
    queryset = MedicationDispense.objects.none()

    @extend_schema(
        operation_id="dispenses_list",
        parameters=[OpenApiParameter("patient", int), OpenApiParameter("prescription", int)],
    )
    def get(self, request):
        params = _query(request)
        qs = dispensing.dispenses_visible(request.user)
        if "patient" in params:
            qs = qs.filter(patient_id=params["patient"])
        if "prescription" in params:
            qs = qs.filter(prescription_id=params["prescription"])
        page = paginate_audited(self, request, qs, object_type="pharmacy.MedicationDispense")
        return self.get_paginated_response(DispenseSerializer(page, many=True).data)

    @extend_schema(
        operation_id="dispenses_create",
        request=DispenseCreateInput,
        responses={201: DispenseSerializer, 400: None, 403: None, 404: None, 409: None},
    )
    def post(self, request):
        data = DispenseCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        p = data.validated_data
        prescription = dispensing.worklist_prescription_get(
            user=request.user, prescription_id=p["prescription"]
        )
        dispense = dispensing.prescription_dispense(
            prescription=prescription,
            quantity=p["quantity"],
            location=_get_or_400(StockLocation, p["location"], "location", active=True),
            days_supply=p.get("days_supply"),
            note=p["note"],
            by=request.user,
            request=request,
        )
        return Response(DispenseSerializer(dispense).data, status=status.HTTP_201_CREATED)


class DispenseDetailApi(GenericAPIView):
    """GET: one dispense the caller may see (audited read)."""

    permission_classes = (HasRole,)
    allowed_roles = {"GET": DISPENSE_READERS}
    serializer_class = DispenseSerializer
    queryset = MedicationDispense.objects.none()

    @extend_schema(operation_id="dispenses_retrieve", responses={200: DispenseSerializer, 404: None})
    def get(self, request, pk: int):
        with transaction.atomic():
            dispense = dispensing.dispense_get(user=request.user, dispense_id=pk)
            audit_record(action=AuditAction.READ, request=request, patient=dispense.patient, obj=dispense)
        return Response(DispenseSerializer(dispense).data)
