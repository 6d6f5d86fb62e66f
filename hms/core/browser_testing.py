"""Shared fixtures of the browser tests (Playwright driving Debian's Chromium), made available to every
test module by the root `conftest.py`.

- `browser` (module scope): a headless Chromium at `/usr/bin/chromium`. `.ci/run` installs it; under CI
  (`CI` set) a missing browser FAILS the run, on a developer's machine it skips with that reason.
- `asgi_server`: the project's ASGI application (`config.asgi`: HTTP and WebSockets, as in production)
  served by uvicorn in a thread on a free local port; yields its base URL. Django's `live_server` is WSGI
  and has no WebSockets, so live pages are tested against this one.
- `browser_login(page, base_url, username, password=PASSWORD)`: signs in through the login form.
Screenshots go to `ARTIFACTS` (test-artifacts/, gitignored).
"""

import os
import socket
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API runs an asyncio loop in the test thread; Django refuses ORM calls from a thread
# with a running loop unless told it is safe (the loop never runs our ORM code concurrently).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "pass-Word-123"  # noqa: S105 (set by hms.core.testing.UserFactory, test users only)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"Browser tests need Debian's Chromium at {CHROMIUM} (apt-get install chromium)."
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it: a missing browser there is a real failure
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def asgi_server(transactional_db):
    import uvicorn

    from config.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


def browser_login(page, base_url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
