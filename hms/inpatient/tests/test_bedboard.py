"""The live bed board: the WebSocket push after ADT changes, who may watch, what each role sees of a patient,
the counts, the audit of each read, and the page role matrix.

The WebSocket tests go through the project's real ASGI application (session auth, origin check, routing)
and the configured channel layer; they need `transactional_db` (the push goes out only after a real commit).
"""

import datetime as dt
import time
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.asgi import application
from hms.accounts.roles import Role
from hms.audit.models import AuditEvent
from hms.core.testing import make_user
from hms.inpatient import board, services
from hms.inpatient.models import Admission, BedStatus

from .conftest import build_tree

# ---------------------------------------------------------------- helpers


def _admit(w, patient=None, bed="M1-1", by=None):
    return services.admission_create(
        patient=patient or w["patient"],
        admitting_practitioner=w["doctor"].practitioner,
        source="emergency",
        reason="Pneumonia",
        bed=w["beds"][bed],
        by=by or w["doctor"],
    )


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


def _fragment(user, ward) -> str:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("portal:bed_board_table", args=[ward.pk]))
    assert response.status_code == 200
    return response.content.decode()


# ---------------------------------------------------------------- WebSocket pushes


@pytest.mark.django_db(transaction=True)
def test_a_discharge_reaches_two_watchers_within_a_second_and_the_refetch_shows_it(ward_world):
    """Two clients (a nurse on the ward's board, reception on the overview) are told within a second
    of a discharge committing; the fragment they then re-read shows the bed in cleaning, empty."""
    w = ward_world
    admission = _admit(w)
    medicine = w["medicine"]
    assert "Pneumonia" not in _fragment(w["nurse"], medicine)  # no clinical text on the board
    assert w["patient"].mrn in _fragment(w["nurse"], medicine)
    ward_headers, all_headers = _headers(w["nurse"]), _headers(w["receptionist"])

    async def scenario():
        ward_ws, ok1 = await _connect(f"/ws/beds/{medicine.pk}/", ward_headers)
        all_ws, ok2 = await _connect("/ws/beds/", all_headers)
        assert ok1 and ok2
        assert await ward_ws.receive_nothing(timeout=0.1)
        started = time.monotonic()
        await sync_to_async(services.admission_discharge)(
            admission=admission, disposition="home", summary="Recovered.", by=w["doctor"]
        )
        first = await ward_ws.receive_json_from(timeout=1)
        second = await all_ws.receive_json_from(timeout=1)
        elapsed = time.monotonic() - started
        await ward_ws.disconnect()
        await all_ws.disconnect()
        return first, second, elapsed

    first, second, elapsed = async_to_sync(scenario)()
    assert first == {"event": "beds.changed", "ward": medicine.pk}
    assert second == {"event": "beds.changed", "ward": medicine.pk}
    assert elapsed < 1.0
    html = _fragment(w["nurse"], medicine)
    row = html[html.index('id="bed-' + str(w["beds"]["M1-1"].pk) + '"') :]
    row = row[: row.index("</tr>")]
    assert 'data-status="cleaning"' in row and w["patient"].mrn not in row


@pytest.mark.django_db(transaction=True)
def test_a_status_change_on_another_ward_is_not_pushed_to_this_ward(ward_world):
    """`beds.ward.<id>` carries only its ward's changes; the overview gets every ward's."""
    w = ward_world
    headers = _headers(w["nurse"])

    async def scenario():
        medicine_ws, _ = await _connect(f"/ws/beds/{w['medicine'].pk}/", headers)
        all_ws, _ = await _connect("/ws/beds/", headers)
        await sync_to_async(services.bed_set_status)(
            bed=w["beds"]["F1-1"], status=BedStatus.OUT_OF_SERVICE, by=w["nurse"]
        )
        overview = await all_ws.receive_json_from(timeout=1)
        quiet = await medicine_ws.receive_nothing(timeout=0.3)
        await medicine_ws.disconnect()
        await all_ws.disconnect()
        return overview, quiet

    overview, quiet = async_to_sync(scenario)()
    assert overview == {"event": "beds.changed", "ward": w["maternity"].pk}
    assert quiet is True


@pytest.mark.django_db(transaction=True)
def test_nothing_is_pushed_when_the_change_rolls_back(ward_world):
    """The hint goes out after commit only: a refused change (409, occupied bed) pushes nothing."""
    w = ward_world
    _admit(w)
    headers = _headers(w["nurse"])

    async def scenario():
        ws, _ = await _connect(f"/ws/beds/{w['medicine'].pk}/", headers)
        try:
            await sync_to_async(services.bed_set_status)(
                bed=w["beds"]["M1-1"], status=BedStatus.CLEANING, by=w["nurse"]
            )
        except Exception as exc:  # Conflict: the bed is occupied
            refused = type(exc).__name__
        quiet = await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()
        return refused, quiet

    refused, quiet = async_to_sync(scenario)()
    assert refused == "Conflict" and quiet is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "role", [Role.ADMIN, Role.DOCTOR, Role.NURSE, Role.RECEPTIONIST, Role.PHARMACIST, Role.LAB_TECHNICIAN]
)
def test_every_staff_role_may_watch(role, ward_world):
    headers = _headers(make_user(role))

    async def scenario():
        results = []
        for path in (f"/ws/beds/{ward_world['medicine'].pk}/", "/ws/beds/"):
            ws, connected = await _connect(path, headers)
            results.append(connected)
            await ws.disconnect()
        return results

    assert async_to_sync(scenario)() == [True, True]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("who", ["anonymous", "patient", "inactive nurse"])
def test_anonymous_users_and_patients_are_refused(who, ward_world):
    if who == "anonymous":
        user = None
    elif who == "patient":
        user = ward_world["patient_user"]
    else:
        user = make_user(Role.NURSE)
    headers = _headers(user)
    if who == "inactive nurse":
        user.is_active = False
        user.save(update_fields=["is_active"])

    async def scenario():
        results = []
        for path in (f"/ws/beds/{ward_world['medicine'].pk}/", "/ws/beds/"):
            ws, connected = await _connect(path, headers)
            results.append(connected)
            await ws.disconnect()
        return results

    assert async_to_sync(scenario)() == [False, False]


@pytest.mark.django_db(transaction=True)
def test_a_foreign_origin_is_refused(ward_world):
    headers = [(b"origin", b"http://evil.example"), *_headers(ward_world["nurse"])[1:]]

    async def scenario():
        ws, connected = await _connect("/ws/beds/", headers)
        await ws.disconnect()
        return connected

    assert async_to_sync(scenario)() is False


# ---------------------------------------------------------------- what the board shows


def test_names_for_those_with_access_initials_for_the_others(ward_world, client):
    """The admitting doctor and reception see name and MRN; a doctor with no link to the patient sees
    initials and age only; every read is audited with the patients shown and the ones identified."""
    w = ward_world
    patient = w["patient"]
    patient.given_names, patient.family_name = "Arthur Philip", "Dent"
    patient.date_of_birth = dt.date(1980, 1, 1)
    patient.save()
    _admit(w)
    age = patient.age_on(timezone.localdate())
    url = reverse("portal:bed_board_table", args=[w["medicine"].pk])
    for user, identified in ((w["doctor"], True), (w["receptionist"], True), (w["other_doctor"], False)):
        client.force_login(user)
        before = AuditEvent.objects.count()
        html = client.get(url).content.decode()
        if identified:
            assert "Arthur Philip Dent" in html and patient.mrn in html
            assert reverse("portal:patient_chart", args=[patient.pk]) in html
        else:
            assert "Dent" not in html and patient.mrn not in html and "Arthur" not in html
            assert "A. D." in html and f"{age} y" in html
        event = AuditEvent.objects.order_by("-id").first()
        assert AuditEvent.objects.count() == before + 1
        assert event.action == "search" and event.actor == user
        assert event.patient_ids == [patient.pk]
        assert event.detail["identified"] == ([patient.pk] if identified else [])
        assert event.object_type == "inpatient.BedStay"


def test_an_empty_board_writes_no_audit_event(ward_world, client):
    client.force_login(ward_world["nurse"])
    before = AuditEvent.objects.count()
    assert client.get(reverse("portal:bed_board", args=[ward_world["medicine"].pk])).status_code == 200
    assert AuditEvent.objects.count() == before


def test_counts_occupancy_los_and_isolation(ward_world):
    """Medicine has 4 beds: one occupied (admitted 2 days 5 hours ago), one out of service, one in cleaning
    under isolation, one free -> occupancy 1/3 = 33.3 %, 1 free."""
    w = ward_world
    admission = _admit(w)
    now = timezone.now()
    Admission.objects.filter(pk=admission.pk).update(admitted_at=now - dt.timedelta(days=2, hours=5))
    services.bed_set_status(bed=w["beds"]["M1-2"], status=BedStatus.OUT_OF_SERVICE, by=w["nurse"])
    services.bed_set_status(bed=w["beds"]["M2-1"], status=BedStatus.CLEANING, by=w["nurse"])
    room = w["beds"]["M2-1"].parent
    room.isolation = "contact"
    room.save(update_fields=["isolation"])
    (ward_board,) = board.ward_boards(w["nurse"], [w["medicine"]], now=now)
    assert (ward_board.total, ward_board.in_service, ward_board.occupied) == (4, 3, 1)
    assert (ward_board.free, ward_board.cleaning, ward_board.out_of_service) == (1, 1, 1)
    assert ward_board.occupancy_pct == Decimal("33.3")
    rows = {row.bed.code: row for row in ward_board.beds}
    assert [r.bed.code for r in ward_board.beds] == ["M1-1", "M1-2", "M2-1", "M2-2"]
    assert rows["M1-1"].los == "2 d 5 h" and rows["M1-1"].los_days == 2
    assert rows["M1-1"].identified and rows["M1-1"].mrn == w["patient"].mrn
    assert rows["M2-1"].isolation == rows["M2-2"].isolation == "contact"  # the room is isolated
    assert rows["M1-1"].isolation == ""
    assert rows["M2-1"].stay is None and rows["M2-1"].name == ""


def test_helpers():
    class P:
        given_names, family_name, birth_date_estimated = "jane mary", "smith", True

        def age_on(self, day):
            return 40

    assert board.initials(P()) == "J. S."
    assert board.age_label(P(), dt.date(2026, 1, 1)) == "~40"
    assert board.los_label(dt.timedelta(minutes=42)) == "42 min"
    assert board.los_label(dt.timedelta(hours=5, minutes=59)) == "5 h"
    assert board.los_label(dt.timedelta(days=3, hours=4)) == "3 d 4 h"


def test_the_overview_lists_every_ward_with_its_numbers(ward_world, client):
    w = ward_world
    _admit(w)
    client.force_login(w["receptionist"])
    response = client.get(reverse("portal:bed_overview"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Medicine" in html and "Maternity" in html
    assert 'data-testid="hospital-occupied">1<' in html and 'data-testid="hospital-free">5<' in html
    assert 'data-beds-ws-path="/ws/beds/"' in html and "js/bedboard.js" in html
    assert w["patient"].mrn in html
    fragment = client.get(reverse("portal:bed_overview_table")).content.decode()
    assert "<html" not in fragment and w["patient"].mrn in fragment


# ---------------------------------------------------------------- role matrix (pages)


@pytest.mark.parametrize(
    "role,expected",
    [
        (Role.ADMIN, 200),
        (Role.DOCTOR, 200),
        (Role.NURSE, 200),
        (Role.RECEPTIONIST, 200),
        (Role.PHARMACIST, 200),
        (Role.LAB_TECHNICIAN, 200),
        (Role.BILLING, 200),
        (Role.PATIENT, 403),
    ],
)
def test_page_role_matrix(role, expected, db, client):
    admin = make_user(Role.ADMIN)
    tree = build_tree(admin)
    client.force_login(make_user(role))
    ward = tree["medicine"]
    for name, args in (
        ("portal:bed_overview", []),
        ("portal:bed_overview_table", []),
        ("portal:bed_board", [ward.pk]),
        ("portal:bed_board_table", [ward.pk]),
    ):
        assert client.get(reverse(name, args=args)).status_code == expected, name


def test_anonymous_goes_to_login_and_a_missing_ward_is_404(ward_world, client):
    response = client.get(reverse("portal:bed_overview"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    client.force_login(ward_world["nurse"])
    room = ward_world["beds"]["M1-1"].parent
    for pk in (room.pk, ward_world["beds"]["M1-1"].pk, 999999):
        assert client.get(reverse("portal:bed_board", args=[pk])).status_code == 404
    ward = ward_world["maternity"]
    ward.active = False
    ward.save(update_fields=["active"])
    assert client.get(reverse("portal:bed_board_table", args=[ward.pk])).status_code == 404
    assert client.post(reverse("portal:bed_overview")).status_code == 405


def test_a_patient_on_the_board_as_initials_for_a_nurse_of_another_ward(ward_world, client):
    """A nurse with no link to the patient (no encounter, no ward assignment) sees initials only."""
    w = ward_world
    _admit(w, patient=w["stranger"], by=w["receptionist"])
    outsider = make_user(Role.NURSE)
    client.force_login(outsider)
    html = client.get(reverse("portal:bed_board_table", args=[w["medicine"].pk])).content.decode()
    assert w["stranger"].mrn not in html and w["stranger"].family_name not in html
    assert board.initials(w["stranger"]) in html


def test_the_homes_link_the_board(ward_world, client):
    for user in (ward_world["nurse"], ward_world["doctor"], ward_world["receptionist"], ward_world["admin"]):
        client.force_login(user)
        response = client.get("/", follow=True)
        assert reverse("portal:bed_overview") in response.content.decode(), user.role


# ---------------------------------------------------------------- browser: the open page updates itself

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def asgi_server(transactional_db):
    """The project's ASGI application (HTTP and WebSockets) served by uvicorn in a thread on a free port.
    Yields (base_url, run_in_server_loop): the latter runs a sync callable on the server's event loop's
    executor, so its after-commit push reaches the in-memory channel layer from the loop it lives on."""
    import asyncio
    import socket
    import threading

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    loop = asyncio.new_event_loop()

    def serve():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(server.serve())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"

    def run_in_server_loop(fn, **kwargs):
        return asyncio.run_coroutine_threadsafe(sync_to_async(fn)(**kwargs), loop).result(timeout=10)

    yield f"http://127.0.0.1:{port}", run_in_server_loop
    server.should_exit = True
    thread.join(timeout=10)


@pytest.mark.browser
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_browser_a_status_change_appears_in_the_open_page_without_reload(
    asgi_server, ward_world, monkeypatch
):
    import os
    from pathlib import Path

    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Browser tests need Debian's Chromium at {CHROMIUM}.")
        pytest.skip(f"Browser tests need Debian's Chromium at {CHROMIUM}.")
    # Playwright's sync API runs a loop in this thread; our ORM calls here never overlap it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    base_url, run_in_server_loop = asgi_server
    w = ward_world
    _admit(w)
    bed = w["beds"]["M2-1"]
    client = Client()
    client.force_login(w["nurse"])
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    artifacts = Path(settings.BASE_DIR) / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 375, "height": 800})
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base_url}])
            page = context.new_page()
            external = []
            page.on("request", lambda r: None if r.url.startswith(base_url) else external.append(r.url))
            page.goto(f"{base_url}{reverse('portal:bed_board', args=[w['medicine'].pk])}")
            expect(page.locator("#beds-live-status")).to_have_text("live", timeout=5000)
            row = page.locator(f"#bed-{bed.pk}")
            expect(row).to_have_attribute("data-status", "free")
            expect(page.get_by_test_id("free-beds")).to_have_text("3")
            assert page.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways page scroll
            page.evaluate("window.__same_page = true")

            run_in_server_loop(
                services.bed_set_status, bed=bed, status=BedStatus.OUT_OF_SERVICE, by=w["nurse"]
            )

            expect(row).to_have_attribute("data-status", "out-of-service", timeout=1500)
            expect(row.get_by_test_id("bed-status")).to_have_text("Out of service")
            expect(page.get_by_test_id("free-beds")).to_have_text("2")
            assert page.evaluate("window.__same_page") is True  # updated in place, no reload
            assert external == [], f"the page fetched resources from elsewhere: {external}"
            page.screenshot(path=str(artifacts / "bed-board-375.png"), full_page=True)
        finally:
            browser.close()
