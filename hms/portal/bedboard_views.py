"""Portal pages of the live bed board (issue 6).

- `portal:bed_overview` `/wards/`: the hospital overview: every active ward with its occupancy, free beds
  and counts per status, and a tile per bed (status, patient, length of stay, isolation).
- `portal:bed_board` `/wards/<pk>/board/`: one ward's board: a row per bed (room, bed, status, isolation,
  patient, age, admitted, length of stay). 404 for an unknown or inactive ward.
- `portal:bed_overview_table` `/wards/table/` and `portal:bed_board_table` `/wards/<pk>/board/table/`:
  the htmx fragments the pages re-read whenever their WebSocket (`/ws/beds/`, `/ws/beds/<pk>/`, see
  `hms.inpatient.consumers`) says a bed changed, after every reconnect, and once a minute as a fallback.

Who: every staff role (`hms.inpatient.board.BOARD_ROLES`); patients get 403, anonymous users the login page.
How much of a patient is shown (full name and MRN, or initials and age) is decided per patient by
`hms.patients.selectors.patients_visible` (see `hms.inpatient.board`). Each read that shows patients writes
one AuditEvent (action `search`, object type `inpatient.BedStay`, `patient_ids` = the patients on the
board, `detail` = {view, ward, identified}). Thin: reads through `hms.inpatient.board`, audit, render.
"""

from django.db import transaction
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.inpatient import board as board_reads
from hms.inpatient.api_reports import REPORT_ROLES
from hms.inpatient.live import beds_group
from hms.inpatient.models import BedStatus

from .access import role_required

BOARD_ROLES = tuple(board_reads.BOARD_ROLES)


def _audit_board(request, boards, *, view: str, ward_id: int | None) -> None:
    patients = sorted({pid for b in boards for pid in b.patient_ids})
    if not patients:
        return  # nobody on the board: no patient data was read
    identified = sorted({row.patient_id for b in boards for row in b.beds if row.identified})
    with transaction.atomic():
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=patients,
            object_type="inpatient.BedStay",
            channel="web",
            detail={"view": view, "ward": ward_id, "identified": identified},
        )


def _ward_or_404(pk):
    ward = board_reads.ward_for_board(pk)
    if ward is None:
        raise Http404("No such ward.")
    return ward


def _ward_context(request, ward) -> dict:
    (ward_board,) = board_reads.ward_boards(request.user, [ward])
    _audit_board(request, [ward_board], view="bed_board", ward_id=ward.pk)
    return {"ward": ward, "board": ward_board, "statuses": BedStatus.choices}


def _overview_context(request) -> dict:
    boards = board_reads.ward_boards(request.user, board_reads.wards_for_board())
    _audit_board(request, boards, view="bed_overview", ward_id=None)
    totals = {
        "total": sum(b.total for b in boards),
        "in_service": sum(b.in_service for b in boards),
        "occupied": sum(b.occupied for b in boards),
        "free": sum(b.free for b in boards),
    }
    return {"boards": boards, "totals": totals}


@require_GET
@role_required(*BOARD_ROLES)
def bed_overview(request):
    """/wards/: every ward's occupancy and beds, live."""
    context = _overview_context(request)
    context.update(
        {
            "ws_path": "/ws/beds/",
            "ws_group": beds_group(None),
            "can_read_reports": request.user.role in REPORT_ROLES,
        }
    )
    return render(request, "portal/bedboard/overview.html", context)


@require_GET
@role_required(*BOARD_ROLES)
def bed_overview_table(request):
    """/wards/table/: the overview's fragment (htmx)."""
    return render(request, "portal/bedboard/_overview_table.html", _overview_context(request))


@require_GET
@role_required(*BOARD_ROLES)
def bed_board(request, pk: int):
    """/wards/<pk>/board/: one ward's beds, live."""
    ward = _ward_or_404(pk)
    context = _ward_context(request, ward)
    context.update({"ws_path": f"/ws/beds/{ward.pk}/", "ws_group": beds_group(ward.pk)})
    return render(request, "portal/bedboard/ward.html", context)


@require_GET
@role_required(*BOARD_ROLES)
def bed_board_table(request, pk: int):
    """/wards/<pk>/board/table/: the ward board's fragment (htmx)."""
    ward = _ward_or_404(pk)
    return render(request, "portal/bedboard/_ward_table.html", _ward_context(request, ward))
