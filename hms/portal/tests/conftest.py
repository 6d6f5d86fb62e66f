"""Fixtures of the portal tests: a patient with a small but complete chart, in a doctor's care."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.clinical.models import (
    AllergyIntolerance,
    Condition,
    EncounterClass,
    Immunization,
    Observation,
    Procedure,
)
from hms.core import codes
from hms.core.testing import EncounterFactory, PatientFactory, make_user
from hms.pharmacy.models import MedicationRequest

PASSWORD = "pass-Word-123"  # set by hms.core.testing.UserFactory


def build_chart(patient, practitioner, *, visits: int = 6):
    """Give `patient` `visits` encounters with `practitioner` (one every ~4 months, newest 3 days ago),
    each with blood pressure, weight and BMI; plus an allergy, conditions, medications, a lab result,
    an immunization and a procedure. Returns the encounters, newest first."""
    now = timezone.now()
    encounters = []
    for i in range(visits):
        start = now - dt.timedelta(days=3 + 120 * i)
        enc = EncounterFactory(
            patient=patient,
            practitioner=practitioner,
            period_start=start,
            period_end=start + dt.timedelta(minutes=30),
            encounter_class=EncounterClass.EMERGENCY if i == 2 else EncounterClass.AMBULATORY,
            code_system=codes.SNOMED,
            code="185349003",
            code_display=f"Encounter for check up #{i}",
            reason_display="Hypertension" if i % 2 else "",
        )
        encounters.append(enc)
        common = {
            "patient": patient,
            "encounter": enc,
            "category": "vital-signs",
            "effective_at": start,
            "code_system": codes.LOINC,
        }
        Observation.objects.create(
            **common,
            code=codes.LOINC_BLOOD_PRESSURE,
            code_display="Blood pressure panel",
            components=[
                {
                    "code": codes.LOINC_SYSTOLIC,
                    "system": codes.LOINC,
                    "display": "Systolic",
                    "value": 128 + i,
                    "unit": "mm[Hg]",
                },
                {
                    "code": codes.LOINC_DIASTOLIC,
                    "system": codes.LOINC,
                    "display": "Diastolic",
                    "value": 82 - i,
                    "unit": "mm[Hg]",
                },
            ],
        )
        Observation.objects.create(
            **common,
            code=codes.LOINC_BODY_WEIGHT,
            code_display="Body weight",
            value_quantity=Decimal("81.4") - i,
            value_unit="kg",
        )
        Observation.objects.create(
            **common,
            code=codes.LOINC_BMI,
            code_display="Body mass index",
            value_quantity=Decimal("27.1") - Decimal(i) / 3,
            value_unit="kg/m2",
        )
    latest = encounters[0]
    AllergyIntolerance.objects.create(
        patient=patient,
        code_system=codes.SNOMED,
        code="91936005",
        code_display="Allergy to penicillin",
        category="medication",
        criticality="high",
        reactions=[{"manifestation": "Hives", "severity": "mild"}],
    )
    AllergyIntolerance.objects.create(
        patient=patient,
        code_system=codes.SNOMED,
        code="300913006",
        code_display="Shellfish allergy",
        category="food",
        clinical_status="resolved",
    )
    Condition.objects.create(
        patient=patient,
        encounter=latest,
        code_system=codes.SNOMED,
        code="59621000",
        code_display="Essential hypertension",
        onset_at=now - dt.timedelta(days=700),
    )
    Condition.objects.create(
        patient=patient,
        encounter=latest,
        code_system=codes.SNOMED,
        code="444814009",
        code_display="Viral sinusitis",
        clinical_status="resolved",
        onset_at=now - dt.timedelta(days=400),
        abatement_at=now - dt.timedelta(days=390),
    )
    MedicationRequest.objects.create(
        patient=patient,
        encounter=latest,
        code_system=codes.RXNORM,
        code="314076",
        code_display="lisinopril 10 MG Oral Tablet",
        status="active",
        authored_on=now - dt.timedelta(days=600),
        requester=practitioner,
        dosage_text="1 tablet once daily",
    )
    MedicationRequest.objects.create(
        patient=patient,
        encounter=latest,
        code_system=codes.RXNORM,
        code="308182",
        code_display="amoxicillin 250 MG Oral Capsule",
        status="stopped",
        authored_on=now - dt.timedelta(days=395),
    )
    Observation.objects.create(
        patient=patient,
        encounter=latest,
        category="laboratory",
        code_system=codes.LOINC,
        code="2339-0",
        code_display="Glucose [Mass/volume] in Blood",
        value_quantity=Decimal("94.500000"),
        value_unit="mg/dL",
        effective_at=latest.period_start,
    )
    Immunization.objects.create(
        patient=patient,
        encounter=latest,
        code_system=codes.CVX,
        code="140",
        code_display="Influenza, seasonal, injectable, preservative free",
        occurrence_at=latest.period_start,
    )
    Procedure.objects.create(
        patient=patient,
        encounter=latest,
        code_system=codes.SNOMED,
        code="430193006",
        code_display="Medication reconciliation (procedure)",
        performed_start=latest.period_start,
    )
    return encounters


@pytest.fixture
def charted(db):
    """(doctor, patient): a doctor and a patient in their care with a complete small chart."""
    doctor = make_user(Role.DOCTOR, first_name="Gregory", last_name="House")
    patient = PatientFactory(family_name="Quigley", given_names="Chad")
    build_chart(patient, doctor.practitioner)
    return doctor, patient


@pytest.fixture
def consult(db):
    """The visit type booked in the appointment tests: a 20-minute consultation."""
    from hms.scheduling.models import ServiceType

    return ServiceType.objects.create(code="consult", display="Consultation", default_minutes=20)


@pytest.fixture
def cardiologist(db):
    """A doctor in cardiology, Mon-Fri 09:00-12:00 + 13:00-17:00 in the hospital's time zone."""
    from hms.scheduling.tests.conftest import give_schedule
    from hms.staff.models import Specialty

    user = make_user(Role.DOCTOR, first_name="Helen", last_name="Cho")
    user.practitioner.specialty = Specialty.objects.get_or_create(
        code="394579002", defaults={"display": "Cardiology"}
    )[0]
    user.practitioner.save()
    give_schedule(user.practitioner)
    return user
