"""Writes to accounts: registration, staff accounts, profiles, and the audited login/logout of the API.

Every function runs in one transaction together with its AuditEvent.
"""

from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, update_last_login
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import RefreshToken

from hms.audit.models import AuditAction, AuditOutcome
from hms.audit.services import audit_record
from hms.core.errors import Conflict

from .models import User
from .roles import STAFF_ROLES, Role

# Roles whose account also gets a staff.Practitioner (a person who gives care).
PRACTITIONER_ROLES = frozenset({Role.DOCTOR, Role.NURSE, Role.PHARMACIST, Role.LAB_TECHNICIAN})
PROFILE_FIELDS = ("first_name", "last_name", "email", "phone")


def _user_build(*, data: dict) -> User:
    """An unsaved, validated User from {username, password, email, first_name, last_name, phone}.

    Raises ValidationError with field errors (username taken, weak password, ...)."""
    user = User(
        username=data["username"],
        email=data.get("email", ""),
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        phone=data.get("phone", ""),
    )
    try:
        validate_password(data["password"], user=user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user.set_password(data["password"])
    user.full_clean(exclude=["password"])
    return user


def user_register_patient(*, data: dict, request=None) -> User:
    """Self-registration: a User in the `patient` group and their Patient record with a new MRN.

    `data`: username, password, first_name, last_name, date_of_birth (date), gender (FHIR code), and
    optionally email, phone. Atomic: both rows or neither. Raises ValidationError (400) and `Conflict`
    (409) when the person probably exists already; the 409 carries no candidates, since the caller
    is anonymous and must not learn who else is registered (reception links existing records).
    """
    from hms.patients.services import patient_create

    with transaction.atomic():
        user = _user_build(data=data)
        user.save()
        user.groups.add(Group.objects.get(name=Role.PATIENT))
        try:
            patient_create(
                by=user,
                user=user,
                request=request,
                data={
                    "family_name": data.get("last_name", ""),
                    "given_names": data.get("first_name", ""),
                    "date_of_birth": data.get("date_of_birth"),
                    "gender": data.get("gender", ""),
                    "phone": data.get("phone", ""),
                    "email": data.get("email", ""),
                },
            )
        except Conflict:
            raise Conflict(
                "A patient record with these details may already exist; please contact reception "
                "to link your account."
            ) from None
        audit_record(
            actor=user,
            action=AuditAction.CREATE,
            request=request,
            obj=user,
            detail={"role": Role.PATIENT, "self_registered": True},
        )
    return User.objects.get(pk=user.pk)


def user_create_staff(*, by: User, data: dict, request=None) -> User:
    """An admin creates a staff account in `data["role"]` (any role but patient).

    Doctors, nurses, pharmacists and lab technicians also get a linked `staff.Practitioner`
    (`data` may carry `specialty` (a Specialty), `licence_number`). Raises PermissionDenied (403)
    unless `by` is an admin, ValidationError (400) on bad fields.
    """
    from hms.staff.models import Practitioner, PractitionerRole

    if by is None or by.role != Role.ADMIN:
        raise PermissionDenied("Only an administrator may create staff accounts.")
    role = data.get("role")
    if role not in {str(r) for r in STAFF_ROLES}:
        raise ValidationError({"role": f"Not a staff role: {role!r}."})
    with transaction.atomic():
        user = _user_build(data=data)
        user.is_staff = role == Role.ADMIN
        user.save()
        user.groups.add(Group.objects.get(name=role))
        if role in PRACTITIONER_ROLES:
            practitioner = Practitioner(
                user=user,
                role=role if role in PractitionerRole.values else PractitionerRole.OTHER,
                family_name=user.last_name or user.username,
                given_names=user.first_name,
                specialty=data.get("specialty"),
                licence_number=data.get("licence_number", ""),
            )
            practitioner.full_clean()
            practitioner.save()
        audit_record(actor=by, action=AuditAction.CREATE, request=request, obj=user, detail={"role": role})
    return User.objects.get(pk=user.pk)


def user_update_profile(*, user: User, by: User, data: dict, request=None) -> User:
    """Change one's own name, email or phone (keys of `PROFILE_FIELDS`). Raises ValidationError (400)."""
    changed = [k for k in PROFILE_FIELDS if k in data and getattr(user, k) != data[k]]
    with transaction.atomic():
        for k in changed:
            setattr(user, k, data[k])
        user.full_clean(exclude=["password"])
        if changed:
            user.save(update_fields=changed)
        audit_record(
            actor=by, action=AuditAction.UPDATE, request=request, obj=user, detail={"fields": changed}
        )
    return user


def auth_login(*, username: str, password: str, request=None) -> User | None:
    """Check credentials for the API; audits the success (`login`) or the failure (`login_failed`,
    actor None, the attempted username in `detail`). Returns the active User, or None when refused."""
    user = authenticate(request, username=username, password=password)
    with transaction.atomic():
        if user is None or not user.is_active:
            audit_record(
                actor=None,
                action=AuditAction.LOGIN_FAILED,
                request=request,
                outcome=AuditOutcome.FAILURE,
                object_type="accounts.User",
                detail={"username": username[:150]},
            )
            return None
        update_last_login(None, user)
        audit_record(actor=user, action=AuditAction.LOGIN, request=request, obj=user)
    return user


def auth_login_refused_input(*, attempted, request=None) -> None:
    """Audit a login refused before any password check (malformed input, e.g. a NUL byte in the
    username): `login_failed`, actor None, the attempted username made printable in `detail`."""
    shown = attempted if isinstance(attempted, str) else repr(attempted)
    shown = "".join(ch if ch.isprintable() else "?" for ch in shown[:150])
    with transaction.atomic():
        audit_record(
            actor=None,
            action=AuditAction.LOGIN_FAILED,
            request=request,
            outcome=AuditOutcome.FAILURE,
            object_type="accounts.User",
            detail={"username": shown, "reason": "malformed input"},
        )


def auth_tokens(*, user: User) -> dict:
    """{"refresh": str, "access": str}: a new simplejwt pair for `user`."""
    refresh = RefreshToken.for_user(user)
    return {"refresh": str(refresh), "access": str(refresh.access_token)}


def auth_logout(*, refresh: str, request=None) -> User | None:
    """Blacklist the refresh token and audit the logout. Raises ValidationError when the token is
    invalid, expired or already blacklisted. Returns the token's user."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise ValidationError({"refresh": str(exc)}) from None
    user = User.objects.filter(pk=token.payload.get("user_id")).first()
    with transaction.atomic():
        token.blacklist()
        audit_record(actor=user, action=AuditAction.LOGOUT, request=request, obj=user)
    return user
