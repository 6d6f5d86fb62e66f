"""The bundled LOINC catalogue: contents, search, interpretation flags."""

import json
from decimal import Decimal

from hms.lab import catalog

# Every laboratory LOINC code of the Synthea sample data, as printed by
# hms/lab/data/extract_synthea_lab_codes.py (69409-1, the death certificate, is not a lab test).
SYNTHEA_LAB_CODES = [
    "10834-0",
    "1742-6",
    "1751-7",
    "18262-6",
    "1920-8",
    "1975-2",
    "20565-8",
    "20570-8",
    "2069-3",
    "2085-9",
    "2093-3",
    "21000-5",
    "2339-0",
    "2571-8",
    "2857-1",
    "2885-2",
    "2947-0",
    "32207-3",
    "32623-1",
    "33762-6",
    "33914-3",
    "38483-4",
    "4544-3",
    "4548-4",
    "49765-1",
    "57905-2",
    "6075-6",
    "6082-2",
    "6085-5",
    "6095-4",
    "6106-9",
    "6158-0",
    "6189-5",
    "6206-7",
    "6246-3",
    "6248-9",
    "6273-7",
    "6276-0",
    "6298-4",
    "6299-2",
    "6690-2",
    "6768-6",
    "6833-8",
    "6844-5",
    "718-7",
    "7258-7",
    "777-3",
    "785-6",
    "786-4",
    "787-2",
    "789-8",
    "24323-8",
    "51990-0",
    "55405-5",
    "57698-3",
    "58410-2",
]
COMMON = [
    "58410-2",
    "51990-0",
    "24323-8",
    "57698-3",
    "4548-4",
    "3016-3",
    "24356-8",
    "6301-6",
    "10839-9",
    "1988-5",
]


def test_catalogue_holds_synthea_codes_and_common_panels():
    missing = [c for c in SYNTHEA_LAB_CODES + COMMON if catalog.lab_test_get(c) is None]
    assert missing == []


def test_panels_list_only_known_members_and_tests_have_ucum_units():
    for test in catalog.TESTS.values():
        if test.is_panel:
            assert test.members and all(m in catalog.TESTS for m in test.members), test.code
        elif test.value_type == "quantity":
            assert test.unit, test.code
        if test.low is not None and test.high is not None:
            assert test.low < test.high, test.code
        if test.critical_low is not None and test.low is not None:
            assert test.critical_low < test.low, test.code
        if test.critical_high is not None and test.high is not None:
            assert test.critical_high > test.high, test.code
        assert set(test.sources) <= set(catalog.SOURCES), test.code


def test_data_file_carries_the_loinc_notice_and_is_immutable():
    raw = json.loads(catalog.DATA_FILE.read_text())
    assert "loinc.org/license" in raw["notice"]
    assert "Regenstrief" in catalog.__doc__
    try:
        catalog.TESTS["x"] = None
    except TypeError:
        pass
    else:  # pragma: no cover
        raise AssertionError("the catalogue must be read-only")


def test_search_by_words_abbreviations_and_code_prefix():
    assert [t.code for t in catalog.lab_test_search("cbc")] == ["58410-2"]
    assert "4548-4" in [t.code for t in catalog.lab_test_search("hba1c")]
    assert "6298-4" in [t.code for t in catalog.lab_test_search("potass")]
    assert [t.code for t in catalog.lab_test_search("4548")] == ["4548-4"]
    lipid = catalog.lab_test_search("lipid")
    assert lipid[0].code == "57698-3" and lipid[0].is_panel  # panels first
    assert catalog.lab_test_search("") == [] and catalog.lab_test_search("zzzz") == []
    assert len(catalog.lab_test_search("in")) <= catalog.MAX_RESULTS


def test_interpretation_against_reference_and_critical_limits():
    potassium = catalog.lab_test_get("6298-4")  # 3.5-5.0 mmol/L, critical < 2.8 or > 6.2
    assert catalog.interpretation_for(potassium, Decimal("4.1")) == "N"
    assert catalog.interpretation_for(potassium, Decimal("3.1")) == "L"
    assert catalog.interpretation_for(potassium, Decimal("5.5")) == "H"
    assert catalog.interpretation_for(potassium, Decimal("2.5")) == "LL"
    assert catalog.interpretation_for(potassium, Decimal("7.0")) == "HH"
    # the lab's own interval replaces the catalogue's, critical limits still apply
    assert catalog.interpretation_for(potassium, Decimal("5.2"), high=Decimal("5.3")) == "N"
    assert catalog.interpretation_for(None, Decimal("1")) == ""
    hdl = catalog.lab_test_get("2085-9")  # only a lower limit
    assert catalog.interpretation_for(hdl, Decimal("35")) == "L"
    assert catalog.interpretation_for(hdl, Decimal("80")) == "N"
