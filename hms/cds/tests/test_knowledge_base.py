"""The bundled knowledge base: rows well formed, naming drugs the catalogue knows, each with a source."""

import csv
from pathlib import Path

import pytest

from hms.cds import checker
from hms.pharmacy import catalog

DATA = Path(checker.__file__).parent / "data"


def _rows(name):
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    "name", ["interactions.csv", "allergy_classes.csv", "allergy_substances.csv", "max_daily_doses.csv"]
)
def test_every_row_has_a_source(name):
    rows = _rows(name)
    assert rows
    for n, row in enumerate(rows, 2):
        assert None not in row and all(v is not None for v in row.values()), f"{name} line {n}: columns"
        assert len(row["source"].strip()) >= 10, f"{name} line {n}: no source"


def test_interaction_rows_validate_and_name_known_drugs():
    rows = _rows("interactions.csv")
    assert len(rows) >= 100
    for n, row in enumerate(rows, 2):
        rule, errors = checker.validate_interaction_row(row)
        assert errors == [] and rule is not None, f"line {n}: {errors}"
    assert len(checker.BUNDLED_INTERACTIONS) == len(rows)


def test_onc_high_priority_groups_are_cited():
    onc = [r for r in checker.BUNDLED_INTERACTIONS if "22539083" in r.source]
    sides = {frozenset((r.a, r.b)) for r in onc}
    for pair in [
        ("class:nitrates", "class:pde5-inhibitors"),
        ("class:maois", "class:serotonergic"),
        ("class:maois", "class:sympathomimetics"),
        ("simvastatin", "class:strong-cyp3a4-inhibitors"),
        ("lovastatin", "class:strong-cyp3a4-inhibitors"),
        ("class:ergots", "class:strong-cyp3a4-inhibitors"),
        ("tizanidine", "class:cyp1a2-inhibitors"),
        ("ramelteon", "fluvoxamine"),
        ("methotrexate", "trimethoprim"),
        ("atazanavir", "class:ppis"),
        ("bosentan", "glyburide"),
        ("irinotecan", "ketoconazole"),
        ("class:qt-prolonging", "class:qt-prolonging"),
        ("thioridazine", "class:qt-prolonging"),
        ("pimozide", "class:qt-prolonging"),
    ]:
        assert frozenset(pair) in sides, pair


def test_allergy_and_dose_tables_resolve():
    for row in _rows("allergy_classes.csv"):
        assert row["severity"] in checker.SEVERITIES
        assert row["drug_class"] in checker.CLASS_KEYS, row
    assert checker.ALLERGY_SUBSTANCES["snomed:91936005"] == "penicillins"
    for row in _rows("max_daily_doses.csv"):
        assert catalog.ingredient_find(row["ingredient"]) is not None, row
        assert float(row["max_daily"]) > 0
    assert len(checker.MAX_DAILY_DOSES) >= 100
