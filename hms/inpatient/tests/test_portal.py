"""Portal pages of ADT: admit, the admission page (transfer, discharge, PDF), quick admission, merge and the
location tree; who may open them, and bad input re-rendered with messages (400), never a 500."""

import pytest
from django.test import Client
from django.urls import reverse

from hms.core.testing import PatientFactory
from hms.inpatient import services
from hms.inpatient.models import Admission, Location
from hms.patients.models import Patient

pytestmark = pytest.mark.django_db


def _client(user):
    c = Client()
    c.force_login(user)
    return c


def test_admit_page_transfer_discharge_and_pdf(ward_world):
    w = ward_world
    doc = _client(w["doctor"])
    url = reverse("portal:admit", args=[w["patient"].pk])
    page = doc.get(url)
    assert page.status_code == 200 and b'<label for="id_bed">Bed</label>' in page.content
    bad = doc.post(
        url,
        {
            "admitting_practitioner": w["doctor"].practitioner.pk,
            "source": "clinic",
            "reason": "",
            "bed": w["beds"]["M1-1"].pk,
        },
    )
    assert bad.status_code == 400
    female_only = doc.post(
        url,
        {
            "admitting_practitioner": w["doctor"].practitioner.pk,
            "source": "clinic",
            "reason": "Pneumonia",
            "bed": w["beds"]["F1-1"].pk,
        },
    )
    assert female_only.status_code == 400 and b"female patients only" in female_only.content
    res = doc.post(
        url,
        {
            "admitting_practitioner": w["doctor"].practitioner.pk,
            "source": "clinic",
            "reason": "Pneumonia",
            "bed": w["beds"]["M1-1"].pk,
        },
    )
    admission = Admission.objects.get(patient=w["patient"])
    assert res.status_code == 302 and res["Location"] == reverse("portal:admission", args=[admission.pk])
    page = doc.get(res["Location"])
    assert b'data-testid="transfer-form"' in page.content and b'data-testid="discharge-form"' in page.content
    assert b"M1-1" in page.content

    nurse = _client(w["nurse"])
    page = nurse.get(reverse("portal:admission", args=[admission.pk]))
    assert (
        b'data-testid="transfer-form"' in page.content and b'data-testid="discharge-form"' not in page.content
    )
    res = nurse.post(reverse("portal:admission_transfer", args=[admission.pk]), {"bed": w["beds"]["M2-1"].pk})
    assert res.status_code == 302
    assert Location.objects.get(pk=w["beds"]["M1-1"].pk).status == "cleaning"
    assert nurse.post(reverse("portal:admission_discharge", args=[admission.pk]), {}).status_code == 403

    bad = doc.post(
        reverse("portal:admission_discharge", args=[admission.pk]), {"disposition": "", "summary": "x"}
    )
    assert bad.status_code == 400
    res = doc.post(
        reverse("portal:admission_discharge", args=[admission.pk]),
        {"disposition": "home", "summary": "Recovered."},
    )
    assert res.status_code == 302
    page = doc.get(reverse("portal:admission", args=[admission.pk]))
    assert b'data-testid="summary-pdf"' in page.content
    pdf = doc.get(reverse("portal:admission_pdf", args=[admission.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    # another doctor: 404; a pharmacist: 403; the receptionist reads the page without clinical forms
    assert _client(w["other_doctor"]).get(reverse("portal:admission", args=[admission.pk])).status_code == 404
    assert _client(w["pharmacist"]).get(reverse("portal:admission", args=[admission.pk])).status_code == 403
    desk = _client(w["receptionist"]).get(reverse("portal:admission", args=[admission.pk]))
    assert desk.status_code == 200 and b"For the discharge summary" not in desk.content


def test_quick_admission_then_merge_pages(ward_world):
    w = ward_world
    desk = _client(w["receptionist"])
    url = reverse("portal:quick_admit")
    assert desk.get(url).status_code == 200
    bad = desk.post(
        url,
        {
            "gender": "male",
            "approx_age": "500",
            "admitting_practitioner": w["doctor"].practitioner.pk,
            "reason": "Collapsed",
            "bed": w["beds"]["M1-1"].pk,
        },
    )
    assert bad.status_code == 400
    taken_bed = services.bed_set_status(bed=w["beds"]["M1-2"], status="out-of-service", by=w["admin"])
    refused = desk.post(
        url,
        {
            "gender": "male",
            "approx_age": "50",
            "admitting_practitioner": w["doctor"].practitioner.pk,
            "reason": "Collapsed",
            "bed": taken_bed.pk,
        },
    )
    assert refused.status_code == 400
    assert not Patient.objects.filter(
        identity_unknown=True
    ).exists()  # one transaction: nobody half-registered
    res = desk.post(
        url,
        {
            "gender": "male",
            "approx_age": "50",
            "note": "grey beard",
            "admitting_practitioner": w["doctor"].practitioner.pk,
            "reason": "Collapsed in street",
            "bed": w["beds"]["M1-1"].pk,
        },
    )
    assert res.status_code == 302
    unknown = Patient.objects.get(identity_unknown=True)
    assert unknown.family_name == "Unknown" and Admission.objects.get(patient=unknown).source == "emergency"

    # merge page: the search fragment lists temporary records by default, and finds the real patient
    real = PatientFactory(family_name="Zanetti", gender="male")
    frag = desk.get(reverse("portal:patient_merge_search"), {"field": "source"}, HTTP_HX_REQUEST="true")
    assert unknown.mrn.encode() in frag.content
    frag = desk.get(
        reverse("portal:patient_merge_search"), {"field": "target", "q": "Zanetti"}, HTTP_HX_REQUEST="true"
    )
    assert f'name="target" value="{real.pk}"'.encode() in frag.content
    assert (
        desk.post(reverse("portal:patient_merge"), {"source": unknown.pk, "target": real.pk}).status_code
        == 400
    )
    res = desk.post(
        reverse("portal:patient_merge"), {"source": unknown.pk, "target": real.pk, "reason": "ID card"}
    )
    assert res.status_code == 302
    unknown.refresh_from_db()
    assert unknown.merged_into_id == real.pk
    assert _client(w["nurse"]).get(reverse("portal:patient_merge")).status_code == 403


def test_locations_page_for_admins(ward_world):
    w = ward_world
    admin = _client(w["admin"])
    page = admin.get(reverse("portal:locations"))
    assert page.status_code == 200 and b"Maternity" in page.content
    res = admin.post(
        reverse("portal:locations"), {"physical_type": "ro", "parent": w["maternity"].pk, "name": "F2"}
    )
    assert res.status_code == 302 and Location.objects.filter(name="F2", parent=w["maternity"]).exists()
    bad = admin.post(
        reverse("portal:locations"), {"physical_type": "bd", "parent": w["maternity"].pk, "name": "X"}
    )
    assert bad.status_code == 400 and b"belongs in a room" in bad.content
    edit = reverse("portal:location_edit", args=[w["maternity"].pk])
    assert admin.get(edit).status_code == 200
    res = admin.post(
        edit,
        {
            "name": "Maternity (east)",
            "ward_type": "maternity",
            "gender_restriction": "female",
            "sort_order": "1",
            "active": "on",
        },
    )
    assert res.status_code == 302 and Location.objects.get(pk=w["maternity"].pk).name == "Maternity (east)"
    for who in ("doctor", "nurse", "receptionist"):
        assert _client(w[who]).get(reverse("portal:locations")).status_code == 403


def test_admit_links_on_chart_and_encounter(ward_world):
    w = ward_world
    from hms.clinical.models import Encounter

    admit_url = reverse("portal:admit", args=[w["patient"].pk]).encode()
    assert (
        admit_url in _client(w["doctor"]).get(reverse("portal:patient_chart", args=[w["patient"].pk])).content
    )
    assert (
        admit_url
        in _client(w["receptionist"]).get(reverse("portal:patient_chart", args=[w["patient"].pk])).content
    )
    enc = Encounter.objects.filter(patient=w["patient"], practitioner=w["doctor"].practitioner).first()
    page = _client(w["doctor"]).get(reverse("portal:encounter", args=[enc.pk]))
    assert admit_url + f"?encounter={enc.pk}".encode() in page.content
    form = _client(w["doctor"]).get(reverse("portal:admit", args=[w["patient"].pk]) + f"?encounter={enc.pk}")
    assert f'name="encounter" value="{enc.pk}"'.encode() in form.content


def test_django_admin_edits_the_tree_through_the_services(ward_world):
    from hms.audit.models import AuditEvent
    from hms.core.testing import UserFactory

    su = _client(UserFactory(is_superuser=True, is_staff=True))
    url = reverse("admin:inpatient_location_add")
    base = {
        "physical_type": "bd",
        "name": "Loose bed",
        "code": "",
        "ward_type": "",
        "gender_restriction": "",
        "isolation": "",
        "sort_order": "0",
        "active": "on",
    }
    bad = su.post(url, {**base, "parent": ward_world["medicine"].pk})
    assert bad.status_code == 200 and b"belongs in a room" in bad.content
    room = ward_world["beds"]["M1-1"].parent
    res = su.post(url, {**base, "parent": room.pk})
    assert res.status_code == 302
    bed = Location.objects.get(name="Loose bed")
    assert (
        bed.status == "free"
        and AuditEvent.objects.filter(
            object_type="inpatient.Location", object_id=str(bed.pk), action="create"
        ).exists()
    )
    services.admission_create(
        patient=ward_world["patient"],
        admitting_practitioner=ward_world["doctor"].practitioner,
        source="planned",
        reason="Elective",
        bed=bed,
        by=ward_world["doctor"],
    )
    change = reverse("admin:inpatient_location_change", args=[room.pk])
    res = su.post(
        change,
        {
            "name": room.name,
            "code": "",
            "ward_type": "",
            "gender_restriction": "",
            "isolation": "",
            "sort_order": "0",
        },
    )
    assert res.status_code == 200 and b"occupied" in res.content
    assert Location.objects.get(pk=room.pk).active
