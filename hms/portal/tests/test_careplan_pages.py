"""Care-plan pages: the encounter screen's plan fragment, the nurse's task list, the chart's care plans.

Through Django's test client (session login), real services and database; one browser test (a nurse ticks
off a task) in headless Chromium.
"""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.clinical import careplans
from hms.clinical.models import CarePlan, CarePlanActivity, Condition, Goal, Observation
from hms.core import codes
from hms.core.testing import make_user, put_in_care

from .test_browser import ARTIFACTS, _login

HTMX = {"HTTP_HX_REQUEST": "true"}
NOW = timezone.now()


def _world():
    doctor = make_user(Role.DOCTOR, first_name="Meredith", last_name="Grey")
    nurse = make_user(Role.NURSE, first_name="Carla", last_name="Espinosa")
    patient_user = make_user(Role.PATIENT, first_name="Ada", last_name="Lovelace")
    patient = patient_user.patient
    encounter = put_in_care(doctor, patient)
    put_in_care(nurse, patient)
    diabetes = Condition.objects.create(
        patient=patient, encounter=encounter, code="44054006", code_display="Diabetes mellitus type 2"
    )
    plan = careplans.careplan_create(
        patient=patient, encounter=encounter, title="Diabetes care", addresses=[diabetes.pk], by=doctor
    )
    careplans.goal_add(
        care_plan=plan,
        description="HbA1c below 7 %",
        target_code="4548-4",
        comparator="<",
        target_value="7",
        unit="%",
        by=doctor,
    )
    activity = careplans.activity_add(
        care_plan=plan,
        kind="nurse-check",
        description="Check feet",
        assigned_role="nurse",
        due_at=NOW + dt.timedelta(hours=4),
        by=doctor,
    )
    return {
        "doctor": doctor,
        "nurse": nurse,
        "patient_user": patient_user,
        "patient": patient,
        "encounter": encounter,
        "plan": plan,
        "activity": activity,
        "diabetes": diabetes,
    }


@pytest.fixture
def world(db):
    return _world()


def _hba1c(patient, value):
    Observation.objects.create(
        patient=patient,
        category="laboratory",
        code_system=codes.LOINC,
        code="4548-4",
        value_quantity=Decimal(value),
        value_unit="%",
        effective_at=NOW - dt.timedelta(days=1),
    )


# ---------------------------------------------------------------- the encounter screen fragment


def test_fragment_shows_plans_with_goal_progress(client, world):
    _hba1c(world["patient"], "6.5")
    client.force_login(world["doctor"])
    response = client.get(f"/encounters/{world['encounter'].pk}/plan/", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="encounter-plan"' in html
    assert "Diabetes care" in html and "HbA1c below 7 %" in html and ">Met<" in html
    assert "Diabetes mellitus type 2" in html and "Check feet" in html
    assert "Add a goal" in html and "Start a care plan" in html
    assert AuditEvent.objects.filter(
        action="read", patient=world["patient"], detail__view="encounter_plan"
    ).exists()
    # without htmx: a full page with the banner
    page = client.get(f"/encounters/{world['encounter'].pk}/plan/")
    assert page.status_code == 200 and b"<html" in page.content and b'data-testid="mrn"' in page.content


def test_doctor_starts_a_plan_and_adds_a_goal_and_an_activity(client, world):
    client.force_login(world["doctor"])
    url = f"/encounters/{world['encounter'].pk}/plan/"
    response = client.post(
        url, {"action": "create_plan", "title": "Weight loss", "addresses": [world["diabetes"].pk]}, **HTMX
    )
    assert response.status_code == 200 and b"Care plan started." in response.content
    plan = CarePlan.objects.get(title="Weight loss")
    assert plan.encounter == world["encounter"] and plan.addresses == ["Diabetes mellitus type 2"]
    response = client.post(
        url,
        {
            "action": "add_goal",
            "care_plan": plan.pk,
            "description": "BMI under 30",
            "target_code": codes.LOINC_BMI,
            "comparator": "<",
            "target_value": "30",
            "due_date": str(NOW.date() + dt.timedelta(days=100)),
        },
        **HTMX,
    )
    assert response.status_code == 200 and b"Goal added." in response.content
    goal = Goal.objects.get(care_plan=plan)
    assert goal.target_unit == "kg/m2" and goal.target_value == Decimal(30)
    response = client.post(
        url,
        {
            "action": "add_activity",
            "care_plan": plan.pk,
            "kind": "education",
            "description": "Diet class",
            "assigned_to": world["nurse"].pk,
        },
        **HTMX,
    )
    assert response.status_code == 200 and b"Activity added." in response.content
    assert CarePlanActivity.objects.get(care_plan=plan).assigned_to == world["nurse"]


def test_bad_goal_shows_the_error_at_the_field_and_saves_nothing(client, world):
    client.force_login(world["doctor"])
    url = f"/encounters/{world['encounter'].pk}/plan/"
    data = {
        "action": "add_goal",
        "care_plan": world["plan"].pk,
        "description": "HbA1c",
        "target_code": "4548-4",
        "comparator": "<",
        "target_value": "70",
    }
    response = client.post(url, data, **HTMX)
    assert response.status_code == 200  # htmx swaps only 2xx
    assert b"must be between 3 and 20 %" in response.content and b"field--invalid" in response.content
    assert Goal.objects.filter(care_plan=world["plan"]).count() == 1
    page = client.post(url, data)  # without htmx: the page with the errors, 400
    assert page.status_code == 400


def test_nurse_reads_the_fragment_and_updates_but_cannot_plan(client, world):
    client.force_login(world["nurse"])
    url = f"/encounters/{world['encounter'].pk}/plan/"
    response = client.get(url, **HTMX)
    assert response.status_code == 200 and b"Check feet" in response.content
    assert b"Add a goal" not in response.content and b"Start a care plan" not in response.content
    response = client.post(
        url, {"action": "add_goal", "care_plan": world["plan"].pk, "description": "x"}, **HTMX
    )
    assert response.status_code == 404
    assert Goal.objects.filter(care_plan=world["plan"]).count() == 1
    response = client.post(
        url,
        {"action": "update_activity", "activity": world["activity"].pk, "status": "in-progress"},
        **HTMX,
    )
    assert response.status_code == 200 and b"Activity updated." in response.content
    world["activity"].refresh_from_db()
    assert world["activity"].status == "in-progress"


@pytest.mark.parametrize(
    "who, expected",
    [
        ("outside_nurse", 404),
        ("outside_doctor", 404),
        ("receptionist", 403),
        ("pharmacist", 403),
        ("lab_technician", 403),
        ("billing", 403),
        ("admin", 403),
        ("patient", 403),
    ],
)
def test_fragment_role_matrix(client, world, who, expected):
    if who == "patient":
        user = world["patient_user"]
    else:
        role = who.removeprefix("outside_")
        user = make_user(role)
    client.force_login(user)
    url = f"/encounters/{world['encounter'].pk}/plan/"
    assert client.get(url, **HTMX).status_code == expected
    post = client.post(url, {"action": "create_plan", "title": "Sneaky"}, **HTMX)
    assert post.status_code == expected
    assert not CarePlan.objects.filter(title="Sneaky").exists()


def test_a_plan_of_another_patient_cannot_be_reached_through_this_encounter(client, world):
    other = _world()  # another doctor's patient
    client.force_login(world["doctor"])
    response = client.post(
        f"/encounters/{world['encounter'].pk}/plan/",
        {"action": "add_goal", "care_plan": other["plan"].pk, "description": "x"},
        **HTMX,
    )
    assert response.status_code == 404
    assert client.get(f"/encounters/{other['encounter'].pk}/plan/", **HTMX).status_code == 404


# ---------------------------------------------------------------- the nurse's task list


def test_nurse_task_list_and_tick_off(client, world):
    client.force_login(world["nurse"])
    home = client.get("/nurse/")
    assert b'href="/nurse/tasks/"' in home.content
    page = client.get("/nurse/tasks/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Check feet" in html and world["patient"].mrn in html and 'for="t' in html
    assert AuditEvent.objects.filter(action="search", detail__view="care_tasks").exists()
    url = f"/nurse/tasks/{world['activity'].pk}/"
    response = client.post(url, {"status": "completed", "progress_note": "Both fine"}, **HTMX)
    assert response.status_code == 200
    assert b"Activity done." in response.content and b"Both fine" in response.content
    local_due = world["activity"].due_at.astimezone(ZoneInfo(settings.HOSPITAL_TIME_ZONE))
    assert f"due {local_due:%-d %b %Y, %H:%M}".encode() in response.content  # the hospital's time zone
    world["activity"].refresh_from_db()
    assert world["activity"].status == "completed" and world["activity"].completed_by == world["nurse"]
    assert b"Check feet" not in client.get("/nurse/tasks/").content
    # a closed task: the row says why, nothing changes
    again = client.post(url, {"status": "in-progress"}, **HTMX)
    assert b"already completed" in again.content


def test_task_of_another_nurse_and_outsiders(client, world):
    nurse2 = make_user(Role.NURSE)
    put_in_care(nurse2, world["patient"])
    mine = careplans.activity_add(
        care_plan=world["plan"],
        kind="other",
        description="Only Carla",
        assigned_to=world["nurse"],
        by=world["doctor"],
    )
    client.force_login(nurse2)
    assert b"Only Carla" not in client.get("/nurse/tasks/").content
    response = client.post(f"/nurse/tasks/{mine.pk}/", {"status": "completed"}, **HTMX)
    assert b"assigned to someone else" in response.content
    mine.refresh_from_db()
    assert mine.status == "not-started"
    client.force_login(make_user(Role.NURSE))
    assert client.post(f"/nurse/tasks/{mine.pk}/", {"status": "completed"}).status_code == 404
    client.force_login(world["patient_user"])
    assert client.get("/nurse/tasks/").status_code == 302  # to their own home
    assert client.post(f"/nurse/tasks/{mine.pk}/", {"status": "completed"}).status_code == 403
    client.force_login(make_user(Role.RECEPTIONIST))
    assert client.get("/nurse/tasks/").status_code == 302


# ---------------------------------------------------------------- the chart's care plans


def test_patient_reads_own_care_plans_with_progress(client, world):
    _hba1c(world["patient"], "8.1")
    client.force_login(world["patient_user"])
    me = client.get("/me/")
    assert f'href="/patients/{world["patient"].pk}/care-plans/"'.encode() in me.content
    response = client.get(f"/patients/{world['patient'].pk}/care-plans/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "My care plans" in html and "HbA1c below 7 %" in html and ">Not met<" in html
    assert "Check feet" in html and "<form" not in html.split("</header>", 1)[1]
    assert AuditEvent.objects.filter(action="read", detail__view="patient_care_plans").exists()


def test_care_plans_page_access(client, world):
    other = _world()
    client.force_login(world["patient_user"])
    assert client.get(f"/patients/{other['patient'].pk}/care-plans/").status_code == 404
    client.force_login(world["doctor"])
    assert client.get(f"/patients/{world['patient'].pk}/care-plans/").status_code == 200
    assert client.get(f"/patients/{other['patient'].pk}/care-plans/").status_code == 404
    client.force_login(make_user(Role.RECEPTIONIST))
    assert client.get(f"/patients/{world['patient'].pk}/care-plans/").status_code == 403
    client.logout()
    assert client.get(f"/patients/{world['patient'].pk}/care-plans/").status_code == 302


# ---------------------------------------------------------------- in a real browser


@pytest.mark.browser
def test_nurse_ticks_off_a_task_in_the_browser(live_server, browser, transactional_db):
    from playwright.sync_api import expect

    data = _world()
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        _login(page, live_server.url, data["nurse"].username)
        page.get_by_role("link", name="Care tasks").click()
        expect(page).to_have_url(f"{live_server.url}/nurse/tasks/")
        task = page.get_by_test_id("task").filter(has_text="Check feet")
        task.get_by_label("Status").select_option("completed")
        task.get_by_label("Progress note").fill("Both feet checked, no ulcers.")
        task.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Activity done.")).to_be_visible()
        expect(page.get_by_text("Both feet checked, no ulcers.")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(ARTIFACTS / "care-tasks-375.png"), full_page=True)
        data["activity"].refresh_from_db()
        assert data["activity"].status == "completed" and data["activity"].completed_by == data["nurse"]
    finally:
        context.close()
