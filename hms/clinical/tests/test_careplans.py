"""Care plans, goals and activities: the services and the REST API, end to end through JWT clients.

Covers goal evaluation from the latest observation (met / not met / no data, blood-pressure components),
input validation (400 with the field, nothing written), activity tick-off by the care team (with the
person-assigned rule and 409 on a closed activity), plan status moves, entered-in-error, the nurse's task
list, audit events, and the role matrix of every endpoint.
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical import careplans
from hms.clinical.models import CarePlan, CarePlanActivity, Condition, Goal, Observation
from hms.core import codes
from hms.core.errors import NotFoundOrForbidden
from hms.core.testing import api_client_for, make_user, put_in_care
from hms.messaging.models import Notification

NOW = timezone.now()
HBA1C = "4548-4"


def hba1c(patient, value: str, *, days_ago: int = 1, unit: str = "%") -> Observation:
    return Observation.objects.create(
        patient=patient,
        category="laboratory",
        code_system=codes.LOINC,
        code=HBA1C,
        code_display="Hemoglobin A1c/Hemoglobin.total in Blood",
        value_quantity=Decimal(value),
        value_unit=unit,
        effective_at=NOW - dt.timedelta(days=days_ago),
    )


class World:
    """A patient (with a portal account) in the care of a doctor and a nurse; another nurse also in
    care; a nurse and a doctor not in care; one user of each other role; another patient with a plan."""

    def __init__(self):
        self.doctor = make_user(Role.DOCTOR)
        self.nurse = make_user(Role.NURSE)
        self.nurse2 = make_user(Role.NURSE)
        self.outside_nurse = make_user(Role.NURSE)
        self.outside_doctor = make_user(Role.DOCTOR)
        self.patient_user = make_user(Role.PATIENT)
        self.patient = self.patient_user.patient
        self.encounter = put_in_care(self.doctor, self.patient)
        put_in_care(self.nurse, self.patient)
        put_in_care(self.nurse2, self.patient)
        self.others = {
            role: make_user(role)
            for role in (Role.RECEPTIONIST, Role.PHARMACIST, Role.LAB_TECHNICIAN, Role.BILLING, Role.ADMIN)
        }
        self.diabetes = Condition.objects.create(
            patient=self.patient,
            encounter=self.encounter,
            code_system=codes.SNOMED,
            code="44054006",
            code_display="Diabetes mellitus type 2",
        )
        self.plan = careplans.careplan_create(
            patient=self.patient,
            encounter=self.encounter,
            title="Diabetes care",
            addresses=[self.diabetes.pk],
            by=self.doctor,
        )
        self.goal = careplans.goal_add(
            care_plan=self.plan,
            description="HbA1c below 7 %",
            target_code=HBA1C,
            comparator="<",
            target_value="7",
            unit="%",
            due_date=NOW.date() + dt.timedelta(days=90),
            by=self.doctor,
        )
        self.activity = careplans.activity_add(
            care_plan=self.plan,
            kind="nurse-check",
            description="Check feet",
            assigned_role="nurse",
            due_at=NOW + dt.timedelta(days=1),
            by=self.doctor,
        )
        # another patient, with a plan of their own by another doctor
        self.other_patient_user = make_user(Role.PATIENT)
        self.other_patient = self.other_patient_user.patient
        put_in_care(self.outside_doctor, self.other_patient)
        self.other_plan = careplans.careplan_create(
            patient=self.other_patient, title="Other plan", by=self.outside_doctor
        )


@pytest.fixture
def w(db):
    return World()


# ---------------------------------------------------------------- goal evaluation


def test_hba1c_goal_is_met_not_met_or_without_data_from_the_latest_observation(w):
    assert careplans.goal_progress(w.goal).status == "no-data"
    assert careplans.goal_progress(w.goal).achievement == ""
    hba1c(w.patient, "8.1", days_ago=30)
    progress = careplans.goal_progress(w.goal)
    assert (progress.status, progress.achievement, progress.value) == (
        "not-met",
        "not-achieved",
        Decimal("8.1"),
    )
    latest = hba1c(w.patient, "6.5", days_ago=2)
    progress = careplans.goal_progress(w.goal)
    assert (progress.status, progress.achievement) == ("met", "achieved")
    assert progress.observation_id == latest.pk and progress.value == Decimal("6.5")
    # a newer 8.1 makes it unmet again: only the latest counts
    hba1c(w.patient, "8.1", days_ago=0)
    assert careplans.goal_progress(w.goal).status == "not-met"


def test_goal_ignores_other_patients_entered_in_error_and_other_units(w):
    hba1c(w.other_patient, "6.0")
    assert careplans.goal_progress(w.goal).status == "no-data"
    wrong = hba1c(w.patient, "6.0")
    wrong.deleted_at = NOW
    wrong.save()
    assert careplans.goal_progress(w.goal).status == "no-data"
    hba1c(w.patient, "48", unit="mmol/mol")
    progress = careplans.goal_progress(w.goal)
    assert progress.status == "no-data" and "mmol/mol" in progress.reason


def test_systolic_goal_reads_the_blood_pressure_panel_component(w):
    goal = careplans.goal_add(
        care_plan=w.plan,
        description="Systolic below 140",
        target_code=codes.LOINC_SYSTOLIC,
        comparator="<",
        target_value=140,
        unit="mmHg",
        by=w.doctor,
    )
    assert goal.target_unit == "mm[Hg]"
    Observation.objects.create(
        patient=w.patient,
        category="vital-signs",
        code_system=codes.LOINC,
        code=codes.LOINC_BLOOD_PRESSURE,
        effective_at=NOW,
        components=[
            {"code": codes.LOINC_SYSTOLIC, "value": 152, "unit": "mm[Hg]"},
            {"code": codes.LOINC_DIASTOLIC, "value": 88, "unit": "mm[Hg]"},
        ],
    )
    progress = careplans.goal_progress(goal)
    assert progress.status == "not-met" and progress.value == Decimal(152)


def test_api_detail_shows_goals_with_progress_and_activities(w):
    hba1c(w.patient, "6.5")
    response = api_client_for(w.doctor).get(f"/api/care-plans/{w.plan.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["title"] == "Diabetes care" and body["addresses"] == ["Diabetes mellitus type 2"]
    goal = body["goals"][0]
    assert goal["target_code"] == HBA1C and goal["target_comparator"] == "<"
    assert goal["progress"]["status"] == "met"
    assert goal["progress"]["achievement_status"] == {
        "system": "http://terminology.hl7.org/CodeSystem/goal-achievement",
        "code": "achieved",
    }
    assert [a["description"] for a in body["activities"]] == ["Check feet"]
    assert AuditEvent.objects.filter(
        action="read", object_type="clinical.CarePlan", patient=w.patient
    ).exists()


# ---------------------------------------------------------------- creating plans, goals, activities


def test_doctor_creates_plan_goal_and_activity_through_the_api(w):
    client = api_client_for(w.doctor)
    response = client.post(
        "/api/care-plans/",
        {
            "patient": w.patient.pk,
            "encounter": w.encounter.pk,
            "title": "Weight",
            "period_start": str(NOW.date()),
            "addresses": [w.diabetes.pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    plan_id = response.json()["id"]
    plan = CarePlan.objects.get(pk=plan_id)
    assert plan.status == "active" and plan.encounter_id == w.encounter.pk
    assert AuditEvent.objects.filter(action="create", object_type="clinical.CarePlan", object_id=str(plan_id))
    response = client.post(
        f"/api/care-plans/{plan_id}/goals/",
        {
            "description": "BMI under 30",
            "target_code": codes.LOINC_BMI,
            "comparator": "<",
            "target_value": "30",
            "unit": "kg/m2",
            "due_date": str(NOW.date() + dt.timedelta(days=180)),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["progress"]["status"] == "no-data"
    response = client.post(
        f"/api/care-plans/{plan_id}/activities/",
        {"kind": "education", "description": "Diet advice", "assigned_to": w.nurse.pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["assigned_to"]["id"] == w.nurse.pk
    note = Notification.objects.get(recipient=w.nurse, event="careplan.activity_assigned")
    assert "Diet advice" in note.body


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"target_code": HBA1C, "comparator": "<", "target_value": "7", "unit": "mmol/mol"}, "unit"),
        ({"target_code": HBA1C, "comparator": "<<", "target_value": "7", "unit": "%"}, "comparator"),
        ({"target_code": "1234-5", "comparator": "<", "target_value": "7", "unit": "%"}, "target_code"),
        ({"target_code": HBA1C, "comparator": "<", "target_value": "70", "unit": "%"}, "target_value"),
        ({"target_code": HBA1C, "comparator": "<", "unit": "%"}, "target_value"),
        ({"description": "   "}, "description"),
        ({"due_date": "2001-01-01"}, "due_date"),
    ],
)
def test_bad_goal_is_400_on_the_field_and_writes_nothing(w, payload, field):
    body = {"description": "HbA1c", **payload}
    response = api_client_for(w.doctor).post(f"/api/care-plans/{w.plan.pk}/goals/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert Goal.objects.filter(care_plan=w.plan).count() == 1


def test_unit_error_names_the_expected_ucum_unit(w):
    response = api_client_for(w.doctor).post(
        f"/api/care-plans/{w.plan.pk}/goals/",
        {"description": "x", "target_code": HBA1C, "comparator": "<", "target_value": "7", "unit": "mg/dL"},
        format="json",
    )
    assert "measured in %" in response.json()["unit"][0]


def test_bad_plans_and_activities_are_400(w):
    client = api_client_for(w.doctor)
    foreign = Condition.objects.create(patient=w.other_patient, code="x", code_display="Other's")
    before = CarePlan.objects.count()
    r = client.post("/api/care-plans/", {"patient": w.patient.pk, "title": "X", "addresses": [foreign.pk]})
    assert r.status_code == 400 and "addresses" in r.json()
    r = client.post(
        "/api/care-plans/",
        {"patient": w.patient.pk, "title": "X", "period_start": "2026-05-02", "period_end": "2026-05-01"},
    )
    assert r.status_code == 400 and "period_end" in r.json()
    r = client.post("/api/care-plans/", {"patient": w.patient.pk, "title": 42}, format="json")
    assert r.status_code == 400 and "title" in r.json()
    assert CarePlan.objects.count() == before
    url = f"/api/care-plans/{w.plan.pk}/activities/"
    r = client.post(url, {"kind": "surgery", "description": "x", "assigned_role": "nurse"})
    assert r.status_code == 400 and "kind" in r.json()
    r = client.post(url, {"kind": "other", "description": "x"})
    assert r.status_code == 400 and "assigned_role" in r.json()
    r = client.post(url, {"kind": "other", "description": "x", "assigned_to": w.outside_nurse.pk})
    assert r.status_code == 400 and "assigned_to" in r.json()
    r = client.post(url, {"kind": "other", "description": "x", "assigned_role": "billing"})
    assert r.status_code == 400 and "assigned_role" in r.json()
    assert CarePlanActivity.objects.filter(care_plan=w.plan).count() == 1


# ---------------------------------------------------------------- ticking off activities


def test_nurse_ticks_off_an_activity_with_a_progress_note(w):
    client = api_client_for(w.nurse)
    url = f"/api/care-plan-activities/{w.activity.pk}/"
    response = client.patch(url, {"status": "completed", "progress_note": "Both feet fine."}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "completed" and body["completed_by"]["id"] == w.nurse.pk
    assert body["completed_at"] is not None and "Both feet fine." in body["progress_note"]
    w.activity.refresh_from_db()
    assert w.activity.completed_by == w.nurse
    event = AuditEvent.objects.get(action="update", object_type="clinical.CarePlanActivity")
    assert event.detail["status"] == ["not-started", "completed"] and event.actor == w.nurse
    # closed now: a second change is a conflict, and nothing changes
    again = client.patch(url, {"status": "in-progress"}, format="json")
    assert again.status_code == 409
    w.activity.refresh_from_db()
    assert w.activity.status == "completed"


def test_progress_notes_accumulate(w):
    client = api_client_for(w.nurse)
    url = f"/api/care-plan-activities/{w.activity.pk}/"
    assert client.patch(url, {"progress_note": "Left foot: callus."}, format="json").status_code == 200
    assert client.patch(url, {"status": "in-progress", "progress_note": "Podiatry asked."}).status_code == 200
    w.activity.refresh_from_db()
    assert "Left foot: callus." in w.activity.progress_note and "Podiatry asked." in w.activity.progress_note
    assert client.patch(url, {}, format="json").status_code == 400
    assert client.patch(url, {"status": "done"}, format="json").status_code == 400
    assert client.patch(url, {"status": "in-progress"}, format="json").status_code == 400  # no change


def test_activity_assigned_to_a_person_is_theirs_or_a_doctors(w):
    mine = careplans.activity_add(
        care_plan=w.plan, kind="nurse-check", description="BP check", assigned_to=w.nurse, by=w.doctor
    )
    url = f"/api/care-plan-activities/{mine.pk}/"
    assert api_client_for(w.nurse2).patch(url, {"status": "completed"}).status_code == 403
    assert api_client_for(w.outside_nurse).patch(url, {"status": "completed"}).status_code == 404
    assert api_client_for(w.doctor).patch(url, {"status": "in-progress"}).status_code == 200
    assert api_client_for(w.nurse).patch(url, {"status": "completed"}).status_code == 200


def test_activities_of_a_plan_that_is_not_active_are_closed(w):
    careplans.careplan_update_status(care_plan=w.plan, status="on-hold", by=w.doctor)
    response = api_client_for(w.nurse).patch(
        f"/api/care-plan-activities/{w.activity.pk}/", {"status": "completed"}
    )
    assert response.status_code == 409
    response = api_client_for(w.doctor).post(
        f"/api/care-plans/{w.plan.pk}/goals/", {"description": "More"}, format="json"
    )
    assert response.status_code == 409


# ---------------------------------------------------------------- plan status, entered in error


def test_plan_status_moves(w):
    client = api_client_for(w.doctor)
    url = f"/api/care-plans/{w.plan.pk}/"
    assert client.patch(url, {"status": "paused"}, format="json").status_code == 400
    response = client.patch(url, {"status": "completed"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "completed"
    assert response.json()["period_end"] is not None
    assert client.patch(url, {"status": "active"}, format="json").status_code == 409
    assert AuditEvent.objects.filter(action="update", object_type="clinical.CarePlan").count() == 1


def test_entered_in_error_hides_the_plan_and_its_tasks(w):
    client = api_client_for(w.doctor)
    url = f"/api/care-plans/{w.plan.pk}/entered-in-error/"
    assert client.post(url, {"reason": "  "}, format="json").status_code == 400
    assert api_client_for(w.nurse).post(url, {"reason": "wrong"}).status_code == 403
    assert client.post(url, {"reason": "Wrong patient"}, format="json").status_code == 204
    w.plan.refresh_from_db()
    assert w.plan.status == "entered-in-error" and w.plan.deletion_reason == "Wrong patient"
    assert CarePlan.objects.filter(pk=w.plan.pk).exists()  # never deleted
    assert client.get(f"/api/care-plans/{w.plan.pk}/").status_code == 404
    assert client.get("/api/care-plans/").json()["count"] == 0
    assert api_client_for(w.nurse).get("/api/care-tasks/").json()["count"] == 0
    assert AuditEvent.objects.filter(action="delete", object_id=str(w.plan.pk)).exists()


# ---------------------------------------------------------------- lists and task list


def test_care_tasks_are_mine_or_my_roles_open_ones_in_my_care_due_first(w):
    later = careplans.activity_add(
        care_plan=w.plan,
        kind="education",
        description="Later",
        assigned_role="nurse",
        due_at=NOW + dt.timedelta(days=5),
        by=w.doctor,
    )
    undated = careplans.activity_add(
        care_plan=w.plan, kind="other", description="Undated", assigned_to=w.nurse, by=w.doctor
    )
    careplans.activity_add(
        care_plan=w.plan, kind="other", description="Nurse 2's", assigned_to=w.nurse2, by=w.doctor
    )
    careplans.activity_add(
        care_plan=w.plan, kind="other", description="Doctor's", assigned_role="doctor", by=w.doctor
    )
    done = careplans.activity_add(
        care_plan=w.plan, kind="other", description="Done", assigned_role="nurse", by=w.doctor
    )
    careplans.activity_update(activity=done, status="completed", by=w.nurse)
    response = api_client_for(w.nurse).get("/api/care-tasks/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [w.activity.pk, later.pk, undated.pk]
    assert rows[0]["patient"]["mrn"] == w.patient.mrn and rows[0]["care_plan_title"] == "Diabetes care"
    assert api_client_for(w.outside_nurse).get("/api/care-tasks/").json()["count"] == 0
    assert [r["description"] for r in api_client_for(w.doctor).get("/api/care-tasks/").json()["results"]] == [
        "Doctor's"
    ]
    event = AuditEvent.objects.filter(action="search", object_type="clinical.CarePlanActivity").latest("id")
    assert event.patient_ids == [w.patient.pk]


def test_plan_list_is_scoped_and_filtered(w):
    second = careplans.careplan_create(patient=w.patient, title="Second", by=w.doctor)
    careplans.careplan_update_status(care_plan=second, status="revoked", by=w.doctor)
    client = api_client_for(w.nurse)
    body = client.get("/api/care-plans/").json()
    assert {r["id"] for r in body["results"]} == {w.plan.pk, second.pk}
    assert [r["id"] for r in client.get("/api/care-plans/?status=active").json()["results"]] == [w.plan.pk]
    assert client.get(f"/api/care-plans/?patient={w.other_patient.pk}").json()["count"] == 0
    assert client.get("/api/care-plans/?patient=abc").status_code == 400
    own = {r["id"] for r in api_client_for(w.patient_user).get("/api/care-plans/").json()["results"]}
    assert own == {w.plan.pk, second.pk}


def test_services_refuse_outsiders_with_404(w):
    with pytest.raises(NotFoundOrForbidden):
        careplans.careplan_create(patient=w.patient, title="X", by=w.outside_doctor)
    with pytest.raises(NotFoundOrForbidden):
        careplans.careplan_create(patient=w.patient, title="X", by=w.nurse)
    with pytest.raises(NotFoundOrForbidden):
        careplans.activity_update(activity=w.activity, status="completed", by=w.patient_user)
    with pytest.raises(NotFoundOrForbidden):
        careplans.careplan_get(user=w.outside_nurse, care_plan_id=w.plan.pk)


# ---------------------------------------------------------------- role matrix


def _calls(w, plan_id, activity_id):
    """(name, method, url, body) of every endpoint."""
    return [
        ("list", "get", "/api/care-plans/", None),
        ("create", "post", "/api/care-plans/", {"patient": w.patient.pk, "title": "Matrix"}),
        ("detail", "get", f"/api/care-plans/{plan_id}/", None),
        ("goal", "post", f"/api/care-plans/{plan_id}/goals/", {"description": "Walk daily"}),
        (
            "activity",
            "post",
            f"/api/care-plans/{plan_id}/activities/",
            {"kind": "other", "description": "x", "assigned_role": "nurse"},
        ),
        ("activity-get", "get", f"/api/care-plan-activities/{activity_id}/", None),
        ("tick", "patch", f"/api/care-plan-activities/{activity_id}/", {"progress_note": "ok"}),
        ("tasks", "get", "/api/care-tasks/", None),
        ("status", "patch", f"/api/care-plans/{plan_id}/", {"status": "on-hold"}),
        ("eie", "post", f"/api/care-plans/{plan_id}/entered-in-error/", {"reason": "test"}),
    ]


# Expected status per (who, endpoint) on the patient's plan. 2xx means it worked.
OK = {
    "list": 200,
    "create": 201,
    "detail": 200,
    "status": 200,
    "goal": 201,
    "activity": 201,
    "eie": 204,
    "activity-get": 200,
    "tick": 200,
    "tasks": 200,
}
MATRIX = {
    "doctor": OK,
    "nurse": {**OK, "create": 403, "status": 403, "goal": 403, "activity": 403, "eie": 403},
    "outside_nurse": {
        **OK,
        "create": 403,
        "status": 403,
        "goal": 403,
        "activity": 403,
        "eie": 403,
        "detail": 404,
        "activity-get": 404,
        "tick": 404,
    },
    "outside_doctor": {
        **OK,
        "create": 404,
        "status": 404,
        "goal": 404,
        "activity": 404,
        "eie": 404,
        "detail": 404,
        "activity-get": 404,
        "tick": 404,
    },
    "patient": {
        **OK,
        "create": 403,
        "status": 403,
        "goal": 403,
        "activity": 403,
        "eie": 403,
        "activity-get": 403,
        "tick": 403,
        "tasks": 403,
    },
    "other_patient": {
        **OK,
        "create": 403,
        "status": 403,
        "goal": 403,
        "activity": 403,
        "eie": 403,
        "detail": 404,
        "activity-get": 403,
        "tick": 403,
        "tasks": 403,
    },
    **{
        role: dict.fromkeys(OK, 403)
        for role in ("receptionist", "pharmacist", "lab_technician", "billing", "admin")
    },
    "anonymous": dict.fromkeys(OK, 401),
}


def _user(w, who):
    if who == "anonymous":
        return None
    return {
        "doctor": w.doctor,
        "nurse": w.nurse,
        "outside_nurse": w.outside_nurse,
        "outside_doctor": w.outside_doctor,
        "patient": w.patient_user,
        "other_patient": w.other_patient_user,
    }.get(who) or w.others[who]


@pytest.mark.parametrize("who", list(MATRIX))
def test_role_matrix(w, who):
    client = api_client_for(_user(w, who))
    got = {}
    for name, method, url, body in _calls(w, w.plan.pk, w.activity.pk):
        # ordered so that one call's effect does not change the next one's answer (status and
        # entered-in-error come last)
        response = getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
        got[name] = response.status_code
    assert got == MATRIX[who]


def test_list_shows_only_what_each_reader_may_see(w):
    ids = lambda user: {r["id"] for r in api_client_for(user).get("/api/care-plans/").json()["results"]}  # noqa: E731
    assert ids(w.doctor) == {w.plan.pk}
    assert ids(w.outside_nurse) == set()
    assert ids(w.outside_doctor) == {w.other_plan.pk}
    assert ids(w.other_patient_user) == {w.other_plan.pk}


def test_another_patients_plan_by_id_is_404_for_everyone_reading(w):
    for user in (w.doctor, w.nurse, w.patient_user):
        client = api_client_for(user)
        assert client.get(f"/api/care-plans/{w.other_plan.pk}/").status_code == 404
    assert (
        api_client_for(w.doctor)
        .patch(f"/api/care-plans/{w.other_plan.pk}/", {"status": "completed"})
        .status_code
        == 404
    )
    assert (
        api_client_for(w.doctor)
        .post(f"/api/care-plans/{w.other_plan.pk}/goals/", {"description": "x"})
        .status_code
        == 404
    )
    assert api_client_for(w.doctor).get("/api/care-plans/999999999/").status_code == 404
    assert (
        api_client_for(w.doctor)
        .post("/api/care-plans/", {"patient": w.other_patient.pk, "title": "x"})
        .status_code
        == 404
    )
