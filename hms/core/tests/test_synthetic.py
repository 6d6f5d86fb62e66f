"""The synthetic-patient generator: deterministic, idempotent per seed, realistic records."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from hms.audit.models import AuditEvent
from hms.clinical.models import Condition, Encounter, Immunization, Observation
from hms.core import codes
from hms.core.synthetic import SYNTHETIC_SYSTEM, synthetic_patients_create
from hms.patients.models import Patient
from hms.patients.mrn import mrn_is_valid
from hms.pharmacy.models import MedicationRequest

pytestmark = pytest.mark.django_db
TODAY = dt.date(2025, 6, 1)


def _snapshot() -> tuple:
    patients = tuple(
        Patient.objects.order_by("source_id").values_list(
            "source_id",
            "family_name",
            "given_names",
            "date_of_birth",
            "gender",
            "phone",
            "address_line",
            "city",
        )
    )
    observations = tuple(
        Observation.objects.order_by("source_id").values_list(
            "source_id", "code", "value_quantity", "effective_at"
        )
    )
    return patients, observations


def _generate_and_roll_back(**kwargs) -> tuple:
    with transaction.atomic():
        synthetic_patients_create(**kwargs)
        snapshot = _snapshot()
        transaction.set_rollback(True)
    return snapshot


def test_same_seed_gives_the_same_patients_and_records():
    first = _generate_and_roll_back(n=6, seed=11, with_records=True, today=TODAY)
    second = _generate_and_roll_back(n=6, seed=11, with_records=True, today=TODAY)
    other = _generate_and_roll_back(n=6, seed=12, with_records=True, today=TODAY)

    assert first == second
    assert len(first[0]) == 6 and first[1]
    assert first[0] != other[0]


def test_creates_valid_patients_in_batches_and_a_rerun_adds_nothing():
    created = synthetic_patients_create(n=7, seed=3, batch_size=3, today=TODAY)

    assert created == 7
    patients = list(Patient.objects.all())
    assert len({p.mrn for p in patients}) == 7 and all(mrn_is_valid(p.mrn) for p in patients)
    assert all(p.source_system == SYNTHETIC_SYSTEM and p.gender in ("male", "female") for p in patients)
    assert all(p.date_of_birth <= TODAY and p.phone.startswith("555-") and p.city for p in patients)
    assert (
        AuditEvent.objects.filter(object_type="patients.Patient", channel="system").count() == 3
    )  # per batch
    # when: the same seed again
    assert synthetic_patients_create(n=7, seed=3, batch_size=3, today=TODAY) == 0
    assert Patient.objects.count() == 7


def test_records_have_coded_vitals_conditions_medications_and_immunizations():
    synthetic_patients_create(n=10, seed=5, with_records=True, today=TODAY)

    assert Encounter.objects.values("patient").distinct().count() == 10
    vital_codes = set(Observation.objects.filter(category="vital-signs").values_list("code", flat=True))
    assert {
        codes.LOINC_BODY_WEIGHT,
        codes.LOINC_BODY_HEIGHT,
        codes.LOINC_BMI,
        codes.LOINC_BLOOD_PRESSURE,
    } <= vital_codes
    bp = Observation.objects.filter(code=codes.LOINC_BLOOD_PRESSURE).first()
    assert [c["code"] for c in bp.components] == [codes.LOINC_SYSTOLIC, codes.LOINC_DIASTOLIC]
    assert 60 < bp.components[0]["value"] < 220 and bp.encounter is not None
    assert Condition.objects.exists() and Immunization.objects.filter(code_system=codes.CVX).exists()
    assert MedicationRequest.objects.filter(code_system=codes.RXNORM).exists()
    assert not Encounter.objects.filter(period_start__date__gt=TODAY).exists()


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        synthetic_patients_create(n=-1, seed=0)
    with pytest.raises(ValueError):
        synthetic_patients_create(n=1, seed=0, batch_size=0)


def test_generate_patients_command():
    out = StringIO()
    call_command("generate_patients", "--n", "4", "--seed", "9", "--with-records", stdout=out, verbosity=0)

    assert "Created 4 synthetic patient(s)" in out.getvalue()
    assert Patient.objects.count() == 4 and Encounter.objects.exists()
