"""Money arithmetic of billing: Decimal only (never float), rounded once per line.

Rounding rule: every amount that is stored is rounded to the cent (0.01) with ROUND_HALF_UP ("commercial
rounding": 0.005 → 0.01, -0.005 → -0.01), at the LINE level: a line's net = round(quantity x unit price),
its tax = round(net x rate), and invoice totals are plain sums of already-rounded lines, so the printed lines
always add up to the printed total. This is what most tax authorities ask of an invoice (e.g. EU VAT Directive
2006/112/EC art. 226 leaves rounding per line or per total to the member state; HMRC VAT Notice 700 §17.5 and
most US state sales-tax rules accept per-line half-up rounding) and matches the FHIR R4 `Money` examples
(2 decimal places, https://hl7.org/fhir/R4/datatypes.html#Money). Banker's rounding (ROUND_HALF_EVEN, Python's
default) is deliberately NOT used: a patient checking their bill by hand rounds half up.

Currencies: all amounts of one invoice share one ISO 4217 currency with 2 minor units (USD by default).
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_decimal(value) -> Decimal:
    """`value` (Decimal, int or str; float is refused) as a Decimal. Raises ValueError on float or garbage."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        raise ValueError("money must not be a float; pass a Decimal or a string")
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError):
        raise ValueError(f"not an amount: {value!r}") from None


def quantize(amount) -> Decimal:
    """`amount` rounded to the cent, ROUND_HALF_UP (see the module docstring). `quantize("0.005")` → 0.01."""
    return to_decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def line_amounts(quantity, unit_price, tax_rate) -> tuple[Decimal, Decimal, Decimal]:
    """(net, tax, total) of one line, each rounded to the cent half-up.

    `quantity` (may be fractional or negative for a credit note), `unit_price` ≥ 0 before tax, `tax_rate` a
    fraction (0.0825 = 8.25 %). net = round(q x p); tax = round(net x rate); total = net + tax.
    Example: 3 x 0.335 at 8.25 % → net 1.01 (1.005 half up), tax 0.08 (0.083325), total 1.09.
    """
    net = quantize(to_decimal(quantity) * to_decimal(unit_price))
    tax = quantize(net * to_decimal(tax_rate))
    return net, tax, net + tax


def shares(total, coverage=None) -> tuple[Decimal, Decimal]:
    """(insurer_share, patient_share) of an invoice `total`; they always add up to `total`.

    Without `coverage` (self-pay) the patient pays everything. With a `billing.Coverage` (or any object
    with `copay_amount` and `coinsurance_rate`): the patient pays the fixed copay first (capped at the
    total), then `coinsurance_rate` of the rest (rounded half up); the insurer pays what is left.
    Example: total 200.00, copay 20.00, coinsurance 0.2 → patient 20 + 36 = 56.00, insurer 144.00.
    A negative total (credit note) is split the same way with the signs mirrored.
    """
    total = quantize(total)
    if coverage is None:
        return ZERO, total
    sign = -1 if total < 0 else 1
    magnitude = abs(total)
    copay = min(quantize(coverage.copay_amount or 0), magnitude)
    rate = to_decimal(coverage.coinsurance_rate or 0)
    if not (Decimal(0) <= rate <= Decimal(1)):
        raise ValueError("coinsurance_rate must be between 0 and 1")
    patient = copay + quantize((magnitude - copay) * rate)
    insurer = magnitude - patient
    return sign * insurer, sign * patient


def invoice_balance(invoice) -> Decimal:
    """What the patient still owes on `invoice`: patient_share - amount_paid (credits applied to an invoice
    are recorded as payments of method `credit`, so they are inside `amount_paid`). Never below 0.00 for an
    invoice; for a credit note (negative share) it is 0.00."""
    balance = quantize(invoice.patient_share) - quantize(invoice.amount_paid)
    return balance if balance > 0 else ZERO
