"""HTTP routes of residents' reports: photos served only to who may see them, and a plain submission route.

* ``GET /api/report-photos/{id}?ref=ENV-000123&token=...``: a report's photo for the holder of its tracking token;
  without a token, for signed-in staff of the report's organisation (the ``atlas_session`` cookie). Anyone else
  gets 404, the same answer as for a photo that does not exist.
* ``POST /api/report/{org slug}``: a report without photos, form-encoded or JSON (the fields of
  ``reports.submit_report``), answering its reference and tracking link as JSON. The same limits as the form:
  per-IP and per-email counts in the database, the honeypot, field sizes.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atlas_app.api.threads import run_in_threadpool
from atlas_app.api.web import client_ip, read_body, same_origin
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import auth
from atlas_app.services.platform.errors import AtlasError, NotFound, PermissionDenied, ValidationFailed
from atlas_app.web_session import session_token_from_cookie_header

MAX_BODY = 16 * 1024
FIELDS = ("category_id", "uprn", "usrn", "latitude", "longitude", "description", "name", "email", "phone",
          "consent", "website")


def _error(exc: AtlasError) -> JSONResponse:
    return JSONResponse({"error": str(exc), "fields": dict(getattr(exc, "errors", {}) or {})},
                        status_code=exc.status_code, headers={"Cache-Control": "no-store"})


async def report_photo(request: Request) -> Response:
    photo_id = request.path_params["photo_id"]
    token = request.query_params.get("token", "")
    reference = request.query_params.get("ref", "")
    try:
        if token:
            data, content_type = await run_in_threadpool(reports.photo_for_public, reference, token, photo_id)
        else:
            session = session_token_from_cookie_header(request.headers.get("cookie"))
            actor = await run_in_threadpool(auth.resolve, session) if session else None
            if actor is None:
                raise NotFound("No such photo.")
            try:
                data, content_type = await run_in_threadpool(reports.photo_for_staff, actor, photo_id)
            except PermissionDenied:
                raise NotFound("No such photo.") from None
    except AtlasError as exc:
        return _error(exc)
    return Response(data, media_type=content_type,
                    headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff",
                             "Content-Disposition": "inline", "Content-Security-Policy": "default-src 'none'"})


async def submit(request: Request) -> Response:
    try:
        if not same_origin(request):
            raise PermissionDenied("This request did not come from Atlas.")
        org = await run_in_threadpool(reports.organisation_by_slug, request.path_params["slug"])
        if org is None:
            raise NotFound("That council does not take reports here.")
        body = await read_body(request, MAX_BODY)
        if request.headers.get("content-type", "").startswith("application/json"):
            try:
                raw = json.loads(body or b"{}")
            except ValueError:
                raise ValidationFailed("The body is not JSON.", {"body": "invalid"}) from None
            if not isinstance(raw, dict):
                raise ValidationFailed("The body must be a JSON object.", {"body": "invalid"})
        else:
            raw = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        data = {k: raw.get(k) for k in FIELDS if raw.get(k) not in (None, "")}
        if isinstance(data.get("consent"), str):
            data["consent"] = data["consent"].lower() in ("1", "true", "yes", "on")
        done = await run_in_threadpool(reports.submit_report, org.id, data, (), ip=client_ip(request))
    except AtlasError as exc:
        return _error(exc)
    return JSONResponse({"reference": done.reference, "tracking_path": done.tracking_path,
                         "email_queued": done.email_queued}, status_code=201, headers={"Cache-Control": "no-store"})


routes = [
    Route("/api/report-photos/{photo_id:int}", report_photo, methods=["GET"]),
    Route("/api/report/{slug:str}", submit, methods=["POST"]),
]
