"""The lab's portal pages: encounter orders fragment, work list, result entry, results inbox, my results,
and the timeline sources."""

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hms.audit.models import AuditEvent
from hms.lab import selectors, services
from hms.lab.models import DiagnosticReport, ServiceRequest
from hms.messaging.models import Notification

pytestmark = pytest.mark.django_db


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_encounter_orders_fragment_doctor_orders_several_tests(lab_world):
    w = lab_world
    url = reverse("portal:encounter_orders", args=[w["encounter"].pk])
    doc = _web(w["doctor"])
    page = doc.get(url, headers={"HX-Request": "true"})
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="encounter-orders"' in html and "Order selected tests" in html and "<html" not in html
    assert 'for="lab-test-q"' in html  # labelled search box
    response = doc.post(
        url,
        {"codes": ["58410-2", "4548-4"], "priority": "urgent", "reason": "Fatigue"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    orders = ServiceRequest.objects.filter(encounter=w["encounter"])
    assert {o.code for o in orders} == {"58410-2", "4548-4"} and {o.priority for o in orders} == {"urgent"}
    assert (
        "Complete blood count" in response.content.decode()
        and "Awaiting the lab" in response.content.decode()
    )
    # nothing ticked: an error, nothing written
    response = doc.post(url, {"priority": "routine"}, headers={"HX-Request": "true"})
    assert "Tick at least one test." in response.content.decode()
    assert orders.count() == 2
    assert AuditEvent.objects.filter(action="read", detail__view="encounter_orders").exists()


def test_encounter_orders_access(lab_world):
    w = lab_world
    url = reverse("portal:encounter_orders", args=[w["encounter"].pk])
    nurse = _web(w["nurse"])
    page = nurse.get(url)
    assert page.status_code == 200 and "Order selected tests" not in page.content.decode()
    nurse.post(url, {"codes": ["4548-4"], "priority": "routine"})
    assert not ServiceRequest.objects.exists()  # nurses see, doctors order
    assert _web(w["other_doctor"]).get(url).status_code == 404
    for who in ("lab", "patient_user", "receptionist"):
        assert _web(w[who]).get(url).status_code == 403, who


def test_catalogue_search_fragment_keeps_ticked_tests(lab_world):
    w = lab_world
    doc = _web(w["doctor"])
    url = reverse("portal:lab_test_search")
    html = doc.get(url, {"q": "lipid", "codes": ["4548-4"]}).content.decode()
    assert 'value="57698-3"' in html
    assert 'value="4548-4" checked' in html
    assert "No lab test matches" in doc.get(url, {"q": "qqqq"}).content.decode()
    assert _web(w["patient_user"]).get(url, {"q": "lipid"}).status_code == 403


def test_worklist_stat_first_and_result_entry_with_critical_alert(lab_world):
    w = lab_world
    routine = services.lab_order_create(patient=w["patient"], codes=["51990-0"], by=w["doctor"])[0]
    stat = services.lab_order_create(patient=w["patient"], codes=["6298-4"], by=w["doctor"], priority="stat")[
        0
    ]
    lab = _web(w["lab"])
    page = lab.get(reverse("portal:lab_worklist"))
    html = page.content.decode()
    assert page.status_code == 200 and html.index(f"/lab/orders/{stat.pk}/result/") < html.index(
        f"/lab/orders/{routine.pk}/result/"
    )
    assert w["patient"].mrn in html
    # the lab marks the specimen taken from the work list
    collected = lab.post(reverse("portal:lab_specimen_collect", args=[stat.pk]), follow=True)
    assert "Specimen collected" in collected.content.decode()
    assert ServiceRequest.objects.get(pk=stat.pk).specimen_collected_at is not None
    # a panel's form has a line per member
    entry = lab.get(reverse("portal:lab_result_entry", args=[routine.pk])).content.decode()
    assert 'name="value_2947-0"' in entry and 'name="value_6298-4"' in entry and "135.0-145.0 mmol/L" in entry
    bad = lab.post(reverse("portal:lab_result_entry", args=[stat.pk]), {"value_6298-4": "lots"})
    assert bad.status_code == 400 and not DiagnosticReport.objects.exists()
    done = lab.post(reverse("portal:lab_result_entry", args=[stat.pk]), {"value_6298-4": "2.1"}, follow=True)
    assert "the ordering doctor has been alerted" in done.content.decode()
    assert Notification.objects.filter(recipient=w["doctor"], event="lab.critical").exists()
    assert f"/lab/orders/{stat.pk}/result/" not in done.content.decode()
    # the work list is the lab's page only
    assert _web(w["doctor"]).get(reverse("portal:lab_worklist")).status_code == 302
    assert _web(w["doctor"]).get(reverse("portal:lab_result_entry", args=[routine.pk])).status_code == 302


def test_results_inbox_critical_first_acknowledge_then_patient_sees_it(lab_world):
    w = lab_world
    normal = services.lab_order_create(patient=w["patient"], codes=["3016-3"], by=w["doctor"])[0]
    critical = services.lab_order_create(patient=w["patient"], codes=["718-7"], by=w["doctor"])[0]
    services.lab_result_record(order=normal, results=[{"value": "1.2"}], by=w["lab"])
    services.lab_result_record(order=critical, results=[{"value": "5.9"}], by=w["lab"])
    crit_report = critical.reports.get()
    doc = _web(w["doctor"])
    html = doc.get(reverse("portal:results_inbox")).content.decode()
    assert html.index(f'id="result-{crit_report.pk}"') < html.index(f'id="result-{normal.reports.get().pk}"')
    assert "Critical low" in html

    me = _web(w["patient_user"])
    assert "Hemoglobin" not in me.get(reverse("portal:my_results")).content.decode()
    response = doc.post(
        reverse("portal:result_acknowledge", args=[crit_report.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200 and "released to the patient" in response.content.decode()
    inbox = doc.get(reverse("portal:results_inbox")).content.decode()
    assert f'id="result-{crit_report.pk}"' not in inbox
    assert f'id="result-{normal.reports.get().pk}"' in inbox
    mine = me.get(reverse("portal:my_results")).content.decode()
    assert "Hemoglobin [Mass/volume] in Blood" in mine and "Critical low" in mine
    assert "Thyrotropin" not in mine  # not acknowledged, release delay not over
    # another doctor cannot acknowledge; a patient cannot open the inbox
    assert (
        _web(w["other_doctor"])
        .post(reverse("portal:result_acknowledge", args=[normal.reports.get().pk]))
        .status_code
        == 404
    )
    assert me.get(reverse("portal:results_inbox")).status_code == 302


def test_my_results_shows_only_own_released_results(lab_world):
    w = lab_world
    theirs = services.lab_order_create(patient=w["stranger"], codes=["4548-4"], by=w["other_doctor"])[0]
    services.lab_result_record(order=theirs, results=[{"value": "9.9"}], by=w["lab"])
    services.lab_result_acknowledge(report=theirs.reports.get(), by=w["other_doctor"])
    html = _web(w["patient_user"]).get(reverse("portal:my_results")).content.decode()
    assert "Hemoglobin A1c" not in html and "No results to show yet." in html
    assert "Hemoglobin A1c" in _web(w["stranger_user"]).get(reverse("portal:my_results")).content.decode()


def test_timeline_sources_are_registered_and_scoped(lab_world):
    from hms.clinical.timeline import timeline_sources

    w = lab_world
    assert timeline_sources()["order"] is selectors.orders_timeline
    assert timeline_sources()["result"] is selectors.results_timeline
    order = services.lab_order_create(patient=w["patient"], codes=["4548-4"], by=w["doctor"])[0]
    services.lab_result_record(order=order, results=[{"value": "8.0"}], by=w["lab"])
    items = list(selectors.orders_timeline(w["doctor"], w["patient"])) + list(
        selectors.results_timeline(w["doctor"], w["patient"])
    )
    assert {i.kind for i in items} == {"order", "result"}
    assert next(i for i in items if i.kind == "result").detail == "Abnormal"
    # the patient: the order, but no unreleased result; another doctor: nothing
    assert [i.kind for i in selectors.results_timeline(w["patient_user"], w["patient"])] == []
    assert list(selectors.orders_timeline(w["other_doctor"], w["patient"])) == []
    later = timezone.now() + dt.timedelta(days=1)
    assert list(selectors.orders_timeline(w["doctor"], w["patient"], date_from=later)) == []


PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture
def private_documents(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "documents": {
            "BACKEND": "hms.documents.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": None},
        },
    }


def test_result_entry_attaches_a_pdf_report_and_refuses_a_disguised_file(lab_world, private_documents):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from hms.documents.models import Document

    w = lab_world
    order = services.lab_order_create(patient=w["patient"], codes=["600-7"], by=w["doctor"])[0]
    lab = _web(w["lab"])
    url = reverse("portal:lab_result_entry", args=[order.pk])
    fake = SimpleUploadedFile("culture.pdf", b"<html><script>alert(1)</script></html>", "application/pdf")
    refused = lab.post(url, {"value_600-7": "No growth", "attachment": fake})
    assert refused.status_code == 400 and not DiagnosticReport.objects.exists()
    assert not Document.objects.exists()
    pdf = SimpleUploadedFile("culture.pdf", PDF_BYTES, "application/pdf")
    done = lab.post(url, {"value_600-7": "No growth after 5 days", "attachment": pdf})
    assert done.status_code == 302
    report = DiagnosticReport.objects.get(based_on=order)
    assert report.results.get().value_string == "No growth after 5 days"
    document = Document.objects.get()
    assert document.diagnostic_report_id == report.pk and document.patient_id == w["patient"].pk


def test_hide_unreleased_filters_generic_reads_for_the_patient_only(lab_world):
    from hms.clinical.models import Observation

    w = lab_world
    order = services.lab_order_create(patient=w["patient"], codes=["4548-4"], by=w["doctor"])[0]
    report = services.lab_result_record(order=order, results=[{"value": "6.1"}], by=w["lab"])
    observations = Observation.objects.filter(patient=w["patient"], category="laboratory")
    reports = DiagnosticReport.objects.filter(patient=w["patient"])
    assert selectors.hide_unreleased(w["patient_user"], observations).count() == 0
    assert selectors.hide_unreleased(w["patient_user"], reports).count() == 0
    assert selectors.hide_unreleased(w["doctor"], observations).count() == 1
    services.lab_result_acknowledge(report=report, by=w["doctor"])
    assert selectors.hide_unreleased(w["patient_user"], observations).count() == 1
    assert selectors.hide_unreleased(w["patient_user"], reports).count() == 1


def test_attachment_links_follow_the_release_rule(lab_world, private_documents):
    from django.core.files.uploadedfile import SimpleUploadedFile

    w = lab_world
    order = services.lab_order_create(patient=w["patient"], codes=["600-7"], by=w["doctor"])[0]
    pdf = SimpleUploadedFile("culture.pdf", PDF_BYTES, "application/pdf")
    report = services.lab_result_record(order=order, conclusion="No growth.", attachment=pdf, by=w["lab"])
    inbox = _web(w["doctor"]).get(reverse("portal:results_inbox")).content.decode()
    assert "Bacteria identified in Blood by Culture report" in inbox and "/download/" in inbox
    me = _web(w["patient_user"])
    assert "/download/" not in me.get(reverse("portal:my_results")).content.decode()
    services.lab_result_acknowledge(report=report, by=w["doctor"])
    mine = me.get(reverse("portal:my_results")).content.decode()
    assert "No growth." in mine and "/download/" in mine
