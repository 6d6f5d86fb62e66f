"""The optional LLM provider of prescription analysis, against a real local HTTP server that answers like
an OpenAI-compatible `/chat/completions` endpoint (a socket on 127.0.0.1, no network): the answer is
mapped to the catalogue, the findings always come from the checker, and every failure falls back to
the offline parser."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from hms.accounts.roles import Role
from hms.core.testing import PatientFactory, api_client_for, make_user, put_in_care

URL = "/api/analyze-prescription/"
TEXT = "Amox 500 three times a day for a week; warfarin 5 mg daily; ibuprofen 800 mg tid; fakeamycin 1 g"


class FakeLLM:
    """A tiny OpenAI-compatible server: `reply` is (status, body bytes) or a callable; requests are kept."""

    def __init__(self):
        self.requests: list[dict] = []
        self.reply = (200, b"{}")
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                fake.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                if fake.delay:
                    time.sleep(fake.delay)
                status, body = fake.reply
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, content):
        """Answer with a chat completion whose message content is `content` (a dict is JSON-encoded)."""
        text = content if isinstance(content, str) else json.dumps(content)
        body = {
            "id": "x",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        }
        self.reply = (200, json.dumps(body).encode())

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_llm(settings):
    fake = FakeLLM()
    settings.LLM_BASE_URL = fake.url
    settings.LLM_API_KEY = "test-key"
    settings.LLM_MODEL = "test-model"
    settings.LLM_TIMEOUT = 1
    yield fake
    fake.close()


@pytest.fixture
def doctor(db):
    return make_user(Role.DOCTOR)


def _row(text, drug, strength, dose, unit, route, frequency, days=None) -> dict:
    return {
        "text": text,
        "drug": drug,
        "strength": strength,
        "dose_value": dose,
        "dose_unit": unit,
        "route": route,
        "frequency_code": frequency,
        "duration_days": days,
        "as_needed": False,
    }


GOOD = {
    "items": [
        _row("Amox 500 three times a day for a week", "amoxicillin", "500 mg", 500, "mg", "oral", "TID", 7),
        _row("warfarin 5 mg daily", "Warfarin", "5 mg", 5, "mg", "PO", "qd"),
        _row("ibuprofen 800 mg tid", "ibuprofen", "800mg", "800", "MG", "oral", "TID"),
        _row("fakeamycin 1 g", "fakeamycin", "1 g", 1, "g", "", ""),
    ],
    # a model may volunteer its own "findings": they are never used
    "findings": [{"kind": "interaction", "severity": "minor", "message": "LLM says all is fine"}],
}


def test_llm_answer_is_mapped_to_the_catalogue_and_checked_by_the_checker(fake_llm, doctor):
    patient = PatientFactory(family_name="Zebulon", given_names="Quentin")
    put_in_care(doctor, patient)
    fake_llm.answer(GOOD)
    response = api_client_for(doctor).post(URL, {"text": TEXT, "patient": patient.pk}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["provider"] == "llm" and body["notes"] == []
    amox, warfarin, ibuprofen, fake = body["items"]
    assert (amox["drug"]["rxcui"], amox["frequency_code"], amox["duration_days"], amox["route_code"]) == (
        "308192",
        "TID",
        7,
        "26643006",
    )
    assert (warfarin["drug"]["rxcui"], warfarin["frequency_code"], warfarin["route"]) == (
        "855332",
        "QD",
        "oral",
    )
    assert (ibuprofen["drug"]["rxcui"], ibuprofen["dose_unit"], ibuprofen["strength"]) == (
        "197807",
        "mg",
        "800 mg",
    )
    assert (fake["status"], fake["reason"]) == ("unparsed", "'fakeamycin' is not in the medication catalogue")
    # the findings are the checker's, never the model's
    assert [(f["kind"], f["severity"], f["drugs"][0][:8]) for f in body["findings"]] == [
        ("interaction", "major", "Warfarin"),  # + ibuprofen
        ("interaction", "minor", "amoxicil"),  # + warfarin (INR)
    ]
    assert "LLM says" not in json.dumps(body)
    # what was sent: only the prescription text, to /chat/completions, as JSON mode, with the key
    [sent] = fake_llm.requests
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer test-key"
    assert sent["body"]["model"] == "test-model"
    assert sent["body"]["response_format"] == {"type": "json_object"}
    assert sent["body"]["messages"][-1] == {"role": "user", "content": TEXT}
    raw = json.dumps(sent)
    assert "Zebulon" not in raw and "Quentin" not in raw and patient.mrn not in raw


def test_llm_answer_in_a_code_fence_is_accepted(fake_llm, doctor):
    fake_llm.answer("```json\n" + json.dumps({"items": GOOD["items"][1:2]}) + "\n```")
    body = api_client_for(doctor).post(URL, {"text": "warfarin 5 mg daily"}, format="json").json()
    assert body["provider"] == "llm" and body["items"][0]["drug"]["rxcui"] == "855332"


NO_CONTENT = "the answer has no choices[0].message.content"
BAD_DOSE = {"items": [{"drug": "aspirin", "dose_value": "x"}]}


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda f: setattr(f, "reply", (500, b'{"error": "overloaded"}')), "the provider answered HTTP 500"),
        (lambda f: setattr(f, "reply", (200, b"<html>not json</html>")), "the answer is not JSON"),
        (lambda f: setattr(f, "reply", (200, b'{"choices": []}')), NO_CONTENT),
        (lambda f: f.answer("Sure! Amoxicillin is an antibiotic."), "the message content is not JSON"),
        (lambda f: f.answer({"drugs": []}), 'the message content has no "items" list'),
        (lambda f: f.answer({"items": []}), "the answer lists no items"),
        (lambda f: f.answer({"items": ["amoxicillin"]}), "an item is not an object"),
        (lambda f: f.answer(BAD_DOSE), '"dose_value" is not a number'),
        (lambda f: f.answer({"items": [{"drug": {"name": "x"}}]}), '"drug" is not text'),
        (lambda f: f.answer({"items": [{"drug": "aspirin"}] * 21}), "more than 20 items"),
        (lambda f: setattr(f, "delay", 2.5), "no answer within 1 s"),
    ],
    ids=["http-500", "not-json", "no-choices", "prose", "no-items", "empty", "item-not-object", "bad-number",
         "drug-not-text", "too-many", "timeout"],
)  # fmt: skip
def test_any_provider_failure_falls_back_to_the_offline_parser(fake_llm, doctor, setup, reason):
    setup(fake_llm)
    text = "warfarin 5 mg daily; ibuprofen 800 mg tid"
    response = api_client_for(doctor).post(URL, {"text": text}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["provider"] == "offline"
    assert body["notes"] == [f"The language-model provider failed ({reason}); the offline parser was used."]
    assert [i["drug"]["rxcui"] for i in body["items"]] == ["855332", "197807"]
    assert [(f["kind"], f["severity"]) for f in body["findings"]] == [("interaction", "major")]


def test_unreachable_provider_falls_back(settings, doctor):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.LLM_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.LLM_TIMEOUT = 1
    body = api_client_for(doctor).post(URL, {"text": "warfarin 5 mg daily"}, format="json").json()
    assert body["provider"] == "offline"
    assert body["notes"][0].startswith("The language-model provider failed (the provider is unreachable")


def test_offline_provider_asked_for_sends_nothing(fake_llm, doctor):
    fake_llm.answer(GOOD)
    body = (
        api_client_for(doctor)
        .post(URL, {"text": "warfarin 5 mg daily", "provider": "offline"}, format="json")
        .json()
    )
    assert body["provider"] == "offline" and body["notes"] == []
    assert fake_llm.requests == []


def test_llm_asked_for_but_not_configured_says_so(settings, doctor):
    settings.LLM_BASE_URL = ""
    body = (
        api_client_for(doctor)
        .post(URL, {"text": "warfarin 5 mg daily", "provider": "llm"}, format="json")
        .json()
    )
    assert body["provider"] == "offline"
    assert body["notes"] == [
        "No language-model provider is configured (LLM_BASE_URL); the offline parser was used."
    ]
    assert body["items"][0]["drug"]["rxcui"] == "855332"


def test_bad_input_is_400_before_anything_is_sent(fake_llm, doctor):
    response = api_client_for(doctor).post(URL, {"text": "   "}, format="json")
    assert response.status_code == 400 and "text" in response.json()
    assert fake_llm.requests == []


def test_settings_come_from_the_environment_when_not_in_django_settings(
    fake_llm, settings, monkeypatch, doctor
):
    for name in ("LLM_BASE_URL", "LLM_API_KEY", "LLM_MODEL", "LLM_TIMEOUT"):
        delattr(settings, name)
    monkeypatch.setenv("LLM_BASE_URL", fake_llm.url)
    monkeypatch.setenv("LLM_API_KEY", "env-key")
    monkeypatch.setenv("LLM_MODEL", "env-model")
    fake_llm.answer({"items": GOOD["items"][1:2]})
    body = api_client_for(doctor).post(URL, {"text": "warfarin 5 mg daily"}, format="json").json()
    assert body["provider"] == "llm"
    [sent] = fake_llm.requests
    assert sent["headers"]["Authorization"] == "Bearer env-key" and sent["body"]["model"] == "env-model"
