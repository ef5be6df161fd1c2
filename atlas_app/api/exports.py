"""Downloads for signed-in staff, authenticated by the ``atlas_session`` cookie: report exports (CSV, XLSX,
streamed) and letter PDFs.

Each request resolves the session to an actor and calls the same services as the pages, so the permission checks and
the organisation scoping are the services': no cookie is 401, a missing permission 403, and another organisation's
ids simply match nothing. Producing letters changes data (timeline, audit, outbox), so it is a same-origin POST.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from html import escape

from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from atlas_app.api.web import same_origin
from atlas_app.web_session import session_token_from_cookie_header
from atlas_app.services.platform import audit, auth, subject_access
from atlas_app.services.insight import letters, reports
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import AtlasError, NotAuthenticated, PermissionDenied

log = logging.getLogger("atlas.exports")

MEDIA = {"csv": "text/csv; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _error(exc: AtlasError) -> JSONResponse:
    """The REST API's error shape: the message, and which fields are wrong (may be empty)."""
    return JSONResponse({"error": str(exc), "fields": dict(getattr(exc, "errors", {}) or {})},
                        status_code=exc.status_code, headers={"Cache-Control": "no-store"})


def _error_page(exc: AtlasError) -> HTMLResponse:
    """A browser's form post that failed: say why, and offer the way back."""
    page = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
            "content=\"width=device-width, initial-scale=1\"><title>Letters not produced - Atlas</title></head>"
            "<body style=\"font-family: sans-serif; margin: 2em; max-width: 40em\"><main><h1>Letters not produced"
            f"</h1><p role=\"alert\">{escape(str(exc))}</p><p><a href=\"/letters\">Back to letters</a></p>"
            "</main></body></html>")
    return HTMLResponse(page, status_code=exc.status_code, headers={"Cache-Control": "no-store"})


async def _actor(request: Request) -> Actor:
    token = session_token_from_cookie_header(request.headers.get("cookie"))
    actor = await run_in_threadpool(auth.resolve, token) if token else None
    if actor is None:
        raise NotAuthenticated()
    return actor


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


async def report_export(request: Request) -> Response:
    name = request.path_params["report"]
    fmt = request.path_params["fmt"]
    try:
        if fmt not in MEDIA:
            raise reports.NotFound("Exports are CSV or XLSX.")
        actor = await _actor(request)
        values = {k: v for k, v in request.query_params.items()}
        report = await run_in_threadpool(reports.run, actor, name, values)
    except AtlasError as exc:
        return _error(exc)
    chunks = reports.csv_chunks(report) if fmt == "csv" else reports.xlsx_chunks(report)
    return StreamingResponse(chunks, media_type=MEDIA[fmt],
                             headers=_attachment(reports.export_filename(report, fmt)))


async def letters_pdf(request: Request) -> Response:
    try:
        if not same_origin(request):
            raise PermissionDenied("This request did not come from Atlas.")
        actor = await _actor(request)
        form = await request.form()
        values = {k: str(v)[:200] for k, v in form.items() if isinstance(v, str)}
        code = values.get("template", "")
        email = values.get("email") in ("1", "on", "true", "yes")
        if values.get("mode") == "single":
            run = await run_in_threadpool(letters.produce_one, actor, code, values.get("reference", ""), email)
        else:
            run = await run_in_threadpool(letters.produce_bulk, actor, code, values, email)
    except AtlasError as exc:
        if "text/html" in request.headers.get("accept", ""):
            return _error_page(exc)
        return _error(exc)
    headers = _attachment(run.filename)
    headers["X-Atlas-Letters"] = str(run.count)
    headers["X-Atlas-Emailed"] = str(run.emailed)
    return Response(run.pdf, media_type="application/pdf", headers=headers)


async def audit_trail_export(request: Request) -> Response:
    """One client's or casework person's audit trail as CSV: ``audit.view``, the actor's organisation only."""
    kind = request.path_params["kind"]
    try:
        if not same_origin(request):
            raise PermissionDenied("This request did not come from Atlas.")
        actor = await _actor(request)
        subject_id = request.path_params["subject_id"]
        chunks = await run_in_threadpool(audit.trail_csv, actor, kind, subject_id)
    except AtlasError as exc:
        return _error(exc)
    return StreamingResponse(chunks, media_type=MEDIA["csv"],
                             headers=_attachment(f"audit-trail-{kind}-{subject_id}.csv"))


async def subject_access_zip(request: Request) -> Response:
    """Everything held about a client or person, as a ZIP (``?client=ID&person=ID`` names the records to join,
    instead of matching by email, or name and date of birth). A GET, so it must come from an Atlas page."""
    try:
        if not same_origin(request):
            raise PermissionDenied("This request did not come from Atlas.")
        actor = await _actor(request)
        clients = request.query_params.getlist("client")
        people = request.query_params.getlist("person")
        run = await run_in_threadpool(subject_access.export, actor, request.path_params["kind"],
                                      request.path_params["id"], clients, people)
    except AtlasError as exc:
        return _error(exc)
    headers = _attachment(run.filename)
    headers["X-Atlas-Records"] = str(run.records)
    return Response(run.data, media_type="application/zip", headers=headers)


routes = [
    Route("/api/audit/{kind:str}/{subject_id:int}.csv", audit_trail_export, methods=["GET"]),
    Route("/api/reports/{report}.{fmt}", report_export, methods=["GET"]),
    Route("/api/letters/pdf", letters_pdf, methods=["POST"]),
    Route("/api/subject-access/{kind}/{id}.zip", subject_access_zip, methods=["GET"]),
]
