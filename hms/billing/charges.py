"""Price list look-ups and charge capture: every billable event becomes one `ChargeItem` (FHIR R4 ChargeItem).

Sources and their hooks (each hook is one line in the owning service, inside that service's transaction):

- consultation: `hms.clinical.encounters.encounter_close` -> `capture_consultation`, key `encounter:<id>`;
  the practitioner's `consultation_fee` when > 0, else CPT 99203 (new patient: no finished visit in the
  previous 3 years, the CPT new-patient rule) or 99213 (established), from the price list.
- lab: `hms.lab.services.lab_result_record` (final reports) -> `capture_lab_result`, key `lab-order:<id>`;
  the CPT code of the ordered LOINC test (`LOINC_TO_CPT`), else LAB-OTHER.
- dispense: `hms.pharmacy.dispensing.prescription_dispense` -> `capture_dispense`, keys `dispense:<id>` and
  `dispense:<id>:fee`; an RxNorm price-list entry if any, else the inventory item's `unit_cost`, x quantity;
  plus the DISP-FEE dispensing fee.
- bed-day: `hms.inpatient.services.admission_discharge` -> `capture_discharge`, and the periodic job
  `bed_days_capture` (registered in `hms.messaging.reminders` as `bed_days_provider`); key
  `admission:<id>:<YYYY-MM-DD>`; BED-<ward type>.
- manual: `charge_manual_create` (billing clerks, with a reason), key `manual:<uuid>`; priced as given or
  from the list.

Procedures: `clinical.Procedure` rows are only imported (no procedure service exists yet), so they are not
captured; a hook belongs in a future `procedure_record` service.

Hooks run in the SAME transaction as the clinical act, inside a savepoint: a capture that fails (e.g. a
missing price row) is logged and rolled back alone, so billing never blocks care, and a clinical act that
rolls back takes its charge with it. Capture is idempotent: `(source_type, source_key)` is unique, so calling
it twice (a retried request, the nightly job after discharge) returns the existing charge.

Bed-days follow the midnight census rule (as US hospitals' UB-04 room-and-board units and the NHS
occupied-bed-days count): one bed-day for each local midnight the patient is in a bed, charged at the ward
type of the bed occupied at that midnight (so a transfer during the day is charged at the ward of the night),
dated the day before that midnight. A stay with no midnight (admitted and discharged the same day) is one
bed-day. One charge per admission per day.
"""

import datetime as dt
import logging
import uuid
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict, NotFoundOrForbidden

from . import price_seed
from .models import ChargeCategory, ChargeItem, ChargeStatus, Coverage, PayerClass, PriceListEntry
from .money import line_amounts, quantize, to_decimal

logger = logging.getLogger(__name__)

CLERK_ROLES = frozenset({Role.BILLING, Role.ADMIN})

# LOINC test or panel (hms.lab.catalog) → CPT code of the seed price list.
LOINC_TO_CPT = {
    "51990-0": "80048",  # BMP
    "24323-8": "80053",  # CMP
    "57698-3": "80061",  # lipid panel
    "24325-3": "80076",  # hepatic panel
    "24356-8": "81003",  # urinalysis
    "4548-4": "83036",  # HbA1c
    "3016-3": "84443",  # TSH
    "58410-2": "85025",  # CBC
    "6301-6": "85610",  # INR
    "1988-5": "86140",  # CRP
    "6598-7": "84484",  # troponin T
    "10839-9": "84484",  # troponin I
}
WARD_TYPE_CODES = {
    "general-medicine": "BED-GEN",
    "surgery": "BED-SURG",
    "paediatrics": "BED-PAED",
    "maternity": "BED-MAT",
    "icu": "BED-ICU",
    "emergency": "BED-ED",
}


# --- price list -------------------------------------------------------------------------------------------


def price_lookup(code_system: str, code: str, payer_class: str = PayerClass.SELF_PAY, on_date=None):
    """The `PriceListEntry` valid on `on_date` (date; default today) for the code and payer class, falling
    back to the self-pay price when the payer class has none; None when the service is not priced."""
    on_date = on_date or timezone.localdate()
    valid = PriceListEntry.objects.filter(code_system=code_system, code=code, valid_from__lte=on_date).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=on_date)
    )
    for payer in dict.fromkeys([payer_class, PayerClass.SELF_PAY]):
        entry = valid.filter(payer_class=payer).order_by("-valid_from").first()
        if entry is not None:
            return entry
    return None


def price_list_seed(*, valid_from=None) -> int:
    """Create the seed price list (`hms.billing.price_seed`) for every payer class; idempotent. Returns the
    number of rows created."""
    valid_from = valid_from or dt.date.fromisoformat(price_seed.SEED_VALID_FROM)
    created = 0
    for system, code, display, category, price, tax in price_seed.SEED_ROWS:
        for payer, factor in price_seed.PAYER_FACTORS.items():
            _, made = PriceListEntry.objects.get_or_create(
                code_system=system,
                code=code,
                payer_class=payer,
                valid_from=valid_from,
                defaults={
                    "display": display,
                    "category": category,
                    "unit_price": quantize(Decimal(price) * factor),
                    "tax_rate": Decimal(tax),
                },
            )
            created += made
    return created


def payer_class_for(patient, on_date=None) -> str:
    """The payer class of the patient's primary active coverage on `on_date`, else self-pay."""
    cov = coverage_for(patient, on_date)
    return cov.payer.payer_class if cov is not None else PayerClass.SELF_PAY


def coverage_for(patient, on_date=None):
    """The patient's primary active `Coverage` on `on_date` (lowest `order`), or None."""
    on_date = on_date or timezone.localdate()
    return (
        Coverage.objects.filter(patient=patient, status="active", valid_from__lte=on_date)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gte=on_date))
        .select_related("payer")
        .order_by("order", "-valid_from")
        .first()
    )


# --- capture ----------------------------------------------------------------------------------------------


def charge_capture(
    *,
    patient,
    source_type: str,
    source_key: str,
    category: str,
    code_system: str = "",
    code: str = "",
    display: str = "",
    quantity=1,
    unit_price=None,
    tax_rate=None,
    occurred_at=None,
    encounter=None,
    reason: str = "",
    by=None,
    request=None,
) -> tuple[ChargeItem, bool]:
    """Record one billable event; returns (charge, created). Idempotent on (`source_type`, `source_key`):
    the second call returns the first charge unchanged (created False).

    Priced from the price list (`price_lookup` for the patient's payer class on the day it occurred) unless
    `unit_price` (Decimal ≥ 0, up to 4 decimals: sub-cent unit prices exist) is given; `tax_rate`
    defaults to the price entry's (else 0). Raises
    `ValidationError` (400) for a negative price/quantity, an unknown category, or a code with no price and
    no `unit_price`. Writes one AuditEvent (create) naming the patient.
    """
    occurred_at = occurred_at or timezone.now()
    existing = ChargeItem.objects.filter(source_type=source_type, source_key=source_key).first()
    if existing is not None:
        return existing, False
    if category not in ChargeCategory.values:
        raise ValidationError({"category": f"One of {', '.join(ChargeCategory.values)}."})
    try:
        quantity = to_decimal(quantity)
    except ValueError:
        raise ValidationError({"quantity": "A number."}) from None
    if quantity <= 0 or quantity.as_tuple().exponent < -3:
        raise ValidationError({"quantity": "A positive number with at most 3 decimals."})
    entry = None
    if code:
        entry = price_lookup(
            code_system, code, payer_class_for(patient, occurred_at.date()), occurred_at.date()
        )
    if unit_price is None:
        if entry is None:
            raise ValidationError({"code": f"No price for {code_system} {code}; add it to the price list."})
        unit_price = entry.unit_price
    try:
        unit_price = to_decimal(unit_price)
        tax_rate = to_decimal(tax_rate if tax_rate is not None else (entry.tax_rate if entry else 0))
    except ValueError as exc:
        raise ValidationError({"unit_price": str(exc)}) from None
    if not unit_price.is_finite() or unit_price < 0 or unit_price.as_tuple().exponent < -4:
        raise ValidationError({"unit_price": "An amount ≥ 0 with at most 4 decimals."})
    if not tax_rate.is_finite() or tax_rate.as_tuple().exponent < -4:
        raise ValidationError({"tax_rate": "A fraction with at most 4 decimals (0.0825 = 8.25 %)."})
    if not (0 <= tax_rate < 1):
        raise ValidationError({"tax_rate": "A fraction from 0 to below 1 (0.0825 = 8.25 %)."})
    net, tax, _ = line_amounts(quantity, unit_price, tax_rate)
    charge = ChargeItem(
        patient=patient,
        encounter=encounter,
        category=category,
        source_type=source_type,
        source_key=source_key,
        code_system=code_system,
        code=code,
        display=(display or (entry.display if entry else code))[:300],
        price_entry=entry,
        quantity=quantity,
        unit_price=unit_price,
        currency=entry.currency if entry else "USD",
        tax_rate=tax_rate,
        net_amount=net,
        tax_amount=tax,
        occurred_at=occurred_at,
        reason=reason,
        entered_by=by,
    )
    try:
        with transaction.atomic():
            charge.save()
            audit_record(
                actor=by,
                action=AuditAction.CREATE,
                request=request,
                patient=patient,
                obj=charge,
                detail={"source": f"{source_type}:{source_key}", "code": code, "net": str(net)},
            )
    except IntegrityError:
        # A concurrent capture of the same event won the unique constraint.
        return ChargeItem.objects.get(source_type=source_type, source_key=source_key), False
    return charge, True


def _safely(label: str, func, *args, **kwargs):
    """Run a capture hook in a savepoint; log and swallow its failure (billing never blocks care)."""
    try:
        with transaction.atomic():
            return func(*args, **kwargs)
    except Exception:
        logger.exception("charge capture failed: %s", label)
        return None


def capture_consultation(encounter) -> ChargeItem | None:
    """Hook of `encounter_close`: the doctor's fee for a finished ambulatory visit (see module table).
    Inpatient encounters are billed by bed-day instead."""
    return _safely(f"encounter {encounter.pk}", _capture_consultation, encounter)


def _capture_consultation(encounter):
    if encounter.encounter_class == "IMP":
        return None
    from hms.clinical.models import Encounter

    since = encounter.period_start - dt.timedelta(days=3 * 365)
    established = (
        Encounter.objects.filter(patient_id=encounter.patient_id, status="finished", period_start__gte=since)
        .exclude(pk=encounter.pk)
        .exists()
    )
    code = "99213" if established else "99203"
    practitioner = encounter.practitioner
    fee = (
        practitioner.consultation_fee if practitioner is not None and practitioner.consultation_fee else None
    )
    charge, _ = charge_capture(
        patient=encounter.patient,
        source_type="consultation",
        source_key=f"encounter:{encounter.pk}",
        category=ChargeCategory.CONSULTATION,
        code_system=price_seed.CPT,
        code=code,
        display=(f"Consultation, {practitioner}" if fee else ""),
        unit_price=fee,
        occurred_at=encounter.period_end or timezone.now(),
        encounter=encounter,
    )
    return charge


def capture_lab_result(order) -> ChargeItem | None:
    """Hook of `lab_result_record` for a final report: the ordered test's price (one charge per order)."""
    return _safely(f"lab order {order.pk}", _capture_lab, order)


def _capture_lab(order):
    cpt = LOINC_TO_CPT.get(order.code)
    system, code = (price_seed.CPT, cpt) if cpt else (price_seed.LOCAL, "LAB-OTHER")
    charge, _ = charge_capture(
        patient=order.patient,
        source_type="lab",
        source_key=f"lab-order:{order.pk}",
        category=ChargeCategory.LAB,
        code_system=system,
        code=code,
        display=order.code_display if not cpt else "",
        occurred_at=timezone.now(),
        encounter=order.encounter,
    )
    return charge


# SNOMED CT procedure -> CPT code of the seed price list; any other procedure is priced 'PROC-OTHER'
# (local code) for billing to review. SNOMED CT concept ids from the SNOMED CT International release.
SNOMED_TO_CPT = {
    "29303009": "93000",  # Electrocardiographic procedure -> ECG with interpretation
    "268400002": "93000",  # 12 lead electrocardiogram
    "82078001": "36415",  # Collection of blood specimen for laboratory
    "396550006": "36415",  # Blood test
    "33879002": "90471",  # Administration of vaccine to produce active immunity
}


def capture_procedure(procedure) -> ChargeItem | None:
    """Hook of `hms.clinical.procedures.procedure_record`: the procedure's price (one charge per
    procedure)."""
    return _safely(f"procedure {procedure.pk}", _capture_procedure, procedure)


def _capture_procedure(procedure):
    cpt = SNOMED_TO_CPT.get(procedure.code)
    system, code = (price_seed.CPT, cpt) if cpt else (price_seed.LOCAL, "PROC-OTHER")
    charge, _ = charge_capture(
        patient=procedure.patient,
        source_type="procedure",
        source_key=f"procedure:{procedure.pk}",
        category=ChargeCategory.PROCEDURE,
        code_system=system,
        code=code,
        display=procedure.code_display if not cpt else "",
        occurred_at=procedure.performed_start or timezone.now(),
        encounter=procedure.encounter,
    )
    return charge


def capture_dispense(dispense, item) -> list[ChargeItem] | None:
    """Hook of `prescription_dispense`: medication (price list by RxNorm, else the inventory unit cost) x
    the quantity dispensed, plus the dispensing fee."""
    return _safely(f"dispense {dispense.pk}", _capture_dispense, dispense, item)


def _capture_dispense(dispense, item):
    when = dispense.dispensed_at or timezone.now()
    priced = price_lookup(price_seed.RXNORM, dispense.code, payer_class_for(dispense.patient), when.date())
    med, _ = charge_capture(
        patient=dispense.patient,
        source_type="dispense",
        source_key=f"dispense:{dispense.pk}",
        category=ChargeCategory.MEDICATION,
        code_system=price_seed.RXNORM if dispense.code else "",
        code=dispense.code if priced else "",
        display=f"{dispense.code_display or item.name} ({dispense.quantity_unit})"[:300],
        quantity=dispense.quantity,
        unit_price=None if priced else item.unit_cost,
        occurred_at=when,
        encounter=dispense.encounter,
    )
    fee, _ = charge_capture(
        patient=dispense.patient,
        source_type="dispense",
        source_key=f"dispense:{dispense.pk}:fee",
        category=ChargeCategory.MEDICATION,
        code_system=price_seed.LOCAL,
        code="DISP-FEE",
        occurred_at=when,
        encounter=dispense.encounter,
    )
    return [med, fee]


def _ward_type(bed) -> str:
    loc = bed
    while loc is not None:
        if loc.ward_type:
            return loc.ward_type
        loc = loc.parent
    return ""


def bed_days(admission, *, until=None) -> list[tuple[dt.date, object]]:
    """The (census date, bed Location) pairs of `admission` by the midnight census rule (module
    docstring), up to `until` (aware datetime; default: discharge, else now). Census date = the day before
    the midnight."""
    tz = timezone.get_current_timezone()
    stays = list(admission.bed_stays.select_related("bed__parent__parent").order_by("start", "id"))
    if not stays:
        return []
    end_limit = until or admission.discharged_at or timezone.now()
    days = []
    first = stays[0].start.astimezone(tz).date()
    last = end_limit.astimezone(tz).date()
    day = first + dt.timedelta(days=1)
    while day <= last:
        midnight = timezone.make_aware(dt.datetime.combine(day, dt.time.min), tz)
        if midnight > end_limit:
            break
        for stay in stays:
            if stay.start <= midnight and (stay.end is None or stay.end > midnight):
                days.append((day - dt.timedelta(days=1), stay.bed))
                break
        day += dt.timedelta(days=1)
    if not days and admission.discharged_at is not None:
        days.append((first, stays[-1].bed))  # same-day stay: one bed-day
    return days


def capture_bed_days(admission, *, until=None) -> list[ChargeItem]:
    """Charge every bed-day of `admission` not yet charged (idempotent); returns the charges created or
    found. Called at discharge (hook) and by the periodic job for ongoing stays."""
    charges = []
    for day, bed in bed_days(admission, until=until):
        code = WARD_TYPE_CODES.get(_ward_type(bed), "BED-OTHER")
        charge, _ = charge_capture(
            patient=admission.patient,
            source_type="bed-day",
            source_key=f"admission:{admission.pk}:{day.isoformat()}",
            category=ChargeCategory.BED_DAY,
            code_system=price_seed.LOCAL,
            code=code,
            occurred_at=timezone.make_aware(
                dt.datetime.combine(day, dt.time(23, 59)), timezone.get_current_timezone()
            ),
            encounter=admission.encounter,
        )
        charges.append(charge)
    return charges


def capture_discharge(admission) -> list[ChargeItem] | None:
    """Hook of `admission_discharge`: the stay's bed-days up to discharge."""
    return _safely(f"admission {admission.pk}", capture_bed_days, admission)


def bed_days_provider(*, now=None, offsets=None) -> int:
    """The reminders-registry provider: `bed_days_capture`; returns 0 because it sends no reminder (the
    registry's total counts reminders sent)."""
    bed_days_capture(now=now)
    return 0


def bed_days_capture(*, now=None) -> int:
    """Periodic provider (registered in `hms.messaging.reminders`, run every few minutes by beat; only
    missing days are created): bed-days of active admissions up to the last midnight. Returns the number of
    admissions processed."""
    from hms.inpatient.models import Admission

    now = now or timezone.now()
    count = 0
    for admission in Admission.objects.filter(status="active").select_related("patient"):
        if _safely(f"admission {admission.pk}", capture_bed_days, admission, until=now) is not None:
            count += 1
    return count


# --- manual charges and cancellation ---------------------------------------------------------------------


def _clerk_check(by) -> None:
    if by is None or not by.is_authenticated or by.role not in CLERK_ROLES:
        raise NotFoundOrForbidden()


def charge_manual_create(
    *,
    patient,
    code_system="",
    code="",
    display="",
    quantity=1,
    unit_price=None,
    tax_rate=None,
    category=ChargeCategory.OTHER,
    reason: str,
    occurred_at=None,
    by,
    request=None,
) -> ChargeItem:
    """A charge entered by a billing clerk (or admin) with a `reason` (1-500 characters, 400 otherwise).
    Priced from the price list when `unit_price` is omitted. 404 for other roles."""
    _clerk_check(by)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this charge is added."})
    if len(reason) > 500:
        raise ValidationError({"reason": "At most 500 characters."})
    if not code and not (display or "").strip():
        raise ValidationError({"display": "Describe the charge or give a price-list code."})
    if occurred_at is not None and occurred_at > timezone.now():
        raise ValidationError({"occurred_at": "Not in the future."})
    charge, _ = charge_capture(
        patient=patient,
        source_type="manual",
        source_key=f"manual:{uuid.uuid4().hex}",
        category=category,
        code_system=code_system,
        code=code,
        display=(display or "").strip(),
        quantity=quantity,
        unit_price=unit_price,
        tax_rate=tax_rate,
        occurred_at=occurred_at,
        reason=reason,
        by=by,
        request=request,
    )
    return charge


def charge_cancel(*, charge: ChargeItem, reason: str, by, request=None) -> ChargeItem:
    """Cancel an uninvoiced charge (status aborted, with the reason kept). 404 unless billing/admin; 400 for a
    blank reason; 409 when the charge is on an invoice (billed) or already cancelled."""
    _clerk_check(by)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this charge is cancelled."})
    with transaction.atomic():
        locked = ChargeItem.objects.select_for_update().get(pk=charge.pk)
        if locked.status != ChargeStatus.BILLABLE:
            raise Conflict(
                f"This charge is {locked.get_status_display().lower()}; only a billable one can be cancelled."
            )
        if locked.invoice_lines.filter(invoice__status="draft").exists():
            raise Conflict("This charge is on a draft invoice; remove it from the draft first.")
        locked.status = ChargeStatus.CANCELLED
        locked.reason = (
            f"{locked.reason} | cancelled: {reason}" if locked.reason else f"cancelled: {reason}"
        )[:500]
        locked.save(update_fields=["status", "reason", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"status": {"from": "billable", "to": "aborted"}, "reason": reason},
        )
    return locked
