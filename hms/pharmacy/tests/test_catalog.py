"""The medication catalogue (RxNorm): contents, Synthea coverage, search, and GET /api/medications/."""

from pathlib import Path

import pytest

from hms.accounts.roles import Role
from hms.core.testing import api_client_for, make_user
from hms.pharmacy import catalog

DATA = Path(catalog.__file__).parent / "data"
SYNTHEA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "synthea"


def _synthea_list() -> dict[str, str]:
    rows = (DATA / "synthea_rxcuis.txt").read_text(encoding="utf-8").splitlines()
    return dict(line.split("\t", 1) for line in rows if line.strip())


def test_every_synthea_medication_is_in_the_catalogue():
    listed = _synthea_list()
    assert len(listed) >= 50
    for rxcui, name in listed.items():
        med = catalog.medication_get(rxcui)
        assert med is not None, rxcui
        # RxNorm versions differ only in tall-man lettering (oxyCODONE / Oxycodone)
        assert med.name.lower() == name.lower() and med.origin == "synthea"


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="the Synthea sample data is not next to the checkout")
def test_synthea_list_is_up_to_date():
    import importlib.util

    spec = importlib.util.spec_from_file_location("extract", DATA / "extract_synthea_medications.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = module.extract(str(SYNTHEA))
    assert set(found) == set(_synthea_list())


def test_catalogue_contents():
    assert len(catalog.MEDICATIONS) >= 200
    assert len([m for m in catalog.MEDICATIONS.values() if m.origin == "formulary"]) >= 150
    for med in catalog.MEDICATIONS.values():
        assert med.rxcui.isdigit() and med.name and med.dose_form and med.route, med
        assert med.ingredients and all(i.rxcui.isdigit() for i in med.ingredients), med
    amox = catalog.medication_get("308191")
    assert amox.name == "amoxicillin 500 MG Oral Capsule" and amox.verified == "ecqm"
    assert amox.ingredients == (catalog.Ingredient("723", "amoxicillin"),)
    assert amox.strength == "500 mg" and amox.route == "oral"
    assert {"penicillins", "beta-lactams"} <= set(
        amox.drug_classes
    ) and amox.therapeutic_class == "penicillins"
    vicodin = catalog.medication_get("1310197")
    assert [i.name for i in vicodin.ingredients] == ["acetaminophen", "hydrocodone"]
    assert vicodin.therapeutic_class == "opioid-analgesics" and "opioids" in vicodin.drug_classes
    # immutable module-level data
    with pytest.raises(TypeError):
        catalog.MEDICATIONS["1"] = amox
    with pytest.raises(AttributeError):
        amox.name = "x"


def test_code_verification_status():
    """Where each code was cross-checked (docs/cds.md); most of the formulary is, the rest is listed."""
    counts = {}
    for med in catalog.MEDICATIONS.values():
        assert med.verified in ("synthea", "synthea-costs", "ecqm", "ohdsi", ""), med
        assert (med.verified == "synthea") == (med.origin == "synthea"), med
        counts[med.verified] = counts.get(med.verified, 0) + 1
    assert counts["ecqm"] + counts["synthea-costs"] >= 120
    # codes found wrong during the cross-check stay out (each was another drug in RxNorm)
    for wrong in (
        "197985",
        "238135",
        "636671",
        "198045",
        # eCQM 2025-05-08 expansions: 198466 aspirin 325 MG capsule, 860092 ketorolac 15 MG/ML 1 ML,
        # 1191250 naloxone 1 MG/ML 2 ML syringe, 831102 diltiazem 90 MG tablet, 859751 rosuvastatin 20 MG,
        # 310534 glyburide 2.5 MG, 991486 codeine / promethazine solution, 995218 hydroxyzine 10 MG,
        # 617312 atorvastatin 10 MG, 1665005 ceftriaxone 500 MG
        "198466",
        "860092",
        "1191250",
        "831102",
        "859751",
        "310534",
        "991486",
        "995218",
        "617312",
        "1665005",
    ):
        assert catalog.medication_get(wrong) is None
    assert catalog.medication_get("310798").name == "hydrochlorothiazide 25 MG Oral Tablet"
    assert catalog.medication_get("311700").name == "Midazolam 1 MG/ML Injectable Solution"


def test_lookups():
    assert catalog.medication_get("nope") is None and catalog.medication_get("") is None
    assert catalog.medication_get(" 308192 ").name == "amoxicillin 500 MG Oral Tablet"
    assert catalog.ingredient_get("11289").name == "warfarin"
    assert catalog.ingredient_get("0") is None
    assert catalog.ingredient_find("  WARFARIN ").rxcui == "11289"
    assert catalog.ingredient_find("warf") is None


def test_search():
    assert [m.rxcui for m in catalog.medication_search("amox 500 caps")] == ["308191"]
    assert {m.rxcui for m in catalog.medication_search("amox 500")} == {"308191", "308192", "617296"}
    names = [m.name for m in catalog.medication_search("simva")]
    assert names and all("imvastatin" in n for n in names)
    assert "308182" in [m.rxcui for m in catalog.medication_search("3081")]  # code prefix
    assert all(m.rxcui.startswith("3081") for m in catalog.medication_search("3081"))
    assert catalog.medication_search("") == [] and catalog.medication_search("  !! ") == []
    assert len(catalog.medication_search("oral", limit=5)) == 5
    assert len(catalog.medication_search("oral", limit=500)) == catalog.MAX_RESULTS
    assert "855332" in [m.rxcui for m in catalog.medication_search("warfarin 5")]
    assert catalog.medication_search("zzzz") == []


@pytest.mark.django_db
def test_api_role_matrix():
    for role in (
        Role.DOCTOR,
        Role.NURSE,
        Role.PHARMACIST,
        Role.RECEPTIONIST,
        Role.LAB_TECHNICIAN,
        Role.BILLING,
        Role.ADMIN,
    ):
        client = api_client_for(make_user(role))
        response = client.get("/api/medications/", {"q": "amox"})
        assert response.status_code == 200, role
        assert "308182" in [m["rxcui"] for m in response.json()["results"]]
        assert "National Library of Medicine" in response.json()["notice"]
    assert api_client_for(make_user(Role.PATIENT)).get("/api/medications/", {"q": "amox"}).status_code == 403
    assert api_client_for(None).get("/api/medications/", {"q": "amox"}).status_code == 401


@pytest.mark.django_db
def test_api_search_and_detail():
    client = api_client_for(make_user(Role.DOCTOR))
    data = client.get("/api/medications/", {"q": "vicodin"}).json()["results"]
    assert data[0]["rxcui"] == "1310197" and data[0]["system"] == catalog.RXNORM_SYSTEM
    assert data[0]["ingredients"][1] == {"rxcui": "5489", "name": "hydrocodone"}
    assert client.get("/api/medications/", {"q": ""}).json()["results"] == []
    assert len(client.get("/api/medications/", {"q": "tablet", "limit": "3"}).json()["results"]) == 3
    for bad in ("0", "51", "x"):
        response = client.get("/api/medications/", {"q": "a", "limit": bad})
        assert response.status_code == 400 and "limit" in response.json()
    assert client.get("/api/medications/", {"q": "a" * 101}).status_code == 400
    assert client.get("/api/medications/308191/").json()["name"] == "amoxicillin 500 MG Oral Capsule"
    assert client.get("/api/medications/999999999/").status_code == 404
