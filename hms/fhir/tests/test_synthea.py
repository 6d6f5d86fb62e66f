"""The whole Synthea DEV set imports, and the database holds exactly what the files contain.

Expected counts are computed here from the files, never typed in. One test does the import and the
re-import so the suite reads the 21 MB only twice.
"""

import json
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings

from hms.clinical.models import (
    AllergyIntolerance,
    CarePlan,
    Condition,
    Encounter,
    Immunization,
    Observation,
    Procedure,
)
from hms.fhir.importer import RAW_TYPES, bundle_paths, fhir_import
from hms.fhir.mappers import OBSERVATION_CATEGORY_ALIASES
from hms.fhir.models import RawResource
from hms.lab.models import DiagnosticReport
from hms.patients.models import Patient
from hms.patients.mrn import mrn_is_valid
from hms.pharmacy.models import MedicationRequest
from hms.staff.models import Organization, Practitioner

pytestmark = [
    pytest.mark.synthea,
    pytest.mark.skipif(
        not Path(settings.SYNTHEA_DIR).is_dir(),
        reason="../shared/data/synthea is absent (the Synthea DEV set is not part of this repository)",
    ),
]

MODEL_OF = {
    "Organization": Organization,
    "Practitioner": Practitioner,
    "Patient": Patient,
    "Encounter": Encounter,
    "Condition": Condition,
    "AllergyIntolerance": AllergyIntolerance,
    "Observation": Observation,
    "DiagnosticReport": DiagnosticReport,
    "MedicationRequest": MedicationRequest,
    "Immunization": Immunization,
    "Procedure": Procedure,
    "CarePlan": CarePlan,
}


def _expected_from_files() -> dict:
    """Distinct resources per type, and a few finer figures, read straight from the bundle files."""
    ids: dict[str, set] = {}
    encounter_classes, categories, report_links, with_performer = Counter(), Counter(), 0, 0
    for path in bundle_paths([settings.SYNTHEA_DIR]):
        for entry in json.loads(path.read_text())["entry"]:
            resource = entry["resource"]
            rtype = resource["resourceType"]
            ids.setdefault(rtype, set()).add(resource["id"])
            if rtype == "Encounter":
                encounter_classes[resource["class"]["code"]] += 1
                with_performer += bool(resource.get("participant"))
            elif rtype == "Observation":
                code = resource["category"][0]["coding"][0]["code"]
                categories[OBSERVATION_CATEGORY_ALIASES.get(code, code)] += 1
            elif rtype == "DiagnosticReport":
                report_links += len(resource.get("result", []))
    return {
        "ids": ids,
        "classes": encounter_classes,
        "categories": categories,
        "report_links": report_links,
        "with_performer": with_performer,
    }


def _db_counts() -> dict[str, int]:
    counts = {rtype: model.objects.count() for rtype, model in MODEL_OF.items()}
    counts.update({rtype: RawResource.objects.filter(resource_type=rtype).count() for rtype in RAW_TYPES})
    return counts


@pytest.mark.django_db
def test_dev_set_imports_completely_and_reimports_idempotently():
    expected = _expected_from_files()
    ids = expected["ids"]

    # when
    first = fhir_import(paths=[settings.SYNTHEA_DIR])

    # then: every bundle imported, one row per distinct resource of every stored type
    assert not first.failed, [(r.source_name, r.error) for r in first.failed]
    assert _db_counts() == {rtype: len(ids.get(rtype, ())) for rtype in [*MODEL_OF, *RAW_TYPES]}
    assert Patient.objects.count() == 20 == len(ids["Patient"])  # the README's figure, as a sanity check
    assert Counter(Encounter.objects.values_list("encounter_class", flat=True)) == expected["classes"]
    assert Counter(Observation.objects.values_list("category", flat=True)) == expected["categories"]
    assert not Observation.objects.filter(category="vital-sign").exists()
    assert DiagnosticReport.results.through.objects.count() == expected["report_links"]
    assert all(mrn_is_valid(m) for m in Patient.objects.values_list("mrn", flat=True))
    assert Encounter.objects.filter(practitioner__isnull=False).count() == expected["with_performer"]
    skipped = {t for t, c in first.totals().items() if c["skipped"]}
    assert skipped == set(ids) - set(MODEL_OF) - set(RAW_TYPES)  # Goal, ImagingStudy
    mrns = dict(Patient.objects.values_list("source_id", "mrn"))

    # when: the same files again
    second = fhir_import(paths=[settings.SYNTHEA_DIR])

    # then: no new rows, nothing rewritten, MRNs kept
    assert not second.failed
    assert _db_counts() == {rtype: len(ids.get(rtype, ())) for rtype in [*MODEL_OF, *RAW_TYPES]}
    totals = second.totals()
    assert sum(c["created"] for c in totals.values()) == 0
    assert sum(c["updated"] for c in totals.values()) == 0
    assert dict(Patient.objects.values_list("source_id", "mrn")) == mrns
