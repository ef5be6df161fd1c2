"""POST /api/govuk-pay/webhook: GOV.UK Pay's webhook messages about payments (succeeded, captured, settled,
refunded, failed...).

``Pay-Signature`` must be the HMAC-SHA256 of the raw body under the webhook's signing secret
(``GOVUK_PAY_WEBHOOK_SECRET``) before anything is read; a forged request gets 400 and changes nothing. Each message is
applied once (by its ``webhook_message_id``), from the payment's state fetched from GOV.UK Pay, so messages may come
in any order. Anything that could not be applied gets a 5xx, and GOV.UK Pay sends it again.
"""

from __future__ import annotations

import json
import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from atlas_app.api.web import read_body
from atlas_app.services.payments import checkout, govuk_pay
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.settings import get_settings

log = logging.getLogger("atlas.payments")

MAX_BODY = 512 * 1024


async def govuk_pay_webhook(request: Request) -> JSONResponse:
    secret = get_settings().govuk_pay_webhook_secret
    if not secret:
        return JSONResponse({"error": "GOV.UK Pay webhooks are not configured on this server."}, status_code=503)
    try:
        payload = await read_body(request, MAX_BODY)
    except ValidationFailed as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status_code)
    if not govuk_pay.signature_ok(payload, request.headers.get("pay-signature", ""), secret):
        return JSONResponse({"error": "Invalid signature."}, status_code=400)
    try:
        event = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "Invalid payload."}, status_code=400)
    if not isinstance(event, dict):
        return JSONResponse({"error": "Invalid payload."}, status_code=400)
    try:
        result = await run_in_threadpool(checkout.handle_govuk_pay_event, event)
    except Exception:  # rolled back and not claimed: GOV.UK Pay will send it again
        log.exception("GOV.UK Pay message %s could not be applied", event.get("webhook_message_id"))
        return JSONResponse({"error": "Could not apply the message; it will be retried."}, status_code=500)
    return JSONResponse({"received": True, "outcome": result.outcome}, status_code=result.status_code)


routes = [Route("/api/govuk-pay/webhook", govuk_pay_webhook, methods=["POST"])]
