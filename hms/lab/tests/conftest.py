"""Fixtures of the lab tests: a doctor with a patient in care, a lab technician, the patient's own login."""

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user, put_in_care
from hms.messaging.models import NotificationPreference


@pytest.fixture
def lab_world(db):
    """doctor (patient in care, SMS on), nurse (in care), lab tech, the patient (with login), a stranger
    patient with their own doctor, and one of every other role."""
    doctor = make_user(Role.DOCTOR, phone="+15550100001")
    NotificationPreference.objects.create(user=doctor, in_app=True, email=False, sms=True)
    nurse = make_user(Role.NURSE)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    encounter = put_in_care(doctor, patient)
    put_in_care(nurse, patient)
    other_doctor = make_user(Role.DOCTOR)
    stranger_user = make_user(Role.PATIENT)
    stranger = stranger_user.patient
    put_in_care(other_doctor, stranger)
    return {
        "doctor": doctor,
        "nurse": nurse,
        "lab": make_user(Role.LAB_TECHNICIAN),
        "patient_user": patient_user,
        "patient": patient,
        "encounter": encounter,
        "other_doctor": other_doctor,
        "stranger_user": stranger_user,
        "stranger": stranger,
        "receptionist": make_user(Role.RECEPTIONIST),
        "pharmacist": make_user(Role.PHARMACIST),
        "billing": make_user(Role.BILLING),
        "admin": make_user(Role.ADMIN),
    }


@pytest.fixture
def unrelated_patient(db):
    return PatientFactory()
