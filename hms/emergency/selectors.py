"""Reads of the emergency department, always scoped to the requesting user.

| role | ED visits (board) | emergency requests |
|---|---|---|
| doctor, nurse (ED staff, `services.is_ed_staff`) | every live visit | every request |
| patient | their own visits | their own requests |
| anyone else | none | none |

A row outside the user's scope is reported like a missing one: `NotFoundOrForbidden` (404). The callers
write the AuditEvent of what they show (the API and portal views).

**Emergency access** (`request_clinical_summary`): ED staff answering a patient's emergency request see
that patient's active allergies and problem list although the patient is not (yet) in their care: the
request itself is the patient's call for help, the "break the glass" case of DESIGN.md. Each such read
is audited with `detail["emergency_access"] = true` by the caller.
"""

from django.db.models import F, QuerySet

from hms.accounts.roles import Role
from hms.clinical.models import AllergyIntolerance, Condition
from hms.core.errors import NotFoundOrForbidden

from .models import EdStatus, EdVisit, EmergencyRequest, RequestStatus
from .services import is_ed_staff

ACTIVE_PROBLEM_STATUSES = ("active", "recurrence", "relapse")  # hms.clinical.problems.ACTIVE_STATUSES


def _pk(raw) -> int:
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    return pk


def ed_visits_visible(user) -> QuerySet[EdVisit]:
    """ED visits `user` may see (table above), patients' live records only."""
    if is_ed_staff(user):
        qs = EdVisit.objects.all()
    elif user is not None and user.is_authenticated and user.is_active and user.role == Role.PATIENT:
        qs = EdVisit.objects.filter(patient__user=user)
    else:
        return EdVisit.objects.none()
    return qs.filter(patient__deleted_at__isnull=True).select_related("patient", "triaged_by", "seen_by")


def ed_visit_get(user, visit_id) -> EdVisit:
    """One visit `user` may see, else `NotFoundOrForbidden` (404)."""
    visit = ed_visits_visible(user).select_related("encounter").filter(pk=_pk(visit_id)).first()
    if visit is None:
        raise NotFoundOrForbidden()
    return visit


def board_order(qs: QuerySet[EdVisit]) -> QuerySet[EdVisit]:
    """Tracking-board order: untriaged first (they still need assessing), then ESI level 1→5, then
    arrival (oldest first), then id."""
    return qs.order_by(F("esi_level").asc(nulls_first=True), "arrived_at", "id")


def ed_waiting(user) -> QuerySet[EdVisit]:
    """Visits waiting for a doctor (status waiting, not departed), in board order."""
    return board_order(ed_visits_visible(user).filter(status=EdStatus.WAITING, departed_at__isnull=True))


def ed_in_treatment(user) -> QuerySet[EdVisit]:
    """Visits in treatment (seen by a doctor, not departed), in board order."""
    return board_order(ed_visits_visible(user).filter(status=EdStatus.IN_TREATMENT, departed_at__isnull=True))


def ed_active(user) -> QuerySet[EdVisit]:
    """Every visit in the department (waiting or in treatment), in board order."""
    return board_order(ed_visits_visible(user).filter(departed_at__isnull=True))


def emergency_requests_visible(user) -> QuerySet[EmergencyRequest]:
    """Requests `user` may see: ED staff every one, a patient their own; newest first."""
    if is_ed_staff(user):
        qs = EmergencyRequest.objects.all()
    elif user is not None and user.is_authenticated and user.is_active and user.role == Role.PATIENT:
        qs = EmergencyRequest.objects.filter(patient__user=user)
    else:
        return EmergencyRequest.objects.none()
    return qs.filter(patient__deleted_at__isnull=True).select_related("patient")


def emergency_requests_open(user) -> QuerySet[EmergencyRequest]:
    """Requests not yet closed, oldest first (the board's order: the longest waiting on top)."""
    return emergency_requests_visible(user).exclude(status=RequestStatus.CLOSED).order_by("created_at", "id")


def emergency_request_get(user, request_id) -> EmergencyRequest:
    """One request `user` may see, else 404 (a patient asking for another's: 404)."""
    row = emergency_requests_visible(user).filter(pk=_pk(request_id)).first()
    if row is None:
        raise NotFoundOrForbidden()
    return row


def request_clinical_summary(user, patient) -> dict:
    """{"allergies": [AllergyIntolerance], "problems": [Condition]} of `patient`: live, active rows (high
    criticality allergies first; problems newest onset first). ED staff (emergency access, see the module
    docstring) and the patient themself; anyone else gets empty lists."""
    own = (
        user is not None
        and user.is_authenticated
        and user.role == Role.PATIENT
        and patient.user_id == user.pk
    )
    if not (is_ed_staff(user) or own):
        return {"allergies": [], "problems": []}
    allergies = sorted(
        AllergyIntolerance.objects.filter(patient=patient, deleted_at__isnull=True, clinical_status="active"),
        key=lambda a: (a.criticality != "high", a.code_display, a.pk),
    )
    problems = Condition.objects.filter(
        patient=patient, deleted_at__isnull=True, clinical_status__in=ACTIVE_PROBLEM_STATUSES
    ).order_by(F("onset_at").desc(nulls_last=True), "-id")
    return {"allergies": allergies, "problems": list(problems)}
