"""Insurance claims: lifecycle with events, illegal transitions (409), validation listing what is missing,
the background job with the simulated payer, ClaimResponse import, FHIR export, notifications, roles."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from fhir.resources.R4B.claim import Claim as FhirClaim

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import claims
from hms.billing.fhir_claims import claim_response_import, claim_to_fhir
from hms.billing.models import Claim, ClaimStatus, Payment
from hms.core.errors import Conflict
from hms.core.testing import api_client_for, make_user
from hms.messaging.models import Delivery

from . import claim_factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk():
    return make_user(Role.BILLING)


@pytest.fixture
def patient_user():
    return make_user(Role.PATIENT)


@pytest.fixture
def patient(patient_user):
    return patient_user.patient


@pytest.fixture
def cover(patient):
    return f.coverage(patient)


@pytest.fixture
def invoice(patient, clerk, cover):
    return f.issued_invoice(
        patient,
        clerk,
        cover=cover,
        lines=[
            ("consultation", "99213", "Office visit", "150.00"),
            ("lab", "80053", "Metabolic panel", "50.00"),
        ],
    )


def run_to_submitted(claim, clerk, capture):
    claims.claim_validate(claim=claim, by=clerk)
    with capture(execute=True):
        claims.claim_submit(claim=claim, by=clerk)
    claim.refresh_from_db()
    return claim


def test_create_takes_primary_coverage_service_date_and_insurer_share(invoice, clerk, cover):
    claim = claims.claim_create(invoice=invoice, by=clerk)
    assert claim.coverage == cover
    assert claim.service_date == dt.date(2026, 11, 2)
    assert claim.claimed_amount == Decimal("160.00")  # 80 % of 200.00
    assert claim.status == ClaimStatus.CREATED
    event = claim.events.get()
    assert (event.from_status, event.to_status, event.by) == ("", "created", clerk)
    assert AuditEvent.objects.filter(
        action="create", object_type="billing.Claim", object_id=str(claim.pk)
    ).exists()


def test_second_open_claim_for_an_invoice_is_a_conflict(invoice, clerk):
    claims.claim_create(invoice=invoice, by=clerk)
    with pytest.raises(Conflict):
        claims.claim_create(invoice=invoice, by=clerk)


def test_draft_invoice_cannot_be_claimed(invoice, clerk):
    invoice.status = "draft"
    invoice.save()
    with pytest.raises(ValidationError) as err:
        claims.claim_create(invoice=invoice, by=clerk)
    assert "invoice" in err.value.message_dict


def test_validation_lists_every_missing_field(patient, clerk):
    bare = f.issued_invoice(patient, clerk, lines=[])
    claim = claims.claim_create(invoice=bare, by=clerk)  # no coverage on file, no line
    claim.service_date = None
    claim.save()
    with pytest.raises(ValidationError) as err:
        claims.claim_validate(claim=claim, by=clerk)
    assert {"coverage", "payer", "member_id", "service_date", "lines", "claimed_amount"} <= set(
        err.value.message_dict
    )
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.CREATED


def test_validation_refuses_coverage_not_in_force_on_service_date(patient, clerk):
    old = f.coverage(patient, valid_from=dt.date(2020, 1, 1), valid_to=dt.date(2021, 1, 1), member_id="OLD")
    invoice = f.issued_invoice(patient, clerk, cover=old)
    claim = claims.claim_create(invoice=invoice, by=clerk)
    with pytest.raises(ValidationError) as err:
        claims.claim_validate(claim=claim, by=clerk)
    assert set(err.value.message_dict) == {"coverage"}
    assert "2026-11-02" in err.value.message_dict["coverage"][0]


def test_full_lifecycle_through_the_background_job(
    invoice, clerk, patient_user, django_capture_on_commit_callbacks
):
    claim = claims.claim_create(invoice=invoice, by=clerk)
    claim = run_to_submitted(claim, clerk, django_capture_on_commit_callbacks)
    # The eager Celery task ran after commit: submitted -> in-review -> approved -> paid.
    assert claim.status == ClaimStatus.PAID
    assert claim.approved_amount == Decimal("160.00")
    assert claim.paid_amount == Decimal("160.00")
    assert claim.external_id == f"SIM-{claim.pk}"
    steps = [(e.from_status, e.to_status) for e in claim.events.all()]
    assert steps == [
        ("", "created"),
        ("created", "validated"),
        ("validated", "submitted"),
        ("submitted", "in-review"),
        ("in-review", "approved"),
        ("approved", "paid"),
    ]
    times = [e.at for e in claim.events.all()]
    assert times == sorted(times)
    job_events = claim.events.filter(to_status__in=["in-review", "approved", "paid"])
    assert all(e.by is None for e in job_events)
    assert claim.events.get(to_status="submitted").by == clerk
    # The patient was told of every status change, once each.
    sent = Delivery.objects.filter(recipient=patient_user, event="claim.status", channel="in_app")
    assert sent.count() == 6
    assert any("Paid" in d.subject for d in sent)
    # The insurer share is outside the patient's balance: no patient payment or credit was made.
    assert not Payment.objects.filter(invoice=invoice).exists()
    # A re-delivered task does nothing.
    assert claims.claim_process(claim_id=claim.pk) is None


def test_self_pay_invoice_claim_payment_is_recorded_as_insurance_payment(
    patient, clerk, cover, django_capture_on_commit_callbacks
):
    invoice = f.issued_invoice(patient, clerk)  # no insurer share: the patient owes 150.00
    claim = claims.claim_create(invoice=invoice, coverage=cover, by=clerk)
    claim = run_to_submitted(claim, clerk, django_capture_on_commit_callbacks)
    assert claim.status == ClaimStatus.PAID
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.method, payment.amount, payment.idempotency_key) == (
        "insurance",
        Decimal("150.00"),
        f"claim:{claim.pk}:paid",
    )
    invoice.refresh_from_db()
    assert invoice.status == "paid"


def test_simulated_payer_partially_approves_uncovered_lines(
    patient, clerk, cover, django_capture_on_commit_callbacks
):
    invoice = f.issued_invoice(
        patient,
        clerk,
        cover=cover,
        lines=[("consultation", "99213", "Office visit", "150.00"), ("other", "TV", "Television", "50.00")],
    )
    claim = run_to_submitted(
        claims.claim_create(invoice=invoice, by=clerk), clerk, django_capture_on_commit_callbacks
    )
    assert claim.status == ClaimStatus.PAID
    assert claim.approved_amount == Decimal("120.00")  # 160.00 x 150/200
    assert "line 2: not covered by plan" in claim.denial_reason
    assert claim.events.filter(to_status="partially-approved").exists()


def test_simulated_payer_denies_when_coverage_lapsed(
    patient, clerk, cover, django_capture_on_commit_callbacks
):
    invoice = f.issued_invoice(patient, clerk, cover=cover)
    claim = claims.claim_create(invoice=invoice, by=clerk)
    claims.claim_validate(claim=claim, by=clerk)
    cover.status = "cancelled"  # cancelled after validation, before the payer looked at it
    cover.save()
    with django_capture_on_commit_callbacks(execute=True):
        claims.claim_submit(claim=claim, by=clerk)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DENIED
    assert claim.denial_reason == "coverage not active on the service date"
    assert claim.paid_amount is None


def test_illegal_transitions_are_conflicts(invoice, clerk):
    claim = claims.claim_create(invoice=invoice, by=clerk)
    with pytest.raises(Conflict) as err:
        claims.claim_submit(claim=claim, by=clerk)  # not validated yet
    assert err.value.payload["allowed"] == ["cancelled", "validated"]
    claims.claim_cancel(claim=claim, reason="Wrong payer", by=clerk)
    for act in (claims.claim_validate, claims.claim_submit):
        with pytest.raises(Conflict):
            act(claim=claim, by=clerk)
    with pytest.raises(Conflict):
        claims.claim_cancel(claim=claim, reason="again", by=clerk)
    assert claim.events.get(to_status="cancelled").note == "Wrong payer"


def test_cancel_needs_a_reason(invoice, clerk):
    claim = claims.claim_create(invoice=invoice, by=clerk)
    with pytest.raises(ValidationError):
        claims.claim_cancel(claim=claim, reason="  ", by=clerk)


def _in_review(invoice, clerk):
    claim = claims.claim_create(invoice=invoice, by=clerk)
    claims.claim_validate(claim=claim, by=clerk)
    claims.claim_submit(claim=claim, by=clerk)  # the job is not run: no on-commit capture
    claim = Claim.objects.get(pk=claim.pk)
    claims.transition(claims._lock(claim), ClaimStatus.IN_REVIEW, by=None)
    return Claim.objects.get(pk=claim.pk)


def claim_response(claim, *, outcome="complete", submitted="160.00", benefit="100.00", paid=None, error=None):
    adj = "http://terminology.hl7.org/CodeSystem/adjudication"
    resource = {
        "resourceType": "ClaimResponse",
        "status": "active",
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}
            ]
        },
        "use": "claim",
        "patient": {"reference": f"Patient/{claim.patient_id}"},
        "created": "2026-11-20T10:00:00+00:00",
        "insurer": {"display": "Acme Health"},
        "outcome": outcome,
        "identifier": [{"value": "ACME-77"}],
        "total": [
            {
                "category": {"coding": [{"system": adj, "code": "submitted"}]},
                "amount": {"value": submitted, "currency": "USD"},
            },
            {
                "category": {"coding": [{"system": adj, "code": "benefit"}]},
                "amount": {"value": benefit, "currency": "USD"},
            },
        ],
    }
    if paid:
        resource["payment"] = {"type": {"text": "complete"}, "amount": {"value": paid, "currency": "USD"}}
    if error:
        resource["error"] = [{"code": {"text": error}}]
    return resource


def test_claim_response_import_partial_approval_then_paid(invoice, clerk):
    claim = _in_review(invoice, clerk)
    claim_response_import(claim, claim_response(claim, benefit="100.00", paid="100.00"), by=clerk)
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    assert (claim.approved_amount, claim.paid_amount, claim.external_id) == (
        Decimal("100.00"),
        Decimal("100.00"),
        "ACME-77",
    )
    assert claim.events.filter(to_status="partially-approved").exists()
    assert claim.response["outcome"] == "complete"


def test_claim_response_import_denial_keeps_reasons(invoice, clerk):
    claim = _in_review(invoice, clerk)
    claim_response_import(
        claim, claim_response(claim, outcome="error", benefit="0", error="Member not eligible"), by=clerk
    )
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.DENIED
    assert claim.denial_reason == "Member not eligible"
    assert claim.events.get(to_status="denied").note == "Member not eligible"


def test_claim_response_import_rejects_invalid_resource_and_wrong_state(invoice, clerk):
    claim = _in_review(invoice, clerk)
    with pytest.raises(ValidationError) as err:
        claim_response_import(claim, {"resourceType": "ClaimResponse", "status": "bogus"}, by=clerk)
    assert "resource" in err.value.message_dict
    claim_response_import(claim, claim_response(claim, benefit="160.00"), by=clerk)
    with pytest.raises(Conflict):  # approved already
        claim_response_import(claim, claim_response(claim, benefit="160.00"), by=clerk)


def test_fhir_claim_export_validates(invoice, clerk, cover):
    claim = claims.claim_create(invoice=invoice, by=clerk)
    resource = claim_to_fhir(claim)
    model = FhirClaim.model_validate(resource)
    assert model.patient.reference == f"Patient/{claim.patient_id}"
    assert [i.net.value for i in model.item] == [Decimal("150.00"), Decimal("50.00")]
    assert model.total.value == Decimal("160.00")
    assert resource["insurance"][0]["identifier"]["value"] == cover.member_id
    assert resource["billablePeriod"]["start"] == "2026-11-02"


# ---------------------------------------------------------------- API and roles


def test_api_lifecycle_and_errors(invoice, clerk, django_capture_on_commit_callbacks):
    api = api_client_for(clerk)
    created = api.post("/api/insurance/claims/", {"invoice": invoice.pk}, format="json")
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    assert api.post(f"/api/insurance/claims/{pk}/submit/").status_code == 409
    assert api.post(f"/api/insurance/claims/{pk}/validate/").json()["status"] == "validated"
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/insurance/claims/{pk}/submit/").status_code == 200
    body = api.get(f"/api/insurance/claims/{pk}/").json()
    assert body["status"] == "paid"
    assert [e["to_status"] for e in body["events"]][-3:] == ["in-review", "approved", "paid"]
    assert body["events"][-1]["by"] is None
    fhir = api.get(f"/api/insurance/claims/{pk}/fhir/?download=1")
    assert fhir.status_code == 200 and fhir["Content-Type"] == "application/fhir+json"
    assert fhir.json()["resourceType"] == "Claim"
    assert AuditEvent.objects.filter(action="export", object_id=str(pk)).exists()
    assert api.post(f"/api/insurance/claims/{pk}/cancel/", {"reason": "x"}, format="json").status_code == 409
    assert api.post("/api/insurance/claims/", {"invoice": "abc"}, format="json").status_code == 400
    assert api.post("/api/insurance/claims/", {"invoice": 10**12}, format="json").status_code == 400


def test_api_validate_lists_missing_fields(patient, clerk):
    claim = claims.claim_create(invoice=f.issued_invoice(patient, clerk, lines=[]), by=clerk)
    res = api_client_for(clerk).post(f"/api/insurance/claims/{claim.pk}/validate/")
    assert res.status_code == 400
    assert {"coverage", "payer", "member_id", "lines"} <= set(res.json())


def test_api_response_import(invoice, clerk):
    claim = _in_review(invoice, clerk)
    api = api_client_for(clerk)
    bad = api.post(f"/api/insurance/claims/{claim.pk}/response/", {"resourceType": "Patient"}, format="json")
    assert bad.status_code == 400
    res = api.post(
        f"/api/insurance/claims/{claim.pk}/response/", claim_response(claim, benefit="160.00"), format="json"
    )
    assert res.status_code == 200 and res.json()["status"] == "approved"


@pytest.mark.parametrize("path", ["/api/insurance/claims/", "/patients/api/insurance/claim/"])
def test_role_matrix(path, invoice, clerk, patient_user):
    claim = claims.claim_create(invoice=invoice, by=clerk)
    other_user = make_user(Role.PATIENT)
    other_claim = claims.claim_create(invoice=f.issued_invoice(other_user.patient, clerk), by=clerk)
    detail = f"/api/insurance/claims/{claim.pk}/"

    # billing and admin: every claim, and they may act
    for role in (Role.BILLING, Role.ADMIN):
        api = api_client_for(make_user(role))
        ids = {c["id"] for c in api.get(path).json()["results"]}
        assert {claim.pk, other_claim.pk} <= ids
        assert api.get(detail).status_code == 200
    # the patient: own claims only; another patient's claim by id is a 404; no acts
    mine = api_client_for(patient_user)
    assert {c["id"] for c in mine.get(path).json()["results"]} == {claim.pk}
    assert mine.get(detail).status_code == 200
    assert mine.get(f"/api/insurance/claims/{claim.pk}/fhir/").status_code == 200
    assert mine.get(f"/api/insurance/claims/{other_claim.pk}/").status_code == 404
    assert mine.get(f"/api/insurance/claims/{other_claim.pk}/fhir/").status_code == 404
    assert mine.post(f"{detail}validate/").status_code == 403
    assert mine.post(path, {"invoice": invoice.pk}, format="json").status_code == 403
    # clinical staff, front desk, pharmacy, lab: nothing of claims
    for role in (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.PHARMACIST, Role.LAB_TECHNICIAN):
        api = api_client_for(make_user(role))
        assert api.get(path).status_code == 403
        assert api.get(detail).status_code == 403
        assert api.post(f"{detail}validate/").status_code == 403
    assert api_client_for(None).get(path).status_code == 401
    # list reads are audited with the patients listed
    assert AuditEvent.objects.filter(action="search", object_type="billing.Claim").exists()
