"""The FHIR bundle importer on small bundles the tests build themselves (no Synthea files needed)."""

import copy
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from hms.audit.models import AuditEvent
from hms.clinical.models import (
    AllergyIntolerance,
    CarePlan,
    Condition,
    Encounter,
    Immunization,
    Observation,
    Procedure,
)
from hms.fhir.importer import bundle_import, bundle_paths, fhir_import
from hms.fhir.models import RawResource
from hms.lab.models import DiagnosticReport
from hms.patients.models import Patient
from hms.patients.mrn import mrn_is_valid
from hms.pharmacy.models import MedicationRequest
from hms.staff.models import Organization, Practitioner

from .bundles import entry_index, patient_bundle, uid

MODELS = (
    Organization,
    Practitioner,
    Patient,
    Encounter,
    Condition,
    AllergyIntolerance,
    Observation,
    DiagnosticReport,
    MedicationRequest,
    Immunization,
    Procedure,
    CarePlan,
    RawResource,
)

pytestmark = pytest.mark.django_db


def db_counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def test_bundle_imports_every_resource_type_with_references_resolved():
    """Every mapped type lands in its model; urn:uuid references become foreign keys."""
    # when
    result = bundle_import(data=patient_bundle("a"), source_name="a.json")

    # then
    assert result.ok, result.error
    assert db_counts() == {
        "Organization": 1,
        "Practitioner": 1,
        "Patient": 1,
        "Encounter": 1,
        "Condition": 1,
        "AllergyIntolerance": 1,
        "Observation": 5,
        "DiagnosticReport": 1,
        "MedicationRequest": 1,
        "Immunization": 1,
        "Procedure": 1,
        "CarePlan": 1,
        "RawResource": 1,
    }
    assert result.counts["Goal"]["skipped"] == 1
    patient = Patient.objects.get()
    assert mrn_is_valid(patient.mrn)
    assert (patient.family_name, patient.given_names, patient.prefix) == ("Testperson", "Ana Maria", "Mrs.")
    assert (patient.gender, str(patient.date_of_birth), patient.phone) == (
        "female",
        "1970-05-04",
        "555-123-4567",
    )
    assert (patient.national_id, patient.preferred_language, patient.city) == (
        "999112222",
        "es",
        "Boston",
    )  # SSN stored normalised
    assert patient.source_id == uid("a", "patient")

    encounter = Encounter.objects.get()
    practitioner = Practitioner.objects.get()
    assert encounter.patient == patient and encounter.practitioner == practitioner
    assert encounter.organization == Organization.objects.get()
    assert (encounter.encounter_class, encounter.code, encounter.reason_display) == (
        "AMB",
        "185349003",
        "Hypertension",
    )
    assert practitioner.npi == "9990001" and practitioner.prefix == "Dr."

    bp = Observation.objects.get(code="85354-9")
    assert [(c["code"], c["value"], c["unit"]) for c in bp.components] == [
        ("8480-6", 132, "mm[Hg]"),
        ("8462-4", 81, "mm[Hg]"),
    ]  # systolic first
    assert bp.display_value == "132/81 mm[Hg]"
    weight = Observation.objects.get(code="29463-7")
    assert weight.value_quantity == Decimal("71.25") and weight.value_unit == "kg"
    assert weight.encounter == encounter and weight.category == "vital-signs"
    smoking = Observation.objects.get(code="72166-2")
    assert (smoking.value_code, smoking.value_code_display) == ("8517006", "Former smoker")

    report = DiagnosticReport.objects.get()
    assert list(report.results.values_list("code", flat=True)) == ["18262-6"]
    medication = MedicationRequest.objects.get()
    assert (medication.code, medication.requester, medication.dosage_text) == (
        "314076",
        practitioner,
        "Take one tablet twice a day",
    )
    assert medication.dose_value == Decimal("1") and medication.frequency_per_day == Decimal("2.00")
    assert medication.reason_code == "38341003"
    assert Procedure.objects.get().reason_display == "Hypertension"
    careplan = CarePlan.objects.get()
    assert careplan.addresses == ["Hypertension"] and careplan.activities[0]["code"] == "386463000"
    allergy = AllergyIntolerance.objects.get()
    assert (allergy.code_display, allergy.category, allergy.patient) == (
        "Allergy to peanuts",
        "food",
        patient,
    )
    raw = RawResource.objects.get()
    assert (
        raw.resource_type == "Claim" and raw.patient == patient and raw.resource["total"]["value"] == 129.16
    )


def test_vital_sign_category_quirk_is_normalised():
    """Synthea's non-standard category `vital-sign` is stored as `vital-signs`."""
    bundle_import(data=patient_bundle("a"), source_name="a.json")

    temperature = Observation.objects.get(code="8331-1")
    assert temperature.category == "vital-signs"
    assert not Observation.objects.filter(category="vital-sign").exists()


def test_reimport_changes_no_counts_and_updates_in_place():
    """A second import of the same bundle is a no-op; a changed resource updates its row, MRN kept."""
    # given
    bundle = patient_bundle("a")
    bundle_import(data=bundle, source_name="a.json")
    before, mrn = db_counts(), Patient.objects.get().mrn

    # when: the same bundle again
    again = bundle_import(data=copy.deepcopy(bundle), source_name="a.json")

    # then
    assert again.ok and db_counts() == before
    assert sum(c["created"] + c["updated"] for c in again.counts.values()) == 0
    assert again.counts["Observation"]["unchanged"] == 5

    # when: a changed weight and phone
    changed = copy.deepcopy(bundle)
    weight = changed["entry"][entry_index(changed, "Observation", uid("a", "weight"))]["resource"]
    weight["valueQuantity"]["value"] = 69.5
    changed["entry"][entry_index(changed, "Patient", uid("a", "patient"))]["resource"]["telecom"][0][
        "value"
    ] = "555-000"
    third = bundle_import(data=changed, source_name="a.json")

    # then
    assert third.ok and db_counts() == before
    assert third.counts["Observation"]["updated"] == 1 and third.counts["Patient"]["updated"] == 1
    assert Observation.objects.get(code="29463-7").value_quantity == Decimal("69.5")
    patient = Patient.objects.get()
    assert patient.phone == "555-000" and patient.mrn == mrn


def test_invalid_resource_fails_the_bundle_and_writes_nothing():
    """An entry that fails fhir.resources validation is reported by index; nothing of the bundle is kept."""
    # given: an Observation without its required `code`
    bundle = patient_bundle("a")
    index = entry_index(bundle, "Observation", uid("a", "weight"))
    del bundle["entry"][index]["resource"]["code"]
    events = AuditEvent.objects.count()

    # when
    result = bundle_import(data=bundle, source_name="bad.json")

    # then
    assert not result.ok
    assert f"entry {index} (Observation)" in result.error and "code" in result.error
    assert set(db_counts().values()) == {0}
    assert AuditEvent.objects.count() == events


def test_unresolvable_patient_reference_rolls_back_the_whole_bundle():
    """A record whose subject resolves to no Patient fails the bundle after earlier rows were written."""
    bundle = patient_bundle("a")
    index = entry_index(bundle, "Procedure", uid("a", "procedure"))
    bundle["entry"][index]["resource"]["subject"] = {"reference": "urn:uuid:does-not-exist"}

    result = bundle_import(data=bundle, source_name="bad.json")

    assert not result.ok and f"entry {index} (Procedure/" in result.error
    assert set(db_counts().values()) == {0}


def test_not_a_bundle_is_reported():
    result = bundle_import(data={"resourceType": "Patient", "id": "x"}, source_name="x.json")
    assert not result.ok and "not a FHIR Bundle" in result.error


def test_practitioner_is_keyed_on_npi():
    """Two exports of one practitioner (different ids, same NPI) give one Practitioner row."""
    bundle_import(data=patient_bundle("a", npi="1234"), source_name="a.json")
    bundle_import(data=patient_bundle("b", npi="1234", family="Other"), source_name="b.json")

    practitioner = Practitioner.objects.get()
    assert set(Encounter.objects.values_list("practitioner", flat=True)) == {practitioner.pk}
    assert Patient.objects.count() == 2


def test_literal_reference_resolves_to_a_patient_imported_earlier():
    """`Patient/<id>` in a later bundle points at the row an earlier bundle created."""
    bundle_import(data=patient_bundle("a"), source_name="a.json")
    later = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "later-obs",
                    "status": "final",
                    "code": {
                        "coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]
                    },
                    "subject": {"reference": f"Patient/{uid('a', 'patient')}"},
                    "effectiveDateTime": "2021-01-01T00:00:00Z",
                    "valueQuantity": {"value": 70, "unit": "/min"},
                }
            }
        ],
    }

    result = bundle_import(data=later, source_name="later.json")

    assert result.ok, result.error
    assert Observation.objects.get(source_id="later-obs").patient == Patient.objects.get()


def test_run_reports_bad_files_imports_the_rest_and_audits(tmp_path):
    """fhir_import: bad bundles are listed with reasons; good ones import; one AuditEvent for the run."""
    # given
    bad = patient_bundle("b")
    bad["entry"][3]["resource"]["period"] = {"start": "yesterday"}
    (tmp_path / "good.json").write_text(json.dumps(patient_bundle("a")))
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "notes.txt").write_text("ignored")

    # when
    summary = fhir_import(paths=[tmp_path])

    # then
    assert {r.source_name for r in summary.failed} == {"bad.json", "broken.json"}
    assert "entry 3 (Encounter)" in next(r.error for r in summary.failed if r.source_name == "bad.json")
    assert Patient.objects.count() == 1
    assert summary.totals()["Observation"]["created"] == 5
    run = AuditEvent.objects.get(object_type="fhir.ImportRun")
    assert run.action == "create" and run.channel == "system"
    assert run.detail["counts"]["Patient"] == {"created": 1} and len(run.detail["failed"]) == 2
    assert run.patient_ids == [Patient.objects.get().pk]
    assert AuditEvent.objects.filter(object_type="fhir.Bundle", patient=Patient.objects.get()).count() == 1
    table = summary.table()
    assert "Observation" in table and "FAILED bad.json" in table


def test_bundle_paths_put_support_bundles_first(tmp_path):
    for name in ("b.json", "practitionerInformation1.json", "a.json", "hospitalInformation1.json", "x.csv"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in bundle_paths([tmp_path])] == [
        "hospitalInformation1.json",
        "practitionerInformation1.json",
        "a.json",
        "b.json",
    ]
    with pytest.raises(FileNotFoundError):
        bundle_paths([tmp_path / "missing"])


def test_import_fhir_command_prints_the_summary(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(patient_bundle("a")))
    out = StringIO()

    call_command("import_fhir", str(tmp_path / "a.json"), "--no-progress", stdout=out)

    text = out.getvalue()
    assert "created" in text and "Encounter" in text and "1 bundle(s) imported, 0 failed" in text
    assert Patient.objects.count() == 1
    with pytest.raises(CommandError):
        call_command("import_fhir", str(tmp_path / "missing.json"), stdout=StringIO())
