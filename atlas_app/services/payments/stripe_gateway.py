"""The Stripe connection: which card provider is in use, and the official SDK client.

* With ``STRIPE_SECRET_KEY`` set, card payments go to Stripe (test mode with ``sk_test_...``, live with
  ``sk_live_...``). ``STRIPE_API_BASE`` points the SDK at another address (a Stripe-compatible test double).
* Without it, the demo provider takes card payments, clearly labelled "DEMO — no real money", but only where
  someone has said this is a demo: the deployment (``ATLAS_DEMO_PAYMENTS=1``) or the organisation (its
  ``payments_demo`` flag, which the platform administrator sets). Anywhere else there is no online card payment and
  the client is told how else to pay. The demo refuses to work whenever a live key is configured, so demo money can
  never be mixed with real money.
* A production start with neither Stripe nor demo payments logs a loud warning (``warn_at_start``).
"""

from __future__ import annotations

import logging
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


NOT_AVAILABLE = ("Online card payment is not available for this booking, and nothing has been charged. Your "
                 "booking is kept: to pay, telephone the booking team on the number in your offer letter, before "
                 "the payment date shown on your booking.")


def demo_enabled(organisation_demo: bool) -> bool:
    """Whether the demo provider may take a payment for an organisation whose ``payments_demo`` flag is given."""
    return (get_settings().demo_payments or bool(organisation_demo)) and not live_key_configured()


def card_provider(organisation_demo: bool = False) -> str:
    """``stripe`` when a Stripe key is configured; otherwise ``demo`` when this deployment or the organisation is a
    demo; otherwise ``none``: no online card payments."""
    if get_settings().stripe_secret_key:
        return "stripe"
    return "demo" if demo_enabled(organisation_demo) else "none"


def live_key_configured() -> bool:
    key = get_settings().stripe_secret_key or ""
    return key.startswith(("sk_live_", "rk_live_"))


def require_demo_allowed(organisation_demo: bool = False) -> None:
    """The demo provider must never run beside real money, nor for an organisation that is not a demo."""
    if live_key_configured():
        raise PaymentsUnavailable("The demo payment provider is switched off because a live Stripe key is "
                                  "configured.")
    if not demo_enabled(organisation_demo):
        raise PaymentsUnavailable(NOT_AVAILABLE)


def provider_warning() -> str | None:
    """What is wrong when this deployment can take no online card payment at all, or None."""
    settings = get_settings()
    if settings.stripe_secret_key or settings.demo_payments:
        return None
    return ("NO ONLINE PAYMENT PROVIDER: STRIPE_SECRET_KEY is not set and ATLAS_DEMO_PAYMENTS is off, so clients "
            "cannot pay by card online (only organisations marked as demo organisations take demo payments). Set "
            "STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET to take card payments.")


def warn_at_start(production: bool, logger: logging.Logger) -> bool:
    """At a production start, log ``provider_warning`` loudly. Returns whether it warned."""
    warning = provider_warning() if production else None
    if warning:
        bar = "!" * 100
        logger.warning("\n%s\n%s\n%s", bar, warning, bar)
    return bool(warning)


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
