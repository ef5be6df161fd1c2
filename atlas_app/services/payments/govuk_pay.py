"""The GOV.UK Pay connection: its public API over HTTPS (there is no maintained Python client; ``httpx`` is enough).

* The API key (sent as a bearer token) is the organisation's own (services/payments/govuk_pay_accounts.py), else
  the deployment's ``GOVUK_PAY_API_KEY``; an organisation whose ``card_provider`` is ``govuk_pay`` takes card
  payments through it. ``GOVUK_PAY_API_BASE`` points at another address (a local
  stand-in in tests); ``GOVUK_PAY_WEBHOOK_SECRET`` is the webhook's signing secret; ``GOVUK_PAY_LEDGER_CODE`` goes
  in every payment's metadata for the council's income management system.
* The calls: create a payment (``POST /v1/payments``), get it (``GET /v1/payments/{id}``, strongly consistent: the
  state Atlas confirms a booking from), and refund it (``POST /v1/payments/{id}/refunds``). Errors come back as
  ``{"code": "P0102", "field": ..., "description": ...}``; they are raised as :class:`GovukPayError` with that code.
* A payment the user does not finish within 90 minutes expires (state ``failed``, code ``P0020``).
* Webhooks are signed: ``Pay-Signature`` is the hex HMAC-SHA256 of the raw body under the signing secret.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from atlas_app.services.payments.stripe_gateway import PaymentsUnavailable
from atlas_app.settings import get_settings

log = logging.getLogger("atlas.payments.govuk_pay")

PAYMENT_MINUTES = 90  # GOV.UK Pay expires an unfinished payment after this long
MAX_AMOUNT = 10_000_000
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
SUCCEEDED_EVENTS = ("card_payment_succeeded", "card_payment_captured", "card_payment_settled")


class GovukPayError(Exception):
    """GOV.UK Pay refused a request (its error body) or could not be reached (``code`` empty)."""

    def __init__(self, message: str, code: str = "", status: int = 0) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class RefundAnswer:
    """A refund as GOV.UK Pay reports it, in the terms the refund code uses for every provider."""

    id: str
    status: str  # succeeded, pending, failed
    raw_status: str


def configured() -> bool:
    return bool(get_settings().govuk_pay_api_key)


def _request(method: str, path: str, body: dict[str, Any] | None = None,
             idempotency_key: str | None = None, api_key: str | None = None) -> dict[str, Any]:
    settings = get_settings()
    key = api_key or settings.govuk_pay_api_key
    if not key:
        raise PaymentsUnavailable("GOV.UK Pay is not configured (GOVUK_PAY_API_KEY).")
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    try:
        with httpx.Client(base_url=settings.govuk_pay_api_base, timeout=TIMEOUT) as client:
            response = client.request(method, path, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise GovukPayError(f"GOV.UK Pay could not be reached: {type(exc).__name__}") from exc
    try:
        data = response.json() if response.content else {}
    except ValueError:
        data = {}
    if response.status_code >= 400:
        code = str(data.get("code", "")) if isinstance(data, dict) else ""
        description = str(data.get("description", "")) if isinstance(data, dict) else ""
        raise GovukPayError(f"GOV.UK Pay {response.status_code} {code}: {description or response.reason_phrase}"[:500],
                            code, response.status_code)
    return data if isinstance(data, dict) else {}


def create_payment(*, amount_pence: int, reference: str, description: str, return_url: str, language: str = "en",
                   email: str = "", metadata: dict[str, Any] | None = None, moto: bool = False,
                   idempotency_key: str | None = None, api_key: str | None = None) -> dict[str, Any]:
    """Create a payment; the answer holds ``payment_id``, ``state`` and ``_links.next_url.href`` (send the user
    there). ``language`` is ``cy`` for a client who chose Welsh, else ``en``."""
    if not 1 <= int(amount_pence) <= MAX_AMOUNT:
        raise ValueError("amount out of GOV.UK Pay's range")
    body: dict[str, Any] = {"amount": int(amount_pence), "reference": reference[:255],
                            "description": description[:255], "return_url": return_url,
                            "language": "cy" if language == "cy" else "en"}
    if email:
        body["email"] = email[:254]
    if metadata:
        body["metadata"] = {str(k)[:30]: (v if isinstance(v, (int, float, bool)) else str(v)[:100])
                            for k, v in list(metadata.items())[:10]}
    if moto:
        body["moto"] = True
    return _request("POST", "/v1/payments", body, idempotency_key, api_key)


def get_payment(payment_id: str, api_key: str | None = None) -> dict[str, Any]:
    return _request("GET", f"/v1/payments/{payment_id}", api_key=api_key)


def refund(payment_id: str, amount_pence: int, refund_amount_available: int,
           api_key: str | None = None) -> RefundAnswer:
    """Refund part or all of a payment. ``refund_amount_available``: what GOV.UK Pay should think is still
    refundable (it refuses, P0604, when that is not so, so a refund is never made twice from a stale view)."""
    data = _request("POST", f"/v1/payments/{payment_id}/refunds",
                    {"amount": int(amount_pence), "refund_amount_available": int(refund_amount_available)},
                    api_key=api_key)
    raw = str(data.get("status", ""))
    status = {"success": "succeeded", "submitted": "pending", "error": "failed"}.get(raw, "pending")
    return RefundAnswer(str(data.get("refund_id", "")), status, raw)


def next_url(payment: dict[str, Any]) -> str:
    link = (payment.get("_links") or {}).get("next_url") or {}
    return str(link.get("href") or "")


def state_of(payment: dict[str, Any]) -> tuple[str, bool, str]:
    """(status, finished, error code) of a payment."""
    state = payment.get("state") or {}
    return str(state.get("status", "")), bool(state.get("finished", False)), str(state.get("code", ""))


def signature(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(body: bytes, header: str, secret: str | None) -> bool:
    """Whether ``Pay-Signature`` is the HMAC-SHA256 of the body under the webhook's signing secret."""
    if not secret or not header:
        return False
    return hmac.compare_digest(signature(body, secret), header.strip().lower())
