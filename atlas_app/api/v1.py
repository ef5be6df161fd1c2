"""The REST API, version 1: sessions, referrals and bookings for other systems, with an organisation's API token.

Every request carries ``Authorization: Bearer <token>``; the token decides the organisation, and everything another
organisation owns answers 404. Bodies are JSON both ways; an error is ``{"error": "...", "fields": {...}}`` with
401 (no or bad token), 403, 404, 409 (session full, offer already booked), 422 (invalid input) or 503 (busy).
The routes are thin: they call the same services as the staff app, in a worker thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atlas_app.api.web import read_body
from atlas_app.db import utcnow, write_session
from atlas_app.domain.statuses import SessionStatus
from atlas_app.services.platform import api_tokens, bounds
from atlas_app.services.booking import bookings as booking, catalogue, referrals
from atlas_app.services import payments
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import AtlasError, NotAuthenticated, NotFound, ValidationFailed
from atlas_app.timeutil import london_midnight

log = logging.getLogger("atlas.api")

MAX_BODY_BYTES = 64 * 1024
CHANNELS = ("api", "online", "telephone")
SESSION_LIMIT = 500


# --- plumbing ------------------------------------------------------------------------------------------------


def error(status: int, message: str, fields: dict[str, str] | None = None, headers: dict | None = None
          ) -> JSONResponse:
    return JSONResponse({"error": message, "fields": fields or {}}, status_code=status, headers=headers)


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def _actor(request: Request) -> Actor:
    raw = _bearer(request)
    actor = await run_in_threadpool(api_tokens.authenticate, raw)
    if actor is None:
        raise NotAuthenticated("The API token is not valid (unknown or revoked).")
    return actor


async def _json_body(request: Request, required: bool = True) -> dict[str, Any]:
    raw = await read_body(request, MAX_BODY_BYTES)
    if not raw.strip():
        if required:
            raise ValidationFailed("The request body must be a JSON object.", {"body": "required"})
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deep
        raise ValidationFailed("The request body is not valid JSON.", {"body": "invalid JSON"}) from None
    if not isinstance(body, dict):
        raise ValidationFailed("The request body must be a JSON object.", {"body": "not an object"})
    where = bounds.first_non_finite(body)
    if where:
        field = where.split(".", 1)[0]
        raise ValidationFailed(f"{where} must be a finite number.", {field: "not a finite number"})
    return body


def _int_field(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not (value is None or isinstance(value, (int, float, str))):
        raise ValidationFailed(f"{name} must be a whole number.", {name: "not a number"})
    return bounds.parse_id(value, name)


def _str_field(body: dict[str, Any], name: str, required: bool = True, max_len: int = 200) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationFailed(f"{name} is required.", {name: "required"})
        return ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be a string.", {name: "not a string"})
    if len(value) > max_len:
        raise ValidationFailed(f"{name} is too long ({max_len} characters at most).", {name: "too long"})
    return value.strip()


Handler = Callable[[Request, Any], Awaitable[Response]]  # (request, Actor) or (request, raw token)


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Send your API token as 'Authorization: Bearer <token>'.")
    return token.strip()


def _authenticated(raw: str, session) -> Actor:
    actor = api_tokens.authenticate(raw, session=session)
    if actor is None:
        raise NotAuthenticated("The API token is not valid (unknown or revoked).")
    return actor


def endpoint(handler: Handler, authenticate: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate, run, and turn every failure into a JSON error body. With ``authenticate=False`` the handler
    gets the raw bearer token instead of an actor and checks it itself (to share one database round with its own
    first reads)."""

    async def run(request: Request) -> Response:
        try:
            actor = await _actor(request) if authenticate else _bearer(request)
            return await handler(request, actor)
        except NotAuthenticated as exc:
            return error(401, str(exc), headers={"WWW-Authenticate": 'Bearer realm="atlas"'})
        except AtlasError as exc:
            return error(exc.status_code, str(exc), dict(getattr(exc, "errors", {}) or {}))
        except OperationalError:
            log.warning("database busy serving %s %s", request.method, request.url.path, exc_info=True)
            return error(503, "The service is busy. Please try again in a moment.", headers={"Retry-After": "1"})
        except Exception:  # never a stack trace to the caller; the log has it
            log.exception("API error on %s %s", request.method, request.url.path)
            return error(500, "Something went wrong on our side. Please try again later.")

    run.__name__ = handler.__name__
    return run


# --- views ---------------------------------------------------------------------------------------------------


def session_json(row: catalogue.SessionRow) -> dict[str, Any]:
    return {
        "id": row.id, "course_type": row.course_code, "course_name": row.course_name, "venue_id": row.venue_id,
        "venue": row.venue_name, "region": row.region_name, "delivery_mode": row.delivery_mode,
        "starts_at": _iso(row.starts_at), "ends_at": _iso(row.ends_at), "capacity": row.capacity,
        "seats_taken": row.seats_taken, "free_seats": row.free, "status": row.status,
    }


def booking_json(v: booking.BookingView) -> dict[str, Any]:
    return {
        "reference": v.reference, "status": v.status, "channel": v.channel, "offer_reference": v.offer_reference,
        "client_name": v.client_name, "session_id": v.session_id, "course_type": v.course_code,
        "course_name": v.course_name, "starts_at": _iso(v.starts_at), "ends_at": _iso(v.ends_at),
        "venue": v.venue_name, "venue_address": v.venue_address, "delivery_mode": v.delivery_mode,
        "fee_pence": v.fee_pence, "payment_due_at": _iso(v.payment_due_at),
        "hold_expires_at": _iso(v.hold_expires_at), "needs": dict(v.needs), "created_at": _iso(v.created_at),
    }


# --- sessions ------------------------------------------------------------------------------------------------


def _query_date(request: Request, name: str) -> date | None:
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"{name} must be a date as YYYY-MM-DD.", {name: "invalid date"}) from None
    return bounds.filter_date(day, name)


def _query_bool(request: Request, *names: str) -> bool:
    for name in names:
        text = request.query_params.get(name, "").strip().lower()
        if text:
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValidationFailed(f"{name} must be true or false.", {name: "invalid"})
    return False


def _find_sessions(actor: Actor, code: str, date_from: date | None, date_to: date | None,
                   free_only: bool) -> list[catalogue.SessionRow]:
    course_type_id = None
    if code:
        match = [ct for ct in catalogue.list_course_types(actor) if ct.code.upper() == code.upper()]
        if not match:
            raise ValidationFailed(f"'{code}' is not one of your course types.", {"course_type": "unknown"})
        course_type_id = match[0].id
    start = london_midnight(date_from) if date_from else utcnow()
    end = london_midnight(date_to + timedelta(days=1)) if date_to else None
    return catalogue.list_sessions(actor, course_type_id=course_type_id, date_from=start, date_to=end,
                                   status=SessionStatus.SCHEDULED, only_free=free_only, limit=SESSION_LIMIT)


async def list_sessions(request: Request, actor: Actor) -> Response:
    code = request.query_params.get("course_type", "").strip()
    date_from = _query_date(request, "date_from")
    date_to = _query_date(request, "date_to")
    if date_from and date_to and date_to < date_from:
        raise ValidationFailed("date_to is before date_from.", {"date_to": "before date_from"})
    free_only = _query_bool(request, "free_only", "free")
    rows = await run_in_threadpool(_find_sessions, actor, code, date_from, date_to, free_only)
    return JSONResponse({"sessions": [session_json(r) for r in rows], "count": len(rows)})


# --- referrals -----------------------------------------------------------------------------------------------


async def create_referral(request: Request, actor: Actor) -> Response:
    body = await _json_body(request)
    values = {k: body.get(k) for k in (*referrals.FIELDS, "name")}
    for key, value in values.items():
        if value is not None and not isinstance(value, (str, int)):
            raise ValidationFailed(f"{key} must be a string.", {key: "not a string"})
    outcome = await run_in_threadpool(referrals.submit_one, actor, values, "api")
    payload = {"result": outcome.result, "offer_reference": outcome.offer_reference, "status": outcome.status,
               "changed": outcome.changed}
    return JSONResponse(payload, status_code=201 if outcome.result == "created" else 200)


# --- bookings ------------------------------------------------------------------------------------------------


def _book(raw_token: str, offer_reference: str, session_id: int, channel: str, needs: dict | None):
    # One transaction: the token check, the offer lookup and the booking (the same service as the staff screens).
    with write_session() as s:
        actor = _authenticated(raw_token, s)
        offer_id = referrals.offer_id_for_reference(actor, offer_reference, session=s)
        return booking.book(actor, offer_id, session_id, needs=needs, channel=channel, session=s)


async def create_booking(request: Request, raw_token: str) -> Response:
    body = await _json_body(request)
    problems: dict[str, str] = {}
    offer_reference = session_id = None
    try:
        offer_reference = _str_field(body, "offer_reference", max_len=40)
    except ValidationFailed as exc:
        problems.update(exc.errors)
    try:
        session_id = _int_field(body, "session_id")
    except ValidationFailed as exc:
        problems.update(exc.errors)
    channel = body.get("channel") or "api"
    if channel not in CHANNELS:
        problems["channel"] = "must be api, online or telephone"
    needs = body.get("needs")
    if needs is not None and not isinstance(needs, dict):
        problems["needs"] = "must be an object"
    if problems:
        await run_in_threadpool(_authenticated, raw_token, None)  # a bad token is a 401 before a bad body's 422
        raise ValidationFailed("The booking request is not valid: " + "; ".join(f"{k} {v}" for k, v in
                                                                               problems.items()) + ".", problems)
    view = await run_in_threadpool(_book, raw_token, offer_reference, session_id, channel, needs)
    return JSONResponse(booking_json(view), status_code=201,
                        headers={"Location": f"/api/v1/bookings/{view.reference}"})


async def get_booking(request: Request, actor: Actor) -> Response:
    view = await run_in_threadpool(booking.get_booking, actor, request.path_params["reference"])
    return JSONResponse(booking_json(view))


def _require_reference(request: Request) -> str:
    reference = str(request.path_params["reference"]).strip().upper()
    if not reference or len(reference) > 20:
        raise NotFound("No such booking.")
    return reference


async def cancel_booking(request: Request, actor: Actor) -> Response:
    reference = _require_reference(request)
    body = await _json_body(request, required=False)
    reason = _str_field(body, "reason", required=False, max_len=300) or "Cancelled through the API"
    outcome = await run_in_threadpool(lambda: payments.cancel_booking(actor.organisation_id, reference, actor=actor,
                                                                      reason=reason))
    return JSONResponse({**booking_json(outcome.booking), "refund": refund_json(outcome)})


def refund_json(outcome: payments.CancelOutcome) -> dict[str, Any]:
    m = outcome.money
    return {"paid_pence": m.paid_pence, "cancellation_fee_pence": m.fee_pence, "refund_pence": m.refund_pence,
            "refunded_to_card_pence": outcome.refunded_pence, "to_refund_by_staff_pence": outcome.attention_pence}


async def transfer_booking(request: Request, actor: Actor) -> Response:
    reference = _require_reference(request)
    body = await _json_body(request)
    session_id = _int_field(body, "session_id")
    view = await run_in_threadpool(lambda: booking.transfer(actor.organisation_id, reference, session_id,
                                                            actor=actor))
    return JSONResponse(booking_json(view))


# --- the user group: change requests ------------------------------------------------------------------------


def change_request_json(r) -> dict[str, Any]:
    return {"id": r.id, "title": r.title, "area": r.area, "status": r.status, "organisation": r.organisation_name,
            "votes_for": r.votes_for, "votes_against": r.votes_against, "comments": r.comments,
            "your_vote": r.my_vote, "target_release": r.target_release or None, "created_at": _iso(r.created_at)}


async def list_change_requests(request: Request, actor: Actor) -> Response:
    from atlas_app.services.user_group import change_requests

    sort = request.query_params.get("sort", "votes")
    rows = await run_in_threadpool(change_requests.list_requests, actor, sort,
                                   request.query_params.get("status", "")[:20],
                                   request.query_params.get("area", "")[:30])
    return JSONResponse({"change_requests": [change_request_json(r) for r in rows]})


def _change_request_id(request: Request) -> int:
    return bounds.parse_id(request.path_params.get("request_id"), "request_id")


async def comment_change_request(request: Request, actor: Actor) -> Response:
    """A comment on a change request: a feature in preview, refused (403) unless it is on for the organisation."""
    from atlas_app.services.user_group import change_requests

    body = await _json_body(request)
    await run_in_threadpool(change_requests.comment, actor, _change_request_id(request),
                            _str_field(body, "body", max_len=5000))
    return JSONResponse({"ok": True}, status_code=201)


# --- the document and the routing ----------------------------------------------------------------------------


async def openapi(_request: Request) -> Response:
    from atlas_app.api.openapi_v1 import document

    return JSONResponse(document())


_ROUTES: list[tuple[str, Callable, list[str]]] = [
    ("/api/v1/sessions", endpoint(list_sessions), ["GET"]),
    ("/api/v1/referrals", endpoint(create_referral), ["POST"]),
    ("/api/v1/bookings", endpoint(create_booking, authenticate=False), ["POST"]),
    ("/api/v1/bookings/{reference}", endpoint(get_booking), ["GET"]),
    ("/api/v1/bookings/{reference}/cancel", endpoint(cancel_booking), ["POST"]),
    ("/api/v1/bookings/{reference}/transfer", endpoint(transfer_booking), ["POST"]),
    ("/api/v1/change-requests", endpoint(list_change_requests), ["GET"]),
    ("/api/v1/change-requests/{request_id}/comments", endpoint(comment_change_request), ["POST"]),
]

_v1_routes = [Route(path, handler, methods=methods) for path, handler, methods in _ROUTES]


async def not_found(request: Request) -> Response:
    """Anything else under /api/v1: a JSON 404, or 405 when the path exists for other methods."""
    path = request.url.path
    allowed = sorted({m for r in _v1_routes if r.path_regex.match(path) for m in (r.methods or ()) if m != "HEAD"})
    if allowed:
        return error(405, f"{request.method} is not allowed here; use {', '.join(allowed)}.",
                     headers={"Allow": ", ".join(allowed)})
    return error(404, "No such API endpoint. See /api/openapi.json.")


routes = [
    *_v1_routes,
    Route("/api/openapi.json", openapi, methods=["GET"]),
    Route("/api/v1", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    Route("/api/v1/{rest:path}", not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
]
