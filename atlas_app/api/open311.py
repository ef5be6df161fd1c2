"""Open311 GeoReport v2 under ``/open311/v2/``, with mySociety's service request updates extension, as FixMyStreet
and other report-it sites speak it.

The format is chosen by the path's extension: ``services.xml`` answers XML, ``services.json`` JSON, with the same
content. FixMyStreet reads and writes XML only and parses every answer with XML::Simple (``perllib/Open311.pm``), so
the XML is plain elements, one per field, repeated items under the standard's root element (``services`` /
``service``, ``service_requests`` / ``request``, ``service_request_updates`` / ``request_update``, ``errors`` /
``error``). Errors are the standard's list of ``code`` and ``description`` with the same HTTP status.

Who is asking: a POST and the updates feed carry ``api_key``, an organisation's API token, which decides the
organisation; the public GETs (services, requests) name it by ``jurisdiction_id`` (the organisation's slug) or by
``api_key``. When both are given they must agree. Form bodies are read up to a limit and parsed into pydantic models;
nothing the client sends reaches the services unchecked. The routes are thin: they call
``services/modules/environmental_ticketing/open311`` (which calls the module's report services) in a worker thread.
"""

from __future__ import annotations

import json
import logging
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from atlas_app.api.threads import run_in_threadpool
from atlas_app.api.web import BodyTooLarge, read_body
from atlas_app.services.platform.errors import (
    AtlasError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from atlas_app.timeutil import LONDON

log = logging.getLogger("atlas.open311")

BASE = "/open311/v2"
FORMATS = ("xml", "json")
MAX_BODY_BYTES = 64 * 1024
MAX_FIELDS = 200
MAX_ATTRIBUTES = 50
MAX_LIST_ITEMS = 200  # service_request_id=ID,ID,... at most this many ids
XML_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json"}


# --- errors ----------------------------------------------------------------------------------------------------


class Open311Error(Exception):
    """An answer in the standard's error list: ``code`` (the HTTP status, as GeoReport servers send it) and a
    ``description`` fit to show the report-it site's administrators."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _status_of(exc: AtlasError) -> int:
    """GeoReport's statuses: 400 bad input, 403 bad api_key, 404 not found. Atlas's 422 (invalid field) is a 400
    here; 401 (no or bad token) is the standard's 403."""
    code = int(getattr(exc, "status_code", 400))
    if code in (401, 403):
        return 403
    if code == 422:
        return 400
    return code


# --- formats ---------------------------------------------------------------------------------------------------


def w3c(value: datetime | None) -> str | None:
    """W3C/ISO 8601 with the UK's offset at that moment, to the second: ``2026-12-02T09:30:00+00:00``."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(LONDON).replace(microsecond=0).isoformat()


_W3C = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_w3c(text: str, name: str) -> datetime:
    """A W3C datetime from a query or form: ``2026-12-02T09:30:00Z``, ``...+01:00``, or a date alone (midnight
    UTC). A '+' in a query string that was not percent-encoded arrives as a space; it is read back as '+'. A
    datetime without an offset is taken as UTC."""
    raw = (text or "").strip()
    if len(raw) > 40:
        raise Open311Error(400, f"{name} is not a W3C datetime (such as 2026-12-02T09:30:00Z).")
    if re.match(r"^.{19,}\s\d{2}:?\d{2}$", raw):  # "...T09:30:00 01:00": the '+' decoded as a space
        raw = raw[: raw.rfind(" ")] + "+" + raw[raw.rfind(" ") + 1:]
    if not _W3C.match(raw):
        raise Open311Error(400, f"{name} is not a W3C datetime (such as 2026-12-02T09:30:00Z).")
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise Open311Error(400, f"{name} is not a valid date and time.") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    if not 1900 <= value.year <= 2200:
        raise Open311Error(400, f"{name} is out of range.")
    return value.astimezone(UTC)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return w3c(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    return str(value)


# Lists inside an item: the element that holds them and the name of each entry (XML::Simple's GroupTags).
_GROUPS = {"attributes": "attribute", "values": "value", "groups": "group"}


def _xml_fill(parent: ET.Element, item: dict[str, Any]) -> None:
    for key, value in item.items():
        child = ET.SubElement(parent, key)
        if isinstance(value, list):
            entry_tag = _GROUPS.get(key, key.rstrip("s"))
            for entry in value:
                sub = ET.SubElement(child, entry_tag)
                if isinstance(entry, dict):
                    _xml_fill(sub, entry)
                else:
                    sub.text = _text(entry)
        elif isinstance(value, dict):
            _xml_fill(child, value)
        else:
            child.text = _text(value)


_XML_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean_for_xml(value: Any) -> Any:
    """XML 1.0 cannot carry most control characters, not even escaped; they are dropped from the answer."""
    if isinstance(value, str):
        return _XML_CONTROL.sub("", value)
    if isinstance(value, list):
        return [_clean_for_xml(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean_for_xml(v) for k, v in value.items()}
    return value


def xml_document(root: str, item_tag: str | None, items: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    """``<root><item_tag>fields</item_tag>...</root>``, or ``<root>fields</root>`` for one object."""
    top = ET.Element(root)
    if isinstance(items, dict):
        _xml_fill(top, _clean_for_xml(items))
    else:
        for item in items:
            _xml_fill(ET.SubElement(top, item_tag or "item"), _clean_for_xml(item))
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(top, encoding="utf-8", xml_declaration=False)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return w3c(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    return value


def answer(fmt: str, root: str, item_tag: str | None, items: list[dict[str, Any]] | dict[str, Any],
           status: int = 200) -> Response:
    if fmt == "json":
        body = json.dumps(_json_value(items), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    else:
        body = xml_document(root, item_tag, items)
    return Response(body, status_code=status, media_type=XML_TYPES[fmt],
                    headers={"Cache-Control": "no-store"})


def error_answer(fmt: str, status: int, description: str) -> Response:
    return answer(fmt, "errors", "error", [{"code": status, "description": description}], status=status)


# --- input -----------------------------------------------------------------------------------------------------


async def read_form(request: Request) -> list[tuple[str, str]]:
    """The POSTed fields, form-encoded (or multipart, whose file parts are ignored: photos come as media_url),
    read up to the size limit."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == "multipart/form-data":
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES * 16:
            raise BodyTooLarge(MAX_BODY_BYTES * 16)
        form = await request.form(max_files=10, max_fields=MAX_FIELDS, max_part_size=MAX_BODY_BYTES)
        try:
            return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        finally:
            await form.close()
    if ctype not in ("application/x-www-form-urlencoded", ""):
        raise Open311Error(400, "Send the request as application/x-www-form-urlencoded.")
    raw = await read_body(request, MAX_BODY_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Open311Error(400, "The request body is not UTF-8.") from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS)
    except ValueError:
        raise Open311Error(400, f"Too many fields ({MAX_FIELDS} at most).") from None
    return pairs


def _one(pairs: list[tuple[str, str]], name: str) -> str | None:
    for key, value in pairs:
        if key == name:
            return value
    return None


_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]{1,100})\](\[\])?$")


def attributes_of(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """``attribute[CODE]=value`` fields (repeated, or ``attribute[CODE][]``, for multi-value lists)."""
    out: dict[str, str | list[str]] = {}
    for key, value in pairs:
        m = _ATTRIBUTE.match(key)
        if not m:
            continue
        code = m.group(1)
        if code in out:
            prev = out[code]
            out[code] = (prev if isinstance(prev, list) else [prev]) + [value]
        elif m.group(2):
            out[code] = [value]
        else:
            out[code] = value
        if len(out) > MAX_ATTRIBUTES:
            raise Open311Error(400, f"Too many attributes ({MAX_ATTRIBUTES} at most).")
    return out


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    api_key: str | None = Field(default=None, max_length=200)
    jurisdiction_id: str | None = Field(default=None, max_length=100)

    @field_validator("*", mode="before")
    @classmethod
    def _blanks(cls, value: Any) -> Any:
        return _blank_to_none(value)


class ServiceRequestForm(_Form):
    """``POST requests``: one new report."""

    service_code: str = Field(max_length=100)
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    long: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    address_string: str | None = Field(default=None, max_length=500)
    address_id: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    device_id: str | None = Field(default=None, max_length=200)
    account_id: str | None = Field(default=None, max_length=200)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    description: str | None = Field(default=None, max_length=4000)
    media_url: list[str] = Field(default_factory=list, max_length=10)
    attributes: dict[str, str | list[str]] = Field(default_factory=dict)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", value):
            raise ValueError("is not an email address")
        return value

    @field_validator("media_url")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        out = [v.strip() for v in value if v and v.strip()]
        for v in out:
            if len(v) > 2000 or not re.match(r"^https?://", v, re.IGNORECASE):
                raise ValueError("must be http or https URLs")
        return out

    def location_given(self) -> bool:
        return (self.lat is not None and self.long is not None) or bool(self.address_string or self.address_id)


class UpdateForm(_Form):
    """``POST servicerequestupdates``: a resident's comment on a report, from the report-it site."""

    service_request_id: str = Field(max_length=100)
    update_id: str | None = Field(default=None, max_length=100)  # the site's own id for its comment
    updated_datetime: str | None = Field(default=None, max_length=40)
    status: str | None = Field(default=None, max_length=40)
    description: str = Field(max_length=4000)
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    media_url: list[str] = Field(default_factory=list, max_length=10)

    @field_validator("media_url")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        return ServiceRequestForm._urls(value)


def _form_error(exc: ValidationError) -> Open311Error:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ())) or "request"
    if first.get("type") == "missing":
        return Open311Error(400, f"{field} is required.")
    message = str(first.get("msg", "is not valid")).removeprefix("Value error, ")
    return Open311Error(400, f"{field}: {message}.")


def parse_request_form(pairs: list[tuple[str, str]]) -> ServiceRequestForm:
    data: dict[str, Any] = {k: v for k, v in pairs if not k.startswith("attribute[") and k != "media_url"}
    data["media_url"] = [v for k, v in pairs if k == "media_url"]
    data["attributes"] = attributes_of(pairs)
    try:
        return ServiceRequestForm.model_validate(data)
    except ValidationError as exc:
        raise _form_error(exc) from None


def parse_update_form(pairs: list[tuple[str, str]]) -> UpdateForm:
    data: dict[str, Any] = {k: v for k, v in pairs if k != "media_url"}
    data["media_url"] = [v for k, v in pairs if k == "media_url"]
    try:
        form = UpdateForm.model_validate(data)
    except ValidationError as exc:
        raise _form_error(exc) from None
    if form.updated_datetime:
        parse_w3c(form.updated_datetime, "updated_datetime")
    return form


def _query_flag(request: Request, name: str) -> bool | None:
    text = request.query_params.get(name, "").strip().lower()
    if not text:
        return None
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise Open311Error(400, f"{name} must be true or false.")


# --- routes ----------------------------------------------------------------------------------------------------


def _bridge():
    from atlas_app.services.modules.environmental_ticketing import open311 as bridge

    return bridge


Handler = Callable[[Request, str], Awaitable[Response]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Check the format, run, and turn every failure into the standard's error list in that format."""

    async def run(request: Request) -> Response:
        fmt = request.path_params.get("fmt", "")
        if fmt not in FORMATS:
            return error_answer("xml", 404, "Unknown format: use .xml or .json.")
        try:
            return await handler(request, fmt)
        except Open311Error as exc:
            return error_answer(fmt, exc.status, exc.description)
        except (NotAuthenticated, PermissionDenied) as exc:
            return error_answer(fmt, 403, str(exc) or "api_key is not valid.")
        except NotFound as exc:
            return error_answer(fmt, 404, str(exc))
        except AtlasError as exc:
            return error_answer(fmt, _status_of(exc), str(exc))
        except OperationalError:
            log.warning("database busy serving %s %s", request.method, request.url.path, exc_info=True)
            response = error_answer(fmt, 503, "The service is busy. Please try again in a moment.")
            response.headers["Retry-After"] = "1"
            return response
        except Exception:  # never a stack trace to the caller; the log has it
            log.exception("Open311 error on %s %s", request.method, request.url.path)
            return error_answer(fmt, 500, "Something went wrong on our side. Please try again later.")

    run.__name__ = handler.__name__
    return run


def _who(params, require_key: bool):
    """(api_key, jurisdiction_id) from a query or form, checked for presence."""
    api_key = (params.get("api_key") or "").strip() or None
    jurisdiction = (params.get("jurisdiction_id") or "").strip() or None
    if require_key and not api_key:
        raise Open311Error(403, "api_key is required.")
    if not api_key and not jurisdiction:
        raise Open311Error(400, "jurisdiction_id is required.")
    if (api_key and len(api_key) > 200) or (jurisdiction and len(jurisdiction) > 100):
        raise Open311Error(400, "api_key or jurisdiction_id is too long.")
    return api_key, jurisdiction


async def services(request: Request, fmt: str) -> Response:
    key, jurisdiction = _who(request.query_params, require_key=False)
    rows = await run_in_threadpool(_bridge().services, key, jurisdiction)
    return answer(fmt, "services", "service", rows)


async def service_definition(request: Request, fmt: str) -> Response:
    key, jurisdiction = _who(request.query_params, require_key=False)
    code = request.path_params["service_code"]
    if len(code) > 100:
        raise Open311Error(404, "No such service_code.")
    definition = await run_in_threadpool(_bridge().service_definition, key, jurisdiction, code)
    return answer(fmt, "service_definition", None, definition)


async def post_request(request: Request, fmt: str) -> Response:
    pairs = await read_form(request)
    form = parse_request_form(pairs)
    key, jurisdiction = _who({"api_key": form.api_key, "jurisdiction_id": form.jurisdiction_id}, require_key=True)
    if not form.location_given():
        raise Open311Error(400, "A location is required: lat and long, address_string or address_id.")
    created = await run_in_threadpool(_bridge().create_request, key, jurisdiction, form)
    return answer(fmt, "service_requests", "request", [created])


def _ids(text: str) -> list[str]:
    ids = [p.strip() for p in text.split(",") if p.strip()]
    if len(ids) > MAX_LIST_ITEMS or any(len(i) > 100 for i in ids):
        raise Open311Error(400, f"service_request_id: at most {MAX_LIST_ITEMS} ids.")
    return ids


async def get_requests(request: Request, fmt: str) -> Response:
    q = request.query_params
    key, jurisdiction = _who(q, require_key=False)
    ids = _ids(q.get("service_request_id", ""))
    start = parse_w3c(q["start_date"], "start_date") if q.get("start_date", "").strip() else None
    end = parse_w3c(q["end_date"], "end_date") if q.get("end_date", "").strip() else None
    if start and end and end < start:
        raise Open311Error(400, "end_date is before start_date.")
    status = q.get("status", "").strip().lower() or None
    if status and status not in ("open", "closed"):
        raise Open311Error(400, "status must be open or closed.")
    code = q.get("service_code", "").strip() or None
    if code and len(code) > 100:
        raise Open311Error(400, "service_code is too long.")
    rows = await run_in_threadpool(_bridge().requests, key, jurisdiction, ids, code, start, end, status)
    return answer(fmt, "service_requests", "request", rows)


async def get_request(request: Request, fmt: str) -> Response:
    key, jurisdiction = _who(request.query_params, require_key=False)
    ids = _ids(request.path_params["request_id"])
    rows = await run_in_threadpool(_bridge().requests, key, jurisdiction, ids, None, None, None, None)
    if not rows:
        raise Open311Error(404, "No such service_request_id.")
    return answer(fmt, "service_requests", "request", rows)


async def get_token(request: Request, fmt: str) -> Response:
    key, jurisdiction = _who(request.query_params, require_key=False)
    row = await run_in_threadpool(_bridge().token, key, jurisdiction, request.path_params["token"][:200])
    return answer(fmt, "service_requests", "request", [row])


async def get_updates(request: Request, fmt: str) -> Response:
    q = request.query_params
    key, jurisdiction = _who(q, require_key=True)
    start = parse_w3c(q["start_date"], "start_date") if q.get("start_date", "").strip() else None
    end = parse_w3c(q["end_date"], "end_date") if q.get("end_date", "").strip() else None
    if start and end and end < start:
        raise Open311Error(400, "end_date is before start_date.")
    rows = await run_in_threadpool(_bridge().updates, key, jurisdiction, start, end)
    return answer(fmt, "service_request_updates", "request_update", rows)


async def post_update(request: Request, fmt: str) -> Response:
    pairs = await read_form(request)
    form = parse_update_form(pairs)
    key, jurisdiction = _who({"api_key": form.api_key, "jurisdiction_id": form.jurisdiction_id}, require_key=True)
    row = await run_in_threadpool(_bridge().post_update, key, jurisdiction, form)
    return answer(fmt, "service_request_updates", "request_update", [row])


async def not_found(request: Request) -> Response:
    fmt = "json" if request.url.path.endswith(".json") else "xml"
    return error_answer(fmt, 404, "No such Open311 endpoint.")


_ROUTES: list[tuple[str, Handler, list[str]]] = [
    ("/services.{fmt}", services, ["GET"]),
    ("/services/{service_code}.{fmt}", service_definition, ["GET"]),
    ("/requests.{fmt}", get_requests, ["GET"]),
    ("/requests.{fmt}", post_request, ["POST"]),
    ("/requests/{request_id}.{fmt}", get_request, ["GET"]),
    ("/tokens/{token}.{fmt}", get_token, ["GET"]),
    ("/servicerequestupdates.{fmt}", get_updates, ["GET"]),
    ("/servicerequestupdates.{fmt}", post_update, ["POST"]),
]


def _dispatch(handlers: dict[str, Handler]) -> Callable[[Request], Awaitable[Response]]:
    wrapped = {m: endpoint(h) for m, h in handlers.items()}

    async def run(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        if method not in wrapped:
            fmt = request.path_params.get("fmt", "")
            return error_answer(fmt if fmt in FORMATS else "xml", 405, f"{request.method} is not allowed here.")
        return await wrapped[method](request)

    return run


def _build_routes() -> list[Route]:
    by_path: dict[str, dict[str, Handler]] = {}
    for path, handler, methods in _ROUTES:
        for m in methods:
            by_path.setdefault(path, {})[m] = handler
    out = [Route(BASE + path, _dispatch(handlers), methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
           for path, handlers in by_path.items()]
    out.append(Route(BASE + "/{rest:path}", not_found, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]))
    return out


routes = _build_routes()

__all__ = ["Open311Error", "ServiceRequestForm", "UpdateForm", "answer", "error_answer", "parse_w3c", "routes",
           "w3c", "xml_document"]
