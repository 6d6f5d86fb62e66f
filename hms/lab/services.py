"""Writes of the lab: ordering, cancelling, recording results, acknowledging, entered-in-error.

Each service follows the clinical write contract (`hms.clinical.services`): keyword arguments, `by` the
acting user, access checked first (a patient or order `by` may not touch is `NotFoundOrForbidden`, 404),
input errors are `ValidationError` (400, field-level), a state clash is `Conflict` (409), every multi-row
write is atomic with its AuditEvent in the same transaction, nothing is hard-deleted.

Who does what:
- order, cancel: doctors with the patient in their care;
- record the specimen collection and the results, mark a report entered-in-error: lab technicians (any
  live order; the lab is one team); doctors caring for the patient may also mark a report
  entered-in-error;
- acknowledge: the ordering doctor or another doctor with the patient in their care.

Interpretation flags (v3 ObservationInterpretation): when the lab does not give one, a numeric result is
compared with the catalogue's critical limits and reference interval (`hms.lab.catalog.interpretation_for`;
the lab's own `reference_low/high` replace the catalogue interval when given). A result flagged LL, HH or
AA makes the report critical.

Notifications (through `hms.messaging.services.notification_send` only): on a new report the ordering
doctor gets `lab.critical` on in-app and SMS at once when a result is critical, else `lab.result` on
their preferred channels. Templates: `hms/messaging/templates/messaging/lab.*.txt`.

Release rule (when the patient sees a result): a final report of an order is released when a doctor
acknowledges it, or automatically `LAB_RESULT_AUTO_RELEASE_HOURS` hours (setting, default 72) after it
was issued unless it is critical: a critical result waits for a doctor to acknowledge it (and talk to the
patient). `released_at` stores that instant; `hms.lab.selectors.released_q` applies it.
"""

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.billing import charges
from hms.clinical.models import Observation, ObservationInterpretation
from hms.clinical.services import clinical_write_check
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.messaging.services import notification_send

from . import catalog
from .models import DiagnosticReport, OrderPriority, OrderStatus, ReportStatus, ServiceRequest

DOCTOR_ONLY = frozenset({Role.DOCTOR})
MAX_TESTS_PER_ORDER = 30
MAX_RESULTS_PER_REPORT = 60
DEFAULT_AUTO_RELEASE_HOURS = 72
# Largest magnitude stored in Observation.value_quantity (max_digits=20, decimal_places=6).
MAX_VALUE = Decimal("1e14")
RESULT_STATUSES = (ReportStatus.PRELIMINARY, ReportStatus.FINAL)
# Observation fields a new reading of the same test replaces (preliminary -> final).
RESULT_FIELDS = (
    "status",
    "effective_at",
    "issued_at",
    "value_quantity",
    "value_unit",
    "value_string",
    "interpretation",
    "reference_low",
    "reference_high",
    "reference_text",
    "note",
    "recorded_by",
)


def auto_release_hours() -> int:
    return int(getattr(settings, "LAB_RESULT_AUTO_RELEASE_HOURS", DEFAULT_AUTO_RELEASE_HOURS))


def _lab_technician_check(by) -> None:
    if by is None or not by.is_authenticated or not by.is_active or by.role != Role.LAB_TECHNICIAN:
        raise NotFoundOrForbidden()


def _text(value, field: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: "Not a valid string."})
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    return value


# ---------------------------------------------------------------- orders


def lab_order_create(
    *,
    patient,
    codes: list[str],
    by,
    encounter=None,
    priority: str = OrderPriority.ROUTINE,
    reason: str = "",
    note: str = "",
    request=None,
) -> list[ServiceRequest]:
    """Order one or more lab tests/panels for `patient`: one `ServiceRequest` per code (status `active`,
    intent `order`), all with one shared `requisition`, in one transaction with one AuditEvent each.

    - `codes`: LOINC codes from `hms.lab.catalog` (1 to 30, duplicates ignored).
    - `encounter`: optional, a live encounter of this patient.
    - `priority`: routine | urgent | stat; `reason` ≤ 500 characters; `note` ≤ 2000.
    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor with `patient` in their care;
    `ValidationError` (400) on "codes", "priority", "encounter", "reason", "note".
    """
    clinical_write_check(by, patient, roles=DOCTOR_ONLY)
    requester = getattr(by, "practitioner", None)
    if not isinstance(codes, list | tuple) or not codes:
        raise ValidationError({"codes": "Choose at least one test."})
    wanted: list[catalog.LabTest] = []
    unknown = []
    for code in codes:
        test = catalog.lab_test_get(code) if isinstance(code, str) else None
        if test is None:
            unknown.append(str(code)[:20])
        elif test not in wanted:
            wanted.append(test)
    if unknown:
        raise ValidationError({"codes": f"Not in the lab catalogue: {', '.join(unknown[:5])}."})
    if len(wanted) > MAX_TESTS_PER_ORDER:
        raise ValidationError({"codes": f"At most {MAX_TESTS_PER_ORDER} tests in one order."})
    if priority not in OrderPriority.values:
        raise ValidationError({"priority": f"Choose one of: {', '.join(OrderPriority.values)}."})
    if encounter is not None and (encounter.patient_id != patient.pk or encounter.deleted_at is not None):
        raise ValidationError({"encounter": "This visit is not one of this patient's."})
    reason = _text(reason, "reason", 500)
    note = _text(note, "note", 2000)
    now = timezone.now()
    requisition = uuid.uuid4().hex
    orders = []
    with transaction.atomic():
        for test in wanted:
            order = ServiceRequest(
                patient=patient,
                encounter=encounter,
                code_system=catalog.LOINC_SYSTEM,
                code=test.code,
                code_display=test.display,
                status=OrderStatus.ACTIVE,
                priority=priority,
                requisition=requisition,
                requester=requester,
                authored_at=now,
                reason=reason,
                note=note,
            )
            order.full_clean()
            order.save()
            audit_record(
                actor=by,
                action=AuditAction.CREATE,
                request=request,
                patient=patient,
                obj=order,
                detail={"code": test.code, "priority": priority, "requisition": requisition},
            )
            orders.append(order)
    return orders


def lab_order_cancel(*, order: ServiceRequest, reason: str, by, request=None) -> ServiceRequest:
    """Revoke an order that has no result yet (FHIR status `revoked`, `status_reason` = `reason`).

    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor with the patient in their care;
    `ValidationError` (400) for a blank reason; `Conflict` (409) when the order is not active (already
    completed, revoked or entered in error).
    """
    clinical_write_check(by, order.patient, roles=DOCTOR_ONLY)
    reason = _text(reason, "reason", 500)
    if not reason:
        raise ValidationError({"reason": "Say why the order is cancelled."})
    with transaction.atomic():
        order = ServiceRequest.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.ACTIVE or order.deleted_at is not None:
            raise Conflict(f"This order is {order.get_status_display().lower()} and cannot be cancelled.")
        order.status = OrderStatus.REVOKED
        order.status_reason = reason
        order.status_changed_by = by
        order.save(update_fields=["status", "status_reason", "status_changed_by", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=order.patient,
            obj=order,
            detail={"status": OrderStatus.REVOKED, "reason": reason},
        )
    return order


def lab_specimen_collect(*, order: ServiceRequest, by, collected_at=None, request=None) -> ServiceRequest:
    """Record that the lab took the specimen of an active order: `specimen_collected_at` (aware datetime,
    default now, not in the future) and `performer` = `by`. The result's `effective_at` defaults to it.

    Raises `NotFoundOrForbidden` (404) unless `by` is a lab technician; `ValidationError` (400) for a time in
    the future; `Conflict` (409) when the order is not active or its specimen is already recorded.
    """
    _lab_technician_check(by)
    now = timezone.now()
    collected_at = collected_at or now
    if collected_at > now:
        raise ValidationError({"collected_at": "The specimen cannot be collected in the future."})
    with transaction.atomic():
        order = ServiceRequest.objects.select_for_update().get(pk=order.pk)
        if order.status != OrderStatus.ACTIVE or order.deleted_at is not None:
            raise Conflict(f"This order is {order.get_status_display().lower()}.")
        if order.specimen_collected_at is not None:
            raise Conflict("The specimen of this order is already recorded as collected.")
        order.specimen_collected_at = collected_at
        order.performer = by
        order.save(update_fields=["specimen_collected_at", "performer", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=order.patient,
            obj=order,
            detail={"specimen_collected_at": collected_at.isoformat()},
        )
    return order


# ---------------------------------------------------------------- results


def _decimal(value, field: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValidationError({field: "Enter a number."})
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError({field: "Enter a number."}) from None
    if not number.is_finite() or abs(number) >= MAX_VALUE:
        raise ValidationError({field: "Enter a finite number below 10^14."})
    return number.quantize(Decimal("0.000001")) if number.as_tuple().exponent < -6 else number


def _allowed_codes(order: ServiceRequest) -> tuple[str, ...]:
    test = catalog.lab_test_get(order.code)
    if test is not None and test.is_panel:
        return test.members
    return (order.code,)


def _result_observation(order, item: dict, index: int, *, by, when, status) -> Observation:
    """One result row (dict) → an unsaved Observation, validated. Field errors are named `results[i].x`."""
    prefix = f"results[{index}]"
    if not isinstance(item, dict):
        raise ValidationError({prefix: "Each result is an object with code and value."})
    code = _text(item.get("code"), f"{prefix}.code", 64) or order.code
    allowed = _allowed_codes(order)
    if code not in allowed:
        raise ValidationError(
            {f"{prefix}.code": f"Not part of this order; expected one of: {', '.join(allowed)}."}
        )
    test = catalog.lab_test_get(code)
    value = _decimal(item.get("value"), f"{prefix}.value")
    value_string = _text(item.get("value_string"), f"{prefix}.value_string", 500)
    if value is None and not value_string:
        raise ValidationError({f"{prefix}.value": "Enter a value (a number, or text such as 'Negative')."})
    unit = _text(item.get("unit"), f"{prefix}.unit", 40)
    catalog_unit = test.unit if test else ""
    if value is not None:
        if not unit:
            unit = catalog_unit
        elif catalog_unit and unit != catalog_unit:
            raise ValidationError(
                {f"{prefix}.unit": f"Reported in {catalog_unit} (UCUM); convert the value first."}
            )
    low = _decimal(item.get("reference_low"), f"{prefix}.reference_low")
    high = _decimal(item.get("reference_high"), f"{prefix}.reference_high")
    if low is not None and high is not None and low > high:
        raise ValidationError({f"{prefix}.reference_low": "The low limit is above the high limit."})
    interpretation = _text(item.get("interpretation"), f"{prefix}.interpretation", 2)
    if interpretation and interpretation not in ObservationInterpretation.values:
        raise ValidationError(
            {f"{prefix}.interpretation": f"Choose one of: {', '.join(ObservationInterpretation.values)}."}
        )
    if not interpretation and value is not None:
        interpretation = catalog.interpretation_for(test, value, low=low, high=high)
    if low is None and high is None and test is not None and (value is None or unit == catalog_unit):
        low, high = test.low, test.high
    reference_text = _text(item.get("reference_text"), f"{prefix}.reference_text", 200)
    if not reference_text and test is not None and low is None and high is None:
        reference_text = test.reference_text
    obs = Observation(
        patient=order.patient,
        encounter=order.encounter,
        code_system=catalog.LOINC_SYSTEM,
        code=code,
        code_display=test.display if test else code,
        status=status,
        category="laboratory",
        effective_at=when,
        issued_at=timezone.now(),
        value_quantity=value,
        value_unit=unit if value is not None else "",
        value_string=value_string if value is None else "",
        interpretation=interpretation,
        reference_low=low,
        reference_high=high,
        reference_text=reference_text,
        note=_text(item.get("note"), f"{prefix}.note", 1000),
        recorded_by=by,
    )
    obs.full_clean()
    return obs


def _notify_requester(report: DiagnosticReport, order: ServiceRequest) -> None:
    doctor = order.requester.user if order.requester is not None else None
    if doctor is None:
        return
    patient = report.patient
    context = {
        "report": report,
        "order": order,
        "patient_name": f"{patient.given_names} {patient.family_name}".strip(),
        "mrn": patient.mrn,
        "test": report.code_display,
        "flagged": [o for o in report.results.all() if o.interpretation not in ("", "N")],
    }
    if report.is_critical:
        notification_send(
            recipient=doctor,
            event="lab.critical",
            context=context,
            dedupe_key=f"lab:report:{report.pk}:critical",
            channels=["in_app", "sms"],
        )
    else:
        notification_send(
            recipient=doctor,
            event="lab.result",
            context=context,
            dedupe_key=f"lab:report:{report.pk}:result:{report.status}",
        )


def lab_result_record(
    *,
    order: ServiceRequest,
    by,
    results: list[dict] | None = None,
    conclusion: str = "",
    status: str = ReportStatus.FINAL,
    collected_at=None,
    attachment=None,
    request=None,
) -> DiagnosticReport:
    """Record the results of an active order as one `DiagnosticReport` with its result Observations.

    - `results`: list of {"code": LOINC (the ordered test, or a member of the ordered panel; may be
      omitted for a single test), "value": number in "unit" (UCUM; defaults to, and must equal, the
      catalogue unit) or "value_string": text (e.g. "Negative"), optional "reference_low",
      "reference_high", "reference_text", "interpretation" (v3 code N, L, H, LL, HH, A, AA), "note"};
      may be empty when a text `conclusion` (≤ 5000 characters) or an `attachment` carries the report.
    - `status`: final (the order becomes `completed`) or preliminary (the order stays `active`).
    - `collected_at`: when the specimen was taken (aware datetime, not in the future; default: the
      order's recorded collection time, else now).
    - `attachment`: optional uploaded PDF/image, stored through `hms.documents.services.document_upload`
      as a `lab-report` Document of this report.
    Flags missing interpretations from the catalogue (see module docstring), sets `is_critical`, the
    release time, and notifies the ordering doctor (`lab.critical` in-app + SMS, else `lab.result`).
    A preliminary report is completed by calling again (e.g. with `status` final): the same report and its
    Observations are updated in place (the old values are kept in the AuditEvent, action update), tests
    not repeated keep their values.
    Raises `NotFoundOrForbidden` (404) unless `by` is a lab technician; `Conflict` (409) when the order is
    not active or already has a final report; `ValidationError` (400) with field names such as
    `results[0].value`, `results[1].unit`, `conclusion`, `status`, `collected_at`.
    """
    _lab_technician_check(by)
    if order.deleted_at is not None or order.patient.deleted_at is not None:
        raise NotFoundOrForbidden()
    if status not in RESULT_STATUSES:
        raise ValidationError({"status": "Choose final or preliminary."})
    results = results or []
    if not isinstance(results, list):
        raise ValidationError({"results": "A list of results."})
    if len(results) > MAX_RESULTS_PER_REPORT:
        raise ValidationError({"results": f"At most {MAX_RESULTS_PER_REPORT} results in one report."})
    conclusion = _text(conclusion, "conclusion", 5000)
    if not results and not conclusion and attachment is None:
        raise ValidationError({"results": "Enter at least one result, a conclusion or an attached report."})
    now = timezone.now()
    if collected_at is not None and collected_at > now:
        raise ValidationError({"collected_at": "The specimen cannot be collected in the future."})
    with transaction.atomic():
        order = (
            ServiceRequest.objects.select_for_update(of=("self",))
            .select_related("patient", "requester__user")
            .get(pk=order.pk)
        )
        if order.status != OrderStatus.ACTIVE:
            raise Conflict(f"This order is {order.get_status_display().lower()}; results cannot be added.")
        report = (
            DiagnosticReport.objects.select_for_update()
            .filter(based_on=order, deleted_at__isnull=True)
            .order_by("-id")
            .first()
        )
        if report is not None and report.status != ReportStatus.PRELIMINARY:
            raise Conflict(
                "This order already has a report; mark it entered-in-error before recording a new one."
            )
        when = collected_at or (report.effective_at if report else None) or order.specimen_collected_at or now
        observations = [
            _result_observation(order, item, i, by=by, when=when, status=status)
            for i, item in enumerate(results)
        ]
        codes = [o.code for o in observations]
        if len(codes) != len(set(codes)):
            raise ValidationError({"results": "Each test appears once in a report."})
        previous = "" if report is None else report.status
        changed = []
        if report is None:
            for obs in observations:
                obs.save()
            report = DiagnosticReport(
                patient=order.patient,
                encounter=order.encounter,
                code_system=catalog.LOINC_SYSTEM,
                code=order.code,
                code_display=order.code_display,
                category="LAB",
                based_on=order,
            )
            kept = observations
        else:
            # preliminary -> final (or a corrected preliminary): update the report's rows in place.
            kept = list(report.results.filter(deleted_at__isnull=True))
            by_code = {o.code: o for o in kept}
            for obs in observations:
                old = by_code.get(obs.code)
                if old is None:
                    obs.save()
                    kept.append(obs)
                    continue
                changed.append({"code": obs.code, "from": old.display_value, "to": obs.display_value})
                for field in RESULT_FIELDS:
                    setattr(old, field, getattr(obs, field))
                old.save()
            for old in kept:
                if old.status != status:
                    old.status = status
                    old.save(update_fields=["status", "updated_at"])
        is_critical = any(o.interpretation in catalog.CRITICAL_FLAGS for o in kept)
        report.status = status
        report.effective_at = when
        report.issued_at = now
        report.conclusion = conclusion or report.conclusion
        report.performer = by
        report.is_critical = is_critical
        report.released_at = (
            None
            if is_critical or status != ReportStatus.FINAL
            else now + dt.timedelta(hours=auto_release_hours())
        )
        report.full_clean()
        report.save()
        report.results.set(kept)
        order.performer = by
        order.specimen_collected_at = when
        fields = ["performer", "specimen_collected_at", "updated_at"]
        if status == ReportStatus.FINAL:
            order.status = OrderStatus.COMPLETED
            fields.append("status")
        order.save(update_fields=fields)
        if attachment is not None:
            from hms.documents.services import document_upload

            document_upload(
                patient=order.patient,
                file=attachment,
                kind="lab-report",
                title=f"{order.code_display} report"[:200],
                encounter=order.encounter,
                diagnostic_report=report,
                by=by,
                request=request,
            )
        audit_record(
            actor=by,
            action=AuditAction.UPDATE if previous else AuditAction.CREATE,
            request=request,
            patient=order.patient,
            obj=report,
            detail={
                "order": order.pk,
                "status": status,
                "previous_status": previous,
                "changed": changed,
                "critical": is_critical,
                "observations": [o.pk for o in kept],
            },
        )
        _notify_requester(report, order)
        if status == ReportStatus.FINAL:
            charges.capture_lab_result(order)  # billing: the test's price (savepoint; never blocks)
    return report


def lab_result_acknowledge(*, report: DiagnosticReport, by, request=None) -> DiagnosticReport:
    """A doctor confirms they have read a result: sets `acknowledged_at/by` and releases it to the patient
    (`released_at` = now unless already earlier). Acknowledging twice changes nothing (returns the report).

    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor with the patient in their care (the ordering
    doctor always is); `Conflict` (409) for a report that is not final/amended or has no order.
    """
    clinical_write_check(by, report.patient, roles=DOCTOR_ONLY)
    with transaction.atomic():
        report = DiagnosticReport.objects.select_for_update().get(pk=report.pk)
        if report.deleted_at is not None:
            raise NotFoundOrForbidden()
        if report.based_on_id is None or report.status not in (ReportStatus.FINAL, ReportStatus.AMENDED):
            raise Conflict("Only final results of an order are acknowledged.")
        if report.acknowledged_at is not None:
            return report
        now = timezone.now()
        report.acknowledged_at = now
        report.acknowledged_by = by
        if report.released_at is None or report.released_at > now:
            report.released_at = now
        report.save(update_fields=["acknowledged_at", "acknowledged_by", "released_at", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=report.patient,
            obj=report,
            detail={"acknowledged": True, "released_at": now.isoformat()},
        )
    return report


def lab_result_enter_in_error(*, report: DiagnosticReport, reason: str, by, request=None) -> DiagnosticReport:
    """Mark a report and its result Observations entered-in-error (never deleted); its order becomes
    `active` again so the lab can record the right result.

    Who: lab technicians, and doctors/nurses with the patient in their care. Raises `NotFoundOrForbidden`
    (404) for anyone else; `ValidationError` (400) for a blank reason or a report already marked.
    """
    role = getattr(by, "role", None) if by is not None and by.is_authenticated else None
    if role == Role.LAB_TECHNICIAN:
        if report.based_on_id is None:
            raise NotFoundOrForbidden()
    else:
        clinical_write_check(by, report.patient)
    reason = _text(reason, "reason", 500)
    if not reason:
        raise ValidationError({"reason": "Say why this result was entered in error."})
    with transaction.atomic():
        report = DiagnosticReport.objects.select_for_update().get(pk=report.pk)
        if report.deleted_at is not None:
            raise ValidationError({"detail": "This result is already marked entered-in-error."})
        now = timezone.now()
        for obs in report.results.filter(deleted_at__isnull=True):
            obs.deleted_at, obs.deleted_by, obs.deletion_reason = now, by, reason
            obs.status = "entered-in-error"
            obs.save(update_fields=["deleted_at", "deleted_by", "deletion_reason", "status", "updated_at"])
        report.deleted_at, report.deleted_by, report.deletion_reason = now, by, reason
        report.status = ReportStatus.ENTERED_IN_ERROR
        report.save(update_fields=["deleted_at", "deleted_by", "deletion_reason", "status", "updated_at"])
        if report.based_on_id is not None:
            ServiceRequest.objects.filter(pk=report.based_on_id, status=OrderStatus.COMPLETED).update(
                status=OrderStatus.ACTIVE, updated_at=now
            )
        audit_record(
            actor=by,
            action=AuditAction.DELETE,
            request=request,
            patient=report.patient,
            obj=report,
            detail={"reason": reason, "entered_in_error": True},
        )
    return report
