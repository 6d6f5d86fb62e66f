"""`cds_check` against real patients, prescriptions and allergies: interactions, allergies, duplicates,
maximum doses, unknown drugs."""

from decimal import Decimal

import pytest
from django.utils import timezone

from hms.cds.checker import Finding, ProposedMedication, cds_check, ingredient_daily_mg
from hms.core import codes
from hms.pharmacy import catalog

from .conftest import allergy, prescribe

pytestmark = pytest.mark.django_db

WARFARIN = "855332"
IBUPROFEN = "310965"
SIMVASTATIN = "312961"
ATORVASTATIN = "259255"
CLARITHROMYCIN = "197517"
SILDENAFIL = "312950"
NITROGLYCERIN = "705129"
AMOXICILLIN = "308182"
ACETAMINOPHEN_325 = "313782"
ACETAMINOPHEN_500 = "198440"
VICODIN = "1310197"
LISINOPRIL = "314076"
METFORMIN = "861007"
CEPHALEXIN = "309114"
MEROPENEM = "1722939"
AZITHROMYCIN = "308460"
PENICILLIN_V = "834102"
SMX_TMP = "198335"
FUROSEMIDE = "310429"

# (drug a, drug b, expected worst interaction severity): at least one pair per ONC high-priority group
FLAGGED = [
    (WARFARIN, IBUPROFEN, "major"),
    (SIMVASTATIN, CLARITHROMYCIN, "contraindicated"),
    (SILDENAFIL, NITROGLYCERIN, "contraindicated"),
    ("358263", NITROGLYCERIN, "contraindicated"),  # tadalafil + nitroglycerin
    ("312347", "328670", "contraindicated"),  # phenelzine + sertraline (MAOI + serotonergic)
    ("312347", "1660014", "contraindicated"),  # phenelzine + epinephrine (MAOI + sympathomimetic)
    ("197904", "197856", "contraindicated"),  # lovastatin + itraconazole
    ("1995248", CLARITHROMYCIN, "contraindicated"),  # dihydroergotamine + clarithromycin
    ("313392", "309309", "contraindicated"),  # tizanidine + ciprofloxacin (CYP1A2)
    ("596206", "903884", "contraindicated"),  # ramelteon + fluvoxamine
    ("105586", SMX_TMP, "major"),  # methotrexate + trimethoprim
    ("664741", "198051", "major"),  # atazanavir + omeprazole
    ("643476", "310537", "contraindicated"),  # bosentan + glyburide
    ("198202", "1535457", "contraindicated"),  # rifampin + ritonavir
    ("1726319", "197856", "major"),  # irinotecan + itraconazole (strong CYP3A4 inhibitor)
    ("200371", "310672", "major"),  # citalopram + haloperidol (QT + QT)
    ("198274", "310385", "contraindicated"),  # thioridazine + fluoxetine
    ("198103", CLARITHROMYCIN, "contraindicated"),  # pimozide + clarithromycin
    (WARFARIN, "197698", "major"),  # warfarin + fluconazole
    ("197604", "897718", "major"),  # digoxin + verapamil (both in the Synthea data)
    ("1049621", "197901", "major"),  # oxycodone + lorazepam (opioid + benzodiazepine)
    ("835900", SIMVASTATIN, "contraindicated"),  # cyclosporine + simvastatin (Synthea)
    ("105586", "198014", "major"),  # methotrexate + naproxen (Synthea)
    ("309362", WARFARIN, "major"),  # clopidogrel + warfarin (Synthea)
]

NOT_FLAGGED = [
    (AMOXICILLIN, ACETAMINOPHEN_325),
    (LISINOPRIL, METFORMIN),
    ("197361", ATORVASTATIN),  # amlodipine + atorvastatin
    ("311372", "198051"),  # loratadine + omeprazole
    ("966222", METFORMIN),  # levothyroxine + metformin
    ("745679", "895994"),  # albuterol + fluticasone inhalers
]


def _check(patient, *rxcuis, **kwargs):
    return cds_check(patient=patient, proposed=[ProposedMedication(rxcui=r) for r in rxcuis], **kwargs)


def _worst(findings, kind):
    ranked = [f for f in findings if f.kind == kind]
    order = ("contraindicated", "major", "moderate", "minor")
    return min((f.severity for f in ranked), key=order.index) if ranked else None


@pytest.mark.parametrize(("a", "b", "severity"), FLAGGED)
def test_known_pairs_are_flagged(cds_world, a, b, severity):
    findings = _check(cds_world["patient"], a, b)
    assert _worst(findings, "interaction") == severity
    hit = next(f for f in findings if f.kind == "interaction" and f.severity == severity)
    assert hit.source and set(hit.drugs) == {catalog.medication_get(a).name, catalog.medication_get(b).name}
    assert hit.blocking is (severity == "contraindicated")
    # the order of the drugs does not matter
    assert _worst(_check(cds_world["patient"], b, a), "interaction") == severity


@pytest.mark.parametrize(("a", "b"), NOT_FLAGGED)
def test_harmless_pairs_are_not_flagged(cds_world, a, b):
    assert _check(cds_world["patient"], a, b) == []


def test_interaction_with_an_active_prescription_only(cds_world):
    patient = cds_world["patient"]
    warfarin = prescribe(patient, WARFARIN)
    prescribe(patient, SIMVASTATIN, status="stopped")
    rx = prescribe(patient, CLARITHROMYCIN, status="entered-in-error")
    gone = prescribe(patient, "105586")  # methotrexate, soft-deleted below
    gone.deleted_at = timezone.now()
    gone.save()
    findings = _check(patient, IBUPROFEN)
    assert [(f.kind, f.severity) for f in findings] == [("interaction", "major")]
    assert f"#{warfarin.pk}" in findings[0].message
    assert _check(patient, IBUPROFEN, exclude_prescription_ids=[warfarin.pk]) == []
    assert rx.status == "entered-in-error"  # stopped / entered-in-error / deleted rows are not "current"


def test_penicillin_allergy(cds_world):
    patient = cds_world["patient"]
    allergy(patient, "Allergy to penicillin", system=codes.SNOMED, code="91936005")
    amox = _check(patient, AMOXICILLIN)
    assert [(f.kind, f.severity) for f in amox] == [("allergy", "contraindicated")]
    assert amox[0].blocking and "penicillin" in amox[0].message.lower()
    ceph = _check(patient, CEPHALEXIN)
    assert [(f.kind, f.severity) for f in ceph] == [("allergy", "moderate")]
    assert not ceph[0].blocking and "cross-reactivity" in ceph[0].message
    assert [(f.kind, f.severity) for f in _check(patient, MEROPENEM)] == [("allergy", "minor")]
    assert _check(patient, AZITHROMYCIN) == []


def test_allergy_coded_as_an_ingredient_or_free_text(cds_world):
    patient = cds_world["patient"]
    allergy(patient, "amoxicillin", system=codes.RXNORM, code="723")
    allergy(patient, "Sulfa")
    direct = _check(patient, "562251")  # amoxicillin/clavulanate
    assert direct[0].severity == "contraindicated" and "contains amoxicillin" in direct[0].message
    assert _worst(_check(patient, PENICILLIN_V), "allergy") == "contraindicated"  # same class
    assert _worst(_check(patient, SMX_TMP), "allergy") == "contraindicated"
    assert _worst(_check(patient, FUROSEMIDE), "allergy") == "minor"  # non-antibiotic sulfonamide


def test_inactive_and_no_known_allergies_are_ignored(cds_world):
    patient = cds_world["patient"]
    allergy(patient, "Allergy to penicillin", system=codes.SNOMED, code="91936005", status="resolved")
    allergy(patient, "No known allergy", system=codes.SNOMED, code="716186003")
    assert _check(patient, AMOXICILLIN) == []


def test_other_patients_records_do_not_count(cds_world):
    allergy(cds_world["stranger"], "Allergy to penicillin", system=codes.SNOMED, code="91936005")
    prescribe(cds_world["stranger"], WARFARIN)
    assert _check(cds_world["patient"], AMOXICILLIN, IBUPROFEN) == []


def test_duplicates(cds_world):
    patient = cds_world["patient"]
    statins = _check(patient, SIMVASTATIN, ATORVASTATIN)
    assert [(f.kind, f.severity) for f in statins] == [("duplicate", "moderate")]
    assert "hmg-coa-reductase-inhibitors" in statins[0].message
    paracetamol = _check(patient, ACETAMINOPHEN_325, VICODIN)
    assert [(f.kind, f.severity) for f in paracetamol] == [("duplicate", "major")]
    assert "acetaminophen" in paracetamol[0].message
    current = prescribe(patient, SIMVASTATIN)
    assert [(f.kind, f.severity) for f in _check(patient, ATORVASTATIN)] == [("duplicate", "moderate")]
    assert _check(patient, ATORVASTATIN, exclude_prescription_ids=[current.pk]) == []


def _dose(patient, rxcui, value, unit, per_day):
    proposed = [ProposedMedication(rxcui, Decimal(str(value)), unit, Decimal(str(per_day)))]
    return [f for f in cds_check(patient=patient, proposed=proposed) if f.kind == "max-dose"]


def test_max_daily_dose(cds_world):
    patient = cds_world["patient"]
    assert _dose(patient, ACETAMINOPHEN_500, 2, "tablet", 4) == []  # 4000 mg: at the limit
    over = _dose(patient, ACETAMINOPHEN_500, 2, "tablet", 5)  # 5000 mg
    assert len(over) == 1 and over[0].severity == "major" and "5000 mg/day" in over[0].message
    assert "4000 mg" in over[0].message and "FDA" in over[0].source
    assert _dose(patient, ACETAMINOPHEN_500, 1, "g", 5)  # unit-aware: grams
    assert _dose(patient, ACETAMINOPHEN_500, 900, "mg", 4) == []
    assert _dose(patient, "884173", 1000, "mcg", 3)  # clonidine 3 mg > 2.4 mg
    assert _dose(patient, "884173", 300, "mcg", 3) == []
    assert _dose(patient, "105586", 10, "mg", 1)  # methotrexate daily instead of weekly
    assert _dose(patient, "105586", 10, "mg", Decimal("0.1429")) == []  # once weekly
    assert _dose(patient, "1043400", 30, "mL", 7)  # 30 mL x 7 of 21.7 mg/mL acetaminophen = 4557 mg
    assert _dose(patient, "1043400", 30, "mL", 6) == []  # 3906 mg


def test_max_dose_counts_the_active_prescriptions(cds_world):
    patient = cds_world["patient"]
    prescribe(patient, ACETAMINOPHEN_500, dose=1000, unit="mg", per_day=3)
    findings = _dose(patient, VICODIN, 2, "tablet", 4)  # + 2400 mg acetaminophen = 5400 mg
    assert len(findings) == 1 and "5400 mg/day of acetaminophen including the active" in findings[0].message


def test_unknown_drug_and_serialisation(cds_world):
    findings = _check(cds_world["patient"], "999999999", AMOXICILLIN)
    assert [(f.kind, f.severity) for f in findings] == [("unknown-drug", "moderate")]
    data = findings[0].as_dict()
    assert data["blocking"] is False and data["drugs"] == ["999999999"] and data["source"]
    assert Finding("allergy", "contraindicated", "m", "s").blocking


def test_findings_are_sorted_most_severe_first(cds_world):
    patient = cds_world["patient"]
    allergy(patient, "Allergy to penicillin", system=codes.SNOMED, code="91936005")
    findings = _check(patient, SIMVASTATIN, ATORVASTATIN, CLARITHROMYCIN, CEPHALEXIN)
    severities = [f.severity for f in findings]
    assert severities[0] == "contraindicated"
    order = ("contraindicated", "major", "moderate", "minor")
    assert severities == sorted(severities, key=order.index)


def test_daily_amounts():
    med = catalog.medication_get(VICODIN)
    assert ingredient_daily_mg(med, 2, "tablets", 4) == {"161": Decimal(2400), "5489": Decimal(40)}
    assert ingredient_daily_mg(med, 300, "mg", 4) is None  # a combination dosed in mg is ambiguous
    assert ingredient_daily_mg(catalog.medication_get(AMOXICILLIN), 2, "spoonful", 3) is None
    assert ingredient_daily_mg(catalog.medication_get(AMOXICILLIN), -1, "mg", 3) is None
