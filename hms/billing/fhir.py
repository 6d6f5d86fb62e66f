"""FHIR R4 `ChargeItem` and `Invoice` views of charges and invoices (JSON-ready dicts).

Validated with `fhir.resources.R4B` (the models `hms.fhir` uses; ChargeItem and Invoice have the same
structure in R4 and R4B). Specification: https://hl7.org/fhir/R4/chargeitem.html,
https://hl7.org/fhir/R4/invoice.html. Money is `{"value": <number with 2 decimals>, "currency": ISO 4217}`;
invoice price components use the R4 `invoice-priceComponentType` codes `base` and `tax`
(http://hl7.org/fhir/invoice-priceComponentType). Our statuses map as: draft → draft; issued,
partially-paid → issued; paid → balanced; cancelled → cancelled (a credit note is an issued Invoice whose
totals are negative, with an extension-free `note` naming the invoice it cancels).
"""

from decimal import Decimal

from fhir.resources.R4B.chargeitem import ChargeItem as FhirChargeItem
from fhir.resources.R4B.invoice import Invoice as FhirInvoice

from .models import ChargeItem, Invoice
from .money import quantize

CHARGE_SYSTEM = "urn:asclepius:charge"
INVOICE_SYSTEM = "urn:asclepius:invoice-number"
PRICE_COMPONENT = "http://hl7.org/fhir/invoice-priceComponentType"
INVOICE_STATUS = {
    "draft": "draft",
    "issued": "issued",
    "partially-paid": "issued",
    "paid": "balanced",
    "cancelled": "cancelled",
}


def _money(value, currency: str) -> dict:
    return {"value": float(quantize(value)), "currency": currency}


def _coding(system: str, code: str, display: str) -> dict:
    coding = {"display": display}
    if code:
        coding.update(system=system or CHARGE_SYSTEM, code=code)
    return {"coding": [coding], "text": display}


def charge_item_to_fhir(charge: ChargeItem) -> dict:
    """The charge as a validated FHIR R4 ChargeItem dict (status, code, subject, context, occurrence,
    quantity, priceOverride = unit price, factorOverride = 1 + tax rate, reason text for manual charges)."""
    resource = {
        "resourceType": "ChargeItem",
        "id": str(charge.pk),
        "identifier": [{"system": CHARGE_SYSTEM, "value": f"{charge.source_type}:{charge.source_key}"}],
        "status": charge.status,
        "code": _coding(charge.code_system, charge.code, charge.display),
        "subject": {"reference": f"Patient/{charge.patient_id}"},
        "occurrenceDateTime": charge.occurred_at.isoformat(),
        "quantity": {"value": float(charge.quantity)},
        "priceOverride": {"value": float(charge.unit_price), "currency": charge.currency},
        "factorOverride": float(Decimal(1) + charge.tax_rate),
        "enteredDate": charge.created_at.isoformat(),
    }
    if charge.encounter_id:
        resource["context"] = {"reference": f"Encounter/{charge.encounter_id}"}
    if charge.reason:
        resource["note"] = [{"text": charge.reason}]
    FhirChargeItem.model_validate(resource)  # raises on a bug of ours: never ship an invalid resource
    return resource


def invoice_to_fhir(invoice: Invoice) -> dict:
    """The invoice (or credit note) as a validated FHIR R4 Invoice dict: one lineItem per line (with its
    ChargeItem reference and base + tax price components), totalNet, totalGross."""
    cur = invoice.currency
    lines = []
    for seq, ln in enumerate(invoice.lines.all(), start=1):
        item = {"sequence": seq, "priceComponent": []}
        if ln.charge_id:
            item["chargeItemReference"] = {
                "reference": f"ChargeItem/{ln.charge_id}",
                "display": ln.description,
            }
        else:
            item["chargeItemCodeableConcept"] = {"text": ln.description}
        item["priceComponent"] = [
            {
                "type": "base",
                "code": {"text": ln.code or ln.description},
                "factor": float(ln.quantity),
                "amount": _money(ln.net_amount, cur),
            },
            {
                "type": "tax",
                "code": {"text": f"tax {ln.tax_rate * 100:.2f} %"},
                "amount": _money(ln.tax_amount, cur),
            },
        ]
        lines.append(item)
    resource = {
        "resourceType": "Invoice",
        "id": str(invoice.pk),
        "status": INVOICE_STATUS.get(invoice.status, "issued"),
        "type": {"text": "Credit note" if invoice.kind == "credit-note" else "Invoice"},
        "subject": {"reference": f"Patient/{invoice.patient_id}"},
        "lineItem": lines,
        "totalNet": _money(invoice.net_total, cur),
        "totalGross": _money(invoice.total, cur),
    }
    if invoice.number:
        resource["identifier"] = [{"system": INVOICE_SYSTEM, "value": invoice.number}]
    if invoice.issued_at:
        resource["date"] = invoice.issued_at.isoformat()
    if invoice.status == "cancelled":
        resource["cancelledReason"] = "Cancelled by a credit note"
    notes = []
    if invoice.credit_note_for_id:
        notes.append({"text": f"Credit note for invoice {invoice.credit_note_for.number}"})
    if invoice.coverage_id:
        insurer, patient = quantize(invoice.insurer_share), quantize(invoice.patient_share)
        shares = f"Insurer share {insurer}, patient share {patient}"
        notes.append({"text": shares})
    if notes:
        resource["note"] = notes
    FhirInvoice.model_validate(resource)
    return resource
