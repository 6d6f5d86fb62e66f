"""Reads of patients and their records, always scoped to the requesting user.

Who sees what (DESIGN.md "Who may see what"):

| role | demographics | clinical record |
|---|---|---|
| patient | only their own | only their own |
| doctor, nurse | patients in their care | patients in their care |
| receptionist, billing, pharmacist, lab technician | all live patients | none (later issues: orders) |
| admin | all, soft-deleted included | none |

"In their care" = an Encounter where the user's Practitioner is the performer or a participant (an admission's
inpatient encounter names the admitting doctor), an Appointment with them, or an active admission to a ward
they are assigned to (`inpatient.NurseWardAssignment`).
A record outside the user's scope is reported exactly like a missing one: `NotFoundOrForbidden` (404).

Search (one box for the front desk, `patient_search`):
- `YYYY-MM-DD` → date of birth equals (index `patient_dob`);
- digits (with spaces, `+`, `-`, `(`, `)`) → phone prefix, and also MRN equals when 9 digits
  (unique index on `mrn`; pattern index on `phone`);
- one word → family-name prefix matches, then given-name prefix matches, case-insensitive, each read in
  index order (`PatientNameSearch`);
- several words (up to 4) → each the start of the family name or of the given names
  (`UPPER(col) LIKE 'SMI%'`, served on PostgreSQL by the `text_pattern_ops` indexes of migration 0002).
"""

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.functions import Collate, Lower, Upper

from hms.accounts.roles import Role
from hms.core.errors import NotFoundOrForbidden

from .models import Patient

DEMOGRAPHICS_ROLES = frozenset(
    {Role.ADMIN, Role.RECEPTIONIST, Role.BILLING, Role.PHARMACIST, Role.LAB_TECHNICIAN}
)
CARE_ROLES = frozenset({Role.DOCTOR, Role.NURSE})


def _practitioner_id(user) -> int | None:
    practitioner = getattr(user, "practitioner", None)
    return practitioner.pk if practitioner is not None else None


def _in_care_filter(practitioner_id: int) -> Q:
    """`pk IN (patients of the practitioner's encounters UNION those they took part in UNION those with an
    appointment with them UNION those admitted to a ward they are assigned to)`. Any appointment counts
    except one entered in error (a cancelled or missed visit
    was still prepared for).

    One IN over a UNION lets PostgreSQL plan a semi-join driven by the practitioner's (few) encounters;
    `EXISTS(...) OR EXISTS(...)` would be a per-row filter, which walks the whole patient table when a
    list is ordered by name (hundreds of ms at 1,000,000 patients).
    """
    from hms.clinical.models import Encounter

    direct = Encounter.objects.filter(practitioner_id=practitioner_id).order_by().values("patient_id")
    team = (
        Encounter.participants.through.objects.filter(practitioner_id=practitioner_id)
        .order_by()
        .values("encounter__patient_id")
    )
    from hms.scheduling.models import Appointment

    booked = (
        Appointment.objects.filter(practitioner_id=practitioner_id)
        .exclude(status="entered-in-error")
        .order_by()
        .values("patient_id")
    )
    from hms.inpatient.models import Admission

    # Patients admitted (active admission) to a ward the practitioner is assigned to (NurseWardAssignment).
    on_ward = (
        Admission.objects.filter(status="active", ward__staff_assignments__practitioner_id=practitioner_id)
        .order_by()
        .values("patient_id")
    )
    return Q(pk__in=direct.union(team, booked, on_ward))


def patients_visible(user, *, include_deleted: bool = False) -> QuerySet[Patient]:
    """Patients whose demographics `user` may see. Soft-deleted ones only for admins asking for them."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    role = user.role
    qs = Patient.objects.all()
    if not (include_deleted and role == Role.ADMIN):
        qs = qs.filter(deleted_at__isnull=True)
    if role in DEMOGRAPHICS_ROLES:
        return qs
    if role in CARE_ROLES:
        pid = _practitioner_id(user)
        return qs.filter(_in_care_filter(pid)) if pid else qs.none()
    if role == Role.PATIENT:
        return qs.filter(user=user)
    return qs.none()


def patients_with_clinical_access(user) -> QuerySet[Patient]:
    """Patients whose clinical record (encounters, observations, ...) `user` may read."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Patient.objects.none()
    role = user.role
    if role in CARE_ROLES or role == Role.PATIENT:
        return patients_visible(user)
    return Patient.objects.none()


def patient_get(user, patient_id, *, include_deleted: bool = False) -> Patient:
    """The patient with pk `patient_id` if `user` may see them; else `NotFoundOrForbidden` (404)."""
    try:
        pk = int(patient_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    patient = patients_visible(user, include_deleted=include_deleted).filter(pk=pk).first()
    if patient is None:
        raise NotFoundOrForbidden()
    return patient


def patient_get_clinical(user, patient_id) -> Patient:
    """The patient if `user` may read their clinical record; else `NotFoundOrForbidden` (404)."""
    patient = patient_get(user, patient_id)
    if not can_read_clinical(user, patient):
        raise NotFoundOrForbidden()
    return patient


def can_read_clinical(user, patient: Patient) -> bool:
    return patients_with_clinical_access(user).filter(pk=patient.pk).exists()


def clinical_records(user, model, *, patient: Patient | None = None) -> QuerySet:
    """Live (not soft-deleted) rows of a clinical `model` whose patient `user` may read.

    `model` is any `PatientRecordModel` subclass or `clinical.Encounter`; pass `patient` to narrow to one.
    For a patient, lab reports and their result Observations appear only once released to them, and
    prescriptions only once signed (drafts stay with their prescriber).
    """
    qs = model.objects.filter(deleted_at__isnull=True)
    if getattr(user, "role", None) == Role.PATIENT and model._meta.label in _RELEASE_GATED:
        # A patient sees lab results only once released (the rule lives in hms.lab.selectors).
        from hms.lab.selectors import hide_unreleased

        qs = hide_unreleased(user, qs)
    if getattr(user, "role", None) == Role.PATIENT and model._meta.label == "pharmacy.MedicationRequest":
        qs = qs.exclude(status="draft")  # a prescription reaches the patient once signed
    if patient is not None:
        if not can_read_clinical(user, patient):
            return qs.none()
        return qs.filter(patient=patient)
    return qs.filter(patient__in=patients_with_clinical_access(user))


_RELEASE_GATED = frozenset({"clinical.Observation", "lab.DiagnosticReport"})


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PHONE_PUNCTUATION = re.compile(r"[\s()+.-]")
MAX_SEARCH_WORDS = 4


def patient_search_q(term: str) -> Q:
    """The filter for one search box value (see module docstring). Raises ValidationError on a
    malformed date."""
    term = " ".join(term.split())
    if not term:
        return Q()
    if _DATE.match(term):
        try:
            return Q(date_of_birth=dt.date.fromisoformat(term))
        except ValueError:
            raise ValidationError({"search": "Not a valid date (YYYY-MM-DD)."}) from None
    digits = _PHONE_PUNCTUATION.sub("", term)
    if digits.isdigit():
        q = Q(phone__startswith=term)
        if len(digits) == 9:
            q |= Q(mrn=digits)
        return q
    q = Q()
    for word in term.split(" ")[:MAX_SEARCH_WORDS]:
        q &= Q(family_name__istartswith=word) | Q(given_names__istartswith=word)
    return q


def _name_key(field: str):
    """Case-insensitive sort/match key of a name column: `UPPER(col) COLLATE "C"` on PostgreSQL (served by
    the `patient_family_key`/`patient_given_key` indexes of migration 0003), `UPPER(col)` elsewhere (SQLite
    compares bytes already)."""
    from django.db import connection

    key = Upper(field)
    return Collate(key, "C") if connection.vendor == "postgresql" else key


def _prefix_range(prefix: str) -> tuple[str, str | None]:
    """[low, high) bounds of the strings starting with `prefix` in byte/code-point order."""
    last = prefix[-1]
    if ord(last) >= 0x10FFFF:
        return prefix, None
    return prefix, prefix[:-1] + chr(ord(last) + 1)


def _name_prefix(qs: QuerySet[Patient], field: str, alias: str, prefix: str) -> QuerySet[Patient]:
    low, high = _prefix_range(prefix.upper())
    qs = qs.alias(**{alias: _name_key(field)}).filter(**{f"{alias}__gte": low})
    return qs.filter(**{f"{alias}__lt": high}) if high is not None else qs


class PatientNameSearch:
    """The matches of a one-word name search, as a lazily sliced sequence.

    Order: patients whose family name starts with the word (by family, given, id), then those whose
    given name starts with it but not their family name (by given, family, id). Each part is read in
    order from its own index (`patient_family_key`, `patient_given_key` on PostgreSQL), so a page costs
    two short index range scans however common the prefix ("Mar" matches 4% of a million patients;
    sorting all of them took ~200 ms). Supports `[a:b]` (-> list), `capped_count(cap)`, `filter(...)`.
    """

    def __init__(self, family: QuerySet[Patient], given: QuerySet[Patient]):
        self.family, self.given = family, given

    def filter(self, *args, **kwargs) -> "PatientNameSearch":
        return PatientNameSearch(self.family.filter(*args, **kwargs), self.given.filter(*args, **kwargs))

    def __getitem__(self, item):
        if not isinstance(item, slice) or item.step not in (None, 1):
            raise TypeError("PatientNameSearch supports [start:stop] slices only")
        start, stop = item.start or 0, item.stop
        if stop is None or start < 0 or stop < start:
            raise ValueError("a bounded, non-negative slice is required")
        rows = list(self.family[start:stop])
        if len(rows) == stop - start:
            return rows
        n_family = start + len(rows) if rows or start == 0 else self.family.count()
        offset = max(0, start - n_family)
        return rows + list(self.given[offset : offset + (stop - start - len(rows))])

    def capped_count(self, cap: int) -> int:
        first = self.family.order_by()[: cap + 1].count()
        if first > cap:
            return first
        return first + self.given.order_by()[: cap + 1 - first].count()


def patient_search_in(qs: QuerySet[Patient], term: str) -> "QuerySet[Patient] | PatientNameSearch":
    """Narrow an already scoped patient queryset `qs` to the search box value `term`.

    One word of letters -> a `PatientNameSearch` (family-name prefix matches first, then given-name
    prefix matches); anything else -> a QuerySet filtered by `patient_search_q` and ordered by name.
    Raises ValidationError on a malformed date.
    """
    term = " ".join((term or "").split())
    if not term:
        return qs.none()
    if " " not in term and not _DATE.match(term) and not _PHONE_PUNCTUATION.sub("", term).isdigit():
        family = _name_prefix(qs, "family_name", "_family_key", term)
        family = family.order_by(_name_key("family_name"), _name_key("given_names"), "id")
        given = _name_prefix(qs, "given_names", "_given_key", term)
        low, high = _prefix_range(term.upper())
        not_family = Q(_family_key__lt=low) | (Q(_family_key__gte=high) if high is not None else Q(pk__in=[]))
        given = given.alias(_family_key=_name_key("family_name")).filter(not_family)
        given = given.order_by(_name_key("given_names"), _name_key("family_name"), "id")
        return PatientNameSearch(family, given)
    return qs.filter(patient_search_q(term)).order_by(Lower("family_name"), Lower("given_names"), "id")


def patient_search(user, term: str) -> "QuerySet[Patient] | PatientNameSearch":
    """Patients visible to `user` matching the search box value `term` (name prefixes, MRN, phone,
    date of birth; see `patient_search_q` and `patient_search_in`). An empty `term` matches nobody.
    Slice the result (`[:25]`). Raises ValidationError on a malformed date."""
    return patient_search_in(patients_visible(user), term)
