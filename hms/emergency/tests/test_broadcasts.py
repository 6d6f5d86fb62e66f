"""Admin broadcasts: who receives the push and the in-app notification, who may send, bad input, the
recent list per role, and the portal form."""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse

from config.asgi import application
from hms.accounts.roles import Role
from hms.core.testing import api_client_for, make_user
from hms.emergency import codes
from hms.emergency.models import Broadcast
from hms.messaging.models import Notification

from .test_codes import _headers

ROLES = [str(r) for r in Role]


def _broadcast_pushes(users, send) -> dict[int, list[dict]]:
    """Connect one alert socket per user, run `send()`, return each user's "broadcast" messages."""
    headers = {u.pk: _headers(u) for u in users}

    async def scenario():
        sockets = {}
        for pk, h in headers.items():
            communicator = WebsocketCommunicator(application, "/ws/alerts/", headers=h)
            connected, _ = await communicator.connect(timeout=3)
            assert connected
            sockets[pk] = communicator
        await sync_to_async(send)()
        out = {}
        for pk, s in sockets.items():
            messages = []
            while not await s.receive_nothing(timeout=0.3):
                messages.append(await s.receive_json_from(timeout=1))
            out[pk] = [m for m in messages if m["event"] == "broadcast"]
            await s.disconnect()
        return out

    return async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_a_broadcast_to_nurses_reaches_nurses_only():
    admin, nurse, doctor = make_user(Role.ADMIN), make_user(Role.NURSE), make_user(Role.DOCTOR)
    patient = make_user(Role.PATIENT)
    received = _broadcast_pushes(
        [nurse, doctor],
        lambda: codes.broadcast_send(
            title="Fire drill", body="At 14:00 on ward 3.", roles=["nurse"], urgent=True, by=admin
        ),
    )
    [push] = received[nurse.pk]
    assert push["title"] == "Fire drill" and push["body"] == "At 14:00 on ward 3." and push["urgent"] is True
    assert received[doctor.pk] == []
    assert list(Notification.objects.filter(event="broadcast").values_list("recipient", flat=True)) == [
        nurse.pk
    ]
    assert not Notification.objects.filter(recipient__in=[doctor, patient]).exists()


@pytest.mark.django_db(transaction=True)
def test_a_broadcast_to_everyone_reaches_all_staff_but_not_patients():
    admin, nurse, clerk = make_user(Role.ADMIN), make_user(Role.NURSE), make_user(Role.BILLING)
    patient = make_user(Role.PATIENT)
    received = _broadcast_pushes(
        [nurse, clerk],
        lambda: codes.broadcast_send(title="Network maintenance", body="Tonight.", roles=[], by=admin),
    )
    assert len(received[nurse.pk]) == 1 and len(received[clerk.pk]) == 1
    notified = set(Notification.objects.filter(event="broadcast").values_list("recipient", flat=True))
    assert notified == {admin.pk, nurse.pk, clerk.pk}
    assert patient.pk not in notified


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_broadcast_api_role_matrix(role):
    user = make_user(role)
    client = api_client_for(user)
    sent = client.post("/api/broadcasts/", {"title": "Hello", "body": "World"}, format="json")
    assert sent.status_code == (201 if role == "admin" else 403)
    assert Broadcast.objects.count() == (1 if role == "admin" else 0)
    assert client.get("/api/broadcasts/").status_code == (403 if role == "patient" else 200)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"body": "x"}, "title"),
        ({"title": "t"}, "body"),
        ({"title": "t", "body": "b", "roles": ["patient"]}, "roles"),
        ({"title": "t", "body": "b", "roles": "nurse"}, "roles"),
        ({"title": "t" * 121, "body": "b"}, "title"),
        ({"title": 5, "body": "b"}, "title"),
    ],
)
def test_bad_broadcast_is_a_400_and_writes_nothing(body, field):
    response = api_client_for(make_user(Role.ADMIN)).post("/api/broadcasts/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Broadcast.objects.exists()
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_recent_broadcasts_are_those_addressed_to_me():
    admin, nurse, doctor = make_user(Role.ADMIN), make_user(Role.NURSE), make_user(Role.DOCTOR)
    to_nurses = codes.broadcast_send(title="Nurses", body="b", roles=["nurse"], by=admin)
    to_all = codes.broadcast_send(title="All", body="b", roles=[], by=admin)
    ids = lambda user: [b["id"] for b in api_client_for(user).get("/api/broadcasts/").json()["results"]]  # noqa: E731
    assert ids(nurse) == [to_all.pk, to_nurses.pk]
    assert ids(doctor) == [to_all.pk]
    assert ids(admin) == [to_all.pk, to_nurses.pk]


@pytest.mark.django_db
def test_portal_broadcast_form():
    admin, nurse = make_user(Role.ADMIN), make_user(Role.NURSE)
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("portal:broadcast"))
    assert page.status_code == 200 and b'<label for="id_title">' in page.content
    bad = client.post(reverse("portal:broadcast"), {"title": "", "body": "x"})
    assert bad.status_code == 400 and not Broadcast.objects.exists()
    ok = client.post(reverse("portal:broadcast"), {"title": "Drill", "body": "Now", "roles": ["nurse"]})
    assert ok.status_code == 302
    assert Broadcast.objects.get().roles == ["nurse"]
    assert Notification.objects.filter(recipient=nurse, event="broadcast", subject="Drill").exists()
