"""The inventory in the Django admin: read-only (stock changes only through `hms.inventory.services`, which
lock, check and audit)."""

from django.contrib import admin

from .models import InventoryItem, ReorderLevel, StockBalance, StockLocation, StockLot, StockMove


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(InventoryItem)
class InventoryItemAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "kind", "rxcui", "unit", "unit_cost", "currency", "active")
    search_fields = ("name", "rxcui")


@admin.register(StockLocation)
class StockLocationAdmin(ReadOnlyAdmin):
    list_display = ("id", "name", "kind", "active")


@admin.register(StockLot)
class StockLotAdmin(ReadOnlyAdmin):
    list_display = ("id", "item", "lot_number", "expiry_date", "unit_cost", "currency")
    list_select_related = ("item",)


@admin.register(StockBalance)
class StockBalanceAdmin(ReadOnlyAdmin):
    list_display = ("id", "item", "lot", "location", "quantity")
    list_select_related = ("item", "lot", "location")


@admin.register(ReorderLevel)
class ReorderLevelAdmin(ReadOnlyAdmin):
    list_display = ("id", "item", "location", "level")


@admin.register(StockMove)
class StockMoveAdmin(ReadOnlyAdmin):
    list_display = ("id", "at", "kind", "item", "lot", "location", "quantity", "by")
    list_filter = ("kind",)
    list_select_related = ("item", "lot", "location", "by")
