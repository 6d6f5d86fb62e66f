"""The release rule holds on the generic record reads too: a patient never sees an unreleased lab value
through the observation/report lists, the history or the encounter record, only after release."""

import pytest

from hms.core.testing import api_client_for

pytestmark = pytest.mark.django_db


def _generic_reads(client, patient_id, encounter_id):
    obs = client.get(f"/api/patients/{patient_id}/observations/").json()["results"]
    reports = client.get(f"/api/patients/{patient_id}/diagnostic-reports/").json()["results"]
    history = client.get(f"/api/patients/{patient_id}/records/").json()["results"]
    record = client.get(f"/api/records/{encounter_id}/").json()
    codes = {o["code"]["code"] for o in obs}
    codes |= {o["code"]["code"] for e in history for o in e.get("observations", [])}
    codes |= {o["code"]["code"] for o in record.get("observations", [])}
    return codes, len(reports) + sum(len(e.get("diagnostic_reports", [])) for e in history)


def test_unreleased_lab_values_are_hidden_from_the_patient_everywhere(lab_world):
    w = lab_world
    doctor = api_client_for(w["doctor"])
    order = doctor.post(
        "/api/labs/",
        {"patient": w["patient"].pk, "codes": ["4548-4"], "encounter": w["encounter"].pk},
        format="json",
    ).json()[0]
    response = api_client_for(w["lab"]).post(
        f"/api/labs/{order['id']}/results/", {"results": [{"code": "4548-4", "value": "6.1"}]}, format="json"
    )
    assert response.status_code == 201, response.content

    me = api_client_for(w["patient_user"])
    codes, reports = _generic_reads(me, w["patient"].pk, w["encounter"].pk)
    assert "4548-4" not in codes and reports == 0
    # the doctor sees it at once
    codes, reports = _generic_reads(doctor, w["patient"].pk, w["encounter"].pk)
    assert "4548-4" in codes and reports >= 1

    assert doctor.post(f"/api/labs/{order['id']}/acknowledge/").status_code == 200
    codes, reports = _generic_reads(me, w["patient"].pk, w["encounter"].pk)
    assert "4548-4" in codes and reports >= 1
