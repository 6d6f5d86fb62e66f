"""Reads of billing records (charges, invoices, payments, claims), always scoped to the requesting user.

| role | charges | invoices | payments | claims | price list |
|---|---|---|---|---|---|
| billing, admin | all | all (drafts included) | all | all | read (admin edits in the Django admin) |
| receptionist | none | issued ones (not drafts): to take a desk payment | all | none | read |
| patient | none | their own, issued (never drafts) | their own | their own | none |
| doctor, nurse, pharmacist, lab technician | none | none | none | none | none |

Billing clerks see every live patient's money and demographics (`hms.patients.selectors`) but never the
clinical record: a charge carries a code and a short display (e.g. "Office visit, established patient"), not
notes, and clinical APIs stay closed to them (`patients_with_clinical_access` is empty for billing).
Receptionists take payments at the front desk, so they see what is owed (issued invoices) and the payments;
drafts are work in progress of the billing office. Patients of a soft-deleted record are hidden except to
admins. "Missing" and "not yours" are the same `NotFoundOrForbidden` (404).
"""

from django.db.models import QuerySet

from hms.accounts.roles import Role
from hms.core.errors import NotFoundOrForbidden

from .models import ChargeItem, Claim, Invoice, InvoiceStatus, Payment, PriceListEntry

MONEY_ROLES = frozenset({Role.ADMIN, Role.BILLING})
DESK_ROLES = frozenset({Role.RECEPTIONIST})


def _active(user) -> bool:
    return user is not None and user.is_authenticated and user.is_active


def _live(qs: QuerySet, user) -> QuerySet:
    return qs if user.role == Role.ADMIN else qs.filter(patient__deleted_at__isnull=True)


def charges_visible(user) -> QuerySet[ChargeItem]:
    """Charge items `user` may read (billing and admin only), with patient and encounter joined."""
    if not _active(user) or user.role not in MONEY_ROLES:
        return ChargeItem.objects.none()
    return _live(ChargeItem.objects.select_related("patient", "price_entry"), user)


def invoices_visible(user) -> QuerySet[Invoice]:
    """Invoices and credit notes `user` may read (see the module table), with the patient joined."""
    if not _active(user):
        return Invoice.objects.none()
    qs = Invoice.objects.select_related("patient", "coverage__payer", "credit_note_for")
    role = user.role
    if role in MONEY_ROLES:
        return _live(qs, user)
    if role in DESK_ROLES:
        return _live(qs.exclude(status=InvoiceStatus.DRAFT), user)
    if role == Role.PATIENT:
        return qs.filter(patient__user=user, patient__deleted_at__isnull=True).exclude(
            status=InvoiceStatus.DRAFT
        )
    return qs.none()


def payments_visible(user) -> QuerySet[Payment]:
    """Payments `user` may read: billing, admin and receptionists all; a patient their own."""
    if not _active(user):
        return Payment.objects.none()
    qs = Payment.objects.select_related("patient", "invoice")
    role = user.role
    if role in MONEY_ROLES or role in DESK_ROLES:
        return _live(qs, user)
    if role == Role.PATIENT:
        return qs.filter(patient__user=user, patient__deleted_at__isnull=True)
    return qs.none()


def claims_visible(user) -> QuerySet[Claim]:
    """Insurance claims `user` may read: billing and admin all; a patient their own."""
    if not _active(user):
        return Claim.objects.none()
    qs = Claim.objects.select_related("patient", "invoice", "coverage__payer")
    role = user.role
    if role in MONEY_ROLES:
        return _live(qs, user)
    if role == Role.PATIENT:
        return qs.filter(patient__user=user, patient__deleted_at__isnull=True)
    return qs.none()


def price_list_visible(user) -> QuerySet[PriceListEntry]:
    """The price list (no PHI): billing, admin and receptionists."""
    if not _active(user) or user.role not in MONEY_ROLES | DESK_ROLES:
        return PriceListEntry.objects.none()
    return PriceListEntry.objects.all()


def _get(qs: QuerySet, pk):
    try:
        return qs.get(pk=int(pk))
    except (TypeError, ValueError, qs.model.DoesNotExist):
        raise NotFoundOrForbidden() from None


def charge_get(user, pk) -> ChargeItem:
    """The charge `pk` if `user` may read it; else `NotFoundOrForbidden` (404)."""
    return _get(charges_visible(user), pk)


def invoice_get(user, pk) -> Invoice:
    """The invoice `pk` if `user` may read it; else `NotFoundOrForbidden` (404)."""
    return _get(invoices_visible(user), pk)


def payment_get(user, pk) -> Payment:
    """The payment `pk` if `user` may read it; else `NotFoundOrForbidden` (404)."""
    return _get(payments_visible(user), pk)


def claim_get(user, pk) -> Claim:
    """The claim `pk` if `user` may read it; else `NotFoundOrForbidden` (404)."""
    return _get(claims_visible(user), pk)
