"""Consultation and nursing notes through the REST API: draft from a template, edit, sign, a signed note
cannot be edited (409) but gains an addendum, entered in error; templates per specialty; role matrix."""

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical.models import ClinicalNote, Encounter, EncounterClass, EncounterStatus, NoteTemplate
from hms.core.testing import PatientFactory, api_client_for, make_user, put_in_care
from hms.staff.models import Specialty


@pytest.fixture
def ward(db):
    """A cardiologist's open encounter with a patient (who has a portal account), a nurse caring for the
    patient, and outsiders of every role."""
    cardiology = Specialty.objects.get(code="394579002")
    doctor = make_user(Role.DOCTOR)
    doctor.practitioner.specialty = cardiology
    doctor.practitioner.save()
    patient_user = make_user(Role.PATIENT)
    encounter = Encounter.objects.create(
        patient=patient_user.patient,
        practitioner=doctor.practitioner,
        encounter_class=EncounterClass.AMBULATORY,
        status=EncounterStatus.IN_PROGRESS,
        period_start=timezone.now(),
    )
    nurse = make_user(Role.NURSE)
    put_in_care(nurse, patient_user.patient)
    colleague = make_user(Role.DOCTOR)  # also caring for the patient, but not the author
    put_in_care(colleague, patient_user.patient)
    outsider = make_user(Role.DOCTOR)
    put_in_care(outsider, PatientFactory())
    return {
        "doctor": doctor,
        "nurse": nurse,
        "colleague": colleague,
        "outsider": outsider,
        "patient": patient_user,
        "other_patient": make_user(Role.PATIENT),
        "encounter": encounter,
        **{r: make_user(r) for r in (Role.ADMIN, Role.RECEPTIONIST, Role.PHARMACIST, Role.BILLING)},
    }


def test_shipped_templates_per_specialty(ward):
    """The data migration ships templates; a cardiologist sees the general ones and cardiology's."""
    assert NoteTemplate.objects.filter(specialty__code="394579002").exists()
    assert NoteTemplate.objects.filter(specialty__isnull=True).exists()
    body = api_client_for(ward["doctor"]).get("/api/note-templates/?specialty=394579002").json()
    specialties = {(t["specialty"] or {}).get("code") for t in body["results"]}
    assert specialties == {None, "394579002"}
    assert api_client_for(ward[Role.PATIENT]).get("/api/note-templates/").status_code == 403
    assert api_client_for(ward[Role.RECEPTIONIST]).get("/api/note-templates/").status_code == 403


def test_soap_workflow_draft_edit_sign_then_409_then_addendum(ward):
    doctor, encounter = ward["doctor"], ward["encounter"]
    client = api_client_for(doctor)
    template = NoteTemplate.objects.get(name="Cardiology consultation")

    created = client.post(
        f"/api/encounters/{encounter.pk}/notes/",
        {"template": template.pk, "subjective": "Chest pain on exertion for 2 weeks"},
        format="json",
    )
    assert created.status_code == 201, created.content
    note = created.json()
    assert note["status"] == "preliminary" and note["kind"] == "soap" and note["template"] == template.pk
    assert note["subjective"] == "Chest pain on exertion for 2 weeks"  # the doctor's text wins
    assert note["objective"] == template.objective  # empty sections come from the template
    url = f"/api/notes/{note['id']}/"

    edited = client.patch(url, {"assessment": "Stable angina", "plan": "Exercise ECG"}, format="json")
    assert edited.status_code == 200 and edited.json()["assessment"] == "Stable angina"

    # Only the author edits or signs a draft; others do not even see it.
    assert api_client_for(ward["colleague"]).patch(url, {"plan": "x"}, format="json").status_code == 404
    assert api_client_for(ward["colleague"]).post(f"{url}sign/").status_code == 404

    # An addendum on a draft is refused: edit it instead.
    early = client.post(f"{url}addenda/", {"reason": "r", "text": "t"}, format="json")
    assert early.status_code == 409

    signed = client.post(f"{url}sign/")
    assert signed.status_code == 200 and signed.json()["status"] == "final"
    assert signed.json()["signed_by"]["id"] == doctor.pk and signed.json()["signed_at"]

    refused = client.patch(url, {"assessment": "Changed my mind"}, format="json")
    assert refused.status_code == 409
    assert client.post(f"{url}sign/").status_code == 409
    assert ClinicalNote.objects.get(pk=note["id"]).assessment == "Stable angina"

    added = api_client_for(ward["colleague"]).post(
        f"{url}addenda/", {"reason": "Exercise ECG result", "text": "ST depression at 6 METs"}, format="json"
    )
    assert added.status_code == 201, added.content
    assert added.json()["author"]["id"] == ward["colleague"].pk and added.json()["created_at"]

    final = client.get(url).json()
    assert final["status"] == "amended" and final["assessment"] == "Stable angina"
    assert [(a["reason"], a["text"]) for a in final["addenda"]] == [
        ("Exercise ECG result", "ST depression at 6 METs")
    ]
    # The patient reads the signed note with its addendum.
    mine = api_client_for(ward[Role.PATIENT]).get(url)
    assert mine.status_code == 200 and len(mine.json()["addenda"]) == 1
    actions = list(
        AuditEvent.objects.filter(object_type="clinical.ClinicalNote", object_id=str(note["id"]))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[:4] == ["create", "update", "update", "update"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"reason": "", "text": "t"}, "reason"),
        ({"reason": "r", "text": ""}, "text"),
        ({"reason": ["r"], "text": "t"}, "reason"),
        ({"reason": "r" * 501, "text": "t"}, "reason"),
    ],
)
def test_addendum_bad_input_is_a_400(ward, payload, field):
    from hms.clinical.notes import note_create_draft, note_sign

    note = note_create_draft(encounter=ward["encounter"], by=ward["doctor"], assessment="A")
    note_sign(note=note, by=ward["doctor"])
    response = api_client_for(ward["doctor"]).post(f"/api/notes/{note.pk}/addenda/", payload, format="json")
    assert response.status_code == 400 and field in response.json()
    assert not note.addenda.exists()


def test_an_empty_draft_cannot_be_signed_and_bad_fields_are_400(ward):
    client = api_client_for(ward["doctor"])
    note = client.post(f"/api/encounters/{ward['encounter'].pk}/notes/", {}, format="json").json()
    response = client.post(f"/api/notes/{note['id']}/sign/")
    assert response.status_code == 400 and "assessment" in response.json()
    assert client.patch(f"/api/notes/{note['id']}/", {"plan": 7}, format="json").status_code == 400
    assert client.patch(f"/api/notes/{note['id']}/", {}, format="json").status_code == 400
    too_long = client.patch(f"/api/notes/{note['id']}/", {"plan": "x" * 20001}, format="json")
    assert too_long.status_code == 400 and "plan" in too_long.json()
    other = NoteTemplate.objects.exclude(specialty__isnull=True).exclude(specialty__code="394579002").first()
    wrong = client.post(
        f"/api/encounters/{ward['encounter'].pk}/notes/", {"template": other.pk}, format="json"
    )
    assert wrong.status_code == 400 and "template" in wrong.json()


def test_nursing_note_is_signed_on_save_and_doctors_cannot_write_one(ward):
    url = f"/api/encounters/{ward['encounter'].pk}/notes/"
    nurse = api_client_for(ward["nurse"])
    created = nurse.post(url, {"kind": "nursing", "body": "Obs stable, pain 2/10"}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["kind"] == "nursing" and created.json()["status"] == "final"
    assert nurse.post(url, {"kind": "nursing", "body": "  "}, format="json").status_code == 400
    mixed = nurse.post(url, {"kind": "nursing", "body": "b", "plan": "p"}, format="json")
    assert mixed.status_code == 400 and "plan" in mixed.json()
    # A nurse does not write SOAP notes; a doctor does not write nursing notes.
    assert nurse.post(url, {"assessment": "x"}, format="json").status_code == 404
    doctor = api_client_for(ward["doctor"])
    assert doctor.post(url, {"kind": "nursing", "body": "x"}, format="json").status_code == 404
    listed = doctor.get(url).json()
    assert [n["kind"] for n in listed["results"]] == ["nursing"]


def test_entered_in_error_leaves_the_lists_but_is_kept(ward):
    from hms.clinical.notes import note_create_draft, note_sign

    note = note_create_draft(encounter=ward["encounter"], by=ward["doctor"], assessment="wrong patient")
    note_sign(note=note, by=ward["doctor"])
    url = f"/api/notes/{note.pk}/entered-in-error/"
    assert api_client_for(ward["colleague"]).post(url, {"reason": "x"}, format="json").status_code == 403
    assert api_client_for(ward["doctor"]).post(url, {"reason": ""}, format="json").status_code == 400
    done = api_client_for(ward["doctor"]).post(url, {"reason": "Wrong patient"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "entered-in-error"
    assert api_client_for(ward["doctor"]).get(f"/api/notes/{note.pk}/").status_code == 404
    kept = ClinicalNote.objects.get(pk=note.pk)
    assert kept.deletion_reason == "Wrong patient" and kept.assessment == "wrong patient"


def test_role_matrix_of_note_endpoints(ward):
    from hms.clinical.notes import note_create_draft, note_sign

    note = note_create_draft(encounter=ward["encounter"], by=ward["doctor"], assessment="A")
    note_sign(note=note, by=ward["doctor"])
    enc_notes = f"/api/encounters/{ward['encounter'].pk}/notes/"
    detail = f"/api/notes/{note.pk}/"
    reads = {
        "doctor": 200,
        "nurse": 200,
        "colleague": 200,
        Role.PATIENT: 200,
        "outsider": 404,
        "other_patient": 404,
        Role.ADMIN: 403,
        Role.RECEPTIONIST: 403,
        Role.PHARMACIST: 403,
        Role.BILLING: 403,
    }
    for who, code in reads.items():
        client = api_client_for(ward[who])
        assert client.get(enc_notes).status_code == code, who
        assert client.get(detail).status_code == code, who
    writes = {
        "outsider": 404,
        Role.PATIENT: 403,
        "other_patient": 403,
        Role.ADMIN: 403,
        Role.RECEPTIONIST: 403,
        Role.PHARMACIST: 403,
        Role.BILLING: 403,
    }
    for who, code in writes.items():
        client = api_client_for(ward[who])
        assert client.post(enc_notes, {"assessment": "x"}, format="json").status_code == code, who
        assert (
            client.post(f"{detail}addenda/", {"reason": "r", "text": "t"}, format="json").status_code == code
        )
        assert client.post(f"{detail}sign/").status_code == code, who
        assert client.post(f"{detail}entered-in-error/", {"reason": "r"}, format="json").status_code == code
    assert ClinicalNote.objects.count() == 1 and not note.addenda.exists()
    assert api_client_for(ward["doctor"]).get("/api/notes/99999999/").status_code == 404
