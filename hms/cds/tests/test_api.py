"""POST /api/cds/check/: role matrix, scope (another patient's id → 404), validation (400), audit."""

import pytest

from hms.audit.models import AuditEvent
from hms.core import codes
from hms.core.testing import api_client_for

from .conftest import allergy, prescribe

pytestmark = pytest.mark.django_db
URL = "/api/cds/check/"


def _post(user, body):
    return api_client_for(user).post(URL, body, format="json")


def test_role_matrix(cds_world):
    w = cds_world
    allergy(w["patient"], "Allergy to penicillin", system=codes.SNOMED, code="91936005")
    body = {"patient": w["patient"].pk, "rxcui": "308182"}
    for who in ("doctor", "nurse", "pharmacist"):
        response = _post(w[who], body)
        assert response.status_code == 200, who
        data = response.json()
        assert data["patient"] == w["patient"].pk and data["blocking"] is True, who
        assert (
            data["findings"][0]["kind"] == "allergy" and data["findings"][0]["severity"] == "contraindicated"
        )
    # a patient outside the clinician's care, or one that does not exist: the same 404
    assert _post(w["other_doctor"], body).status_code == 404
    assert _post(w["doctor"], {**body, "patient": w["stranger"].pk}).status_code == 404
    assert _post(w["nurse"], {**body, "patient": w["stranger"].pk}).status_code == 404
    assert _post(w["doctor"], {**body, "patient": 10**12}).status_code == 404
    # pharmacists check for any live patient (they dispense every signed prescription)
    assert _post(w["pharmacist"], {**body, "patient": w["stranger"].pk}).status_code == 200
    for who in ("receptionist", "lab", "billing", "admin", "patient_user"):
        assert _post(w[who], body).status_code == 403, who
    assert _post(None, body).status_code == 401
    assert api_client_for(w["doctor"]).get(URL).status_code == 405


def test_list_of_medications_with_doses_and_audit(cds_world):
    w = cds_world
    current = prescribe(w["patient"], "855332")  # warfarin
    body = {
        "patient": w["patient"].pk,
        "medications": [
            {"rxcui": "198440", "dose_value": "1000", "dose_unit": "mg", "frequency_per_day": "6"},
            {"rxcui": "310965", "dose_value": "400", "dose_unit": "mg", "frequency_per_day": "3"},
            {"rxcui": "999999999"},
        ],
    }
    response = _post(w["doctor"], body)
    assert response.status_code == 200
    kinds = {(f["kind"], f["severity"]) for f in response.json()["findings"]}
    assert kinds == {
        ("interaction", "major"),  # warfarin + ibuprofen
        ("interaction", "minor"),  # warfarin + regular acetaminophen
        ("max-dose", "major"),  # 6000 mg acetaminophen a day
        ("unknown-drug", "moderate"),
    }
    assert response.json()["blocking"] is False
    event = AuditEvent.objects.get(object_type="cds.check", actor=w["doctor"])
    assert event.action == "read" and event.patient_id == w["patient"].pk
    excluded = _post(w["doctor"], {**body, "exclude_prescription_ids": [current.pk]}).json()["findings"]
    assert "interaction" not in {f["kind"] for f in excluded}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rxcui": "308182"}, "patient"),
        ({"patient": "abc", "rxcui": "308182"}, "patient"),
        ({}, "medications"),
        ({"medications": [{"rxcui": "308182"}], "rxcui": "308182"}, "medications"),
        ({"medications": []}, "medications"),
        ({"medications": [{"rxcui": "amoxicillin"}]}, "medications"),
        ({"rxcui": 308182}, "rxcui"),
        ({"rxcui": "308182", "dose_value": "-5"}, "dose_value"),
        ({"rxcui": "308182", "dose_value": "ten"}, "dose_value"),
        ({"rxcui": "308182", "frequency_per_day": "0"}, "frequency_per_day"),
        ({"medications": [{"rxcui": "308182"}] * 21}, "medications"),
        ({"medications": [{"rxcui": "308182"}], "dose_value": "5"}, "dose_value"),
        ({"rxcui": "308182", "exclude_prescription_ids": ["x"]}, "exclude_prescription_ids"),
    ],
)
def test_bad_input_is_400_with_the_field(cds_world, body, field):
    body = (
        {"patient": cds_world["patient"].pk, **body} if "patient" not in body and field != "patient" else body
    )
    response = _post(cds_world["doctor"], body)
    assert response.status_code == 400
    assert field in response.json()
    assert not AuditEvent.objects.filter(object_type="cds.check").exists()
