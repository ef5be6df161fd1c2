"""The Stripe connection: which card provider is in use, and the official SDK client.

* With ``STRIPE_SECRET_KEY`` set, card payments go to Stripe (test mode with ``sk_test_...``, live with
  ``sk_live_...``). ``STRIPE_API_BASE`` points the SDK at another address (a Stripe-compatible test double).
* Without it, the demo provider takes card payments, clearly labelled "DEMO — no real money". The demo refuses to
  work whenever a live key is configured, so demo money can never be mixed with real money.
"""

from __future__ import annotations

from functools import lru_cache

import stripe

from atlas_app.services.platform.errors import AtlasError
from atlas_app.settings import get_settings

DEMO_LABEL = "DEMO — no real money"


class PaymentsUnavailable(AtlasError):
    status_code = 503

    def __init__(self, message: str = "Card payments are not available just now. Nothing has been charged; please "
                                      "try again in a few minutes or telephone us.") -> None:
        super().__init__(message)


def card_provider() -> str:
    """``stripe`` when a Stripe key is configured, otherwise ``demo``."""
    return "stripe" if get_settings().stripe_secret_key else "demo"


def live_key_configured() -> bool:
    key = get_settings().stripe_secret_key or ""
    return key.startswith(("sk_live_", "rk_live_"))


def require_demo_allowed() -> None:
    """The demo provider must never run beside real money."""
    if live_key_configured():
        raise PaymentsUnavailable("The demo payment provider is switched off because a live Stripe key is "
                                  "configured.")


@lru_cache(maxsize=4)
def _client(secret_key: str, api_base: str | None) -> stripe.StripeClient:
    kwargs: dict = {"max_network_retries": 2}
    if api_base:
        kwargs["base_addresses"] = {"api": api_base}
    return stripe.StripeClient(secret_key, **kwargs)


def stripe_client() -> stripe.StripeClient:
    settings = get_settings()
    if not settings.stripe_secret_key:
        raise PaymentsUnavailable("Stripe is not configured (STRIPE_SECRET_KEY).")
    return _client(settings.stripe_secret_key, settings.stripe_api_base)


def stripe_error_text(exc: stripe.StripeError) -> str:
    """A short description of a Stripe error for logs and staff (never shown to clients as it is)."""
    message = getattr(exc, "user_message", None) or str(getattr(exc, "_message", "") or exc) or type(exc).__name__
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{' ' + code if code else ''}: {message}"[:500]


def as_dict(obj) -> dict:
    """A Stripe object (or a plain dict) as a plain dict, nested objects included."""
    if obj is None:
        return {}
    if isinstance(obj, dict) and not isinstance(obj, stripe.StripeObject):
        return obj
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)
