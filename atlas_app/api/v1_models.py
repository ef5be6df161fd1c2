"""The typed requests and responses of REST API v1 (pydantic), described once: the routes validate with them and
``/api/openapi.json`` is generated from them, so the document and the server cannot disagree.

Request bodies are strict (a number where a string is described is refused, as the document says); query
parameters arrive as text and are parsed by type (``date_to=`` with nothing after it is not a date). A refused
request is a 422 naming each field and what is wrong with it, in words fit to show a person.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from atlas_app.domain.statuses import BookingStatus, ChangeRequestStatus, OfferStatus, SessionStatus, WaitingStatus
from atlas_app.services.booking.referrals import FIELDS, LABELS, REQUIRED
from atlas_app.services.platform import bounds
from atlas_app.services.platform.errors import ValidationFailed

Id = Annotated[StrictInt, Field(ge=bounds.MIN_ID, le=bounds.MAX_ID)]
Channel = Literal["api", "online", "telephone"]
# A day as text in a JSON body (a number is not a date, whatever a lax parser would make of it).
IsoDate = Annotated[StrictStr, Field(pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"})]
DeliveryMode = Literal["classroom", "online", "practical"]
_DATE_RANGE = f"from {bounds.FILTER_EARLIEST.isoformat()} to {bounds.FILTER_LATEST.isoformat()}"


class _Request(BaseModel):
    # Fields the API does not know are ignored (and the document allows them), so a caller's newer fields do no harm.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ----------------------------------------------------------------------------------------------------


class SessionQuery(_Request):
    """The filters of GET /api/v1/sessions (query parameters). A parameter it does not know is refused, so a
    mistyped filter (``date_form``) is not silently ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    course_type: str = Field("", max_length=20, description="A course type code, e.g. NSAC; empty for all.")
    date_from: date | None = Field(None, description=f"First day (London), YYYY-MM-DD, {_DATE_RANGE}.")
    date_to: date | None = Field(None, description=f"Last day (London), YYYY-MM-DD, inclusive, {_DATE_RANGE}.")
    free_only: bool = Field(False, description="Only sessions with a free seat.")


_DATE_FIELDS = {"date_of_birth", "offence_date", "critical_date"}


def _referral_field(name: str) -> Any:
    description = LABELS[name].capitalize() + "."
    if name in _DATE_FIELDS:
        description += " YYYY-MM-DD or DD/MM/YYYY."
    extra = {"offence_date": " Not in the future, at most two years ago.",
             "critical_date": " Not before the offence date, at most two years ahead."}
    description += extra.get(name, "")
    descriptions = {"course_type": "The code of one of your course types, e.g. NSAC.",
                    "licence_number": "Driving licence number, 16 characters (DVLA format). Optional.",
                    "postcode": "UK postcode."}
    required = name in REQUIRED and name not in ("first_name", "last_name")
    return Field(... if required else None, min_length=1 if required else 0,
                 max_length=40 if name == "offer_reference" else 200,
                 description=descriptions.get(name, description))


class Referral(_Request):
    """One police offer of a course. ``first_name`` and ``last_name`` may be replaced by ``name``."""

    offer_reference: StrictStr = _referral_field("offer_reference")
    course_type: StrictStr = _referral_field("course_type")
    first_name: StrictStr | None = _referral_field("first_name")
    last_name: StrictStr | None = _referral_field("last_name")
    name: StrictStr | None = Field(None, max_length=200, description="Instead of first_name and last_name: the "
                                                                     "whole name, split at the last space.")
    date_of_birth: StrictStr = _referral_field("date_of_birth")
    licence_number: StrictStr | None = _referral_field("licence_number")
    address_line1: StrictStr | None = _referral_field("address_line1")
    address_line2: StrictStr | None = _referral_field("address_line2")
    town: StrictStr | None = _referral_field("town")
    postcode: StrictStr | None = _referral_field("postcode")
    email: StrictStr | None = _referral_field("email")
    phone: StrictStr | None = _referral_field("phone")
    offence_date: StrictStr = _referral_field("offence_date")
    critical_date: StrictStr = _referral_field("critical_date")
    police_force: StrictStr | None = _referral_field("police_force")

    def values(self) -> dict[str, Any]:
        """The referral's values as the referrals service reads a CSV row (absent fields are empty)."""
        data = self.model_dump()
        return {k: data.get(k) or "" for k in (*FIELDS, "name")}


class Needs(_Request):
    """A client's needs for the course."""

    interpreter: StrictBool | None = None
    interpreter_language: StrictStr | None = Field(None, max_length=100)
    accessibility: StrictStr | None = Field(None, max_length=300)
    language: StrictStr | None = Field(None, max_length=100)
    other: StrictStr | None = Field(None, max_length=300)


class BookingRequest(_Request):
    offer_reference: StrictStr = Field(..., min_length=1, max_length=40)
    session_id: Id
    channel: Channel = "api"
    needs: Needs | None = None


class TransferRequest(_Request):
    session_id: Id


class CancelRequest(_Request):
    reason: StrictStr | None = Field(None, max_length=300)


class WaitingListRequest(_Request):
    offer_reference: StrictStr = Field(..., min_length=1, max_length=40)
    venue_ids: list[Id] = Field(default_factory=list, max_length=50,
                                description="The venues the client would go to; empty or absent for any.")
    date_from: IsoDate | None = Field(None, description="First day, YYYY-MM-DD; default today.")
    date_to: IsoDate | None = Field(None, description="Last day, YYYY-MM-DD; default and at most the offer's "
                                                      "critical date.")
    channel: Literal["email", "sms"] = "email"


class ChangeRequestQuery(_Request):
    """The filters of GET /api/v1/change-requests (query parameters)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sort: Literal["votes", "status", "area", "newest"] = Field("votes", description="The order of the list.")
    status: str = Field("", max_length=20, description="Only requests with this status; empty for all.")
    area: str = Field("", max_length=30, description="Only requests of this area; empty for all.")


class CommentRequest(_Request):
    body: StrictStr = Field(..., min_length=1, max_length=5000)


# --- responses ---------------------------------------------------------------------------------------------------


class Error(_Response):
    error: str = Field(description="A message fit to show a person.")
    fields: dict[str, str] = Field(description="Field name -> what is wrong with it (may be empty).")


class Session(_Response):
    id: int
    course_type: str = Field(examples=["NSAC"])
    course_name: str
    venue_id: int | None
    venue: str
    region: str
    delivery_mode: DeliveryMode
    starts_at: datetime
    ends_at: datetime
    capacity: int
    seats_taken: int
    free_seats: int
    status: SessionStatus


class SessionList(_Response):
    sessions: list[Session]
    count: int


class ReferralResult(_Response):
    result: Literal["created", "updated", "unchanged"]
    offer_reference: str
    status: OfferStatus
    changed: list[str] = Field(description="What an update changed.")


class Booking(_Response):
    reference: str
    status: BookingStatus
    channel: Channel
    offer_reference: str
    client_name: str
    session_id: int
    course_type: str
    course_name: str
    starts_at: datetime
    ends_at: datetime
    venue: str
    venue_address: str
    delivery_mode: str
    fee_pence: int = Field(description="The fee in pence.")
    payment_due_at: datetime | None
    hold_expires_at: datetime | None
    needs: dict[str, bool | str]
    created_at: datetime | None


class CancelRefund(_Response):
    """The money of a cancelled booking, in pence."""

    paid_pence: int = Field(description="Paid and not refunded before the cancellation.")
    cancellation_fee_pence: int = Field(description="The organisation's fee, kept.")
    refund_pence: int = Field(description="What is given back: paid less the fee.")
    refunded_to_card_pence: int = Field(description="Refunded to the card now.")
    to_refund_by_staff_pence: int = Field(description="Flagged for staff: money taken offline, or a card refund "
                                                      "the provider did not make.")


class CancelledBooking(Booking):
    refund: CancelRefund


class WaitingEntry(_Response):
    """An offer's place on its course type's waiting list. When a seat frees on a session that matches, it is held
    for the first waiting client (status offered, booking_reference and hold_expires_at set) and they are told with
    a link to confirm."""

    id: int
    offer_id: int
    offer_reference: str
    client_name: str
    course_type_id: int
    course_name: str
    venue_ids: list[int]
    venue_names: list[str]
    date_from: date
    date_to: date
    channel: Literal["email", "sms"]
    status: WaitingStatus
    joined_at: datetime
    position: int | None = Field(description="1 for the next to be offered a seat.")
    booking_reference: str | None
    hold_expires_at: datetime | None
    ended_reason: str


class WaitingList(_Response):
    entries: list[WaitingEntry]
    count: int


class ChangeRequest(_Response):
    """A change request of the user group: its text is every member's to see; the raising organisation by name."""

    id: int
    title: str
    area: str
    status: ChangeRequestStatus
    organisation: str
    votes_for: int
    votes_against: int
    comments: int
    your_vote: int = Field(description="Your organisation's vote: 1 for, -1 against, 0 none.")
    target_release: str | None
    created_at: datetime | None


class ChangeRequestList(_Response):
    change_requests: list[ChangeRequest]


class Added(_Response):
    ok: bool


# --- turning pydantic's findings into Atlas's error ----------------------------------------------------------------


def _words(problem: dict[str, Any]) -> str:
    kind, ctx = problem["type"], problem.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind == "string_too_short":
        return "is required" if ctx.get("min_length") == 1 else f"is too short ({ctx.get('min_length')} at least)"
    if kind == "string_too_long":
        return f"is too long ({ctx.get('max_length')} characters at most)"
    if kind.startswith("int") or kind in ("greater_than_equal", "less_than_equal"):
        if kind in ("greater_than_equal", "less_than_equal"):
            return f"must be a whole number from {bounds.MIN_ID} to {bounds.MAX_ID}"
        return "must be a whole number"
    if kind.startswith("string"):
        return "must be a string"
    if kind.startswith("bool"):
        return "must be true or false"
    if kind.startswith("date"):
        return "must be a date as YYYY-MM-DD"
    if kind in ("literal_error", "enum"):
        return "must be one of " + str(ctx.get("expected", "the values listed")).replace("'", "")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be an object"
    if kind == "list_type":
        return "must be a list"
    if kind == "too_long":
        return f"has too many items ({ctx.get('max_length')} at most)"
    if kind == "extra_forbidden":
        return "is not a field of this request"
    return "is not valid"


def parse(model: type[BaseModel], data: Any, what: str = "request"):
    """``data`` as ``model``, or ValidationFailed naming every field that is wrong (the first problem of each)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for problem in exc.errors(include_url=False):
            loc = [str(p) for p in problem["loc"]] or ["body"]
            fields.setdefault(loc[0], _words(problem) if len(loc) == 1
                              else f"{'.'.join(loc[1:])} {_words(problem)}")
        message = "; ".join(f"{k} {v}" for k, v in fields.items())
        raise ValidationFailed(f"The {what} is not valid: {message}.", fields) from None
