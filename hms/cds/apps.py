from django.apps import AppConfig


class CdsConfig(AppConfig):
    name = "hms.cds"
    label = "cds"
    verbose_name = "Clinical decision support"
