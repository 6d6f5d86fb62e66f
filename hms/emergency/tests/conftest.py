"""Fixtures of the ED tests (besides the project's role fixtures `doctor`, `nurse`, `receptionist`,
`patient_user`): a patient, an emergency ward with a free bed, a general-medicine bed."""

import pytest

from hms.core.testing import PatientFactory
from hms.inpatient.models import Location, NurseWardAssignment, PhysicalType, WardType


@pytest.fixture
def patient(db):
    return PatientFactory()


@pytest.fixture
def ward(db):
    """An emergency ward (building → ward → room → bed); `ward.bed` is a free bed."""
    building = Location.objects.create(physical_type=PhysicalType.BUILDING, name="Main")
    ward = Location.objects.create(
        physical_type=PhysicalType.WARD, name="Emergency", parent=building, ward_type=WardType.EMERGENCY
    )
    room = Location.objects.create(physical_type=PhysicalType.ROOM, name="ED 1", parent=ward)
    ward.bed = Location.objects.create(physical_type=PhysicalType.BED, name="ED 1A", parent=room)
    return ward


@pytest.fixture
def medicine_bed(db):
    building = Location.objects.create(physical_type=PhysicalType.BUILDING, name="West")
    ward = Location.objects.create(
        physical_type=PhysicalType.WARD, name="Medicine", parent=building, ward_type=WardType.GENERAL_MEDICINE
    )
    room = Location.objects.create(physical_type=PhysicalType.ROOM, name="M1", parent=ward)
    return Location.objects.create(physical_type=PhysicalType.BED, name="M1A", parent=room)


def assign(user, ward):
    NurseWardAssignment.objects.create(practitioner=user.practitioner, ward=ward)
