"""Seed the standard hospital emergency codes (data only).

Source: Hospital Association of Southern California (HASC), "Health Care Emergency Codes: A Guide for
Code Standardization", 3rd ed. (2014), the plain-language colour codes adopted by the California Hospital
Association and many US state hospital associations: Code Red = fire, Code Blue = adult medical
emergency, Code White = pediatric medical emergency, Code Pink = infant abduction, Code Purple = child
abduction, Code Orange = hazardous material spill/release, Code Gray = combative person, Code Silver =
person with a weapon / hostage, Code Yellow = bomb threat, Code Triage = internal/external disaster
(mass casualty incident). Rapid Response Team: Institute for Healthcare Improvement, "100,000 Lives
Campaign: Deploy Rapid Response Teams" (2004). Teams are empty: administrators assign them in the admin.
Re-running is harmless (`update_or_create` by key); reversing removes only codes never activated.
"""

from django.db import migrations

CODES = [
    ("blue", "Code Blue", "Adult medical emergency: cardiac or respiratory arrest.", "#1d4ed8"),
    ("white", "Code White", "Pediatric medical emergency.", "#475569"),
    (
        "rapid-response",
        "Rapid Response",
        "Rapid response team: a deteriorating patient before arrest.",
        "#0e7490",
    ),
    ("red", "Code Red", "Fire.", "#b91c1c"),
    ("pink", "Code Pink", "Infant abduction.", "#db2777"),
    ("purple", "Code Purple", "Child abduction.", "#7e22ce"),
    ("orange", "Code Orange", "Hazardous material spill or release.", "#c2410c"),
    ("gray", "Code Gray", "Combative or violent person, no weapon.", "#4b5563"),
    ("silver", "Code Silver", "Person with a weapon or hostage situation.", "#64748b"),
    ("yellow", "Code Yellow", "Bomb threat or suspicious package.", "#a16207"),
    ("triage-internal", "Code Triage Internal", "Internal disaster (e.g. loss of utilities).", "#15803d"),
    ("triage-external", "Code Triage External", "External disaster: mass casualty incident.", "#166534"),
]


def seed(apps, schema_editor):
    CodeType = apps.get_model("emergency", "CodeType")
    for key, name, description, colour in CODES:
        CodeType.objects.update_or_create(
            key=key, defaults={"name": name, "description": description, "colour": colour, "active": True}
        )


def unseed(apps, schema_editor):
    CodeType = apps.get_model("emergency", "CodeType")
    CodeType.objects.filter(key__in=[c[0] for c in CODES], activations__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("emergency", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
