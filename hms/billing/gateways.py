"""Online payment gateways: one small adapter interface, chosen by `settings.PAYMENT_GATEWAY`.

Flow (the usual card-gateway "payment intent" pattern): `create_intent` registers the amount with the
provider and gives a reference and the URL to send the patient's browser to → the provider takes the card
→ it calls back (server-to-server webhook and/or the browser return URL) with a signed payload →
`verify_callback` checks the signature and says which reference succeeded or failed →
`hms.billing.payments.payment_gateway_confirm` completes the pending payment once (replays change nothing).

Settings: `PAYMENT_GATEWAY` = "none" (default: desk payments only, online payment answers 409) | "fake"
(tests and the demo: the "checkout" is our own return URL, signed with HMAC-SHA256, so the payment
completes as soon as the browser follows the redirect).

Adding a Stripe-like provider: subclass `PaymentGateway`, set `name`; `create_intent` calls the provider's
API with the payment's amount/currency and `payment.pk` as metadata and returns its intent id and hosted
checkout URL; `verify_callback` checks the provider's webhook signature header with its secret (e.g. from
`settings.PAYMENT_GATEWAY_SECRET`) and maps its event to `CallbackResult`; register it in `GATEWAYS`. The
callback URL to give the provider is `/api/payments/gateway/<name>/callback/`.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import PermissionDenied


@dataclass(frozen=True)
class Intent:
    reference: str
    redirect_url: str


@dataclass(frozen=True)
class CallbackResult:
    reference: str
    succeeded: bool


def new_reference() -> str:
    return secrets.token_urlsafe(16)


class PaymentGateway:
    """The adapter interface. Amounts are Decimal in the payment's currency."""

    name = ""

    def create_intent(self, *, payment, return_url: str) -> Intent:  # pragma: no cover - interface
        raise NotImplementedError

    def verify_callback(self, *, payload: dict, signature: str) -> CallbackResult:  # pragma: no cover
        """Raise PermissionDenied when the signature is wrong."""
        raise NotImplementedError


class FakeGateway(PaymentGateway):
    """A gateway without a provider: the intent's redirect URL is `return_url` with a signed
    `reference`/`status=succeeded`, so following it completes the payment. Signature: hex HMAC-SHA256 over
    "<reference>|<status>" with a key derived from SECRET_KEY."""

    name = "fake"

    @staticmethod
    def sign(reference: str, status: str) -> str:
        key = hashlib.sha256(f"fake-gateway:{settings.SECRET_KEY}".encode()).digest()
        return hmac.new(key, f"{reference}|{status}".encode(), hashlib.sha256).hexdigest()

    def create_intent(self, *, payment, return_url: str) -> Intent:
        reference = f"fake_{new_reference()}"
        status = "succeeded"
        query = urlencode(
            {"reference": reference, "status": status, "signature": self.sign(reference, status)}
        )
        sep = "&" if "?" in return_url else "?"
        return Intent(reference=reference, redirect_url=f"{return_url}{sep}{query}")

    def verify_callback(self, *, payload: dict, signature: str) -> CallbackResult:
        reference = str(payload.get("reference") or "")
        status = str(payload.get("status") or "")
        if not reference or status not in ("succeeded", "failed"):
            raise PermissionDenied("Malformed gateway callback.")
        if not hmac.compare_digest(self.sign(reference, status), str(signature or "")):
            raise PermissionDenied("Bad gateway signature.")
        return CallbackResult(reference=reference, succeeded=status == "succeeded")


GATEWAYS: dict[str, type[PaymentGateway]] = {"fake": FakeGateway}


def get_gateway(name: str | None = None) -> PaymentGateway | None:
    """The configured gateway (or the one named `name`, if it is the configured one); None when online
    payment is off ("none") or `name` is not the configured gateway."""
    configured = getattr(settings, "PAYMENT_GATEWAY", "none") or "none"
    if configured == "none" or configured not in GATEWAYS:
        return None
    if name is not None and name != configured:
        return None
    return GATEWAYS[configured]()
