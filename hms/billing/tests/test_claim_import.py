"""Synthea ExplanationOfBenefit history → historical claims (`billing_import_claims`): statuses, amounts,
payer and coverage created once, idempotent; the real Synthea DEV set when present."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from hms.billing.models import Claim, ClaimStatus, Coverage, Payer
from hms.fhir.importer import bundle_import
from hms.fhir.models import RawResource
from hms.fhir.tests import bundles as b

pytestmark = pytest.mark.django_db
BB = "https://bluebutton.cms.gov/resources"
ADJ = "http://terminology.hl7.org/CodeSystem/adjudication"


def eob(tag, name, *, outcome="complete", submitted=200.0, paid=150.0, insurer="Medicare", day="2020-03-01"):
    resource = {
        "resourceType": "ExplanationOfBenefit",
        "id": b.uid(tag, name),
        "identifier": [{"system": f"{BB}/variables/clm_id", "value": b.uid(tag, f"{name}-claim")}],
        "status": "active",
        "type": b.concept(
            "http://terminology.hl7.org/CodeSystem/claim-type", "institutional", "Institutional"
        ),
        "use": "claim",
        "patient": b.ref(tag, "patient"),
        "billablePeriod": {"start": f"{day}T10:00:00+00:00", "end": "2021-03-01T10:00:00+00:00"},
        "created": f"{day}T10:30:00+00:00",
        "insurer": {"display": insurer},
        "provider": {"display": "Test clinic"},
        "outcome": outcome,
        "insurance": [{"focal": True, "coverage": {"display": insurer}}],
        "item": [
            {
                "sequence": 1,
                "productOrService": b.concept(b.SNOMED, "185349003", "Check up"),
                "servicedPeriod": {"start": f"{day}T10:00:00+00:00", "end": f"{day}T10:30:00+00:00"},
            }
        ],
        "total": [
            {
                "category": b.concept(ADJ, "submitted", "Submitted"),
                "amount": {"value": submitted, "currency": "USD"},
            }
        ],
    }
    if paid:
        resource["payment"] = {"amount": {"value": paid, "currency": "USD"}}
    return resource


def bundle_with_eobs(tag="claims"):
    bundle = b.patient_bundle(tag, family="Claimson")
    for resource in (
        eob(tag, "eob1", day="2020-03-01"),
        eob(tag, "eob2", paid=0, day="2019-06-01"),
        eob(tag, "eob3", outcome="error", paid=0, day="2021-01-05", insurer="private"),
    ):
        bundle["entry"].append(b.entry(resource))
    return bundle


def test_import_creates_historical_claims_payers_and_coverage_idempotently():
    result = bundle_import(data=bundle_with_eobs(), source_name="test")
    assert result.ok, result.error
    assert RawResource.objects.filter(resource_type="ExplanationOfBenefit").count() == 3
    call_command("billing_import_claims")
    rows = {c.service_date: c for c in Claim.objects.filter(historical=True)}
    assert len(rows) == 3
    paid = rows[dt.date(2020, 3, 1)]
    assert (paid.status, paid.claimed_amount, paid.paid_amount) == (
        ClaimStatus.PAID,
        Decimal("200.00"),
        Decimal("150.00"),
    )
    assert rows[dt.date(2019, 6, 1)].status == ClaimStatus.APPROVED
    assert rows[dt.date(2021, 1, 5)].status == ClaimStatus.DENIED
    assert paid.events.get().to_status == "paid"
    assert set(Payer.objects.values_list("name", flat=True)) == {"Medicare", "Private insurance (Synthea)"}
    medicare = Coverage.objects.get(payer__name="Medicare")
    assert medicare.valid_from == dt.date(2019, 6, 1)  # the earliest service date under this payer
    assert medicare.patient == paid.patient and medicare.member_id.startswith("SYN-")
    # idempotent: a second run creates nothing new
    call_command("billing_import_claims")
    assert Claim.objects.filter(historical=True).count() == 3
    assert Coverage.objects.count() == 2
    assert Payer.objects.count() == 2
    assert sum(c.events.count() for c in Claim.objects.all()) == 3


SYNTHEA = Path(settings.SYNTHEA_DIR)


@pytest.mark.skipif(not SYNTHEA.is_dir(), reason="../shared/data/synthea is absent (the Synthea DEV set)")
def test_real_synthea_patient_history():
    from hms.fhir.importer import fhir_import

    support = sorted(SYNTHEA.glob("hospitalInformation*.json")) + sorted(
        SYNTHEA.glob("practitionerInformation*.json")
    )
    smallest = min((p for p in SYNTHEA.glob("*_*.json") if p not in support), key=lambda p: p.stat().st_size)
    fhir_import(paths=[*support, smallest])
    eobs = [
        e["resource"]
        for e in json.loads(smallest.read_text())["entry"]
        if e["resource"]["resourceType"] == "ExplanationOfBenefit"
    ]
    call_command("billing_import_claims")
    imported = Claim.objects.filter(historical=True)
    assert imported.count() == len(eobs) > 0
    paid_total = sum(Decimal(str(e.get("payment", {}).get("amount", {}).get("value", 0))) for e in eobs)
    assert abs(sum(c.paid_amount or 0 for c in imported) - paid_total) < Decimal("0.01") * len(eobs)
    assert all(c.coverage is not None and c.service_date for c in imported)
