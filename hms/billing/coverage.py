"""Payers and patients' insurance coverage (issue 7).

Who may do what (decided here, in line with `hms.patients.selectors`):

| role | payers | coverage of a patient |
|---|---|---|
| admin, billing | list, create, update | read all, record, update |
| receptionist | list | read all, record, update (the front desk takes the insurance card at check-in) |
| patient | list | read their own only |
| doctor, nurse, pharmacist, lab technician | - | nothing (403 on the API) |

A coverage outside the caller's scope is reported exactly like a missing one (`NotFoundOrForbidden`, 404).
Every read and write of a coverage (PHI: it names the patient and their member id) writes an AuditEvent in
the same transaction. Nothing is deleted: a coverage ends with `valid_to` or `status="cancelled"`.

Coverage maps to FHIR R4 `Coverage` (`order` = Coverage.order, `valid_from`/`valid_to` = Coverage.period,
`copay_amount` = costToBeneficiary type "copay", `coinsurance_rate` = costToBeneficiary type "coinsurance";
codes from http://terminology.hl7.org/CodeSystem/coverage-copay-type). A Payer maps to `Organization`
(type "ins", http://terminology.hl7.org/CodeSystem/organization-type).
"""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import NotFoundOrForbidden

from .models import Coverage, Payer

PAYER_MANAGERS = frozenset({Role.ADMIN, Role.BILLING})
COVERAGE_STAFF = frozenset({Role.ADMIN, Role.BILLING, Role.RECEPTIONIST})
COVERAGE_READERS = COVERAGE_STAFF | {Role.PATIENT}
COVERAGE_FIELDS = (
    "payer",
    "plan_name",
    "member_id",
    "valid_from",
    "valid_to",
    "order",
    "copay_amount",
    "coinsurance_rate",
    "status",
)


def _active_user(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


# ---------------------------------------------------------------- reads


def payers_visible(user) -> QuerySet[Payer]:
    """Payers (not PHI) for billing-facing roles; managers also see inactive ones."""
    if not _active_user(user) or user.role not in COVERAGE_READERS:
        return Payer.objects.none()
    qs = Payer.objects.all()
    return qs if user.role in PAYER_MANAGERS else qs.filter(active=True)


def coverages_visible(user) -> QuerySet[Coverage]:
    """Coverages `user` may see: all live patients' for admin, billing, reception; own for a patient."""
    if not _active_user(user):
        return Coverage.objects.none()
    qs = Coverage.objects.select_related("payer", "patient").filter(patient__deleted_at__isnull=True)
    if user.role in COVERAGE_STAFF:
        return qs
    if user.role == Role.PATIENT:
        return qs.filter(patient__user=user)
    return qs.none()


def coverage_get(*, user, coverage_id) -> Coverage:
    """One visible coverage, or `NotFoundOrForbidden` (404) when missing or out of scope."""
    try:
        pk = int(coverage_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    coverage = coverages_visible(user).filter(pk=pk).first() if 0 < pk < 2**63 else None
    if coverage is None:
        raise NotFoundOrForbidden()
    return coverage


def coverage_active_on(patient, date: dt.date, *, order: int | None = None) -> Coverage | None:
    """The patient's coverage in force on `date` (status active, valid_from ≤ date < valid_to or open),
    the lowest `order` first (1 = primary); `order` narrows to one rank. None when uninsured that day."""
    qs = Coverage.objects.select_related("payer").filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=date),
        patient=patient,
        status="active",
        valid_from__lte=date,
        payer__active=True,
    )
    if order is not None:
        qs = qs.filter(order=order)
    return qs.order_by("order", "-valid_from", "id").first()


def coverage_is_active_on(coverage: Coverage, date: dt.date | None) -> bool:
    """True when `coverage` (and its payer) is in force on `date`."""
    if date is None or coverage.status != "active" or not coverage.payer.active:
        return False
    return coverage.valid_from <= date and (coverage.valid_to is None or date < coverage.valid_to)


# ---------------------------------------------------------------- writes


def _check_manager(by, roles) -> None:
    from django.core.exceptions import PermissionDenied

    if not _active_user(by) or by.role not in roles:
        raise PermissionDenied("Your role may not do this.")


def payer_create(
    *, name: str, identifier: str = "", payer_class: str = "insurance", by, request=None
) -> Payer:
    """A new payer (admin, billing). 400 {"name"} when blank or taken. Not PHI: no audit event."""
    _check_manager(by, PAYER_MANAGERS)
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A payer needs a name."})
    if Payer.objects.filter(name__iexact=name).exists():
        raise ValidationError({"name": "A payer with this name exists already."})
    payer = Payer(name=name, identifier=(identifier or "").strip(), payer_class=payer_class)
    payer.full_clean()
    payer.save()
    return payer


def payer_update(*, payer: Payer, data: dict, by, request=None) -> Payer:
    """Change `name`, `identifier`, `payer_class` or `active` (deactivate instead of deleting)."""
    _check_manager(by, PAYER_MANAGERS)
    for field in ("name", "identifier", "payer_class", "active"):
        if field in data:
            setattr(payer, field, data[field])
    if Payer.objects.filter(name__iexact=payer.name).exclude(pk=payer.pk).exists():
        raise ValidationError({"name": "A payer with this name exists already."})
    payer.full_clean()
    payer.save()
    return payer


def _coverage_check(values: dict) -> None:
    errors = {}
    if not (values.get("member_id") or "").strip():
        errors["member_id"] = "The member id on the insurance card is required."
    payer = values.get("payer")
    if payer is None or not payer.active:
        errors["payer"] = "Choose an active payer."
    start, end = values.get("valid_from"), values.get("valid_to")
    if start is None:
        errors["valid_from"] = "The first day of cover is required."
    elif end is not None and end <= start:
        errors["valid_to"] = "The end of cover must be after its start."
    copay = values.get("copay_amount", Decimal(0))
    if copay is None or Decimal(copay) < 0:
        errors["copay_amount"] = "A co-pay is an amount ≥ 0."
    rate = values.get("coinsurance_rate", Decimal(0))
    if rate is None or not Decimal(0) <= Decimal(rate) <= Decimal(1):
        errors["coinsurance_rate"] = "A co-insurance rate is a fraction between 0 and 1 (0.2 = 20 %)."
    if int(values.get("order") or 0) < 1:
        errors["order"] = "1 = primary, 2 = secondary, ..."
    if values.get("status", "active") not in ("active", "cancelled"):
        errors["status"] = "active or cancelled."
    if errors:
        raise ValidationError(errors)


def coverage_record(
    *,
    patient,
    payer: Payer,
    member_id: str,
    valid_from: dt.date,
    valid_to: dt.date | None = None,
    plan_name: str = "",
    order: int = 1,
    copay_amount: Decimal = Decimal(0),
    coinsurance_rate: Decimal = Decimal(0),
    by,
    request=None,
) -> Coverage:
    """Record a patient's insurance (admin, billing, receptionist).

    Amounts are Decimal in the invoice currency; `coinsurance_rate` a fraction 0 ≤ r ≤ 1.
    Errors: 400 with one message per bad field (member_id, payer, valid_from, valid_to, copay_amount,
    coinsurance_rate, order); 403 for another role.
    """
    _check_manager(by, COVERAGE_STAFF)
    values = {
        "payer": payer,
        "member_id": (member_id or "").strip(),
        "valid_from": valid_from,
        "valid_to": valid_to,
        "plan_name": (plan_name or "").strip(),
        "order": order,
        "copay_amount": Decimal(copay_amount),
        "coinsurance_rate": Decimal(coinsurance_rate),
    }
    _coverage_check(values)
    with transaction.atomic():
        coverage = Coverage.objects.create(patient=patient, **values)
        audit_record(action=AuditAction.CREATE, actor=by, request=request, patient=patient, obj=coverage)
    return coverage


def coverage_update(*, coverage: Coverage, data: dict, by, request=None) -> Coverage:
    """Change some of `COVERAGE_FIELDS` (e.g. end it: `valid_to`, or `status="cancelled"`); same 400s."""
    _check_manager(by, COVERAGE_STAFF)
    with transaction.atomic():
        locked = Coverage.objects.select_for_update(of=("self",)).select_related("payer").get(pk=coverage.pk)
        values = {f: getattr(locked, f) for f in COVERAGE_FIELDS}
        values.update({k: v for k, v in data.items() if k in COVERAGE_FIELDS})
        _coverage_check(values)
        changed = sorted(k for k in values if values[k] != getattr(locked, k))
        for key, value in values.items():
            setattr(locked, key, value)
        locked.save()
        audit_record(
            action=AuditAction.UPDATE,
            actor=by,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"fields": changed},
        )
    return locked
