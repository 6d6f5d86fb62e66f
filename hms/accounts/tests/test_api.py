"""REST authentication: token/login, refresh, logout (blacklist), registration, own profile, and the
audit of logins, logouts and failed logins on the API and on Django's own login pages."""

import pytest
from django.test import Client

from hms.accounts.models import User
from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import PatientFactory, api_client_for, make_user
from hms.patients.models import Patient
from hms.patients.mrn import mrn_is_valid
from hms.staff.models import Practitioner

PASSWORD = "pass-Word-123"  # hms.core.testing.UserFactory's


@pytest.fixture
def anon():
    return api_client_for(None)


@pytest.mark.parametrize("path", ["/api/auth/token/", "/api/auth/login/"])
def test_login_returns_tokens_user_and_role(anon, doctor, path):
    response = anon.post(path, {"username": doctor.username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["access"] and body["refresh"]
    assert body["user"] == {
        "id": doctor.pk,
        "username": doctor.username,
        "name": doctor.get_full_name(),
        "email": doctor.email,
    }
    assert body["role"] == "doctor"
    me = anon.get("/api/auth/me/", HTTP_AUTHORIZATION=f"Bearer {body['access']}")
    assert me.status_code == 200 and me.json()["username"] == doctor.username
    event = AuditEvent.objects.get(action="login")
    assert (event.actor_id, event.outcome, event.channel) == (doctor.pk, "success", "api")


def test_failed_login_is_a_401_and_audited_once(anon, doctor):
    response = anon.post(
        "/api/auth/token/", {"username": doctor.username, "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.actor_id) == ("login_failed", "failure", None)
    assert event.detail == {"username": doctor.username}


def test_inactive_users_cannot_log_in(anon, doctor):
    doctor.is_active = False
    doctor.save()
    response = anon.post(
        "/api/auth/token/", {"username": doctor.username, "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401


def test_refresh_and_logout_blacklists_the_refresh_token(anon, nurse):
    tokens = anon.post(
        "/api/auth/token/", {"username": nurse.username, "password": PASSWORD}, format="json"
    ).json()
    refreshed = anon.post("/api/auth/token/refresh/", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200 and refreshed.json()["access"]
    refresh = refreshed.json().get("refresh", tokens["refresh"])  # rotation hands out a new one
    assert anon.post("/api/auth/logout/", {"refresh": refresh}, format="json").status_code == 204
    event = AuditEvent.objects.get(action="logout")
    assert event.actor_id == nurse.pk
    again = anon.post("/api/auth/token/refresh/", {"refresh": refresh}, format="json")
    assert again.status_code == 401
    assert anon.post("/api/auth/logout/", {"refresh": refresh}, format="json").status_code == 400
    assert anon.post("/api/auth/logout/", {"refresh": "garbage"}, format="json").status_code == 400


class TestRegister:
    body = {
        "username": "jdoe",
        "password": "Correct-Horse-42",
        "first_name": "Jane",
        "last_name": "Doe",
        "email": "jane@example.org",
        "date_of_birth": "1990-05-06",
        "gender": "female",
        "phone": "555-321-0000",
    }

    def test_a_patient_registers_themself_and_gets_an_mrn(self, anon, db):
        response = anon.post("/api/auth/register/", self.body, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["role"] == "patient" and mrn_is_valid(body["medical_record_number"])
        user = User.objects.get(username="jdoe")
        assert user.check_password("Correct-Horse-42") and user.role == "patient"
        assert user.patient.mrn == body["medical_record_number"]
        assert (user.patient.family_name, user.patient.date_of_birth.isoformat()) == ("Doe", "1990-05-06")
        login = anon.post(
            "/api/auth/login/", {"username": "jdoe", "password": "Correct-Horse-42"}, format="json"
        )
        me = api_client_for(user).get("/api/auth/me/").json()
        assert login.json()["role"] == "patient" and me["medical_record_number"] == user.patient.mrn

    def test_patients_need_a_birth_date_and_gender(self, anon, db):
        body = {k: v for k, v in self.body.items() if k not in ("date_of_birth", "gender")}
        response = anon.post("/api/auth/register/", body, format="json")
        assert response.status_code == 400 and {"date_of_birth", "gender"} <= set(response.json())

    def test_a_probable_duplicate_is_a_409_that_reveals_nobody(self, anon, db):
        existing = PatientFactory(family_name="Doe", given_names="Jane", date_of_birth="1990-05-06")
        response = anon.post("/api/auth/register/", self.body, format="json")
        assert response.status_code == 409
        assert "candidates" not in response.json() and existing.mrn not in response.content.decode()
        assert not User.objects.filter(username="jdoe").exists()  # atomic: no orphan account
        assert Patient.objects.count() == 1

    def test_taken_username_is_a_400(self, anon, doctor):
        response = anon.post("/api/auth/register/", {**self.body, "username": doctor.username}, format="json")
        assert response.status_code == 400 and "username" in response.json()

    @pytest.mark.parametrize(
        "role", ["doctor", "nurse", "pharmacist", "lab_technician", "receptionist", "billing", "admin"]
    )
    def test_an_admin_creates_staff_accounts(self, admin_user, role):
        body = {
            "username": f"new_{role}",
            "password": "Correct-Horse-42",
            "first_name": "Sam",
            "last_name": "Staff",
            "role": role,
            "specialty": "394579002",
            "licence_number": "L-1",
        }
        response = api_client_for(admin_user).post("/api/auth/register/", body, format="json")
        assert response.status_code == 201, response.content
        user = User.objects.get(username=f"new_{role}")
        assert user.role == role and not hasattr(user, "patient")
        clinical = role in ("doctor", "nurse", "pharmacist", "lab_technician")
        assert Practitioner.objects.filter(user=user).exists() == clinical
        if role == "doctor":
            assert user.practitioner.specialty.display == "Cardiology"
        assert (
            AuditEvent.objects.filter(actor=admin_user, action="create", object_id=str(user.pk)).count() == 1
        )

    @pytest.mark.parametrize("who", [None, Role.RECEPTIONIST, Role.DOCTOR, Role.PATIENT])
    def test_only_admins_create_staff(self, db, who):
        client = api_client_for(make_user(who) if who else None)
        body = {
            "username": "sneaky",
            "password": "Correct-Horse-42",
            "first_name": "S",
            "last_name": "N",
            "role": "doctor",
        }
        response = client.post("/api/auth/register/", body, format="json")
        assert response.status_code == 403
        assert not User.objects.filter(username="sneaky").exists()


def test_me_shows_and_updates_the_own_profile(patient_user):
    client = api_client_for(patient_user)
    body = client.get("/api/auth/me/").json()
    assert body["role"] == "patient" and body["medical_record_number"] == patient_user.patient.mrn
    assert AuditEvent.objects.filter(action="read", patient=patient_user.patient).count() == 1
    response = client.patch(
        "/api/auth/me/", {"phone": "555-000-0001", "first_name": "Newname"}, format="json"
    )
    assert response.status_code == 200 and response.json()["first_name"] == "Newname"
    patient_user.refresh_from_db()
    assert patient_user.phone == "555-000-0001"
    assert client.patch("/api/auth/me/", {"email": "nope"}, format="json").status_code == 400


def test_me_needs_authentication(db):
    assert api_client_for(None).get("/api/auth/me/").status_code == 401


def test_staff_see_their_practitioner_and_no_mrn(doctor):
    body = api_client_for(doctor).get("/api/auth/me/").json()
    assert body["practitioner_id"] == doctor.practitioner.pk and body["medical_record_number"] is None


class TestWebLoginAudit:
    """Django's own login views (the admin here; the portal's work the same way) are audited through
    the auth signals, once per event."""

    def test_login_logout_and_failure(self, db):
        staff = make_user(Role.ADMIN, is_staff=True)
        client = Client()
        client.post("/admin/login/", {"username": staff.username, "password": "wrong"})
        failed = AuditEvent.objects.get(action="login_failed")
        assert (failed.actor_id, failed.outcome, failed.detail) == (
            None,
            "failure",
            {"username": staff.username},
        )
        assert failed.channel == "admin"
        client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})
        assert AuditEvent.objects.get(action="login").actor_id == staff.pk
        client.post("/admin/logout/")
        assert AuditEvent.objects.get(action="logout").actor_id == staff.pk


def test_login_with_malformed_input_is_audited_as_failed(db):
    """A NUL byte in the username is refused with 400 before any password check, and still audited."""
    from hms.audit.models import AuditEvent
    from hms.core.testing import api_client_for

    response = api_client_for(None).post(
        "/api/auth/token/", {"username": "doc\x00tor", "password": "x"}, format="json"
    )
    assert response.status_code == 400
    event = AuditEvent.objects.get(action="login_failed")
    assert event.outcome == "failure" and event.actor is None
    assert event.detail == {"username": "doc?tor", "reason": "malformed input"}


def test_doctor_search_matches_specialty_words(db):
    from hms.core.testing import PractitionerFactory, api_client_for, make_user
    from hms.staff.models import Specialty

    cardio = PractitionerFactory(family_name="Heart", specialty=Specialty.objects.get(display="Cardiology"))
    PractitionerFactory(family_name="Skin", specialty=Specialty.objects.get(display="Dermatology"))
    client = api_client_for(make_user("patient"))
    found = client.get("/api/doctors/?search=cardio").json()["results"]
    assert [d["id"] for d in found] == [cardio.pk]
