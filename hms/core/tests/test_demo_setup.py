"""`manage.py demo_setup`: idempotent demo data, one account per role, care links for the demo doctor."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from hms.accounts.models import User
from hms.clinical.models import Encounter
from hms.core.management.commands.demo_setup import DEMO_ACCOUNTS, DEMO_SYSTEM
from hms.fhir.tests.bundles import patient_bundle
from hms.patients.models import Patient
from hms.patients.selectors import patients_visible
from hms.pharmacy.models import MedicationRequest
from hms.scheduling.models import Appointment, ServiceType, WorkingHours
from hms.staff.models import Practitioner

pytestmark = pytest.mark.django_db


def _counts() -> dict[str, int]:
    return {
        "patients": Patient.objects.count(),
        "encounters": Encounter.objects.count(),
        "users": User.objects.count(),
        "practitioners": Practitioner.objects.count(),
        "demo_encounters": Encounter.objects.filter(source_system=DEMO_SYSTEM).count(),
        "service_types": ServiceType.objects.count(),
        "working_hours": WorkingHours.objects.count(),
        "appointments": Appointment.objects.count(),
        "signed_prescriptions": MedicationRequest.objects.filter(signed_at__isnull=False).count(),
    }


def _run() -> str:
    out = StringIO()
    call_command("demo_setup", stdout=out)
    return out.getvalue()


def _assert_demo_ready(patients: int) -> None:
    for username, role, *_ in DEMO_ACCOUNTS:
        user = User.objects.get(username=username)
        assert user.role == role
        assert Client().login(username=username, password="asclepius-demo"), username
    admin = User.objects.get(username="admin")
    assert admin.is_staff and not admin.is_superuser
    browser = Client()
    browser.force_login(admin)
    assert browser.get("/admin/patients/patient/").status_code == 200
    assert browser.get("/admin/accounts/user/").status_code == 200
    assert browser.get("/admin/clinical/observation/").status_code == 403  # no clinical records for admins
    doctor = User.objects.get(username="doctor")
    assert doctor.practitioner.specialty.display == "General practice"
    assert doctor.practitioner.consultation_fee > 0
    assert User.objects.get(username="nurse").practitioner is not None
    linked = Patient.objects.get(user__username="patient")
    assert linked.deceased_at is None and linked.age >= 18
    assert patients_visible(doctor).count() == patients
    assert patients_visible(User.objects.get(username="nurse")).count() == patients


def test_demo_setup_imports_bundles_and_is_idempotent(settings, tmp_path):
    """With a Synthea folder present: imports it; a second run changes no counts."""
    # given: a folder of two small bundles (one patient deceased)
    (tmp_path / "a.json").write_text(json.dumps(patient_bundle("a", family="Alive")))
    (tmp_path / "b.json").write_text(
        json.dumps(patient_bundle("b", family="Gone", npi="2", deceased="2019-01-01T00:00:00+00:00"))
    )
    settings.SYNTHEA_DIR = str(tmp_path)

    # when
    output = _run()
    first = _counts()
    _run()

    # then
    assert _counts() == first
    assert first["patients"] == 2 and first["demo_encounters"] == 2
    assert first["signed_prescriptions"] == 2  # the pharmacist's work list is not empty
    # clinics: 3 visit types, 3 doctors x 5 weekdays x 2 ranges, the one living patient booked once
    assert (first["service_types"], first["working_hours"], first["appointments"]) == (3, 30, 1)
    doctor = User.objects.get(username="doctor")
    assert Appointment.objects.get().practitioner == doctor.practitioner
    assert "http://127.0.0.1:8000" in output and "/api/docs/" in output and "/admin/" in output
    assert "asclepius-demo" in output
    _assert_demo_ready(patients=2)
    assert Patient.objects.get(user__username="patient").family_name == "Alive"
    planned = Encounter.objects.get(source_system=DEMO_SYSTEM, patient__family_name="Alive")
    assert planned.status == "planned" and planned.code_display == "Follow-up visit"
    assert planned.practitioner.user.username == "doctor"
    assert list(planned.participants.values_list("user__username", flat=True)) == ["nurse"]


def test_demo_setup_falls_back_to_synthetic_patients(settings, tmp_path, monkeypatch):
    """Without the Synthea folder: 20 synthetic patients with records; still idempotent."""
    settings.SYNTHEA_DIR = str(tmp_path / "absent")
    monkeypatch.setenv("DEMO_PASSWORD", "asclepius-demo")

    output = _run()
    first = _counts()
    _run()

    assert "synthetic" in output
    assert _counts() == first and first["patients"] == 20
    _assert_demo_ready(patients=20)
