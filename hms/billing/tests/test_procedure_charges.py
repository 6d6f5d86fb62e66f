"""A procedure recorded through `POST /api/procedures/` becomes a charge: the price-list price for a
mapped SNOMED CT procedure (ECG -> CPT 93000), the local 'PROC-OTHER' price otherwise; doctors in care
only; bad input writes nothing."""

import pytest

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing.models import ChargeItem, ChargeStatus
from hms.billing.price_seed import CPT, LOCAL
from hms.clinical.models import Procedure
from hms.core.testing import PatientFactory, api_client_for, make_user, put_in_care

pytestmark = pytest.mark.django_db


@pytest.fixture
def care():
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    encounter = put_in_care(doctor, patient)
    return doctor, patient, encounter


def _post(user, **body):
    return api_client_for(user).post("/api/procedures/", body, format="json")


def test_an_ecg_is_recorded_and_charged_at_its_price_list_price(care):
    doctor, patient, encounter = care
    response = _post(doctor, patient=patient.pk, code="29303009", display="ECG", encounter=encounter.pk)
    assert response.status_code == 201, response.content
    procedure = Procedure.objects.get(pk=response.json()["id"])
    assert procedure.code == "29303009" and procedure.encounter == encounter
    charge = ChargeItem.objects.get(source_type="procedure", source_key=f"procedure:{procedure.pk}")
    assert (charge.code_system, charge.code) == (CPT, "93000")
    assert charge.category == "procedure" and charge.status == ChargeStatus.BILLABLE
    assert charge.net_amount == charge.price_entry.unit_price and charge.net_amount > 0
    audits = AuditEvent.objects.filter(action="create", object_type="clinical.Procedure", patient=patient)
    assert audits.exists()


def test_an_unmapped_procedure_is_charged_at_the_local_price_for_review(care):
    doctor, patient, _ = care
    response = _post(doctor, patient=patient.pk, code="80146002", display="Appendectomy")
    assert response.status_code == 201, response.content
    charge = ChargeItem.objects.get(source_type="procedure")
    assert (charge.code_system, charge.code, charge.display) == (LOCAL, "PROC-OTHER", "Appendectomy")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"code": "12ab"}, "code"),
        ({"display": ""}, "display"),
        ({"performed_at": "2999-01-01T00:00:00Z"}, "performed_at"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_400_on_the_field_and_writes_nothing(care, body, field):
    doctor, patient, _ = care
    response = _post(doctor, **{"patient": patient.pk, "code": "29303009", "display": "ECG", **body})
    assert response.status_code == 400 and field in response.json(), response.content
    assert not Procedure.objects.exists() and not ChargeItem.objects.exists()


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (Role.NURSE, 403),
        (Role.RECEPTIONIST, 403),
        (Role.BILLING, 403),
        (Role.PHARMACIST, 403),
        (Role.LAB_TECHNICIAN, 403),
        (Role.ADMIN, 403),
        (Role.PATIENT, 403),
    ],
)
def test_only_doctors_record_procedures(care, role, expected):
    _, patient, _ = care
    user = make_user(role)
    if role == Role.NURSE:
        put_in_care(user, patient)
    assert _post(user, patient=patient.pk, code="29303009", display="ECG").status_code == expected
    assert not Procedure.objects.exists()


def test_a_doctor_outside_the_care_team_gets_404(care):
    _, patient, _ = care
    outsider = make_user(Role.DOCTOR)
    assert _post(outsider, patient=patient.pk, code="29303009", display="ECG").status_code == 404
    assert api_client_for(None).post("/api/procedures/", {}, format="json").status_code == 401
