"""Portal pages. Thin: parse the request, call a selector or service, write the AuditEvent, render.

Access: `role_required` routes roles to their pages; which patients and records a user sees is decided
by the scoped selectors only (missing and not-yours both answer 404).
"""

import datetime as dt

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from hms.accounts.roles import Role
from hms.audit.models import AuditAction, AuditEvent
from hms.audit.services import audit_record
from hms.core.errors import Conflict
from hms.patients.models import Patient
from hms.patients.selectors import can_read_clinical, patient_get, patient_get_clinical
from hms.patients.services import patient_create
from hms.staff.models import Practitioner

from . import queries
from .access import REGISTER_ROLES, SEARCH_ROLES, home_url_for, role_required
from .forms import PatientRegisterForm, PatientSearchForm

# ---------------------------------------------------------------- sign in / out


class LoginView(auth_views.LoginView):
    """/login/: Django's login with our template. Logins, logouts and failed attempts are audited by the
    receivers of Django's auth signals in `hms.accounts.signals` (channel "web")."""

    template_name = "portal/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    """/logout/ (POST only): signs out and goes to the login page."""


@login_required
def home(request):
    """/: send each role to its own home page."""
    url = home_url_for(request.user)
    if url is None:
        raise PermissionDenied("Your account has no role yet; ask an administrator.")
    return redirect(url)


# ---------------------------------------------------------------- role home pages


def _clinician_home(request, *, view: str):
    patients, total = queries.patients_in_care(request.user)
    audit_record(
        action=AuditAction.SEARCH, request=request, patients=patients, channel="web", detail={"view": view}
    )
    return render(request, "portal/home/clinician.html", {"patients": patients, "total": total})


@role_required(Role.DOCTOR, redirect_home=True)
def doctor_home(request):
    """/doctor/: the patients in my care with their last and next encounter."""
    return _clinician_home(request, view="doctor_home")


@role_required(Role.NURSE, redirect_home=True)
def nurse_home(request):
    """/nurse/: the patients in my care with their last and next encounter."""
    return _clinician_home(request, view="nurse_home")


@role_required(Role.RECEPTIONIST, redirect_home=True)
def reception_home(request):
    """/reception/: patient search and registration."""
    return render(request, "portal/home/reception.html", {"form": PatientSearchForm()})


# What each later module adds to the demographics-only homes.
_MODULE_NOTES = {
    Role.PHARMACIST: (
        "Pharmacy",
        "Prescription queue, dispensing, interaction checks and stock arrive with "
        "the medication-safety module. For now: find a patient and check their demographics.",
    ),
    Role.LAB_TECHNICIAN: (
        "Laboratory",
        "Order worklists, specimen tracking and result entry arrive with the "
        "laboratory module. For now: find a patient and check their demographics.",
    ),
    Role.BILLING: (
        "Billing",
        "Charges, invoices, payments and insurance claims arrive with the billing "
        "module. For now: find a patient and check their demographics and contact details.",
    ),
}


def _module_home(request, role: Role):
    title, note = _MODULE_NOTES[role]
    return render(
        request,
        "portal/home/module.html",
        {"module_title": title, "module_note": note, "form": PatientSearchForm()},
    )


@role_required(Role.PHARMACIST, redirect_home=True)
def pharmacy_home(request):
    """/pharmacy/: patient search (demographics) and what the pharmacy module will add."""
    return _module_home(request, Role.PHARMACIST)


@role_required(Role.LAB_TECHNICIAN, redirect_home=True)
def lab_home(request):
    """/lab/: patient search (demographics) and what the laboratory module will add."""
    return _module_home(request, Role.LAB_TECHNICIAN)


@role_required(Role.BILLING, redirect_home=True)
def billing_home(request):
    """/billing/: patient search (demographics) and what the billing module will add."""
    return _module_home(request, Role.BILLING)


@role_required(Role.ADMIN, redirect_home=True)
def admin_home(request):
    """/admin-home/: users per role, registry counts and the most recent audit events (no clinical data)."""
    counts = dict(
        Group.objects.filter(name__in=Role.values).annotate(n=Count("user")).values_list("name", "n")
    )
    roles = [(role.label, counts.get(role.value, 0)) for role in Role]
    events = list(AuditEvent.objects.order_by("-recorded_at", "-id")[:20])
    context = {
        "roles": roles,
        "events": events,
        "patient_count": Patient.objects.filter(deleted_at__isnull=True).count(),
        "practitioner_count": Practitioner.objects.filter(active=True).count(),
        "audit_last_day": AuditEvent.objects.filter(
            recorded_at__gte=timezone.now() - dt.timedelta(days=1)
        ).count(),
        "form": PatientSearchForm(),
    }
    return render(request, "portal/home/admin.html", context)


@role_required(Role.PATIENT, redirect_home=True)
def patient_home(request):
    """/me/: the signed-in patient's own chart summary."""
    own = getattr(request.user, "patient", None)
    if own is None:
        return render(request, "portal/home/patient.html", {"patient": None})
    patient = patient_get(request.user, own.pk)
    with transaction.atomic():
        context = {
            "patient": patient,
            "allergies": queries.allergies_active(request.user, patient),
            **queries.chart_summary(request.user, patient),
        }
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=patient,
            obj=patient,
            channel="web",
            detail={"view": "patient_home"},
        )
    return render(request, "portal/home/patient.html", context)


# ---------------------------------------------------------------- patients


@require_GET
@role_required(*SEARCH_ROLES)
def patient_search(request):
    """/patients/?q=: matching patients (≤ 25). htmx requests get the results partial, others the page.
    Each search with a query writes one AuditEvent listing the patients shown."""
    form = PatientSearchForm(request.GET or None)
    results = None
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        if query:
            results = queries.patients_matching(request.user, query)
            audit_record(
                action=AuditAction.SEARCH,
                request=request,
                patients=results,
                channel="web",
                detail={"view": "patient_search", "returned": len(results)},
            )
    context = {
        "form": form,
        "results": results,
        "query": query,
        "limit": queries.SEARCH_LIMIT,
        "can_register": request.user.role in REGISTER_ROLES,
        # ?pick=book (the desk booking for a patient): each row leads to "find a doctor" for that patient.
        "pick_url": reverse("portal:find_doctor")
        if request.GET.get("pick") == "book" and request.user.role in REGISTER_ROLES
        else "",
    }
    if request.htmx:
        return render(request, "portal/patients/_results.html", context)
    return render(request, "portal/patients/search.html", context)


@require_GET
@login_required
def patient_chart(request, pk: int):
    """/patients/<pk>/: the chart for clinicians and the patient themself; demographics only for the other
    roles. 404 when the patient is missing or not visible to the user. One AuditEvent per view."""
    patient = patient_get(request.user, pk)
    clinical = can_read_clinical(request.user, patient)
    with transaction.atomic():
        context = {"patient": patient, "clinical": clinical}
        if clinical:
            context["allergies"] = queries.allergies_active(request.user, patient)
            context.update(queries.chart_sections(request.user, patient))
        else:  # pharmacists read allergies without the clinical record (hms.clinical.allergies)
            context["allergies"] = queries.allergy_banner(request.user, patient)
        audit_record(
            action=AuditAction.READ,
            request=request,
            patient=patient,
            obj=patient,
            channel="web",
            detail={"view": "chart" if clinical else "demographics"},
        )
    return render(request, "portal/patients/chart.html", context)


@require_GET
@login_required
def patient_encounters(request, pk: int):
    """/patients/<pk>/encounters/?page=N: one page of the encounter timeline (htmx "show more" partial,
    or a plain page without JavaScript). 404 unless the user may read the clinical record."""
    patient = patient_get_clinical(request.user, pk)
    try:
        page = int(request.GET.get("page", "1"))
    except ValueError:
        raise Http404() from None
    if not 1 <= page <= 100_000:
        raise Http404()
    timeline = queries.encounter_timeline(request.user, patient, page=page)
    audit_record(
        action=AuditAction.READ,
        request=request,
        patient=patient,
        object_type="clinical.Encounter",
        channel="web",
        detail={"view": "encounters", "page": page},
    )
    context = {"patient": patient, "timeline": timeline}
    if request.htmx:
        return render(request, "portal/patients/_encounters.html", context)
    context.update(clinical=True, allergies=queries.allergies_active(request.user, patient))
    return render(request, "portal/patients/encounters.html", context)


@role_required(*REGISTER_ROLES)
def patient_register(request):
    """/patients/new/: register a patient through `patient_create`; a probable duplicate shows the
    candidates and asks for confirmation with a reason."""
    candidates = []
    form = PatientRegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            patient = patient_create(
                by=request.user,
                data=form.patient_data(),
                force=form.cleaned_data["force"],
                force_reason=form.cleaned_data["force_reason"],
                request=request,
            )
        except Conflict as exc:
            candidates = exc.payload.get("candidates", [])
            form.add_error(
                None,
                "This may be a patient who is already registered. Check the records below; "
                "if this is a different person, tick the box and give a reason.",
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, f"Registered {patient.full_name}, MRN {patient.mrn}.")
            return redirect(reverse("portal:patient_chart", args=[patient.pk]))
    return render(request, "portal/patients/register.html", {"form": form, "candidates": candidates})
