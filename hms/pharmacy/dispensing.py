"""Dispensing: the pharmacist's work list, verification and `prescription_dispense` (FHIR R4
`MedicationDispense`, https://hl7.org/fhir/R4/medicationdispense.html), issuing stock first-expiry-first-out
from `hms.inventory` in the same transaction.

Rules:
- Dispensable: a live prescription, `status` active and signed (`signed_at` set: imported history has no
  signature and is never dispensed), with a prescribed `quantity`.
- Allowed in total: `quantity x (1 + refills)` (in `quantity_unit`, the unit of issue of the inventory
  item coded with the same RxNorm RXCUI). Dispensed so far: the sum of the prescription's live, completed
  dispenses. A dispense may be partial; when the total reaches the allowed amount the prescription becomes
  `completed` (FHIR medicationrequest-status) in the same transaction.
- `days_supply` (int ≥ 1), when not given: quantity ÷ (dose per administration x administrations per day),
  rounded down, at least 1, when the prescription gives a numeric dose and frequency (days' supply as
  defined by NCPDP: how long the quantity lasts at the prescribed dose); else empty.
- Who: pharmacists only (403 for other roles). A prescription the pharmacist cannot see is 404; one that
  is not dispensable or already fully dispensed is 409; a quantity above what remains is 400; not enough
  usable stock at the location is 409 (nothing is written). Every dispense writes an AuditEvent
  (create, with the patient) together with the stock moves.

Reads (`dispenses_visible`): pharmacists every live dispense of a live patient; doctors and nurses those of
patients in their care; patients their own; nobody else.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import DecimalField, F, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.billing import charges
from hms.clinical.allergies import allergies_visible
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.inventory import services as stock
from hms.inventory.models import InventoryItem, MoveKind, StockLocation
from hms.patients.selectors import CARE_ROLES, patients_with_clinical_access

from .models import MedicationDispense, MedicationRequest
from .selectors import prescriptions_visible

DISPENSED_STATUS = "completed"
ZERO = Decimal("0")
_QTY = DecimalField(max_digits=14, decimal_places=3)


def _pharmacist_check(by) -> None:
    if by is None or not by.is_authenticated or not by.is_active or by.role != Role.PHARMACIST:
        raise PermissionDenied("Only pharmacists dispense.")


def allowed_total(prescription: MedicationRequest) -> Decimal | None:
    """quantity x (1 + refills), or None when the prescription gives no quantity."""
    if prescription.quantity is None:
        return None
    return prescription.quantity * (1 + (prescription.refills or 0))


def dispensed_total(prescription: MedicationRequest) -> Decimal:
    total = MedicationDispense.objects.filter(
        prescription=prescription, deleted_at__isnull=True, status=DISPENSED_STATUS
    ).aggregate(total=Sum("quantity"))["total"]
    return total or ZERO


def _with_dispensed(qs: QuerySet) -> QuerySet:
    done = (
        MedicationDispense.objects.filter(
            prescription=OuterRef("pk"), deleted_at__isnull=True, status=DISPENSED_STATUS
        )
        .order_by()
        .values("prescription")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    return qs.annotate(
        dispensed=Coalesce(Subquery(done, output_field=_QTY), Value(ZERO), output_field=_QTY),
        allowed=F("quantity") * (1 + F("refills")),
    )


def dispense_worklist(user) -> QuerySet[MedicationRequest]:
    """Signed, active prescriptions with something left to dispense, oldest signature first, each with
    `dispensed` and `allowed` annotated (Decimal, in `quantity_unit`). Pharmacists only; else empty."""
    if user is None or not user.is_authenticated or getattr(user, "role", None) != Role.PHARMACIST:
        return MedicationRequest.objects.none()
    qs = prescriptions_visible(user).filter(status="active", signed_at__isnull=False, quantity__isnull=False)
    return _with_dispensed(qs).filter(dispensed__lt=F("allowed")).order_by("signed_at", "id")


def worklist_prescription_get(*, user, prescription_id) -> MedicationRequest:
    """One prescription of the pharmacist's view (any issued status) with `dispensed`/`allowed`; else 404."""
    if user is None or not user.is_authenticated or getattr(user, "role", None) != Role.PHARMACIST:
        raise NotFoundOrForbidden()
    try:
        pk = int(prescription_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    found = _with_dispensed(prescriptions_visible(user)).filter(pk=pk).first()
    if found is None:
        raise NotFoundOrForbidden()
    return found


@dataclass(frozen=True)
class Verification:
    """What the pharmacist checks before dispensing (see `dispense_verify`)."""

    prescription: MedicationRequest
    dispensable: bool
    problems: tuple[str, ...]
    allowed: Decimal | None
    dispensed: Decimal
    remaining: Decimal
    item: InventoryItem | None
    cds_findings: list
    cds_override_reason: str
    allergies: list


def inventory_item_for(prescription: MedicationRequest) -> InventoryItem | None:
    """The active inventory item coded with the prescription's RxNorm code."""
    if not prescription.code:
        return None
    return InventoryItem.objects.filter(rxcui=prescription.code, active=True).first()


def dispense_verify(*, prescription: MedicationRequest, by, request=None) -> Verification:
    """Verify a prescription for dispensing: active and signed, a quantity prescribed, something left,
    a stocked item; with the CDS findings recorded at signing (`cds_findings`, `cds_override_reason`) and
    the patient's allergies (`hms.clinical.allergies.allergies_visible`, active first). Writes a "read"
    AuditEvent. 403 unless pharmacist."""
    _pharmacist_check(by)
    problems = []
    if prescription.status != "active" or prescription.deleted_at is not None:
        problems.append(f"The prescription is {prescription.status}, not active.")
    if prescription.signed_at is None:
        problems.append("The prescription is not signed.")
    allowed = allowed_total(prescription)
    if allowed is None:
        problems.append("No quantity was prescribed; ask the prescriber.")
    dispensed = dispensed_total(prescription)
    remaining = max(ZERO, (allowed or ZERO) - dispensed)
    if allowed is not None and remaining <= 0:
        problems.append("Everything prescribed has been dispensed.")
    item = inventory_item_for(prescription)
    if item is None:
        problems.append("This medication is not a stocked inventory item.")
    allergies = list(allergies_visible(by, patient=prescription.patient).filter(clinical_status="active"))
    with transaction.atomic():
        audit_record(
            actor=by,
            action=AuditAction.READ,
            request=request,
            patient=prescription.patient,
            obj=prescription,
            detail={"purpose": "dispense-verify"},
        )
    return Verification(
        prescription=prescription,
        dispensable=not problems,
        problems=tuple(problems),
        allowed=allowed,
        dispensed=dispensed,
        remaining=remaining,
        item=item,
        cds_findings=list(prescription.cds_findings or []),
        cds_override_reason=prescription.cds_override_reason,
        allergies=allergies,
    )


def _days_supply(prescription: MedicationRequest, quantity: Decimal) -> int | None:
    dose, per_day = prescription.dose_value, prescription.frequency_per_day
    if not dose or not per_day or dose <= 0 or per_day <= 0:
        return None
    return max(1, math.floor(quantity / (dose * per_day)))


def prescription_dispense(
    *,
    prescription: MedicationRequest,
    quantity,
    location: StockLocation,
    by,
    days_supply: int | None = None,
    note: str = "",
    request=None,
) -> MedicationDispense:
    """Dispense `quantity` (Decimal > 0, in the prescription's `quantity_unit`) of `prescription` from
    `location`, FEFO across its usable lots; returns the `MedicationDispense` (`lots` lists the lots used,
    `is_partial` when something remains). Completes the prescription when nothing remains.

    403 unless pharmacist; 404 when the pharmacist cannot see the prescription; 409 when it is not
    active and signed, already fully dispensed, or the stock is short; 400 on "quantity" (more than
    remains), "location", "days_supply" (1 to 366), "note" (≤ 2000), "prescription" (no quantity
    prescribed, medication not stocked).
    """
    _pharmacist_check(by)
    if not prescriptions_visible(by).filter(pk=prescription.pk).exists():
        raise NotFoundOrForbidden()
    quantity = stock._quantity(quantity)
    if not isinstance(location, StockLocation) or not location.active:
        raise ValidationError({"location": "Choose an active stock location."})
    if days_supply is not None and (
        isinstance(days_supply, bool) or not isinstance(days_supply, int) or not 1 <= days_supply <= 366
    ):
        raise ValidationError({"days_supply": "A whole number of days from 1 to 366."})
    note = stock._text(note, "note", 2000)
    with transaction.atomic():
        # The prescription's row lock serialises dispenses of one prescription (no over-dispensing);
        # the stock balances are locked by `stock_issue`.
        rx = MedicationRequest.objects.select_for_update().select_related("patient").get(pk=prescription.pk)
        if rx.status != "active" or rx.deleted_at is not None or rx.signed_at is None:
            state = rx.status if rx.signed_at else f"{rx.status}, unsigned"
            raise Conflict(f"This prescription is {state}; it cannot be dispensed.")
        allowed = allowed_total(rx)
        if allowed is None:
            raise ValidationError({"prescription": "No quantity was prescribed; ask the prescriber."})
        remaining = allowed - dispensed_total(rx)
        if remaining <= 0:
            raise Conflict("Everything prescribed has already been dispensed.")
        if quantity > remaining:
            raise ValidationError(
                {"quantity": f"At most {remaining.normalize():f} {rx.quantity_unit} remain to dispense."}
            )
        item = inventory_item_for(rx)
        if item is None:
            raise ValidationError({"prescription": "This medication is not a stocked inventory item."})
        is_partial = quantity < remaining
        dispense = MedicationDispense(
            patient=rx.patient,
            encounter=rx.encounter,
            code_system=rx.code_system,
            code=rx.code,
            code_display=rx.code_display,
            prescription=rx,
            status=DISPENSED_STATUS,
            quantity=quantity,
            quantity_unit=rx.quantity_unit or item.unit,
            days_supply=days_supply if days_supply is not None else _days_supply(rx, quantity),
            dispensed_at=timezone.now(),
            dispensed_by=by,
            verified_by=by,
            is_partial=is_partial,
            note=note,
        )
        dispense.save()
        picks = stock.stock_issue(
            item=item,
            location=location,
            quantity=quantity,
            by=by,
            kind=MoveKind.DISPENSE,
            dispense=dispense,
            patient=rx.patient,
            request=request,
            audit=False,
        )
        dispense.lots = [
            {
                "lot_id": p.lot.pk,
                "lot_number": p.lot.lot_number,
                "quantity": f"{p.quantity.normalize():f}",
                "expiry_date": p.lot.expiry_date.isoformat() if p.lot.expiry_date else None,
            }
            for p in picks
        ]
        dispense.save(update_fields=["lots", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=rx.patient,
            obj=dispense,
            detail={
                "prescription": rx.pk,
                "quantity": str(quantity),
                "location": location.pk,
                "lots": dispense.lots,
                "partial": is_partial,
            },
        )
        if not is_partial:
            # Not `prescriptions.prescription_complete`: that act is the prescriber's (doctors, nurses);
            # here the pharmacy closes an order it has fully supplied, under the same row lock.
            rx.status = "completed"
            rx.status_reason = "Fully dispensed."
            rx.save(update_fields=["status", "status_reason", "updated_at"])
            audit_record(
                actor=by,
                action=AuditAction.UPDATE,
                request=request,
                patient=rx.patient,
                obj=rx,
                detail={"status": "completed", "reason": "fully dispensed"},
            )
        charges.capture_dispense(dispense, item)  # billing: medication + dispensing fee (savepoint)
    return dispense


def dispenses_visible(user) -> QuerySet[MedicationDispense]:
    """Live dispenses `user` may read (see the module docstring), newest first, with patient and
    prescription joined."""
    if user is None or not user.is_authenticated or not user.is_active:
        return MedicationDispense.objects.none()
    qs = MedicationDispense.objects.filter(deleted_at__isnull=True)
    role = user.role
    if role == Role.PHARMACIST:
        qs = qs.filter(patient__deleted_at__isnull=True)
    elif role in CARE_ROLES or role == Role.PATIENT:
        qs = qs.filter(patient__in=patients_with_clinical_access(user))
    else:
        return qs.none()
    return qs.select_related("patient", "prescription", "dispensed_by").order_by("-dispensed_at", "-id")


def dispense_get(*, user, dispense_id) -> MedicationDispense:
    """One dispense `user` may read, else `NotFoundOrForbidden` (404)."""
    try:
        pk = int(dispense_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    found = dispenses_visible(user).filter(pk=pk).first()
    if found is None:
        raise NotFoundOrForbidden()
    return found
