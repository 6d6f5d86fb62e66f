"""Portal pages of the emergency department and the patient's emergency button.

- `portal:ed_board` `/ed/board/`: the tracking board (doctors, nurses): waiting patients (untriaged first,
  then ESI 1→5, then arrival) with waiting time and target, colour by level; the in-treatment list; the
  open patient emergency requests with each patient's allergies and problem list. Live: the page listens
  on `ws/ed/board/` (group `ed.board`) and re-reads `portal:ed_board_table` on every push and reconnect
  (plus every 60 s as a safety net).
- `portal:ed_board_table` `/ed/board/table/`: the board's body (htmx fragment).
- `portal:ed_arrival` `/ed/arrival/`: register an arrival (doctors, nurses, receptionists): a known
  patient found by search-as-you-type (`portal:ed_patient_search`), or an unknown one (sex, approximate
  age, features).
- `portal:ed_triage` `/ed/visits/<pk>/triage/`: triage (nurses): the ESI v4 decision points as guidance
  with a suggested level (`portal:ed_esi_suggest`, htmx), the level, complaint, vitals, note.
- `portal:ed_seen` / `portal:ed_depart` (POST) `/ed/visits/<pk>/seen|depart/`: doctor sees the patient;
  departure (discharged / left / admitted to a bed).
- `portal:ed_request_act` (POST) `/ed/requests/<pk>/<acknowledge|dispatch|close>/`: ED staff act on a
  patient's emergency request.
- `portal:emergency_request` `/me/emergency/`: the patient's emergency button (location text, optional
  browser geolocation, short description) → `portal:emergency_request_status` `/me/emergency/<pk>/`, the
  confirmation page showing each step (another patient's: 404).

Thin: reads through `hms.emergency.selectors`, writes through `hms.emergency.services` (which audit);
every PHI read writes an AuditEvent in the same transaction.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.vitals import ALL_SPECS, STAFF_KEYS
from hms.core.errors import Conflict
from hms.emergency import selectors, services
from hms.emergency.models import EdStatus
from hms.patients.models import Patient
from hms.patients.selectors import patient_search_in, patients_visible

from .access import role_required

ED_STAFF = (Role.DOCTOR, Role.NURSE)
ARRIVAL = (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST)
TRIAGE_VITALS = ("systolic", "diastolic", "heart_rate", "respiratory_rate", "temperature", "spo2", "pain")


def _messages_of(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    return list(getattr(exc, "messages", [str(exc)]))


# ---------------------------------------------------------------- the board


def _board_context(request) -> dict:
    """The board's rows, with one AuditEvent ("search") naming every patient shown and one emergency-
    access read for the requests' allergies and problem lists."""
    now = timezone.now()
    targets = services.target_minutes()
    waiting = list(selectors.ed_waiting(request.user))
    treating = list(selectors.ed_in_treatment(request.user))
    for visit in waiting + treating:
        end = visit.doctor_seen_at or now
        visit.waiting_minutes = max(0, int((end - visit.arrived_at).total_seconds() // 60))
        visit.target = targets.get(visit.esi_level) if visit.esi_level else None
        visit.late = (
            visit.target is not None and visit.doctor_seen_at is None and visit.waiting_minutes > visit.target
        )
    requests_open = list(selectors.emergency_requests_open(request.user))
    for row in requests_open:
        row.summary = selectors.request_clinical_summary(request.user, row.patient)
    shown = sorted({v.patient_id for v in waiting + treating} | {r.patient_id for r in requests_open})
    audit_record(
        action=AuditAction.SEARCH,
        request=request,
        patients=shown,
        object_type="emergency.EdVisit",
        channel="web",
        detail={"view": "ed_board"},
    )
    if requests_open:
        audit_record(
            action=AuditAction.READ,
            request=request,
            patients=sorted({r.patient_id for r in requests_open}),
            object_type="clinical.AllergyIntolerance",
            channel="web",
            detail={"view": "ed_board", "emergency_access": True, "reason": "emergency request"},
        )
    return {
        "waiting": waiting,
        "treating": treating,
        "requests_open": requests_open,
        "targets": sorted(targets.items()),
        "is_doctor": request.user.role == Role.DOCTOR,
        "is_nurse": request.user.role == Role.NURSE,
    }


@require_GET
@role_required(*ED_STAFF)
def ed_board(request):
    with transaction.atomic():
        context = _board_context(request)
    return render(request, "portal/ed/board.html", context)


@require_GET
@role_required(*ED_STAFF)
def ed_board_table(request):
    with transaction.atomic():
        context = _board_context(request)
    return render(request, "portal/ed/_board.html", context)


# ---------------------------------------------------------------- arrival


class UnknownForm(forms.Form):
    gender = forms.ChoiceField(
        label="Sex",
        choices=[("male", "Male"), ("female", "Female"), ("other", "Other"), ("unknown", "Unknown")],
    )
    approx_age = forms.IntegerField(label="Approximate age (years)", min_value=0, max_value=120)
    note = forms.CharField(label="Identifying features (optional)", required=False, max_length=500)


def _arrival_patients(user):
    """Whom the arrival page may pick: a receptionist's usual registry; ED clinicians any live patient
    (the visit puts the patient in their care)."""
    if user.role == Role.RECEPTIONIST:
        return patients_visible(user)
    return Patient.objects.filter(deleted_at__isnull=True, merged_into__isnull=True)


@require_GET
@role_required(*ARRIVAL)
def ed_patient_search(request):
    """htmx fragment: up to 10 patients matching `q` (name, MRN, phone, date of birth), as radio buttons."""
    term = (request.GET.get("q") or "").strip()[:100]
    rows = []
    if len(term) >= 2:
        try:
            rows = list(patient_search_in(_arrival_patients(request.user), term)[:10])
        except ValidationError:
            rows = []
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=[p.pk for p in rows],
            object_type="patients.Patient",
            channel="web",
            detail={"view": "ed_patient_search", "q": term},
        )
    return render(request, "portal/ed/_patients.html", {"rows": rows, "term": term})


@require_http_methods(["GET", "POST"])
@role_required(*ARRIVAL)
def ed_arrival(request):
    """GET: the arrival form. POST `kind=known` (patient=<id>) or `kind=unknown` (sex, age, features),
    chief_complaint: `ed_visit_create`, then to the board (staff) or back here (reception)."""
    errors: list[str] = []
    unknown_form = UnknownForm(request.POST if request.POST.get("kind") == "unknown" else None, prefix="u")
    status_code = 200
    if request.method == "POST":
        complaint = request.POST.get("chief_complaint", "")
        try:
            with transaction.atomic():
                if request.POST.get("kind") == "unknown":
                    if not unknown_form.is_valid():
                        raise ValidationError(dict(unknown_form.errors.items()))
                    visit = services.ed_visit_create(
                        by=request.user,
                        unknown=unknown_form.cleaned_data,
                        chief_complaint=complaint,
                        request=request,
                    )
                else:
                    patient = (
                        _arrival_patients(request.user).filter(pk=_int(request.POST.get("patient"))).first()
                    )
                    if patient is None:
                        raise ValidationError({"patient": "Choose the patient from the search results."})
                    visit = services.ed_visit_create(
                        by=request.user, patient=patient, chief_complaint=complaint, request=request
                    )
        except (ValidationError, Conflict, PermissionDenied) as exc:
            errors = _messages_of(exc)
            status_code = 400
        else:
            messages.success(
                request, f"Arrival registered: {visit.patient.family_name}, {visit.patient.given_names}."
            )
            if request.user.role in ED_STAFF:
                return redirect("portal:ed_board")
            return redirect("portal:ed_arrival")
    return render(
        request,
        "portal/ed/arrival.html",
        {"errors": errors, "unknown_form": unknown_form},
        status=status_code,
    )


def _int(raw) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return 0
    return value if 0 < value < 2**63 else 0


# ---------------------------------------------------------------- triage


class EsiForm(forms.Form):
    life_saving = forms.BooleanField(
        label="A. Needs an immediate life-saving intervention (airway, emergency drugs, circulation)?",
        required=False,
    )
    high_risk = forms.BooleanField(
        label="B. High-risk situation, confused / lethargic / disoriented, or severe pain or distress?",
        required=False,
    )
    resources = forms.TypedChoiceField(
        label="C. How many different resources are expected?",
        choices=[(0, "None"), (1, "One"), (2, "Two or more")],
        coerce=int,
        initial=2,
    )


@require_http_methods(["GET", "POST"])
@role_required(Role.NURSE)
def ed_triage(request, pk: int):
    """GET: the triage form with the ESI guidance. POST: `ed_triage` (400 with the errors shown)."""
    with transaction.atomic():
        visit = selectors.ed_visit_get(request.user, pk)
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=visit.patient,
            obj=visit,
            channel="web",
            detail={"view": "ed_triage"},
        )
    if visit.departed_at is not None:
        raise Http404
    errors: dict[str, list[str]] = {}
    values = {
        "chief_complaint": visit.chief_complaint,
        "esi_level": str(visit.esi_level or ""),
        "note": visit.triage_note,
        **dict.fromkeys(TRIAGE_VITALS, ""),
    }
    status_code = 200
    if request.method == "POST":
        values.update({k: request.POST.get(k, "").strip() for k in values})
        vitals = {k: values[k] for k in TRIAGE_VITALS if values[k]}
        try:
            services.ed_triage(
                visit=visit,
                chief_complaint=values["chief_complaint"],
                esi_level=values["esi_level"],
                vitals=vitals,
                note=values["note"],
                by=request.user,
                request=request,
            )
        except (ValidationError, Conflict) as exc:
            errors = exc.message_dict if hasattr(exc, "message_dict") else {"__all__": _messages_of(exc)}
            status_code = 400
        else:
            messages.success(request, f"Triaged: ESI {values['esi_level']}.")
            return redirect("portal:ed_board")
    fields = [(k, ALL_SPECS[k], values[k], errors.get(k, [])) for k in TRIAGE_VITALS if k in STAFF_KEYS]
    return render(
        request,
        "portal/ed/triage.html",
        {
            "visit": visit,
            "values": values,
            "errors": errors,
            "vital_fields": fields,
            "esi_form": EsiForm(),
            "levels": sorted(services.ESI_LABELS.items()),
            "targets": services.target_minutes(),
        },
        status=status_code,
    )


@require_POST
@role_required(*ED_STAFF)
def ed_esi_suggest(request):
    """htmx fragment: the level the decision points A-D give for the ticked answers (+ the typed vitals)."""
    form = EsiForm(request.POST)
    level = None
    if form.is_valid():
        vitals = {k: _int(request.POST.get(k)) or None for k in ("heart_rate", "respiratory_rate", "spo2")}
        level = services.esi_suggest(**form.cleaned_data, **vitals)
    return render(
        request, "portal/ed/_esi_suggestion.html", {"level": level, "label": services.ESI_LABELS.get(level)}
    )


# ---------------------------------------------------------------- seen, depart, requests


@require_POST
@role_required(Role.DOCTOR)
def ed_seen(request, pk: int):
    visit = selectors.ed_visit_get(request.user, pk)
    try:
        services.ed_seen(visit=visit, by=request.user, request=request)
    except Conflict as exc:
        messages.error(request, exc.message)
    return redirect("portal:ed_board")


@require_POST
@role_required(*ED_STAFF)
def ed_depart(request, pk: int):
    """POST disposition (discharged|left|admitted), bed (Location id, to admit), reason."""
    visit = selectors.ed_visit_get(request.user, pk)
    bed = None
    if request.POST.get("disposition") == EdStatus.ADMITTED and request.POST.get("bed"):
        from hms.inpatient.models import Location, PhysicalType

        bed = Location.objects.filter(
            pk=_int(request.POST.get("bed")), physical_type=PhysicalType.BED
        ).first()
    try:
        services.ed_depart(
            visit=visit,
            disposition=request.POST.get("disposition", ""),
            by=request.user,
            bed=bed,
            reason=request.POST.get("reason", ""),
            request=request,
        )
    except (ValidationError, Conflict, PermissionDenied, Http404) as exc:
        messages.error(request, " ".join(_messages_of(exc)) or "You cannot do this.")
    return redirect("portal:ed_board")


@require_POST
@role_required(*ED_STAFF)
def ed_request_act(request, pk: int, action: str):
    row = selectors.emergency_request_get(request.user, pk)
    try:
        if action == "acknowledge":
            services.emergency_request_acknowledge(emergency_request=row, by=request.user, request=request)
        elif action == "dispatch":
            services.emergency_request_dispatch(
                emergency_request=row, note=request.POST.get("note", ""), by=request.user, request=request
            )
        elif action == "close":
            services.emergency_request_close(
                emergency_request=row,
                outcome=request.POST.get("outcome", ""),
                by=request.user,
                request=request,
            )
        else:
            raise Http404
    except (ValidationError, Conflict) as exc:
        notice = " ".join(_messages_of(exc))
    else:
        notice = ""
    if request.htmx:
        with transaction.atomic():
            context = _board_context(request)
        return render(request, "portal/ed/_board.html", {**context, "notice": notice})
    if notice:
        messages.error(request, notice)
    return redirect("portal:ed_board")


# ---------------------------------------------------------------- the patient's button


class EmergencyRequestForm(forms.Form):
    description = forms.CharField(
        label="What is happening?", max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )
    location_text = forms.CharField(
        label="Where are you? (address, landmarks)", max_length=300, required=False
    )
    latitude = forms.DecimalField(label="Latitude", required=False, widget=forms.HiddenInput)
    longitude = forms.DecimalField(label="Longitude", required=False, widget=forms.HiddenInput)


@require_http_methods(["GET", "POST"])
@role_required(Role.PATIENT)
def emergency_request(request):
    """GET: the emergency button's form with the patient's recent requests. POST: `emergency_request_create`,
    then the status page (400 with field errors)."""
    form = EmergencyRequestForm(request.POST or None)
    status_code = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                row = services.emergency_request_create(by=request.user, **form.cleaned_data, request=request)
            except ValidationError as exc:
                for field, msgs in exc.message_dict.items():
                    for msg in msgs:
                        form.add_error(field if field in form.fields else None, msg)
            else:
                return redirect("portal:emergency_request_status", pk=row.pk)
        status_code = 400
    with transaction.atomic():
        recent = list(selectors.emergency_requests_visible(request.user).order_by("-created_at", "-id")[:5])
        if recent:
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                patients=[recent[0].patient_id],
                object_type="emergency.EmergencyRequest",
                channel="web",
                detail={"view": "emergency_request"},
            )
    return render(
        request, "portal/ed/request_form.html", {"form": form, "recent": recent}, status=status_code
    )


@require_GET
@role_required(Role.PATIENT)
def emergency_request_status(request, pk: int):
    """The confirmation / status page of one of the patient's own requests (another's: 404)."""
    with transaction.atomic():
        row = selectors.emergency_request_get(request.user, pk)
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=row.patient,
            obj=row,
            channel="web",
            detail={"view": "emergency_request_status"},
        )
    return render(
        request, "portal/ed/request_status.html", {"row": row, "board_url": reverse("portal:patient_home")}
    )
