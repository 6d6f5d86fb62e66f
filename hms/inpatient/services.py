"""Writes of inpatient care: the location tree, bed status, admission / transfer / discharge (ADT),
temporary identities and patient merge.

Contract (as every service in the project): `<entity>_<action>(*, ..., by, request=None)`; bad input raises
`ValidationError` (400, field errors), a state clash `Conflict` (409), an act the role never does
`PermissionDenied` (403), a patient outside the user's reach `NotFoundOrForbidden` (404). Every write is
atomic and writes its AuditEvent in the same transaction.

Concurrency: ADT writes lock the bed(s) first (`select_for_update`, in id order), then the admission; the
database backs the rules up with partial unique constraints (one current stay per bed and per admission,
one active admission per patient), whose violation is reported as 409, never 500.

Bed status (`BedStatus`): free → reserved/out-of-service/cleaning by `bed_set_status`; occupied only through
ADT (admit, transfer in); an emptied bed goes to cleaning and becomes free only through `bed_mark_clean`.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.billing import charges
from hms.clinical.encounters import DISCHARGE_DISPOSITIONS
from hms.clinical.models import Encounter, EncounterClass, EncounterStatus
from hms.clinical.services import clinical_write_check
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.models import AdministrativeGender, Patient
from hms.patients.mrn import mrn_allocate
from hms.patients.selectors import can_read_clinical
from hms.staff.models import Practitioner, PractitionerRole

from .models import (
    Admission,
    AdmissionSource,
    AdmissionStatus,
    BedStatus,
    BedStay,
    Location,
    PhysicalType,
    WardType,
)

try:  # the bed board's live pushes (contract 1); guarded so ADT works without it
    from .live import beds_publish
except ImportError:  # pragma: no cover

    def beds_publish(ward_id):
        return None


# Which parent type each location type must have (FHIR Location.partOf): building ← ward ← room ← bed.
PARENT_TYPE = {
    PhysicalType.BUILDING: None,
    PhysicalType.WARD: PhysicalType.BUILDING,
    PhysicalType.ROOM: PhysicalType.WARD,
    PhysicalType.BED: PhysicalType.ROOM,
}
GENDER_RESTRICTIONS = ("", AdministrativeGender.MALE, AdministrativeGender.FEMALE)
ADMIT_ROLES = frozenset({Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST})
HOUSEKEEPING_ROLES = frozenset({Role.ADMIN, Role.NURSE})
MERGE_ROLES = frozenset({Role.ADMIN, Role.RECEPTIONIST})
UNKNOWN_ROLES = frozenset({Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.ADMIN})
# Statuses `bed_set_status` may set; `occupied` only through ADT.
SETTABLE_BED_STATUSES = (BedStatus.FREE, BedStatus.RESERVED, BedStatus.CLEANING, BedStatus.OUT_OF_SERVICE)
# Apps whose patient foreign keys a merge leaves on the source record (the history of who did what).
MERGE_KEEP_APPS = frozenset({"audit"})


def _require_role(by, roles) -> None:
    if by is None or not by.is_authenticated or not by.is_active or by.role not in roles:
        raise PermissionDenied("Your role does not do this.")


# ---------------------------------------------------------------- location tree

LOCATION_FIELDS = ("name", "code", "ward_type", "gender_restriction", "isolation", "sort_order")


def _validate_location(loc: Location) -> None:
    errors = {}
    wanted_parent = PARENT_TYPE.get(loc.physical_type)
    if loc.physical_type not in PARENT_TYPE:
        errors["physical_type"] = "Choose bu (building), wa (ward), ro (room) or bd (bed)."
    elif wanted_parent is None and loc.parent_id is not None:
        errors["parent"] = "A building has no parent."
    elif wanted_parent is not None and (loc.parent is None or loc.parent.physical_type != wanted_parent):
        names = dict(PhysicalType.choices)
        errors["parent"] = (
            f"A {names[loc.physical_type].lower()} belongs in a {names[wanted_parent].lower()}."
        )
    if loc.physical_type == PhysicalType.WARD and loc.ward_type not in WardType.values:
        errors["ward_type"] = f"Choose a ward type: {', '.join(WardType.values)}."
    if loc.physical_type != PhysicalType.WARD and loc.ward_type:
        errors["ward_type"] = "Only a ward has a ward type."
    if loc.gender_restriction not in GENDER_RESTRICTIONS:
        errors["gender_restriction"] = "Leave empty or choose male or female."
    elif loc.gender_restriction and loc.physical_type not in (PhysicalType.WARD, PhysicalType.ROOM):
        errors["gender_restriction"] = "Only a ward or a room has a gender restriction."
    if not (loc.name or "").strip():
        errors["name"] = "A name is required."
    if errors:
        raise ValidationError(errors)
    loc.full_clean(exclude=["status"])


def location_create(
    *,
    physical_type: str,
    name: str,
    by,
    parent: Location | None = None,
    code: str = "",
    ward_type: str = "",
    gender_restriction: str = "",
    isolation: str = "",
    sort_order: int = 0,
    request=None,
) -> Location:
    """Add a building, ward (with `ward_type`), room or bed under the right `parent` (admins; 403 otherwise).

    400 `parent` for a parent of the wrong type or an inactive one, `ward_type`/`gender_restriction` for bad
    codes. A new bed starts `free`. No PHI: audited without a patient.
    """
    _require_role(by, {Role.ADMIN})
    if parent is not None and not parent.active:
        raise ValidationError({"parent": "This location is deactivated."})
    loc = Location(
        physical_type=physical_type,
        parent=parent,
        name=(name or "").strip(),
        code=(code or "").strip(),
        ward_type=ward_type or "",
        gender_restriction=gender_restriction or "",
        isolation=(isolation or "").strip(),
        sort_order=sort_order or 0,
        status=BedStatus.FREE,
    )
    _validate_location(loc)
    with transaction.atomic():
        loc.save()
        audit_record(actor=by, action=AuditAction.CREATE, request=request, obj=loc)
        beds_publish(_ward_of(loc))
    return loc


def _ward_of(loc: Location) -> int | None:
    """The pk of the ward `loc` is in (itself for a ward), None for a building."""
    node = loc
    while node is not None:
        if node.physical_type == PhysicalType.WARD:
            return node.pk
        node = node.parent
    return None


def _active_beds_under(loc: Location) -> list[int]:
    """Ids of the beds in the subtree of `loc` (itself if a bed)."""
    ids, frontier = [], [loc.pk]
    while frontier:
        children = list(Location.objects.filter(parent_id__in=frontier).values_list("pk", "physical_type"))
        ids += [pk for pk, t in children if t == PhysicalType.BED]
        frontier = [pk for pk, t in children if t != PhysicalType.BED]
    if loc.physical_type == PhysicalType.BED:
        ids.append(loc.pk)
    return ids


def location_update(*, location: Location, data: dict, by, request=None) -> Location:
    """Change `name`, `code`, `ward_type`, `gender_restriction`, `isolation`, `sort_order` or `active` of a
    location (admins). Deactivating refuses (409) while a bed below is occupied; the tree shape (type,
    parent) never changes. 400 as `location_create`."""
    _require_role(by, {Role.ADMIN})
    with transaction.atomic():
        loc = Location.objects.select_for_update().get(pk=location.pk)
        changed = []
        for key in (*LOCATION_FIELDS, "active"):
            if key in data and getattr(loc, key) != data[key]:
                setattr(loc, key, data[key])
                changed.append(key)
        _validate_location(loc)
        if "active" in changed and not loc.active:
            beds = _active_beds_under(loc)
            if BedStay.objects.filter(bed_id__in=beds, end__isnull=True).exists():
                raise Conflict("A bed here is occupied: transfer or discharge the patient first.")
        if changed:
            loc.save(update_fields=[*changed, "updated_at"])
        audit_record(
            actor=by, action=AuditAction.UPDATE, request=request, obj=loc, detail={"fields": sorted(changed)}
        )
        beds_publish(_ward_of(loc))
    return loc


def _lock_bed(bed_id: int) -> Location:
    bed = Location.objects.select_for_update().filter(pk=bed_id, physical_type=PhysicalType.BED).first()
    if bed is None:
        raise ValidationError({"bed": "Not a bed."})
    return bed


def bed_set_status(*, bed: Location, status: str, by, request=None) -> Location:
    """Housekeeping / bed management (nurses, admins; 403 otherwise): set a bed `free`, `reserved`,
    `cleaning` or `out-of-service`. 400 `status` for `occupied` (only ADT occupies a bed) or an unknown code;
    409 when the bed is occupied (discharge or transfer the patient first)."""
    _require_role(by, HOUSEKEEPING_ROLES)
    if status not in SETTABLE_BED_STATUSES:
        raise ValidationError(
            {
                "status": f"Choose one of {', '.join(SETTABLE_BED_STATUSES)}; "
                "a bed is occupied only by admission."
            }
        )
    with transaction.atomic():
        locked = _lock_bed(bed.pk)
        if locked.status == BedStatus.OCCUPIED:
            raise Conflict("This bed is occupied.", payload={"status": locked.status})
        before = locked.status
        locked.status = status
        locked.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            obj=locked,
            detail={"status": {"from": before, "to": status}},
        )
        beds_publish(_ward_of(locked))
    return locked


def bed_mark_clean(*, bed: Location, by, request=None) -> Location:
    """Housekeeping has cleaned a bed: `cleaning` → `free` (nurses, admins; 403 otherwise). 409 when the bed
    is not waiting for cleaning (an emptied bed is never freed before this)."""
    _require_role(by, HOUSEKEEPING_ROLES)
    with transaction.atomic():
        locked = _lock_bed(bed.pk)
        if locked.status != BedStatus.CLEANING:
            raise Conflict(
                f"This bed is {locked.get_status_display().lower()}, not waiting for cleaning.",
                payload={"status": locked.status},
            )
        locked.status = BedStatus.FREE
        locked.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            obj=locked,
            detail={"status": {"from": BedStatus.CLEANING, "to": BedStatus.FREE}, "cleaned": True},
        )
        beds_publish(_ward_of(locked))
    return locked


# ---------------------------------------------------------------- ADT


def _bed_path(bed: Location) -> tuple[Location, Location]:
    """(room, ward) of a bed; 400 `bed` when the tree above it is incomplete or inactive."""
    room = bed.parent
    ward = room.parent if room is not None else None
    if room is None or ward is None or ward.physical_type != PhysicalType.WARD:
        raise ValidationError({"bed": "This bed is not in a ward."})
    if not (bed.active and room.active and ward.active):
        raise ValidationError({"bed": "This bed is deactivated."})
    return room, ward


def _check_bed_takes(bed: Location, patient: Patient) -> Location:
    """The ward of `bed` if it can take `patient` now; 409 when it is not free/reserved, 400 for a gender
    restriction the patient does not meet."""
    room, ward = _bed_path(bed)
    if bed.status not in (BedStatus.FREE, BedStatus.RESERVED):
        raise Conflict(
            f"Bed {bed} is {bed.get_status_display().lower()}.", payload={"bed": bed.pk, "status": bed.status}
        )
    for place in (ward, room):
        if place.gender_restriction and place.gender_restriction != patient.gender:
            raise ValidationError({"bed": f"{place.name} takes {place.gender_restriction} patients only."})
    return ward


def _locked_patient(patient: Patient) -> Patient:
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    if locked.deleted_at is not None or locked.merged_into_id is not None:
        raise NotFoundOrForbidden()
    return locked


def admission_create(
    *,
    patient: Patient,
    admitting_practitioner: Practitioner,
    source: str,
    reason: str,
    bed: Location,
    by,
    source_encounter: Encounter | None = None,
    request=None,
) -> Admission:
    """Admit `patient` to `bed` (a bed Location) under `admitting_practitioner` (a doctor).

    Creates, atomically: the inpatient Encounter (class IMP, in-progress, practitioner = the admitting doctor,
    which puts the patient in their care), the Admission (status active, ward = the bed's ward), the first
    BedStay (reason "admit"); the bed becomes `occupied`. `source`: `AdmissionSource` code (emergency,
    clinic, planned, transfer); `reason`: 1-500 characters; `source_encounter`: the ED or clinic encounter
    admitted from (must be the patient's).

    Who: doctors, nurses, receptionists (the admissions desk); 403 otherwise. 404 for a missing, deleted or
    merged patient. 400 `source`, `reason`, `admitting_practitioner`, `source_encounter`, `bed` (not a bed,
    deactivated, gender restriction of ward or room). 409 when the bed is not free/reserved or the patient
    already has an active admission (also under concurrency: bed rows are locked, constraints back it up).
    """
    _require_role(by, ADMIT_ROLES)
    reason = (reason or "").strip()
    errors = {}
    if source not in AdmissionSource.values:
        errors["source"] = f"Choose one of {', '.join(AdmissionSource.values)}."
    if not reason:
        errors["reason"] = "Say why the patient is admitted."
    elif len(reason) > 500:
        errors["reason"] = "At most 500 characters."
    if admitting_practitioner is None or admitting_practitioner.role != PractitionerRole.DOCTOR:
        errors["admitting_practitioner"] = "Choose a doctor."
    if source_encounter is not None and (
        source_encounter.patient_id != patient.pk or source_encounter.deleted_at is not None
    ):
        errors["source_encounter"] = "This encounter is not one of this patient's."
    if bed is None or bed.physical_type != PhysicalType.BED:
        errors["bed"] = "Choose a bed."
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    try:
        with transaction.atomic():
            locked_bed = _lock_bed(bed.pk)
            locked_patient = _locked_patient(patient)
            ward = _check_bed_takes(locked_bed, locked_patient)
            active = Admission.objects.filter(patient=locked_patient, status=AdmissionStatus.ACTIVE).first()
            if active is not None:
                raise Conflict("This patient is already admitted.", payload={"admission": active.pk})
            care_started = (
                not can_read_clinical(by, locked_patient) if by.role != Role.RECEPTIONIST else False
            )
            encounter = Encounter(
                patient=locked_patient,
                status=EncounterStatus.IN_PROGRESS,
                encounter_class=EncounterClass.INPATIENT,
                period_start=now,
                practitioner=admitting_practitioner,
                reason_display=reason,
                created_by=by,
            )
            encounter.full_clean()
            encounter.save()
            admission = Admission(
                patient=locked_patient,
                encounter=encounter,
                source=source,
                source_encounter=source_encounter,
                admitting_practitioner=admitting_practitioner,
                reason=reason,
                ward=ward,
                admitted_at=now,
                admitted_by=by,
            )
            admission.full_clean(validate_constraints=False)
            admission.save()
            BedStay.objects.create(
                admission=admission, bed=locked_bed, start=now, reason="admit", moved_by=by
            )
            locked_bed.status = BedStatus.OCCUPIED
            locked_bed.save(update_fields=["status", "updated_at"])
            audit_record(
                actor=by,
                action=AuditAction.CREATE,
                request=request,
                patient=locked_patient,
                obj=admission,
                detail={
                    "bed": locked_bed.pk,
                    "ward": ward.pk,
                    "source": source,
                    "encounter": encounter.pk,
                    "care_started": care_started,
                },
            )
            beds_publish(ward.pk)
    except IntegrityError:  # a concurrent admission won the race (bed or patient constraint)
        raise Conflict("The bed or the patient was just taken by another admission.") from None
    return admission


def _lock_admission(admission: Admission) -> Admission:
    locked = Admission.objects.select_for_update().get(pk=admission.pk)
    if locked.status != AdmissionStatus.ACTIVE or locked.deleted_at is not None:
        raise Conflict(
            f"This admission is {locked.get_status_display().lower()}.", payload={"status": locked.status}
        )
    return locked


def _current_stay(admission: Admission) -> BedStay:
    return BedStay.objects.select_for_update().get(admission=admission, end__isnull=True)


def admission_transfer(*, admission: Admission, bed: Location, by, request=None) -> Admission:
    """Move an admitted patient to another `bed` (same or another ward): the current BedStay ends now, a new
    one (reason "transfer") starts; the old bed goes to `cleaning`, the new one `occupied`; the admission's
    ward follows the bed.

    Doctors and nurses with the patient in their care (404 otherwise). 400 `bed` (not a bed, the same bed,
    deactivated, gender restriction); 409 when the new bed is not free/reserved or the admission is not
    active.
    """
    clinical_write_check(by, admission.patient)
    if bed is None or bed.physical_type != PhysicalType.BED:
        raise ValidationError({"bed": "Choose a bed."})
    now = timezone.now()
    try:
        with transaction.atomic():
            current_bed_id = (
                BedStay.objects.filter(admission=admission, end__isnull=True)
                .values_list("bed_id", flat=True)
                .first()
            )
            if current_bed_id == bed.pk:
                raise ValidationError({"bed": "The patient is already in this bed."})
            beds = {b.pk: b for b in (_lock_bed(pk) for pk in sorted({bed.pk, current_bed_id or bed.pk}))}
            locked = _lock_admission(admission)
            stay = _current_stay(locked)
            if stay.bed_id != current_bed_id:  # moved meanwhile: lock order no longer holds, retry
                raise Conflict("This patient was just moved; reload and try again.")
            new_bed = beds[bed.pk]
            new_ward = _check_bed_takes(new_bed, locked.patient)
            old_bed = beds[stay.bed_id]
            stay.end = now
            stay.save(update_fields=["end", "updated_at"])
            old_bed.status = BedStatus.CLEANING
            old_bed.save(update_fields=["status", "updated_at"])
            BedStay.objects.create(admission=locked, bed=new_bed, start=now, reason="transfer", moved_by=by)
            new_bed.status = BedStatus.OCCUPIED
            new_bed.save(update_fields=["status", "updated_at"])
            old_ward = locked.ward_id
            locked.ward = new_ward
            locked.save(update_fields=["ward", "updated_at"])
            audit_record(
                actor=by,
                action=AuditAction.UPDATE,
                request=request,
                patient=locked.patient,
                obj=locked,
                detail={"transfer": {"from_bed": old_bed.pk, "to_bed": new_bed.pk, "ward": new_ward.pk}},
            )
            beds_publish(old_ward)
            if new_ward.pk != old_ward:
                beds_publish(new_ward.pk)
    except IntegrityError:
        raise Conflict("The bed was just taken by another admission.") from None
    return locked


def admission_discharge(
    *,
    admission: Admission,
    disposition: str,
    summary: str,
    by,
    follow_up_appointment=None,
    request=None,
) -> Admission:
    """Discharge: the admission ends (status discharged, `discharged_at` now), its inpatient encounter
    finishes with the same disposition, the current BedStay ends and the bed goes to `cleaning` (free only
    after `bed_mark_clean`).

    `disposition`: FHIR discharge-disposition code (`hms.clinical.encounters.DISCHARGE_DISPOSITIONS`, system
    http://terminology.hl7.org/CodeSystem/discharge-disposition); `summary`: the discharge summary text
    (1-20000 characters); `follow_up_appointment`: a scheduling.Appointment of the same patient or None.
    The printable summary (`discharge_summary_pdf`) adds the encounter's diagnoses, procedures and active
    prescriptions. Doctors with the patient in their care (404 otherwise); 400 for the fields above; 409 when
    the admission is not active.
    """
    clinical_write_check(by, admission.patient, roles={Role.DOCTOR})
    summary = (summary or "").strip()
    errors = {}
    if disposition not in DISCHARGE_DISPOSITIONS:
        errors["disposition"] = f"Choose a discharge disposition: {', '.join(DISCHARGE_DISPOSITIONS)}."
    if not summary:
        errors["summary"] = "Write the discharge summary."
    elif len(summary) > 20000:
        errors["summary"] = "At most 20000 characters."
    if follow_up_appointment is not None and follow_up_appointment.patient_id != admission.patient_id:
        errors["follow_up_appointment"] = "This appointment is not one of this patient's."
    if errors:
        raise ValidationError(errors)
    now = timezone.now()
    with transaction.atomic():
        bed_id = (
            BedStay.objects.filter(admission=admission, end__isnull=True)
            .values_list("bed_id", flat=True)
            .first()
        )
        bed = _lock_bed(bed_id) if bed_id else None
        locked = _lock_admission(admission)
        stay = _current_stay(locked)
        if bed is None or stay.bed_id != bed.pk:
            raise Conflict("This patient was just moved; reload and try again.")
        stay.end = now
        stay.save(update_fields=["end", "updated_at"])
        bed.status = BedStatus.CLEANING
        bed.save(update_fields=["status", "updated_at"])
        locked.status = AdmissionStatus.DISCHARGED
        locked.discharged_at = now
        locked.discharge_disposition = disposition
        locked.discharge_summary = summary
        locked.follow_up_appointment = follow_up_appointment
        locked.discharged_by = by
        locked.save(
            update_fields=[
                "status",
                "discharged_at",
                "discharge_disposition",
                "discharge_summary",
                "follow_up_appointment",
                "discharged_by",
                "updated_at",
            ]
        )
        if locked.encounter_id:
            enc = Encounter.objects.select_for_update().get(pk=locked.encounter_id)
            if enc.status not in (EncounterStatus.FINISHED, EncounterStatus.ENTERED_IN_ERROR):
                enc.status = EncounterStatus.FINISHED
                enc.period_end = max(now, enc.period_start)
                enc.discharge_disposition = disposition
                enc.save(update_fields=["status", "period_end", "discharge_disposition", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"discharge": {"disposition": disposition, "bed": bed.pk}},
        )
        charges.capture_discharge(locked)  # billing: the stay's bed-days (savepoint; never blocks)
        beds_publish(locked.ward_id)
    return locked


# ---------------------------------------------------------------- temporary identity and merge


def _estimated_birth_date(age: int, today: dt.date) -> dt.date:
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # 29 February
        return today.replace(year=today.year - age, day=28)


def patient_register_unknown(*, gender: str, approx_age: int, note: str = "", by, request=None) -> Patient:
    """Register an unidentified patient in one step (e.g. an unconscious emergency arrival).

    Name "Unknown" (family) / "<Sex> ~<age>" (given), e.g. "Unknown, Male ~40"; `identity_unknown` true;
    birth date estimated as today minus `approx_age` years (`birth_date_estimated` true); an MRN as usual.
    The duplicate check of ordinary registration is skipped (every unknown looks alike). `gender`: FHIR
    administrative-gender (400 otherwise); `approx_age`: 0-120 years (400); `note`: up to 500 characters of
    identifying features, kept in the AuditEvent. Doctors, nurses, receptionists, admins (403 otherwise).
    """
    _require_role(by, UNKNOWN_ROLES)
    errors = {}
    if gender not in AdministrativeGender.values:
        errors["gender"] = f"Choose one of {', '.join(AdministrativeGender.values)}."
    if not isinstance(approx_age, int) or isinstance(approx_age, bool) or not 0 <= approx_age <= 120:
        errors["approx_age"] = "An age in years between 0 and 120."
    note = (note or "").strip()
    if len(note) > 500:
        errors["note"] = "At most 500 characters."
    if errors:
        raise ValidationError(errors)
    today = timezone.localdate()
    with transaction.atomic():
        patient = Patient(
            family_name="Unknown",
            given_names=f"{dict(AdministrativeGender.choices)[gender]} ~{approx_age}",
            date_of_birth=_estimated_birth_date(approx_age, today),
            gender=gender,
            identity_unknown=True,
            birth_date_estimated=True,
        )
        patient.mrn = "000000000"
        patient.full_clean(exclude=["mrn"])
        patient.mrn = mrn_allocate(1)[0]
        patient.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=patient,
            detail={"identity_unknown": True, "approx_age": approx_age, "note": note},
        )
    return patient


def _patient_foreign_keys():
    """(model, field name) of every concrete foreign key to `patients.Patient` outside `MERGE_KEEP_APPS`
    (found generically, so a new app's records are moved too) and not the merge link itself."""
    from django.apps import apps

    found = []
    for model in apps.get_models():
        if model._meta.app_label in MERGE_KEEP_APPS or model is Patient:
            continue
        for field in model._meta.concrete_fields:
            if (
                field.is_relation
                and field.related_model is Patient
                and (field.many_to_one or field.one_to_one)
            ):
                found.append((model, field.name))
    return found


def patient_merge(*, source: Patient, target: Patient, by, reason: str, request=None) -> dict:
    """Merge the duplicate/temporary record `source` into `target` (FHIR Patient.link replaced-by).

    Moves every row that points at `source` through a foreign key to Patient (clinical, scheduling, lab,
    pharmacy, documents, inpatient, emergency, front desk...: found generically) to `target`; audit events
    stay on `source` (the history is kept, and a merge event is written on both). Sets
    `source.merged_into = target` and soft-deletes `source` with the reason. The source's login, if any, moves
    to a target without one. Atomic.

    Admins and receptionists (403 otherwise). 400 `reason` blank, `target` same as source; 404 for a missing
    or deleted record; 409 when `target` or `source` was itself merged, when both have an active admission, or
    when a moved row clashes with a unique rule of the target (nothing is written then).
    Returns {"moved": {"app.Model": n, ...}}.
    """
    _require_role(by, MERGE_ROLES)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why these records are the same person."})
    if len(reason) > 400:
        raise ValidationError({"reason": "At most 400 characters."})
    if source.pk == target.pk:
        raise ValidationError({"target": "Choose another patient record."})
    moved = {}
    try:
        with transaction.atomic():
            locked = {
                p.pk: p
                for p in Patient.objects.select_for_update()
                .filter(pk__in=[source.pk, target.pk])
                .order_by("pk")
            }
            src, tgt = locked.get(source.pk), locked.get(target.pk)
            if src is None or tgt is None:
                raise NotFoundOrForbidden()
            if src.merged_into_id or tgt.merged_into_id:
                raise Conflict("One of these records was already merged into another.")
            if src.deleted_at is not None or tgt.deleted_at is not None:
                raise NotFoundOrForbidden()
            active = Admission.objects.filter(patient_id__in=[src.pk, tgt.pk], status=AdmissionStatus.ACTIVE)
            if active.values("patient_id").distinct().count() > 1:
                raise Conflict("Both records have an active admission: discharge one first.")
            for model, field in _patient_foreign_keys():
                n = model._base_manager.filter(**{field: src}).update(**{field: tgt})
                if n:
                    moved[model._meta.label] = moved.get(model._meta.label, 0) + n
            user = src.user
            if user is not None and tgt.user_id is None:
                src.user = None
                src.save(update_fields=["user", "updated_at"])
                tgt.user = user
                tgt.save(update_fields=["user", "updated_at"])
                moved["accounts.User"] = 1
            now = timezone.now()
            src.merged_into = tgt
            src.deleted_at = now
            src.deleted_by = by
            src.deletion_reason = f"Merged into MRN {tgt.mrn}: {reason}"[:500]
            src.active = False
            src.save(
                update_fields=[
                    "merged_into",
                    "deleted_at",
                    "deleted_by",
                    "deletion_reason",
                    "active",
                    "updated_at",
                ]
            )
            detail = {"merge": {"source": src.pk, "target": tgt.pk, "moved": moved}, "reason": reason}
            audit_record(
                actor=by, action=AuditAction.UPDATE, request=request, patient=tgt, obj=tgt, detail=detail
            )
            audit_record(
                actor=by, action=AuditAction.DELETE, request=request, patient=src, obj=src, detail=detail
            )
            wards = set(
                Admission.objects.filter(patient=tgt, status=AdmissionStatus.ACTIVE).values_list(
                    "ward_id", flat=True
                )
            )
            for ward in wards:
                beds_publish(ward)
    except IntegrityError:
        raise Conflict(
            "A record of this patient clashes with one of the target (e.g. a double booking)."
        ) from None
    return {"moved": moved}
