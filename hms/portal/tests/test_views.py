"""Portal pages through Django's test client: role homes, login/logout, search, chart, registration."""

import datetime as dt

import pytest
from django.urls import reverse

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import EncounterFactory, PatientFactory, make_user, put_in_care
from hms.patients.models import Patient

from .conftest import PASSWORD, build_chart

ROLE_HOME_PATHS = {
    Role.DOCTOR: "/doctor/",
    Role.NURSE: "/nurse/",
    Role.RECEPTIONIST: "/reception/",
    Role.PHARMACIST: "/pharmacy/",
    Role.LAB_TECHNICIAN: "/lab/",
    Role.BILLING: "/billing/",
    Role.ADMIN: "/admin-home/",
    Role.PATIENT: "/me/",
}
HTMX = {"HTTP_HX_REQUEST": "true"}


def _events(**filters):
    return list(AuditEvent.objects.filter(**filters).order_by("id"))


# ---------------------------------------------------------------- landing and access


@pytest.mark.parametrize("role", list(Role))
def test_each_role_lands_on_its_own_home_page(client, db, role):
    """/ redirects every role to its home page, which renders with the role's navigation."""
    user = make_user(role)
    client.force_login(user)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == ROLE_HOME_PATHS[role]
    page = client.get(ROLE_HOME_PATHS[role])
    assert page.status_code == 200
    assert Role(role).label in page.content.decode()


@pytest.mark.parametrize("role", list(Role))
def test_other_roles_home_pages_redirect_to_own(client, db, role):
    """A role opening another role's home page is sent to its own."""
    client.force_login(make_user(role))
    for other, path in ROLE_HOME_PATHS.items():
        if other == role:
            continue
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == ROLE_HOME_PATHS[role]


@pytest.mark.parametrize("path", ["/", "/doctor/", "/me/", "/patients/", "/patients/1/", "/patients/new/"])
def test_anonymous_goes_to_login(client, db, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_login_form_signs_in_lands_home_and_is_audited(client, db):
    """Logging in through the form lands on the role home; the login is audited (channel web)."""
    nurse = make_user(Role.NURSE)
    page = client.get("/login/")
    assert page.status_code == 200
    assert 'name="username"' in page.content.decode() and '<label for="id_password">' in page.content.decode()
    response = client.post("/login/", {"username": nurse.username, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/nurse/"
    [event] = _events(action="login")
    assert event.actor == nurse and event.channel == "web" and event.outcome == "success"


def test_failed_login_shows_error_and_is_audited(client, db):
    nurse = make_user(Role.NURSE)
    response = client.post("/login/", {"username": nurse.username, "password": "wrong"})
    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()
    [event] = _events(action="login_failed")
    assert event.outcome == "failure" and event.actor is None and event.detail["username"] == nurse.username


def test_logout_is_post_only_and_audited(client, db):
    doctor = make_user(Role.DOCTOR)
    client.force_login(doctor)
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    [event] = _events(action="logout")
    assert event.actor == doctor
    assert client.get("/doctor/").status_code == 302


def test_user_without_role_gets_403(client, db):
    from hms.core.testing import UserFactory

    client.force_login(UserFactory())
    assert client.get("/").status_code == 403


# ---------------------------------------------------------------- homes


def test_doctor_home_lists_patients_in_care_with_last_and_next_encounter(client, charted):
    doctor, patient = charted
    from django.utils import timezone

    EncounterFactory(
        patient=patient,
        practitioner=doctor.practitioner,
        status="planned",
        period_start=timezone.now() + dt.timedelta(days=5),
    )
    stranger = PatientFactory(family_name="Outsider")
    client.force_login(doctor)
    body = client.get("/doctor/").content.decode()
    assert "QUIGLEY" in body and patient.mrn in body
    assert "Outsider".upper() not in body
    assert "None booked" not in body  # the planned visit shows as next encounter
    event = _events(action="search")[-1]
    assert event.patient_ids == [patient.pk] and event.detail["view"] == "doctor_home"
    assert stranger.pk not in event.patient_ids


def test_admin_home_shows_counts_and_audit_but_no_clinical_data(client, charted, admin_user):
    client.force_login(admin_user)
    body = client.get("/admin-home/").content.decode()
    assert "Users per role" in body and "Recent audit events" in body and 'href="/admin/"' in body
    assert "hypertension" not in body.lower() and "penicillin" not in body.lower()


@pytest.mark.parametrize("role", [Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.BILLING, Role.RECEPTIONIST])
def test_demographics_roles_home_has_search(client, db, role):
    client.force_login(make_user(role))
    body = client.get(ROLE_HOME_PATHS[role]).content.decode()
    assert 'id="patient-q"' in body and 'hx-get="/patients/"' in body


def test_patient_home_shows_own_summary(client, db):
    me = make_user(Role.PATIENT)
    doctor = make_user(Role.DOCTOR)
    build_chart(me.patient, doctor.practitioner, visits=2)
    client.force_login(me)
    body = client.get("/me/").content.decode()
    assert me.patient.mrn in body and "Essential hypertension" in body and "Allergy to penicillin" in body
    assert f'href="/patients/{me.patient.pk}/"' in body
    assert _events(action="read", patient=me.patient)[-1].detail["view"] == "patient_home"


# ---------------------------------------------------------------- search


@pytest.fixture
def registry(db):
    return {
        "smith": PatientFactory(family_name="Smith", given_names="Johanna", phone="555-867-5309"),
        "smythe": PatientFactory(family_name="Smythe", given_names="Alan"),
        "jones": PatientFactory(family_name="Jones", given_names="Smitty"),
        "other": PatientFactory(family_name="Brown", given_names="Carla"),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("smi", {"smith", "jones"}),
        ("SM", {"smith", "smythe", "jones"}),
        ("smith joh", {"smith"}),
        ("555-867-5309", {"smith"}),
        ("zzz", set()),
    ],
)
def test_search_matches_name_prefix_and_phone(client, registry, receptionist, query, expected):
    client.force_login(receptionist)
    response = client.get("/patients/", {"q": query}, **HTMX)
    body = response.content.decode()
    for key, patient in registry.items():
        assert (f'href="/patients/{patient.pk}/"' in body) == (key in expected), (key, query)


def test_search_by_exact_mrn(client, registry, receptionist):
    client.force_login(receptionist)
    body = client.get("/patients/", {"q": registry["other"].mrn}, **HTMX).content.decode()
    assert f'href="/patients/{registry["other"].pk}/"' in body
    assert "Smith".upper() not in body


def test_search_htmx_gets_partial_and_plain_request_gets_full_page(client, registry, receptionist):
    client.force_login(receptionist)
    partial = client.get("/patients/", {"q": "smi"}, **HTMX).content.decode()
    full = client.get("/patients/", {"q": "smi"}).content.decode()
    assert "<html" not in partial and 'class="patientlist"' in partial
    assert "<html" in full and 'class="patientlist"' in full and 'id="search-results"' in full


def test_each_search_writes_one_audit_event_with_returned_ids(client, registry, receptionist):
    client.force_login(receptionist)
    before = AuditEvent.objects.count()
    client.get("/patients/", {"q": "smi"}, **HTMX)
    assert AuditEvent.objects.count() == before + 1
    event = _events(action="search")[-1]
    assert event.channel == "web" and event.actor == receptionist
    assert sorted(event.patient_ids) == sorted([registry["smith"].pk, registry["jones"].pk])
    client.get("/patients/")  # no query: nothing searched, nothing audited
    assert AuditEvent.objects.count() == before + 1


def test_search_results_are_limited(client, receptionist):
    for i in range(30):
        PatientFactory(family_name=f"Limitson{i:02d}")
    client.force_login(receptionist)
    body = client.get("/patients/", {"q": "limitson"}, **HTMX).content.decode()
    assert body.count('class="patientrow"') == 25 and "Showing the first 25" in body


def test_doctor_search_only_finds_patients_in_care(client, registry):
    doctor = make_user(Role.DOCTOR)
    put_in_care(doctor, registry["smith"])
    client.force_login(doctor)
    body = client.get("/patients/", {"q": "smi"}, **HTMX).content.decode()
    assert f"/patients/{registry['smith'].pk}/" in body and f"/patients/{registry['jones'].pk}/" not in body


def test_patient_cannot_search(client, patient_user):
    client.force_login(patient_user)
    assert client.get("/patients/", {"q": "a"}).status_code == 403


def test_search_rejects_nul_byte_without_error(client, receptionist):
    client.force_login(receptionist)
    response = client.get("/patients/", {"q": "ab\x00c"})
    assert response.status_code == 200 and not _events(action="search")


# ---------------------------------------------------------------- chart


def test_chart_shows_every_section_and_is_audited(client, charted):
    doctor, patient = charted
    client.force_login(doctor)
    response = client.get(f"/patients/{patient.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    for text in [
        patient.mrn,
        "Allergy to penicillin",
        "high risk",
        "Essential hypertension",
        "Viral sinusitis",
        "lisinopril 10 MG Oral Tablet",
        "amoxicillin",
        "Encounter for check up #0",
        "Glucose",
        "94.5",
        "mg/dL",
        "Influenza, seasonal",
        "Medication reconciliation",
        "128/82 mmHg",
        "kg/m²",
    ]:
        assert text in body, text
    assert "Shellfish" not in body  # resolved allergy: not in the banner
    assert body.count('data-testid="vitals-chart"') == 3  # blood pressure, weight, BMI
    # htmx and the alert socket (base.html), both served by us
    assert "<svg" in body and "kozea.github.io" not in body and body.count("<script") == 2
    event = _events(action="read", patient=patient)[-1]
    assert event.actor == doctor and event.channel == "web" and event.detail["view"] == "chart"


def test_doctor_cannot_open_patient_not_in_care(client, charted):
    _doctor, patient = charted
    other = make_user(Role.DOCTOR)
    client.force_login(other)
    missing = client.get("/patients/999999/")
    forbidden = client.get(f"/patients/{patient.pk}/")
    assert forbidden.status_code == missing.status_code == 404
    assert patient.mrn not in forbidden.content.decode()
    assert client.get(f"/patients/{patient.pk}/encounters/?page=2", **HTMX).status_code == 404


def test_patient_sees_own_chart_but_not_anothers(client, charted):
    _doctor, other_patient = charted
    me = make_user(Role.PATIENT)
    client.force_login(me)
    assert client.get(f"/patients/{me.patient.pk}/").status_code == 200
    response = client.get(f"/patients/{other_patient.pk}/")
    assert response.status_code == 404 and other_patient.mrn not in response.content.decode()


@pytest.mark.parametrize(
    "role", [Role.RECEPTIONIST, Role.BILLING, Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.ADMIN]
)
def test_non_clinical_roles_see_demographics_only(client, charted, role):
    _doctor, patient = charted
    user = make_user(role)
    client.force_login(user)
    body = client.get(f"/patients/{patient.pk}/").content.decode()
    assert patient.mrn in body and "Demographics and contact" in body
    # pharmacists read allergies (DESIGN.md), so the banner shows them; nobody here sees the rest
    assert ("penicillin" in body) is (role == Role.PHARMACIST)
    for clinical in ["hypertension", "lisinopril", "Glucose", "check up", "<svg", "Influenza"]:
        assert clinical not in body, clinical
    assert _events(action="read", patient=patient)[-1].detail["view"] == "demographics"
    assert client.get(f"/patients/{patient.pk}/encounters/").status_code == 404


def test_timeline_paginates_with_htmx_show_more(client, db):
    doctor = make_user(Role.DOCTOR)
    patient = PatientFactory()
    build_chart(patient, doctor.practitioner, visits=25)
    client.force_login(doctor)
    body = client.get(f"/patients/{patient.pk}/").content.decode()
    assert body.count('class="timeline__item') == 20
    assert f'hx-get="/patients/{patient.pk}/encounters/?page=2"' in body
    more = client.get(f"/patients/{patient.pk}/encounters/", {"page": 2}, **HTMX).content.decode()
    assert more.count('class="timeline__item') == 5 and "Show older" not in more and "<html" not in more
    assert "Encounter for check up #24" in more
    plain = client.get(f"/patients/{patient.pk}/encounters/", {"page": 2})
    assert plain.status_code == 200 and "<html" in plain.content.decode()
    assert client.get(f"/patients/{patient.pk}/encounters/", {"page": "x"}).status_code == 404
    assert _events(action="read", patient=patient)[-1].detail == {"view": "encounters", "page": 2}


def test_chart_query_count_does_not_grow_with_history(client, db, django_assert_max_num_queries):
    """No N+1: a chart with 40 encounters costs no more queries than one with 2."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    doctor = make_user(Role.DOCTOR)
    small, big = PatientFactory(), PatientFactory()
    build_chart(small, doctor.practitioner, visits=2)
    build_chart(big, doctor.practitioner, visits=40)
    client.force_login(doctor)
    with CaptureQueriesContext(connection) as small_q:
        client.get(f"/patients/{small.pk}/")
    with django_assert_max_num_queries(len(small_q) + 2):  # + the "more rows exist" counts
        client.get(f"/patients/{big.pk}/")


# ---------------------------------------------------------------- registration


def test_receptionist_registers_patient_and_is_warned_of_duplicate(client, receptionist):
    client.force_login(receptionist)
    data = {
        "given_names": "Ada",
        "family_name": "Lovelace",
        "date_of_birth": "1985-12-10",
        "gender": "female",
        "phone": "555-010-2030",
    }
    response = client.post("/patients/new/", data)
    ada = Patient.objects.get(family_name="Lovelace")
    assert response.status_code == 302 and response["Location"] == f"/patients/{ada.pk}/"
    again = client.post("/patients/new/", data)
    body = again.content.decode()
    assert again.status_code == 200 and "Probable duplicates" in body and ada.mrn in body
    assert Patient.objects.filter(family_name="Lovelace").count() == 1
    forced = client.post("/patients/new/", {**data, "force": "on", "force_reason": "Twin sister, same phone"})
    assert forced.status_code == 302
    assert Patient.objects.filter(family_name="Lovelace").count() == 2


def test_registration_form_errors_and_role(client, receptionist, doctor):
    client.force_login(receptionist)
    response = client.post("/patients/new/", {"given_names": "", "family_name": "X", "date_of_birth": "nope"})
    assert response.status_code == 200 and response.content.decode().count('class="field__error"') >= 3
    client.force_login(doctor)
    assert client.get("/patients/new/").status_code == 403
    assert reverse("portal:patient_register") == "/patients/new/"
