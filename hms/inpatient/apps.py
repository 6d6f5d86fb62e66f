from django.apps import AppConfig


class InpatientConfig(AppConfig):
    name = "hms.inpatient"
    verbose_name = "Inpatient care"
