"""Test data of the e-prescribing tests (test_prescriptions, test_renewals and the portal pages): each test
file wraps `make_rx_world` in its own `rx_world` fixture."""

from hms.accounts.roles import Role
from hms.clinical.models import AllergyIntolerance, Condition
from hms.core import codes
from hms.core.testing import make_user, put_in_care
from hms.messaging.models import NotificationPreference

AMOXICILLIN_500 = "308191"  # amoxicillin 500 MG Oral Capsule (RxNorm; 308192 is the tablet)
SIMVASTATIN_20 = "312961"  # simvastatin 20 MG Oral Tablet


def make_rx_world() -> dict:
    """A doctor with the patient (who has a login) in care, a nurse in care, another doctor with a
    stranger patient, and one user of every other role."""
    doctor = make_user(Role.DOCTOR)
    NotificationPreference.objects.create(user=doctor, in_app=True, email=False, sms=False)
    nurse = make_user(Role.NURSE)
    patient_user = make_user(Role.PATIENT)
    NotificationPreference.objects.create(user=patient_user, in_app=True, email=False, sms=False)
    patient = patient_user.patient
    encounter = put_in_care(doctor, patient)
    put_in_care(nurse, patient)
    other_doctor = make_user(Role.DOCTOR)
    stranger_user = make_user(Role.PATIENT)
    put_in_care(other_doctor, stranger_user.patient)
    condition = Condition.objects.create(
        patient=patient,
        code_system=codes.SNOMED,
        code="43878008",
        code_display="Streptococcal sore throat",
        clinical_status="active",
    )
    return {
        "doctor": doctor,
        "nurse": nurse,
        "patient_user": patient_user,
        "patient": patient,
        "encounter": encounter,
        "condition": condition,
        "other_doctor": other_doctor,
        "stranger_user": stranger_user,
        "stranger": stranger_user.patient,
        "pharmacist": make_user(Role.PHARMACIST),
        "receptionist": make_user(Role.RECEPTIONIST),
        "billing": make_user(Role.BILLING),
        "lab": make_user(Role.LAB_TECHNICIAN),
        "admin": make_user(Role.ADMIN),
    }


def penicillin_allergy(patient) -> AllergyIntolerance:
    """An active, high-criticality penicillin allergy (SNOMED CT 91936005, as Synthea records it)."""
    return AllergyIntolerance.objects.create(
        patient=patient,
        code_system=codes.SNOMED,
        code="91936005",
        code_display="Allergy to penicillin",
        clinical_status="active",
        verification_status="confirmed",
        allergy_type="allergy",
        category="medication",
        criticality="high",
    )


def draft_payload(patient, **extra) -> dict:
    return {
        "patient": patient.pk,
        "medication": AMOXICILLIN_500,
        "dose_value": "500",
        "dose_unit": "mg",
        "route": "oral",
        "frequency_code": "TID",
        "duration_days": 7,
        "quantity": "21",
        "quantity_unit": "capsule",
        "refills": 0,
        "instructions": "Take with water.",
        **extra,
    }


def signed_prescription(world, **extra):
    """A signed amoxicillin prescription written by `world["doctor"]` through the services."""
    from hms.pharmacy import prescriptions

    payload = draft_payload(world["patient"], **extra)
    payload.pop("patient")
    rx = prescriptions.prescription_create_draft(patient=world["patient"], by=world["doctor"], **payload)
    return prescriptions.prescription_sign(prescription=rx, by=world["doctor"])
