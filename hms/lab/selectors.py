"""Reads of lab orders and results, always scoped to the requesting user.

| role | orders | results (reports, observations) |
|---|---|---|
| lab technician | every live order (work list: `active` ones), patient demographics | their reports only |
| doctor, nurse | orders of patients in their care (`hms.patients.selectors`) | all their reports |
| patient | their own orders | only released reports (see `released_q`) |
| anyone else | none | none |

Lab technicians never read notes, conditions or the rest of the chart: `hms.patients.selectors` gives them
demographics only.

"Missing" and "not yours" are the same `NotFoundOrForbidden` (404). Querysets come with their joins and
prefetches, so a page costs a fixed number of queries.
"""

import datetime as dt

from django.db.models import Case, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from hms.accounts.roles import Role
from hms.clinical.models import Observation
from hms.clinical.timeline import TimelineItem
from hms.core.errors import NotFoundOrForbidden
from hms.patients.selectors import CARE_ROLES, patients_with_clinical_access

from .models import DiagnosticReport, OrderPriority, OrderStatus, ReportStatus, ServiceRequest

RELEASED_STATUSES = (ReportStatus.FINAL, ReportStatus.AMENDED)
PRIORITY_RANK = Case(
    When(priority=OrderPriority.STAT, then=Value(0)),
    When(priority=OrderPriority.URGENT, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def released_q(now: dt.datetime | None = None, prefix: str = "") -> Q:
    """Reports a patient may see: final or amended, and either released (`released_at` ≤ now) or
    imported (no order: historical records from another system)."""
    now = now or timezone.now()
    return Q(**{f"{prefix}status__in": RELEASED_STATUSES}) & (
        Q(**{f"{prefix}released_at__lte": now}) | Q(**{f"{prefix}based_on__isnull": True})
    )


def reports_visible(user) -> QuerySet[DiagnosticReport]:
    """Live reports `user` may read (see the module table)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return DiagnosticReport.objects.none()
    qs = DiagnosticReport.objects.filter(deleted_at__isnull=True)
    role = user.role
    if role == Role.LAB_TECHNICIAN:
        return qs.filter(based_on__isnull=False, based_on__deleted_at__isnull=True)
    if role in CARE_ROLES:
        return qs.filter(patient__in=patients_with_clinical_access(user))
    if role == Role.PATIENT:
        return qs.filter(patient__user=user).filter(released_q())
    return qs.none()


def _reports_prefetch(user) -> Prefetch:
    results = Observation.objects.filter(deleted_at__isnull=True).order_by("id")
    reports = (
        reports_visible(user)
        .select_related("performer", "acknowledged_by")
        .prefetch_related(Prefetch("results", queryset=results))
        .order_by("-issued_at", "-id")
    )
    return Prefetch("reports", queryset=reports, to_attr="visible_reports")


def orders_visible(user) -> QuerySet[ServiceRequest]:
    """Live lab orders `user` may read, newest first, with patient, requester and the visible reports
    (each order's `visible_reports` list) prefetched."""
    if user is None or not user.is_authenticated or not user.is_active:
        return ServiceRequest.objects.none()
    qs = ServiceRequest.objects.filter(deleted_at__isnull=True)
    role = user.role
    if role == Role.LAB_TECHNICIAN:
        qs = qs.exclude(status=OrderStatus.DRAFT)
    elif role in CARE_ROLES:
        qs = qs.filter(patient__in=patients_with_clinical_access(user))
    elif role == Role.PATIENT:
        qs = qs.filter(patient__user=user).exclude(status=OrderStatus.DRAFT)
    else:
        return qs.none()
    return qs.select_related("patient", "requester", "encounter").prefetch_related(_reports_prefetch(user))


def _pk(value) -> int:
    try:
        pk = int(value)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    return pk


def order_get(*, user, order_id) -> ServiceRequest:
    """One order `user` may read (with its visible reports), else `NotFoundOrForbidden` (404)."""
    order = orders_visible(user).filter(pk=_pk(order_id)).first()
    if order is None:
        raise NotFoundOrForbidden()
    return order


def report_get(*, user, report_id) -> DiagnosticReport:
    """One report `user` may read, else `NotFoundOrForbidden` (404)."""
    report = reports_visible(user).select_related("patient", "based_on").filter(pk=_pk(report_id)).first()
    if report is None:
        raise NotFoundOrForbidden()
    return report


def worklist(user) -> QuerySet[ServiceRequest]:
    """The lab work list: active orders, STAT first, then urgent, then routine, oldest first within each.
    Lab technicians only (others get an empty list)."""
    if getattr(user, "role", None) != Role.LAB_TECHNICIAN:
        return ServiceRequest.objects.none()
    return (
        orders_visible(user)
        .filter(status=OrderStatus.ACTIVE)
        .annotate(priority_rank=PRIORITY_RANK)
        .order_by("priority_rank", "authored_at", "id")
    )


def results_inbox(user) -> QuerySet[DiagnosticReport]:
    """A doctor's unacknowledged results: reports of orders they requested (or, for patients in their
    care, any unacknowledged order's report), critical first, then oldest first."""
    if getattr(user, "role", None) != Role.DOCTOR:
        return DiagnosticReport.objects.none()
    practitioner = getattr(user, "practitioner", None)
    if practitioner is None:
        return DiagnosticReport.objects.none()
    return (
        reports_visible(user)
        .filter(
            based_on__requester=practitioner,
            acknowledged_at__isnull=True,
            status__in=[*RELEASED_STATUSES, ReportStatus.PRELIMINARY],
        )
        .select_related("patient", "based_on", "performer")
        .prefetch_related(
            Prefetch("results", queryset=Observation.objects.filter(deleted_at__isnull=True).order_by("id"))
        )
        .order_by("-is_critical", "issued_at", "id")
    )


def patient_results(user) -> QuerySet[DiagnosticReport]:
    """The signed-in patient's released results, newest first, with their observations."""
    if getattr(user, "role", None) != Role.PATIENT:
        return DiagnosticReport.objects.none()
    return (
        reports_visible(user)
        .select_related("based_on")
        .prefetch_related(
            Prefetch("results", queryset=Observation.objects.filter(deleted_at__isnull=True).order_by("id"))
        )
        .order_by("-issued_at", "-effective_at", "-id")
    )


def hide_unreleased(user, queryset: QuerySet) -> QuerySet:
    """For a patient, drop from `queryset` (DiagnosticReport or Observation rows) the lab reports not yet
    released to them and the result Observations of those reports; other users get `queryset` unchanged.

    The one place the release rule is applied to the generic clinical reads (chart, FHIR, record lists):
    call it on any patient-facing queryset of those two models."""
    if getattr(user, "role", None) != Role.PATIENT:
        return queryset
    unreleased = DiagnosticReport.objects.filter(based_on__isnull=False).exclude(released_q())
    if queryset.model is DiagnosticReport:
        return queryset.exclude(pk__in=unreleased.values("pk"))
    if queryset.model is Observation:
        return queryset.exclude(reports__in=unreleased.values("pk"))
    return queryset


# ---------------------------------------------------------------- timeline sources


def _between(qs: QuerySet, field: str, date_from, date_to) -> QuerySet:
    if date_from is not None:
        qs = qs.filter(**{f"{field}__gte": date_from})
    if date_to is not None:
        qs = qs.filter(**{f"{field}__lt": date_to})
    return qs


def orders_timeline(user, patient, *, date_from=None, date_to=None):
    """Timeline source `order`: the patient's lab orders visible to `user`."""
    qs = _between(
        orders_visible(user).filter(patient=patient).prefetch_related(None), "authored_at", date_from, date_to
    )
    for order in qs.select_related("requester"):
        by = f" by {order.requester.display_name}" if order.requester else ""
        yield TimelineItem(
            kind="order",
            at=order.authored_at,
            title=f"Lab order: {order.code_display}",
            detail=f"{order.get_priority_display()}, {order.get_status_display().lower()}{by}",
            encounter_id=order.encounter_id,
            object_type="lab.ServiceRequest",
            object_id=order.pk,
        )


def results_timeline(user, patient, *, date_from=None, date_to=None):
    """Timeline source `result`: the patient's lab reports visible to `user` (patients: released only),
    dated by `issued_at` (imported reports: `effective_at`)."""
    qs = reports_visible(user).filter(patient=patient).annotate(at=Coalesce("issued_at", "effective_at"))
    qs = _between(qs.filter(at__isnull=False), "at", date_from, date_to)
    for report in qs.prefetch_related("results"):
        at = report.at
        flags = [o.interpretation for o in report.results.all() if o.interpretation not in ("", "N")]
        detail = "Critical" if report.is_critical else ("Abnormal" if flags else report.get_status_display())
        yield TimelineItem(
            kind="result",
            at=at,
            title=f"Lab result: {report.code_display}",
            detail=detail,
            encounter_id=report.encounter_id,
            object_type="lab.DiagnosticReport",
            object_id=report.pk,
        )
