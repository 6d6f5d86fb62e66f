"""Code activation: who is alerted, the pushes (real ASGI app + channel layer), SMS, acknowledgements,
the log's times, the API role matrix, bad input, and the portal pages."""

import csv
import io

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse

from config.asgi import application
from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import api_client_for, make_user, next_int
from hms.emergency import codes
from hms.emergency.models import CodeActivation, CodeAlert, CodeType, OnDuty
from hms.messaging.models import Delivery, Notification, NotificationPreference

ROLES = [str(r) for r in Role]
ACTIVATORS = {"doctor", "nurse", "admin"}


def _code(*members, name="Code Blue") -> CodeType:
    code = CodeType.objects.create(key=f"t{next_int()}", name=name, colour="#1d4ed8")
    code.team.add(*members)
    return code


def _on_duty(*users):
    for user in users:
        codes.duty_start(by=user)


def _headers(user=None) -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        headers.append((b"cookie", cookie.encode()))
    return headers


async def _connect(user):
    communicator = WebsocketCommunicator(application, "/ws/alerts/", headers=_headers_cache[user.pk])
    connected, _ = await communicator.connect(timeout=3)
    assert connected
    return communicator


_headers_cache: dict[int, list] = {}


async def _drain(communicator, timeout=0.4) -> list[dict]:
    out = []
    while not await communicator.receive_nothing(timeout=timeout):
        out.append(await communicator.receive_json_from(timeout=1))
    return out


# ------------------------------------------------------------------ seed data


@pytest.mark.django_db
def test_standard_codes_are_seeded():
    seeded = dict(CodeType.objects.values_list("key", "name"))
    assert seeded["blue"] == "Code Blue"
    assert seeded["red"] == "Code Red"
    assert seeded["pink"] == "Code Pink"
    assert seeded["orange"] == "Code Orange"
    assert "rapid-response" in seeded
    assert CodeType.objects.get(key="orange").description.startswith("Hazardous material")


# ------------------------------------------------------------------ activation over WebSockets


@pytest.mark.django_db(transaction=True)
def test_activation_alerts_exactly_the_on_duty_team_with_push_and_sms():
    activator = make_user(Role.DOCTOR, first_name="Meredith", last_name="Grey")
    on = make_user(Role.NURSE, phone="+15550001")
    off = make_user(Role.NURSE, phone="+15550002")
    other_team = make_user(Role.DOCTOR, phone="+15550003")
    inactive = make_user(Role.NURSE, phone="+15550004")
    code = _code(on, off, inactive)
    _code(other_team, name="Code Red")
    _on_duty(on, other_team, inactive)
    inactive.is_active = False
    inactive.save()
    for user in (on, off, other_team):
        # the on-duty member switched SMS off: a code alert is critical and reaches them by SMS anyway
        NotificationPreference.objects.create(user=user, sms=user is not on)
        _headers_cache[user.pk] = _headers(user)

    async def scenario():
        sockets = {u.pk: await _connect(u) for u in (on, off, other_team)}
        activation = await sync_to_async(codes.code_activate)(
            code_type=code, location_text="Ward 3B, bed 4", note="", by=activator
        )
        received = {pk: await _drain(s) for pk, s in sockets.items()}
        for s in sockets.values():
            await s.disconnect()
        return activation, received

    activation, received = async_to_sync(scenario)()
    activated = {pk: [m for m in msgs if m["event"] == "code.activated"] for pk, msgs in received.items()}
    assert activated[off.pk] == [] and activated[other_team.pk] == []
    [push] = activated[on.pk]
    alert = CodeAlert.objects.get(activation=activation)
    assert alert.recipient == on
    assert push["alert"] == alert.pk and push["activation"] == activation.pk
    assert push["code"] == "Code Blue" and push["location"] == "Ward 3B, bed 4"
    assert push["by"] == "Meredith Grey"
    # Everyone else only learns "activation N changed".
    assert [m["event"] for m in received[off.pk]] == ["code.changed"]
    sms = Delivery.objects.get(recipient=on, channel="sms", event="code.activated")
    assert sms.to_address == "+15550001"
    assert "CODE BLUE" in sms.body and "Ward 3B, bed 4" in sms.body
    assert Notification.objects.filter(recipient=on, event="code.activated").count() == 1
    assert not Delivery.objects.filter(recipient__in=[off, other_team, inactive]).exists()
    assert AuditEvent.objects.filter(object_type="emergency.CodeActivation", action="create").count() == 1


@pytest.mark.django_db(transaction=True)
def test_acknowledgement_reaches_the_activator_and_the_log_has_the_times():
    activator = make_user(Role.NURSE)
    member = make_user(Role.DOCTOR, first_name="Derek", last_name="Shepherd")
    code = _code(member)
    _on_duty(member)
    _headers_cache[activator.pk] = _headers(activator)
    activation = codes.code_activate(code_type=code, location_text="ICU 2", note="", by=activator)
    member_api = api_client_for(member)

    async def scenario():
        socket = await _connect(activator)
        response = await sync_to_async(member_api.post)(
            f"/api/code-activations/{activation.pk}/acknowledge/", {}, format="json"
        )
        messages = await _drain(socket)
        await socket.disconnect()
        return response, messages

    response, messages = async_to_sync(scenario)()
    assert response.status_code == 200, response.content
    [ack] = [m for m in messages if m["event"] == "code.acknowledged"]
    assert ack["by"] == "Derek Shepherd" and ack["activation"] == activation.pk and ack["code"] == "Code Blue"

    closed = api_client_for(activator).post(
        f"/api/code-activations/{activation.pk}/close/", {}, format="json"
    )
    assert closed.status_code == 200
    detail = api_client_for(activator).get(f"/api/code-activations/{activation.pk}/").json()
    [alert] = detail["alerts"]
    assert alert["recipient"]["name"] == "Derek Shepherd"
    assert detail["activated_at"] <= alert["sent_at"] <= alert["acknowledged_at"] <= detail["closed_at"]
    assert detail["closed_by"]["id"] == activator.pk
    # A second acknowledgement keeps the first time; closing twice is a conflict.
    again = api_client_for(member).post(
        f"/api/code-activations/{activation.pk}/acknowledge/", {}, format="json"
    )
    assert again.json()["alerts"][0]["acknowledged_at"] == alert["acknowledged_at"]
    assert api_client_for(activator).post(f"/api/code-activations/{activation.pk}/close/").status_code == 409


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["patient", "anonymous"])
def test_the_alert_socket_refuses_non_staff(who):
    user = make_user(Role.PATIENT) if who == "patient" else None
    headers = _headers(user)

    async def scenario():
        communicator = WebsocketCommunicator(application, "/ws/alerts/", headers=headers)
        connected, _ = await communicator.connect(timeout=3)
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


# ------------------------------------------------------------------ API: rules and role matrix


@pytest.mark.django_db
def test_acknowledge_after_close_is_a_conflict():
    doctor, member = make_user(Role.DOCTOR), make_user(Role.NURSE)
    code = _code(member)
    _on_duty(member)
    activation = codes.code_activate(code_type=code, location_text="OR 1", by=doctor)
    codes.code_close(activation=activation, by=doctor)
    response = api_client_for(member).post(f"/api/code-activations/{activation.pk}/acknowledge/")
    assert response.status_code == 409
    assert CodeAlert.objects.get().acknowledged_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"code_type": "blue"}, "location_text"),
        ({"code_type": "no-such-code", "location_text": "ICU"}, "code_type"),
        ({"code_type": "blue", "location_text": "   "}, "location_text"),
        ({"code_type": "blue", "location_text": 12}, "location_text"),
        ({"code_type": "blue", "location_text": "ICU", "note": "x" * 501}, "note"),
        ({"code_type": ["blue"], "location_text": "ICU"}, "code_type"),
    ],
)
def test_bad_activation_input_is_a_400_and_writes_nothing(body, field):
    response = api_client_for(make_user(Role.NURSE)).post("/api/code-activations/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not CodeActivation.objects.exists()


@pytest.mark.django_db
def test_inactive_code_cannot_be_activated():
    code = CodeType.objects.get(key="blue")
    code.active = False
    code.save()
    response = api_client_for(make_user(Role.DOCTOR)).post(
        "/api/code-activations/", {"code_type": "blue", "location_text": "ICU"}, format="json"
    )
    assert response.status_code == 400 and "code_type" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(role):
    user = make_user(role)
    client = api_client_for(user)
    staff = role != "patient"
    member = make_user(Role.NURSE)
    _on_duty(member)
    code = _code(member)
    foreign = codes.code_activate(code_type=code, location_text="Lobby", by=make_user(Role.ADMIN))

    assert client.get("/api/codes/").status_code == (200 if staff else 403)
    assert client.get("/api/duty/").status_code == (200 if staff else 403)
    duty = client.post("/api/duty/", {"on_duty": True}, format="json")
    assert duty.status_code == (200 if staff else 403)
    assert OnDuty.objects.filter(user=user).exists() is staff
    assert client.get("/api/broadcasts/").status_code == (200 if staff else 403)

    created = client.post(
        "/api/code-activations/", {"code_type": code.key, "location_text": "ER"}, format="json"
    )
    assert created.status_code == (201 if role in ACTIVATORS else 403)
    if role in ACTIVATORS:
        assert [a["recipient"]["id"] for a in created.json()["alerts"]] == [member.pk]
        assert client.get(f"/api/code-activations/{created.json()['id']}/").status_code == 200

    # Someone else's activation (not activator, not alerted): only administrators read it.
    detail = client.get(f"/api/code-activations/{foreign.pk}/")
    assert detail.status_code == (200 if role == "admin" else 404 if staff else 403)
    listed = client.get("/api/code-activations/")
    if staff:
        ids = [row["id"] for row in listed.json()["results"]]
        assert (foreign.pk in ids) is (role == "admin")
    else:
        assert listed.status_code == 403
    # Acknowledging an alert that is not yours: 404 (admin reads it but was not alerted).
    ack = client.post(f"/api/code-activations/{foreign.pk}/acknowledge/")
    assert ack.status_code == (404 if staff else 403)
    close = client.post(f"/api/code-activations/{foreign.pk}/close/")
    assert close.status_code == (200 if role == "admin" else 404 if staff else 403)
    assert api_client_for(None).get("/api/codes/").status_code == 401


@pytest.mark.django_db
def test_who_may_close_a_code():
    """A team member (any staff role) or the activator closes; someone who may read the activation but
    is neither (alerted, then taken off the team) gets 403; someone who may not read it gets 404."""
    member, activator = make_user(Role.RECEPTIONIST), make_user(Role.DOCTOR)
    off_duty_member, removed = make_user(Role.NURSE), make_user(Role.NURSE)
    _on_duty(member, removed)
    code = _code(member, off_duty_member, removed)
    first = codes.code_activate(code_type=code, location_text="Ward 1", by=activator)
    assert api_client_for(member).post(f"/api/code-activations/{first.pk}/close/").status_code == 200
    second = codes.code_activate(code_type=code, location_text="Ward 2", by=activator)
    # Not alerted (off duty): the activation is not theirs to read.
    assert (
        api_client_for(off_duty_member).post(f"/api/code-activations/{second.pk}/close/").status_code == 404
    )
    code.team.remove(removed)
    assert api_client_for(removed).get(f"/api/code-activations/{second.pk}/").status_code == 200
    assert api_client_for(removed).post(f"/api/code-activations/{second.pk}/close/").status_code == 403
    assert api_client_for(activator).post(f"/api/code-activations/{second.pk}/close/").status_code == 200
    second.refresh_from_db()
    assert second.closed_by == activator


@pytest.mark.django_db
def test_duty_toggle_api():
    nurse = make_user(Role.NURSE)
    client = api_client_for(nurse)
    assert client.get("/api/duty/").json() == {"on_duty": False, "since": None}
    on = client.post("/api/duty/", {"on_duty": True}, format="json").json()
    assert on["on_duty"] is True and on["since"]
    assert client.post("/api/duty/", {"on_duty": "maybe"}, format="json").status_code == 400
    assert client.post("/api/duty/", {"on_duty": False}, format="json").json()["on_duty"] is False
    assert not OnDuty.objects.filter(user=nurse).exists()
    assert AuditEvent.objects.filter(object_type="emergency.OnDuty").count() == 2


# ------------------------------------------------------------------ portal pages


def _web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_portal_activate_shows_activation_and_banner_and_acknowledges():
    nurse, member = make_user(Role.NURSE), make_user(Role.DOCTOR)
    _on_duty(member)
    code = _code(member)
    page = _web(nurse).get(reverse("portal:code_activate"))
    assert page.status_code == 200 and b'<label for="id_location_text">' in page.content
    bad = _web(nurse).post(reverse("portal:code_activate"), {"code_type": code.pk, "location_text": ""})
    assert bad.status_code == 400 and not CodeActivation.objects.exists()
    response = _web(nurse).post(
        reverse("portal:code_activate"), {"code_type": code.pk, "location_text": "Radiology", "note": ""}
    )
    activation = CodeActivation.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "portal:code_activation", args=[activation.pk]
    )
    detail = _web(nurse).get(response["Location"])
    assert b"0 of 1 alerted responder acknowledged" in detail.content

    mine = _web(member).get(reverse("portal:my_alerts"))
    assert b'data-testid="code-banner"' in mine.content and b"Radiology" in mine.content
    alert = CodeAlert.objects.get()
    acked = _web(member).post(reverse("portal:alert_acknowledge", args=[alert.pk]), HTTP_HX_REQUEST="true")
    assert acked.status_code == 200 and b"code-banner" not in acked.content
    assert b"1 of 1 alerted responder acknowledged" in _web(nurse).get(response["Location"]).content
    # Someone else's alert: 404.
    assert _web(nurse).post(reverse("portal:alert_acknowledge", args=[alert.pk])).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_portal_role_matrix(role):
    user = make_user(role)
    client = _web(user)
    activation = codes.code_activate(code_type=_code(), location_text="Lobby", by=make_user(Role.ADMIN))
    expected_activate = 200 if role in ACTIVATORS else 403
    assert client.get(reverse("portal:code_activate")).status_code == expected_activate
    assert client.get(reverse("portal:code_log")).status_code == (200 if role == "admin" else 403)
    assert client.get(reverse("portal:broadcast")).status_code == (200 if role == "admin" else 403)
    seen = client.get(reverse("portal:code_activation", args=[activation.pk])).status_code
    assert seen == (200 if role == "admin" else 403 if role == "patient" else 404)
    assert client.get(reverse("portal:my_alerts")).status_code == (403 if role == "patient" else 200)
    home = client.get("/", follow=True)
    assert (b'data-testid="duty-toggle"' in home.content) is (role != "patient")


@pytest.mark.django_db
def test_code_log_csv_has_the_times():
    admin, member = make_user(Role.ADMIN), make_user(Role.NURSE)
    _on_duty(member)
    activation = codes.code_activate(code_type=_code(member), location_text="Cafeteria", by=admin)
    codes.code_acknowledge(alert=CodeAlert.objects.get(), by=member)
    page = _web(admin).get(reverse("portal:code_log"))
    assert b"Cafeteria" in page.content
    response = _web(admin).get(reverse("portal:code_log") + "?format=csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["location"] == "Cafeteria" and row["alerted"] == "1" and row["acknowledged"] == "1"
    assert row["activated_at_utc"] == activation.activated_at.isoformat()
    assert row["first_ack_utc"] >= row["activated_at_utc"] and row["closed_at_utc"] == ""
    assert AuditEvent.objects.filter(action="export", object_type="emergency.CodeActivation").count() == 1


@pytest.mark.django_db
def test_duty_toggle_page_and_unsafe_next_is_ignored():
    nurse = make_user(Role.NURSE)
    client = _web(nurse)
    response = client.post(reverse("portal:duty_toggle"), {"on_duty": "1", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert OnDuty.objects.filter(user=nurse).exists()
    client.post(reverse("portal:duty_toggle"), {"on_duty": "0", "next": "/codes/activate/"})
    assert not OnDuty.objects.filter(user=nurse).exists()


@pytest.mark.django_db
def test_team_is_managed_in_the_django_admin_and_the_log_is_view_only():
    from hms.core.testing import UserFactory

    superuser = UserFactory(is_staff=True, is_superuser=True)
    nurse, patient_user = make_user(Role.NURSE), make_user(Role.PATIENT)
    code = CodeType.objects.get(key="blue")
    client = _web(superuser)
    url = reverse("admin:emergency_codetype_change", args=[code.pk])
    form = client.get(url)
    assert form.status_code == 200
    choices = form.context["adminform"].form.fields["team"].queryset
    assert nurse in choices and patient_user not in choices  # only staff can be on a team
    response = client.post(
        url,
        {
            "key": "blue",
            "name": "Code Blue",
            "description": code.description,
            "colour": code.colour,
            "team": [nurse.pk],
            "active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(code.team.all()) == [nurse]
    activation = codes.code_activate(code_type=code, location_text="X", by=superuser)
    assert (
        client.get(reverse("admin:emergency_codeactivation_change", args=[activation.pk])).status_code == 200
    )
    assert client.get(reverse("admin:emergency_codeactivation_add")).status_code == 403
