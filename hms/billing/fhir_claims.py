"""FHIR R4 `Claim` export and `ClaimResponse` import for insurance claims.

Validated with `fhir.resources.R4B` (the models `hms.fhir` uses; Claim and ClaimResponse are the same in
R4 and R4B). Specification: https://hl7.org/fhir/R4/claim.html, https://hl7.org/fhir/R4/claimresponse.html;
adjudication categories from http://terminology.hl7.org/CodeSystem/adjudication.

- `claim_to_fhir(claim) -> dict`: the Claim (status active, use claim, type institutional, one item per
  invoice line with net = line total, `total` = claimed amount, insurance = the coverage with its member id).
- `claim_response_import(claim, resource, *, by=None, request=None) -> Claim`: apply a payer's
  ClaimResponse to an in-review claim. Raises `ValidationError` (400 {"resource": [...]}) when the dict is
  not a valid ClaimResponse; `Conflict` (409) when the claim is not in review.
  Rules: outcome "error" or benefit total 0 → denied (reasons from `error[].code`, `disposition` and item
  adjudication reasons); benefit < submitted → partially-approved; else approved. A `payment.amount` > 0
  then moves it to paid and records the insurer's payment on the invoice
  (`claims.claim_record_insurer_payment`).
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from fhir.resources.R4B.claim import Claim as FhirClaim
from fhir.resources.R4B.claimresponse import ClaimResponse as FhirClaimResponse
from pydantic import ValidationError as PydanticError

from .models import Claim, ClaimStatus

CENT = Decimal("0.01")
ADJ = "http://terminology.hl7.org/CodeSystem/adjudication"
CLAIM_SYSTEM = "urn:asclepius:claim"


def _money(value, currency: str) -> dict:
    return {"value": float(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)), "currency": currency}


def claim_to_fhir(claim: Claim) -> dict:
    """The claim as a validated FHIR R4 Claim dict (JSON-ready)."""
    status = {"cancelled": "cancelled"}.get(claim.status, "active")
    coverage = claim.coverage
    resource = {
        "resourceType": "Claim",
        "id": str(claim.pk),
        "identifier": [{"system": CLAIM_SYSTEM, "value": str(claim.pk)}],
        "status": status,
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/claim-type", "code": "institutional"}
            ]
        },
        "use": "claim",
        "patient": {"reference": f"Patient/{claim.patient_id}", "display": str(claim.patient)},
        "created": claim.created_at.isoformat(),
        "provider": {"display": "Asclepius hospital"},
        "priority": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]
        },
        "insurance": [
            {
                "sequence": 1,
                "focal": True,
                "coverage": {
                    "reference": f"Coverage/{coverage.pk}",
                    "display": f"{coverage.payer.name} {coverage.member_id}",
                }
                if coverage
                else {"display": "no coverage"},
            }
        ],
        "total": _money(claim.claimed_amount, claim.currency),
    }
    if coverage is not None:
        resource["insurer"] = {"display": coverage.payer.name}
        resource["insurance"][0]["identifier"] = {"value": coverage.member_id}
    if claim.service_date:
        resource["billablePeriod"] = {
            "start": claim.service_date.isoformat(),
            "end": claim.service_date.isoformat(),
        }
    items = []
    if claim.invoice_id:
        for seq, line in enumerate(claim.invoice.lines.all(), start=1):
            concept = {"text": line.description}
            if line.code:
                concept["coding"] = [{"code": line.code, "display": line.description}]
            item = {
                "sequence": seq,
                "productOrService": concept,
                "quantity": {"value": float(line.quantity)},
                "unitPrice": _money(line.unit_price, claim.currency),
                "net": _money(line.total, claim.currency),
            }
            if claim.service_date:
                item["servicedDate"] = claim.service_date.isoformat()
            items.append(item)
    if items:
        resource["item"] = items
    FhirClaim.model_validate(resource)  # raises on a bug of ours: never ship an invalid resource
    return resource


def _total(resource: dict, code: str) -> Decimal | None:
    for total in resource.get("total") or []:
        codes = {c.get("code") for c in (total.get("category") or {}).get("coding") or []}
        if code in codes:
            return Decimal(str(total["amount"]["value"]))
    return None


def _reasons(resource: dict) -> list[str]:
    reasons = []
    for error in resource.get("error") or []:
        code = error.get("code") or {}
        reasons.append(code.get("text") or ", ".join(c.get("code", "") for c in code.get("coding") or []))
    for item in resource.get("item") or []:
        for adj in item.get("adjudication") or []:
            reason = adj.get("reason") or {}
            text = reason.get("text") or ", ".join(c.get("code", "") for c in reason.get("coding") or [])
            if text:
                reasons.append(f"line {item.get('itemSequence')}: {text}")
    return [r for r in reasons if r]


def claim_response_import(claim: Claim, resource: dict, *, by=None, request=None) -> Claim:
    """Apply a ClaimResponse to an in-review claim (see the module docstring for the rules)."""
    from .claims import _lock, claim_record_insurer_payment, transition

    if not isinstance(resource, dict) or resource.get("resourceType") != "ClaimResponse":
        raise ValidationError({"resource": "Expected a FHIR ClaimResponse object."})
    try:
        FhirClaimResponse.model_validate(resource)
    except PydanticError as exc:
        raise ValidationError(
            {"resource": [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:20]]}
        ) from None
    try:
        submitted = _total(resource, "submitted")
        benefit = _total(resource, "benefit")
        paid = Decimal(str(resource["payment"]["amount"]["value"])) if resource.get("payment") else None
    except (KeyError, TypeError, InvalidOperation):
        raise ValidationError({"resource": "Totals and payment need an amount.value."}) from None
    with transaction.atomic():
        claim = _lock(claim)
        submitted = submitted if submitted is not None else claim.claimed_amount
        reasons = _reasons(resource)
        if resource.get("outcome") == "error" or benefit is None or benefit <= 0:
            to = ClaimStatus.DENIED
            benefit = Decimal(0)
            reasons = reasons or [resource.get("disposition") or "denied by the payer"]
        elif benefit < submitted:
            to = ClaimStatus.PARTIALLY_APPROVED
        else:
            to = ClaimStatus.APPROVED
        claim.approved_amount = benefit.quantize(CENT, rounding=ROUND_HALF_UP)
        claim.denial_reason = "; ".join(reasons)[:500]
        claim.response = resource
        for ident in resource.get("identifier") or []:
            claim.external_id = str(ident.get("value", ""))[:100]
            break
        claim.save(
            update_fields=["approved_amount", "denial_reason", "response", "external_id", "updated_at"]
        )
        transition(
            claim, to, by=by, request=request, note=claim.denial_reason or (resource.get("disposition") or "")
        )
        if to != ClaimStatus.DENIED and paid is not None and paid > 0:
            claim.paid_amount = paid.quantize(CENT, rounding=ROUND_HALF_UP)
            claim.save(update_fields=["paid_amount", "updated_at"])
            path = claim_record_insurer_payment(claim, amount=claim.paid_amount, by=by)
            transition(
                claim, ClaimStatus.PAID, by=by, request=request, note=f"paid {claim.paid_amount} ({path})"
            )
    return claim


# ---------------------------------------------------------------- Synthea history

EOB_PAYER_NAMES = {"private": "Private insurance (Synthea)", "no_insurance": "Self-pay (Synthea)"}


def _date(value: str | None):
    import datetime as dt

    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value).date()
    except ValueError:
        return dt.date.fromisoformat(value[:10])


def _eob_fields(eob: dict) -> dict:
    """Claim fields from a Synthea ExplanationOfBenefit (Blue Button shaped): service date = the first
    item's servicedPeriod start (else billablePeriod/created), claimed = total "submitted", paid =
    payment.amount; status paid when the payer paid something, approved when the outcome is complete
    without payment, denied for outcome error."""
    items = eob.get("item") or []
    start = None
    for item in items:
        start = _date((item.get("servicedPeriod") or {}).get("start")) or _date(item.get("servicedDate"))
        if start:
            break
    start = start or _date((eob.get("billablePeriod") or {}).get("start")) or _date(eob.get("created"))
    submitted = _total(eob, "submitted") or Decimal(0)
    paid = Decimal(str(((eob.get("payment") or {}).get("amount") or {}).get("value", 0)))
    if eob.get("outcome") == "error":
        status, paid_amount = ClaimStatus.DENIED, None
    elif paid > 0:
        status, paid_amount = ClaimStatus.PAID, paid.quantize(CENT, rounding=ROUND_HALF_UP)
    else:
        status, paid_amount = ClaimStatus.APPROVED, None
    clm_id = next(
        (i.get("value", "") for i in eob.get("identifier") or [] if i.get("system", "").endswith("/clm_id")),
        "",
    )
    return {
        "service_date": start,
        "claimed_amount": submitted.quantize(CENT, rounding=ROUND_HALF_UP),
        "approved_amount": paid.quantize(CENT, rounding=ROUND_HALF_UP)
        if status != ClaimStatus.DENIED
        else None,
        "paid_amount": paid_amount,
        "status": status,
        "currency": ((eob.get("payment") or {}).get("amount") or {}).get("currency", "USD")[:3],
        "external_id": clm_id[:100],
        "response": {"outcome": eob.get("outcome", ""), "source": "ExplanationOfBenefit"},
    }


def _eob_payer(eob: dict):
    from .models import Payer

    display = ((eob.get("insurer") or {}).get("display") or "").strip() or "Unknown payer"
    name = EOB_PAYER_NAMES.get(display, display)[:200]
    payer_class = "self-pay" if display == "no_insurance" else "insurance"
    return Payer.objects.get_or_create(name=name, defaults={"payer_class": payer_class})[0]


def historical_claims_import(*, patient_ids=None) -> dict:
    """Turn the Synthea ExplanationOfBenefit `RawResource` rows (kept by `hms.fhir` at import) into
    historical `Claim` rows (`historical=True`), creating the Payer and one Coverage per (patient, payer)
    as needed. Idempotent on (source_system, source_id) of the EOB: a re-run updates the amounts and
    status in place and adds nothing. One transaction per patient; one AuditEvent per patient imported.
    Returns {"created": n, "updated": n, "patients": n}.
    """
    from django.utils import timezone

    from hms.audit.models import AuditAction
    from hms.audit.services import audit_record
    from hms.fhir.models import RawResource

    from .models import ClaimEvent, Coverage

    raws = RawResource.objects.filter(resource_type="ExplanationOfBenefit", patient__isnull=False)
    if patient_ids is not None:
        raws = raws.filter(patient_id__in=list(patient_ids))
    counts = {"created": 0, "updated": 0, "patients": 0}
    patient_list = raws.order_by("patient_id").values_list("patient_id", flat=True).distinct()
    for patient_id in list(patient_list):
        with transaction.atomic():
            rows = list(raws.filter(patient_id=patient_id).select_related("patient").order_by("id"))
            patient = rows[0].patient
            existing = {
                c.source_id: c
                for c in Claim.objects.filter(
                    patient_id=patient_id, source_id__in=[r.source_id for r in rows], historical=True
                )
            }
            coverages: dict[int, Coverage] = {}
            for raw in rows:
                fields = _eob_fields(raw.resource)
                payer = _eob_payer(raw.resource)
                cover = coverages.get(payer.pk)
                if cover is None:
                    cover, _ = Coverage.objects.get_or_create(
                        source_system=raw.source_system,
                        source_id=f"eob-coverage/{patient_id}/{payer.pk}",
                        defaults={
                            "patient": patient,
                            "payer": payer,
                            "plan_name": payer.name,
                            "member_id": f"SYN-{patient.mrn}",
                            "valid_from": fields["service_date"] or timezone.localdate(),
                            "order": 1,
                        },
                    )
                    coverages[payer.pk] = cover
                if fields["service_date"] and fields["service_date"] < cover.valid_from:
                    cover.valid_from = fields["service_date"]
                    cover.save(update_fields=["valid_from", "updated_at"])
                claim = existing.get(raw.source_id)
                if claim is not None:
                    for key, value in fields.items():
                        setattr(claim, key, value)
                    claim.coverage = cover
                    claim.save()
                    counts["updated"] += 1
                    continue
                claim = Claim.objects.create(
                    patient=patient,
                    coverage=cover,
                    historical=True,
                    source_system=raw.source_system,
                    source_id=raw.source_id,
                    **fields,
                )
                at = raw.resource.get("created")
                ClaimEvent.objects.create(
                    claim=claim,
                    from_status="",
                    to_status=claim.status,
                    at=_aware(at) or timezone.now(),
                    note="Imported from a Synthea ExplanationOfBenefit",
                )
                counts["created"] += 1
            audit_record(
                action=AuditAction.CREATE,
                patient=patient,
                object_type="billing.Claim",
                detail={"historical_claims": len(rows), "source": "ExplanationOfBenefit"},
            )
            counts["patients"] += 1
    return counts


def _aware(value: str | None):
    import datetime as dt

    from django.utils import timezone

    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
