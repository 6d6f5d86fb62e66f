"""Prescription analysis: the offline parser on a table of prescriptions, malformed input, and the API
(`POST /api/analyze-prescription/`) with its role matrix, patient scope, audit and CDS findings."""

from decimal import Decimal

import pytest
from django.urls import reverse

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import AllergyIntolerance
from hms.core import codes
from hms.core.testing import PatientFactory, api_client_for, make_user, put_in_care
from hms.pharmacy.analysis import AnalysisInputError, parse_offline, split_lines
from hms.pharmacy.models import MedicationRequest

URL = "/api/analyze-prescription/"
D = Decimal

# text | rxcui | level (prod = RxNorm product, ing = ingredient) | strength | dose | route | frequency code |
# per day | PRN | duration (days); "-" = none
TABLE_TEXT = """
Amoxicillin 500mg PO TID x 7 days | 308192 | prod | 500 mg | 500 mg | oral | TID | 3 | - | 7
ibuprofen 400 mg q6h prn | 5640 | ing | 400 mg | 400 mg | oral | Q6H-PRN | 4 | prn | -
warfarin 5 mg po daily | 855332 | prod | 5 mg | 5 mg | oral | QD | 1 | - | -
Metformin 1 g bid with meals | 861004 | prod | 1 g | 1 g | oral | BID | 2 | - | -
albuterol 2 puffs inh q4-6h prn | 435 | ing | - | 2 puff | inhalation | Q4H-PRN | 6 | prn | -
lisinopril 10mg once daily | 314076 | prod | 10 mg | 10 mg | oral | QD | 1 | - | -
atorvastatin 40 mg qhs | 617311 | prod | 40 mg | 40 mg | oral | QHS | 1 | - | -
amoxicillin/clavulanate 875 mg bid for 10 days | 562508 | prod | 875 mg | 875 mg | oral | BID | 2 | - | 10
insulin glargine 10 units sc qhs | 274783 | ing | - | 10 unit | subcutaneous | QHS | 1 | - | -
Paracetamol 1 g PO q6h prn pain | 161 | ing | 1 g | 1 g | oral | Q6H-PRN | 4 | prn | -
ondansetron 4 mg IV q8h | 26225 | ing | 4 mg | 4 mg | intravenous | Q8H | 3 | - | -
amoxicillin 250 mg/5 mL 5 mL po tid x 1 week | 723 | ing | 250 mg/5 mL | 5 mL | oral | TID | 3 | - | 7
nitroglycerin 0.4 mg SL prn | 198039 | prod | 0.4 mg | 0.4 mg | sublingual | PRN | - | prn | -
ibuprofen 800mg po tid x2wk | 197807 | prod | 800 mg | 800 mg | oral | TID | 3 | - | 14
Take 1 tablet of lisinopril 20 mg by mouth qam | 314077 | prod | 20 mg | 1 tablet | oral | QAM | 1 | - | -
metoprolol 25 mg PO BID | 866924 | prod | 25 mg | 25 mg | oral | BID | 2 | - | -
furosemide 40 mg IV stat | 4603 | ing | 40 mg | 40 mg | intravenous | STAT | - | - | -
Salbutamol 100 mcg 2 puffs inhaled 4 times a day | 435 | ing | 100 mcg | 2 puff | inhalation | QID | 4 | - | -
ceftriaxone 1 g IV q24h for 5 days | 1665021 | prod | 1 g | 1 g | intravenous | Q24H | 1 | - | 5
enoxaparin 40 mg SC once daily | 67108 | ing | 40 mg | 40 mg | subcutaneous | QD | 1 | - | -
omeprazole 20 mg p.o. q.d. x 4 weeks | 198051 | prod | 20 mg | 20 mg | oral | QD | 1 | - | 28
sertraline 50 mg every day | 312941 | prod | 50 mg | 50 mg | oral | QD | 1 | - | -
prednisone 40 mg po qam x 5d | 8640 | ing | 40 mg | 40 mg | oral | QAM | 1 | - | 5
acetaminophen 650 mg po every 6 hours as needed | 161 | ing | 650 mg | 650 mg | oral | Q6H-PRN | 4 | prn | -
amlodipine 5 mg orally once a day | 197361 | prod | 5 mg | 5 mg | oral | QD | 1 | - | -
aspirin 81 mg po daily | 243670 | prod | 81 mg | 81 mg | oral | QD | 1 | - | -
levothyroxine 50 mcg PO QAM | 966247 | prod | 50 mcg | 50 mcg | oral | QAM | 1 | - | -
hydrochlorothiazide 25 mg po qod | 316049 | prod | 25 mg | 25 mg | oral | QOD | 0.5 | - | -
methotrexate 15 mg po weekly | 6851 | ing | 15 mg | 15 mg | oral | QWK | 0.14 | - | -
Augmentin 875 mg twice daily for 7 days | 562508 | prod | 875 mg | 875 mg | oral | BID | 2 | - | 7
vancomycin 1 g IV q12h | 1807513 | prod | 1 g | 1 g | intravenous | Q12H | 2 | - | -
gabapentin 300 mg po three times daily | 310431 | prod | 300 mg | 300 mg | oral | TID | 3 | - | -
tramadol 50 mg q6h prn | 835603 | prod | 50 mg | 50 mg | oral | Q6H-PRN | 4 | prn | -
heparin 5000 units SC q8h | 5224 | ing | - | 5000 unit | subcutaneous | Q8H | 3 | - | -
cephalexin 500 mg PO QID x 10 days | 309114 | prod | 500 mg | 500 mg | oral | QID | 4 | - | 10
clopidogrel 75 mg PO daily | 309362 | prod | 75 mg | 75 mg | oral | QD | 1 | - | -
amoxicillin 500 mg capsule tds x 5/7 | 308191 | prod | 500 mg | 500 mg | oral | TID | 3 | - | 5
atorvastatin 20 mg nocte x 2/52 | 617310 | prod | 20 mg | 20 mg | oral | QHS | 1 | - | 14
metformin 500 mg bd with food | 861007 | prod | 500 mg | 500 mg | oral | BID | 2 | - | -
"""


def _row(line: str):
    text, rxcui, level, strength, dose, route, freq, per_day, prn, days = (c.strip() for c in line.split("|"))
    value, unit = dose.split()
    return text, (
        rxcui,
        {"prod": "product", "ing": "ingredient"}[level],
        "" if strength == "-" else strength,
        D(value),
        unit,
        route,
        freq,
        None if per_day == "-" else D(per_day),
        prn == "prn",
        None if days == "-" else int(days),
    )


TABLE = [_row(line) for line in TABLE_TEXT.strip().splitlines()]


@pytest.mark.parametrize(("text", "expected"), TABLE, ids=[t for t, _ in TABLE])
def test_offline_parser_reads_the_prescription(text, expected):
    rxcui, level, strength, dose, unit, route, freq, per_day, prn, days = expected
    [item] = parse_offline(text)
    assert item.status == "parsed", item.reason
    assert item.text == text.rstrip(".")
    assert (item.drug["rxcui"], item.drug["level"]) == (rxcui, level)
    assert item.strength == strength
    assert (item.dose_value, item.dose_unit) == (dose, unit)
    assert item.route == route
    assert item.frequency_code == freq
    assert item.frequency_per_day == per_day
    assert item.as_needed is prn
    assert item.duration_days == days


def test_a_dose_form_word_picks_the_product():
    [capsule] = parse_offline("amoxicillin 500 mg capsule po tid")
    [tablet] = parse_offline("amoxicillin 500 mg tab po tid")
    assert (capsule.drug["rxcui"], tablet.drug["rxcui"]) == ("308191", "308192")
    assert capsule.drug["alternatives"] == [] and capsule.warnings == []


def test_route_codes_are_snomed():
    [item] = parse_offline("ondansetron 4 mg IV q8h")
    assert (item.route, item.route_code) == ("intravenous", "47625008")
    [item] = parse_offline("amoxicillin 500 mg po tid")
    assert item.route_code == "26643006"


def test_lines_split_on_semicolons_new_lines_and_and_but_not_inside_a_combination():
    text = (
        "1. Amoxicillin 500mg PO TID x 7 days; ibuprofen 400 mg q6h prn\n"
        "- lisinopril 10 mg daily and atorvastatin 40 mg qhs"
    )
    assert split_lines(text) == [
        "Amoxicillin 500mg PO TID x 7 days",
        "ibuprofen 400 mg q6h prn",
        "lisinopril 10 mg daily",
        "atorvastatin 40 mg qhs",
    ]
    assert split_lines("ibuprofen 400 mg and paracetamol 1 g q6h") == [
        "ibuprofen 400 mg",
        "paracetamol 1 g q6h",
    ]
    [item] = parse_offline("amoxicillin and clavulanate 875 mg bid")
    assert item.drug["rxcui"] == "562508"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("500mg PO TID", "no medication name found"),
        ("xyzzy 10 mg bid", "'xyzzy' is not in the medication catalogue"),
        ("PO TID", "no medication name found"),
        ("12345", "no medication name found"),
        ("take 1 tab bid", "no medication name found"),
        ("😀", "no medication name found"),
    ],
)
def test_malformed_lines_come_back_unparsed_with_the_reason(text, reason):
    [item] = parse_offline(text)
    assert item.status == "unparsed"
    assert item.reason == reason
    assert item.drug is None


def test_questionable_parts_are_ignored_with_a_warning():
    [item] = parse_offline("Amoxicillin 500 PO t.i.d.")
    assert item.drug["rxcui"] == "723" and item.dose_value is None
    assert "Ignored number without a unit: 500." in item.warnings
    [item] = parse_offline("aspirin 0 mg daily")
    assert "'0 mg' is not a valid amount." in item.warnings and item.dose_value is None
    [item] = parse_offline("lisinopril 10 mg x 0 days")
    assert item.duration_days is None and "Duration 'x 0 days' ignored." in item.warnings
    [item] = parse_offline("simvastatin 20 mg")
    assert item.warnings == ["No frequency given."]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter a prescription to analyse."),
        ("   \n ", "Enter a prescription to analyse."),
        (";;;;", "No prescription found in the text."),
        ("a" * 2001, "At most 2000 characters (got 2001)."),
        ("warfarin\x00 5 mg", "The text holds control characters; send plain text."),
        (";".join(["aspirin 81 mg daily"] * 21), "At most 20 medications per analysis (got 21)."),
        (42, "Give the prescription as text."),
    ],
)
def test_bad_text_is_an_input_error(text, message):
    with pytest.raises(AnalysisInputError) as exc:
        parse_offline(text)
    assert (exc.value.field, exc.value.message) == ("text", message)


# ---------------------------------------------------------------- the API


@pytest.fixture
def doctor(db):
    return make_user(Role.DOCTOR)


@pytest.fixture
def allergic_patient(doctor):
    """A penicillin-allergic patient in the doctor's care, on warfarin."""
    patient = PatientFactory()
    put_in_care(doctor, patient)
    AllergyIntolerance.objects.create(
        patient=patient,
        code_system=codes.SNOMED,
        code="91936005",
        code_display="Allergy to penicillin",
        category="medication",
        criticality="high",
    )
    MedicationRequest.objects.create(
        patient=patient,
        code_system=codes.RXNORM,
        code="855332",
        code_display="Warfarin Sodium 5 MG Oral Tablet",
        status="active",
        dose_value=D(5),
        dose_unit="mg",
        frequency_per_day=D(1),
    )
    return patient


def test_api_returns_items_findings_and_summary(doctor):
    response = api_client_for(doctor).post(
        URL, {"text": "Amoxicillin 500mg PO TID x 7 days; ibuprofen 400 mg q6h prn"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["provider"] == "offline" and body["patient"] is None
    first, second = body["items"]
    # no dose form written: the tablet is taken and the capsule offered as an alternative
    assert first["drug"] == {
        "rxcui": "308192",
        "name": "amoxicillin 500 MG Oral Tablet",
        "level": "product",
        "ingredients": [{"rxcui": "723", "name": "amoxicillin"}],
        "alternatives": [{"rxcui": "308191", "name": "amoxicillin 500 MG Oral Capsule"}],
    }
    assert first["warnings"] == [
        "Also matches amoxicillin 500 MG Oral Capsule: name the dose form to choose."
    ]
    assert (first["dose_value"], first["dose_unit"], first["route"], first["frequency_code"]) == (
        "500.0000",
        "mg",
        "oral",
        "TID",
    )
    assert first["duration_days"] == 7
    assert (second["drug"]["rxcui"], second["as_needed"], second["frequency_code"]) == (
        "5640",
        True,
        "Q6H-PRN",
    )
    assert body["findings"] == [] and body["blocking"] is False
    assert body["summary"].startswith("2 medications recognised:")
    assert not AuditEvent.objects.exists()  # no patient, no PHI read


@pytest.mark.parametrize(
    ("text", "kind", "severity"),
    [
        ("warfarin 5 mg daily; ibuprofen 800 mg tid", "interaction", "major"),
        ("simvastatin 40 mg qhs and clarithromycin 500 mg bid", "interaction", "contraindicated"),
        ("sildenafil 50 mg prn; nitroglycerin 0.4 mg SL prn", "interaction", "contraindicated"),
        ("ibuprofen 800 mg po q4h", "max-dose", "major"),
        ("acetaminophen 1 g q4h", "max-dose", "major"),
        ("atorvastatin 40 mg qhs; simvastatin 20 mg qhs", "duplicate", "moderate"),
    ],
)
def test_api_findings_among_the_items_come_from_the_checker(doctor, text, kind, severity):
    body = api_client_for(doctor).post(URL, {"text": text}, format="json").json()
    assert [(f["kind"], f["severity"]) for f in body["findings"]] == [(kind, severity)]
    assert body["findings"][0]["source"]
    assert body["blocking"] is (severity == "contraindicated")
    assert f"({kind})" in body["summary"]


def test_api_ingredient_level_findings_name_the_ingredient(doctor):
    body = api_client_for(doctor).post(URL, {"text": "ibuprofen 1200 mg tid"}, format="json").json()
    [finding] = body["findings"]
    assert finding["kind"] == "max-dose" and finding["message"].startswith("ibuprofen 1200 mg:")


def test_api_checks_against_the_patients_allergies_and_active_prescriptions(doctor, allergic_patient):
    response = api_client_for(doctor).post(
        URL,
        {"text": "amoxicillin 500 mg po tid; ibuprofen 400 mg tid", "patient": allergic_patient.pk},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    found = {(f["kind"], f["severity"]) for f in body["findings"]}
    assert ("allergy", "contraindicated") in found
    assert ("interaction", "major") in found  # ibuprofen + the active warfarin
    assert body["blocking"] is True and body["patient"] == allergic_patient.pk
    event = AuditEvent.objects.get(patient_id=allergic_patient.pk)
    assert event.action == "read" and event.detail["view"] == "analyze-prescription"


def test_api_role_matrix_and_patient_scope(doctor, allergic_patient):
    body = {"text": "amoxicillin 500 mg po tid"}
    with_patient = {**body, "patient": allergic_patient.pk}
    assert api_client_for(None).post(URL, body, format="json").status_code == 401
    for role in (Role.RECEPTIONIST, Role.ADMIN, Role.BILLING, Role.LAB_TECHNICIAN, Role.PATIENT):
        user = make_user(role)
        assert api_client_for(user).post(URL, body, format="json").status_code == 403, role
        assert api_client_for(user).post(URL, with_patient, format="json").status_code == 403, role
    me = make_user(Role.PATIENT)  # a patient never uses the analyser, not even about themself
    assert api_client_for(me).post(URL, {**body, "patient": me.patient.pk}, format="json").status_code == 403
    for role in (Role.DOCTOR, Role.NURSE, Role.PHARMACIST):
        user = doctor if role == Role.DOCTOR else make_user(role)
        assert api_client_for(user).post(URL, body, format="json").status_code == 200, role
    # another patient's record: 404 for clinicians not caring for them; pharmacists read every live patient
    other_nurse = make_user(Role.NURSE)
    other_doctor = make_user(Role.DOCTOR)
    assert api_client_for(other_nurse).post(URL, with_patient, format="json").status_code == 404
    assert api_client_for(other_doctor).post(URL, with_patient, format="json").status_code == 404
    assert api_client_for(doctor).post(URL, with_patient, format="json").status_code == 200
    assert (
        api_client_for(make_user(Role.PHARMACIST)).post(URL, with_patient, format="json").status_code == 200
    )
    missing = {**body, "patient": 999999999}
    assert api_client_for(doctor).post(URL, missing, format="json").status_code == 404
    assert not AuditEvent.objects.filter(
        patient_id=allergic_patient.pk, actor__in=[other_nurse, other_doctor]
    ).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": 42}, "text"),
        ({"text": ["aspirin"]}, "text"),
        ({"text": "a" * 2001}, "text"),
        ({"text": ";;;"}, "text"),
        ({"text": "aspirin\u0007 81 mg"}, "text"),
        ({"text": "aspirin 81 mg", "patient": "abc"}, "patient"),
        ({"text": "aspirin 81 mg", "patient": 0}, "patient"),
        ({"text": "aspirin 81 mg", "patient": 2**70}, "patient"),
        ({"text": "aspirin 81 mg", "provider": "magic"}, "provider"),
    ],
)
def test_api_bad_input_is_400_with_the_field(doctor, body, field):
    response = api_client_for(doctor).post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_api_unreadable_lines_are_200_with_unparsed_items(doctor):
    response = api_client_for(doctor).post(
        URL, {"text": "xyzzy 10 mg bid\n500mg PO TID\nwarfarin 5 mg daily"}, format="json"
    )
    assert response.status_code == 200
    statuses = [(i["status"], i["reason"]) for i in response.json()["items"]]
    assert statuses == [
        ("unparsed", "'xyzzy' is not in the medication catalogue"),
        ("unparsed", "no medication name found"),
        ("parsed", ""),
    ]
    assert 'Could not read "xyzzy 10 mg bid"' in response.json()["summary"]


def test_api_url_name():
    assert reverse("api-analyze-prescription") == URL


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        ("aspirin 99999999999999999999 mg daily", "'99999999999999999999 mg' is not a valid amount."),
        ("aspirin 0.000000001 mg daily", "'0.000000001 mg' is not a valid amount."),
        ("aspirin 99999999999999999999 tabs daily", "'99999999999999999999 tabs' is not a valid dose."),
        ("amoxicillin 500 mg x 99999999999999 days", "Duration 'x 99999999999999 days' ignored."),
        ("aspirin 1.5.5 mg", "Ignored numbers without a unit: 1.5, 5."),
        ("aspirin 81 mg q99h", "Interval of 99 hours ignored."),
    ],
)
def test_api_absurd_numbers_are_warnings_never_a_500(doctor, text, warning):
    response = api_client_for(doctor).post(URL, {"text": text}, format="json")
    assert response.status_code == 200
    [item] = response.json()["items"]
    assert warning in item["warnings"]
