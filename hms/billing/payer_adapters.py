"""How a submitted claim reaches a payer and how its answer comes back.

A payer adapter has one method, `adjudicate(claim) -> dict`, which sends the claim (as a FHIR R4 `Claim`,
`hms.billing.fhir_claims.claim_to_fhir`) and returns the payer's FHIR R4 `ClaimResponse` as a dict; the
answer is applied by `hms.billing.fhir_claims.claim_response_import`, the same path as a ClaimResponse
posted by hand (`POST /api/insurance/claims/{id}/response/`). A real clearing house (X12 837/835, a FHIR
payer endpoint) is one more adapter registered in `ADAPTERS` and named by the `BILLING_PAYER_ADAPTER`
setting; it must not write to the database itself.

`SimulatedPayerAdapter` ("simulated", the default) answers deterministically from the claim alone, so
demos and tests get the same result every time:

1. the coverage is missing, cancelled, not in force on the service date, or its payer inactive
   → outcome "error", every line denied, denial reason "coverage not active on the service date";
2. otherwise each invoice line is covered unless its charge category is "other" (non-medical items such
   as a telephone or a comfort item are outside every simulated plan);
   - every line covered → approved: benefit = the claimed amount, paid in full at once;
   - some lines covered → partially approved: benefit = claimed x (covered lines' total / all lines' total),
     rounded half-up to the cent, paid at once; the uncovered lines carry the reason "not covered by plan";
   - no line covered → denied ("no line is covered by the plan").
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

ADJ = "http://terminology.hl7.org/CodeSystem/adjudication"
ADJ_REASON = "http://terminology.hl7.org/CodeSystem/adjudication-reason"
CENT = Decimal("0.01")


def _money(value: Decimal, currency: str) -> dict:
    return {"value": float(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)), "currency": currency}


class PayerAdapter:
    """Interface: `adjudicate(claim) -> dict` (a FHIR R4 ClaimResponse)."""

    name = "base"

    def adjudicate(self, claim) -> dict:  # pragma: no cover - interface
        raise NotImplementedError


class SimulatedPayerAdapter(PayerAdapter):
    name = "simulated"

    def adjudicate(self, claim) -> dict:
        from .coverage import coverage_is_active_on

        currency = claim.currency
        lines = list(claim.invoice.lines.select_related("charge").all()) if claim.invoice_id else []
        response = {
            "resourceType": "ClaimResponse",
            "status": "active",
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}
                ]
            },
            "use": "claim",
            "patient": {"reference": f"Patient/{claim.patient_id}"},
            "created": timezone.now().isoformat(),
            "insurer": {"display": claim.coverage.payer.name if claim.coverage_id else "unknown"},
            "request": {"reference": f"Claim/{claim.pk}"},
            "identifier": [{"system": "urn:asclepius:simulated-payer", "value": f"SIM-{claim.pk}"}],
        }
        if not claim.coverage_id or not coverage_is_active_on(claim.coverage, claim.service_date):
            response.update(outcome="error", disposition="coverage not active on the service date")
            response["error"] = [
                {
                    "code": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/adjudication-error",
                                "code": "a002",
                            }
                        ],
                        "text": "coverage not active on the service date",
                    }
                }
            ]
            return response
        covered_total, all_total, items = Decimal(0), Decimal(0), []
        for seq, line in enumerate(lines, start=1):
            covered = not (line.charge_id and line.charge.category == "other")
            all_total += line.total
            item = {
                "itemSequence": seq,
                "adjudication": [
                    {
                        "category": {"coding": [{"system": ADJ, "code": "submitted"}]},
                        "amount": _money(line.total, currency),
                    }
                ],
            }
            if covered:
                covered_total += line.total
            else:
                item["adjudication"].append(
                    {
                        "category": {"coding": [{"system": ADJ, "code": "benefit"}]},
                        "amount": _money(0, currency),
                        "reason": {
                            "coding": [{"system": ADJ_REASON, "code": "ar001"}],
                            "text": "not covered by plan",
                        },
                    }
                )
            items.append(item)
        if all_total > 0:
            benefit = (claim.claimed_amount * covered_total / all_total).quantize(
                CENT, rounding=ROUND_HALF_UP
            )
        else:
            benefit = claim.claimed_amount
        if items:
            response["item"] = items
        response["total"] = [
            {
                "category": {"coding": [{"system": ADJ, "code": "submitted"}]},
                "amount": _money(claim.claimed_amount, currency),
            },
            {
                "category": {"coding": [{"system": ADJ, "code": "benefit"}]},
                "amount": _money(benefit, currency),
            },
        ]
        if benefit <= 0:
            response.update(outcome="complete", disposition="no line is covered by the plan")
            return response
        response.update(
            outcome="complete" if covered_total == all_total else "partial",
            disposition="approved" if covered_total == all_total else "partially approved",
        )
        response["payment"] = {
            "type": {
                "coding": [
                    {"system": "http://terminology.hl7.org/CodeSystem/ex-paymenttype", "code": "complete"}
                ]
            },
            "date": timezone.localdate().isoformat(),
            "amount": _money(benefit, currency),
        }
        return response


ADAPTERS = {SimulatedPayerAdapter.name: SimulatedPayerAdapter}


def adapter_for(claim) -> PayerAdapter:
    """The adapter named by `settings.BILLING_PAYER_ADAPTER` (default "simulated")."""
    name = getattr(settings, "BILLING_PAYER_ADAPTER", "simulated")
    return ADAPTERS[name]()
