"""Web pages of the front-desk queue. Thin: parse, call a selector or service, audit the read, render.

- `/frontdesk/queue/` (receptionist, admin, doctor, nurse): the live board. Reception picks a practitioner
  (or sees every queue); doctors and nurses see their own. The table is a partial
  (`/frontdesk/queue/table/`) that the page re-reads whenever the WebSocket says the queue changed and
  after every reconnect (plus once a minute), so a missed push loses nothing.
- `POST /frontdesk/queue/walk-in/` (receptionist, admin, nurse): add a walk-in (patient id, practitioner,
  priority, reason); `GET /frontdesk/queue/walk-in/patients/?q=` is its search-as-you-type patient picker
  (the portal's patient search rule, `hms.portal.queries.patients_matching`, rendered as radio choices; the
  portal's own partial links to charts, so it cannot be a form field). Both answer htmx with partials.
- `POST /frontdesk/queue/<id>/priority/` (receptionist, admin, nurse) and `POST /frontdesk/queue/call-next/`
  (doctor for self; reception/admin for the practitioner shown) answer with the refreshed table.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.core.errors import Conflict
from hms.patients.selectors import patient_get
from hms.portal import queries as portal_queries
from hms.portal.access import role_required
from hms.staff.models import Practitioner, PractitionerRole

from . import selectors, services
from .api import WALK_IN_ROLES, queue_practitioner_for_call, walk_in_location, walk_in_practitioner
from .live import queue_group
from .models import QueueEntry, TriagePriority

BOARD_ROLES = (Role.RECEPTIONIST, Role.ADMIN, Role.DOCTOR, Role.NURSE)
PRIORITY_ROLES = frozenset({Role.RECEPTIONIST, Role.ADMIN, Role.NURSE})
CALL_ROLES = frozenset({Role.DOCTOR, Role.RECEPTIONIST, Role.ADMIN})


BAD_PRACTITIONER_NOTICE = "Unknown practitioner {raw!r}: showing all practitioners instead."


def _practitioner_choice(request, raw) -> tuple[Practitioner | None, str]:
    """Whose queue the page shows, and a notice for the user when the requested one was refused.

    A clinician always sees their own queue. Reception sees the practitioner asked for; with nothing
    asked for, all queues (notice ""); with a non-numeric, out-of-range or unknown id, all queues and
    the notice `BAD_PRACTITIONER_NOTICE` (never a 500)."""
    user = request.user
    if user.role in (Role.DOCTOR, Role.NURSE):
        return getattr(user, "practitioner", None), ""
    if raw in (None, ""):
        return None, ""
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        pk = 0
    practitioner = Practitioner.objects.filter(pk=pk).first() if 0 < pk < 2**63 else None
    if practitioner is None:
        return None, BAD_PRACTITIONER_NOTICE.format(raw=str(raw)[:40])
    return practitioner, ""


def _practitioner_shown(request, raw) -> Practitioner | None:
    """Whose queue the page shows: a clinician's own; for reception the one asked for (None = all)."""
    return _practitioner_choice(request, raw)[0]


def _practitioners_for_picker(shown: Practitioner | None):
    """Doctors worth offering in the drop-downs: active ones with an active schedule or with a queue
    entry today (plus the one shown), ordered by name; not every imported practitioner."""
    today = selectors.hospital_today()
    condition = Q(schedule__active=True) | Q(queue_entries__day=today)
    if shown is not None:
        condition |= Q(pk=shown.pk)
    return (
        Practitioner.objects.filter(condition, active=True, role=PractitionerRole.DOCTOR)
        .distinct()
        .order_by("family_name", "given_names", "id")
        .only("id", "prefix", "given_names", "family_name")
    )


def _table_context(request, practitioner: Practitioner | None, *, notice: str = "") -> dict:
    user = request.user
    qs = selectors.queue_entries_visible(user).filter(day=selectors.hospital_today())
    if practitioner is not None:
        qs = qs.filter(practitioner=practitioner)
    elif user.role not in selectors.ALL_QUEUES_ROLES:
        qs = qs.none()
    rows = selectors.queue_board(list(qs))
    with transaction.atomic():
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=sorted({r.entry.patient_id for r in rows}),
            object_type="frontdesk.QueueEntry",
            channel="web",
            detail={"view": "queue_board", "practitioner": practitioner.pk if practitioner else None},
        )
    return {
        "rows": rows,
        "practitioner": practitioner,
        "priorities": TriagePriority.choices,
        "can_set_priority": user.role in PRIORITY_ROLES,
        "can_call_next": practitioner is not None and user.role in CALL_ROLES,
        "show_practitioner": practitioner is None,
        "notice": notice,
    }


def _render_table(request, practitioner, *, notice: str = ""):
    return render(
        request, "frontdesk/_queue_table.html", _table_context(request, practitioner, notice=notice)
    )


@require_GET
@role_required(*BOARD_ROLES)
def queue_page(request):
    """/frontdesk/queue/?practitioner=<id>: the live queue board."""
    practitioner, notice = _practitioner_choice(request, request.GET.get("practitioner"))
    if notice:
        messages.error(request, notice)
    pid = practitioner.pk if practitioner is not None else None
    context = _table_context(request, practitioner)
    context.update(
        {
            "ws_path": f"/ws/queue/{pid}/" if pid else "/ws/queue/",
            "ws_group": queue_group(pid),
            "choose_practitioner": request.user.role in selectors.ALL_QUEUES_ROLES,
            "can_add_walk_in": request.user.role in WALK_IN_ROLES,
            "practitioners": _practitioners_for_picker(practitioner),
        }
    )
    return render(request, "frontdesk/queue.html", context)


@require_GET
@role_required(*BOARD_ROLES)
def queue_table(request):
    """/frontdesk/queue/table/?practitioner=<id>: the board's table (htmx partial)."""
    practitioner, notice = _practitioner_choice(request, request.GET.get("practitioner"))
    return _render_table(request, practitioner, notice=notice)


def _after_write(request, practitioner, notice: str = ""):
    if request.htmx:
        return _render_table(request, practitioner, notice=notice)
    if notice:
        messages.info(request, notice)
    url = reverse("frontdesk:queue")
    return redirect(f"{url}?practitioner={practitioner.pk}" if practitioner else url)


@require_POST
@role_required(*PRIORITY_ROLES)
def queue_priority(request, pk: int):
    """POST priority=<code>: set the triage priority of a waiting patient (404 when not visible)."""
    entry = selectors.queue_entry_get(request.user, pk)
    shown = _practitioner_shown(request, request.POST.get("view_practitioner"))
    try:
        services.queue_set_priority(
            entry=entry, priority=request.POST.get("priority", ""), by=request.user, request=request
        )
    except ValidationError as exc:
        return _after_write(request, shown, notice=" ".join(exc.messages))
    return _after_write(request, shown)


@require_POST
@role_required(*CALL_ROLES)
def queue_call_next(request):
    """POST practitioner=<id>: call the next patient (a doctor calls their own)."""
    raw = request.POST.get("practitioner")
    try:
        wanted = int(raw) if raw else None
    except ValueError:
        wanted = None
    if request.user.role == Role.DOCTOR:
        practitioner = queue_practitioner_for_call(request.user, None)
    elif wanted is None:
        return _after_write(request, None, notice="Choose whose queue to call from.")
    else:
        try:
            practitioner = queue_practitioner_for_call(request.user, wanted)
        except ValidationError as exc:
            return _after_write(request, None, notice=" ".join(exc.messages))
    try:
        entry = services.queue_call_next(practitioner=practitioner, by=request.user, request=request)
    except Conflict as exc:
        return _after_write(request, practitioner, notice=exc.message)
    entry = QueueEntry.objects.select_related("patient").get(pk=entry.pk)
    name = f"{entry.patient.given_names} {entry.patient.family_name}".strip()
    return _after_write(request, practitioner, notice=f"Called {name}.")


@require_GET
@role_required(*WALK_IN_ROLES)
def queue_walk_in_patients(request):
    """/frontdesk/queue/walk-in/patients/?q=: patients the caller may see matching `q` (name prefixes, MRN,
    phone, date of birth; ≤ 25) as radio choices of the walk-in form. Audited with the patients shown."""
    query = request.GET.get("q", "").strip()[:100]
    results = portal_queries.patients_matching(request.user, query) if query else None
    if results is not None:
        with transaction.atomic():
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                patients=results,
                channel="web",
                detail={"view": "queue_walk_in_patients", "returned": len(results)},
            )
    return render(
        request,
        "frontdesk/_walk_in_patients.html",
        {"results": results, "query": query, "limit": portal_queries.SEARCH_LIMIT},
    )


@require_POST
@role_required(*WALK_IN_ROLES)
def queue_walk_in(request):
    """POST patient=<id>&practitioner=<id>&priority=<code>&reason=: add a walk-in to today's queue.
    A patient the caller may not see is 404; other problems come back as a notice above the table."""
    shown = _practitioner_shown(request, request.POST.get("view_practitioner"))
    if not request.POST.get("patient"):
        return _after_write(request, shown, notice="Choose the patient.")
    patient = patient_get(request.user, request.POST["patient"])  # NotFoundOrForbidden -> 404
    try:
        practitioner_id = int(request.POST.get("practitioner", ""))
    except ValueError:
        return _after_write(request, shown, notice="Choose the practitioner.")
    reason = request.POST.get("reason", "").strip()
    try:
        if not 0 < practitioner_id < 2**63:
            raise ValidationError({"practitioner": "Unknown practitioner."})
        practitioner = walk_in_practitioner(practitioner_id)
        services.queue_add_walk_in(
            patient=patient,
            practitioner=practitioner,
            location=walk_in_location(practitioner),
            reason=reason,
            priority=request.POST.get("priority", TriagePriority.NON_URGENT),
            by=request.user,
            request=request,
        )
    except ValidationError as exc:
        return _after_write(request, shown, notice=" ".join(exc.messages))
    name = f"{patient.given_names} {patient.family_name}".strip()
    return _after_write(request, shown, notice=f"{name} added to the queue of {practitioner.display_name}.")
