"""Temporary identity and merge: an unknown emergency arrival is registered and admitted, then merged into
the real patient with every record moved, the audit history kept and the source soft-deleted."""

import pytest

from hms.audit.models import AuditEvent
from hms.clinical.models import Condition, Encounter
from hms.core.testing import PatientFactory, api_client_for
from hms.inpatient import services
from hms.inpatient.models import Admission
from hms.patients.models import Patient
from hms.patients.selectors import patients_visible

pytestmark = pytest.mark.django_db


def test_unknown_patient_registered_admitted_then_merged(ward_world):
    w = ward_world
    reception = api_client_for(w["receptionist"])
    res = api_client_for(w["nurse"]).post(
        "/api/patients/unknown/",
        {"gender": "male", "approx_age": 40, "note": "tattoo left arm"},
        format="json",
    )
    assert res.status_code == 201, res.content
    body = res.json()
    assert body["identity_unknown"] and body["birth_date_estimated"]
    assert body["name"] == "Male ~40 Unknown" and len(body["medical_record_number"]) == 9
    unknown = Patient.objects.get(pk=body["id"])
    assert unknown.age in (39, 40)

    # admitted from the emergency department by the doctor (not yet in their care: audited as care started)
    res = api_client_for(w["doctor"]).post(
        "/api/admissions/",
        {
            "patient": unknown.pk,
            "admitting_practitioner": w["doctor"].practitioner.pk,
            "source": "emergency",
            "reason": "Unconscious after road traffic collision",
            "bed": w["beds"]["M1-1"].pk,
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    admission = Admission.objects.get(pk=res.json()["id"])
    ev = AuditEvent.objects.get(action="create", object_type="inpatient.Admission", patient=unknown)
    assert ev.detail["care_started"] is True
    Condition.objects.create(
        patient=unknown, encounter=admission.encounter, code="S06.0X0A", code_display="Concussion"
    )
    reads_before = AuditEvent.objects.filter(patient=unknown).count()

    real = PatientFactory(gender="male", family_name="Okafor")
    old_encounter = Encounter.objects.create(
        patient=real, encounter_class="AMB", period_start=admission.admitted_at
    )

    # bad input: no reason, into itself → 400; a pharmacist → 403
    assert (
        reception.post(f"/api/patients/{unknown.pk}/merge/", {"target": real.pk}, format="json").status_code
        == 400
    )
    assert (
        reception.post(
            f"/api/patients/{unknown.pk}/merge/", {"target": unknown.pk, "reason": "x"}, format="json"
        ).status_code
        == 400
    )
    assert (
        api_client_for(w["pharmacist"])
        .post(f"/api/patients/{unknown.pk}/merge/", {"target": real.pk, "reason": "x"}, format="json")
        .status_code
        == 403
    )

    res = reception.post(
        f"/api/patients/{unknown.pk}/merge/",
        {"target": real.pk, "reason": "Identified by his wife"},
        format="json",
    )
    assert res.status_code == 200, res.content
    moved = res.json()["moved"]
    assert (
        moved["inpatient.Admission"] == 1
        and moved["clinical.Condition"] == 1
        and moved["clinical.Encounter"] == 1
    )

    unknown.refresh_from_db()
    assert unknown.merged_into_id == real.pk and unknown.deleted_at is not None
    assert "Identified by his wife" in unknown.deletion_reason
    assert not patients_visible(w["receptionist"]).filter(pk=unknown.pk).exists()
    admission.refresh_from_db()
    assert admission.patient_id == real.pk and admission.encounter.patient_id == real.pk
    assert Condition.objects.get(code="S06.0X0A").patient_id == real.pk
    assert Encounter.objects.filter(patient=real).count() == 2 and old_encounter.patient_id == real.pk
    # the audit history stays on the temporary record, plus the merge events on both
    assert AuditEvent.objects.filter(patient=unknown).count() == reads_before + 1
    assert AuditEvent.objects.filter(patient=real, detail__merge__source=unknown.pk).exists()
    # the doctor keeps the (real) patient in care through the admission's encounter
    assert (
        api_client_for(w["doctor"]).get(f"/api/admissions/{admission.pk}/").json()["patient"]["id"] == real.pk
    )

    # a merged record is not merged again, nor merged into
    other = PatientFactory()
    assert services_merge_status(reception, unknown.pk, other.pk) == 404
    with pytest.raises(Exception) as err:
        services.patient_merge(source=other, target=unknown, by=w["admin"], reason="x")
    assert type(err.value).__name__ == "Conflict"


def services_merge_status(client, source, target) -> int:
    return client.post(
        f"/api/patients/{source}/merge/", {"target": target, "reason": "x"}, format="json"
    ).status_code


def test_merge_refuses_two_active_admissions_and_writes_nothing(ward_world):
    w = ward_world
    a, b = PatientFactory(gender="male"), PatientFactory(gender="male")
    for patient, bed in ((a, "M1-1"), (b, "M1-2")):
        services.admission_create(
            patient=patient,
            admitting_practitioner=w["doctor"].practitioner,
            source="planned",
            reason="Elective",
            bed=w["beds"][bed],
            by=w["doctor"],
        )
    res = api_client_for(w["admin"]).post(
        f"/api/patients/{a.pk}/merge/", {"target": b.pk, "reason": "same"}, format="json"
    )
    assert res.status_code == 409
    a.refresh_from_db()
    assert a.merged_into_id is None and a.deleted_at is None
    assert Admission.objects.filter(patient=a).count() == 1


def test_unknown_registration_validation(ward_world):
    api = api_client_for(ward_world["receptionist"])
    assert (
        api.post("/api/patients/unknown/", {"gender": "male", "approx_age": 300}, format="json").status_code
        == 400
    )
    assert (
        api.post("/api/patients/unknown/", {"gender": "robot", "approx_age": 3}, format="json").status_code
        == 400
    )
    assert (
        api.post("/api/patients/unknown/", {"gender": "female", "approx_age": "x"}, format="json").status_code
        == 400
    )
    for who in ("pharmacist", "lab", "billing", "patient_user"):
        assert (
            api_client_for(ward_world[who])
            .post("/api/patients/unknown/", {"gender": "male", "approx_age": 30}, format="json")
            .status_code
            == 403
        ), who
    assert Patient.objects.filter(identity_unknown=True).count() == 0
