"""Who may open which portal page: each role's home page, and the role checks of the views.

Record-level access (which patients, which records) is never decided here: it is the job of the scoped
selectors in `hms.patients.selectors`. This module only routes users to their pages.
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse

from hms.accounts.roles import STAFF_ROLES, Role

# URL name of each role's home page.
ROLE_HOME: dict[str, str] = {
    Role.DOCTOR: "portal:doctor_home",
    Role.NURSE: "portal:nurse_home",
    Role.RECEPTIONIST: "portal:reception_home",
    Role.PHARMACIST: "portal:pharmacy_home",
    Role.LAB_TECHNICIAN: "portal:lab_home",
    Role.BILLING: "portal:billing_home",
    Role.ADMIN: "portal:admin_home",
    Role.PATIENT: "portal:patient_home",
}

# Roles that may search the patient registry (every staff role; a patient only ever sees themself).
SEARCH_ROLES = frozenset(str(r) for r in STAFF_ROLES)
# Roles that may register a patient at the front desk.
REGISTER_ROLES = frozenset({str(Role.RECEPTIONIST), str(Role.ADMIN)})


def home_url_for(user) -> str | None:
    """The path of `user`'s home page, or None when the user has no role."""
    name = ROLE_HOME.get(getattr(user, "role", None) or "")
    return reverse(name) if name else None


def role_required(*roles: str, redirect_home: bool = False):
    """View decorator: an anonymous user goes to the login page; a signed-in user whose role is not in
    `roles` gets 403, or (with `redirect_home`) a redirect to their own home page."""
    allowed = frozenset(str(r) for r in roles)

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if user.role not in allowed:
                home = home_url_for(user)
                if redirect_home and home:
                    return redirect(home)
                raise PermissionDenied("This page is not available to your role.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def nav_for(role: str | None) -> list[tuple[str, str]]:
    """The top-bar links for `role`: list of (label, url name)."""
    if not role:
        return []
    links: list[tuple[str, str]] = []
    if role == Role.PATIENT:
        return [
            ("My health", "portal:patient_home"),
            ("Appointments", "portal:my_appointments"),
            ("Find a doctor", "portal:find_doctor"),
        ]
    links.append(("Home", ROLE_HOME[role]))
    if role in (Role.DOCTOR, Role.NURSE):
        links.append(("Agenda", "portal:agenda"))
    if role == Role.DOCTOR:
        links.append(("My schedule", "portal:my_schedule"))
    if role in (Role.RECEPTIONIST, Role.ADMIN):
        links.append(("Day view", "portal:reception_day"))
        links.append(("Queue", QUEUE_URL_NAME))
    if role in SEARCH_ROLES:
        links.append(("Patients", "portal:patient_search"))
    if role in REGISTER_ROLES:
        links.append(("Register patient", "portal:patient_register"))
    return links


# The front-desk queue page lives in another app; until its URLs are wired, link its path.
QUEUE_URL_NAME = "frontdesk:queue"
QUEUE_PATH = "/frontdesk/queue/"


def nav_links(role: str | None) -> list[tuple[str, str]]:
    """`nav_for(role)` with each url name resolved to a path: list of (label, href). A name that does not
    resolve (an app not installed yet) is left out, except the front-desk queue, which links its path."""
    out = []
    for label, name in nav_for(role):
        try:
            out.append((label, reverse(name)))
        except NoReverseMatch:
            if name == QUEUE_URL_NAME:
                out.append((label, QUEUE_PATH))
    return out
