"""Billing: price list, charges, invoices (gapless numbers), payments (idempotent), refunds, credit,
payers, coverage and insurance claims. Money is `Decimal` in `currency` (ISO 4217), never float; rounding
is documented in `hms.billing.money`. Written only by the billing services.
"""

from django.conf import settings
from django.db import models

from hms.core.models import SourceIdentifiedModel, TimeStampedModel, source_unique_constraint

MONEY = {"max_digits": 14, "decimal_places": 2}
RATE = {"max_digits": 7, "decimal_places": 4}  # 0.0825 = 8.25 %
# Unit prices may have sub-cent precision (e.g. a tablet at 0.1234, inventory unit costs have 4 decimals);
# amounts (quantity x unit price, tax, totals) are rounded to the cent per line (hms.billing.money).
UNIT_PRICE = {"max_digits": 16, "decimal_places": 4}


class PayerClass(models.TextChoices):
    SELF_PAY = "self-pay", "Self-pay"
    INSURANCE = "insurance", "Private insurance"
    GOVERNMENT = "government", "Government programme"


class ChargeCategory(models.TextChoices):
    CONSULTATION = "consultation", "Consultation"
    PROCEDURE = "procedure", "Procedure"
    LAB = "lab", "Laboratory"
    MEDICATION = "medication", "Medication"
    BED_DAY = "bed-day", "Bed-day"
    OTHER = "other", "Other"


class PriceListEntry(TimeStampedModel):
    """One price of one billable service for one payer class, valid over [valid_from, valid_to).

    `code_system`: CPT (http://www.ama-assn.org/go/cpt), HCPCS (https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets),
    or the hospital's local system; `unit_price`: Decimal ≥ 0 before tax; `tax_rate`: fraction 0 ≤ r < 1.
    A new version is a new row with a later `valid_from` (the previous one gets `valid_to`).
    """

    code_system = models.CharField(max_length=200)
    code = models.CharField(max_length=40)
    display = models.CharField(max_length=300)
    category = models.CharField(max_length=20, choices=ChargeCategory.choices)
    payer_class = models.CharField(max_length=12, choices=PayerClass.choices, default=PayerClass.SELF_PAY)
    unit_price = models.DecimalField(**UNIT_PRICE)
    currency = models.CharField(max_length=3, default="USD")
    tax_rate = models.DecimalField(**RATE, default=0)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["code", "payer_class", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["code_system", "code", "payer_class", "valid_from"], name="price_one_version_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.display} ({self.payer_class})"


class ChargeStatus(models.TextChoices):
    BILLABLE = "billable", "Billable"
    INVOICED = "billed", "Invoiced"
    CANCELLED = "aborted", "Cancelled"
    ENTERED_IN_ERROR = "entered-in-error", "Entered in error"


class ChargeItem(TimeStampedModel):
    """A billable event. Maps to FHIR R4 `ChargeItem` (status billable | billed | aborted | entered-in-error).

    - Created by other modules through `hms.billing.charges` (consultation, lab result, procedure,
      dispense, bed-day) or manually with a `reason`. `source_type` + `source_key` name the event that
      caused it; unique together, so an event is never charged twice.
    - Amounts: `quantity` x `unit_price` = `net_amount`; `tax_amount` = net x `tax_rate` (rounded per
      line, see `hms.billing.money`); all Decimal in `currency`.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="charges")
    encounter = models.ForeignKey(
        "clinical.Encounter", null=True, blank=True, on_delete=models.PROTECT, related_name="charges"
    )
    category = models.CharField(max_length=20, choices=ChargeCategory.choices)
    source_type = models.CharField(
        max_length=20, help_text="consultation | lab | procedure | dispense | bed-day | manual"
    )
    source_key = models.CharField(max_length=100, help_text="e.g. 'encounter:42', 'bedstay:7:2026-11-20'")
    code_system = models.CharField(max_length=200, blank=True)
    code = models.CharField(max_length=40, blank=True)
    display = models.CharField(max_length=300)
    price_entry = models.ForeignKey(
        PriceListEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    quantity = models.DecimalField(max_digits=12, decimal_places=3, default=1)
    unit_price = models.DecimalField(**UNIT_PRICE)
    currency = models.CharField(max_length=3, default="USD")
    tax_rate = models.DecimalField(**RATE, default=0)
    net_amount = models.DecimalField(**MONEY)
    tax_amount = models.DecimalField(**MONEY, default=0)
    occurred_at = models.DateTimeField(db_index=True)
    status = models.CharField(max_length=20, choices=ChargeStatus.choices, default=ChargeStatus.BILLABLE)
    reason = models.CharField(max_length=500, blank=True, help_text="why, for a manual charge")
    entered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source_type", "source_key"], name="charge_one_per_source_event")
        ]

    def __str__(self) -> str:
        return f"{self.display} {self.net_amount} {self.currency}"


class InvoiceCounter(models.Model):
    """The next invoice number of one series (e.g. a year), taken under a row lock when an invoice is
    issued, so numbers are sequential without gaps even under concurrent issue."""

    series = models.CharField(max_length=20, unique=True)
    next_number = models.PositiveIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.series}: next {self.next_number}"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    PARTIALLY_PAID = "partially-paid", "Partially paid"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled (by credit note)"


class Invoice(TimeStampedModel):
    """An invoice or a credit note. Maps to FHIR R4 `Invoice`.

    - `number`: empty while draft; set once at issue from `InvoiceCounter` ("2026-000123"), unique.
    - Issued = immutable (lines and totals); cancelled only by a credit note (`kind="credit-note"`,
      `credit_note_for` the invoice, negative totals).
    - Totals (Decimal): `net_total`, `tax_total`, `total` = net + tax; `insurer_share` + `patient_share`
      = total; `amount_paid`; balance = patient_share - amount_paid (see `hms.billing.money`).
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="invoices")
    kind = models.CharField(max_length=12, default="invoice", help_text="invoice | credit-note")
    credit_note_for = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_note"
    )
    number = models.CharField(max_length=30, null=True, blank=True, unique=True)
    status = models.CharField(max_length=16, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    payer_class = models.CharField(max_length=12, choices=PayerClass.choices, default=PayerClass.SELF_PAY)
    coverage = models.ForeignKey(
        "billing.Coverage", null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    currency = models.CharField(max_length=3, default="USD")
    net_total = models.DecimalField(**MONEY, default=0)
    tax_total = models.DecimalField(**MONEY, default=0)
    total = models.DecimalField(**MONEY, default=0)
    insurer_share = models.DecimalField(**MONEY, default=0)
    patient_share = models.DecimalField(**MONEY, default=0)
    amount_paid = models.DecimalField(**MONEY, default=0)
    issued_at = models.DateTimeField(null=True, blank=True, db_index=True)
    due_date = models.DateField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number or f"Draft invoice #{self.pk}"


class InvoiceLine(models.Model):
    """One line of an invoice, copied from its charge when the draft is built (the charge keeps the link)."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    charge = models.ForeignKey(
        ChargeItem, null=True, blank=True, on_delete=models.PROTECT, related_name="invoice_lines"
    )
    description = models.CharField(max_length=300)
    code = models.CharField(max_length=40, blank=True)
    quantity = models.DecimalField(max_digits=12, decimal_places=3)
    unit_price = models.DecimalField(**UNIT_PRICE)
    tax_rate = models.DecimalField(**RATE, default=0)
    net_amount = models.DecimalField(**MONEY)
    tax_amount = models.DecimalField(**MONEY)
    total = models.DecimalField(**MONEY)
    insurer_share = models.DecimalField(**MONEY, default=0)
    patient_share = models.DecimalField(**MONEY, default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.description} {self.total}"


class PaymentMethod(models.TextChoices):
    CASH = "cash", "Cash"
    CARD = "card", "Card at the desk"
    BANK_TRANSFER = "bank-transfer", "Bank transfer"
    INSURANCE = "insurance", "Insurance"
    ONLINE = "online", "Online (gateway)"
    CREDIT = "credit", "Patient credit"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending (gateway)"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class Payment(TimeStampedModel):
    """Money received. Maps to FHIR R4 `PaymentReconciliation` (detail).

    `idempotency_key`: unique; the same key twice records one payment (the second request gets the
    first payment back). `amount` > 0; what exceeds the invoice balance becomes `PatientCredit`.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="payments")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    method = models.CharField(max_length=14, choices=PaymentMethod.choices)
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.COMPLETED)
    idempotency_key = models.CharField(max_length=100, unique=True)
    received_at = models.DateTimeField(db_index=True)
    cashier = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    gateway = models.CharField(max_length=40, blank=True)
    gateway_reference = models.CharField(max_length=100, blank=True)
    receipt_number = models.CharField(max_length=30, blank=True)
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.method} {self.amount} {self.currency}"


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved and paid out"
    REJECTED = "rejected", "Rejected"


class Refund(TimeStampedModel):
    """Money given back from a payment, with a reason; a second person approves it."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(**MONEY)
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=RefundStatus.choices, default=RefundStatus.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Refund {self.amount} ({self.status})"


class PatientCredit(TimeStampedModel):
    """The patient's credit ledger: + from an overpayment, - when applied to an invoice or refunded.
    Balance = sum of `amount` (never negative: checked under a lock on the patient row)."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="credit_entries")
    amount = models.DecimalField(**MONEY)
    currency = models.CharField(max_length=3, default="USD")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class Payer(TimeStampedModel):
    """An insurance company or programme. Maps to FHIR R4 `Organization` (type ins)."""

    name = models.CharField(max_length=200, unique=True)
    identifier = models.CharField(max_length=60, blank=True, help_text="payer id, e.g. a NAIC code")
    payer_class = models.CharField(max_length=12, choices=PayerClass.choices, default=PayerClass.INSURANCE)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Coverage(TimeStampedModel, SourceIdentifiedModel):
    """A patient's insurance. Maps to FHIR R4 `Coverage`.

    `order`: 1 = primary, 2 = secondary...; `copay_amount`: fixed Decimal per invoice; `coinsurance_rate`:
    fraction 0 ≤ r ≤ 1 the patient pays of the rest (see `hms.billing.money.shares`).
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="coverages")
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    plan_name = models.CharField(max_length=200, blank=True)
    member_id = models.CharField(max_length=60)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    order = models.PositiveSmallIntegerField(default=1)
    copay_amount = models.DecimalField(**MONEY, default=0)
    coinsurance_rate = models.DecimalField(**RATE, default=0)
    status = models.CharField(max_length=12, default="active", help_text="active | cancelled")

    class Meta:
        ordering = ["patient", "order", "-valid_from"]
        constraints = [source_unique_constraint("coverage")]

    def __str__(self) -> str:
        return f"{self.payer} {self.member_id}"


class ClaimStatus(models.TextChoices):
    CREATED = "created", "Created"
    VALIDATED = "validated", "Validated"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in-review", "In review"
    APPROVED = "approved", "Approved"
    PARTIALLY_APPROVED = "partially-approved", "Partially approved"
    DENIED = "denied", "Denied"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled"


class Claim(TimeStampedModel, SourceIdentifiedModel):
    """An insurance claim for an invoice (or a historical one imported from Synthea Claim/EOB). Maps to
    FHIR R4 `Claim`; the payer's answer to `ClaimResponse`. Every transition is a `ClaimEvent`."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="claims")
    invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="claims"
    )
    coverage = models.ForeignKey(
        Coverage, null=True, blank=True, on_delete=models.PROTECT, related_name="claims"
    )
    status = models.CharField(max_length=20, choices=ClaimStatus.choices, default=ClaimStatus.CREATED)
    service_date = models.DateField(null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    claimed_amount = models.DecimalField(**MONEY, default=0)
    approved_amount = models.DecimalField(**MONEY, null=True, blank=True)
    paid_amount = models.DecimalField(**MONEY, null=True, blank=True)
    denial_reason = models.CharField(max_length=500, blank=True)
    external_id = models.CharField(max_length=100, blank=True, help_text="the payer's claim id")
    historical = models.BooleanField(default=False, help_text="imported from Synthea Claim/EOB")
    response = models.JSONField(default=dict, blank=True, help_text="the last ClaimResponse received")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [source_unique_constraint("claim")]

    def __str__(self) -> str:
        return f"Claim #{self.pk} ({self.status})"


class ClaimEvent(models.Model):
    """One transition of a claim: from → to, when, who (None for the background job), note."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="events")
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status}"
