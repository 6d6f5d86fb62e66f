"""The Django admin: every model registered; audit events read-only even for superusers; patients
written through services (MRN, duplicate check, audit), never hard-deleted, reads audited."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from hms.audit.models import AuditEvent
from hms.audit.services import audit_record
from hms.clinical.tests.chart_factory import chart_create
from hms.core.testing import PatientFactory, PractitionerFactory, UserFactory
from hms.patients.models import Patient

OUR_APPS = [
    "accounts",
    "audit",
    "staff",
    "patients",
    "clinical",
    "lab",
    "pharmacy",
    "documents",
    "inpatient",
    "emergency",
    "billing",
]
NOT_IN_ADMIN = {"patients.MRNCounter"}


@pytest.fixture
def superuser(db):
    return UserFactory(is_superuser=True, is_staff=True)


@pytest.fixture
def browser(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_every_model_is_registered():
    missing = [
        m._meta.label
        for label in OUR_APPS
        for m in apps.get_app_config(label).get_models()
        if m._meta.label not in NOT_IN_ADMIN and m not in admin.site._registry
    ]
    assert missing == []


def test_every_changelist_and_change_page_renders(browser, superuser):
    patient = PatientFactory()
    chart_create(patient=patient, practitioner=PractitionerFactory())
    audit_record(actor=superuser, action="read", patient=patient)
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        info = (model._meta.app_label, model._meta.model_name)
        assert browser.get(reverse("admin:{}_{}_changelist".format(*info))).status_code == 200, info
        obj = model._default_manager.first()
        if obj is not None:
            assert (
                browser.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk])).status_code == 200
            ), info


def test_audit_events_are_read_only_even_for_superusers(browser, superuser):
    event = audit_record(actor=superuser, action="login")
    change_url = reverse("admin:audit_auditevent_change", args=[event.pk])
    assert browser.get(reverse("admin:audit_auditevent_add")).status_code == 403
    assert browser.post(change_url, {"action": "logout"}).status_code == 403
    assert (
        browser.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    page = browser.get(change_url)
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert AuditEvent.objects.get(pk=event.pk).action == "login"


class TestPatientAdmin:
    def test_add_goes_through_the_service(self, browser, superuser):
        data = {
            "family_name": "Adminson",
            "given_names": "Ada",
            "date_of_birth": "1960-02-03",
            "gender": "female",
            "active": "on",
        }
        response = browser.post(reverse("admin:patients_patient_add"), data)
        assert response.status_code == 302, response.content[:2000]
        patient = Patient.objects.get(family_name="Adminson")
        assert len(patient.mrn) == 9
        assert AuditEvent.objects.filter(action="create", patient=patient, actor=superuser).count() == 1
        # the same person again: refused until a reason is given
        again = browser.post(reverse("admin:patients_patient_add"), data)
        assert again.status_code == 200 and b"Probable duplicate" in again.content
        forced = browser.post(
            reverse("admin:patients_patient_add"),
            {**data, "duplicate_override_reason": "Different person, same name and birthday"},
        )
        assert forced.status_code == 302 and Patient.objects.filter(family_name="Adminson").count() == 2

    def test_change_is_audited_and_reads_too(self, browser, superuser):
        patient = PatientFactory(family_name="Before")
        url = reverse("admin:patients_patient_change", args=[patient.pk])
        assert browser.get(url).status_code == 200
        assert AuditEvent.objects.filter(action="read", patient=patient, channel="admin").count() == 1
        data = {
            "family_name": "After",
            "given_names": patient.given_names,
            "date_of_birth": patient.date_of_birth.isoformat(),
            "gender": patient.gender,
            "phone": patient.phone,
            "active": "on",
        }
        assert browser.post(url, data).status_code == 302
        patient.refresh_from_db()
        assert patient.family_name == "After"
        assert AuditEvent.objects.get(action="update", patient=patient).detail == {"fields": ["family_name"]}

    def test_search_by_mrn_is_audited_with_the_rows_shown(self, browser):
        target, _other = PatientFactory(), PatientFactory()
        response = browser.get(reverse("admin:patients_patient_changelist"), {"q": target.mrn})
        assert response.status_code == 200 and target.mrn.encode() in response.content
        event = AuditEvent.objects.get(action="search", channel="admin")
        assert event.patient_ids == [target.pk]

    def test_no_hard_delete_but_a_soft_delete_action_with_a_reason(self, browser, superuser):
        patient = PatientFactory()
        assert browser.get(reverse("admin:patients_patient_delete", args=[patient.pk])).status_code == 403
        changelist = reverse("admin:patients_patient_changelist")
        action = {"action": "soft_delete_selected", "_selected_action": [patient.pk]}
        browser.post(changelist, {**action, "reason": ""})
        assert Patient.objects.get(pk=patient.pk).deleted_at is None
        browser.post(changelist, {**action, "reason": "Test record"})
        patient.refresh_from_db()
        assert patient.deleted_at is not None and patient.deletion_reason == "Test record"
        assert patient.deleted_by == superuser
        # hidden from the default list, shown with the filter
        assert patient.mrn.encode() not in browser.get(changelist).content
        assert patient.mrn.encode() in browser.get(changelist, {"state": "deleted"}).content
