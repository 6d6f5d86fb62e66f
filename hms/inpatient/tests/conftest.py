"""Fixtures of the inpatient tests: a small hospital (one building, two wards, rooms and beds) and people."""

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user, put_in_care
from hms.inpatient import services
from hms.inpatient.models import PhysicalType


def build_tree(admin, *, beds_per_room: int = 2):
    """Building → general medicine ward (2 rooms) + maternity ward (female only, 1 room)."""
    building = services.location_create(physical_type=PhysicalType.BUILDING, name="Main", by=admin)
    medicine = services.location_create(
        physical_type=PhysicalType.WARD,
        name="Medicine",
        code="MED",
        ward_type="general-medicine",
        parent=building,
        by=admin,
    )
    maternity = services.location_create(
        physical_type=PhysicalType.WARD,
        name="Maternity",
        code="MAT",
        ward_type="maternity",
        gender_restriction="female",
        parent=building,
        by=admin,
    )
    beds = {}
    for ward, rooms in ((medicine, ("M1", "M2")), (maternity, ("F1",))):
        for room_name in rooms:
            room = services.location_create(
                physical_type=PhysicalType.ROOM, name=room_name, parent=ward, by=admin
            )
            for i in range(1, beds_per_room + 1):
                code = f"{room_name}-{i}"
                beds[code] = services.location_create(
                    physical_type=PhysicalType.BED, name=code, code=code, parent=room, by=admin
                )
    return {"building": building, "medicine": medicine, "maternity": maternity, "beds": beds}


@pytest.fixture
def ward_world(db):
    """A tree, a doctor with a male patient in care, a nurse, a stranger patient with another doctor and one
    user of every other role."""
    admin = make_user(Role.ADMIN)
    tree = build_tree(admin)
    doctor = make_user(Role.DOCTOR)
    nurse = make_user(Role.NURSE)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    patient.gender = "male"
    patient.save(update_fields=["gender"])
    put_in_care(doctor, patient)
    put_in_care(nurse, patient)
    other_doctor = make_user(Role.DOCTOR)
    stranger_user = make_user(Role.PATIENT)
    stranger = stranger_user.patient
    put_in_care(other_doctor, stranger)
    return {
        **tree,
        "admin": admin,
        "doctor": doctor,
        "nurse": nurse,
        "patient_user": patient_user,
        "patient": patient,
        "other_doctor": other_doctor,
        "stranger_user": stranger_user,
        "stranger": stranger,
        "other_patient": PatientFactory(gender="female"),
        "receptionist": make_user(Role.RECEPTIONIST),
        "pharmacist": make_user(Role.PHARMACIST),
        "lab": make_user(Role.LAB_TECHNICIAN),
        "billing": make_user(Role.BILLING),
    }
