"""Encounter lifecycle: start from an appointment, start a walk-in, close with a discharge disposition.

Maps to FHIR R4 `Encounter` (status `in-progress` → `finished`; `class` from v3 ActCode: AMB, EMER, IMP,
VR; `hospitalization.dischargeDisposition` from `DISCHARGE_DISPOSITIONS`).

Who: doctors start and close encounters (`Role.DOCTOR`); nurses work inside an open encounter (nursing
notes, vitals) but may not start or close one. Anyone else gets `NotFoundOrForbidden` (404), the same
answer as a missing patient or encounter.

Errors: `ValidationError` (400, field errors) for bad input (unknown class or disposition, an appointment
that is not due to start); `Conflict` (409) for a state clash (closing a closed encounter);
`PermissionDenied` (403) for a doctor starting a colleague's appointment. Every write is one transaction
with its AuditEvent; the appointment moves in the same transaction through `hms.scheduling.services`.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.billing import charges
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.models import Patient
from hms.scheduling import services as appointment_services
from hms.scheduling.models import Appointment, AppointmentStatus

from .models import Encounter, EncounterClass, EncounterStatus
from .services import clinical_write_check

DOCTOR_ONLY = frozenset({Role.DOCTOR})

# FHIR R4 discharge disposition codes, system http://terminology.hl7.org/CodeSystem/discharge-disposition
# (value set http://hl7.org/fhir/ValueSet/encounter-discharge-disposition, HL7 FHIR R4, CC0).
DISCHARGE_DISPOSITION_SYSTEM = "http://terminology.hl7.org/CodeSystem/discharge-disposition"
DISCHARGE_DISPOSITIONS: dict[str, str] = {
    "home": "Home",
    "alt-home": "Alternative home",
    "other-hcf": "Other healthcare facility",
    "hosp": "Hospice",
    "long": "Long-term care",
    "aadvice": "Left against advice",
    "exp": "Expired",
    "psy": "Psychiatric hospital",
    "rehab": "Rehabilitation",
    "snf": "Skilled nursing facility",
    "oth": "Other",
}

# Words in a service type's code or display that make its visit virtual (FHIR class VR).
_VIRTUAL_WORDS = ("virtual", "video", "tele", "online", "remote")
# Encounter statuses in which the visit is still open.
OPEN_STATUSES = frozenset({EncounterStatus.IN_PROGRESS, EncounterStatus.ARRIVED, EncounterStatus.TRIAGED})


def encounter_class_for(appointment: Appointment) -> str:
    """`VR` when the appointment's service type is a virtual one (its code or display mentions virtual,
    video, tele, online or remote), else `AMB` (an outpatient visit)."""
    service = appointment.service_type
    text = f"{service.code} {service.display}".casefold()
    return EncounterClass.VIRTUAL if any(w in text for w in _VIRTUAL_WORDS) else EncounterClass.AMBULATORY


def _practitioner_of(by):
    practitioner = getattr(by, "practitioner", None)
    if practitioner is None:
        raise NotFoundOrForbidden()
    return practitioner


def encounter_start_from_appointment(*, appointment: Appointment, by, request=None) -> tuple[Encounter, bool]:
    """Open the visit of `appointment`: returns `(encounter, created)`.

    - Creates an `Encounter` (status in-progress, `period_start` now, class from `encounter_class_for`,
      reason = the appointment's reason, linked by `Encounter.appointment`) and moves the appointment to
      in-progress in the same transaction: a booked appointment is checked in first (only on its own day,
      else 400 `status`), an arrived one is started, one already in progress keeps its status.
    - A second start returns the existing encounter with `created=False` (idempotent; the API answers 200).
    - 404 unless `by` is a doctor with the patient in their care; 403 when the appointment is another
      practitioner's; 400 (`status`) for a cancelled, no-show or fulfilled appointment without encounter.
    """
    clinical_write_check(by, appointment.patient, roles=DOCTOR_ONLY)
    practitioner = _practitioner_of(by)
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().select_related("service_type").get(pk=appointment.pk)
        existing = Encounter.objects.filter(appointment=locked).first()
        if existing is not None:
            if existing.deleted_at is not None:
                raise Conflict(
                    "This appointment's encounter was entered in error.", payload={"encounter": None}
                )
            return existing, False
        if locked.practitioner_id != practitioner.pk:
            raise PermissionDenied("Only the appointment's own doctor opens the visit.")
        if locked.status == AppointmentStatus.BOOKED:
            locked = appointment_services.appointment_check_in(appointment=locked, by=by, request=request)
        if locked.status == AppointmentStatus.ARRIVED:
            locked = appointment_services.appointment_start(appointment=locked, by=by, request=request)
        if locked.status != AppointmentStatus.IN_PROGRESS:
            raise ValidationError(
                {"status": f"No visit can be opened for a {locked.get_status_display().lower()} appointment."}
            )
        encounter = Encounter(
            patient=locked.patient,
            status=EncounterStatus.IN_PROGRESS,
            encounter_class=encounter_class_for(locked),
            period_start=timezone.now(),
            practitioner=practitioner,
            appointment=locked,
            reason_display=(locked.reason or "")[:500],
            created_by=by,
        )
        encounter.full_clean()
        encounter.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=encounter.patient,
            obj=encounter,
            detail={"appointment": locked.pk, "class": encounter.encounter_class},
        )
    return encounter, True


def encounter_start_walk_in(
    *, patient: Patient, encounter_class: str, reason: str = "", by, request=None
) -> Encounter:
    """Open a visit without an appointment: outpatient `AMB`, emergency `EMER`, inpatient `IMP` or
    virtual `VR` (400 `encounter_class` otherwise). `reason`: free text, up to 500 characters.

    A doctor may open a walk-in for any registered, live patient (the patient is in front of them, e.g. in
    the emergency department): the new encounter puts the patient in the doctor's care. For a patient not
    yet in their care this is a break-glass act: `reason` is required (400 `reason`) and the AuditEvent
    flags it (`detail.care_started`). 404 for a missing or soft-deleted patient or a user who is not a
    doctor.
    """
    from hms.patients.selectors import can_read_clinical

    if by is None or not by.is_authenticated or by.role != Role.DOCTOR:
        raise NotFoundOrForbidden()
    practitioner = _practitioner_of(by)
    if patient is None or patient.deleted_at is not None:
        raise NotFoundOrForbidden()
    if encounter_class not in EncounterClass.values:
        raise ValidationError(
            {
                "encounter_class": f"Choose one of {', '.join(EncounterClass.values)} "
                "(outpatient, emergency, inpatient, virtual)."
            }
        )
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise ValidationError({"reason": "At most 500 characters."})
    care_started = not can_read_clinical(by, patient)
    if care_started and not reason:
        raise ValidationError(
            {"reason": "This patient is not yet in your care: say why you open the visit (it is recorded)."}
        )
    with transaction.atomic():
        encounter = Encounter(
            patient=patient,
            status=EncounterStatus.IN_PROGRESS,
            encounter_class=encounter_class,
            period_start=timezone.now(),
            practitioner=practitioner,
            reason_display=reason,
            created_by=by,
        )
        encounter.full_clean()
        encounter.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=encounter,
            detail={"walk_in": True, "class": encounter_class, "care_started": care_started},
        )
    return encounter


def encounter_close(*, encounter: Encounter, disposition: str, by, request=None) -> Encounter:
    """Finish an open visit: status `finished`, `period_end` now, `discharge_disposition` one code of
    `DISCHARGE_DISPOSITIONS` (400 `disposition` otherwise). The linked appointment, when in progress, is
    completed (`appointment_complete`) in the same transaction.

    404 unless `by` is a doctor with the patient in their care (nurses may not close); 409 when the
    encounter is already finished, cancelled or entered in error.
    """
    clinical_write_check(by, encounter.patient, roles=DOCTOR_ONLY)
    disposition = (disposition or "").strip()
    if disposition not in DISCHARGE_DISPOSITIONS:
        raise ValidationError(
            {"disposition": f"Choose a discharge disposition: {', '.join(DISCHARGE_DISPOSITIONS)}."}
        )
    with transaction.atomic():
        locked = Encounter.objects.select_for_update().get(pk=encounter.pk)
        if locked.deleted_at is not None or locked.status not in OPEN_STATUSES:
            raise Conflict(
                f"This encounter is {locked.get_status_display().lower()}; only an open visit can be closed.",
                payload={"status": locked.status},
            )
        from_status = locked.status
        locked.status = EncounterStatus.FINISHED
        locked.period_end = max(timezone.now(), locked.period_start)
        locked.discharge_disposition = disposition
        locked.full_clean()
        locked.save(update_fields=["status", "period_end", "discharge_disposition", "updated_at"])
        if locked.appointment_id:
            appointment = Appointment.objects.get(pk=locked.appointment_id)
            if appointment.status == AppointmentStatus.IN_PROGRESS:
                appointment_services.appointment_complete(appointment=appointment, by=by, request=request)
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"status": {"from": from_status, "to": locked.status}, "disposition": disposition},
        )
        charges.capture_consultation(locked)  # billing: the visit's fee (savepoint; never blocks the close)
    return locked
