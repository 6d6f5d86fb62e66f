"""The live queue over WebSockets, through the project's real ASGI application (session auth, origin
check, routing) and the configured channel layer (in memory, or Redis when REDIS_URL is set).

These tests need `transactional_db`: the consumer reads the database from Channels' worker thread, which
closes connections left inside a transaction, and the push goes out only after a real commit.
"""

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from config.asgi import application
from hms.accounts.roles import Role
from hms.core.testing import make_user
from hms.scheduling import services as scheduling

pytestmark = pytest.mark.django_db(transaction=True)


def _headers(user=None) -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if user is not None:
        client = Client()
        client.force_login(user)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        headers.append((b"cookie", cookie.encode()))
    return headers


async def _connect(path: str, headers) -> tuple[WebsocketCommunicator, bool]:
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect(timeout=3)
    return communicator, connected


@pytest.mark.parametrize("watcher", ["receptionist", "doctor", "all"])
def test_a_watcher_is_pushed_a_check_in(watcher, q_doctor, book, receptionist, appointment_day):
    """Reception (one queue or every queue) and the doctor of the queue receive "queue.changed" after a
    check-in commits (on the appointment's day)."""
    appointment = book(q_doctor, "09:00")
    appointment_day.arrive()
    pid = q_doctor.practitioner.pk
    user, path = {
        "receptionist": (receptionist, f"/ws/queue/{pid}/"),
        "doctor": (q_doctor, f"/ws/queue/{pid}/"),
        "all": (receptionist, "/ws/queue/"),
    }[watcher]
    headers = _headers(user)

    async def scenario():
        communicator, connected = await _connect(path, headers)
        assert connected
        assert await communicator.receive_nothing(timeout=0.1)
        await sync_to_async(scheduling.appointment_check_in)(appointment=appointment, by=receptionist)
        message = await communicator.receive_json_from(timeout=3)
        await communicator.disconnect()
        return message

    assert async_to_sync(scenario)() == {"event": "queue.changed", "practitioner": pid}


@pytest.mark.parametrize("who", ["other doctor", "nurse", "patient", "anonymous", "doctor on all"])
def test_an_unauthorised_user_is_refused(who, q_doctor, other_doctor):
    pid = q_doctor.practitioner.pk
    user, path = {
        "other doctor": (other_doctor, f"/ws/queue/{pid}/"),
        "nurse": (make_user(Role.NURSE), f"/ws/queue/{pid}/"),
        "patient": (make_user(Role.PATIENT), f"/ws/queue/{pid}/"),
        "anonymous": (None, f"/ws/queue/{pid}/"),
        "doctor on all": (q_doctor, "/ws/queue/"),
    }[who]
    headers = _headers(user)

    async def scenario():
        communicator, connected = await _connect(path, headers)
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


def test_a_foreign_origin_is_refused(receptionist, q_doctor):
    headers = [(b"origin", b"http://evil.example"), *_headers(receptionist)[1:]]

    async def scenario():
        communicator = WebsocketCommunicator(application, f"/ws/queue/{q_doctor.practitioner.pk}/", headers)
        connected, _ = await communicator.connect(timeout=3)
        await communicator.disconnect()
        return connected

    assert async_to_sync(scenario)() is False
