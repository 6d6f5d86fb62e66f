from django.apps import AppConfig


class PharmacyConfig(AppConfig):
    name = "hms.pharmacy"
    label = "pharmacy"
