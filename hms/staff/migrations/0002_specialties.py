"""Seed clinical specialties: SNOMED CT codes from the FHIR R4 value set "Practice Setting Code"
(http://hl7.org/fhir/ValueSet/c80-practice-codes, HL7, CC0 content of the FHIR specification)."""

from django.db import migrations

SPECIALTIES = [
    ("394576009", "Accident & emergency"),
    ("394577000", "Anesthetics"),
    ("394579002", "Cardiology"),
    ("394803006", "Clinical hematology"),
    ("394592004", "Clinical oncology"),
    ("408478003", "Critical care medicine"),
    ("394582007", "Dermatology"),
    ("394583002", "Endocrinology"),
    ("394584008", "Gastroenterology"),
    ("394802001", "General medicine"),
    ("394814009", "General practice"),
    ("394609007", "General surgery"),
    ("394811001", "Geriatric medicine"),
    ("394586005", "Gynecology"),
    ("394589003", "Nephrology"),
    ("394591006", "Neurology"),
    ("394585009", "Obstetrics and gynecology"),
    ("394594003", "Ophthalmology"),
    ("394537008", "Pediatric specialty"),
    ("394611003", "Plastic surgery"),
    ("394587001", "Psychiatry"),
    ("394914008", "Radiology"),
    ("394602003", "Rehabilitation"),
    ("394590007", "Thoracic medicine"),
    ("394801008", "Trauma and orthopedics"),
    ("394612005", "Urology"),
]


def forwards(apps, schema_editor):
    Specialty = apps.get_model("staff", "Specialty")
    for code, display in SPECIALTIES:
        Specialty.objects.update_or_create(code=code, defaults={"display": display})


class Migration(migrations.Migration):
    dependencies = [("staff", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
