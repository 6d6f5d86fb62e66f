"""E-prescribing: writes of prescriptions (FHIR R4 `MedicationRequest`) and of renewal requests (FHIR `Task`).

Lifecycle (FHIR medicationrequest-status, hl7.org/fhir/R4/valueset-medicationrequest-status.html):
`draft` → (`prescription_sign`: decision-support checks) → `active` → `completed` | `stopped` (with a
reason); any of them → `entered-in-error` (with a reason, never deleted). A signed prescription is
immutable: editing it is a `Conflict` (409); it is stopped and a new one written instead.

Every service follows the clinical write contract (`hms.clinical.services`): keyword arguments, `by` the
acting user, access checked first (`NotFoundOrForbidden`, 404, for a patient or prescription `by` may not
touch), bad input is a `ValidationError` (400, field-level), a state clash is a `Conflict` (409), the write
and its AuditEvent share one transaction.

Who: doctors with the patient in their care draft, edit, sign, stop, and approve or deny renewals (the
renewal's prescriber, or another doctor caring for the patient); doctors and nurses in care complete and
mark entered-in-error; the patient requests renewals of their own active or completed prescriptions.

Fields (units): `medication` an RxNorm RXCUI of the bundled catalogue (`hms.pharmacy.catalog`); `dose_value`
Decimal > 0 per administration in `dose_unit` (`DOSE_UNITS`); `route` (`ROUTES`, SNOMED CT route
displays in lower case); `frequency_code` (`hms.pharmacy.frequencies`); `duration_days` 1..365;
`quantity` Decimal > 0 in `quantity_unit`; `refills` 0..11 (US 21 CFR 1306.22 caps schedule III-IV
refills at 5, state law non-controlled ones at one year: 11 monthly refills is the outer bound here);
`instructions` ≤ 2000 characters; `indication` a live Condition of the same patient.

Signing runs `hms.cds.checker.cds_check` against the patient's active prescriptions and allergies:
findings are stored in `cds_findings`; contraindicated ones block (409 with `findings`) unless
`override_reason` is given, which is stored and audited with the findings. A renewal's prior
prescription is left out of the check (it is the one being replaced).

Notifications (`hms.messaging.services.notification_send` only): `prescription.renewal_requested` to the
prescriber, `prescription.renewal_approved` / `prescription.renewal_denied` to the patient. Templates:
`hms/messaging/templates/messaging/prescription.renewal_*.txt`.
"""

import secrets
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction, AuditOutcome
from hms.audit.services import audit_record
from hms.clinical.models import Condition
from hms.clinical.services import clinical_write_check, record_enter_in_error
from hms.core import codes
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.messaging.services import notification_send
from hms.patients.models import Patient

from . import frequencies
from .models import MedicationRequest, PrescriptionRenewal, RenewalStatus

DOCTOR_ONLY = frozenset({Role.DOCTOR})
DRAFT = "draft"
ACTIVE = "active"
COMPLETED = "completed"
STOPPED = "stopped"
DOSE_UNITS = (
    "mg", "g", "mcg", "ng", "mL", "L", "unit", "IU", "mmol", "mEq",
    "tablet", "capsule", "puff", "drop", "spray", "patch", "suppository", "application", "sachet",
    "vial", "ampoule", "lozenge", "pen",
)  # fmt: skip
# SNOMED CT route of administration displays (hierarchy 284009009 "Route of administration value").
ROUTES = (
    "oral", "sublingual", "buccal", "intravenous", "intramuscular", "subcutaneous", "intradermal",
    "topical", "transdermal", "inhalation", "nasal", "ophthalmic", "otic", "rectal", "vaginal",
    "enteral", "intrathecal", "epidural", "intra-articular", "dental", "cutaneous", "urethral",
    "infiltration", "intrauterine", "subdermal",
)  # fmt: skip
MAX_DURATION_DAYS = 365
MAX_REFILLS = 11
MAX_QUANTITY = Decimal("100000")
MAX_DOSE = Decimal("1000000")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud over the phone
EDITABLE = (
    "medication",
    "strength",
    "dose_value",
    "dose_unit",
    "route",
    "frequency_code",
    "duration_days",
    "quantity",
    "quantity_unit",
    "refills",
    "instructions",
    "indication",
)


# ---------------------------------------------------------------- validation


def _text(value, field: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: "Not a valid string."})
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    return value


def _decimal(value, field: str, *, maximum: Decimal) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValidationError({field: "Enter a number."})
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError({field: "Enter a number."}) from None
    if not number.is_finite() or number <= 0 or number >= maximum:
        raise ValidationError({field: f"Enter a number above 0 and below {maximum}."})
    if number.normalize().as_tuple().exponent < -3:
        raise ValidationError({field: "At most 3 decimal places."})
    return number


def _int(value, field: str, *, low: int, high: int, default=None):
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValidationError({field: "Enter a whole number."})
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError({field: "Enter a whole number."}) from None
    if not low <= number <= high:
        raise ValidationError({field: f"Enter a whole number from {low} to {high}."})
    return number


def _medication(rxcui):
    from . import catalog

    med = catalog.medication_get(rxcui.strip()) if isinstance(rxcui, str) and rxcui.strip() else None
    if med is None:
        raise ValidationError({"medication": "Choose a medication from the catalogue (RxNorm code)."})
    return med


def _indication(value, patient):
    if value in (None, ""):
        return None
    if isinstance(value, Condition):
        condition = value if value.patient_id == patient.pk and value.deleted_at is None else None
    else:
        pk = _int(value, "indication", low=1, high=2**63 - 1)
        condition = Condition.objects.filter(pk=pk, patient=patient, deleted_at__isnull=True).first()
    if condition is None:
        raise ValidationError({"indication": "Not one of this patient's diagnoses."})
    return condition


def _clean(data: dict, patient) -> dict:
    """The editable fields of `data` checked and normalised (only the keys present)."""
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "Not a prescription field."})
    out: dict = {}
    errors: dict[str, list[str]] = {}

    def field(name, fn):
        if name in data:
            try:
                out[name] = fn(data[name])
            except ValidationError as exc:
                for key, msgs in exc.message_dict.items():
                    errors.setdefault(key, []).extend(msgs)

    field("medication", _medication)
    field("strength", lambda v: _text(v, "strength", 100))
    field("dose_value", lambda v: _decimal(v, "dose_value", maximum=MAX_DOSE))
    field("dose_unit", lambda v: _choice(v, "dose_unit", DOSE_UNITS, "a dose unit"))
    field(
        "route", lambda v: _choice((v or "").lower() if isinstance(v, str) else v, "route", ROUTES, "a route")
    )
    field("frequency_code", _frequency)
    field("duration_days", lambda v: _int(v, "duration_days", low=1, high=MAX_DURATION_DAYS))
    field("quantity", lambda v: _decimal(v, "quantity", maximum=MAX_QUANTITY))
    field("quantity_unit", lambda v: _text(v, "quantity_unit", 40))
    field("refills", lambda v: _int(v, "refills", low=0, high=MAX_REFILLS, default=0))
    field("instructions", lambda v: _text(v, "instructions", 2000))
    field("indication", lambda v: _indication(v, patient))
    if errors:
        raise ValidationError(errors)
    return out


def _choice(value, field: str, allowed, what: str) -> str:
    value = _text(value, field, 40)
    if value and value not in allowed:
        raise ValidationError({field: f"Choose {what}: {', '.join(allowed)}."})
    return value


def _frequency(value) -> str:
    value = _text(value, "frequency_code", 20).upper()
    if value and frequencies.frequency_get(value) is None:
        raise ValidationError({"frequency_code": f"Choose one of: {', '.join(frequencies.FREQUENCIES)}."})
    return value


def _apply(rx: MedicationRequest, values: dict) -> None:
    for name, value in values.items():
        if name == "medication":
            rx.code_system = codes.RXNORM
            rx.code = value.rxcui
            rx.code_display = value.name[:500]
            if "strength" not in values and not rx.strength:
                rx.strength = value.strength
            if "route" not in values and not rx.route and value.route in ROUTES:
                rx.route = value.route
        elif name == "frequency_code":
            rx.frequency_code = value
            freq = frequencies.frequency_get(value)
            rx.frequency_per_day = freq.per_day if freq else None
            rx.as_needed = bool(freq and freq.as_needed)
        else:
            setattr(rx, name, value)
    rx.dosage_text = sig_text(rx)[:500]


def sig_text(rx: MedicationRequest) -> str:
    """The sig in words, e.g. "500 mg oral, three times daily (TID), for 7 days. Take with food"."""
    parts = []
    if rx.dose_value is not None:
        parts.append(f"{rx.dose_value.normalize():f} {rx.dose_unit}".strip())
    if rx.route:
        parts.append(rx.route)
    text = " ".join(parts)
    freq = frequencies.frequency_get(rx.frequency_code) if rx.frequency_code else None
    if freq:
        text += f", {freq.display} ({freq.code})"
    if rx.duration_days:
        text += f", for {rx.duration_days} day{'s' if rx.duration_days != 1 else ''}"
    if rx.instructions:
        text += f". {rx.instructions}"
    return text.strip(", ")


# ---------------------------------------------------------------- drafts


def prescription_create_draft(
    *, patient, medication: str, by, encounter=None, request=None, **fields
) -> MedicationRequest:
    """Start a prescription (status `draft`, intent `order`) for `patient`, `requester` = `by`.

    `medication`: RxNorm RXCUI from the catalogue; optional `fields` among `EDITABLE` (see the module
    docstring for units and bounds); `strength` and `route` default to the catalogue's. `encounter`:
    optional, a live encounter of this patient.
    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor with `patient` in their care;
    `ValidationError` (400) per field ("medication", "dose_value", "frequency_code", "indication", ...).
    """
    clinical_write_check(by, patient, roles=DOCTOR_ONLY)
    values = _clean({"medication": medication, **fields}, patient)
    if encounter is not None and (encounter.patient_id != patient.pk or encounter.deleted_at is not None):
        raise ValidationError({"encounter": "This visit is not one of this patient's."})
    rx = MedicationRequest(
        patient=patient,
        encounter=encounter,
        status=DRAFT,
        intent="order",
        authored_on=timezone.now(),
        requester=getattr(by, "practitioner", None),
    )
    _apply(rx, values)
    with transaction.atomic():
        rx.full_clean()
        rx.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=rx,
            detail={"status": DRAFT, "medication": rx.code},
        )
    return rx


def _locked(rx: MedicationRequest) -> MedicationRequest:
    return MedicationRequest.objects.select_for_update().select_related("patient").get(pk=rx.pk)


def _live_check(rx: MedicationRequest) -> None:
    if rx.deleted_at is not None:
        raise Conflict("This prescription was entered in error.")


def prescription_update_draft(*, prescription: MedicationRequest, changes: dict, by, request=None):
    """Change some `EDITABLE` fields of a draft (`changes`: {field: value}).

    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor with the patient in their care;
    `ValidationError` (400) per field; `Conflict` (409) when the prescription is no longer a draft
    (signed prescriptions are immutable).
    """
    clinical_write_check(by, prescription.patient, roles=DOCTOR_ONLY)
    if not isinstance(changes, dict):
        raise ValidationError({"detail": "Send the fields to change."})
    with transaction.atomic():
        rx = _locked(prescription)
        _live_check(rx)
        if rx.status != DRAFT:
            raise Conflict("A signed prescription cannot be changed: stop it and write a new one.")
        values = _clean(changes, rx.patient)
        _apply(rx, values)
        rx.full_clean()
        rx.save()
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=rx.patient,
            obj=rx,
            detail={"changed": sorted(values)},
        )
    return rx


# ---------------------------------------------------------------- signing


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return "-".join(raw[i : i + 4] for i in range(0, 12, 4))


def _complete_check(rx: MedicationRequest) -> None:
    errors = {}
    if rx.dose_value is None:
        errors["dose_value"] = "Give the dose before signing."
    if not rx.dose_unit:
        errors["dose_unit"] = "Give the dose unit before signing."
    if not rx.frequency_code:
        errors["frequency_code"] = "Give the frequency before signing."
    if rx.duration_days is None and rx.quantity is None:
        errors["quantity"] = "Give the quantity or the duration before signing."
    if errors:
        raise ValidationError(errors)


def finding_as_dict(finding) -> dict:
    """A CDS `Finding` as stored in `cds_findings` and returned by the API."""
    return {
        "kind": finding.kind,
        "severity": finding.severity,
        "message": finding.message,
        "source": finding.source,
        "drugs": list(finding.drugs),
        "management": finding.management,
        "blocking": bool(finding.blocking),
    }


def proposed_of(rx: MedicationRequest):
    """The prescription as a `hms.cds.checker.ProposedMedication` (PRN "every N hours" codes count at
    their maximum per day)."""
    from hms.cds.checker import ProposedMedication

    return ProposedMedication(
        rxcui=rx.code,
        dose_value=rx.dose_value,
        dose_unit=rx.dose_unit,
        frequency_per_day=frequencies.max_per_day(rx.frequency_code) if rx.frequency_code else None,
    )


def prescription_check(*, prescription: MedicationRequest, exclude_ids=()) -> list[dict]:
    """The decision-support findings of `prescription` against the patient's active prescriptions (except
    itself, its prior prescription and `exclude_ids`) and allergies, as dicts (`finding_as_dict`).
    A pure read: callers audit."""
    from hms.cds.checker import cds_check

    exclude = {prescription.pk, *exclude_ids}
    if prescription.prior_prescription_id:
        exclude.add(prescription.prior_prescription_id)
    findings = cds_check(
        patient=prescription.patient,
        proposed=[proposed_of(prescription)],
        exclude_prescription_ids=tuple(sorted(pk for pk in exclude if pk)),
    )
    return [finding_as_dict(f) for f in findings]


def _brief(findings: list[dict]) -> list[dict]:
    return [{"kind": f["kind"], "severity": f["severity"]} for f in findings]


def prescription_sign(
    *, prescription: MedicationRequest, by, override_reason: str = "", request=None
) -> MedicationRequest:
    """Sign a draft: run decision support, then make it `active` with `signed_at`/`signed_by`, the
    prescriber (`requester`) = `by`, and a random 12-character verification code ("XXXX-XXXX-XXXX").

    Findings are stored in `cds_findings`. Contraindicated findings block: `Conflict` (409) with payload
    {"findings": [...]} unless `override_reason` (≤ 500 characters) is given; the override is stored
    in `cds_override_reason` and audited with the findings. Other findings only warn. A blocked attempt
    changes nothing but is audited (outcome failure, with the findings). Signings of one patient are
    serialised (row lock on the patient) so that two concurrent ones each see the other.
    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor with the patient in their care;
    `ValidationError` (400) when dose, unit, frequency or quantity/duration is missing; `Conflict` (409)
    when it is not a draft.
    """
    clinical_write_check(by, prescription.patient, roles=DOCTOR_ONLY)
    override_reason = _text(override_reason, "override_reason", 500)
    blocked = None
    with transaction.atomic():
        # One signing at a time per patient, so each check sees the other's new active prescription.
        Patient.objects.select_for_update().filter(pk=prescription.patient_id).values_list("pk").first()
        rx = _locked(prescription)
        _live_check(rx)
        if rx.status != DRAFT:
            raise Conflict("This prescription is already signed.")
        _complete_check(rx)
        findings = prescription_check(prescription=rx)
        blocking = [f for f in findings if f["blocking"]]
        if blocking and not override_reason:
            # Nothing changes, but the checks read the patient's allergies and medications: audited.
            audit_record(
                actor=by,
                action=AuditAction.UPDATE,
                outcome=AuditOutcome.FAILURE,
                request=request,
                patient=rx.patient,
                obj=rx,
                detail={"signed": False, "blocked": True, "findings": _brief(findings)},
            )
            blocked = findings
        else:
            now = timezone.now()
            rx.status = ACTIVE
            rx.signed_at = now
            rx.signed_by = by
            rx.requester = getattr(by, "practitioner", None) or rx.requester
            rx.authored_on = now
            rx.verification_code = _new_code()
            rx.cds_findings = findings
            rx.cds_override_reason = override_reason if blocking else ""
            rx.save()
            audit_record(
                actor=by,
                action=AuditAction.UPDATE,
                request=request,
                patient=rx.patient,
                obj=rx,
                detail={
                    "status": ACTIVE,
                    "signed": True,
                    "findings": _brief(findings),
                    **({"override_reason": override_reason, "overridden": True} if blocking else {}),
                },
            )
    if blocked is not None:
        raise Conflict(
            "Contraindicated: signing needs an override reason.",
            payload={"findings": blocked, "blocking": True},
        )
    return rx


# ---------------------------------------------------------------- after signing


def _set_status(rx, *, status: str, by, reason: str, request, roles) -> MedicationRequest:
    clinical_write_check(by, rx.patient, roles=roles)
    with transaction.atomic():
        rx = _locked(rx)
        _live_check(rx)
        if rx.status != ACTIVE:
            raise Conflict(f"Only an active prescription can be {status}; this one is {rx.status}.")
        rx.status = status
        rx.status_reason = reason
        rx.save(update_fields=["status", "status_reason", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=rx.patient,
            obj=rx,
            detail={"status": status, **({"reason": reason} if reason else {})},
        )
    return rx


def prescription_stop(*, prescription: MedicationRequest, reason: str, by, request=None):
    """Stop an active prescription (status `stopped`, `status_reason` = `reason`).

    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor with the patient in their care;
    `ValidationError` (400) for a blank reason; `Conflict` (409) when it is not active.
    """
    clinical_write_check(by, prescription.patient, roles=DOCTOR_ONLY)
    reason = _text(reason, "reason", 500)
    if not reason:
        raise ValidationError({"reason": "Say why the prescription is stopped."})
    return _set_status(prescription, status=STOPPED, by=by, reason=reason, request=request, roles=DOCTOR_ONLY)


def prescription_complete(*, prescription: MedicationRequest, by, request=None):
    """Mark an active prescription `completed` (the course is over).

    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor or nurse with the patient in their care;
    `Conflict` (409) when it is not active.
    """
    return _set_status(
        prescription,
        status=COMPLETED,
        by=by,
        reason="",
        request=request,
        roles=frozenset({Role.DOCTOR, Role.NURSE}),
    )


def prescription_enter_in_error(*, prescription: MedicationRequest, reason: str, by, request=None):
    """Mark a prescription (any status) entered-in-error with `reason`: it leaves every list, is never
    deleted (`hms.clinical.services.record_enter_in_error`). 404 for someone not caring for the patient;
    400 for a blank reason or one already marked."""
    return record_enter_in_error(record=prescription, reason=reason, by=by, request=request)


# ---------------------------------------------------------------- renewals

RENEWABLE = (ACTIVE, COMPLETED)


def _notify(recipient, event: str, renewal: PrescriptionRenewal, key: str, **context) -> None:
    if recipient is None:
        return
    rx = renewal.prescription
    notification_send(
        recipient=recipient,
        event=event,
        context={
            "renewal": renewal,
            "medication": rx.code_display,
            "patient_name": f"{rx.patient.given_names} {rx.patient.family_name}".strip(),
            "mrn": rx.patient.mrn,
            **context,
        },
        dedupe_key=f"prescription-renewal:{renewal.pk}:{key}",
    )


def renewal_request(*, prescription: MedicationRequest, by, note: str = "", request=None):
    """The patient asks for a renewal of their own active or completed prescription. It is addressed to
    the prescriber (`requester`), who is notified (`prescription.renewal_requested`).

    Raises `NotFoundOrForbidden` (404) unless `by` is the patient of the prescription; `ValidationError`
    (400) for a note over 1000 characters; `Conflict` (409) when the prescription is not active or
    completed, or a request for it is already open.
    """
    patient = prescription.patient
    if by is None or getattr(by, "role", None) != Role.PATIENT or patient.user_id != by.pk:
        raise NotFoundOrForbidden()
    if prescription.deleted_at is not None or prescription.status == DRAFT:
        raise NotFoundOrForbidden()
    note = _text(note, "note", 1000)
    if prescription.status not in RENEWABLE:
        raise Conflict(
            f"Only an active or completed prescription can be renewed; this one is {prescription.status}."
        )
    try:
        with transaction.atomic():
            renewal = PrescriptionRenewal.objects.create(
                prescription=prescription,
                patient=patient,
                requested_by=by,
                prescriber=prescription.requester,
                note=note,
            )
            audit_record(
                actor=by,
                action=AuditAction.CREATE,
                request=request,
                patient=patient,
                obj=renewal,
                detail={"prescription": prescription.pk},
            )
            prescriber_user = getattr(prescription.requester, "user", None)
            _notify(prescriber_user, "prescription.renewal_requested", renewal, "requested", note=note)
    except IntegrityError:
        raise Conflict("A renewal of this prescription is already waiting for the doctor.") from None
    return renewal


def _decide_check(renewal: PrescriptionRenewal, by) -> None:
    clinical_write_check(by, renewal.patient, roles=DOCTOR_ONLY)


def renewal_approve(*, renewal: PrescriptionRenewal, by, override_reason: str = "", request=None):
    """Approve a renewal request: a new prescription copying the old one's medication and sig
    (`prior_prescription` = the old one) is drafted and signed by `by` (decision support runs; a
    contraindicated finding needs `override_reason`), the old one, if still active, becomes `completed`
    ("renewed as #N"), the request is `approved` with `renewed_as`; the patient is notified
    (`prescription.renewal_approved`). All in one transaction.

    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor caring for the patient; `Conflict` (409)
    when the request is already decided, or signing is blocked (payload `findings`); `ValidationError`
    (400) when the old prescription cannot be re-issued as it is (e.g. a medication no longer in the
    catalogue).
    """
    _decide_check(renewal, by)
    with transaction.atomic():
        renewal = PrescriptionRenewal.objects.select_for_update().get(pk=renewal.pk)
        if renewal.status != RenewalStatus.REQUESTED:
            raise Conflict(f"This request is already {renewal.status}.")
        old = renewal.prescription
        fields = {
            name: getattr(old, name)
            for name in (
                "strength",
                "dose_value",
                "dose_unit",
                "route",
                "frequency_code",
                "duration_days",
                "quantity",
                "quantity_unit",
                "refills",
                "instructions",
            )
        }
        if old.indication_id and old.indication.deleted_at is None:
            fields["indication"] = old.indication
        fields = {k: v for k, v in fields.items() if v not in (None, "")}
        if fields.get("frequency_code") and frequencies.frequency_get(fields["frequency_code"]) is None:
            fields.pop("frequency_code")
        new = prescription_create_draft(
            patient=renewal.patient, medication=old.code, by=by, request=request, **fields
        )
        new.prior_prescription = old
        new.save(update_fields=["prior_prescription", "updated_at"])
        new = prescription_sign(prescription=new, by=by, override_reason=override_reason, request=request)
        old = MedicationRequest.objects.select_for_update().get(pk=old.pk)
        if old.status == ACTIVE:
            old.status = COMPLETED
            old.status_reason = f"Renewed as #{new.pk}"
            old.save(update_fields=["status", "status_reason", "updated_at"])
        renewal.status = RenewalStatus.APPROVED
        renewal.decided_at = timezone.now()
        renewal.decided_by = by
        renewal.renewed_as = new
        renewal.save()
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=renewal.patient,
            obj=renewal,
            detail={"status": RenewalStatus.APPROVED, "renewed_as": new.pk, "prescription": old.pk},
        )
        _notify(renewal.patient.user, "prescription.renewal_approved", renewal, "decided", new=new)
    return renewal


def renewal_deny(*, renewal: PrescriptionRenewal, reason: str, by, request=None):
    """Deny a renewal request with `reason` (told to the patient: `prescription.renewal_denied`).

    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor caring for the patient; `ValidationError`
    (400) for a blank reason; `Conflict` (409) when the request is already decided.
    """
    _decide_check(renewal, by)
    reason = _text(reason, "reason", 500)
    if not reason:
        raise ValidationError({"reason": "Tell the patient why the renewal is denied."})
    with transaction.atomic():
        renewal = PrescriptionRenewal.objects.select_for_update().get(pk=renewal.pk)
        if renewal.status != RenewalStatus.REQUESTED:
            raise Conflict(f"This request is already {renewal.status}.")
        renewal.status = RenewalStatus.DENIED
        renewal.decided_at = timezone.now()
        renewal.decided_by = by
        renewal.decision_reason = reason
        renewal.save()
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=renewal.patient,
            obj=renewal,
            detail={"status": RenewalStatus.DENIED, "reason": reason},
        )
        _notify(renewal.patient.user, "prescription.renewal_denied", renewal, "decided", reason=reason)
    return renewal
