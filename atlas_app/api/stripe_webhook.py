"""POST /api/stripe/webhook: Stripe's events about Checkout Sessions, payments and refunds.

The Stripe-Signature header is verified with the endpoint's secret (``STRIPE_WEBHOOK_SECRET``) inside Stripe's
tolerance window before anything is read; a forged or stale request gets 400 and changes nothing. Events are then
applied once each (deduplicated by event id). An event that cannot be applied yet gets 503, so Stripe sends it again.
"""

from __future__ import annotations

import json
import logging

import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from atlas_app.api.threads import run_in_threadpool
from atlas_app.api.web import read_body
from atlas_app.services.payments import checkout
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.settings import get_settings

log = logging.getLogger("atlas.payments")

TOLERANCE_SECONDS = 300
MAX_BODY = 512 * 1024


async def stripe_webhook(request: Request) -> JSONResponse:
    secret = get_settings().stripe_webhook_secret
    if not secret:
        return JSONResponse({"error": "Stripe webhooks are not configured on this server."}, status_code=503)
    try:
        payload = await read_body(request, MAX_BODY)
    except ValidationFailed as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status_code)
    signature = request.headers.get("stripe-signature", "")
    try:
        stripe.Webhook.construct_event(payload, signature, secret, tolerance=TOLERANCE_SECONDS)
        event = json.loads(payload.decode("utf-8"))
    except stripe.SignatureVerificationError:
        return JSONResponse({"error": "Invalid or expired signature."}, status_code=400)
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "Invalid payload."}, status_code=400)
    if not checkout.verify_event_time(signature, TOLERANCE_SECONDS) or not isinstance(event, dict):
        return JSONResponse({"error": "Invalid or expired signature."}, status_code=400)
    try:
        result = await run_in_threadpool(checkout.handle_stripe_event, event)
    except Exception:  # the change was rolled back and the event not claimed: Stripe will retry it
        log.exception("Stripe event %s could not be applied", event.get("id"))
        return JSONResponse({"error": "Could not apply the event; it will be retried."}, status_code=500)
    return JSONResponse({"received": True, "outcome": result.outcome}, status_code=result.status_code)


routes = [Route("/api/stripe/webhook", stripe_webhook, methods=["POST"])]
