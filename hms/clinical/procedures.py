"""Recording a procedure performed in the hospital (FHIR R4 `Procedure`, coded in SNOMED CT).

`procedure_record` is the one write path: doctors with the patient in their care (`clinical_write_check`),
atomic, audited, and the procedure becomes a charge through `hms.billing.charges.capture_procedure`
(in a savepoint: billing never blocks care). Entered-in-error goes through
`hms.clinical.services.record_enter_in_error`.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core import codes

from .models import Encounter, Procedure
from .services import clinical_write_check

SNOMED_ID = re.compile(r"^\d{6,18}$")  # SNOMED CT identifiers: 6 to 18 digits


def procedure_record(
    *,
    patient,
    code: str,
    display: str,
    by,
    encounter: Encounter | None = None,
    performed_at=None,
    reason: str = "",
    request=None,
) -> Procedure:
    """Record a completed procedure and capture its charge.

    - `code`: SNOMED CT concept id (6-18 digits); `display`: its name (1-300 characters).
    - `performed_at`: aware datetime, not in the future (default now); `encounter`: a live encounter of this
      patient; `reason`: free text (≤ 500).
    Raises `NotFoundOrForbidden` (404) unless `by` is a doctor with the patient in care; `ValidationError`
    (400) per field.
    """
    clinical_write_check(by, patient, roles=frozenset({Role.DOCTOR}))
    code = (code or "").strip() if isinstance(code, str) else ""
    display = (display or "").strip() if isinstance(display, str) else ""
    errors = {}
    if not SNOMED_ID.match(code):
        errors["code"] = "A SNOMED CT concept id (6 to 18 digits)."
    if not 1 <= len(display) <= 300:
        errors["display"] = "The procedure's name (1 to 300 characters)."
    if not isinstance(reason, str) or len(reason) > 500:
        errors["reason"] = "At most 500 characters."
    now = timezone.now()
    performed_at = performed_at or now
    if performed_at > now:
        errors["performed_at"] = "A procedure is recorded once performed: not in the future."
    if encounter is not None and (encounter.patient_id != patient.pk or encounter.deleted_at is not None):
        errors["encounter"] = "This visit is not one of this patient's."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        procedure = Procedure(
            patient=patient,
            encounter=encounter,
            status="completed",
            code_system=codes.SNOMED,
            code=code,
            code_display=display,
            performed_start=performed_at,
            performed_end=performed_at,
            reason_display=reason,
        )
        procedure.full_clean()
        procedure.save()
        audit_record(
            actor=by,
            action=AuditAction.CREATE,
            request=request,
            patient=patient,
            obj=procedure,
            detail={"code": code},
        )
        from hms.billing.charges import capture_procedure

        capture_procedure(procedure)
    return procedure
