"""Fixtures of the messaging tests: SMS to a file, and a tiny real HTTP SMS provider on 127.0.0.1."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "worker: needs the real Celery worker started by .ci/run")


@pytest.fixture
def sms_file(settings, tmp_path):
    """SMS go to a JSON-lines file; returns a function reading the messages sent so far."""
    path = tmp_path / "sms.jsonl"
    settings.SMS_BACKEND = "hms.messaging.sms.FileSmsBackend"
    settings.SMS_FILE_PATH = str(path)

    def sent() -> list[dict]:
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    return sent


class SmsProvider:
    """A fake SMS provider over a real socket. `answers` is a list of HTTP statuses to give, in order
    (the last one repeats); `requests` records (headers, JSON body) of every POST."""

    def __init__(self):
        self.answers = [200]
        self.requests: list[tuple[dict, dict]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                provider.requests.append((dict(self.headers), json.loads(self.rfile.read(length))))
                code = provider.answers[min(len(provider.requests), len(provider.answers)) - 1]
                body = json.dumps({"id": f"msg-{len(provider.requests)}"}).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sms_provider(settings):
    """SMS go through `HttpSmsBackend` to a local provider (see `SmsProvider`)."""
    provider = SmsProvider()
    settings.SMS_BACKEND = "hms.messaging.sms.HttpSmsBackend"
    settings.SMS_HTTP_URL = provider.url
    settings.SMS_HTTP_TOKEN = "test-token"
    settings.SMS_HTTP_SENDER = "ASCLEPIUS"
    settings.SMS_HTTP_TIMEOUT = 5
    yield provider
    provider.close()
