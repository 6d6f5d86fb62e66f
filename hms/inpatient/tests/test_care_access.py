"""Care access through ward assignment (contract 3): a nurse assigned to a ward sees the patients admitted
there while they are admitted, not before, not after, and not those of another ward."""

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.inpatient import services
from hms.inpatient.models import NurseWardAssignment
from hms.patients.selectors import can_read_clinical, patients_visible

pytestmark = pytest.mark.django_db


def test_ward_assignment_puts_admitted_patients_in_care(ward_world):
    w = ward_world
    ward_nurse = make_user(Role.NURSE)
    NurseWardAssignment.objects.create(practitioner=ward_nurse.practitioner, ward=w["medicine"])
    maternity_nurse = make_user(Role.NURSE)
    NurseWardAssignment.objects.create(practitioner=maternity_nurse.practitioner, ward=w["maternity"])
    patient = PatientFactory(gender="female")
    assert not can_read_clinical(ward_nurse, patient)

    admission = services.admission_create(
        patient=patient,
        admitting_practitioner=w["doctor"].practitioner,
        source="planned",
        reason="Elective",
        bed=w["beds"]["M1-1"],
        by=w["receptionist"],
    )
    assert can_read_clinical(ward_nurse, patient)
    assert can_read_clinical(w["doctor"], patient)  # the admitting doctor, through the inpatient encounter
    assert not can_read_clinical(maternity_nurse, patient)
    assert api_client_for(ward_nurse).get(f"/api/admissions/{admission.pk}/").status_code == 200
    assert api_client_for(maternity_nurse).get(f"/api/admissions/{admission.pk}/").status_code == 404
    assert api_client_for(ward_nurse).get(f"/api/patients/{patient.pk}/").status_code == 200

    # transferred to maternity: the care follows the ward
    services.admission_transfer(admission=admission, bed=w["beds"]["F1-1"], by=ward_nurse)
    assert can_read_clinical(maternity_nurse, patient)
    assert not can_read_clinical(ward_nurse, patient)

    services.admission_discharge(admission=admission, disposition="home", summary="Well.", by=w["doctor"])
    assert not patients_visible(maternity_nurse).filter(pk=patient.pk).exists()
    assert can_read_clinical(w["doctor"], patient)
