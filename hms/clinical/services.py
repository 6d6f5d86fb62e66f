"""Writes shared by every clinical record type.

Each area has its own service module (`encounters`, `notes`, `problems`, `vitals`, `careplans`, ... in this
package, `hms.lab.services`, `hms.documents.services`); they all follow one contract:

- `<entity>_<action>(*, ..., by, request=None)`; `by` is the acting `User`;
- `clinical_write_check(by, patient)` first: only doctors and nurses with the patient in their care write
  clinical records (the patient themself only through the portal services that say so); anyone else gets
  `NotFoundOrForbidden` (404), the same answer as a missing patient;
- `full_clean()` then save under `transaction.atomic()`, with `audit_record` in the same transaction;
- nothing is hard-deleted: `record_enter_in_error` marks a record entered-in-error with a reason.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import NotFoundOrForbidden
from hms.patients.selectors import can_read_clinical

WRITER_ROLES = frozenset({Role.DOCTOR, Role.NURSE})


def clinical_write_check(by, patient, *, roles=WRITER_ROLES) -> None:
    """Raise `NotFoundOrForbidden` (404) unless `by` has one of `roles` and may read `patient`'s record."""
    if by is None or not by.is_authenticated or by.role not in roles or not can_read_clinical(by, patient):
        raise NotFoundOrForbidden()


def record_enter_in_error(*, record, reason: str, by, request=None):
    """Mark a clinical record entered-in-error: it leaves every list but is never deleted.

    `record`: any `PatientRecordModel` row (or `Encounter`). Sets `status` to `entered-in-error` when the
    model has a `status` field, and the soft-delete columns (`deleted_at`, `deleted_by`,
    `deletion_reason`). Raises `ValidationError` (400) for a blank reason or a record already marked;
    `NotFoundOrForbidden` (404) when `by` may not write the patient's record. Writes one AuditEvent
    (action delete, detail {"reason", "entered_in_error": true}).
    """
    clinical_write_check(by, record.patient)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this record was entered in error."})
    if record.deleted_at is not None:
        raise ValidationError({"detail": "This record is already marked entered-in-error."})
    fields = ["deleted_at", "deleted_by", "deletion_reason", "updated_at"]
    with transaction.atomic():
        record.deleted_at = timezone.now()
        record.deleted_by = by
        record.deletion_reason = reason[:500]
        if any(f.name == "status" for f in record._meta.concrete_fields):
            record.status = "entered-in-error"
            fields.append("status")
        record.save(update_fields=fields)
        audit_record(
            actor=by,
            action=AuditAction.DELETE,
            request=request,
            patient=record.patient,
            obj=record,
            detail={"reason": record.deletion_reason, "entered_in_error": True},
        )
    return record
