"""The invoices API through APIClient with JWT: the clerk's flow (manual charge → draft → edit → issue → PDF,
FHIR → credit note), bad input, and the role matrix of every endpoint (another patient's bill by id → 404;
billing sees money and demographics, never clinical notes)."""

from decimal import Decimal

import pytest
from fhir.resources.R4B.invoice import Invoice as FhirInvoice

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import charges, invoices
from hms.billing.models import ChargeItem, Invoice
from hms.clinical.models import ClinicalNote
from hms.core.testing import api_client_for, make_user, put_in_care

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(db):
    doctor = make_user(Role.DOCTOR)
    patient_user = make_user(Role.PATIENT)
    patient = patient_user.patient
    encounter = put_in_care(doctor, patient)
    stranger_user = make_user(Role.PATIENT)
    clerk = make_user(Role.BILLING)
    mine = charges.charge_manual_create(
        patient=patient, display="Dressing", unit_price=12, reason="ward", by=clerk
    )
    theirs = charges.charge_manual_create(
        patient=stranger_user.patient, display="Crutches", unit_price=30, reason="loan", by=clerk
    )
    my_bill = invoices.invoice_issue(
        invoice=invoices.invoice_draft_create(patient=patient, by=clerk), by=clerk
    )
    their_bill = invoices.invoice_issue(
        invoice=invoices.invoice_draft_create(patient=stranger_user.patient, by=clerk), by=clerk
    )
    return {
        "doctor": doctor,
        "nurse": make_user(Role.NURSE),
        "patient_user": patient_user,
        "patient": patient,
        "encounter": encounter,
        "stranger_user": stranger_user,
        "billing": clerk,
        "admin": make_user(Role.ADMIN),
        "receptionist": make_user(Role.RECEPTIONIST),
        "pharmacist": make_user(Role.PHARMACIST),
        "lab": make_user(Role.LAB_TECHNICIAN),
        "mine": mine,
        "theirs": theirs,
        "my_bill": my_bill,
        "their_bill": their_bill,
    }


def test_clerk_flow_manual_charge_draft_edit_issue_pdf_fhir_credit_note(world):
    w = world
    api = api_client_for(w["billing"])
    pid = w["patient"].pk
    response = api.post(
        "/api/charges/",
        {
            "patient": pid,
            "code_system": "urn:asclepius:billing",
            "code": "COPY-REC",
            "quantity": "3",
            "reason": "copies",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    copies = response.json()
    assert (
        copies["net_amount"] == "0.75" and copies["tax_amount"] == "0.06" and copies["patient"]["id"] == pid
    )
    response = api.post(
        "/api/charges/",
        {"patient": pid, "display": "Meal", "unit_price": "8.50", "reason": "guest meal"},
        format="json",
    )
    meal = response.json()

    response = api.post(
        "/api/invoices/", {"patient": pid, "charges": [copies["id"], meal["id"]]}, format="json"
    )
    assert response.status_code == 201, response.content
    draft = response.json()
    assert draft["status"] == "draft" and draft["number"] is None and draft["total"] == "9.31"
    assert [ln["total"] for ln in draft["lines"]] == ["0.81", "8.50"]

    response = api.patch(
        f"/api/invoices/{draft['id']}/", {"charges": [meal["id"]], "note": "Meal only"}, format="json"
    )
    assert response.status_code == 200 and response.json()["total"] == "8.50"
    assert (
        api.post(
            f"/api/charges/{copies['id']}/cancel/", {"reason": "Not requested"}, format="json"
        ).status_code
        == 200
    )

    response = api.post(f"/api/invoices/{draft['id']}/issue/")
    assert response.status_code == 200, response.content
    issued = response.json()
    assert (
        issued["number"].endswith("-000003") and issued["status"] == "issued" and issued["balance"] == "8.50"
    )
    assert api.post(f"/api/invoices/{draft['id']}/issue/").status_code == 409
    assert api.patch(f"/api/invoices/{draft['id']}/", {"note": "x"}, format="json").status_code == 409

    pdf = api.get(f"/api/invoices/{draft['id']}/pdf/")
    assert (
        pdf.status_code == 200
        and pdf["Content-Type"] == "application/pdf"
        and pdf.content.startswith(b"%PDF")
    )
    assert issued["number"].encode() in pdf.content
    fhir = api.get(f"/api/invoices/{draft['id']}/fhir/").json()
    FhirInvoice.model_validate(fhir)
    assert (
        fhir["totalGross"] == {"value": 8.5, "currency": "USD"}
        and fhir["identifier"][0]["value"] == issued["number"]
    )
    assert api.get(f"/api/charges/{meal['id']}/fhir/").json()["status"] == "billed"
    assert (
        AuditEvent.objects.filter(action="export", object_type="billing.Invoice", patient_id=pid).count() == 2
    )

    response = api.post(
        f"/api/invoices/{draft['id']}/credit-note/", {"reason": "Billed the wrong patient"}, format="json"
    )
    assert response.status_code == 201, response.content
    note = response.json()
    assert (
        note["kind"] == "credit-note" and note["total"] == "-8.50" and note["credit_note_for"] == draft["id"]
    )
    assert api.get(f"/api/invoices/{draft['id']}/").json()["status"] == "cancelled"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/charges/", {"patient": 0, "reason": "x", "display": "x", "unit_price": "1"}, "patient"),
        ("/api/charges/", {"reason": "", "display": "x", "unit_price": "1"}, "reason"),
        ("/api/charges/", {"reason": "x", "display": "x", "unit_price": "-1"}, "unit_price"),
        ("/api/charges/", {"reason": "x", "display": "x", "unit_price": "1", "quantity": "abc"}, "quantity"),
        ("/api/charges/", {"reason": "x", "display": "x", "unit_price": "1", "tax_rate": "1.5"}, "tax_rate"),
        ("/api/charges/", {"reason": "x", "code": "NOPE"}, "code"),
        ("/api/charges/", {"reason": 5, "display": "x", "unit_price": "1"}, "reason"),
        ("/api/invoices/", {"charges": ["a"]}, "charges"),
        ("/api/invoices/", {"charges": [99999999]}, "charges"),
        ("/api/invoices/", {"coverage": 99999999}, "coverage"),
    ],
)
def test_bad_input_is_400_with_the_field_and_writes_nothing(world, url, body, field):
    before = (ChargeItem.objects.count(), Invoice.objects.count())
    body = {"patient": world["patient"].pk, **body}
    response = api_client_for(world["billing"]).post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert (ChargeItem.objects.count(), Invoice.objects.count()) == before


def _ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_role_matrix(world):
    w = world
    mine, theirs = w["my_bill"].pk, w["their_bill"].pk
    everyone = ("billing", "admin", "receptionist", "doctor", "nurse", "pharmacist", "lab", "patient_user")
    for who in everyone:
        api = api_client_for(w[who])
        money_staff = who in ("billing", "admin")
        desk = who == "receptionist"
        # charges: billing and admin only
        charges_list = api.get("/api/charges/")
        assert charges_list.status_code == (200 if money_staff else 403), who
        if money_staff:
            assert _ids(charges_list) == {w["mine"].pk, w["theirs"].pk}
        create = api.post("/api/invoices/", {"patient": w["patient"].pk}, format="json")
        assert create.status_code in ((400,) if money_staff else (403,)), (
            who,
            create.content,
        )  # nothing billable
        assert api.post(f"/api/invoices/{mine}/issue/").status_code == (409 if money_staff else 403), who
        # invoices: billing, admin, the desk all; the patient their own; clinicians nothing
        listing = api.get("/api/invoices/")
        if money_staff or desk:
            assert _ids(listing) == {mine, theirs}, who
        elif who == "patient_user":
            assert _ids(listing) == {mine}
        else:
            assert listing.status_code == 403, who
        for pk, own in ((mine, True), (theirs, False)):
            may = money_staff or desk or (who == "patient_user" and own)
            detail = api.get(f"/api/invoices/{pk}/")
            expected = 200 if may else (404 if who == "patient_user" else 403)
            assert detail.status_code == expected, (who, pk)
            assert api.get(f"/api/invoices/{pk}/pdf/").status_code == expected, (who, pk)
            assert api.get(f"/api/invoices/{pk}/fhir/").status_code == expected, (who, pk)
        bills = api.get("/api/bills/")
        seed = api.get("/patients/api/bills/")
        if who == "patient_user":
            assert _ids(bills) == {mine} and _ids(seed) == {mine}
        else:
            assert bills.status_code == seed.status_code == 403, who
        prices = api.get("/api/price-list/", {"q": "blood count", "payer_class": "self-pay"})
        if money_staff or desk:
            assert [r["code"] for r in prices.json()["results"]] == ["85025"]
        else:
            assert prices.status_code == 403


def test_billing_sees_demographics_but_never_clinical_notes(world):
    w = world
    note = ClinicalNote.objects.create(
        patient=w["patient"], encounter=w["encounter"], author=w["doctor"], subjective="Secret history"
    )
    api = api_client_for(w["billing"])
    assert api.get(f"/api/patients/{w['patient'].pk}/").status_code == 200
    for url in (
        f"/api/encounters/{w['encounter'].pk}/notes/",
        f"/api/notes/{note.pk}/",
        f"/api/encounters/{w['encounter'].pk}/",
    ):
        response = api.get(url)
        assert response.status_code in (403, 404), url
        assert b"Secret" not in response.content
    bill = api.get(f"/api/invoices/{w['my_bill'].pk}/").json()
    assert bill["patient"]["medical_record_number"] == w["patient"].mrn
    assert Decimal(bill["total"]) == Decimal("12.00")
