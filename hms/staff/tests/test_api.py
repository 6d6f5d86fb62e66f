"""`/api/doctors/` and `/api/specialties/`: anyone logged in reads, admins write."""

from decimal import Decimal

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PractitionerFactory, api_client_for, make_user
from hms.staff.models import Practitioner, PractitionerRole, Specialty


@pytest.fixture
def doctors(db):
    cardio = Specialty.objects.get(code="394579002")
    derm = Specialty.objects.get(code="394582007")
    return {
        "house": PractitionerFactory(family_name="House", given_names="Gregory", specialty=cardio),
        "housman": PractitionerFactory(family_name="Housman", given_names="Alfred", specialty=derm),
        "wilson": PractitionerFactory(
            family_name="Wilson", given_names="James", specialty=cardio, active=False
        ),
        "nurse": PractitionerFactory(family_name="Housenurse", given_names="N", role=PractitionerRole.NURSE),
    }


def _names(response):
    assert response.status_code == 200, response.content
    return {row["family_name"] for row in response.json()["results"]}


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_role_reads_doctors(doctors, role):
    client = api_client_for(make_user(role, first_name="Zed", last_name="Zzyzx"))
    assert _names(client.get("/api/doctors/", {"search": "hous"})) == {"House", "Housman"}
    assert client.get(f"/api/doctors/{doctors['house'].pk}/").json()["specialty"]["display"] == "Cardiology"
    assert client.get(f"/api/doctors/{doctors['nurse'].pk}/").status_code == 404
    assert client.get(f"/api/doctors/{doctors['wilson'].pk}/").status_code == 404


def test_anonymous_cannot_list(doctors):
    assert api_client_for(None).get("/api/doctors/").status_code == 401


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"search": "hous"}, {"House", "Housman"}),
        ({"search": "greg"}, {"House"}),
        ({"search": "alfred housman"}, {"Housman"}),
        ({"specialty": "394579002"}, {"House"}),
        ({"specialty": "dermat"}, {"Housman"}),
        ({"specialty": "cardio", "search": "housm"}, set()),
    ],
)
def test_search_by_name_and_specialty(doctors, params, expected):
    client = api_client_for(make_user(Role.PATIENT, first_name="Zed", last_name="Zzyzx"))
    assert _names(client.get("/api/doctors/", params)) == expected


def test_specialties(db, patient_user):
    response = api_client_for(patient_user).get("/api/specialties/")
    rows = response.json()
    assert response.status_code == 200 and len(rows) == Specialty.objects.count() > 20
    assert {"system": "http://snomed.info/sct", "code": "394579002", "display": "Cardiology"}.items() <= next(
        r for r in rows if r["code"] == "394579002"
    ).items()


def test_admin_creates_and_updates_a_doctor_linked_to_a_staff_user(db):
    admin = make_user(Role.ADMIN)
    staff = make_user(Role.RECEPTIONIST, first_name="Lisa", last_name="Cuddy")
    client = api_client_for(admin)
    response = client.post(
        "/api/doctors/",
        {
            "user": staff.pk,
            "specialty": "394802001",
            "consultation_fee": "120.50",
            "currency": "USD",
            "available_days": [1, 3, 5],
            "licence_number": "MD-77",
            "bio": "Dean of medicine.",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["family_name"], body["given_names"], body["consultation_fee"]) == ("Cuddy", "Lisa", "120.50")
    doctor = Practitioner.objects.get(pk=body["id"])
    assert doctor.user == staff and doctor.consultation_fee == Decimal("120.50")
    response = client.patch(
        f"/api/doctors/{doctor.pk}/", {"available_days": [2], "prefix": "Dr."}, format="json"
    )
    assert response.status_code == 200 and response.json()["name"] == "Dr. Lisa Cuddy"
    # one account, one practitioner
    again = client.post("/api/doctors/", {"user": staff.pk}, format="json")
    assert again.status_code == 400 and "user" in again.json()


def test_a_patient_account_cannot_become_a_doctor(db, patient_user):
    response = api_client_for(make_user(Role.ADMIN)).post(
        "/api/doctors/", {"user": patient_user.pk}, format="json"
    )
    assert response.status_code == 400 and "user" in response.json()


@pytest.mark.parametrize("role", [r.value for r in Role if r != Role.ADMIN])
def test_only_admins_write(doctors, role):
    client = api_client_for(make_user(role))
    assert (
        client.post("/api/doctors/", {"family_name": "X", "given_names": "Y"}, format="json").status_code
        == 403
    )
    house = doctors["house"]
    assert client.patch(f"/api/doctors/{house.pk}/", {"bio": "hacked"}, format="json").status_code == 403
    house.refresh_from_db()
    assert house.bio == "" and not Practitioner.objects.filter(family_name="X").exists()
