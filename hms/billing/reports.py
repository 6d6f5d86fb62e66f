"""Billing reports: the daily cash-up and the accounts-receivable ageing, as dicts and as CSV.

- **Cash-up** (`cash_up`): for one calendar day in the hospital's zone (`settings.HOSPITAL_TIME_ZONE`;
  [00:00, 24:00) local, so DST days are 23 or 25 hours long), the completed payments grouped by cashier and
  method (count, amount), and the refunds approved (paid out) that day grouped by the approver who paid them
  out. `collected` = payments of every method except `credit` (credit moves no money: it spends an earlier
  overpayment); `net` = collected - refunds. Pending and failed online payments (no money yet) are left out.
  Amounts are Decimal strings in the hospital currency (USD).
- **Ageing** (`ageing`): every issued or partially paid invoice with an open patient balance
  (`hms.billing.money.invoice_balance`) on `as_of` (default: today, hospital zone), aged in days since its
  **due date**, or since its issue date (hospital zone) when it has none. Buckets: "0-30" (including not yet
  due), "31-60", "61-90", "90+". Ageing by due date is what collections work from (a 30-day-terms invoice is
  not late on day 10); the issue date is the fallback, as in most AR ageing reports.

Both read every patient's money: admins and billing clerks; a receptionist gets the cash-up of their own
payments only (their own drawer). The ageing report names patients (PHI): its reads write an AuditEvent.
"""

import csv
import datetime as dt
import io
import zoneinfo
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record

from .models import Invoice, InvoiceStatus, Payment, PaymentMethod, PaymentStatus, Refund, RefundStatus
from .money import ZERO, invoice_balance

REPORT_ROLES = frozenset({Role.ADMIN, Role.BILLING})
CASH_UP_ROLES = REPORT_ROLES | {Role.RECEPTIONIST}
BUCKETS = ("0-30", "31-60", "61-90", "90+")


def hospital_tz() -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def hospital_today() -> dt.date:
    return timezone.localtime(timezone.now(), hospital_tz()).date()


def _day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = hospital_tz()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start, end


def _name(user) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def cash_up(*, user, day: dt.date, cashier_id: int | None = None, request=None) -> dict:
    """The cash-up of `day` → {date, time_zone, cashier, rows: [{cashier_id, cashier, method, count, amount}],
    by_method: {method: amount}, refunds: [{approver_id, approver, count, amount}], collected, refunded, net}.

    A receptionist always gets their own payments (`cashier_id` is forced to them). Raises PermissionDenied
    (403) for other roles."""
    if user.role not in CASH_UP_ROLES:
        raise PermissionDenied("Your role has no cash-up.")
    if user.role == Role.RECEPTIONIST:
        cashier_id = user.pk
    start, end = _day_bounds(day)
    payments = Payment.objects.filter(
        status=PaymentStatus.COMPLETED, received_at__gte=start, received_at__lt=end
    ).select_related("cashier")
    refunds = Refund.objects.filter(
        status=RefundStatus.APPROVED, decided_at__gte=start, decided_at__lt=end
    ).select_related("decided_by")
    if cashier_id is not None:
        payments = payments.filter(cashier_id=cashier_id)
        refunds = refunds.filter(decided_by_id=cashier_id)
    groups: dict[tuple, list] = defaultdict(lambda: [0, ZERO, None])
    by_method: dict[str, Decimal] = defaultdict(lambda: ZERO)
    collected = ZERO
    for p in payments:
        g = groups[(p.cashier_id, p.method)]
        g[0] += 1
        g[1] += p.amount
        g[2] = p.cashier
        by_method[p.method] += p.amount
        if p.method != PaymentMethod.CREDIT:
            collected += p.amount
    refund_groups: dict[int, list] = defaultdict(lambda: [0, ZERO, None])
    refunded = ZERO
    for r in refunds:
        g = refund_groups[r.decided_by_id]
        g[0] += 1
        g[1] += r.amount
        g[2] = r.decided_by
        refunded += r.amount
    rows = [
        {"cashier_id": cid, "cashier": _name(c), "method": m, "count": n, "amount": str(a)}
        for (cid, m), (n, a, c) in sorted(groups.items(), key=lambda kv: (_name(kv[1][2]), kv[0][1]))
    ]
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditAction.READ,
            request=request,
            object_type="billing.cash_up",
            object_id=day.isoformat(),
            detail={"cashier": cashier_id},
        )
    return {
        "date": day.isoformat(),
        "time_zone": str(hospital_tz()),
        "cashier": cashier_id,
        "rows": rows,
        "by_method": {m: str(a) for m, a in sorted(by_method.items())},
        "refunds": [
            {"approver_id": aid, "approver": _name(a), "count": n, "amount": str(amt)}
            for aid, (n, amt, a) in sorted(refund_groups.items())
        ],
        "collected": str(collected),
        "refunded": str(refunded),
        "net": str(collected - refunded),
    }


def cash_up_csv(report: dict) -> str:
    """The cash-up as CSV: one row per cashier and method, then refund rows, then the totals."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["date", "section", "cashier", "method", "count", "amount"])
    for r in report["rows"]:
        w.writerow([report["date"], "payment", _cell(r["cashier"]), r["method"], r["count"], r["amount"]])
    for r in report["refunds"]:
        w.writerow([report["date"], "refund", _cell(r["approver"]), "", r["count"], "-" + r["amount"]])
    w.writerow([report["date"], "total collected", "", "", "", report["collected"]])
    w.writerow([report["date"], "total refunded", "", "", "", report["refunded"]])
    w.writerow([report["date"], "net", "", "", "", report["net"]])
    return out.getvalue()


def _cell(text: str) -> str:
    """A text cell safe from spreadsheet formula injection (OWASP "CSV Injection")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _bucket(days: int) -> str:
    if days <= 30:
        return "0-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


def ageing(*, user, as_of: dt.date | None = None, request=None) -> dict:
    """Accounts-receivable ageing on `as_of` → {as_of, buckets: {bucket: amount}, total, invoices: [{invoice,
    number, patient, patient_name, mrn, issued_on, due_date, days, bucket, balance}]} (oldest first).

    Raises PermissionDenied (403) unless admin or billing. Writes a "search" AuditEvent naming the
    patients."""
    if user.role not in REPORT_ROLES:
        raise PermissionDenied("Only billing staff see the ageing report.")
    as_of = as_of or hospital_today()
    tz = hospital_tz()
    invoices = (
        Invoice.objects.filter(
            kind="invoice",
            status__in=(InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID),
            issued_at__isnull=False,
        )
        .select_related("patient")
        .order_by("issued_at", "id")
    )
    if user.role != Role.ADMIN:
        invoices = invoices.filter(patient__deleted_at__isnull=True)
    rows = []
    buckets = dict.fromkeys(BUCKETS, ZERO)
    for inv in invoices:
        balance = invoice_balance(inv)
        issued_on = timezone.localtime(inv.issued_at, tz).date()
        if balance <= 0 or issued_on > as_of:
            continue
        days = max((as_of - (inv.due_date or issued_on)).days, 0)
        bucket = _bucket(days)
        buckets[bucket] += balance
        p = inv.patient
        rows.append(
            {
                "invoice": inv.pk,
                "number": inv.number or "",
                "patient": p.pk,
                "patient_name": f"{p.family_name.upper()}, {p.given_names}",
                "mrn": p.mrn,
                "issued_on": issued_on.isoformat(),
                "due_date": inv.due_date.isoformat() if inv.due_date else None,
                "days": days,
                "bucket": bucket,
                "balance": str(balance),
            }
        )
    rows.sort(key=lambda r: (-r["days"], r["invoice"]))
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditAction.SEARCH,
            request=request,
            patients=sorted({r["patient"] for r in rows}),
            object_type="billing.ageing",
            detail={"as_of": as_of.isoformat()},
        )
    return {
        "as_of": as_of.isoformat(),
        "buckets": {b: str(a) for b, a in buckets.items()},
        "total": str(sum(buckets.values(), ZERO)),
        "invoices": rows,
    }


def ageing_csv(report: dict) -> str:
    """The ageing report as CSV: one row per open invoice, then one total row per bucket."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["invoice", "patient", "mrn", "issued_on", "due_date", "days", "bucket", "balance"])
    for r in report["invoices"]:
        w.writerow(
            [
                r["number"] or r["invoice"],
                _cell(r["patient_name"]),
                r["mrn"],
                r["issued_on"],
                r["due_date"] or "",
                r["days"],
                r["bucket"],
                r["balance"],
            ]
        )
    for b, amount in report["buckets"].items():
        w.writerow(["total", "", "", "", "", "", b, amount])
    w.writerow(["total", "", "", "", "", "", "all", report["total"]])
    return out.getvalue()
