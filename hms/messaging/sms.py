"""SMS backends. The one in use is `settings.SMS_BACKEND` (a dotted path), built by `sms_backend()`.

| backend | settings | what it does |
|---|---|---|
| `ConsoleSmsBackend` (default) | - | writes each message to stdout |
| `FileSmsBackend` | `SMS_FILE_PATH` | appends one JSON line `{"to", "body", "sent_at"}` per message |
| `HttpSmsBackend` | `SMS_HTTP_URL`, `SMS_HTTP_TOKEN`, `SMS_HTTP_SENDER`, `SMS_HTTP_TIMEOUT` | POSTs JSON |

`HttpSmsBackend` sends `{"to": "+15550100", "from": SMS_HTTP_SENDER, "body": "..."}` with
`Authorization: Bearer SMS_HTTP_TOKEN`; any 2xx answer is success and the JSON answer's `id` (or
`message_id`/`sid`), if present, is returned as the provider's reference. Anything else raises `SmsError`.
"""

import json
import sys
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The message could not be sent (provider refused it, network failure, bad configuration)."""


class SmsBackend(ABC):
    """Sends one text message. Subclasses implement `send`."""

    @abstractmethod
    def send(self, *, to: str, body: str) -> str:
        """Send `body` to the phone number `to`; return the provider's message id ("" if none).

        Raises `SmsError` on failure.
        """


class ConsoleSmsBackend(SmsBackend):
    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def send(self, *, to: str, body: str) -> str:
        self.stream.write(f"SMS to {to}: {body}\n")
        self.stream.flush()
        return ""


class FileSmsBackend(SmsBackend):
    def __init__(self, path: str | None = None):
        path = path or getattr(settings, "SMS_FILE_PATH", "")
        if not path:
            raise SmsError("FileSmsBackend needs SMS_FILE_PATH.")
        self.path = Path(path)

    def send(self, *, to: str, body: str) -> str:
        line = json.dumps({"to": to, "body": body, "sent_at": timezone.now().isoformat()})
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            raise SmsError(f"cannot write {self.path}: {exc}") from exc
        return ""


class HttpSmsBackend(SmsBackend):
    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        sender: str | None = None,
        timeout: float | None = None,
    ):
        self.url = url or getattr(settings, "SMS_HTTP_URL", "")
        self.token = token if token is not None else getattr(settings, "SMS_HTTP_TOKEN", "")
        self.sender = sender if sender is not None else getattr(settings, "SMS_HTTP_SENDER", "")
        self.timeout = timeout or getattr(settings, "SMS_HTTP_TIMEOUT", 10)
        if not self.url.startswith(("http://", "https://")):
            raise SmsError("HttpSmsBackend needs SMS_HTTP_URL (http:// or https://).")

    def send(self, *, to: str, body: str) -> str:
        payload = json.dumps({"to": to, "from": self.sender, "body": body}).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=payload, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read(65536)
        except urllib.error.HTTPError as exc:
            raise SmsError(f"SMS provider answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise SmsError(f"SMS provider unreachable: {exc}") from exc
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            return ""
        if isinstance(answer, dict):
            ref = answer.get("id") or answer.get("message_id") or answer.get("sid") or ""
            return str(ref)[:200]
        return ""


def sms_backend() -> SmsBackend:
    """The configured backend, built afresh (settings are read at call time, never at import)."""
    return import_string(settings.SMS_BACKEND)()
