from django.apps import AppConfig


class EmergencyConfig(AppConfig):
    name = "hms.emergency"
    verbose_name = "Emergency care and alerts"
