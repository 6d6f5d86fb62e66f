from django.urls import path

from . import api

urlpatterns = [
    path("inventory/items/", api.InventoryItemListApi.as_view(), name="api-inventory-items"),
    path("inventory/locations/", api.StockLocationListApi.as_view(), name="api-inventory-locations"),
    path("inventory/lots/", api.StockLotListApi.as_view(), name="api-inventory-lots"),
    path("inventory/stock/", api.StockOnHandApi.as_view(), name="api-inventory-stock"),
    path("inventory/moves/", api.StockMoveListApi.as_view(), name="api-inventory-moves"),
    path("inventory/moves/receive/", api.StockReceiveApi.as_view(), name="api-inventory-receive"),
    path("inventory/moves/transfer/", api.StockTransferApi.as_view(), name="api-inventory-transfer"),
    path("inventory/moves/adjust/", api.StockAdjustApi.as_view(), name="api-inventory-adjust"),
    path("inventory/moves/return/", api.StockReturnApi.as_view(), name="api-inventory-return"),
    path("inventory/moves/write-off/", api.StockWriteOffApi.as_view(), name="api-inventory-write-off"),
    path("inventory/reports/expiring/", api.ExpiringReportApi.as_view(), name="api-inventory-expiring"),
    path("inventory/reports/valuation/", api.ValuationReportApi.as_view(), name="api-inventory-valuation"),
    path("inventory/reports/low-stock/", api.LowStockReportApi.as_view(), name="api-inventory-low-stock"),
    path("dispensing/worklist/", api.DispenseWorklistApi.as_view(), name="api-dispensing-worklist"),
    path("dispenses/", api.DispenseListCreateApi.as_view(), name="api-dispenses"),
    path("dispenses/<int:pk>/", api.DispenseDetailApi.as_view(), name="api-dispense"),
]
