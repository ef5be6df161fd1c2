"""The OpenAPI 3.1 description of REST API v1, served at GET /api/openapi.json.

Written by hand to match ``atlas_app/api/v1.py``; tests check that every route is described and that the examples
the document gives are what the API returns.
"""

from __future__ import annotations

from typing import Any

from atlas_app.services.booking.referrals import FIELDS, LABELS, REQUIRED
from atlas_app.services.platform import bounds

VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


UNAUTHORISED = _error_response("No API token, or the token is unknown or revoked.")
NOT_FOUND = _error_response("No such offer, session or booking in your organisation.")
INVALID = _error_response("The input is not valid; `fields` says which fields and why.")
BUSY = _error_response("The database is busy; retry after the Retry-After seconds.")

_REFERENCE_PARAM = {
    "name": "reference", "in": "path", "required": True, "description": "The booking reference, e.g. HAR-7K2M9QX.",
    "schema": {"type": "string", "maxLength": 20},
}

_DATE_FIELDS = {"date_of_birth", "offence_date", "critical_date"}
_ID = {"type": "integer", "minimum": bounds.MIN_ID, "maximum": bounds.MAX_ID}
_DATE_RANGE = f", from {bounds.FILTER_EARLIEST.isoformat()} to {bounds.FILTER_LATEST.isoformat()}."


def _referral_schema() -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name in FIELDS:
        prop: dict[str, Any] = {"type": "string", "description": LABELS[name].capitalize() + "."}
        if name in _DATE_FIELDS:
            prop["description"] += " YYYY-MM-DD or DD/MM/YYYY."
            prop["examples"] = ["2027-01-30"]
        props[name] = prop
    props["offer_reference"]["maxLength"] = 40
    props["offence_date"]["description"] += " Not in the future, at most two years ago."
    props["critical_date"]["description"] += " Not before the offence date, at most two years ahead."
    props["course_type"]["description"] = "The code of one of your course types, e.g. NSAC."
    props["licence_number"]["description"] = "Driving licence number, 16 characters (DVLA format). Optional."
    props["postcode"]["description"] = "UK postcode."
    props["name"] = {"type": "string",
                     "description": "Instead of first_name and last_name: the whole name, split at the last space."}
    return {
        "type": "object",
        "description": "One police offer of a course. Required: " + ", ".join(REQUIRED) +
                       " (first_name and last_name may be replaced by name).",
        "properties": props,
        "required": [f for f in REQUIRED if f not in ("first_name", "last_name")],
    }


def document() -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "error": {"type": "string", "description": "A message fit to show a person."},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Field name -> what is wrong with it (may be empty)."},
            },
            "required": ["error", "fields"],
        },
        "Session": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "course_type": {"type": "string", "examples": ["NSAC"]},
                "course_name": {"type": "string"},
                "venue_id": {"type": ["integer", "null"]},
                "venue": {"type": "string"},
                "region": {"type": "string"},
                "delivery_mode": {"type": "string", "enum": ["classroom", "online", "practical"]},
                "starts_at": {"type": "string", "format": "date-time"},
                "ends_at": {"type": "string", "format": "date-time"},
                "capacity": {"type": "integer"},
                "seats_taken": {"type": "integer"},
                "free_seats": {"type": "integer"},
                "status": {"type": "string", "enum": ["scheduled", "cancelled", "completed"]},
            },
            "required": ["id", "course_type", "starts_at", "ends_at", "capacity", "seats_taken", "free_seats"],
        },
        "SessionList": {
            "type": "object",
            "properties": {"sessions": {"type": "array", "items": _ref("Session")}, "count": {"type": "integer"}},
            "required": ["sessions", "count"],
        },
        "Referral": _referral_schema(),
        "ReferralResult": {
            "type": "object",
            "properties": {
                "result": {"type": "string", "enum": ["created", "updated", "unchanged"]},
                "offer_reference": {"type": "string"},
                "status": {"type": "string",
                           "enum": ["referred", "booked", "completed", "did_not_attend", "expired", "returned"]},
                "changed": {"type": "array", "items": {"type": "string"},
                            "description": "What an update changed."},
            },
            "required": ["result", "offer_reference", "status", "changed"],
        },
        "BookingRequest": {
            "type": "object",
            "properties": {
                "offer_reference": {"type": "string", "maxLength": 40},
                "session_id": _ID,
                "channel": {"type": "string", "enum": ["api", "online", "telephone"], "default": "api"},
                "needs": {
                    "type": "object",
                    "description": "Optional needs: interpreter (boolean), interpreter_language, accessibility, "
                                   "language, other.",
                    "properties": {"interpreter": {"type": "boolean"}, "interpreter_language": {"type": "string"},
                                   "accessibility": {"type": "string"}, "language": {"type": "string"},
                                   "other": {"type": "string"}},
                },
            },
            "required": ["offer_reference", "session_id"],
        },
        "TransferRequest": {
            "type": "object",
            "properties": {"session_id": _ID},
            "required": ["session_id"],
        },
        "CancelRequest": {
            "type": "object",
            "properties": {"reason": {"type": "string", "maxLength": 300}},
        },
        "Booking": {
            "type": "object",
            "properties": {
                "reference": {"type": "string"},
                "status": {"type": "string",
                           "enum": ["held", "awaiting_payment", "confirmed", "attended", "did_not_attend",
                                    "turned_away", "cancelled", "transferred", "expired"]},
                "channel": {"type": "string", "enum": ["api", "online", "telephone"]},
                "offer_reference": {"type": "string"},
                "client_name": {"type": "string"},
                "session_id": {"type": "integer"},
                "course_type": {"type": "string"},
                "course_name": {"type": "string"},
                "starts_at": {"type": "string", "format": "date-time"},
                "ends_at": {"type": "string", "format": "date-time"},
                "venue": {"type": "string"},
                "venue_address": {"type": "string"},
                "delivery_mode": {"type": "string"},
                "fee_pence": {"type": "integer", "description": "The fee in pence."},
                "payment_due_at": {"type": ["string", "null"], "format": "date-time"},
                "hold_expires_at": {"type": ["string", "null"], "format": "date-time"},
                "needs": {"type": "object"},
                "created_at": {"type": ["string", "null"], "format": "date-time"},
            },
            "required": ["reference", "status", "channel", "offer_reference", "session_id", "starts_at"],
        },
    }
    schemas["CancelledBooking"] = {
        **schemas["Booking"],
        "properties": {**schemas["Booking"]["properties"], "refund": _ref("CancelRefund")},
        "required": [*schemas["Booking"]["required"], "refund"],
    }
    schemas["CancelRefund"] = {
        "type": "object",
        "description": "The money of a cancelled booking, in pence.",
        "properties": {
            "paid_pence": {"type": "integer", "description": "Paid and not refunded before the cancellation."},
            "cancellation_fee_pence": {"type": "integer", "description": "The organisation's fee, kept."},
            "refund_pence": {"type": "integer", "description": "What is given back: paid less the fee."},
            "refunded_to_card_pence": {"type": "integer", "description": "Refunded to the card now."},
            "to_refund_by_staff_pence": {"type": "integer",
                                         "description": "Flagged for staff: money taken offline, or a card "
                                                        "refund the provider did not make."},
        },
        "required": ["paid_pence", "cancellation_fee_pence", "refund_pence", "refunded_to_card_pence",
                     "to_refund_by_staff_pence"],
    }
    security = [{"bearerAuth": []}]
    paths: dict[str, Any] = {
        "/api/v1/sessions": {
            "get": {
                "operationId": "listSessions",
                "summary": "Scheduled sessions from today (or date_from), with their free seats",
                "security": security,
                "parameters": [
                    {"name": "course_type", "in": "query", "description": "A course type code, e.g. NSAC.",
                     "schema": {"type": "string"}},
                    {"name": "date_from", "in": "query",
                     "description": "First day (London), YYYY-MM-DD" + _DATE_RANGE,
                     "schema": {"type": "string", "format": "date"}},
                    {"name": "date_to", "in": "query",
                     "description": "Last day (London), YYYY-MM-DD, inclusive" + _DATE_RANGE,
                     "schema": {"type": "string", "format": "date"}},
                    {"name": "free_only", "in": "query", "description": "Only sessions with a free seat.",
                     "schema": {"type": "boolean", "default": False}},
                ],
                "responses": {"200": _json(_ref("SessionList"), "Up to 500 sessions, soonest first."),
                              "401": UNAUTHORISED, "422": INVALID},
            }
        },
        "/api/v1/referrals": {
            "post": {
                "operationId": "createReferral",
                "summary": "Add (or update) one police offer",
                "description": "The same checks as a referrals CSV row. The same offer_reference again updates "
                               "the offer (200) or leaves it unchanged (200); it never makes a second offer.",
                "security": security,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Referral")}}},
                "responses": {"201": _json(_ref("ReferralResult"), "A new offer."),
                              "200": _json(_ref("ReferralResult"), "An existing offer, updated or unchanged."),
                              "401": UNAUTHORISED, "409": _error_response("Added at the same moment elsewhere."),
                              "422": INVALID},
            }
        },
        "/api/v1/bookings": {
            "post": {
                "operationId": "createBooking",
                "summary": "Book a seat on a session for an offer",
                "description": "The booking awaits payment. Sessions ending after the offer's critical date, "
                               "for another course, started, or not scheduled are refused (422).",
                "security": security,
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": _ref("BookingRequest")}}},
                "responses": {
                    "201": {**_json(_ref("Booking"), "Booked."),
                            "headers": {"Location": {"schema": {"type": "string"},
                                                     "description": "The booking's URL."}}},
                    "401": UNAUTHORISED, "404": NOT_FOUND,
                    "409": _error_response("The session is full, or the offer already has a booking."),
                    "422": INVALID, "503": BUSY,
                },
            }
        },
        "/api/v1/bookings/{reference}": {
            "get": {
                "operationId": "getBooking",
                "summary": "One booking",
                "security": security,
                "parameters": [_REFERENCE_PARAM],
                "responses": {"200": _json(_ref("Booking"), "The booking."), "401": UNAUTHORISED,
                              "404": NOT_FOUND},
            }
        },
        "/api/v1/bookings/{reference}/cancel": {
            "post": {
                "operationId": "cancelBooking",
                "summary": "Cancel a booking, free its seat and refund what was paid less the cancellation fee",
                "description": "Money paid by card online is refunded at once; money taken offline (or a card "
                               "refund the card provider did not make) is flagged for staff to refund. The "
                               "cancellation stands either way.",
                "security": security,
                "parameters": [_REFERENCE_PARAM],
                "requestBody": {"required": False,
                                "content": {"application/json": {"schema": _ref("CancelRequest")}}},
                "responses": {"200": _json(_ref("CancelledBooking"), "The cancelled booking and its refund."),
                              "401": UNAUTHORISED,
                              "404": NOT_FOUND, "422": _error_response("The booking is not current."),
                              "503": BUSY},
            }
        },
        "/api/v1/bookings/{reference}/transfer": {
            "post": {
                "operationId": "transferBooking",
                "summary": "Move a booking to another session",
                "description": "The old booking becomes 'transferred' and a new booking (new reference) holds "
                               "the seat on the new session.",
                "security": security,
                "parameters": [_REFERENCE_PARAM],
                "requestBody": {"required": True,
                                "content": {"application/json": {"schema": _ref("TransferRequest")}}},
                "responses": {"200": _json(_ref("Booking"), "The new booking."), "401": UNAUTHORISED,
                              "404": NOT_FOUND, "409": _error_response("The new session is full."),
                              "422": INVALID, "503": BUSY},
            }
        },
    }
    request_id = {"name": "request_id", "in": "path", "required": True, "schema": _ID,
                  "description": "The change request's id."}
    forbidden = _error_response("Not allowed: the organisation is not a member of the user group, the token "
                                "lacks the permission, or the feature is in preview and not switched on.")
    paths["/api/v1/change-requests"] = {"get": {
        "operationId": "listChangeRequests",
        "summary": "Every change request of the user group, with its votes",
        "security": security,
        "parameters": [
            {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["votes", "status", "area",
                                                                                   "newest"]}},
            {"name": "status", "in": "query", "schema": {"type": "string"}},
            {"name": "area", "in": "query", "schema": {"type": "string"}},
        ],
        "responses": {"200": _json({"type": "object", "properties": {"change_requests": {
            "type": "array", "items": {"type": "object"}}}}, "The change requests."),
            "401": UNAUTHORISED, "403": forbidden, "422": INVALID},
    }}
    paths["/api/v1/change-requests/{request_id}/comments"] = {"post": {
        "operationId": "commentChangeRequest",
        "summary": "Comment on a change request (a feature in preview)",
        "security": security,
        "parameters": [request_id],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"body": {"type": "string", "maxLength": 5000}}, "required": ["body"]}}}},
        "responses": {"201": _json({"type": "object"}, "Added."), "401": UNAUTHORISED, "403": forbidden,
                      "404": NOT_FOUND, "422": INVALID},
    }}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Atlas course booking API",
            "version": VERSION,
            "description": "Sessions, referrals (police offers) and bookings of one organisation. Every request "
                           "sends the organisation's API token as `Authorization: Bearer <token>`; "
                           "administrators make tokens under Administration > API tokens or with "
                           "`python -m atlas_app api-token`. Another organisation's offers, sessions and "
                           "bookings answer 404. Errors are JSON: `{\"error\": \"...\", \"fields\": {...}}`.",
        },
        "servers": [{"url": "/"}],
        "security": security,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An Atlas API token (atl_...)."}},
        },
    }
