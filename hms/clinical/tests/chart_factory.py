"""`chart_create()`: one encounter holding one record of every clinical type (for API tests)."""

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from hms.clinical.models import (
    AllergyIntolerance,
    CarePlan,
    Condition,
    Encounter,
    EncounterClass,
    Immunization,
    Observation,
    Procedure,
)
from hms.core import codes
from hms.lab.models import DiagnosticReport
from hms.pharmacy.models import MedicationRequest


def chart_create(*, patient, practitioner=None, when: dt.datetime | None = None) -> Encounter:
    """An ambulatory encounter of `patient` with `practitioner` at `when` (default: 3 days ago) and one
    condition, allergy, two observations (blood pressure, weight), medication request, immunization,
    procedure, diagnostic report and care plan recorded in it."""
    when = when or timezone.now() - dt.timedelta(days=3)
    common = {"patient": patient}
    encounter = Encounter.objects.create(
        **common,
        practitioner=practitioner,
        encounter_class=EncounterClass.AMBULATORY,
        period_start=when,
        period_end=when + dt.timedelta(minutes=30),
        code_system=codes.SNOMED,
        code="162673000",
        code_display="General examination of patient",
        status="finished",
    )
    common["encounter"] = encounter
    Condition.objects.create(
        **common, code_system=codes.SNOMED, code="44054006", code_display="Diabetes", onset_at=when
    )
    AllergyIntolerance.objects.create(
        **common,
        code_system=codes.SNOMED,
        code="91935009",
        code_display="Allergy to peanut",
        category="food",
        criticality="high",
        recorded_at=when,
    )
    Observation.objects.create(
        **common,
        code_system=codes.LOINC,
        code=codes.LOINC_BLOOD_PRESSURE,
        code_display="Blood pressure panel",
        category="vital-signs",
        effective_at=when,
        components=[
            {
                "code": codes.LOINC_SYSTOLIC,
                "system": codes.LOINC,
                "display": "Systolic",
                "value": 120,
                "unit": "mm[Hg]",
            },
            {
                "code": codes.LOINC_DIASTOLIC,
                "system": codes.LOINC,
                "display": "Diastolic",
                "value": 80,
                "unit": "mm[Hg]",
            },
        ],
    )
    weight = Observation.objects.create(
        **common,
        code_system=codes.LOINC,
        code=codes.LOINC_BODY_WEIGHT,
        code_display="Body weight",
        category="vital-signs",
        effective_at=when,
        value_quantity=Decimal("72.5"),
        value_unit="kg",
    )
    MedicationRequest.objects.create(
        **common,
        code_system=codes.RXNORM,
        code="860975",
        code_display="metformin 500 MG",
        authored_on=when,
        requester=practitioner,
    )
    Immunization.objects.create(
        **common, code_system=codes.CVX, code="140", code_display="Influenza", occurrence_at=when
    )
    Procedure.objects.create(
        **common, code_system=codes.SNOMED, code="73761001", code_display="Colonoscopy", performed_start=when
    )
    report = DiagnosticReport.objects.create(
        **common,
        code_system=codes.LOINC,
        code="57698-3",
        code_display="Lipid panel",
        category="LAB",
        effective_at=when,
    )
    report.results.add(weight)
    CarePlan.objects.create(
        **common,
        code_system=codes.SNOMED,
        code="698360004",
        code_display="Diabetes self management plan",
        period_start=when,
    )
    return encounter
