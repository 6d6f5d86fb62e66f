from django.apps import AppConfig


class LabConfig(AppConfig):
    name = "hms.lab"
    label = "lab"
