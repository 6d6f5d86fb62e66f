"""Reads of the clinical record, scoped to the requesting user through `hms.patients.selectors`.

Every function takes the requesting `user`; a record outside their clinical scope is reported
exactly like a missing one (`NotFoundOrForbidden`, 404). Querysets come with the joins and
prefetches their readers need, so a page of the chart costs a fixed number of queries whatever the
size of the record (one per record type, not one per encounter).
"""

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from hms.core.errors import NotFoundOrForbidden
from hms.lab.models import DiagnosticReport
from hms.patients.models import Patient
from hms.patients.selectors import can_read_clinical, clinical_records
from hms.pharmacy.models import MedicationRequest

from .models import (
    AllergyIntolerance,
    CarePlan,
    Condition,
    Encounter,
    Immunization,
    Observation,
    Procedure,
)

# What an encounter holds, by the related name of its `encounter` foreign key.
ENCOUNTER_CONTENTS = {
    "conditions": Condition,
    "allergyintolerances": AllergyIntolerance,
    "observations": Observation,
    "medicationrequests": MedicationRequest,
    "immunizations": Immunization,
    "procedures": Procedure,
    "diagnosticreports": DiagnosticReport,
    "careplans": CarePlan,
}


def _live(model, user=None) -> QuerySet:
    qs = model.objects.filter(deleted_at__isnull=True)
    if user is not None and model in (Observation, DiagnosticReport):
        from hms.lab.selectors import hide_unreleased

        qs = hide_unreleased(user, qs)  # a patient sees lab results once released
    if model is MedicationRequest:
        qs = qs.select_related("requester")
    elif model is DiagnosticReport:
        qs = qs.prefetch_related(Prefetch("results", queryset=Observation.objects.only("id")))
    return qs


def _with_contents(queryset: QuerySet[Encounter], user=None) -> QuerySet[Encounter]:
    return queryset.select_related("practitioner", "organization").prefetch_related(
        "participants",
        *(Prefetch(name, queryset=_live(model, user)) for name, model in ENCOUNTER_CONTENTS.items()),
    )


def patient_history(*, user, patient: Patient) -> QuerySet[Encounter]:
    """The patient's encounters, newest first, each with what was recorded in it (prefetched).

    Raises `NotFoundOrForbidden` unless `user` may read the patient's clinical record. Slice or
    paginate before evaluating: prefetches then run for that page only.
    """
    if not can_read_clinical(user, patient):
        raise NotFoundOrForbidden()
    return _with_contents(
        clinical_records(user, Encounter, patient=patient).order_by("-period_start", "-id"), user
    )


def encounter_of_patient(
    *, user, patient: Patient, encounter_id, field: str = "encounter"
) -> Encounter | None:
    """The live encounter `encounter_id` of `patient` that `user` may read, for a write that names one
    (an order, a prescription, a diagnosis, a procedure); None when `encounter_id` is None.

    Raises `ValidationError` {field: ...} (400) when it is not one of this patient's encounters the user
    may read: the one check every interface uses, through the scoped `clinical_records`.
    """
    if encounter_id is None or encounter_id == "":
        return None
    from django.core.exceptions import ValidationError

    try:
        pk = int(encounter_id)
    except (TypeError, ValueError):
        pk = 0
    encounter = clinical_records(user, Encounter, patient=patient).filter(pk=pk).first() if pk > 0 else None
    if encounter is None:
        raise ValidationError({field: "This visit is not one of this patient's."})
    return encounter


def encounter_get(*, user, encounter_id) -> Encounter:
    """One live encounter with its contents, if `user` may read its patient's clinical record."""
    try:
        pk = int(encounter_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    encounter = (
        _with_contents(clinical_records(user, Encounter).filter(pk=pk), user)
        .select_related("patient")
        .first()
    )
    if encounter is None:
        raise NotFoundOrForbidden()
    return encounter


def patient_records(*, user, patient: Patient, model) -> QuerySet:
    """Live rows of one clinical `model` (a `PatientRecordModel` subclass or `Encounter`) of `patient`,
    in the model's default order (newest first). Raises `NotFoundOrForbidden` outside the user's scope."""
    if not can_read_clinical(user, patient):
        raise NotFoundOrForbidden()
    qs = clinical_records(user, model, patient=patient)
    if model is Encounter:
        return qs.select_related("practitioner", "organization")
    if model is MedicationRequest:
        return qs.select_related("requester")
    if model is DiagnosticReport:
        return qs.prefetch_related(Prefetch("results", queryset=Observation.objects.only("id")))
    return qs


# ---------------------------------------------------------------- notes


def encounter_notes(*, user, encounter: Encounter) -> QuerySet:
    """Live notes of `encounter` (an encounter already read through `encounter_get`), oldest first, with
    their addenda (oldest first) and authors. Drafts are shown to their author only."""
    from .models import ClinicalNote, NoteAddendum, NoteStatus

    qs = clinical_records(user, ClinicalNote, patient=encounter.patient).filter(encounter=encounter)
    qs = qs.exclude(~Q(author_id=getattr(user, "pk", None)), status=NoteStatus.DRAFT)
    return (
        qs.select_related("author", "signed_by", "template")
        .prefetch_related(Prefetch("addenda", queryset=NoteAddendum.objects.select_related("author")))
        .order_by("created_at", "id")
    )


def notes_by_encounter(*, user, patient: Patient, encounter_ids) -> dict[int, list]:
    """{encounter id: its live notes visible to `user` (drafts to their author only), oldest first, with
    addenda} for a page of the patient's encounters, in two queries whatever the page size."""
    from .models import ClinicalNote, NoteAddendum, NoteStatus

    qs = (
        clinical_records(user, ClinicalNote, patient=patient)
        .filter(encounter_id__in=list(encounter_ids))
        .exclude(~Q(author_id=getattr(user, "pk", None)), status=NoteStatus.DRAFT)
        .select_related("author", "signed_by")
        .prefetch_related(Prefetch("addenda", queryset=NoteAddendum.objects.select_related("author")))
        .order_by("created_at", "id")
    )
    out: dict[int, list] = {pk: [] for pk in encounter_ids}
    for note in qs:
        out[note.encounter_id].append(note)
    return out


def note_get(*, user, note_id):
    """One live note the user may read (a draft only by its author), with its encounter and addenda;
    `NotFoundOrForbidden` (404) otherwise, including for malformed ids."""
    from .models import ClinicalNote, NoteAddendum, NoteStatus

    try:
        pk = int(note_id)
    except (TypeError, ValueError):
        raise NotFoundOrForbidden() from None
    if not 0 < pk < 2**63:
        raise NotFoundOrForbidden()
    note = (
        clinical_records(user, ClinicalNote)
        .filter(pk=pk)
        .exclude(~Q(author_id=getattr(user, "pk", None)), status=NoteStatus.DRAFT)
        .select_related("patient", "encounter", "author", "signed_by", "template")
        .prefetch_related(Prefetch("addenda", queryset=NoteAddendum.objects.select_related("author")))
        .first()
    )
    if note is None:
        raise NotFoundOrForbidden()
    return note


# ---------------------------------------------------------------- timeline

# Each source reads at most this many of its newest rows in the asked window: the merged timeline holds
# at most (sources x limit) items, which bounds the cost of a page whatever the size of the record.
TIMELINE_SOURCE_LIMIT = 500


class TimelineList(list):
    """The merged items, newest first. `older_before`: None when the list is complete; else an aware
    datetime: the items strictly older than it were left out (a source hit `TIMELINE_SOURCE_LIMIT`) and are
    read by asking again with `date_to=older_before`. `capped_count` lets `CappedCountPagination` page it
    like a queryset."""

    older_before = None

    def capped_count(self, cap: int) -> int:
        return min(len(self), cap + 1)


def patient_timeline(*, user, patient: Patient, kinds=None, date_from=None, date_to=None) -> TimelineList:
    """The patient's history as one list of `hms.clinical.timeline.TimelineItem`, newest first.

    - `kinds`: iterable of kind names (see `timeline_kinds()`); None or empty = all. An unknown kind is a
      `ValidationError` (400, field `kind`).
    - `date_from` / `date_to`: aware datetimes, items with `date_from <= at < date_to`; None = open.
    - Every registered source reads through the scoped selectors; `NotFoundOrForbidden` (404) unless
      `user` may read the patient's clinical record.
    - Each clinical source reads at most `TIMELINE_SOURCE_LIMIT` of its newest rows (a source with another
      cap says so in a `timeline_limit` attribute, see `limited_source`). When one returns that many, the
      list stops where that source's rows stop (so no other kind runs on further back than it), and
      `older_before` says where to continue; the list is therefore always gap-free.
    """
    import datetime as dt

    from django.core.exceptions import ValidationError

    from .timeline import timeline_sources

    if not can_read_clinical(user, patient):
        raise NotFoundOrForbidden()
    sources = timeline_sources()
    wanted = {k for k in (kinds or []) if k}
    unknown = wanted - set(sources)
    if unknown:
        raise ValidationError(
            {"kind": f"Unknown kind {sorted(unknown)[0]!r}; choose from {', '.join(sorted(sources))}."}
        )
    merged, horizon = [], None
    for kind, source in sources.items():
        if wanted and kind not in wanted:
            continue
        rows = list(source(user, patient, date_from=date_from, date_to=date_to))
        if len(rows) >= (getattr(source, "timeline_limit", None) or TIMELINE_SOURCE_LIMIT):
            oldest = min(r.at for r in rows)
            horizon = oldest if horizon is None else max(horizon, oldest)
        merged.extend(rows)
    items = TimelineList()
    if horizon is None:
        items.extend(merged)
    else:
        # Rows at the horizon instant itself may have been cut from the truncated source: show only what is
        # strictly newer, and continue from the horizon inclusive (`date_to` is exclusive, hence +1 µs).
        items.extend(i for i in merged if i.at > horizon)
        items.older_before = horizon + dt.timedelta(microseconds=1)
    items.sort(key=lambda i: (i.at, i.kind, i.object_id or 0), reverse=True)
    return items


def limited_source(source, limit: int):
    """`source` marked with the most rows it returns (`timeline_limit`), for a source capped at a number
    other than `TIMELINE_SOURCE_LIMIT`; register the result."""

    def wrapped(user, patient, *, date_from=None, date_to=None):
        return source(user, patient, date_from=date_from, date_to=date_to)

    wrapped.timeline_limit = limit
    wrapped.__doc__ = source.__doc__
    return wrapped


def timeline_kinds() -> list[str]:
    """The kinds registered now, sorted (for filters and the API schema)."""
    from .timeline import timeline_sources

    return sorted(timeline_sources())


def _timeline_rows(user, patient, model, date_field, *, date_from, date_to, queryset=None) -> list:
    """Newest live rows of `model` for `patient` in [date_from, date_to), by `date_field` falling back to
    `created_at` when empty; each row gets `_at` (aware datetime)."""
    from django.db.models import F
    from django.db.models.functions import Coalesce

    qs = queryset if queryset is not None else clinical_records(user, model, patient=patient)
    qs = qs.annotate(_at=Coalesce(F(date_field), F("created_at")))
    if date_from is not None:
        qs = qs.filter(_at__gte=date_from)
    if date_to is not None:
        qs = qs.filter(_at__lt=date_to)
    return list(qs.order_by("-_at", "-id")[:TIMELINE_SOURCE_LIMIT])


def _encounter_url(user, encounter_id) -> str:
    """The encounter screen for clinicians; empty for others (the patient reads the record pages)."""
    from django.urls import NoReverseMatch, reverse

    from hms.patients.selectors import CARE_ROLES

    if encounter_id is None or getattr(user, "role", None) not in CARE_ROLES:
        return ""
    try:
        return reverse("portal:encounter", args=[encounter_id])
    except NoReverseMatch:
        return ""


def _item(kind, user, row, title, detail="", *, encounter_id=None):
    from .timeline import TimelineItem

    return TimelineItem(
        kind=kind,
        at=row._at,
        title=(title or "")[:300],
        detail=(detail or "")[:500],
        encounter_id=encounter_id,
        object_type=f"{row._meta.app_label}.{type(row).__name__}",
        object_id=row.pk,
        url=_encounter_url(user, encounter_id),
    )


def timeline_encounters(user, patient, *, date_from=None, date_to=None):
    qs = clinical_records(user, Encounter, patient=patient).select_related("practitioner")
    for e in _timeline_rows(
        user, patient, Encounter, "period_start", date_from=date_from, date_to=date_to, queryset=qs
    ):
        title = f"{e.get_encounter_class_display()}: {e.code_display or e.reason_display or 'visit'}"
        who = e.practitioner.display_name if e.practitioner else ""
        yield _item(
            "encounter",
            user,
            e,
            title,
            " · ".join(x for x in (e.get_status_display(), who) if x),
            encounter_id=e.pk,
        )


def timeline_notes(user, patient, *, date_from=None, date_to=None):
    from .models import ClinicalNote, NoteKind, NoteStatus

    qs = (
        clinical_records(user, ClinicalNote, patient=patient)
        .exclude(~Q(author_id=getattr(user, "pk", None)), status=NoteStatus.DRAFT)
        .select_related("author")
    )
    for n in _timeline_rows(
        user, patient, ClinicalNote, "signed_at", date_from=date_from, date_to=date_to, queryset=qs
    ):
        text = n.body if n.kind == NoteKind.NURSING else (n.assessment or n.subjective)
        author = n.author.get_full_name() or n.author.username
        yield _item(
            "note",
            user,
            n,
            f"{n.get_kind_display()} ({n.get_status_display().lower()})",
            f"{author}: {text}",
            encounter_id=n.encounter_id,
        )


def timeline_conditions(user, patient, *, date_from=None, date_to=None):
    for c in _timeline_rows(user, patient, Condition, "onset_at", date_from=date_from, date_to=date_to):
        role = f"{c.diagnosis_role} diagnosis · " if c.diagnosis_role else ""
        yield _item(
            "diagnosis",
            user,
            c,
            c.code_display or c.code,
            f"{role}{c.clinical_status} · {c.code}",
            encounter_id=c.encounter_id,
        )


def timeline_allergies(user, patient, *, date_from=None, date_to=None):
    for a in _timeline_rows(
        user, patient, AllergyIntolerance, "recorded_at", date_from=date_from, date_to=date_to
    ):
        detail = " · ".join(
            x for x in (a.category, a.criticality and f"criticality {a.criticality}", a.clinical_status) if x
        )
        yield _item("allergy", user, a, a.code_display or a.code, detail, encounter_id=a.encounter_id)


def timeline_vitals(user, patient, *, date_from=None, date_to=None):
    qs = clinical_records(user, Observation, patient=patient).filter(category="vital-signs")
    for o in _timeline_rows(
        user, patient, Observation, "effective_at", date_from=date_from, date_to=date_to, queryset=qs
    ):
        yield _item("vital", user, o, o.code_display or o.code, o.display_value, encounter_id=o.encounter_id)


def timeline_observations(user, patient, *, date_from=None, date_to=None):
    """Observations other than vital signs. A laboratory observation that belongs to a lab report is left
    to the report (the lab module's `result` source, when registered), so it is not listed twice."""
    from .timeline import timeline_sources

    qs = clinical_records(user, Observation, patient=patient).exclude(category="vital-signs")
    if "result" in timeline_sources():
        in_report = DiagnosticReport.results.through.objects.filter(observation_id=OuterRef("pk"))
        qs = qs.exclude(Q(category="laboratory") & Exists(in_report))
    rows = _timeline_rows(
        user, patient, Observation, "effective_at", date_from=date_from, date_to=date_to, queryset=qs
    )
    for o in rows:
        yield _item(
            "observation", user, o, o.code_display or o.code, o.display_value, encounter_id=o.encounter_id
        )


def timeline_prescriptions(user, patient, *, date_from=None, date_to=None):
    qs = clinical_records(user, MedicationRequest, patient=patient).select_related("requester")
    for m in _timeline_rows(
        user, patient, MedicationRequest, "authored_on", date_from=date_from, date_to=date_to, queryset=qs
    ):
        detail = " · ".join(
            x for x in (m.dosage_text, m.status, m.requester.display_name if m.requester else "") if x
        )
        yield _item("prescription", user, m, m.code_display or m.code, detail, encounter_id=m.encounter_id)


def timeline_procedures(user, patient, *, date_from=None, date_to=None):
    for p in _timeline_rows(
        user, patient, Procedure, "performed_start", date_from=date_from, date_to=date_to
    ):
        yield _item(
            "procedure",
            user,
            p,
            p.code_display or p.code,
            p.reason_display and f"for {p.reason_display}",
            encounter_id=p.encounter_id,
        )


def timeline_immunizations(user, patient, *, date_from=None, date_to=None):
    for i in _timeline_rows(
        user, patient, Immunization, "occurrence_at", date_from=date_from, date_to=date_to
    ):
        yield _item("immunization", user, i, i.code_display or i.code, i.status, encounter_id=i.encounter_id)


def timeline_care_plans(user, patient, *, date_from=None, date_to=None):
    for c in _timeline_rows(user, patient, CarePlan, "period_start", date_from=date_from, date_to=date_to):
        yield _item(
            "care-plan",
            user,
            c,
            c.title or c.code_display or "Care plan",
            c.status,
            encounter_id=c.encounter_id,
        )


CLINICAL_TIMELINE_SOURCES = {
    "encounter": timeline_encounters,
    "note": timeline_notes,
    "diagnosis": timeline_conditions,
    "allergy": timeline_allergies,
    "vital": timeline_vitals,
    "observation": timeline_observations,
    "prescription": timeline_prescriptions,
    "procedure": timeline_procedures,
    "immunization": timeline_immunizations,
    "care-plan": timeline_care_plans,
}
