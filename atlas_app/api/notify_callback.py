"""POST /api/notify/callback: GOV.UK Notify's delivery receipts.

Notify sends each receipt as JSON (``id``, ``reference``, ``to``, ``status``, ``created_at``, ``completed_at``,
``sent_at``, ``notification_type``, ``template_id``, ``template_version``) with ``Authorization: Bearer <token>``,
the token the service set on Notify's callbacks page (``NOTIFY_CALLBACK_TOKEN`` here). A missing or wrong token gets
401 and changes nothing; a receipt for a message Atlas did not send is acknowledged and ignored (Notify would
otherwise retry it).
"""

from __future__ import annotations

import hmac
import json

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from atlas_app.api.threads import run_in_threadpool
from atlas_app.api.web import read_body
from atlas_app.services.platform import outbox
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.settings import get_settings

MAX_BODY = 64 * 1024


async def notify_callback(request: Request) -> JSONResponse:
    token = get_settings().notify_callback_token
    if not token:
        return JSONResponse({"error": "Notify callbacks are not configured on this server."}, status_code=503)
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return JSONResponse({"error": "Unauthorised."}, status_code=401)
    try:
        payload = json.loads((await read_body(request, MAX_BODY)).decode("utf-8"))
    except ValidationFailed as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status_code)
    except (ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "Invalid payload."}, status_code=400)
    if not isinstance(payload, dict):
        return JSONResponse({"error": "Invalid payload."}, status_code=400)
    result = await run_in_threadpool(outbox.record_receipt, payload)
    return JSONResponse({"received": True, "outcome": result.outcome}, status_code=200)


routes = [Route("/api/notify/callback", notify_callback, methods=["POST"])]
