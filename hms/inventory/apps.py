from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "hms.inventory"
    label = "inventory"
    verbose_name = "Inventory and supply"
