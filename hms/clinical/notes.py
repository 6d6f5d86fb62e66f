"""Consultation notes (SOAP) and nursing notes: draft, edit, sign, amend by addendum, enter in error.

Model: `ClinicalNote` (FHIR R4 `Composition`, sections S/O/A/P) and `NoteAddendum`. Lifecycle:

- `soap`, written by doctors: draft (`preliminary`, only the author edits) → signed (`final`, immutable)
  → `amended` once an addendum is added;
- `nursing`, written by nurses: signed on save (`final`); a nursing note is a contemporaneous record, so
  there is no draft, and corrections are addenda.

Rules:
- every write needs the patient in the writer's care (`clinical_write_check`), else 404;
- only the author edits or signs a draft (403 `PermissionDenied` for a colleague);
- a signed note never changes: `note_update` and `note_sign` on it raise `Conflict` (409); an addendum
  (who = `author`, when = `created_at`, why = `reason`) is the only way to add to it;
- an addendum on a draft is refused with `Conflict` (409): edit the draft instead;
- nothing is deleted: `note_enter_in_error` (author only) marks the note entered-in-error with a reason;
- notes are written in an encounter that is open or finished, not in a cancelled or entered-in-error one
  (400 `encounter`).
- text fields are limited to `MAX_SECTION_CHARS` characters each (400 with the field name).
Each write is one transaction with its AuditEvent.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict

from .models import (
    ClinicalNote,
    Encounter,
    EncounterStatus,
    NoteAddendum,
    NoteKind,
    NoteStatus,
    NoteTemplate,
)
from .services import clinical_write_check, record_enter_in_error

SOAP_FIELDS = ("subjective", "objective", "assessment", "plan")
MAX_SECTION_CHARS = 20_000
MAX_REASON_CHARS = 500
_CLOSED_ENCOUNTER = frozenset({EncounterStatus.CANCELLED, EncounterStatus.ENTERED_IN_ERROR})


def _check_encounter(encounter: Encounter) -> None:
    if encounter.deleted_at is not None or encounter.status in _CLOSED_ENCOUNTER:
        raise ValidationError({"encounter": "Notes cannot be written in a cancelled or erroneous encounter."})


def _clean_text(field: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError({field: "Not a valid string."})
    if len(value) > MAX_SECTION_CHARS:
        raise ValidationError({field: f"At most {MAX_SECTION_CHARS} characters."})
    return value


def templates_for(user) -> "list[NoteTemplate]":
    """Active note templates usable by `user`: the general ones (no specialty) and those of the user's
    practitioner specialty. Not PHI."""
    from django.db.models import Q

    specialty_id = getattr(getattr(user, "practitioner", None), "specialty_id", None)
    q = Q(specialty__isnull=True) | (Q(specialty_id=specialty_id) if specialty_id else Q(pk__in=[]))
    return list(NoteTemplate.objects.filter(q, is_active=True).select_related("specialty"))


def note_create_draft(
    *,
    encounter: Encounter,
    by,
    template: NoteTemplate | None = None,
    subjective: str = "",
    objective: str = "",
    assessment: str = "",
    plan: str = "",
    request=None,
) -> ClinicalNote:
    """A new SOAP draft in `encounter`, by a doctor caring for the patient (404 otherwise).

    `template`: an active `NoteTemplate` that is general or of the doctor's specialty (400 `template`
    otherwise); its text fills each section left empty. Returns the saved draft (`preliminary`).
    """
    clinical_write_check(by, encounter.patient, roles={Role.DOCTOR})
    _check_encounter(encounter)
    sections = {
        f: _clean_text(f, v)
        for f, v in zip(SOAP_FIELDS, (subjective, objective, assessment, plan), strict=True)
    }
    if template is not None:
        if template.pk not in {t.pk for t in templates_for(by)}:
            raise ValidationError({"template": "This template is not available for your specialty."})
        for field in SOAP_FIELDS:
            if not sections[field].strip():
                sections[field] = getattr(template, field)
    with transaction.atomic():
        note = ClinicalNote(
            patient=encounter.patient,
            encounter=encounter,
            kind=NoteKind.SOAP,
            status=NoteStatus.DRAFT,
            author=by,
            template=template,
            **sections,
        )
        note.full_clean()
        note.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=note.patient,
            obj=note,
            detail={
                "kind": note.kind,
                "encounter": encounter.pk,
                "template": template.pk if template else None,
            },
        )
    return note


def _lock_own_draft(note: ClinicalNote, by) -> ClinicalNote:
    locked = ClinicalNote.objects.select_for_update().get(pk=note.pk)
    if locked.deleted_at is not None:
        raise Conflict("This note was entered in error.", payload={"status": locked.status})
    if locked.status != NoteStatus.DRAFT:
        raise Conflict(
            "This note is signed and cannot be changed; add an addendum instead.",
            payload={"status": locked.status},
        )
    if locked.author_id != by.pk:
        raise PermissionDenied("Only the author edits or signs a draft note.")
    return locked


def note_update(*, note: ClinicalNote, by, request=None, **sections) -> ClinicalNote:
    """Change sections of a draft (`subjective`, `objective`, `assessment`, `plan`; only those given).
    409 when the note is signed or entered in error; 403 for anyone but the author; 400 for an unknown
    field or text longer than `MAX_SECTION_CHARS`."""
    clinical_write_check(by, note.patient)
    unknown = set(sections) - set(SOAP_FIELDS) - ({"body"} if note.kind == NoteKind.NURSING else set())
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "Unknown field."))
    cleaned = {f: _clean_text(f, v) for f, v in sections.items()}
    with transaction.atomic():
        locked = _lock_own_draft(note, by)
        for field, value in cleaned.items():
            setattr(locked, field, value)
        locked.full_clean()
        locked.save(update_fields=[*cleaned, "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"fields": sorted(cleaned)},
        )
    return locked


def note_sign(*, note: ClinicalNote, by, request=None) -> ClinicalNote:
    """Sign a draft: it becomes `final` with `signed_at`/`signed_by` and never changes again.
    400 (`assessment`) when every section is empty; 403 for anyone but the author; 409 when already
    signed or entered in error."""
    clinical_write_check(by, note.patient)
    with transaction.atomic():
        locked = _lock_own_draft(note, by)
        if not any(getattr(locked, f).strip() for f in SOAP_FIELDS) and not locked.body.strip():
            raise ValidationError(
                {"assessment": "An empty note cannot be signed: write at least one section."}
            )
        locked.status = NoteStatus.FINAL
        locked.signed_at = timezone.now()
        locked.signed_by = by
        locked.save(update_fields=["status", "signed_at", "signed_by", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"status": {"from": NoteStatus.DRAFT, "to": NoteStatus.FINAL}, "signed": True},
        )
    return locked


def note_addendum_add(*, note: ClinicalNote, reason: str, text: str, by, request=None) -> NoteAddendum:
    """Amend a signed note: a `NoteAddendum` with `author`=by, `created_at`=now, `reason` (why, required,
    ≤ 500 characters) and `text` (required); the note's status becomes `amended`, its text stays as
    signed. Any doctor or nurse caring for the patient may add one (404 otherwise). 400 for a blank
    reason or text; 409 for a draft (edit it instead) or a note entered in error."""
    clinical_write_check(by, note.patient)
    reason = (reason or "").strip() if isinstance(reason, str) or reason is None else reason
    text = (text or "").strip() if isinstance(text, str) or text is None else text
    errors = {}
    if not isinstance(reason, str) or not reason:
        errors["reason"] = "Say why the note is amended."
    elif len(reason) > MAX_REASON_CHARS:
        errors["reason"] = f"At most {MAX_REASON_CHARS} characters."
    if not isinstance(text, str) or not text:
        errors["text"] = "Write the addendum."
    elif len(text) > MAX_SECTION_CHARS:
        errors["text"] = f"At most {MAX_SECTION_CHARS} characters."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = ClinicalNote.objects.select_for_update().get(pk=note.pk)
        if locked.deleted_at is not None:
            raise Conflict("This note was entered in error.", payload={"status": locked.status})
        if not locked.is_signed:
            raise Conflict(
                "A draft is edited, not amended: sign it first or change the draft.",
                payload={"status": locked.status},
            )
        addendum = NoteAddendum(note=locked, author=by, reason=reason, text=text)
        addendum.full_clean()
        addendum.save()
        if locked.status != NoteStatus.AMENDED:
            locked.status = NoteStatus.AMENDED
            locked.save(update_fields=["status", "updated_at"])
        audit_record(
            actor=by,
            action=AuditAction.UPDATE,
            request=request,
            patient=locked.patient,
            obj=locked,
            detail={"addendum": addendum.pk, "reason": reason[:200]},
        )
    return addendum


def nursing_note_create(*, encounter: Encounter, body: str, by, request=None) -> ClinicalNote:
    """A nursing note (kind `nursing`) by a nurse caring for the patient (404 otherwise), signed on save
    (`final`, `signed_at` now). `body`: required free text ≤ `MAX_SECTION_CHARS` (400 `body`)."""
    clinical_write_check(by, encounter.patient, roles={Role.NURSE})
    _check_encounter(encounter)
    body = _clean_text("body", body).strip()
    if not body:
        raise ValidationError({"body": "Write the nursing note."})
    now = timezone.now()
    with transaction.atomic():
        note = ClinicalNote(
            patient=encounter.patient,
            encounter=encounter,
            kind=NoteKind.NURSING,
            status=NoteStatus.FINAL,
            author=by,
            body=body,
            signed_at=now,
            signed_by=by,
        )
        note.full_clean()
        note.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=note.patient,
            obj=note,
            detail={"kind": note.kind, "encounter": encounter.pk, "signed": True},
        )
    return note


def note_enter_in_error(*, note: ClinicalNote, reason: str, by, request=None) -> ClinicalNote:
    """Mark a note entered-in-error (wrong patient, wrong visit) with a reason: it leaves every list and
    is kept. Only its author (403 otherwise); 400 for a blank reason or a note already marked."""
    clinical_write_check(by, note.patient)
    if note.author_id != by.pk:
        raise PermissionDenied("Only the author marks a note entered in error.")
    return record_enter_in_error(record=note, reason=reason, by=by, request=request)
