from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "hms.fhir"
    label = "fhir"
