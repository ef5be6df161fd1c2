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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from atlas_app.api import v1_models as models
from atlas_app.api.threads import run_in_threadpool
from atlas_app.api.web import read_body
from atlas_app.db import glance, utcnow, write_session
from atlas_app.domain.statuses import SessionStatus
from atlas_app.services.platform import api_tokens, bounds
from atlas_app.services.booking import bookings as booking, catalogue, referrals, waiting_list
from atlas_app.services import payments
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import AtlasError, NotAuthenticated, NotFound, ValidationFailed
from atlas_app.timeutil import london_midnight

log = logging.getLogger("atlas.api")

MAX_BODY_BYTES = 64 * 1024
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
    where = bounds.first_unstorable_text(body)
    if where:
        field = where.split(".", 1)[0]
        raise ValidationFailed(f"{where} holds characters that are not text (a NUL, or broken Unicode).",
                               {field: "not text"})
    return body


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


def _find_sessions(actor: Actor, query: models.SessionQuery) -> list[catalogue.SessionRow]:
    course_type_id = None
    code = query.course_type
    if code:
        match = [ct for ct in catalogue.list_course_types(actor) if ct.code.upper() == code.upper()]
        if not match:
            raise ValidationFailed(f"'{code}' is not one of your course types.", {"course_type": "unknown"})
        course_type_id = match[0].id
    date_from = bounds.filter_date(query.date_from, "date_from") if query.date_from else None
    date_to = bounds.filter_date(query.date_to, "date_to") if query.date_to else None
    if date_from and date_to and date_to < date_from:
        raise ValidationFailed("date_to is before date_from.", {"date_to": "before date_from"})
    start = london_midnight(date_from) if date_from else utcnow()
    end = london_midnight(date_to + timedelta(days=1)) if date_to else None
    return catalogue.list_sessions(actor, course_type_id=course_type_id, date_from=start, date_to=end,
                                   status=SessionStatus.SCHEDULED, only_free=query.free_only, limit=SESSION_LIMIT)


def _query(request: Request) -> dict[str, str]:
    """The query parameters (the last of a repeated one), refusing text a database cannot hold."""
    params = dict(request.query_params)
    where = bounds.first_unstorable_text(params)
    if where:
        raise ValidationFailed(f"{where} holds characters that are not text.", {where.split(".", 1)[0]: "not text"})
    return params


async def list_sessions(request: Request, actor: Actor) -> Response:
    query = models.parse(models.SessionQuery, _query(request), "search")
    rows = await run_in_threadpool(_find_sessions, actor, query)
    return JSONResponse({"sessions": [session_json(r) for r in rows], "count": len(rows)})


# --- referrals -----------------------------------------------------------------------------------------------


async def create_referral(request: Request, actor: Actor) -> Response:
    body = models.parse(models.Referral, await _json_body(request), "referral")
    outcome = await run_in_threadpool(referrals.submit_one, actor, body.values(), "api")
    payload = {"result": outcome.result, "offer_reference": outcome.offer_reference, "status": outcome.status,
               "changed": outcome.changed}
    return JSONResponse(payload, status_code=201 if outcome.result == "created" else 200)


# --- bookings ------------------------------------------------------------------------------------------------


def _book(raw_token: str, offer_reference: str, session_id: int, channel: str, needs: dict | None):
    # First a glance, with no transaction: the token, the offer and whether the session is plainly full, in one
    # statement (in a rush for the last seats most attempts end there, with a 409). Otherwise one transaction books
    # through the same service as the staff screens, which decides under its locks.
    with glance() as conn:
        actor, offer_id = booking.plainly_full(raw_token, offer_reference, session_id, conn)
    if actor is None:
        raise NotAuthenticated("The API token is not valid (unknown or revoked).")
    with write_session() as s:
        if offer_id is None:
            offer_id = referrals.offer_id_for_reference(actor, offer_reference, session=s)
        return booking.book(actor, offer_id, session_id, needs=needs, channel=channel, session=s)


async def create_booking(request: Request, raw_token: str) -> Response:
    raw = await _json_body(request)  # a body over the limit is a 413 before anything else
    try:
        body = models.parse(models.BookingRequest, raw, "booking request")
    except ValidationFailed:
        await run_in_threadpool(_authenticated, raw_token, None)  # a bad token is a 401 before a bad body's 422
        raise
    needs = body.needs.model_dump(exclude_none=True) if body.needs is not None else None
    view = await run_in_threadpool(_book, raw_token, body.offer_reference, body.session_id, body.channel, needs)
    return JSONResponse(booking_json(view), status_code=201,
                        headers={"Location": f"/api/v1/bookings/{view.reference}"})


async def get_booking(request: Request, actor: Actor) -> Response:
    view = await run_in_threadpool(booking.get_booking, actor, _require_reference(request))
    return JSONResponse(booking_json(view))


def _require_reference(request: Request) -> str:
    reference = str(request.path_params["reference"]).strip().upper()
    if not reference or len(reference) > 20:
        raise NotFound("No such booking.")
    return reference


async def cancel_booking(request: Request, actor: Actor) -> Response:
    reference = _require_reference(request)
    body = models.parse(models.CancelRequest, await _json_body(request, required=False), "cancellation")
    reason = body.reason or "Cancelled through the API"
    outcome = await run_in_threadpool(lambda: payments.cancel_booking(actor.organisation_id, reference, actor=actor,
                                                                      reason=reason))
    return JSONResponse({**booking_json(outcome.booking), "refund": refund_json(outcome)})


def refund_json(outcome: payments.CancelOutcome) -> dict[str, Any]:
    m = outcome.money
    return {"paid_pence": m.paid_pence, "cancellation_fee_pence": m.fee_pence, "refund_pence": m.refund_pence,
            "refunded_to_card_pence": outcome.refunded_pence, "to_refund_by_staff_pence": outcome.attention_pence}


async def transfer_booking(request: Request, actor: Actor) -> Response:
    reference = _require_reference(request)
    body = models.parse(models.TransferRequest, await _json_body(request), "transfer")
    view = await run_in_threadpool(lambda: booking.transfer(actor.organisation_id, reference, body.session_id,
                                                            actor=actor))
    return JSONResponse(booking_json(view))


# --- the waiting list ------------------------------------------------------------------------------------------


def _offer_reference(request: Request) -> str:
    reference = str(request.path_params["offer_reference"]).strip()
    if not reference or len(reference) > 40:
        raise NotFound("No such offer.")
    return reference


async def join_waiting_list(request: Request, actor: Actor) -> Response:
    body = models.parse(models.WaitingListRequest, await _json_body(request), "waiting list request")

    def run() -> waiting_list.WaitingView:
        offer_id = referrals.offer_id_for_reference(actor, body.offer_reference)
        return waiting_list.join(actor.organisation_id, offer_id, venue_ids=list(body.venue_ids),
                                 date_from=body.date_from, date_to=body.date_to, channel=body.channel, actor=actor)

    view = await run_in_threadpool(run)
    return JSONResponse(view.as_dict(), status_code=201,
                        headers={"Location": f"/api/v1/waiting-list/{view.offer_reference}"})


async def get_waiting_entry(request: Request, actor: Actor) -> Response:
    reference = _offer_reference(request)

    def run():
        offer_id = referrals.offer_id_for_reference(actor, reference)
        return waiting_list.entry_for_offer(actor.organisation_id, offer_id, actor=actor)

    view = await run_in_threadpool(run)
    if view is None:
        raise NotFound("This offer is not on the waiting list.")
    return JSONResponse(view.as_dict())


async def leave_waiting_list(request: Request, actor: Actor) -> Response:
    reference = _offer_reference(request)

    def run():
        offer_id = referrals.offer_id_for_reference(actor, reference)
        return waiting_list.leave(actor.organisation_id, offer_id, actor=actor, reason="Removed through the API")

    view = await run_in_threadpool(run)
    return JSONResponse(view.as_dict())


async def session_waiting_list(request: Request, actor: Actor) -> Response:
    session_id = bounds.id_or_none(request.path_params["session_id"])
    if session_id is None:
        raise NotFound("No such session.")
    rows = await run_in_threadpool(waiting_list.list_for_session, actor, session_id)
    return JSONResponse({"entries": [r.as_dict() for r in rows], "count": len(rows)})


# --- the user group: change requests ------------------------------------------------------------------------


def change_request_json(r) -> dict[str, Any]:
    return {"id": r.id, "title": r.title, "area": r.area, "status": r.status, "organisation": r.organisation_name,
            "votes_for": r.votes_for, "votes_against": r.votes_against, "comments": r.comments,
            "your_vote": r.my_vote, "target_release": r.target_release or None, "created_at": _iso(r.created_at)}


async def list_change_requests(request: Request, actor: Actor) -> Response:
    from atlas_app.services.user_group import change_requests

    query = models.parse(models.ChangeRequestQuery, _query(request), "search")
    rows = await run_in_threadpool(change_requests.list_requests, actor, query.sort, query.status, query.area)
    return JSONResponse({"change_requests": [change_request_json(r) for r in rows]})


async def comment_change_request(request: Request, actor: Actor) -> Response:
    """A comment on a change request: a feature in preview, refused (403) unless it is on for the organisation."""
    from atlas_app.services.user_group import change_requests

    request_id = bounds.parse_id(request.path_params.get("request_id"), "request_id")
    body = models.parse(models.CommentRequest, await _json_body(request), "comment")
    await run_in_threadpool(change_requests.comment, actor, request_id, body.body)
    return JSONResponse({"ok": True}, status_code=201)


# --- the operations, the document and the routing ------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One method on one path: its handler and what the document says of it (from the typed models)."""

    method: str
    path: str
    handler: Callable[[Request], Awaitable[Response]]
    operation_id: str
    summary: str
    responses: dict[int, tuple[type | None, str]]
    description: str = ""
    body: type | None = None
    body_required: bool = True
    query: type | None = None
    path_params: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> description and schema
    headers: dict[int, dict[str, str]] = field(default_factory=dict)


_REFERENCE = {"reference": {"description": "The booking reference, e.g. HAR-7K2M9QX.",
                             "schema": {"type": "string", "minLength": 1, "maxLength": 20}}}
_OFFER_REFERENCE = {"offer_reference": {"description": "The offer reference the police gave, e.g. CLE-260005.",
                                        "schema": {"type": "string", "minLength": 1, "maxLength": 40}}}
_REQUEST_ID = {"request_id": {"description": "The change request's id.",
                              "schema": {"type": "integer", "minimum": bounds.MIN_ID, "maximum": bounds.MAX_ID}}}
_FORBIDDEN = (models.Error, "Not allowed: the organisation is not a member of the user group, the token lacks the "
                            "permission, or the feature is in preview and not switched on.")
_SESSION_ID = {"session_id": {"description": "The session's id.",
                              "schema": {"type": "integer", "minimum": bounds.MIN_ID, "maximum": bounds.MAX_ID}}}
_UNAUTHORISED = (models.Error, "No API token, or the token is unknown or revoked.")
_NOT_FOUND = (models.Error, "No such offer, session or booking in your organisation.")
_INVALID = (models.Error, "The input is not valid; `fields` says which fields and why.")
_BUSY = (models.Error, "The database is busy; retry after the Retry-After seconds.")

OPERATIONS: list[Operation] = [
    Operation("GET", "/api/v1/sessions", endpoint(list_sessions), "listSessions",
              "Scheduled sessions from today (or date_from), with their free seats",
              {200: (models.SessionList, "Up to 500 sessions, soonest first."), 401: _UNAUTHORISED, 422: _INVALID},
              query=models.SessionQuery),
    Operation("POST", "/api/v1/referrals", endpoint(create_referral), "createReferral",
              "Add (or update) one police offer",
              {201: (models.ReferralResult, "A new offer."),
               200: (models.ReferralResult, "An existing offer, updated or unchanged."), 401: _UNAUTHORISED,
               409: (models.Error, "Added at the same moment elsewhere."), 422: _INVALID},
              description="The same checks as a referrals CSV row. The same offer_reference again updates the "
                          "offer (200) or leaves it unchanged (200); it never makes a second offer.",
              body=models.Referral),
    Operation("POST", "/api/v1/bookings", endpoint(create_booking, authenticate=False), "createBooking",
              "Book a seat on a session for an offer",
              {201: (models.Booking, "Booked."), 401: _UNAUTHORISED, 404: _NOT_FOUND,
               409: (models.Error, "The session is full, or the offer already has a booking."), 422: _INVALID,
               503: _BUSY},
              description="The booking awaits payment. Sessions ending after the offer's critical date, for another "
                          "course, started, or not scheduled are refused (422).",
              body=models.BookingRequest, headers={201: {"Location": "The booking's URL."}}),
    Operation("GET", "/api/v1/bookings/{reference}", endpoint(get_booking), "getBooking", "One booking",
              {200: (models.Booking, "The booking."), 401: _UNAUTHORISED, 404: _NOT_FOUND}, path_params=_REFERENCE),
    Operation("POST", "/api/v1/bookings/{reference}/cancel", endpoint(cancel_booking), "cancelBooking",
              "Cancel a booking, free its seat and refund what was paid less the cancellation fee",
              {200: (models.CancelledBooking, "The cancelled booking and its refund."), 401: _UNAUTHORISED,
               404: _NOT_FOUND, 422: (models.Error, "The booking is not current, or the input is not valid."),
               503: _BUSY},
              description="Money paid by card online is refunded at once; money taken offline (or a card refund "
                          "the card provider did not make) is flagged for staff to refund. The cancellation stands "
                          "either way.",
              body=models.CancelRequest, body_required=False, path_params=_REFERENCE),
    Operation("POST", "/api/v1/bookings/{reference}/transfer", endpoint(transfer_booking), "transferBooking",
              "Move a booking to another session",
              {200: (models.Booking, "The new booking."), 401: _UNAUTHORISED, 404: _NOT_FOUND,
               409: (models.Error, "The new session is full."), 422: _INVALID, 503: _BUSY},
              description="The old booking becomes 'transferred' and a new booking (new reference) holds the seat "
                          "on the new session.",
              body=models.TransferRequest, path_params=_REFERENCE),
    Operation("POST", "/api/v1/waiting-list", endpoint(join_waiting_list), "joinWaitingList",
              "Put an offer on its course type's waiting list (or change its choices)",
              {201: (models.WaitingEntry, "On the list."), 401: _UNAUTHORISED, 404: _NOT_FOUND,
               409: (models.Error, "A seat is already held for the offer."), 422: _INVALID, 503: _BUSY},
              description="For when no session before the critical date has a seat. A last day after the critical "
                          "date is refused (422); a booked offer cannot join (422).",
              body=models.WaitingListRequest, headers={201: {"Location": "The entry's URL."}}),
    Operation("GET", "/api/v1/waiting-list/{offer_reference}", endpoint(get_waiting_entry), "getWaitingEntry",
              "The offer's current place on the waiting list",
              {200: (models.WaitingEntry, "The entry."), 401: _UNAUTHORISED, 404: _NOT_FOUND},
              path_params=_OFFER_REFERENCE),
    Operation("DELETE", "/api/v1/waiting-list/{offer_reference}", endpoint(leave_waiting_list), "leaveWaitingList",
              "Take the offer off the waiting list (a seat held for it passes to the next client)",
              {200: (models.WaitingEntry, "The ended entry."), 401: _UNAUTHORISED, 404: _NOT_FOUND, 503: _BUSY},
              path_params=_OFFER_REFERENCE),
    Operation("GET", "/api/v1/sessions/{session_id}/waiting-list", endpoint(session_waiting_list),
              "sessionWaitingList",
              "Whom a seat on this session is held for, then who would be offered the next freed seat, in order",
              {200: (models.WaitingList, "Up to 200 entries."), 401: _UNAUTHORISED, 404: _NOT_FOUND},
              path_params=_SESSION_ID),
    Operation("GET", "/api/v1/change-requests", endpoint(list_change_requests), "listChangeRequests",
              "Every change request of the user group, with its votes",
              {200: (models.ChangeRequestList, "The change requests."), 401: _UNAUTHORISED, 403: _FORBIDDEN,
               422: _INVALID},
              query=models.ChangeRequestQuery),
    Operation("POST", "/api/v1/change-requests/{request_id}/comments", endpoint(comment_change_request),
              "commentChangeRequest", "Comment on a change request (a feature in preview)",
              {201: (models.Added, "Added."), 401: _UNAUTHORISED, 403: _FORBIDDEN, 404: _NOT_FOUND, 422: _INVALID},
              body=models.CommentRequest, path_params=_REQUEST_ID),
]


async def openapi(_request: Request) -> Response:
    from atlas_app.api.openapi_v1 import document

    return JSONResponse(document())


def _allowed(methods: list[str]) -> list[str]:
    return sorted({*methods, *(["HEAD"] if "GET" in methods else []), "OPTIONS"})


def _path_route(path: str, operations: list[Operation]) -> Route:
    """One route per path: its operations by method, OPTIONS answering which methods there are, and a JSON 405
    (with the same Allow header) for any other method."""
    handlers = {op.method: op.handler for op in operations}
    if "GET" in handlers:
        handlers["HEAD"] = handlers["GET"]
    allow = ", ".join(_allowed(list(handlers)))

    async def dispatch(request: Request) -> Response:
        handler = handlers.get(request.method)
        if handler is not None:
            return await handler(request)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        return error(405, f"{request.method} is not allowed here; use {allow}.", headers={"Allow": allow})

    return Route(path, dispatch, methods=HTTP_METHODS, name=path)


HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_by_path: dict[str, list[Operation]] = {}
for _op in OPERATIONS:
    _by_path.setdefault(_op.path, []).append(_op)
_v1_routes = [_path_route(path, ops) for path, ops in _by_path.items()]


async def not_found(request: Request) -> Response:
    """Anything else under /api/v1: a JSON 404."""
    return error(404, "No such API endpoint. See /api/openapi.json.")


routes = [
    *_v1_routes,
    Route("/api/openapi.json", openapi, methods=["GET"]),
    Route("/api/v1", not_found, methods=HTTP_METHODS),
    Route("/api/v1/{rest:path}", not_found, methods=HTTP_METHODS),
]
