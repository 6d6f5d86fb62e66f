"""Portal pages of claims and coverage: work list with actions, claim page, FHIR download, coverage form,
the patient's "My claims"; who may open what."""

import pytest
from django.test import Client

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.billing import claims
from hms.billing.models import ClaimStatus
from hms.core.testing import make_user

from . import claim_factories as f

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def setup():
    clerk = make_user(Role.BILLING)
    me = make_user(Role.PATIENT)
    cover = f.coverage(me.patient)
    claim = claims.claim_create(invoice=f.issued_invoice(me.patient, clerk, cover=cover), by=clerk)
    other = make_user(Role.PATIENT)
    other_claim = claims.claim_create(invoice=f.issued_invoice(other.patient, clerk), by=clerk)
    return clerk, me, claim, other_claim


def test_work_list_filters_and_acts(setup, django_capture_on_commit_callbacks):
    clerk, me, claim, other_claim = setup
    web = client_for(clerk)
    page = web.get("/billing/claims/")
    assert page.status_code == 200
    assert f"#{claim.pk}" in page.content.decode() and f"#{other_claim.pk}" in page.content.decode()
    rows = web.get("/billing/claims/", {"q": me.patient.mrn}, HTTP_HX_REQUEST="true")
    assert "<html" not in rows.content.decode()
    assert f"#{claim.pk}<" in rows.content.decode() and f"#{other_claim.pk}<" not in rows.content.decode()
    # other_claim has no coverage: validation refuses it and says why
    res = web.post(f"/billing/claims/{other_claim.pk}/validate/", {"next": "/billing/claims/"}, follow=True)
    assert "No insurance coverage is attached" in res.content.decode()
    web.post(f"/billing/claims/{claim.pk}/validate/")
    with django_capture_on_commit_callbacks(execute=True):
        web.post(f"/billing/claims/{claim.pk}/submit/")
    claim.refresh_from_db()
    assert claim.status == ClaimStatus.PAID
    paid_tab = web.get("/billing/claims/", {"status": "paid"}).content.decode()
    assert f"#{claim.pk}<" in paid_tab and f"#{other_claim.pk}<" not in paid_tab
    assert web.post(f"/billing/claims/{other_claim.pk}/cancel/", {"reason": ""}).status_code == 302
    other_claim.refresh_from_db()
    assert other_claim.status == ClaimStatus.CREATED  # no reason, no cancel


def test_claim_page_and_fhir_download(setup):
    _clerk, me, claim, other_claim = setup
    mine = client_for(me)
    page = mine.get(f"/billing/claims/{claim.pk}/")
    assert page.status_code == 200 and 'data-testid="claim-events"' in page.content.decode()
    assert "Validate claim" not in page.content.decode()  # a patient has no actions
    download = mine.get(f"/billing/claims/{claim.pk}/fhir/")
    assert download["Content-Disposition"] == f'attachment; filename="claim-{claim.pk}.fhir.json"'
    assert b'"resourceType": "Claim"' in download.content
    assert AuditEvent.objects.filter(action="export", channel="web", object_id=str(claim.pk)).exists()
    assert mine.get(f"/billing/claims/{other_claim.pk}/").status_code == 404
    assert mine.get(f"/billing/claims/{other_claim.pk}/fhir/").status_code == 404
    assert mine.post(f"/billing/claims/{claim.pk}/validate/").status_code == 403
    assert mine.get("/billing/claims/").status_code == 403
    my_list = mine.get("/me/claims/").content.decode()
    assert f"Claim #{claim.pk}" in my_list and f"Claim #{other_claim.pk}" not in my_list
    assert "/me/claims/" in mine.get("/me/").content.decode()
    for role in (Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.PHARMACIST):
        web = client_for(make_user(role))
        assert web.get("/billing/claims/").status_code == 403
        assert web.get(f"/billing/claims/{claim.pk}/").status_code == 403


def test_coverage_page_records_coverage_with_field_errors(setup):
    _clerk, me, _claim, _other_claim = setup
    desk = client_for(make_user(Role.RECEPTIONIST))
    url = f"/patients/{me.patient.pk}/coverage/"
    page = desk.get(url)
    assert page.status_code == 200 and "M-1001" in page.content.decode()
    assert '<label for="id_member_id">' in page.content.decode()
    payer = f.payer()
    bad = desk.post(
        url,
        {
            "payer": payer.pk,
            "member_id": "N-2",
            "valid_from": "2026-05-01",
            "valid_to": "2026-04-01",
            "order": 2,
            "copay_amount": "0",
            "coinsurance_rate": "0",
        },
    )
    assert bad.status_code == 400 and "The end of cover must be after its start." in bad.content.decode()
    ok = desk.post(
        url,
        {
            "payer": payer.pk,
            "member_id": "N-2",
            "valid_from": "2026-05-01",
            "order": 2,
            "copay_amount": "10",
            "coinsurance_rate": "0.1",
        },
    )
    assert ok.status_code == 302
    assert me.patient.coverages.filter(member_id="N-2", order=2).exists()
    assert client_for(make_user(Role.DOCTOR)).get(url).status_code == 403
    assert client_for(me).get(url).status_code == 403


def test_admin_pages_are_view_only_and_audited(setup):
    from hms.core.testing import UserFactory

    _clerk, me, claim, _other = setup
    web = client_for(UserFactory(is_superuser=True, is_staff=True))
    for url in (
        "/admin/billing/payer/",
        "/admin/billing/coverage/",
        "/admin/billing/claim/",
        "/admin/billing/claimevent/",
    ):
        assert web.get(url).status_code == 200, url
    page = web.get(f"/admin/billing/claim/{claim.pk}/change/")
    assert page.status_code == 200 and b"Save" not in page.content
    read = AuditEvent.objects.filter(channel="admin", action="read", object_type="billing.Claim").get()
    assert read.patient_id == me.patient.pk
    assert web.get("/admin/billing/claim/add/").status_code == 403
