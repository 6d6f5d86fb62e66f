"""The demo wards: 3 wards, 30 beds, a few admissions, the demo nurse on general medicine; idempotent."""

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, make_user
from hms.inpatient.demo import demo_wards
from hms.inpatient.models import Admission, Location, NurseWardAssignment
from hms.patients.selectors import can_read_clinical

pytestmark = pytest.mark.django_db


def test_demo_wards_once():
    accounts = {
        "admin": make_user(Role.ADMIN),
        "doctor": make_user(Role.DOCTOR),
        "nurse": make_user(Role.NURSE),
    }
    patients = [PatientFactory(gender=g) for g in ("male", "female", "male", "female", "male")]
    demo_wards(accounts)
    demo_wards(accounts)
    assert Location.objects.filter(physical_type="bd").count() == 30
    assert Location.objects.filter(physical_type="wa").count() == 3
    assert Admission.objects.filter(status="active").count() == 4
    assert Admission.objects.get(ward__code="MAT").patient.gender == "female"
    assert NurseWardAssignment.objects.get().ward.code == "MED"
    on_medicine = [a.patient for a in Admission.objects.filter(ward__code="MED")]
    assert all(can_read_clinical(accounts["nurse"], p) for p in on_medicine)
    assert Location.objects.filter(status="cleaning").count() == 1
    assert len(patients) == 5
