"""GOV.UK Pay's webhook messages about payments (succeeded, captured, settled, refunded, failed...):

* ``POST /api/govuk-pay/webhook/<organisation>``: an organisation's own address, checked against its own signing
  secret (entered under Payment settings; the deployment's when it entered none); it touches only its payments.
* ``POST /api/govuk-pay/webhook``: the deployment's address, under ``GOVUK_PAY_WEBHOOK_SECRET``, for the payments of
  organisations using the deployment's GOV.UK Pay account.

``Pay-Signature`` must be the HMAC-SHA256 of the raw body under the signing secret before anything is read; a forged request gets 400 and changes nothing. Each message is
applied once (by its ``webhook_message_id``), from the payment's state fetched from GOV.UK Pay, so messages may come
in any order. Anything that could not be applied gets a 5xx, and GOV.UK Pay sends it again.
"""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from atlas_app.api.threads import run_in_threadpool
from atlas_app.api.web import read_body
from atlas_app.services.payments import checkout, govuk_pay, govuk_pay_accounts
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.settings import get_settings

log = logging.getLogger("atlas.payments")

MAX_BODY = 512 * 1024


async def govuk_pay_webhook(request: Request) -> JSONResponse:
    return await _receive(request, get_settings().govuk_pay_webhook_secret or "", None)


async def organisation_webhook(request: Request) -> JSONResponse:
    org_id = await run_in_threadpool(govuk_pay_accounts.organisation_by_slug,
                                     str(request.path_params.get("organisation", ""))[:40])
    if org_id is None:
        return JSONResponse({"error": "Unknown address."}, status_code=404)
    secret = await run_in_threadpool(govuk_pay_accounts.webhook_secret_for, org_id)
    return await _receive(request, secret, org_id)


async def _receive(request: Request, secret: str, org_id: int | None) -> JSONResponse:
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
        result = await run_in_threadpool(checkout.handle_govuk_pay_event, event, org_id)
    except Exception:  # rolled back and not claimed: GOV.UK Pay will send it again
        log.exception("GOV.UK Pay message %s could not be applied", event.get("webhook_message_id"))
        return JSONResponse({"error": "Could not apply the message; it will be retried."}, status_code=500)
    return JSONResponse({"received": True, "outcome": result.outcome}, status_code=result.status_code)


routes = [Route("/api/govuk-pay/webhook", govuk_pay_webhook, methods=["POST"]),
          Route("/api/govuk-pay/webhook/{organisation}", organisation_webhook, methods=["POST"])]
