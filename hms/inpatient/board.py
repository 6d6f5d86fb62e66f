"""Reads of the live bed board: wards, their beds, who lies in each and for how long.

Who may watch a board (`board_may_watch`, `BOARD_ROLES`): every active staff user (admin, doctor, nurse,
receptionist, pharmacist, lab technician, billing); patients never. Where a patient is shown, how much of
them depends on the patient selectors (`hms.patients.selectors.patients_visible`), never on the role alone:

- the viewer may see the patient's record (`patients_visible`: admin, reception, billing, pharmacy and lab
  see the demographics of every live patient; doctors and nurses those in their care: their encounters,
  appointments and, with the ADT module, their ward's admissions): full name, MRN, age, a link to the chart;
- otherwise (a doctor or nurse of another ward): initials and age only (`"J. S."`, `"42"`; `"~40"` when
  the birth date is estimated).

The board itself is ward data (not PHI); the bed rows name patients, so the page that shows them writes one
AuditEvent (action `search`, `patient_ids` = every patient on the board, `detail.identified` = the ones shown
in full) per read, in the view (`hms.portal.bedboard_views`).

Numbers per ward (`WardBoard`):
- `total`: active beds of the ward (beds under the ward's rooms: building > ward > room > bed);
- `in_service` = total - out of service; `occupied`: beds holding a current `BedStay` (a bed whose status
  says occupied without a stay is counted as occupied too, and shown without a patient, so the two never
  disagree silently); `free`: beds with status free and no current stay;
- `occupancy_pct` = occupied / in_service x 100, a Decimal with one decimal place (ROUND_HALF_UP), None
  when the ward has no bed in service.
Length of stay: from `Admission.admitted_at` (not the current bed stay's start: a transfer does not reset
it) to now, shown as "5 h" under a day and "3 d 4 h" after; `los_days` = whole days elapsed.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet
from django.utils import timezone

from hms.accounts.roles import STAFF_ROLES
from hms.patients.selectors import patients_visible

from .models import BedStatus, BedStay, Location, PhysicalType
from .selectors import beds_in

BOARD_ROLES = frozenset(str(r) for r in STAFF_ROLES)


def board_may_watch(user) -> bool:
    """May `user` open a bed board or its WebSocket? Any active staff user; anonymous users and patients
    never."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return getattr(user, "role", None) in BOARD_ROLES


def wards_for_board() -> QuerySet[Location]:
    """Active wards, ordered by building, then the ward's sort order and name. Not PHI."""
    return (
        Location.objects.filter(physical_type=PhysicalType.WARD, active=True)
        .select_related("parent")
        .order_by("parent__sort_order", "parent__name", "sort_order", "name", "id")
    )


def ward_for_board(pk) -> Location | None:
    """The active ward with primary key `pk`, or None (bad id, not a ward, inactive)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return wards_for_board().filter(pk=pk).first()


def initials(patient) -> str:
    """ "Jane Mary Smith" -> "J. S." (first given name and family name); "?" parts when unknown."""
    given = (patient.given_names or "").split()
    family = (patient.family_name or "").strip()
    first = given[0][0].upper() if given else "?"
    last = family[0].upper() if family else "?"
    return f"{first}. {last}."


def age_label(patient, today: dt.date) -> str:
    """Age in whole years on `today`, prefixed with "~" when the birth date is an estimate."""
    age = patient.age_on(today)
    return f"~{age}" if getattr(patient, "birth_date_estimated", False) else str(age)


def los_label(delta: dt.timedelta) -> str:
    """Length of stay for the board: "45 min", "5 h", "3 d 4 h"."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours = rest // 3600
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h"
    return f"{rest // 60} min"


@dataclass
class BedRow:
    """One bed on the board. Patient fields are empty for an empty bed; `identified` says whether the
    viewer sees the full identity (`name`, `mrn`, `patient_id` for the chart link) or only `initials`."""

    bed: Location
    room: Location | None
    status: str
    status_label: str
    isolation: str
    stay: BedStay | None = None
    identified: bool = False
    name: str = ""
    mrn: str = ""
    patient_id: int | None = None
    initials: str = ""
    age: str = ""
    gender: str = ""
    identity_unknown: bool = False
    admitted_at: dt.datetime | None = None
    los: str = ""
    los_days: int | None = None


@dataclass
class WardBoard:
    """A ward, its bed rows in order (room, bed), and its counts (see the module docstring)."""

    ward: Location
    beds: list[BedRow] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.beds)

    @property
    def out_of_service(self) -> int:
        return sum(1 for b in self.beds if b.status == BedStatus.OUT_OF_SERVICE)

    @property
    def in_service(self) -> int:
        return self.total - self.out_of_service

    @property
    def occupied(self) -> int:
        return sum(1 for b in self.beds if b.status == BedStatus.OCCUPIED)

    @property
    def free(self) -> int:
        return sum(1 for b in self.beds if b.status == BedStatus.FREE)

    @property
    def cleaning(self) -> int:
        return sum(1 for b in self.beds if b.status == BedStatus.CLEANING)

    @property
    def reserved(self) -> int:
        return sum(1 for b in self.beds if b.status == BedStatus.RESERVED)

    @property
    def occupancy_pct(self) -> Decimal | None:
        if not self.in_service:
            return None
        return (Decimal(self.occupied) * 100 / Decimal(self.in_service)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )

    @property
    def patient_ids(self) -> list[int]:
        return [b.stay.admission.patient_id for b in self.beds if b.stay is not None]


def _beds_of(ward_ids: list[int]) -> list[Location]:
    """Active beds of the wards, in board order (through `hms.inpatient.selectors.beds_in`)."""
    return list(beds_in(ward_ids).filter(active=True))


def ward_boards(user, wards, *, now: dt.datetime | None = None) -> list[WardBoard]:
    """The board of each ward in `wards` (Location rows of type ward) as seen by `user`.

    Four queries whatever the number of beds: beds, current bed stays (with admission and patient),
    and the viewer's visible patients among those on the board. The caller audits the read (the
    patients are `board.patient_ids`). An anonymous or patient `user` sees every patient as initials.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    wards = list(wards)
    boards = {w.pk: WardBoard(ward=w) for w in wards}
    beds = _beds_of(list(boards))
    stays = {
        s.bed_id: s
        for s in BedStay.objects.filter(end__isnull=True, bed__in=[b.pk for b in beds]).select_related(
            "admission__patient"
        )
    }
    patient_ids = {s.admission.patient_id for s in stays.values()}
    visible: set[int] = set()
    if patient_ids and board_may_watch(user):
        visible = set(patients_visible(user).filter(pk__in=patient_ids).values_list("pk", flat=True))
    labels = dict(BedStatus.choices)
    for bed in beds:
        parent = bed.parent
        room = parent if parent is not None and parent.physical_type == PhysicalType.ROOM else None
        ward_id = room.parent_id if room is not None else bed.parent_id
        stay = stays.get(bed.pk)
        status = BedStatus.OCCUPIED if stay is not None else bed.status
        row = BedRow(
            bed=bed,
            room=room,
            status=status,
            status_label=labels.get(status, status),
            isolation=bed.isolation or (room.isolation if room is not None else ""),
            stay=stay,
        )
        if stay is not None:
            admission = stay.admission
            patient = admission.patient
            row.identified = patient.pk in visible
            row.initials = initials(patient)
            row.age = age_label(patient, today)
            row.gender = patient.gender
            row.identity_unknown = bool(getattr(patient, "identity_unknown", False))
            row.admitted_at = admission.admitted_at
            row.los = los_label(now - admission.admitted_at)
            row.los_days = max(0, (now - admission.admitted_at).days)
            if row.identified:
                row.name = patient.full_name
                row.mrn = patient.mrn
                row.patient_id = patient.pk
        boards[ward_id].beds.append(row)
    return [boards[w.pk] for w in wards]
