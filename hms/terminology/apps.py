from django.apps import AppConfig


class TerminologyConfig(AppConfig):
    """Code systems searched offline (no database tables): ICD-10-CM (`icd10.py`)."""

    name = "hms.terminology"
    label = "terminology"
