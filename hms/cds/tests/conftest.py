"""Fixtures of the decision-support tests: a patient in a doctor's and a nurse's care, a stranger patient,
one user of every other role, and helpers that record prescriptions and allergies as real rows."""

from decimal import Decimal

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.clinical.models import AllergyIntolerance
from hms.core import codes
from hms.core.testing import PatientFactory, make_user, put_in_care
from hms.pharmacy import catalog
from hms.pharmacy.models import MedicationRequest


@pytest.fixture
def cds_world(db):
    doctor = make_user(Role.DOCTOR)
    nurse = make_user(Role.NURSE)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    put_in_care(doctor, patient)
    put_in_care(nurse, patient)
    other_doctor = make_user(Role.DOCTOR)
    stranger = PatientFactory()
    put_in_care(other_doctor, stranger)
    return {
        "doctor": doctor,
        "nurse": nurse,
        "patient_user": patient_user,
        "patient": patient,
        "other_doctor": other_doctor,
        "stranger": stranger,
        "pharmacist": make_user(Role.PHARMACIST),
        "receptionist": make_user(Role.RECEPTIONIST),
        "lab": make_user(Role.LAB_TECHNICIAN),
        "billing": make_user(Role.BILLING),
        "admin": make_user(Role.ADMIN),
    }


def prescribe(patient, rxcui, *, status="active", dose=None, unit="", per_day=None) -> MedicationRequest:
    """An existing prescription row of `patient` (as imported or signed earlier)."""
    med = catalog.medication_get(rxcui)
    return MedicationRequest.objects.create(
        patient=patient,
        code_system=codes.RXNORM,
        code=rxcui,
        code_display=med.name if med else rxcui,
        status=status,
        authored_on=timezone.now(),
        dose_value=None if dose is None else Decimal(str(dose)),
        dose_unit=unit,
        frequency_per_day=None if per_day is None else Decimal(str(per_day)),
    )


def allergy(patient, display, *, system="", code="", status="active", category="medication"):
    return AllergyIntolerance.objects.create(
        patient=patient,
        code_system=system,
        code=code,
        code_display=display,
        clinical_status=status,
        category=category,
        recorded_at=timezone.now(),
    )
