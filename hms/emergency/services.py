"""Writes of the emergency department: arrival, ESI triage, doctor seen, departure; patient emergency
requests (acknowledge, dispatch, close); the time-target alert job.

House contract (`hms.clinical.services`): `<entity>_<action>(*, ..., by, request=None)`; validation first
(`ValidationError` keyed by field → 400), access refused as `NotFoundOrForbidden` (404), a state clash as
`Conflict` (409); the rows and their AuditEvent in one transaction; the board is told after commit
(`hms.emergency.live.ed_publish`); nothing is deleted.

**Who is ED staff** (`is_ed_staff`): every active doctor and nurse. They see the whole tracking board and
every open emergency request (the ED is a shared space: whoever is on shift must see who waits).
Taking part in a visit puts the patient in that clinician's care the usual way (the EMER `Encounter`):
the arriving clinician is its practitioner, the triage nurse and the doctor who sees the patient are
added as participants, so their charting goes through the ordinary write check
(`hms.clinical.services.clinical_write_check`). Receptionists may register arrivals (and see nothing
clinical).

**Emergency Severity Index** v4 (Gilboy N, Tanabe P, Travers D, Rosenau AM. *Emergency Severity Index
(ESI): A Triage Tool for Emergency Department Care, Version 4. Implementation Handbook 2012 Edition / 2020
Edition.* AHRQ Publication No. 12-0014; Emergency Nurses Association). The decision points, in order:

- A. Does the patient require an immediate life-saving intervention? yes → ESI 1.
- B. Is this a high-risk situation, or is the patient confused / lethargic / disoriented, or in severe
  pain or distress? yes → ESI 2.
- C. How many different resources will the patient need (labs, ECG, imaging, IV fluids, IV/IM
  medication, specialty consultation, simple or complex procedure; NOT history and examination, point of
  care tests, oral medication, prescription refills, simple wound care)? none → ESI 5; one → ESI 4;
  two or more → ESI 3.
- D. For a patient needing ≥ 2 resources: danger-zone vital signs (adults: heart rate > 100 /min,
  respiratory rate > 20 /min, SpO2 < 92 %; children use age bands) → consider ESI 2.

`esi_suggest` applies them; the nurse's level is final (the handbook: triage is a clinical judgement).

**Time targets** (`ED_ESI_TARGET_MINUTES`, setting; default `{1: 0, 2: 10, 3: 30, 4: 60, 5: 120}`
minutes from arrival to being seen by a doctor, the usual ESI-based targets, cf. the Canadian Triage and
Acuity Scale time-to-physician objectives): a triaged visit still waiting past its target raises one alert
(`ed_target_alerts_send`, beat job through `hms.messaging.reminders`; `target_alerted_at` makes it once).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.models import Encounter, EncounterClass, EncounterStatus
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.models import Patient

from .live import ed_publish
from .models import EdStatus, EdVisit, EmergencyRequest, RequestStatus

ED_STAFF_ROLES = frozenset({Role.DOCTOR, Role.NURSE})
ARRIVAL_ROLES = frozenset({Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST})
DEFAULT_TARGET_MINUTES = {1: 0, 2: 10, 3: 30, 4: 60, 5: 120}
ESI_LEVELS = (1, 2, 3, 4, 5)
ESI_LABELS = {
    1: "Resuscitation",
    2: "Emergent",
    3: "Urgent",
    4: "Less urgent",
    5: "Non-urgent",
}
# ESI v4 decision point D, adult danger-zone vitals (handbook chapter 5).
DANGER_HR = 100
DANGER_RR = 20
DANGER_SPO2 = 92
DEPARTURES = (EdStatus.DISCHARGED, EdStatus.LEFT, EdStatus.ADMITTED)


def is_ed_staff(user) -> bool:
    """Active doctors and nurses (see the module docstring)."""
    return bool(user is not None and user.is_authenticated and user.is_active and user.role in ED_STAFF_ROLES)


def _require_staff(by, roles=ED_STAFF_ROLES) -> None:
    if by is None or not by.is_authenticated or not by.is_active or by.role not in roles:
        raise NotFoundOrForbidden()


def target_minutes() -> dict[int, int]:
    """{ESI level: minutes from arrival to doctor} from `settings.ED_ESI_TARGET_MINUTES` (keys may be
    strings, e.g. from the environment as JSON), missing levels from the default."""
    raw = getattr(settings, "ED_ESI_TARGET_MINUTES", None) or {}
    out = dict(DEFAULT_TARGET_MINUTES)
    for key, value in dict(raw).items():
        out[int(key)] = int(value)
    return out


def target_due_at(visit: EdVisit) -> dt.datetime | None:
    """When `visit` exceeds its target (arrival + target of its level); None while untriaged."""
    if visit.esi_level is None:
        return None
    return visit.arrived_at + dt.timedelta(minutes=target_minutes()[visit.esi_level])


# ---------------------------------------------------------------- ESI guidance


def esi_suggest(
    *,
    life_saving: bool,
    high_risk: bool = False,
    resources: int = 0,
    heart_rate: int | None = None,
    respiratory_rate: int | None = None,
    spo2: int | None = None,
) -> int:
    """The ESI v4 level the decision points A-D give (see the module docstring).

    - `life_saving`: decision point A; `high_risk`: B (high-risk, confused/lethargic/disoriented, or
      severe pain/distress); `resources`: C, the number of different resources expected (int ≥ 0);
    - `heart_rate` (/min), `respiratory_rate` (/min), `spo2` (%): D, only looked at when ≥ 2 resources.
    Returns 1-5. Raises `ValidationError` {"resources": ...} for a negative count.
    """
    if resources is None or int(resources) < 0:
        raise ValidationError({"resources": "The number of resources cannot be negative."})
    if life_saving:
        return 1
    if high_risk:
        return 2
    resources = int(resources)
    if resources == 0:
        return 5
    if resources == 1:
        return 4
    danger = (
        (heart_rate is not None and heart_rate > DANGER_HR)
        or (respiratory_rate is not None and respiratory_rate > DANGER_RR)
        or (spo2 is not None and spo2 < DANGER_SPO2)
    )
    return 2 if danger else 3


def _esi_clean(value) -> int:
    if isinstance(value, bool):
        raise ValidationError({"esi_level": "The ESI level must be a whole number from 1 to 5."})
    try:
        level = int(str(value))
    except (TypeError, ValueError):
        raise ValidationError({"esi_level": "The ESI level must be a whole number from 1 to 5."}) from None
    if level not in ESI_LEVELS:
        raise ValidationError({"esi_level": "The ESI level must be a whole number from 1 to 5."})
    return level


# ---------------------------------------------------------------- the visit


def ed_visit_create(
    *,
    by,
    patient=None,
    unknown: dict | None = None,
    chief_complaint: str = "",
    arrived_at: dt.datetime | None = None,
    request=None,
) -> EdVisit:
    """Register an arrival at the ED: an `EdVisit` (status waiting) and its EMER `Encounter` (in progress).

    - `patient`: an existing Patient the caller has already looked up through a scoped selector; or
    - `unknown`: for an unidentified patient, the keyword arguments of
      `hms.inpatient.services.patient_register_unknown` ({"gender": FHIR administrative-gender,
      "approx_age": 0-120 years, "note": optional identifying features}), which registers the temporary
      identity ("Unknown, Male ~40").
    - `chief_complaint`: ≤ 300 characters, may be completed at triage; `arrived_at`: default now, not in the
      future.
    - `by`: a doctor, nurse or receptionist (else 404). A clinician becomes the encounter's practitioner.
    Raises `ValidationError` (400) when neither or both of patient/unknown are given, for a complaint
    too long, a future arrival; `Conflict` (409) when the patient already has a visit in progress.
    """
    _require_staff(by, ARRIVAL_ROLES)
    if (patient is None) == (unknown is None):
        raise ValidationError({"patient": "Give either an existing patient or an unknown patient's details."})
    chief_complaint = (chief_complaint or "").strip()
    if len(chief_complaint) > 300:
        raise ValidationError({"chief_complaint": "At most 300 characters."})
    now = timezone.now()
    arrived_at = arrived_at or now
    if arrived_at > now + dt.timedelta(minutes=5):
        raise ValidationError({"arrived_at": "The arrival time cannot be in the future."})
    with transaction.atomic():
        if unknown is not None:
            from hms.inpatient.services import patient_register_unknown

            patient = patient_register_unknown(**unknown, by=by, request=request)
        if patient.deleted_at is not None:
            raise NotFoundOrForbidden()
        # the patient's row lock serialises concurrent arrivals of the same patient
        Patient.objects.select_for_update().filter(pk=patient.pk).first()
        if EdVisit.objects.filter(patient=patient, departed_at__isnull=True).exists():
            raise Conflict("This patient already has an emergency visit in progress.")
        practitioner = getattr(by, "practitioner", None) if by.role in ED_STAFF_ROLES else None
        encounter = Encounter.objects.create(
            patient=patient,
            status=EncounterStatus.ARRIVED,
            encounter_class=EncounterClass.EMERGENCY,
            period_start=arrived_at,
            practitioner=practitioner,
            reason_display=chief_complaint,
            created_by=by,
        )
        visit = EdVisit(
            patient=patient, encounter=encounter, arrived_at=arrived_at, chief_complaint=chief_complaint
        )
        visit.full_clean(exclude=["chief_complaint"])  # may be blank until triage (checked above)
        visit.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=visit,
            detail={"encounter": encounter.pk, "unknown": unknown is not None},
        )
        ed_publish()
    return visit


def _join_care(visit: EdVisit, practitioner) -> None:
    """Add `practitioner` to the visit's encounter team (puts the patient in their care)."""
    if practitioner is None or visit.encounter_id is None:
        return
    encounter = visit.encounter
    if encounter.practitioner_id is None:
        encounter.practitioner = practitioner
        encounter.save(update_fields=["practitioner", "updated_at"])
    elif encounter.practitioner_id != practitioner.pk:
        encounter.participants.add(practitioner)


def _lock_visit(visit: EdVisit) -> EdVisit:
    locked = (
        EdVisit.objects.select_for_update(of=("self",))
        .select_related("encounter", "patient")
        .get(pk=visit.pk)
    )
    if locked.departed_at is not None:
        raise Conflict("This patient has already left the emergency department.")
    return locked


def ed_triage(
    *, visit: EdVisit, chief_complaint: str, esi_level, vitals: dict, note: str = "", by, request=None
) -> EdVisit:
    """Triage (nurses; a visit may be re-triaged while waiting or in treatment): chief complaint, ESI level,
    vital signs recorded through `hms.clinical.vitals.vitals_record` (same keys, units and ranges; at
    least one value) in the same transaction, attached to the visit and its encounter.

    Raises `ValidationError` (400): {"chief_complaint"} blank or > 300 chars, {"esi_level"} not 1-5,
    {"<vital key>"} out of range, {"note"} > 2000 chars; `NotFoundOrForbidden` (404) for a non-nurse;
    `Conflict` (409) after departure.
    """
    _require_staff(by, {Role.NURSE})
    from hms.clinical.vitals import vitals_record

    errors = {}
    chief_complaint = (chief_complaint or "").strip()
    if not chief_complaint:
        errors["chief_complaint"] = "Say why the patient came."
    elif len(chief_complaint) > 300:
        errors["chief_complaint"] = "At most 300 characters."
    note = (note or "").strip()
    if len(note) > 2000:
        errors["note"] = "At most 2000 characters."
    try:
        level = _esi_clean(esi_level)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if not isinstance(vitals, dict) or not vitals:
        errors["vitals"] = "Record at least one vital sign."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        visit = _lock_visit(visit)
        _join_care(visit, getattr(by, "practitioner", None))
        rows = vitals_record(
            patient=visit.patient, values=vitals, by=by, encounter=visit.encounter, request=request
        )
        visit.chief_complaint = chief_complaint
        visit.esi_level = level
        visit.triage_note = note
        visit.triaged_at = timezone.now()
        visit.triaged_by = by
        visit.full_clean()
        visit.save()
        visit.vitals.add(*rows)
        if visit.encounter_id:
            visit.encounter.reason_display = chief_complaint
            if visit.encounter.status == EncounterStatus.ARRIVED:
                visit.encounter.status = EncounterStatus.TRIAGED
            visit.encounter.save(update_fields=["reason_display", "status", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=visit.patient,
            obj=visit,
            detail={"triage": True, "esi_level": level, "observations": [r.pk for r in rows]},
        )
        ed_publish()
    return visit


def ed_seen(*, visit: EdVisit, by, request=None) -> EdVisit:
    """A doctor sees the patient: `doctor_seen_at` (door-to-doctor = this minus `arrived_at`), `seen_by`,
    status in-treatment; the doctor joins the encounter's team. Doctors only (else 404); 409 when already
    seen or departed."""
    _require_staff(by, {Role.DOCTOR})
    practitioner = getattr(by, "practitioner", None)
    if practitioner is None:
        raise NotFoundOrForbidden()
    with transaction.atomic():
        visit = _lock_visit(visit)
        if visit.doctor_seen_at is not None:
            raise Conflict("A doctor has already seen this patient.")
        _join_care(visit, practitioner)
        visit.doctor_seen_at = timezone.now()
        visit.seen_by = practitioner
        visit.status = EdStatus.IN_TREATMENT
        visit.save(update_fields=["doctor_seen_at", "seen_by", "status", "updated_at"])
        if visit.encounter_id:
            visit.encounter.status = EncounterStatus.IN_PROGRESS
            visit.encounter.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=visit.patient,
            obj=visit,
            detail={"seen": True, "door_to_doctor_seconds": door_to_doctor_seconds(visit)},
        )
        ed_publish()
    return visit


def door_to_doctor_seconds(visit: EdVisit) -> int | None:
    """Seconds from arrival to the first doctor; None while not seen."""
    if visit.doctor_seen_at is None:
        return None
    return int((visit.doctor_seen_at - visit.arrived_at).total_seconds())


def ed_depart(
    *,
    visit: EdVisit,
    disposition: str,
    by,
    bed=None,
    reason: str = "",
    request=None,
):
    """The patient leaves the ED: `disposition` "discharged" | "left" (left without being seen / against
    advice) | "admitted". Ends the EMER encounter.

    "admitted" (doctors only): admits through `hms.inpatient.services.admission_create(source="emergency")`
    into `bed` (a bed `Location`, required) with `reason` (required; default the chief complaint), the
    admitting doctor being `by`; the admission's own checks (bed free, one per patient) apply and their
    errors pass through (400/409). Returns (visit, admission or None).

    Doctors and nurses (404 otherwise); 400 for an unknown disposition or a missing bed; 409 if already
    departed.
    """
    _require_staff(by)
    if disposition not in {str(d) for d in DEPARTURES}:
        raise ValidationError({"disposition": "Choose discharged, left or admitted."})
    admission = None
    with transaction.atomic():
        visit = _lock_visit(visit)
        if disposition == EdStatus.ADMITTED:
            if by.role != Role.DOCTOR:
                raise NotFoundOrForbidden()
            if bed is None:
                raise ValidationError({"bed": "Choose the bed to admit the patient to."})
            from hms.inpatient.services import admission_create

            _join_care(visit, by.practitioner)
            admission = admission_create(
                patient=visit.patient,
                admitting_practitioner=by.practitioner,
                source="emergency",
                reason=(reason or "").strip() or visit.chief_complaint or "Admitted from the ED",
                bed=bed,
                by=by,
                source_encounter=visit.encounter,
                request=request,
            )
        now = timezone.now()
        visit.status = disposition
        visit.departed_at = now
        visit.save(update_fields=["status", "departed_at", "updated_at"])
        if visit.encounter_id:
            visit.encounter.status = EncounterStatus.FINISHED
            visit.encounter.period_end = max(now, visit.encounter.period_start)
            visit.encounter.discharge_disposition = disposition
            visit.encounter.save(
                update_fields=["status", "period_end", "discharge_disposition", "updated_at"]
            )
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=visit.patient,
            obj=visit,
            detail={"departed": disposition, "admission": admission.pk if admission else None},
        )
        ed_publish()
    return visit, admission


# ---------------------------------------------------------------- time-target alerts


def ed_alert_recipients():
    """Who is alerted when a target is exceeded: active doctors and nurses assigned to an emergency
    ward (`NurseWardAssignment` to a Location of ward type "emergency"); among them only those on duty
    (`OnDuty`) when any is; when nobody is assigned to the ED, every on-duty doctor and nurse."""
    from hms.accounts.models import User

    staff = User.objects.filter(is_active=True, groups__name__in=[str(r) for r in ED_STAFF_ROLES]).distinct()
    assigned = staff.filter(
        practitioner__ward_assignments__ward__ward_type="emergency",
        practitioner__ward_assignments__ward__active=True,
    ).distinct()
    if assigned.exists():
        on_duty = assigned.filter(on_duty__isnull=False)
        return list(on_duty if on_duty.exists() else assigned)
    return list(staff.filter(on_duty__isnull=False))


def ed_target_alerts_send(*, now: dt.datetime | None = None, offsets=None) -> int:
    """Beat job (a `hms.messaging.reminders` provider): for every triaged visit still waiting for a doctor
    past its target (`target_due_at`), mark `target_alerted_at` and notify `ed_alert_recipients()` (event
    `ed.target_exceeded`, dedupe key `edvisit:<id>:target:<user id>`). Once per visit. Returns the number
    of visits alerted."""
    now = now or timezone.now()
    targets = target_minutes()
    count = 0
    candidates = EdVisit.objects.filter(
        esi_level__isnull=False,
        doctor_seen_at__isnull=True,
        departed_at__isnull=True,
        target_alerted_at__isnull=True,
    ).select_related("patient")
    recipients = None
    for visit in candidates:
        if visit.arrived_at + dt.timedelta(minutes=targets[visit.esi_level]) > now:
            continue
        with transaction.atomic():
            claimed = EdVisit.objects.filter(pk=visit.pk, target_alerted_at__isnull=True).update(
                target_alerted_at=now
            )
            if not claimed:
                continue
            if recipients is None:
                recipients = ed_alert_recipients()
            waited = int((now - visit.arrived_at).total_seconds() // 60)
            context = {
                "visit_id": visit.pk,
                "esi_level": visit.esi_level,
                "target_minutes": targets[visit.esi_level],
                "waited_minutes": waited,
            }
            for user in recipients:
                from hms.messaging.services import notification_send

                notification_send(
                    recipient=user,
                    event="ed.target_exceeded",
                    context=context,
                    dedupe_key=f"edvisit:{visit.pk}:target:{user.pk}",
                )
            audit_record(
                actor=None,
                action=AuditAction.UPDATE,
                patient=visit.patient,
                obj=visit,
                channel="system",
                detail={"target_alert": True, "recipients": [u.pk for u in recipients]},
            )
            ed_publish()
        count += 1
    return count


# ---------------------------------------------------------------- patient emergency requests


def _coordinate(value, field: str, limit: int) -> Decimal | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise ValidationError({field: f"Not a valid {field}."})
    try:
        number = Decimal(str(value)).quantize(Decimal("0.000001"))
    except (InvalidOperation, ValueError):
        raise ValidationError({field: f"Not a valid {field}."}) from None
    if not number.is_finite() or not -limit <= number <= limit:
        raise ValidationError({field: f"The {field} must be between -{limit} and {limit} degrees."})
    return number


def emergency_request_create(
    *, by, description: str, location_text: str = "", latitude=None, longitude=None, request=None
) -> EmergencyRequest:
    """A patient asks for emergency help for themself (portal button or `POST /api/emergency-requests/`).

    - `description`: 1-500 characters; `location_text`: ≤ 300; `latitude`/`longitude`: WGS84 degrees
      (-90..90, -180..180, 6 decimals), both or neither. A location (text or coordinates) is required.
    - `by`: a user with the patient role and a linked patient record (else 404).
    The request reaches the ED board at once (push after commit). Raises `ValidationError` (400) keyed by
    field.
    """
    patient = getattr(by, "patient", None) if by is not None and by.is_authenticated else None
    if patient is None or by.role != Role.PATIENT or not by.is_active or patient.deleted_at is not None:
        raise NotFoundOrForbidden()
    errors = {}
    description = (description or "").strip()
    location_text = (location_text or "").strip()
    if not description:
        errors["description"] = "Say briefly what is happening."
    elif len(description) > 500:
        errors["description"] = "At most 500 characters."
    if len(location_text) > 300:
        errors["location_text"] = "At most 300 characters."
    lat = lon = None
    try:
        lat = _coordinate(latitude, "latitude", 90)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        lon = _coordinate(longitude, "longitude", 180)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if "latitude" not in errors and "longitude" not in errors and (lat is None) != (lon is None):
        errors["longitude" if lon is None else "latitude"] = "Give both latitude and longitude, or neither."
    if not errors and not location_text and lat is None:
        errors["location_text"] = "Say where you are (or share your position)."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        row = EmergencyRequest(
            patient=patient,
            created_by=by,
            description=description,
            location_text=location_text,
            latitude=lat,
            longitude=lon,
        )
        row.full_clean()
        row.save()
        audit_record(actor=by, action=AuditAction.CREATE, request=request, patient=patient, obj=row)
        ed_publish()
    return row


def _notify_patient(row: EmergencyRequest, step: str) -> None:
    from hms.messaging.services import notification_send

    user = row.patient.user
    if user is None:
        return
    notification_send(
        recipient=user,
        event=f"emergency_request.{step}",
        context={"request_id": row.pk, "dispatch_note": row.dispatch_note, "outcome": row.outcome},
        dedupe_key=f"emergency_request:{row.pk}:{step}",
    )


def _lock_request(row: EmergencyRequest) -> EmergencyRequest:
    return (
        EmergencyRequest.objects.select_for_update(of=("self",))
        .select_related("patient__user")
        .get(pk=row.pk)
    )


def emergency_request_acknowledge(
    *, emergency_request: EmergencyRequest, by, request=None
) -> EmergencyRequest:
    """ED staff (doctors, nurses; else 404) acknowledge an open request: `acknowledged_at/by`, status
    acknowledged; the patient is notified (`emergency_request.acknowledged`). 409 unless open."""
    _require_staff(by)
    with transaction.atomic():
        row = _lock_request(emergency_request)
        if row.status != RequestStatus.OPEN:
            raise Conflict("Only an open request can be acknowledged.")
        row.status = RequestStatus.ACKNOWLEDGED
        row.acknowledged_at = timezone.now()
        row.acknowledged_by = by
        row.save(update_fields=["status", "acknowledged_at", "acknowledged_by", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=row.patient,
            obj=row,
            detail={"step": "acknowledged"},
        )
        _notify_patient(row, "acknowledged")
        ed_publish()
    return row


def emergency_request_dispatch(
    *, emergency_request: EmergencyRequest, note: str, by, request=None
) -> EmergencyRequest:
    """ED staff dispatch help for an acknowledged request: `note` (1-500 chars: who/what was sent; 400
    when blank), `dispatched_at/by`; the patient is notified. 409 unless acknowledged."""
    _require_staff(by)
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": "Say what help was sent."})
    if len(note) > 500:
        raise ValidationError({"note": "At most 500 characters."})
    with transaction.atomic():
        row = _lock_request(emergency_request)
        if row.status != RequestStatus.ACKNOWLEDGED:
            raise Conflict("Acknowledge the request before dispatching help.")
        row.status = RequestStatus.DISPATCHED
        row.dispatched_at = timezone.now()
        row.dispatched_by = by
        row.dispatch_note = note
        row.save(update_fields=["status", "dispatched_at", "dispatched_by", "dispatch_note", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=row.patient,
            obj=row,
            detail={"step": "dispatched"},
        )
        _notify_patient(row, "dispatched")
        ed_publish()
    return row


def emergency_request_close(
    *, emergency_request: EmergencyRequest, outcome: str, by, request=None
) -> EmergencyRequest:
    """ED staff close a request (from any step, e.g. a false alarm before dispatch): `outcome` (1-500
    chars; 400 when blank), `closed_at/by`; the patient is notified. 409 when already closed."""
    _require_staff(by)
    outcome = (outcome or "").strip()
    if not outcome:
        raise ValidationError({"outcome": "Say how the request ended."})
    if len(outcome) > 500:
        raise ValidationError({"outcome": "At most 500 characters."})
    with transaction.atomic():
        row = _lock_request(emergency_request)
        if row.status == RequestStatus.CLOSED:
            raise Conflict("This request is already closed.")
        row.status = RequestStatus.CLOSED
        row.closed_at = timezone.now()
        row.closed_by = by
        row.outcome = outcome
        row.save(update_fields=["status", "closed_at", "closed_by", "outcome", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=row.patient,
            obj=row,
            detail={"step": "closed"},
        )
        _notify_patient(row, "closed")
        ed_publish()
    return row
