"""Portal pages of inpatient care: admit, the admission page (stays, transfer, discharge, PDF), emergency
quick admission of an unidentified patient, patient merge and the location tree for admins.

Pages (URL names in the `portal` namespace):
- `admit` `/patients/<pk>/admit/[?encounter=<id>]`: the admission form (doctors, nurses, receptionists);
  from the chart and from the encounter screen (the encounter becomes the source encounter);
- `admission` `/admissions/<pk>/`: the stay, its bed stays and bed-days, the transfer form (doctors,
  nurses), the discharge form with the summary (doctors), the PDF link once discharged;
  `admission_transfer`, `admission_discharge` (POST) and `admission_pdf` (GET) serve it;
- `quick_admit` `/emergency/quick-admit/`: register "Unknown, <sex> ~<age>" and admit in one form
  (doctors, nurses, receptionists);
- `patient_merge` `/patients/merge/`: pick the temporary record and the real patient (search as you type,
  htmx `patient_merge_search`), confirm with a reason (receptionists, admins);
- `locations` `/admin-home/locations/`: the tree with add and edit forms (admins); `location_edit`.

Thin: `hms.inpatient.services` do the writes (and audit them); reads go through `hms.inpatient.selectors`
and `hms.patients.selectors` (404 for missing and not-yours alike) and are audited here. Bad input
re-renders the form with the messages, status 400.
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from hms.accounts.roles import Role
from hms.audit.models import AuditAction
from hms.audit.services import audit_record
from hms.clinical.encounters import DISCHARGE_DISPOSITIONS
from hms.clinical.models import Encounter
from hms.core.errors import Conflict, NotFoundOrForbidden
from hms.inpatient import selectors, services
from hms.inpatient.models import AdmissionSource, AdmissionStatus, BedStatus, Location, PhysicalType, WardType
from hms.inpatient.summary_pdf import discharge_summary_pdf_export, summary_sections
from hms.patients.models import AdministrativeGender, Patient
from hms.patients.selectors import can_read_clinical, patient_get, patient_search
from hms.staff.models import Practitioner, PractitionerRole

from .access import role_required

ADMITTERS = (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST)
ADMISSION_READERS = (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.BILLING, Role.ADMIN)
MERGERS = (Role.RECEPTIONIST, Role.ADMIN)
SEARCH_LIMIT = 10


def _errors(exc: Exception) -> list[str]:
    if isinstance(exc, Conflict):
        return [exc.message]
    if isinstance(exc, ValidationError) and hasattr(exc, "message_dict"):
        return [m for msgs in exc.message_dict.values() for m in msgs]
    if isinstance(exc, ValidationError):
        return list(exc.messages)
    return [str(exc)]


def _doctor_choices():
    doctors = Practitioner.objects.filter(role=PractitionerRole.DOCTOR, user__is_active=True).order_by(
        "family_name", "given_names"
    )
    return [("", "Choose…"), *((d.pk, d.display_name) for d in doctors)]


def _bed_choices(*, exclude=None):
    """Beds that can take a patient now (free or reserved, active), grouped by ward."""
    groups: dict[str, list] = {}
    qs = selectors.beds_in().filter(
        status__in=[BedStatus.FREE, BedStatus.RESERVED],
        active=True,
        parent__active=True,
        parent__parent__active=True,
    )
    for bed in qs:
        if exclude is not None and bed.pk == exclude:
            continue
        ward = bed.parent.parent
        label = ward.name + (f" ({ward.gender_restriction} only)" if ward.gender_restriction else "")
        room = bed.parent
        suffix = " · reserved" if bed.status == BedStatus.RESERVED else ""
        groups.setdefault(label, []).append((bed.pk, f"{room.name} · {bed}{suffix}"))
    return [("", "Choose…"), *groups.items()]


class AdmitForm(forms.Form):
    admitting_practitioner = forms.TypedChoiceField(label="Admitting doctor", coerce=int)
    source = forms.ChoiceField(label="Admitted from", choices=AdmissionSource.choices)
    reason = forms.CharField(
        label="Reason for admission", max_length=500, widget=forms.Textarea(attrs={"rows": 2})
    )
    bed = forms.TypedChoiceField(label="Bed", coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["admitting_practitioner"].choices = _doctor_choices()
        self.fields["bed"].choices = _bed_choices()


class QuickAdmitForm(AdmitForm):
    gender = forms.ChoiceField(label="Sex", choices=[("", "Choose…"), *AdministrativeGender.choices])
    approx_age = forms.IntegerField(label="Approximate age (years)", min_value=0, max_value=120)
    note = forms.CharField(
        label="Identifying features", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    field_order = ["gender", "approx_age", "note", "admitting_practitioner", "reason", "bed"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["source"]


class TransferForm(forms.Form):
    bed = forms.TypedChoiceField(label="New bed", coerce=int)

    def __init__(self, *args, current_bed=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bed"].choices = _bed_choices(exclude=current_bed)


class DischargeForm(forms.Form):
    disposition = forms.ChoiceField(
        label="Discharge disposition", choices=[("", "Choose…"), *DISCHARGE_DISPOSITIONS.items()]
    )
    summary = forms.CharField(
        label="Discharge summary", max_length=20000, widget=forms.Textarea(attrs={"rows": 6})
    )
    follow_up_appointment = forms.TypedChoiceField(
        label="Follow-up appointment", coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args, patient=None, **kwargs):
        super().__init__(*args, **kwargs)
        from django.utils import timezone

        from hms.scheduling.models import Appointment

        upcoming = Appointment.objects.filter(
            patient=patient, start__gte=timezone.now(), status__in=["booked", "pending", "arrived"]
        ).select_related("practitioner")[:20]
        self.fields["follow_up_appointment"].choices = [
            ("", "None"),
            *(
                (a.pk, f"{timezone.localtime(a.start):%Y-%m-%d %H:%M} · {a.practitioner.display_name}")
                for a in upcoming
            ),
        ]


# ---------------------------------------------------------------- admit


def _admitted_patient(request, pk) -> Patient:
    """The patient to admit: receptionists reach every live patient; clinicians too (an ED arrival is not yet
    in their care; the service audits it as care started). 404 when missing or deleted."""
    if request.user.role == Role.RECEPTIONIST:
        return patient_get(request.user, pk)
    patient = Patient.objects.filter(pk=pk, deleted_at__isnull=True).first()
    if patient is None:
        raise NotFoundOrForbidden()
    return patient


@role_required(*ADMITTERS)
def admit(request, pk: int):
    """/patients/<pk>/admit/: the admission form; POST admits and goes to the admission page."""
    patient = _admitted_patient(request, pk)
    source_encounter = None
    encounter_id = request.GET.get("encounter") or request.POST.get("encounter")
    if encounter_id:
        source_encounter = Encounter.objects.filter(
            pk=encounter_id if str(encounter_id).isdigit() else 0, patient=patient, deleted_at__isnull=True
        ).first()
    initial = {}
    if source_encounter is not None:
        initial["source"] = (
            AdmissionSource.EMERGENCY if source_encounter.encounter_class == "EMER" else "clinic"
        )
        if source_encounter.practitioner_id:
            initial["admitting_practitioner"] = source_encounter.practitioner_id
    elif request.user.role == Role.DOCTOR and hasattr(request.user, "practitioner"):
        initial["admitting_practitioner"] = request.user.practitioner.pk
    form = AdmitForm(request.POST or None, initial=initial)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            admission = services.admission_create(
                patient=patient,
                admitting_practitioner=Practitioner.objects.get(pk=data["admitting_practitioner"]),
                source=data["source"],
                reason=data["reason"],
                bed=Location.objects.get(pk=data["bed"]),
                source_encounter=source_encounter,
                by=request.user,
                request=request,
            )
        except (ValidationError, Conflict) as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"{patient.full_name} admitted.")
            return redirect("portal:admission", pk=admission.pk)
    active = (
        selectors.admissions_visible(request.user)
        .filter(patient=patient, status=AdmissionStatus.ACTIVE)
        .first()
    )
    context = {
        "patient": patient,
        "form": form,
        "errors": errors,
        "encounter": source_encounter,
        "active": active,
    }
    failed = request.method == "POST" and (errors or form.errors)
    return render(request, "portal/inpatient/admit.html", context, status=400 if failed else 200)


@role_required(*ADMITTERS)
def quick_admit(request):
    """/emergency/quick-admit/: register an unidentified patient and admit them, one form, one transaction."""
    form = QuickAdmitForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                patient = services.patient_register_unknown(
                    gender=data["gender"],
                    approx_age=data["approx_age"],
                    note=data["note"],
                    by=request.user,
                    request=request,
                )
                admission = services.admission_create(
                    patient=patient,
                    admitting_practitioner=Practitioner.objects.get(pk=data["admitting_practitioner"]),
                    source=AdmissionSource.EMERGENCY,
                    reason=data["reason"],
                    bed=Location.objects.get(pk=data["bed"]),
                    by=request.user,
                    request=request,
                )
        except (ValidationError, Conflict) as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"{patient.full_name} (MRN {patient.mrn}) registered and admitted.")
            return redirect("portal:admission", pk=admission.pk)
    failed = request.method == "POST" and (errors or form.errors)
    return render(
        request,
        "portal/inpatient/quick_admit.html",
        {"form": form, "errors": errors},
        status=400 if failed else 200,
    )


# ---------------------------------------------------------------- the admission page


def _admission_context(request, admission, *, transfer_form=None, discharge_form=None, errors=None):
    user = request.user
    stay = selectors.current_stay(admission)
    active = admission.status == AdmissionStatus.ACTIVE
    clinical = can_read_clinical(user, admission.patient)
    return {
        "admission": admission,
        "patient": admission.patient,
        "stays": list(admission.bed_stays.all()),
        "current_stay": stay,
        "bed_days": selectors.bed_days(admission),
        "disposition_display": DISCHARGE_DISPOSITIONS.get(admission.discharge_disposition, ""),
        "sections": summary_sections(admission) if clinical else None,
        "can_transfer": active and clinical and user.role in (Role.DOCTOR, Role.NURSE),
        "can_discharge": active and clinical and user.role == Role.DOCTOR,
        "can_print": clinical and admission.status == AdmissionStatus.DISCHARGED,
        "transfer_form": transfer_form or TransferForm(current_bed=stay.bed_id if stay else None),
        "discharge_form": discharge_form or DischargeForm(patient=admission.patient),
        "errors": errors or [],
    }


@role_required(*ADMISSION_READERS)
def admission(request, pk: int):
    """/admissions/<pk>/: the admission page (audited read)."""
    with transaction.atomic():
        adm = selectors.admission_get(request.user, pk)
        audit_record(action=AuditAction.READ, request=request, patient=adm.patient, obj=adm, channel="web")
    return render(request, "portal/inpatient/admission.html", _admission_context(request, adm))


@require_POST
@role_required(Role.DOCTOR, Role.NURSE)
def admission_transfer(request, pk: int):
    adm = selectors.admission_get(request.user, pk)
    stay = selectors.current_stay(adm)
    form = TransferForm(request.POST, current_bed=stay.bed_id if stay else None)
    errors: list[str] = []
    if form.is_valid():
        try:
            services.admission_transfer(
                admission=adm,
                bed=Location.objects.get(pk=form.cleaned_data["bed"]),
                by=request.user,
                request=request,
            )
        except (ValidationError, Conflict) as exc:
            errors = _errors(exc)
        else:
            messages.success(request, "Patient transferred.")
            return redirect("portal:admission", pk=pk)
    adm = selectors.admission_get(request.user, pk)
    context = _admission_context(request, adm, transfer_form=form, errors=errors)
    return render(request, "portal/inpatient/admission.html", context, status=400)


@require_POST
@role_required(Role.DOCTOR)
def admission_discharge(request, pk: int):
    adm = selectors.admission_get(request.user, pk)
    form = DischargeForm(request.POST, patient=adm.patient)
    errors: list[str] = []
    if form.is_valid():
        data = form.cleaned_data
        from hms.scheduling.models import Appointment

        appointment = (
            Appointment.objects.filter(pk=data["follow_up_appointment"], patient=adm.patient).first()
            if data["follow_up_appointment"]
            else None
        )
        try:
            services.admission_discharge(
                admission=adm,
                disposition=data["disposition"],
                summary=data["summary"],
                follow_up_appointment=appointment,
                by=request.user,
                request=request,
            )
        except (ValidationError, Conflict) as exc:
            errors = _errors(exc)
        else:
            messages.success(request, "Patient discharged; the bed awaits cleaning.")
            return redirect("portal:admission", pk=pk)
    adm = selectors.admission_get(request.user, pk)
    context = _admission_context(request, adm, discharge_form=form, errors=errors)
    return render(request, "portal/inpatient/admission.html", context, status=400)


@role_required(Role.DOCTOR, Role.NURSE, Role.PATIENT)
def admission_pdf(request, pk: int):
    """/admissions/<pk>/summary.pdf: the discharge summary (audited export)."""
    try:
        adm, data = discharge_summary_pdf_export(user=request.user, admission_id=pk, request=request)
    except Conflict as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain")
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="discharge-summary-{adm.pk}.pdf"'
    return response


# ---------------------------------------------------------------- merge


class MergeForm(forms.Form):
    source = forms.IntegerField(label="Temporary / duplicate record (id)", min_value=1)
    target = forms.IntegerField(label="Real patient record (id)", min_value=1)
    reason = forms.CharField(label="Reason", max_length=400, widget=forms.Textarea(attrs={"rows": 2}))


@role_required(*MERGERS)
def patient_merge_search(request):
    """htmx fragment: up to 10 live patients matching `q`, as radio buttons named `field` (source|target).
    Audited like every search."""
    field = "target" if request.GET.get("field") == "target" else "source"
    q = (request.GET.get("q") or "").strip()
    results = []
    if q:
        try:
            results = list(patient_search(request.user, q)[:SEARCH_LIMIT])
        except ValidationError:
            results = []
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=results,
            channel="web",
            detail={"view": "patient_merge_search", "returned": len(results)},
        )
    elif field == "source":  # by default: the temporary identities waiting to be merged
        results = list(
            Patient.objects.filter(identity_unknown=True, deleted_at__isnull=True).order_by("-id")[
                :SEARCH_LIMIT
            ]
        )
        audit_record(
            action=AuditAction.SEARCH,
            request=request,
            patients=results,
            channel="web",
            detail={"view": "patient_merge_search", "unknown": True, "returned": len(results)},
        )
    return render(request, "portal/inpatient/_merge_results.html", {"results": results, "field": field})


@role_required(*MERGERS)
def patient_merge(request):
    """/patients/merge/: pick source and target, give a reason, confirm; POST merges."""
    form = MergeForm(request.POST or None)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            source = patient_get(request.user, data["source"])
            target = patient_get(request.user, data["target"])
            result = services.patient_merge(
                source=source, target=target, reason=data["reason"], by=request.user, request=request
            )
        except NotFoundOrForbidden:
            errors = ["One of these patient records does not exist (or was already merged)."]
        except (ValidationError, Conflict, PermissionDenied) as exc:
            errors = _errors(exc)
        else:
            n = sum(result["moved"].values())
            messages.success(request, f"Merged MRN {source.mrn} into MRN {target.mrn}: {n} records moved.")
            return redirect("portal:patient_merge")
    failed = request.method == "POST" and (errors or form.errors)
    return render(
        request,
        "portal/inpatient/merge.html",
        {"form": form, "errors": errors},
        status=400 if failed else 200,
    )


# ---------------------------------------------------------------- locations (admins)


class LocationForm(forms.Form):
    physical_type = forms.ChoiceField(label="Type", choices=PhysicalType.choices)
    parent = forms.TypedChoiceField(label="Inside", coerce=int, required=False, empty_value=None)
    name = forms.CharField(label="Name", max_length=100)
    code = forms.CharField(label="Short code", max_length=30, required=False)
    ward_type = forms.ChoiceField(label="Ward type", choices=[("", "—"), *WardType.choices], required=False)
    gender_restriction = forms.ChoiceField(
        label="Gender restriction",
        choices=[("", "None"), ("male", "Male"), ("female", "Female")],
        required=False,
    )
    isolation = forms.CharField(label="Isolation", max_length=40, required=False)
    sort_order = forms.IntegerField(label="Order", min_value=0, required=False, initial=0)
    active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        parents = (
            Location.objects.exclude(physical_type=PhysicalType.BED)
            .filter(active=True)
            .select_related("parent")
        )
        names = dict(PhysicalType.choices)
        self.fields["parent"].choices = [
            ("", "— (a building)"),
            *(
                (p.pk, f"{names[p.physical_type]}: {p.parent.name + ' / ' if p.parent else ''}{p.name}")
                for p in parents
            ),
        ]
        if editing:
            del self.fields["physical_type"]
            del self.fields["parent"]
        else:
            del self.fields["active"]


def _tree(nodes):
    """Flatten the location tree into [(depth, location)] in display order."""
    children: dict = {}
    for n in nodes:
        children.setdefault(n.parent_id, []).append(n)
    out = []

    def walk(parent_id, depth):
        for n in children.get(parent_id, []):
            out.append((depth, n))
            walk(n.pk, depth + 1)

    walk(None, 0)
    return out


@role_required(Role.ADMIN)
def locations(request):
    """/admin-home/locations/: the tree and the add form (admins)."""
    form = LocationForm(request.POST or None, initial={"parent": request.GET.get("parent")})
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        parent = Location.objects.filter(pk=data["parent"]).first() if data["parent"] else None
        try:
            loc = services.location_create(
                physical_type=data["physical_type"],
                parent=parent,
                name=data["name"],
                code=data["code"],
                ward_type=data["ward_type"],
                gender_restriction=data["gender_restriction"],
                isolation=data["isolation"],
                sort_order=data["sort_order"] or 0,
                by=request.user,
                request=request,
            )
        except (ValidationError, Conflict) as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"{loc.get_physical_type_display()} {loc.name} added.")
            return redirect("portal:locations")
    context = {
        "form": form,
        "errors": errors,
        "tree": _tree(list(selectors.locations_visible(request.user).order_by("sort_order", "name", "id"))),
    }
    failed = request.method == "POST" and (errors or form.errors)
    return render(request, "portal/inpatient/locations.html", context, status=400 if failed else 200)


@role_required(Role.ADMIN)
def location_edit(request, pk: int):
    loc = selectors.locations_visible(request.user).filter(pk=pk).first()
    if loc is None:
        raise NotFoundOrForbidden()
    initial = {k: getattr(loc, k) for k in (*services.LOCATION_FIELDS, "active")}
    form = LocationForm(request.POST or None, initial=initial, editing=True)
    errors: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k in (*services.LOCATION_FIELDS, "active")}
        data["sort_order"] = data.get("sort_order") or 0
        try:
            services.location_update(location=loc, data=data, by=request.user, request=request)
        except (ValidationError, Conflict) as exc:
            errors = _errors(exc)
        else:
            messages.success(request, f"{loc.name} saved.")
            return redirect("portal:locations")
    failed = request.method == "POST" and (errors or form.errors)
    return render(
        request,
        "portal/inpatient/location_edit.html",
        {"form": form, "errors": errors, "location": loc},
        status=400 if failed else 200,
    )
