"""Ship SOAP note templates per specialty (idempotent: keyed on name + specialty code).

Specialties are the SNOMED CT practice settings seeded by `staff.0002_specialties`. The section prompts
follow the SOAP structure (Weed, "Medical records that guide and teach", NEJM 1968) and common history
and examination headings; they are starting text for the doctor, not clinical rules.
"""

from django.db import migrations

TEMPLATES = [
    (
        "General consultation",
        None,
        "Presenting complaint:\nHistory of presenting complaint:\nMedications:\nAllergies reviewed:",
        "General appearance:\nVital signs:\nExamination:",
        "Impression:",
        "Investigations:\nTreatment:\nFollow-up:",
    ),
    (
        "General practice review",
        "394814009",
        "Reason for visit:\nSymptoms and duration:\nRelevant history:\nSmoking / alcohol:",
        "BP, HR, temperature, weight:\nExamination:",
        "Working diagnosis:\nDifferential:",
        "Plan and safety-netting advice:\nReview in:",
    ),
    (
        "Cardiology consultation",
        "394579002",
        "Chest pain / dyspnoea / palpitations / syncope:\nNYHA class:\nCardiovascular risk factors:",
        "BP (both arms), HR and rhythm:\nHeart sounds, murmurs:\nJVP, peripheral oedema:\nECG:",
        "Cardiac diagnosis:\nRisk estimate:",
        "Investigations (echo, troponin, lipids):\nMedication changes:\nFollow-up:",
    ),
    (
        "Paediatric consultation",
        "394537008",
        "Presenting complaint (from parent/child):\nBirth and developmental history:\n"
        "Immunisations up to date:\nFeeding:",
        "Weight, height, centiles:\nTemperature, HR, RR, SpO2:\nExamination:",
        "Impression:",
        "Treatment (weight-based doses):\nAdvice to parents:\nFollow-up:",
    ),
    (
        "Emergency assessment",
        "394576009",
        "Mechanism / onset:\nPain score:\nLast meal, tetanus status:",
        "ABCDE:\nGCS:\nFocused examination:",
        "Triage category and impression:",
        "Immediate management:\nDisposition:",
    ),
    (
        "Endocrinology review",
        "394583002",
        "Glycaemic control, hypoglycaemia episodes:\nSymptoms:\nAdherence:",
        "Weight, BMI, BP:\nFoot examination:\nLatest HbA1c:",
        "Control assessment:",
        "Targets (e.g. HbA1c < 7 %):\nMedication changes:\nScreening due:",
    ),
]


def forwards(apps, schema_editor):
    NoteTemplate = apps.get_model("clinical", "NoteTemplate")
    Specialty = apps.get_model("staff", "Specialty")
    for name, specialty_code, s, o, a, p in TEMPLATES:
        specialty = None
        if specialty_code:
            specialty = Specialty.objects.filter(code=specialty_code).first()
            if specialty is None:
                continue
        NoteTemplate.objects.update_or_create(
            name=name,
            specialty=specialty,
            defaults={"subjective": s, "objective": o, "assessment": a, "plan": p, "is_active": True},
        )


class Migration(migrations.Migration):
    dependencies = [("clinical", "0002_clinical_workflows"), ("staff", "0002_specialties")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
