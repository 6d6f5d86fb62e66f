"""Optional prescription-analysis provider: an OpenAI-compatible chat endpoint (Groq, OpenAI, a local
llama.cpp / vLLM / Ollama server).

Settings (from the environment, read at call time): `LLM_BASE_URL` (e.g. "https://api.groq.com/openai/v1";
empty = provider off), `LLM_API_KEY` (sent as "Authorization: Bearer ..."; may be empty for a local
server), `LLM_MODEL` (default "gpt-4o-mini"), `LLM_TIMEOUT` (seconds, default 15).

`parse_llm(text)` sends ONLY the prescription text (never the patient, their record or any identifier)
to `POST {LLM_BASE_URL}/chat/completions` with `response_format={"type": "json_object"}` and temperature
0, and expects {"items": [{"text", "drug", "strength", "dose_value", "dose_unit", "route",
"frequency_code", "duration_days", "as_needed"}]}. The answer is validated (types, lengths, at most
`analysis.MAX_ITEMS` items); each drug is mapped back to the bundled catalogue with the same resolver as
the offline parser (`analysis.drug_resolve`), routes and frequency codes to the same tables
(`analysis.ROUTES`, `hms.pharmacy.frequencies`). A drug that is not in the catalogue comes back
`unparsed`. The model never supplies findings: the caller runs `cds_check` on the resolved items.

Any failure (no answer within the timeout, connection refused, HTTP error, a body that is not the JSON
asked for) raises `LLMError`; `analysis.prescription_analyze` then falls back to the offline parser and
says so in its `notes`.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from decimal import Decimal, InvalidOperation

from django.conf import settings

from . import analysis, frequencies

SYSTEM_PROMPT = (
    "You convert free-text medication prescriptions into JSON. Answer with one JSON object only: "
    '{"items": [{"text": the original fragment, "drug": generic drug name, "strength": e.g. "500 mg" or '
    '"5 mg/mL" or "", "dose_value": number per administration or null, "dose_unit": "mg", "g", "mcg", '
    '"mL", "tablet", "capsule", "puff", "unit" or "", "route": one of "oral", "intravenous", '
    '"intramuscular", "subcutaneous", "sublingual", "rectal", "inhalation", "topical" or "", '
    '"frequency_code": one of QD, BID, TID, QID, Q4H, Q6H, Q8H, Q12H, QHS, QAM, QPM, QOD, QWK, PRN, '
    'Q4H-PRN, Q6H-PRN, STAT or "", "duration_days": integer or null, "as_needed": true or false}]}. '
    "One item per medication. Do not add advice, warnings or interactions."
)
MAX_RESPONSE_BYTES = 256 * 1024
_FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


class LLMError(Exception):
    """The provider could not give a usable answer (the message says why, without the text sent)."""


def _setting(name: str, default=""):
    value = getattr(settings, name, None)
    if value is None:
        from config.env import env

        value = env(name, default=default)
    return value


def llm_configured() -> bool:
    """True when `LLM_BASE_URL` is set."""
    return bool(str(_setting("LLM_BASE_URL", "") or "").strip())


def _post(payload: dict) -> dict:
    base = str(_setting("LLM_BASE_URL", "")).strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise LLMError("LLM_BASE_URL must be an http(s) URL")
    key = str(_setting("LLM_API_KEY", "") or "")
    try:
        timeout = float(_setting("LLM_TIMEOUT", 15))
    except (TypeError, ValueError):
        timeout = 15.0
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(  # noqa: S310 - the URL scheme is checked above
        f"{base}/chat/completions", data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise LLMError(f"the provider answered HTTP {exc.code}") from exc
    except TimeoutError as exc:
        raise LLMError(f"no answer within {timeout:g} s") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError):
            raise LLMError(f"no answer within {timeout:g} s") from exc
        raise LLMError(f"the provider is unreachable ({reason})") from exc
    if len(raw) > MAX_RESPONSE_BYTES:
        raise LLMError("the answer is too large")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LLMError("the answer is not JSON") from exc


def _content(body) -> dict:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError("the answer has no choices[0].message.content") from exc
    if not isinstance(content, str):
        raise LLMError("the message content is not text")
    try:
        data = json.loads(_FENCE.sub("", content))
    except ValueError as exc:
        raise LLMError("the message content is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise LLMError('the message content has no "items" list')
    if len(data["items"]) > analysis.MAX_ITEMS:
        raise LLMError(f"more than {analysis.MAX_ITEMS} items")
    return data


def _str(row: dict, key: str, limit: int = 200) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise LLMError(f'"{key}" is not text')
    return str(value).strip()[:limit]


def _decimal(row: dict, key: str) -> Decimal | None:
    value = row.get(key)
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise LLMError(f'"{key}" is not a number')
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise LLMError(f'"{key}" is not a number') from exc
    if not analysis.amount_ok(number):
        raise LLMError(f'"{key}" is out of range')
    return number


def _item(row, fallback_text: str) -> analysis.Item:
    """One validated item of the model's answer, mapped to the catalogue and the code tables."""
    if not isinstance(row, dict):
        raise LLMError("an item is not an object")
    item = analysis.Item(text=_str(row, "text", 500) or fallback_text)
    drug_name = _str(row, "drug")
    strength_text = _str(row, "strength", 100)
    item.dose_value = _decimal(row, "dose_value")
    item.dose_unit = _str(row, "dose_unit", 40)
    unit_key = item.dose_unit.lower()
    item.dose_unit = analysis.MASS_UNITS.get(unit_key) or analysis.COUNT_UNITS.get(unit_key) or item.dose_unit
    route = _str(row, "route", 40).lower()
    if route:
        found = analysis.ROUTES.get(route) or analysis.ROUTE_BY_DISPLAY.get(route)
        if found:
            item.route, item.route_code = found
        else:
            item.warnings.append(f"Route '{route}' not recognised.")
    item.as_needed = row.get("as_needed") is True
    code = _str(row, "frequency_code", 20).upper()
    if code:
        freq = frequencies.frequency_get(code)
        if freq is None:
            item.warnings.append(f"Frequency '{code}' not recognised.")
        else:
            item.frequency_code, item.frequency_display = freq.code, freq.display
            item.frequency_per_day = frequencies.max_per_day(freq.code)
            item.as_needed = item.as_needed or freq.as_needed
    duration = row.get("duration_days")
    if duration not in (None, ""):
        if isinstance(duration, bool) or not isinstance(duration, int) or not 0 < duration <= 3650:
            item.warnings.append("Duration ignored (not a whole number of days).")
        else:
            item.duration_days = duration
    # Strength through the offline parser's own reading, so units are normalised the same way.
    probe = analysis.Item(text=strength_text)
    _, strength = analysis._quantities(analysis._normalise(strength_text), probe)
    item.strength = probe.strength
    if item.dose_value is None and probe.dose_value is not None:
        item.dose_value, item.dose_unit = probe.dose_value, probe.dose_unit
    if not drug_name:
        item.status, item.reason = "unparsed", "no medication name found"
        return item
    drug, check_rxcui, reason = analysis.drug_resolve(drug_name.lower(), strength=strength, route=item.route)
    if drug is None:
        item.status, item.reason = "unparsed", reason
        return item
    item.drug, item.check_rxcui = drug, check_rxcui
    if drug["alternatives"]:
        others = ", ".join(a["name"] for a in drug["alternatives"])
        item.warnings.append(f"Also matches {others}: name the dose form to choose.")
    if item.dose_value is None:
        item.warnings.append("No dose given.")
    if not item.frequency_code:
        item.warnings.append("No frequency given.")
    return item


def parse_llm(text: str) -> list[analysis.Item]:
    """Items of `text` (already cleaned) read by the configured model; `LLMError` on any failure."""
    payload = {
        "model": str(_setting("LLM_MODEL", "gpt-4o-mini") or "gpt-4o-mini"),
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": text}],
    }
    data = _content(_post(payload))
    items = [_item(row, text) for row in data["items"]]
    if not items:
        raise LLMError("the answer lists no items")
    return items
