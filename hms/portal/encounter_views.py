"""The doctor's encounter screen, its consultation-note section, starting and closing visits, and the
patient's timeline page.

Pages (URL names in the `portal` namespace):
- `encounter` `/encounters/<pk>/`: banner with allergies, the visit's facts, the close form (doctors),
  and the sections of the other issue-4 areas, each loaded as an htmx fragment when its URL exists;
- `encounter_note` `/encounters/<pk>/note/`: the notes fragment (GET) and its forms (POST `action` =
  `save` | `sign` | `addendum` | `nursing`), re-rendered in place by htmx;
- `encounter_close` `/encounters/<pk>/close/` (POST, doctors);
- `appointment_visit` `/appointments/<pk>/visit/`: POST (doctors) opens the appointment's visit (or the
  existing one) and goes to its screen; GET goes to the existing visit (doctors and nurses);
- `encounter_walk_in` `/patients/<pk>/walk-in/`: the walk-in form (doctors);
- `patient_timeline` `/patients/<pk>/timeline/`: the history with kind and date filters (htmx).

Thin: services of `hms.clinical.encounters` and `hms.clinical.notes` do the writes (and audit them);
reads go through `hms.clinical.selectors` (404 for missing and not-yours alike) and are audited here.
Bad input re-renders the form with field messages: status 400 for a plain request; 200 for an htmx one
(htmx does not swap error responses) with the messages in the fragment.
"""

import datetime as dt
import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical import encounters as encounter_services
from hms.clinical import notes as note_services
from hms.clinical import selectors
from hms.clinical.api_filters import _day_start
from hms.clinical.models import ClinicalNote, EncounterClass, NoteStatus, NoteTemplate
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.patients.models import Patient
from hms.patients.selectors import patient_get_clinical
from hms.scheduling.selectors import appointment_get

from . import queries
from .access import role_required

CLINICIANS = (Role.DOCTOR, Role.NURSE)
TIMELINE_READERS = (Role.DOCTOR, Role.NURSE, Role.PATIENT)
TIMELINE_PAGE = 50
# The sections of the encounter screen, in order: (title, URL name, owner area). A section whose URL is not
# wired yet is left out.
SECTIONS = [
    ("Consultation note", "portal:encounter_note"),
    ("Diagnoses", "portal:encounter_diagnoses"),
    ("Vital signs", "portal:encounter_vitals"),
    ("Orders", "portal:encounter_orders"),
    ("Prescriptions", "portal:encounter_prescriptions"),
    ("Documents", "portal:encounter_documents"),
    ("Care plan", "portal:encounter_plan"),
]


def _errors(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    if isinstance(exc, ValidationError):
        return list(exc.messages)
    return [str(exc)]


class CloseForm(forms.Form):
    disposition = forms.ChoiceField(
        label="Discharge disposition",
        choices=[("", "Choose…"), *encounter_services.DISCHARGE_DISPOSITIONS.items()],
    )


class WalkInForm(forms.Form):
    encounter_class = forms.ChoiceField(label="Type of visit", choices=EncounterClass.choices)
    reason = forms.CharField(label="Reason for the visit", max_length=500, required=False)


class SoapForm(forms.Form):
    subjective = forms.CharField(
        label="Subjective",
        required=False,
        max_length=note_services.MAX_SECTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=False,
    )
    objective = forms.CharField(
        label="Objective",
        required=False,
        max_length=note_services.MAX_SECTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=False,
    )
    assessment = forms.CharField(
        label="Assessment",
        required=False,
        max_length=note_services.MAX_SECTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        strip=False,
    )
    plan = forms.CharField(
        label="Plan",
        required=False,
        max_length=note_services.MAX_SECTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        strip=False,
    )


class AddendumForm(forms.Form):
    reason = forms.CharField(label="Why (reason for the addendum)", max_length=note_services.MAX_REASON_CHARS)
    text = forms.CharField(
        label="Addendum", max_length=note_services.MAX_SECTION_CHARS, widget=forms.Textarea(attrs={"rows": 3})
    )


class NursingNoteForm(forms.Form):
    body = forms.CharField(
        label="Nursing note",
        max_length=note_services.MAX_SECTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


def _section_urls(encounter) -> list[tuple[str, str, str]]:
    out = []
    for title, name in SECTIONS:
        try:
            out.append((title, name.split(":")[1], reverse(name, args=[encounter.pk])))
        except NoReverseMatch:
            continue
    return out


# ---------------------------------------------------------------- the encounter screen


@role_required(*CLINICIANS)
def encounter(request, pk: int):
    """/encounters/<pk>/: the encounter screen. 404 unless the encounter's patient is in the user's care.
    One "read" AuditEvent."""
    with transaction.atomic():
        enc = selectors.encounter_get(user=request.user, encounter_id=pk)
        patient = enc.patient
        context = {
            "encounter": enc,
            "patient": patient,
            "clinical": True,
            "allergies": queries.allergies_active(request.user, patient),
            "sections": _section_urls(enc),
            "is_open": enc.status in encounter_services.OPEN_STATUSES,
            "can_close": request.user.role == Role.DOCTOR and enc.status in encounter_services.OPEN_STATUSES,
            "close_form": CloseForm(),
            "disposition_display": encounter_services.DISCHARGE_DISPOSITIONS.get(
                enc.discharge_disposition, ""
            ),
        }
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=patient,
            obj=enc,
            channel="web",
            detail={"view": "encounter"},
        )
    return render(request, "portal/encounters/encounter.html", context)


@require_POST
@role_required(Role.DOCTOR)
def encounter_close(request, pk: int):
    """POST /encounters/<pk>/close/ {disposition}: finish the visit, back to the encounter screen with a
    message (the reason when refused)."""
    enc = selectors.encounter_get(user=request.user, encounter_id=pk)
    form = CloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a discharge disposition to close the visit.")
    else:
        try:
            encounter_services.encounter_close(
                encounter=enc, disposition=form.cleaned_data["disposition"], by=request.user, request=request
            )
        except (ValidationError, Conflict) as exc:
            for m in _errors(exc):
                messages.error(request, m)
        else:
            messages.success(request, "Visit closed.")
    return redirect("portal:encounter", pk=enc.pk)


@role_required(*CLINICIANS)
def appointment_visit(request, pk: int):
    """/appointments/<pk>/visit/: POST (doctor) opens the appointment's visit, or finds the one already
    open, and goes to its encounter screen; GET goes to an existing visit. Refusals go back to the agenda
    with the reason."""
    appointment = appointment_get(request.user, pk)
    if request.method == "POST":
        if request.user.role != Role.DOCTOR:
            raise PermissionDenied("Only doctors open visits.")
        try:
            enc, _created = encounter_services.encounter_start_from_appointment(
                appointment=appointment, by=request.user, request=request
            )
        except (ValidationError, Conflict, PermissionDenied) as exc:
            for m in _errors(exc):
                messages.error(request, m)
            day = timezone.localtime(appointment.start, zoneinfo.ZoneInfo(settings.HOSPITAL_TIME_ZONE)).date()
            return redirect(f"{reverse('portal:agenda')}?date={day.isoformat()}")
        return redirect("portal:encounter", pk=enc.pk)
    enc = selectors.clinical_records(request.user, _encounter_model()).filter(appointment=appointment).first()
    if enc is None:
        raise Http404()
    return redirect("portal:encounter", pk=enc.pk)


def _encounter_model():
    from hms.clinical.models import Encounter

    return Encounter


@role_required(Role.DOCTOR)
def encounter_walk_in(request, pk: int):
    """/patients/<pk>/walk-in/: the walk-in form (type of visit, reason); POST opens the encounter and goes
    to its screen. 404 unless the patient is in the doctor's care (the chart's link)."""
    patient = patient_get_clinical(request.user, pk)
    form = WalkInForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            enc = encounter_services.encounter_start_walk_in(
                patient=patient,
                encounter_class=form.cleaned_data["encounter_class"],
                reason=form.cleaned_data["reason"],
                by=request.user,
                request=request,
            )
        except ValidationError as exc:
            errors = _errors(exc)
        else:
            return redirect("portal:encounter", pk=enc.pk)
    context = {
        "patient": patient,
        "form": form,
        "errors": errors,
        "clinical": True,
        "allergies": queries.allergies_active(request.user, patient),
    }
    failed = request.method == "POST" and (errors or form.errors)
    return render(request, "portal/encounters/walk_in.html", context, status=400 if failed else 200)


# ---------------------------------------------------------------- the note section (htmx fragment)


def _note_context(
    request, enc, *, soap_form=None, nursing_form=None, addendum_forms=None, errors=None, template=None
):
    user = request.user
    notes = list(selectors.encounter_notes(user=user, encounter=enc))
    draft = next((n for n in notes if n.status == NoteStatus.DRAFT and n.author_id == user.pk), None)
    is_doctor = user.role == Role.DOCTOR
    if soap_form is None and is_doctor:
        if draft is not None:
            initial = {f: getattr(draft, f) for f in note_services.SOAP_FIELDS}
        elif template is not None:
            initial = {f: getattr(template, f) for f in note_services.SOAP_FIELDS}
        else:
            initial = {}
        soap_form = SoapForm(initial=initial)
    addendum_forms = addendum_forms or {}
    for n in notes:
        n.addendum_form = addendum_forms.get(n.pk) or AddendumForm(prefix=f"add{n.pk}")
    return {
        "encounter": enc,
        "notes": [n for n in notes if n.is_signed],
        "draft": draft,
        "is_doctor": is_doctor,
        "is_nurse": user.role == Role.NURSE,
        "soap_form": soap_form,
        "nursing_form": nursing_form or NursingNoteForm(),
        "templates": note_services.templates_for(user) if is_doctor and draft is None else [],
        "template": template,
        "errors": errors or [],
    }


def _render_note(request, context, *, failed=False):
    """The fragment for htmx; the note page for a plain GET or a refused plain POST; after a plain POST
    that worked, back to the encounter screen. A POST answered with the notes shown again writes its own
    "read" AuditEvent (the GET view writes one for the first display)."""
    enc = context["encounter"]
    shown = request.htmx or request.method == "GET" or failed
    if request.method == "POST" and shown:
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=enc.patient,
            object_type="clinical.ClinicalNote",
            channel="web",
            detail={"view": "encounter_note", "encounter": enc.pk, "after": "post"},
        )
    if request.htmx:
        return render(request, "portal/encounters/_note.html", context)
    if shown:
        context.update(
            patient=enc.patient, clinical=True, allergies=queries.allergies_active(request.user, enc.patient)
        )
        return render(request, "portal/encounters/note_page.html", context, status=400 if failed else 200)
    return redirect("portal:encounter", pk=enc.pk)


@role_required(*CLINICIANS)
def encounter_note(request, pk: int):
    """/encounters/<pk>/note/: the consultation-note section.

    GET: signed notes with their addenda (and an addendum form each), the doctor's own draft in a SOAP form
    (or a new one, with the template picker: `?template=<id>` fills the form), the nursing-note form for
    nurses. Audited ("read").
    POST `action`: `save` (create or update the doctor's draft), `sign` (save then sign), `addendum`
    (`note`, `add<id>-reason`, `add<id>-text`), `nursing` (`body`).
    """
    enc = selectors.encounter_get(user=request.user, encounter_id=pk)
    if request.method == "GET":
        template = None
        raw = request.GET.get("template") or ""
        if raw.isdigit() and len(raw) < 10 and request.user.role == Role.DOCTOR:
            template = next((t for t in note_services.templates_for(request.user) if t.pk == int(raw)), None)
        with transaction.atomic():
            context = _note_context(request, enc, template=template)
            audit_record(
                action=AuditAction.READ,
                request=request,
                patient=enc.patient,
                object_type="clinical.ClinicalNote",
                channel="web",
                detail={"view": "encounter_note", "encounter": enc.pk},
            )
        return _render_note(request, context)
    if request.method != "POST":
        raise Http404()
    action = request.POST.get("action", "")
    user = request.user
    try:
        if action in ("save", "sign") and user.role == Role.DOCTOR:
            form = SoapForm(request.POST)
            if not form.is_valid():
                return _render_note(request, _note_context(request, enc, soap_form=form), failed=True)
            draft = _own_draft(request, enc)
            if draft is None:
                template = _picked_template(request)
                draft = note_services.note_create_draft(
                    encounter=enc, by=user, template=template, request=request, **form.cleaned_data
                )
            else:
                draft = note_services.note_update(note=draft, by=user, request=request, **form.cleaned_data)
            if action == "sign":
                try:
                    note_services.note_sign(note=draft, by=user, request=request)
                except ValidationError as exc:
                    return _render_note(
                        request, _note_context(request, enc, soap_form=form, errors=_errors(exc)), failed=True
                    )
            return _render_note(request, _note_context(request, enc))
        if action == "addendum":
            note = selectors.note_get(user=user, note_id=request.POST.get("note"))
            if note.encounter_id != enc.pk:
                raise NotFoundOrForbidden()
            form = AddendumForm(request.POST, prefix=f"add{note.pk}")
            if not form.is_valid():
                return _render_note(
                    request, _note_context(request, enc, addendum_forms={note.pk: form}), failed=True
                )
            note_services.note_addendum_add(note=note, by=user, request=request, **form.cleaned_data)
            return _render_note(request, _note_context(request, enc))
        if action == "nursing" and user.role == Role.NURSE:
            form = NursingNoteForm(request.POST)
            if not form.is_valid():
                return _render_note(request, _note_context(request, enc, nursing_form=form), failed=True)
            note_services.nursing_note_create(
                encounter=enc, body=form.cleaned_data["body"], by=user, request=request
            )
            return _render_note(request, _note_context(request, enc))
    except (ValidationError, Conflict) as exc:
        return _render_note(request, _note_context(request, enc, errors=_errors(exc)), failed=True)
    return _render_note(request, _note_context(request, enc, errors=["Unknown action."]), failed=True)


def _own_draft(request, enc) -> ClinicalNote | None:
    return next(
        (
            n
            for n in selectors.encounter_notes(user=request.user, encounter=enc)
            if n.status == NoteStatus.DRAFT and n.author_id == request.user.pk
        ),
        None,
    )


def _picked_template(request) -> NoteTemplate | None:
    raw = request.POST.get("template") or ""
    if not (raw.isdigit() and len(raw) < 10):
        return None
    return NoteTemplate.objects.filter(pk=int(raw), is_active=True).first()


# ---------------------------------------------------------------- the patient's timeline


class TimelineFilterForm(forms.Form):
    kind = forms.ChoiceField(label="Type", required=False)
    date_from = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.DateTimeField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [
            ("", "Everything"),
            *((k, k.replace("-", " ").capitalize()) for k in selectors.timeline_kinds()),
        ]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "Must be on or after the start date.")
        return data


@role_required(*TIMELINE_READERS)
def patient_timeline(request, pk: int):
    """/patients/<pk>/timeline/?kind=&date_from=&date_to=&page=: the patient's history newest first,
    `TIMELINE_PAGE` items a page. htmx requests (the filters, "show older") get the list fragment only.
    404 unless the user may read the clinical record; 400 for bad filters. One "search" AuditEvent."""
    patient: Patient = patient_get_clinical(request.user, pk)
    form = TimelineFilterForm(request.GET or None)
    items, more, page, older_before = [], False, 1, None
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        status = 200
        data = form.cleaned_data if form.is_bound else {}
        raw_page = request.GET.get("page", "1")
        page = int(raw_page) if raw_page.isdigit() and len(raw_page) < 6 and int(raw_page) > 0 else 1
        date_to = data.get("date_to")
        upper = _day_start(date_to + dt.timedelta(days=1)) if date_to and date_to < dt.date.max else None
        if data.get("before") and (upper is None or data["before"] < upper):
            upper = data["before"]
        with transaction.atomic():
            all_items = selectors.patient_timeline(
                user=request.user,
                patient=patient,
                kinds=[data["kind"]] if data.get("kind") else None,
                date_from=_day_start(data["date_from"]) if data.get("date_from") else None,
                date_to=upper,
            )
            start = (page - 1) * TIMELINE_PAGE
            items = all_items[start : start + TIMELINE_PAGE]
            more = len(all_items) > start + TIMELINE_PAGE
            older_before = None if more else all_items.older_before
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                patient=patient,
                patients=[patient],
                object_type="clinical.Timeline",
                channel="web",
                detail={"view": "timeline", "query": {k: v[:100] for k, v in request.GET.items()}},
            )
    query = request.GET.copy()
    query["page"] = page + 1
    if older_before is not None:  # the next part of a very long history: from where this one stops
        query["page"] = 1
        query["before"] = older_before.isoformat()
    context = {
        "patient": patient,
        "form": form,
        "items": items,
        "more": more or older_before is not None,
        "page": page,
        "next_query": query.urlencode(),
        "clinical": True,
    }
    if request.htmx:
        return render(request, "portal/encounters/_timeline_items.html", context, status=200)
    context["allergies"] = queries.allergies_active(request.user, patient)
    return render(request, "portal/encounters/timeline.html", context, status=status)
