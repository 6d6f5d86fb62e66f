"""The hospital's roles. Each is a Django `Group` (created by migration `accounts.0002_roles`).

`ROLE_PERMISSIONS` lists the model permissions ("app_label.codename") each group holds; they drive
the Django admin. Record-level access (which patients a user may see) is decided by the selectors in
`hms.patients.selectors`, never by these permissions alone.
"""

from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Administrator"
    DOCTOR = "doctor", "Doctor"
    NURSE = "nurse", "Nurse"
    RECEPTIONIST = "receptionist", "Receptionist"
    PHARMACIST = "pharmacist", "Pharmacist"
    LAB_TECHNICIAN = "lab_technician", "Lab technician"
    BILLING = "billing", "Billing clerk"
    PATIENT = "patient", "Patient"


CLINICAL_ROLES = frozenset({Role.DOCTOR, Role.NURSE})
STAFF_ROLES = frozenset(set(Role) - {Role.PATIENT})

_CLINICAL_MODELS = [
    "clinical.encounter",
    "clinical.condition",
    "clinical.allergyintolerance",
    "clinical.observation",
    "clinical.immunization",
    "clinical.procedure",
    "clinical.careplan",
    "lab.diagnosticreport",
    "pharmacy.medicationrequest",
]


def _perms(models_: list[str], actions: str) -> list[str]:
    out = []
    for label in models_:
        app, model = label.split(".")
        out += [f"{app}.{action}_{model}" for action in actions.split()]
    return out


ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.ADMIN: _perms(
        ["accounts.user", "staff.practitioner", "staff.organization", "staff.specialty"], "view add change"
    )
    + _perms(["patients.patient"], "view add change delete")
    + _perms(["audit.auditevent", "auth.group"], "view")
    # reference data the administrators keep: note templates, emergency codes and their response teams
    + _perms(["clinical.notetemplate", "emergency.codetype"], "view add change")
    + _perms(["emergency.codeactivation", "emergency.codealert", "emergency.broadcast"], "view"),
    Role.DOCTOR: _perms(["patients.patient"], "view") + _perms(_CLINICAL_MODELS, "view add change"),
    Role.NURSE: _perms(["patients.patient"], "view")
    + _perms(_CLINICAL_MODELS, "view")
    + _perms(["clinical.observation"], "add change"),
    Role.RECEPTIONIST: _perms(["patients.patient"], "view add change")
    + _perms(["staff.practitioner"], "view"),
    Role.PHARMACIST: _perms(["patients.patient"], "view"),
    Role.LAB_TECHNICIAN: _perms(["patients.patient"], "view"),
    Role.BILLING: _perms(["patients.patient"], "view"),
    Role.PATIENT: [],
}


def roles_sync(apps=None) -> None:
    """Create the role groups and give each its permissions (idempotent; missing permissions skipped)."""
    from django.contrib.auth.models import Group, Permission

    group_model = apps.get_model("auth", "Group") if apps else Group
    perm_model = apps.get_model("auth", "Permission") if apps else Permission
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=str(role))
        wanted = []
        for dotted in perms:
            app_label, codename = dotted.split(".")
            wanted += list(perm_model.objects.filter(content_type__app_label=app_label, codename=codename))
        group.permissions.set(wanted)
