"""Residents' reports of problems at a place: categories, submission, duplicates, followers, repeats, updates,
status changes with template responses, the tracking timeline and the staff list.

A report is a case with a value demand in the organisation's ``environmental_ticketing`` module (opened through
``casework.cases``), so the casework measures count it unchanged; a repeat report of the same problem is a
*failure demand* on the same case. The public side has no actor: its functions take the organisation id (from
``organisation_by_slug``) or a report reference with its tracking token, and act as the public form. Staff
functions take an ``Actor`` (``cases.view`` to read, ``cases.manage`` to change; ``settings.manage`` for the
categories) and are scoped to the actor's organisation in SQL.

Tracking tokens are HMACs of the deployment's secret key (the reporter's of the case, a follower's of the report
and their email), so every email carries the holder's same link; only their SHA-256 is stored. Every follower has
their own token: it opens the tracking page and stops their updates.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, tuple_
from sqlalchemy import text as sql_text
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import REPORT_LABELS, DemandClass, ReportStatus
from atlas_app.models import Organisation, User
from atlas_app.models.casework import Case, CaseLookup, CaseModule, CaseTeam, Demand, Place
from atlas_app.models.environmental_queue import OPEN_SQL
from atlas_app.models.environmental import (
    Report,
    ReportCategory,
    ReportFollower,
    ReportPhoto,
    ReportResponse,
    ReportUpdate,
)
from atlas_app.services import modules
from atlas_app.services.casework import cases as casework_cases
from atlas_app.services.casework.config import active_lookup
from atlas_app.services.casework.people import place_label
from atlas_app.services.casework.search import normalise, postcode_key
from atlas_app.services.modules.environmental_ticketing import MODULE_TYPE
from atlas_app.services.platform import audit, bounds, geo, i18n, images, maps, outbox, storage, templating, throttles
from atlas_app.services.platform import welsh
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from atlas_app.services.platform.i18n import N_, _
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings
from atlas_app.timeutil import london_date, london_midnight

DUPLICATE_RADIUS_M = 50.0
DUPLICATE_DAYS = 14
MAX_PHOTOS = 3
MAX_DESCRIPTION = 2000
MAX_UPDATE = 2000
# Margin around the extent of the organisation's imported places that still counts as its area.
AREA_MARGIN_M = 500.0
# A dropped pin is matched to the nearest place within this distance.
NEAREST_PLACE_M = 150.0
FIND_COUNCIL = "https://www.gov.uk/find-local-council"

TRACK_PATH = "/track/"

# Merge fields of a template response (the letters' sandbox).
RESPONSE_FIELDS: templating.Fields = {
    "report": {"reference": "ENV-000123", "category": "Fly-tipping", "location": "where it is",
               "status": "the new status", "reason": "the reason it was closed", "promise": "the category's promise",
               "tracking_link": "the follower's tracking link", "date": "the day of the change",
               "due_date": "the day we aim to deal with it by (may be empty)"},
    "organisation": {"name": "the council's name"},
    "name": {"": "the follower's name (may be empty)"},
}

# The shipped wording (English; the catalogue holds its Welsh, sent to followers written to in Welsh).
DEFAULT_RESPONSES: dict[str, str] = {
    ReportStatus.RECEIVED: N_("We have received your report {{ report.reference }} ({{ report.category }})."),
    ReportStatus.WITH_TEAM: N_("Your report {{ report.reference }} is with the team who deal with it."),
    ReportStatus.IN_PROGRESS: N_("We are working on your report {{ report.reference }}."),
    ReportStatus.FIXED: N_("Your report {{ report.reference }} was dealt with on {{ report.date }}. Thank you for "
                           "telling us."),
    ReportStatus.CLOSED: N_("Your report {{ report.reference }} is closed: {{ report.reason }}"),
}

# What happens next, from each status (a status may also stay; closed is the end).
NEXT_STATUSES: dict[str, tuple[str, ...]] = {
    ReportStatus.RECEIVED: (ReportStatus.WITH_TEAM, ReportStatus.IN_PROGRESS, ReportStatus.FIXED, ReportStatus.CLOSED),
    ReportStatus.WITH_TEAM: (ReportStatus.IN_PROGRESS, ReportStatus.FIXED, ReportStatus.CLOSED),
    ReportStatus.IN_PROGRESS: (ReportStatus.WITH_TEAM, ReportStatus.FIXED, ReportStatus.CLOSED),
    ReportStatus.FIXED: (ReportStatus.CLOSED, ReportStatus.IN_PROGRESS),
    ReportStatus.CLOSED: (),
}

_REF = re.compile(r"ENV-?0*(\d{1,10})")
_EMAIL = re.compile(r"[^@\s,;<>]{1,64}@[^@\s,;<>]{1,190}\.[^@\s,;<>]{2,}")


# --- DTOs --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicOrg:
    id: int
    slug: str
    name: str
    welsh_enabled: bool = False


@dataclass(frozen=True)
class CategoryRow:
    id: int
    demand_type_id: int
    demand_type: str
    # What the public reads: the public name, or the demand type's name when none is set.
    name: str
    public_description: str
    promise_days: int
    promise: str
    is_public: bool
    sort_order: int
    # status -> template response (the default text when the category has none of its own).
    responses: dict[str, str] = field(default_factory=dict)
    # The administrator's English and Welsh wording (``name`` and ``public_description`` above are in the current
    # language: the Welsh when it is Welsh and written).
    public_name: str = ""
    public_name_cy: str = ""
    public_description_en: str = ""
    public_description_cy: str = ""
    # status -> the Welsh template response sent to followers written to in Welsh: the organisation's own, else
    # the shipped Welsh while the English is the shipped one too; "" when the English is the organisation's own and
    # its Welsh is not written (missing: those followers get the English).
    responses_cy: dict[str, str] = field(default_factory=dict)
    # status -> the Welsh the organisation wrote itself ("" for none: the shipped Welsh, or missing).
    responses_cy_own: dict[str, str] = field(default_factory=dict)
    # The statuses whose Welsh is missing: the English is the organisation's own and it wrote no Welsh.
    responses_cy_missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddressRow:
    uprn: int
    usrn: int | None
    address: str
    postcode: str


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    easting: float
    northing: float
    uprn: int | None
    usrn: int | None
    place_id: int | None
    label: str


@dataclass(frozen=True)
class DuplicateRow:
    id: int
    reference: str
    category: str
    status: str
    status_label: str
    location: str
    description: str
    created_at: datetime
    distance_m: float | None


@dataclass(frozen=True)
class Submitted:
    id: int
    reference: str
    case_id: int
    # The tracking token: shown once, in the confirmation and the emailed link; never stored.
    token: str
    tracking_path: str
    email_queued: bool
    promise: str = ""  # the category's promise ("We aim to ... within 5 working days.")


@dataclass(frozen=True)
class Followed:
    report_id: int
    reference: str
    token: str
    tracking_path: str


@dataclass(frozen=True)
class PhotoRef:
    id: int
    content_type: str
    width: int
    height: int


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    at: datetime
    kind: str
    status: str
    status_label: str
    body: str
    author: str
    is_public: bool
    photos: list[PhotoRef] = field(default_factory=list)
    body_cy: str = ""  # the Welsh of a status entry written from a template response ('' for none)


@dataclass(frozen=True)
class TrackView:
    id: int
    reference: str
    organisation: str
    category: str
    promise: str
    status: str
    status_label: str
    close_reason: str
    location: str
    latitude: float | None
    longitude: float | None
    description: str
    created_at: datetime
    due_at: datetime | None
    # received, with the team, in progress, fixed, closed: (status, label, reached at or None).
    steps: list[tuple[str, str, datetime | None]]
    timeline: list[TimelineEntry]
    photos: list[PhotoRef]
    is_open: bool
    # Whether the holder of this token still gets updates (None: the token is not a follower's).
    following: bool | None
    # The council offers Welsh (services/platform/welsh.py).
    welsh_enabled: bool = False


@dataclass(frozen=True)
class ReportRow:
    id: int
    reference: str
    case_id: int
    category_id: int
    category: str
    status: str
    status_label: str
    location: str
    uprn: int | None
    usrn: int | None
    latitude: float | None
    longitude: float | None
    team_id: int | None
    team: str
    officer_id: int | None
    officer: str
    created_at: datetime
    due_at: datetime | None
    overdue: bool
    repeat_count: int
    channel: str


@dataclass(frozen=True)
class ReportPage:
    rows: list[ReportRow]
    # Pass as ``after`` for the next page; None when this is the last.
    next_after: str | None


@dataclass(frozen=True)
class ReportDetail:
    row: ReportRow
    description: str
    reporter_name: str
    reporter_email: str
    reporter_phone: str
    close_reason: str
    easting: float | None
    northing: float | None
    followers: int
    timeline: list[TimelineEntry]
    photos: list[PhotoRef]
    next_statuses: list[str]


# --- small helpers -----------------------------------------------------------------------------------------------


def reference_of(case_id: int) -> str:
    return f"ENV-{case_id:06d}"


def parse_reference(value: Any) -> int:
    """The case id in a reference ("ENV-000123", "env123"), or NotFound."""
    match = _REF.fullmatch(re.sub(r"\s+", "", str(value or "")).upper())
    case_id = bounds.id_or_none(match.group(1)) if match else None
    if case_id is None:
        raise NotFound("No report has that reference.")
    return case_id


def _hash(token: str) -> str:
    return hashlib.sha256(str(token or "").encode()).hexdigest()


def _derive(*parts: Any) -> str:
    """A tracking token made from the deployment's secret key: the same every time for the same report or
    follower, so every email can carry the holder's one link without the token being stored (only its hash is)."""
    mac = hmac.new(get_settings().secret_key.encode(), ":".join(str(p) for p in parts).encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:24]).decode()


def _report_token(case_id: int) -> str:
    """The reporter's token (the confirmation's link)."""
    return _derive("env-report", case_id)


def _follower_token(rep: Report, follower: ReportFollower) -> str:
    """A follower's token: the reporter's own when the follower is the reporter."""
    if hmac.compare_digest(follower.token_hash, rep.token_hash):
        return _report_token(rep.case_id)
    return _derive("env-follower", rep.id, follower.email.lower())


def tracking_path(reference: str, token: str) -> str:
    """The report's tracking page, in the current language (``/cy/track/...`` from a Welsh page)."""
    return i18n.localised_path(f"{TRACK_PATH}{reference}?token={token}")


def tracking_link(reference: str, token: str) -> str:
    return f"{get_settings().base_url}{tracking_path(reference, token)}"


def _text(value: Any, name: str, max_len: int, required: bool = False, label: str = "") -> str:
    text = str(value or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise ValidationFailed(f"Enter {label or name.replace('_', ' ')}.", {name: "required"})
    if len(text) > max_len:
        raise ValidationFailed(f"{(label or name.replace('_', ' ')).capitalize()} must be {max_len} characters or "
                               f"fewer.", {name: "too long"})
    return text


def _line(value: Any, name: str, max_len: int, label: str = "") -> str:
    text = " ".join(str(value or "").split())
    if len(text) > max_len:
        raise ValidationFailed(f"{(label or name.replace('_', ' ')).capitalize()} must be {max_len} characters or "
                               f"fewer.", {name: "too long"})
    return text


def check_email(value: Any, name: str = "email", required: bool = False) -> str:
    text = str(value or "").strip()
    if not text:
        if required:
            raise ValidationFailed(_("Enter your email address."), {name: "required"})
        return ""
    if len(text) > 200 or not _EMAIL.fullmatch(text):
        raise ValidationFailed(_("Enter an email address in the correct format, like name@example.com."),
                               {name: "invalid"})
    return text


def _phone(value: Any) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        return ""
    if len(text) > 40 or not re.fullmatch(r"[0-9+()\- ]{6,40}", text):
        raise ValidationFailed(_("Enter a telephone number, like 01632 960 001 or 07700 900 982."),
                               {"phone": "invalid"})
    return text


def add_working_days(start: date, days: int) -> date:
    """``days`` working days (Monday to Friday) after ``start``."""
    out = start
    left = max(0, int(days))
    while left:
        out += timedelta(days=1)
        if out.weekday() < 5:
            left -= 1
    return out


def promise_text(name: str, days: int) -> str:
    """The category's promise in the current language."""
    if days <= 0:
        return ""
    if i18n.current() == i18n.CY:
        # Welsh puts the category first, so its name needs no mutation after a preposition.
        text = _("{name}: we aim to deal with reports within {days} working days.")
        return text.format(name=name, days=days)
    if days == 1:
        return f"We aim to deal with {name.lower()} reports within 1 working day."
    return f"We aim to deal with {name.lower()} reports within {days} working days."


def _due_at(created: datetime, days: int) -> datetime | None:
    if days <= 0:
        return None
    return london_midnight(add_working_days(london_date(created), days) + timedelta(days=1))


def _public_actor(org_id: int, channel: str = "web") -> Actor:
    return Actor(user_id=None, username=f"public ({channel})", organisation_id=org_id)


def _view(actor: Actor) -> int:
    actor.require(Perm.CASES_VIEW)
    return actor.require_org()


def _manage(actor: Actor) -> int:
    actor.require(Perm.CASES_MANAGE)
    return actor.require_org()


def _admin(actor: Actor) -> int:
    actor.require(Perm.SETTINGS_MANAGE)
    return actor.require_org()


def _module(s: Session, org_id: int) -> CaseModule:
    ref = modules.require_module(s, org_id, MODULE_TYPE)
    return s.get(CaseModule, ref.id)


# --- organisations and categories --------------------------------------------------------------------------------


def organisation_by_slug(slug: Any) -> PublicOrg | None:
    """The active organisation with that slug that takes reports (its module is turned on), or None."""
    text = str(slug or "").strip().lower()
    if not text or len(text) > 40:
        return None
    with read_session() as s:
        row = s.exec(select(Organisation.id, Organisation.slug, Organisation.name, Organisation.welsh_enabled)
                     .join(CaseModule, and_(CaseModule.organisation_id == Organisation.id,
                                            CaseModule.module_type == MODULE_TYPE,
                                            CaseModule.is_active == True))  # noqa: E712
                     .where(Organisation.slug == text, Organisation.is_active == True)  # noqa: E712
                     .limit(1)).first()
        return None if row is None else PublicOrg(row[0], row[1], row[2], bool(row[3]))


def organisations_taking_reports() -> list[PublicOrg]:
    """Every active organisation that has turned the module on, by name (the public "which council" list)."""
    with read_session() as s:
        rows = s.exec(select(Organisation).join(CaseModule, CaseModule.organisation_id == Organisation.id)
                      .where(CaseModule.module_type == MODULE_TYPE, CaseModule.is_active == True,  # noqa: E712
                             Organisation.is_active == True).order_by(Organisation.name)).all()  # noqa: E712
        return [PublicOrg(o.id, o.slug, o.name, bool(o.welsh_enabled)) for o in rows]


def organisation_by_id(org_id: int) -> PublicOrg | None:
    with read_session() as s:
        org = s.get(Organisation, org_id)
        if org is None or not org.is_active or modules.module_of(s, org.id, MODULE_TYPE) is None:
            return None
        return PublicOrg(org.id, org.slug, org.name)


def _category_rows(s: Session, org_id: int, public_only: bool) -> list[CategoryRow]:
    query = (select(ReportCategory, CaseLookup).join(CaseLookup, CaseLookup.id == ReportCategory.demand_type_id)
             .where(ReportCategory.organisation_id == org_id))
    if public_only:
        query = query.where(ReportCategory.is_public == True, CaseLookup.is_active == True)  # noqa: E712
    rows = s.exec(query.order_by(ReportCategory.sort_order, CaseLookup.name)).all()
    ids = [c.id for c, _ in rows]
    responses: dict[int, dict[str, ReportResponse]] = {}
    if ids:
        for r in s.exec(select(ReportResponse).where(ReportResponse.organisation_id == org_id,
                                                     ReportResponse.category_id.in_(ids))).all():
            responses.setdefault(r.category_id, {})[r.status] = r
    out = []
    for c, lookup in rows:
        name = welsh.pick(c.public_name, c.public_name_cy) or lookup.name
        rows_of = responses.get(c.id, {})
        own = {st: r.body for st, r in rows_of.items() if r.body}
        welsh_texts = {st: _welsh_response(rows_of.get(st), st) for st in ReportStatus}
        out.append(CategoryRow(c.id, lookup.id, lookup.name, name,
                               welsh.pick(c.public_description, c.public_description_cy), c.promise_days,
                               promise_text(name, c.promise_days), c.is_public, c.sort_order,
                               {st: own.get(st) or DEFAULT_RESPONSES[st] for st in ReportStatus},
                               c.public_name, c.public_name_cy, c.public_description, c.public_description_cy,
                               welsh_texts, {st: (r.body_cy or "").strip() and r.body_cy for st, r in rows_of.items()},
                               tuple(st for st in own if not welsh_texts[st].strip())))
    return out


def _welsh_response(row: ReportResponse | None, status: str) -> str:
    """The Welsh template response for ``status``: the organisation's own; else the shipped Welsh when its English
    is the shipped one; else "" (the organisation's English has no Welsh yet)."""
    if row is not None and (row.body_cy or "").strip():
        return row.body_cy
    if row is not None and (row.body or "").strip():
        return ""
    return i18n.gettext(DEFAULT_RESPONSES[status], i18n.CY)


def response_source(row: ReportResponse | None, status: str, language: str) -> str:
    """The template response a follower written to in ``language`` gets: in Welsh, the Welsh (the organisation's
    own or the shipped) and the organisation's English only where its Welsh is missing; in English, the
    organisation's English, else the shipped."""
    if language == i18n.CY:
        return _welsh_response(row, status) or row.body  # type: ignore[union-attr]  (missing implies a row)
    return row.body if row is not None and row.body else DEFAULT_RESPONSES[status]


def public_categories(org_id: int) -> list[CategoryRow]:
    """What the public may report to the organisation, in the administrator's order."""
    with read_session() as s:
        if modules.module_of(s, org_id, MODULE_TYPE) is None:
            return []
        return _category_rows(s, org_id, public_only=True)


def list_categories(actor: Actor) -> list[CategoryRow]:
    """Every category of the actor's organisation (public or not), for staff and the settings screen."""
    if not (actor.can(Perm.CASES_VIEW) or actor.can(Perm.SETTINGS_MANAGE)):
        raise PermissionDenied()
    org_id = actor.require_org()
    with read_session() as s:
        return _category_rows(s, org_id, public_only=False)


def ensure_categories(actor: Actor) -> int:
    """A category (not public yet) for each active demand type of the module that has none; returns how many."""
    org_id = _admin(actor)
    with write_session() as s:
        module = _module(s, org_id)
        have = set(s.exec(select(ReportCategory.demand_type_id).where(ReportCategory.organisation_id == org_id)).all())
        types = s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org_id,
                                                CaseLookup.module_id == module.id, CaseLookup.kind == "demand_type",
                                                CaseLookup.is_active == True)  # noqa: E712
                       .order_by(CaseLookup.sort_order, CaseLookup.id)).all()
        made = 0
        for t in types:
            if t.id in have:
                continue
            s.add(ReportCategory(organisation_id=org_id, module_id=module.id, demand_type_id=t.id,
                                 is_public=False, sort_order=t.sort_order))
            made += 1
        if made:
            s.flush()
            audit.record(s, actor, "report_category", module.id, "categories_added", after={"count": made})
        return made


def save_category(actor: Actor, demand_type_id: Any, *, is_public: bool, public_name: str = "",
                  public_description: str = "", promise_days: Any = 5, sort_order: Any = 0,
                  public_name_cy: str | None = None, public_description_cy: str | None = None) -> int:
    """Create or update the category of one of the module's demand types; returns its id. The Welsh wording is
    kept as it was when not given (None)."""
    org_id = _admin(actor)
    name = _line(public_name, "public_name", 120, "the public name")
    description = _text(public_description, "public_description", 500, label="the public description")
    name_cy = None if public_name_cy is None else _line(public_name_cy, "public_name_cy", 120,
                                                        "the public name in Welsh")
    description_cy = None if public_description_cy is None else _text(
        public_description_cy, "public_description_cy", 500, label="the public description in Welsh")
    try:
        days = int(str(promise_days).strip() or "0")
        order = int(str(sort_order).strip() or "0")
    except (TypeError, ValueError):
        raise ValidationFailed("The promise must be a whole number of working days.", {"promise_days": "invalid"}) \
            from None
    if not 0 <= days <= 365:
        raise ValidationFailed("The promise must be between 0 and 365 working days.", {"promise_days": "range"})
    if not -10_000 <= order <= 10_000:
        raise ValidationFailed("The order must be between -10000 and 10000.", {"sort_order": "range"})
    with write_session() as s:
        module = _module(s, org_id)
        dtype = active_lookup(s, org_id, demand_type_id, "demand_type", module.id,
                                             field="demand_type_id", allow_retired_id=None)
        row = s.exec(select(ReportCategory).where(ReportCategory.organisation_id == org_id,
                                                  ReportCategory.demand_type_id == dtype.id)).first()
        before = None
        if row is None:
            row = ReportCategory(organisation_id=org_id, module_id=module.id, demand_type_id=dtype.id)
        else:
            before = {"is_public": row.is_public, "public_name": row.public_name,
                      "public_description": row.public_description, "promise_days": row.promise_days,
                      "sort_order": row.sort_order, "public_name_cy": row.public_name_cy,
                      "public_description_cy": row.public_description_cy}
        row.is_public, row.public_name, row.public_description = bool(is_public), name, description
        row.promise_days, row.sort_order = days, order
        if name_cy is not None:
            row.public_name_cy = name_cy
        if description_cy is not None:
            row.public_description_cy = description_cy
        s.add(row)
        s.flush()
        after = {"is_public": row.is_public, "public_name": name, "public_description": description,
                 "promise_days": days, "sort_order": order, "demand_type": dtype.name,
                 "public_name_cy": row.public_name_cy, "public_description_cy": row.public_description_cy}
        audit.record(s, actor, "report_category", row.id, "saved" if before else "created", before=before,
                     after=after)
        return row.id


def set_response(actor: Actor, category_id: Any, status: str, body: str, body_cy: str | None = None) -> None:
    """A category's template response for a status, in English and (``body_cy``; None keeps it) Welsh. An empty
    text goes back to the shipped wording of its language."""
    org_id = _admin(actor)
    if status not in tuple(ReportStatus):
        raise ValidationFailed("Choose a status.", {"status": "invalid"})
    body = _text(body, "body", 4000, label="the response")
    if body:
        templating.check(body, RESPONSE_FIELDS, "response")
    if body_cy is not None:
        body_cy = _text(body_cy, "body_cy", 4000, label="the Welsh response")
        if body_cy:
            templating.check(body_cy, RESPONSE_FIELDS, "response")
    with write_session() as s:
        category = _get_category(s, org_id, category_id)
        row = s.exec(select(ReportResponse).where(ReportResponse.category_id == category.id,
                                                  ReportResponse.status == status)).first()
        before = {"body": row.body if row else "", "body_cy": row.body_cy if row else ""}
        welsh_text = before["body_cy"] if body_cy is None else body_cy
        if not body and not welsh_text:
            if row is not None:
                s.delete(row)
        else:
            row = row or ReportResponse(organisation_id=org_id, category_id=category.id, status=status)
            row.body, row.body_cy, row.updated_at = body, welsh_text, utcnow()
            s.add(row)
        s.flush()
        audit.record(s, actor, "report_category", category.id, "response_set",
                     before={"status": status, **before},
                     after={"status": status, "body": body, "body_cy": welsh_text})


def _get_category(s: Session, org_id: int, category_id: Any, public_only: bool = False) -> ReportCategory:
    cid = bounds.id_or_none(category_id)
    row = s.exec(select(ReportCategory).where(ReportCategory.id == (cid or 0),
                                              ReportCategory.organisation_id == org_id)).first() if cid else None
    if row is None or (public_only and not row.is_public):
        raise ValidationFailed(_("Choose what you are reporting from the list."), {"category_id": "unknown"})
    return row


def _category_name(s: Session, category: ReportCategory) -> str:
    """The category's public name in the current language (its Welsh when that is written)."""
    name = welsh.pick(category.public_name, category.public_name_cy)
    if name:
        return name
    lookup = s.get(CaseLookup, category.demand_type_id)
    return lookup.name if lookup else ""


# --- where -------------------------------------------------------------------------------------------------------

# org id -> (computed at (monotonic), (min e, min n, max e, max n) or None)
_EXTENTS: dict[int, tuple[float, tuple[float, float, float, float] | None]] = {}
_EXTENT_SECONDS = 300.0


def area_extent(org_id: int) -> tuple[float, float, float, float] | None:
    """(min easting, min northing, max easting, max northing) of the organisation's imported places, or None when
    it has none with coordinates (then every location in Great Britain is taken). Cached for five minutes."""
    hit = _EXTENTS.get(org_id)
    now = time.monotonic()
    if hit is not None and now - hit[0] < _EXTENT_SECONDS:
        return hit[1]
    with read_session() as s:
        row = s.exec(select(func.min(Place.x_coordinate), func.min(Place.y_coordinate), func.max(Place.x_coordinate),
                            func.max(Place.y_coordinate))
                     .where(Place.organisation_id == org_id, Place.x_coordinate.is_not(None),
                            Place.y_coordinate.is_not(None))).one()
    extent = None if row[0] is None else (float(row[0]), float(row[1]), float(row[2]), float(row[3]))
    _EXTENTS[org_id] = (now, extent)
    return extent


def forget_extents() -> None:
    """Drop the cached extents (after a gazetteer import, and in tests)."""
    _EXTENTS.clear()


@dataclass(frozen=True)
class PublicMap:
    tile_url: str
    attribution: str
    # The organisation's area in WGS84 (south, west, north, east), or None when it has no places with coordinates.
    area: tuple[float, float, float, float] | None


def public_map(org_id: int) -> PublicMap | None:
    """The map of the public "Where" step: the organisation's tiles (``platform.maps``) and its area, or None when
    it has no map (then the page offers the address search only)."""
    tiles = maps.tiles_for(org_id)
    if tiles is None:
        return None
    extent = area_extent(org_id)
    area = None
    if extent is not None:
        # The grid's box turned into the WGS84 box holding all four of its corners.
        corners = [geo.to_wgs84(e, n) for e in (extent[0], extent[2]) for n in (extent[1], extent[3])]
        lats, lngs = [c[0] for c in corners], [c[1] for c in corners]
        area = (min(lats), min(lngs), max(lats), max(lngs))
    return PublicMap(tiles.url, tiles.attribution, area)


def _inside(extent: tuple[float, float, float, float] | None, easting: float, northing: float) -> bool:
    if extent is None:
        return True
    return (extent[0] - AREA_MARGIN_M <= easting <= extent[2] + AREA_MARGIN_M
            and extent[1] - AREA_MARGIN_M <= northing <= extent[3] + AREA_MARGIN_M)


class OutsideArea(ValidationFailed):
    """The location is not in the organisation's area; the message says who to contact."""


def _outside(org_id: int, easting: float, northing: float) -> OutsideArea:
    with read_session() as s:
        name = s.exec(select(Organisation.name).where(Organisation.id == org_id)).first() or "This council"
        others = s.exec(select(Organisation.id, Organisation.name).where(Organisation.id != org_id,
                                                                        Organisation.is_active == True)  # noqa: E712
                        ).all()
    for other_id, other_name in others:
        extent = area_extent(other_id)
        if extent is not None and _inside(extent, easting, northing):
            return OutsideArea(f"That location is outside {name}'s area. Please report it to {other_name}.",
                               {"location": "outside", "contact": other_name})
    return OutsideArea(f"That location is outside {name}'s area. Please report it to the council for that area: "
                       f"find it at {FIND_COUNCIL}.", {"location": "outside", "contact": FIND_COUNCIL})


def search_address(org_id: int, text: str, limit: int = 20) -> list[AddressRow]:
    """The organisation's own gazetteer by postcode, street or address words (for the public "Where" step)."""
    text = " ".join(str(text or "").split())[:120]
    limit = max(1, min(int(limit), 50))
    if len(text) < 2:
        return []
    with read_session() as s:
        query = select(Place).where(Place.organisation_id == org_id,
                                    Place.status.not_in(("historical", "rejected", "deleted")))
        key = postcode_key(text)
        if 2 <= len(key) <= 7 and any(c.isdigit() for c in key) and any(c.isalpha() for c in key):
            rows = s.exec(query.where(Place.postcode_key.like(f"{key}%"))
                          .order_by(Place.postcode_key, Place.search_text).limit(limit)).all()
            if rows:
                return [AddressRow(p.uprn, p.usrn, place_label(p), p.postcode) for p in rows]
        words = normalise(text).split()[:6]
        if not words:
            return []
        for word in words:
            query = query.where(Place.search_text.like(f"%{word}%"))
        rows = s.exec(query.order_by(Place.search_text).limit(limit)).all()
        return [AddressRow(p.uprn, p.usrn, place_label(p), p.postcode) for p in rows]


def _place_point(p: Place) -> tuple[float, float, float, float] | None:
    """(lat, lng, easting, northing) of a place, converting whichever it lacks."""
    if p.x_coordinate is not None and p.y_coordinate is not None:
        e, n = float(p.x_coordinate), float(p.y_coordinate)
        if p.latitude is not None and p.longitude is not None:
            return float(p.latitude), float(p.longitude), e, n
        lat, lng = geo.to_wgs84(e, n)
        return lat, lng, e, n
    if p.latitude is not None and p.longitude is not None:
        e, n = geo.to_bng(float(p.latitude), float(p.longitude))
        return float(p.latitude), float(p.longitude), e, n
    return None


def _nearest_place(s: Session, org_id: int, easting: float, northing: float):
    """The nearest current place within ``NEAREST_PLACE_M`` (its id, UPRN, USRN and address columns), or None."""
    r = NEAREST_PLACE_M
    dx, dy = Place.x_coordinate - easting, Place.y_coordinate - northing
    square = dx * dx + dy * dy
    query = (select(Place.id, Place.uprn, Place.usrn, Place.address_line1, Place.address_line2, Place.address_line3,
                    Place.town, Place.postcode)
             .where(Place.organisation_id == org_id, Place.x_coordinate.between(easting - r, easting + r),
                    Place.y_coordinate.between(northing - r, northing + r), square <= r * r,
                    Place.status.not_in(("historical", "rejected", "deleted")))
             .order_by(square, Place.id).limit(1))
    return s.connection().execute(query).first()


def _street_label(places: Sequence[Place]) -> str:
    for p in places:
        line = p.address_line1 or p.address_line2
        street = re.sub(r"^[\d\-/ ]+[A-Za-z]?\s+", "", line or "").strip()
        if street:
            return f"{street}, {p.town}".strip(", ") if p.town else street
    return ""


def _locate(s: Session, org_id: int, *, uprn: Any = None, usrn: Any = None, latitude: Any = None,
            longitude: Any = None) -> Location:
    if str(uprn or "").strip():
        text = str(uprn).strip()
        if not text.isdigit() or len(text) > 12:
            raise ValidationFailed(_("Choose an address from the list."), {"location": "unknown"})
        p = s.exec(select(Place).where(Place.organisation_id == org_id, Place.uprn == int(text))).first()
        if p is None or p.status in ("historical", "rejected", "deleted"):
            raise ValidationFailed(_("Choose an address from the list."), {"location": "unknown"})
        point = _place_point(p)
        if point is None:
            raise ValidationFailed("That address has no location in our records; drop a pin on the map or "
                                   "choose a nearby address.", {"location": "no coordinates"})
        return Location(point[0], point[1], point[2], point[3], p.uprn, p.usrn, p.id, place_label(p))
    if str(usrn or "").strip():
        text = str(usrn).strip()
        if not text.isdigit() or len(text) > 12:
            raise ValidationFailed(_("Choose a street from the list."), {"location": "unknown"})
        places = s.exec(select(Place).where(Place.organisation_id == org_id, Place.usrn == int(text),
                                            Place.x_coordinate.is_not(None)).limit(500)).all()
        if not places:
            raise ValidationFailed(_("Choose a street from the list."), {"location": "unknown"})
        e = sum(float(p.x_coordinate) for p in places) / len(places)
        n = sum(float(p.y_coordinate) for p in places) / len(places)
        lat, lng = geo.to_wgs84(e, n)
        return Location(lat, lng, round(e, 1), round(n, 1), None, int(text), None,
                        _street_label(places) or f"Street {text}")
    if str(latitude or "").strip() or str(longitude or "").strip():
        lat, lng = geo.parse_lat_lng(latitude, longitude)
        e, n = geo.to_bng(lat, lng)
        if not _inside(area_extent(org_id), e, n):
            raise _outside(org_id, e, n)
        near = _nearest_place(s, org_id, e, n)
        if near is not None:
            label = f"Near {place_label(near)}"
            return Location(round(lat, 7), round(lng, 7), e, n, near.uprn, near.usrn, near.id, label)
        return Location(round(lat, 7), round(lng, 7), e, n, None, None, None,
                        f"Map pin at {lat:.5f}, {lng:.5f}")
    raise ValidationFailed("Tell us where the problem is: choose an address or drop a pin on the map.",
                           {"location": "required"})


def locate(org_id: int, *, uprn: Any = None, usrn: Any = None, latitude: Any = None,
           longitude: Any = None) -> Location:
    """Where a report is: a place by UPRN, a street by USRN (the middle of its places), or a WGS84 pin (converted to
    British National Grid and matched to the nearest place within 150 m). A pin outside the organisation's area
    raises ``OutsideArea`` naming who to contact."""
    with read_session() as s:
        return _locate(s, org_id, uprn=uprn, usrn=usrn, latitude=latitude, longitude=longitude)


# --- duplicates ---------------------------------------------------------------------------------------------------


def _duplicate_rows(s: Session, org_id: int, category: ReportCategory, loc: Location, now: datetime,
                    limit: int = 10) -> list[DuplicateRow]:
    since = now - timedelta(days=DUPLICATE_DAYS)
    r = DUPLICATE_RADIUS_M
    near = [Report.easting.between(loc.easting - r, loc.easting + r)
            & Report.northing.between(loc.northing - r, loc.northing + r)]
    if loc.uprn is not None:
        near.append(Report.uprn == loc.uprn)
    if loc.usrn is not None and loc.uprn is None:
        near.append(Report.usrn == loc.usrn)
    # The columns the answer shows, not whole rows; the open condition as the partial indexes' literal SQL
    # (models/environmental_queue.py), so the 50 m square is read from the open reports' grid index.
    rows = s.execute(select(Report.id, Report.reference, Report.status, Report.location_text,
                            func.substr(Report.description, 1, 300), Report.created_at, Report.easting,
                            Report.northing, Report.uprn, Report.usrn)
                     .where(Report.organisation_id == org_id, Report.category_id == category.id,
                            sql_text("env_report." + OPEN_SQL), Report.created_at >= since, or_(*near))
                     .order_by(Report.created_at.desc()).limit(200)).all()
    name = None
    out = []
    for rid, reference, status, location, description, created, easting, northing, uprn, usrn in rows:
        d = None
        if easting is not None and northing is not None:
            d = geo.distance_m((loc.easting, loc.northing), (easting, northing))
        same_place = (loc.uprn is not None and uprn == loc.uprn) or (
            loc.uprn is None and loc.usrn is not None and usrn == loc.usrn)
        if not same_place and (d is None or d > r):
            continue
        if name is None:
            name = _category_name(s, category)
        out.append(DuplicateRow(rid, reference, name, status, REPORT_LABELS[status], location, description or "",
                                created, None if d is None else round(d, 1)))
    out.sort(key=lambda x: (x.distance_m is None, x.distance_m or 0.0, -x.created_at.timestamp()))
    return out[:limit]


def find_duplicates(org_id: int, category_id: Any, *, uprn: Any = None, usrn: Any = None, latitude: Any = None,
                    longitude: Any = None, location: Location | None = None) -> list[DuplicateRow]:
    """Open reports of the same category within 50 m, or at the same UPRN (or USRN for a street), made in the last
    14 days: "Is it one of these?". Nearest first."""
    with read_session() as s:
        category = _get_category(s, org_id, category_id)
        loc = location or _locate(s, org_id, uprn=uprn, usrn=usrn, latitude=latitude, longitude=longitude)
        return _duplicate_rows(s, org_id, category, loc, utcnow())


# --- submitting --------------------------------------------------------------------------------------------------


def _clean_photos(photos: Sequence[bytes]) -> list[images.CleanImage]:
    photos = [p for p in (photos or []) if p]
    if len(photos) > MAX_PHOTOS:
        raise ValidationFailed(_("Add at most {count} photos.").format(count=MAX_PHOTOS), {"photos": "too many"})
    return [images.clean_image(p, field=f"photo_{n}") for n, p in enumerate(photos, start=1)]


def _store_photos(s: Session, org_id: int, report_id: int, cleaned: list[images.CleanImage],
                  written: list[str], update_id: int | None = None) -> list[int]:
    ids = []
    for img in cleaned:
        stored = storage.put(img.data)
        if stored.created:
            written.append(stored.key)
        row = ReportPhoto(organisation_id=org_id, report_id=report_id, update_id=update_id, sha256=stored.key,
                          content_type=img.content_type, width=img.width, height=img.height,
                          size_bytes=stored.size)
        s.add(row)
        s.flush()
        ids.append(row.id)
    return ids


def _unwrite(keys: list[str]) -> None:
    """Remove files this unit of work wrote when its transaction did not commit (unless another row uses them)."""
    if not keys:
        return
    with read_session() as s:
        used = set(s.exec(select(ReportPhoto.sha256).where(ReportPhoto.sha256.in_(keys))).all())
    for key in keys:
        if key not in used:
            storage.delete(key)


def _channel_name(channel: str) -> str:
    return {"web": "Web form", "open311": "Web form", "staff": "Telephone"}.get(channel, "Web form")


def _channel(s: Session, org_id: int, channel: str) -> CaseLookup | None:
    return s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org_id, CaseLookup.kind == "channel",
                                           CaseLookup.name == _channel_name(channel),
                                           CaseLookup.is_active == True)).first()  # noqa: E712


@dataclass(frozen=True)
class _ModuleRef:
    """The module a new report's case opens in (what ``open_case_in`` reads of it)."""

    id: int
    organisation_id: int
    name: str


@dataclass(frozen=True)
class _CategoryRef:
    id: int
    public_name: str
    promise_days: int | None
    public_name_cy: str = ""  # the confirmation to a Welsh page's reporter names the category in Welsh


@dataclass(frozen=True)
class _LookupRef:
    """A demand type or channel lookup (what ``add_demand_in`` reads of one)."""

    id: int
    name: str
    demand_class: str | None = None


# A Core statement of plain labelled columns, made once (the two lookups are aliases of one table). The busiest
# read of a submission: it reads no ORM entities, so nothing is adapted per row or per thread.
_org, _mod, _cat = Organisation.__table__, CaseModule.__table__, ReportCategory.__table__
_dt, _ch = CaseLookup.__table__.alias("demand_type"), CaseLookup.__table__.alias("channel_lookup")
_FACTS = (
    select(_org.c.name.label("org_name"), _mod.c.id.label("module_id"), _mod.c.name.label("module_name"),
           _cat.c.id.label("category_id"), _cat.c.public_name, _cat.c.public_name_cy, _cat.c.promise_days,
           _cat.c.is_public, _dt.c.id.label("type_id"), _dt.c.name.label("type_name"), _dt.c.demand_class,
           _ch.c.id.label("channel_id"), _ch.c.name.label("channel_name"))
    .select_from(_org)
    .join(_mod, and_(_mod.c.organisation_id == _org.c.id, _mod.c.module_type == MODULE_TYPE,
                     _mod.c.is_active == True))  # noqa: E712
    .join(_cat, and_(_cat.c.organisation_id == _org.c.id, _cat.c.id == bindparam("category_id")))
    .join(_dt, and_(_dt.c.id == _cat.c.demand_type_id, _dt.c.is_active == True))  # noqa: E712
    .outerjoin(_ch, and_(_ch.c.organisation_id == _org.c.id, _ch.c.kind == "channel",
                         _ch.c.name == bindparam("channel_name"), _ch.c.is_active == True))  # noqa: E712
    .where(_org.c.id == bindparam("org_id"), _org.c.is_active == True)  # noqa: E712
    .order_by(_mod.c.id, _ch.c.id).limit(1)
)


def _submission_facts(s: Session, org_id: int, category_id: Any, channel: str, public_only: bool
                      ) -> tuple[str, _ModuleRef, _CategoryRef, _LookupRef, _LookupRef | None]:
    """What a new report needs to know, in one statement: the organisation's name, its module, the category (a
    public one when ``public_only``), its active demand type and the channel's lookup. When any is missing the
    single checks run to say which."""
    cid = bounds.id_or_none(category_id)
    row = s.connection().execute(_FACTS, {"org_id": org_id, "category_id": cid, "channel_name": _channel_name(channel)}
                                 ).first() if cid else None
    if row is not None and (row.is_public or not public_only):
        return (row.org_name, _ModuleRef(row.module_id, org_id, row.module_name),
                _CategoryRef(row.category_id, row.public_name or "", row.promise_days, row.public_name_cy or ""),
                _LookupRef(row.type_id, row.type_name, row.demand_class),
                None if row.channel_id is None else _LookupRef(row.channel_id, row.channel_name))
    org = s.get(Organisation, org_id)
    if org is None or not org.is_active:
        raise NotFound(_("That council does not take reports here."))
    _module(s, org_id)
    _get_category(s, org_id, category_id, public_only=public_only)
    raise ValidationFailed(_("Choose what you are reporting from the list."), {"category_id": "retired"})


def _queue_confirmation(s: Session, org_name: str, rep: Report, category: str, promise: str, token: str) -> None:
    link = tracking_link(rep.reference, token)
    # In the language of the page the report was made on (English, or Welsh under /cy).
    lines = [_("Thank you for your report to {council}.").format(council=org_name), "",
             _("Your reference is {reference}.").format(reference=rep.reference),
             _("What: {what}").format(what=category), _("Where: {where}").format(where=rep.location_text)]
    if promise:
        lines.append(promise)
    lines += ["", _("Follow your report, add information or photos, or stop these emails:"), link, "",
              _("Keep this email: the link is how you see your report.")]
    outbox.queue(s, to=rep.reporter_email, subject=_("Your report {reference}").format(reference=rep.reference),
                 body="\n".join(lines),
                 organisation_id=rep.organisation_id, related=("env_report", rep.id), sensitive=True)


def submit_report(org_id: int, data: dict[str, Any], photos: Sequence[bytes] = (), *, channel: str = "web",
                  ip: str = "", actor: Actor | None = None, check_limits: bool = True,
                  public_only: bool | None = None) -> Submitted:
    """Open a report: a case with a value demand in the organisation's module, the report row, the reporter as a
    follower when they gave an email, up to three photos, and the confirmation email, all in one transaction
    (photo files are stored first, under temporary names renamed into place, and removed again if it fails).

    ``data``: ``category_id``; where (``uprn``, ``usrn`` or ``latitude`` + ``longitude``); ``description``;
    optional ``name``, ``email``, ``phone``; ``consent`` (must be true when contact details are given);
    ``website`` is the honeypot and must be empty. Per-IP and per-email limits are counted in the database.
    ``public_only``: only a category marked public will do (default: for the web form's channel)."""
    if str(data.get("website") or "").strip():
        raise ValidationFailed(_("Your report could not be sent."), {"website": "honeypot"})
    description = _text(data.get("description"), "description", MAX_DESCRIPTION, required=True,
                        label="a description of the problem")
    name = _line(data.get("name"), "name", 120, "your name")
    email = check_email(data.get("email"))
    phone = _phone(data.get("phone"))
    if (name or email or phone) and not data.get("consent"):
        raise ValidationFailed(_("Confirm that we may use your contact details about this report, or leave them out."),
                               {"consent": "required"})
    cleaned = _clean_photos(photos)
    if check_limits:
        throttles.count_submission(ip, email)
    written: list[str] = []
    try:
        with write_session() as s:
            org_name, module, category, dtype, channel_row = _submission_facts(
                s, org_id, data.get("category_id"), channel, channel == "web" if public_only is None else public_only)
            loc = _locate(s, org_id, uprn=data.get("uprn"), usrn=data.get("usrn"), latitude=data.get("latitude"),
                          longitude=data.get("longitude"))
            who = actor or _public_actor(org_id, channel)
            category_name = category.public_name or dtype.name
            # The confirmation names the category in the page's language (its Welsh name where written).
            shown_name = welsh.pick(category.public_name, category.public_name_cy) or dtype.name
            language = i18n.current()
            pending: list[audit.Pending] = []
            case = casework_cases.open_case_in(s, who, module, f"{category_name}: {loc.label}"[:200], pending,
                                               place_id=loc.place_id, uprn=loc.uprn,
                                               audit_after={"channel": channel})
            demand = casework_cases.add_demand_in(s, case, dtype, pending, demand_class=DemandClass.VALUE,
                                                  description=description, channel=channel_row)
            now = utcnow()
            token = _report_token(case.id)
            rep = Report(organisation_id=org_id, module_id=module.id, case_id=case.id, demand_id=demand.id,
                         category_id=category.id, reference=reference_of(case.id), status=ReportStatus.RECEIVED,
                         place_id=loc.place_id, uprn=loc.uprn, usrn=loc.usrn, latitude=loc.latitude,
                         longitude=loc.longitude, easting=loc.easting, northing=loc.northing,
                         location_text=loc.label[:300], description=description, reporter_name=name,
                         reporter_email=email, reporter_phone=phone, token_hash=_hash(token), channel=channel,
                         due_at=_due_at(now, category.promise_days), created_at=now, updated_at=now)
            s.add(rep)
            s.flush()
            s.add(ReportUpdate(organisation_id=org_id, report_id=rep.id, kind="status", is_public=True,
                               status=ReportStatus.RECEIVED, body="", created_at=now))
            if email:
                s.add(ReportFollower(organisation_id=org_id, report_id=rep.id, email=email, name=name,
                                     token_hash=_hash(token), language=language))
            photo_ids = _store_photos(s, org_id, rep.id, cleaned, written)
            promise = promise_text(shown_name, category.promise_days)
            if email:
                _queue_confirmation(s, org_name, rep, shown_name, promise, token)
            pending.append(audit.Pending("env_report", rep.id, "submitted",
                                         after={"reference": rep.reference, "category": category_name,
                                                "uprn": loc.uprn, "usrn": loc.usrn, "channel": channel,
                                                "photos": len(photo_ids), "email_given": bool(email)}))
            audit.record_many(s, who, pending, organisation_id=org_id)
            result = Submitted(rep.id, rep.reference, case.id, token, tracking_path(rep.reference, token),
                               bool(email), promise)
    except BaseException:
        _unwrite(written)
        raise
    return result


# --- the public side of an existing report ------------------------------------------------------------------------


def _by_reference(s: Session, reference: Any, lock: bool = False) -> Report:
    case_id = parse_reference(reference)
    query = select(Report).where(Report.case_id == case_id)
    if lock:
        query = query.with_for_update()
    rep = s.exec(query).first()
    if rep is None:
        raise NotFound("No report has that reference.")
    return rep


def _token_holder(s: Session, rep: Report, token: Any) -> ReportFollower | None | bool:
    """The follower the token belongs to, True for the reporter's token without a follower row, or False."""
    text = str(token or "").strip()
    if not text or len(text) > 100:
        return False
    digest = _hash(text)
    follower = s.exec(select(ReportFollower).where(ReportFollower.report_id == rep.id,
                                                   ReportFollower.token_hash == digest)).first()
    if follower is not None:
        return follower
    return hmac.compare_digest(rep.token_hash, digest)


def _by_token(s: Session, reference: Any, token: Any, lock: bool = False) -> tuple[Report, ReportFollower | None]:
    try:
        rep = _by_reference(s, reference, lock)
    except NotFound:
        raise NotFound(_("We could not find a report with that reference and link.")) from None
    holder = _token_holder(s, rep, token)
    if holder is False:
        raise NotFound(_("We could not find a report with that reference and link."))
    return rep, holder if isinstance(holder, ReportFollower) else None


def _photos(s: Session, report_id: int) -> dict[int | None, list[PhotoRef]]:
    out: dict[int | None, list[PhotoRef]] = {}
    for p in s.exec(select(ReportPhoto).where(ReportPhoto.report_id == report_id).order_by(ReportPhoto.id)).all():
        out.setdefault(p.update_id, []).append(PhotoRef(p.id, p.content_type, p.width, p.height))
    return out


def _timeline(s: Session, rep: Report, public_only: bool, photos: dict[int | None, list[PhotoRef]]
              ) -> list[TimelineEntry]:
    query = select(ReportUpdate).where(ReportUpdate.report_id == rep.id,
                                       ReportUpdate.organisation_id == rep.organisation_id)
    if public_only:
        query = query.where(ReportUpdate.is_public == True)  # noqa: E712
    rows = s.exec(query.order_by(ReportUpdate.created_at, ReportUpdate.id)).all()
    return [TimelineEntry(u.id, u.created_at, u.kind, u.status, REPORT_LABELS.get(u.status, "") if u.status else "",
                          u.body, u.author_name if public_only else (u.author_name or ""), u.is_public,
                          photos.get(u.id, []), u.body_cy) for u in rows]


def _steps(s: Session, rep: Report) -> list[tuple[str, str, datetime | None]]:
    reached: dict[str, datetime] = {}
    for status, at in s.exec(select(ReportUpdate.status, ReportUpdate.created_at)
                             .where(ReportUpdate.report_id == rep.id, ReportUpdate.kind == "status")
                             .order_by(ReportUpdate.created_at, ReportUpdate.id)).all():
        reached[status] = at
    return [(st, REPORT_LABELS[st], reached.get(st)) for st in ReportStatus]


def _track_view(s: Session, rep: Report, follower: ReportFollower | None) -> TrackView:
    org_name, org_welsh = s.exec(select(Organisation.name, Organisation.welsh_enabled)
                                 .where(Organisation.id == rep.organisation_id)).first() or ("", False)
    category = s.get(ReportCategory, rep.category_id)
    name = _category_name(s, category) if category else ""
    photos = _photos(s, rep.id)
    following = None if follower is None else follower.stopped_at is None
    return TrackView(rep.id, rep.reference, org_name, name,
                     promise_text(name, category.promise_days) if category else "", rep.status,
                     REPORT_LABELS[rep.status], rep.close_reason, rep.location_text, rep.latitude, rep.longitude,
                     rep.description, rep.created_at, rep.due_at, _steps(s, rep),
                     _timeline(s, rep, True, photos), photos.get(None, []), rep.status in ReportStatus.OPEN,
                     following, bool(org_welsh))


def track(reference: Any, token: Any) -> TrackView:
    """The tracking page of a report, for the holder of its link's token (the reporter's or a follower's)."""
    with read_session() as s:
        rep, follower = _by_token(s, reference, token)
        return _track_view(s, rep, follower)


def track_by_email(reference: Any, email: Any, ip: str = "") -> tuple[TrackView, str]:
    """The tracking page for reference + the email given with the report (or as a follower): answers the view and a
    fresh token for that follower (so the page can carry on with the token). Failed tries are limited per
    reference and per IP (``throttles.guarded``)."""
    address = check_email(email, required=True)

    def lookup() -> tuple[TrackView, str]:
        with write_session() as s:
            try:
                rep = _by_reference(s, reference)
            except NotFound:
                raise ValidationFailed(_("We could not find a report with that reference and email address."),
                                       {"report": "not found"}) from None
            follower = s.exec(select(ReportFollower).where(ReportFollower.report_id == rep.id,
                                                           func.lower(ReportFollower.email) == address.lower())
                              ).first()
            if follower is None:
                raise ValidationFailed(_("We could not find a report with that reference and email address."),
                                       {"report": "not found"})
            return _track_view(s, rep, follower), _follower_token(rep, follower)

    return throttles.guarded("report", str(reference or ""), ip, lookup)


def add_information(reference: Any, token: Any, text: Any, photos: Sequence[bytes] = (), *, ip: str = "",
                    check_limits: bool = True) -> int:
    """More information or photos from the reporter or a follower: a public timeline entry on an open report."""
    body = _text(text, "information", MAX_UPDATE, label="the information")
    cleaned = _clean_photos(photos)
    if not body and not cleaned:
        raise ValidationFailed(_("Enter the information or add a photo."), {"information": "required"})
    if check_limits:
        throttles.count_submission(ip, "")
    written: list[str] = []
    try:
        with write_session() as s:
            rep, follower = _by_token(s, reference, token, lock=True)
            if rep.status not in ReportStatus.OPEN:
                raise Conflict("This report is closed, so information can no longer be added. Make a new report "
                               "if the problem is back.")
            now = utcnow()
            update = ReportUpdate(organisation_id=rep.organisation_id, report_id=rep.id, kind="resident",
                                  is_public=True, body=body,
                                  author_name=(follower.name if follower else rep.reporter_name) or "Resident",
                                  created_at=now)
            s.add(update)
            s.flush()
            photo_ids = _store_photos(s, rep.organisation_id, rep.id, cleaned, written, update_id=update.id)
            rep.updated_at = now
            s.add(rep)
            audit.record(s, _public_actor(rep.organisation_id), "env_report", rep.id, "information_added",
                         after={"update_id": update.id, "photos": len(photo_ids)})
            return update.id
    except BaseException:
        _unwrite(written)
        raise


def stop_updates(reference: Any, token: Any) -> bool:
    """One click: the holder of a follower's token gets no more updates. True when they were following."""
    with write_session() as s:
        rep, follower = _by_token(s, reference, token)
        if follower is None or follower.stopped_at is not None:
            return False
        follower.stopped_at = utcnow()
        s.add(follower)
        audit.record(s, _public_actor(rep.organisation_id), "env_report", rep.id, "unfollowed",
                     after={"follower_id": follower.id})
        return True


def _follow_in(s: Session, rep: Report, email: str, name: str) -> tuple[ReportFollower, str]:
    """Add (or start again) a follower, written to in the language of the page they followed on."""
    follower = s.exec(select(ReportFollower).where(ReportFollower.report_id == rep.id,
                                                   func.lower(ReportFollower.email) == email.lower())).first()
    if follower is None:
        follower = ReportFollower(organisation_id=rep.organisation_id, report_id=rep.id, email=email, name=name,
                                  token_hash=_hash(_derive("env-follower", rep.id, email.lower())),
                                  language=i18n.current())
    else:
        follower.stopped_at = None
        follower.name = name or follower.name
        follower.language = i18n.current()
    s.add(follower)
    s.flush()
    return follower, _follower_token(rep, follower)


def _queue_follow_email(s: Session, rep: Report, email: str, token: str) -> None:
    org_name = s.exec(select(Organisation.name).where(Organisation.id == rep.organisation_id)).first() or ""
    body = "\n".join([_("You are now following report {reference} to {council} ({where}).").format(
        reference=rep.reference, council=org_name, where=rep.location_text), "",
        _("See its progress or stop these emails:"), tracking_link(rep.reference, token)])
    outbox.queue(s, to=email, subject=_("You are following report {reference}").format(reference=rep.reference),
                 body=body,
                 organisation_id=rep.organisation_id, related=("env_report", rep.id), sensitive=True)


def follow(org_id: int, reference: Any, email: Any, name: Any = "", *, ip: str = "",
           check_limits: bool = True) -> Followed:
    """Follow an open report of the organisation by email (from "Is it one of these?" without adding a repeat).
    The new token is emailed to that address only, so following does not open the report to whoever asks."""
    address = check_email(email, required=True)
    who = _line(name, "name", 120, "your name")
    if check_limits:
        throttles.count_submission(ip, address)
    with write_session() as s:
        rep = _by_reference(s, reference)
        if rep.organisation_id != org_id:
            raise NotFound("No report has that reference.")
        if rep.status not in ReportStatus.OPEN:
            raise Conflict(_("That report is closed; it can no longer be followed."))
        follower, token = _follow_in(s, rep, address, who)
        _queue_follow_email(s, rep, address, token)
        audit.record(s, _public_actor(org_id), "env_report", rep.id, "followed", after={"follower_id": follower.id})
        return Followed(rep.id, rep.reference, token, tracking_path(rep.reference, token))


def unfollow(reference: Any, token: Any) -> bool:
    """``stop_updates`` under the name the staff and Open311 code use."""
    return stop_updates(reference, token)


def add_repeat(org_id: int, reference: Any, data: dict[str, Any] | None = None, *, channel: str = "web",
               ip: str = "", actor: Actor | None = None, check_limits: bool = True) -> Followed | None:
    """"It is one of these": a repeat report of an open report. Records a *failure demand* on its case (the
    problem was reported again), counts the repeat, notes it on the timeline, and when an email is given adds that
    person as a follower (their token is emailed and answered). Answers None when no email was given."""
    data = data or {}
    if str(data.get("website") or "").strip():
        raise ValidationFailed(_("Your report could not be sent."), {"website": "honeypot"})
    address = check_email(data.get("email"))
    who_name = _line(data.get("name"), "name", 120, "your name")
    note = _text(data.get("description"), "description", MAX_DESCRIPTION, label="the description")
    if check_limits:
        throttles.count_submission(ip, address)
    with write_session() as s:
        rep = _by_reference(s, reference, lock=True)
        if rep.organisation_id != org_id:
            raise NotFound("No report has that reference.")
        if rep.status not in ReportStatus.OPEN:
            raise Conflict(_("That report is closed; make a new report if the problem is back."))
        case = s.get(Case, rep.case_id)
        category = s.get(ReportCategory, rep.category_id)
        dtype = s.get(CaseLookup, category.demand_type_id)
        who = actor or _public_actor(org_id, channel)
        pending: list[audit.Pending] = []
        casework_cases.add_demand_in(s, case, dtype, pending, demand_class=DemandClass.FAILURE,
                                     description=note or "Reported again", channel=_channel(s, org_id, channel))
        now = utcnow()
        rep.repeat_count += 1
        rep.updated_at = now
        s.add(rep)
        s.add(ReportUpdate(organisation_id=org_id, report_id=rep.id, kind="repeat", is_public=False, body=note,
                           author_name=who_name, created_at=now))
        out = None
        if address:
            _follower, token = _follow_in(s, rep, address, who_name)
            _queue_follow_email(s, rep, address, token)
            out = Followed(rep.id, rep.reference, token, tracking_path(rep.reference, token))
        pending.append(audit.Pending("env_report", rep.id, "repeat_reported",
                                     after={"repeat_count": rep.repeat_count, "channel": channel,
                                            "follower_added": bool(address)}))
        audit.record_many(s, who, pending, organisation_id=org_id)
        return out


# --- staff: updates, notes, status, assignment --------------------------------------------------------------------


def _staff_report(s: Session, org_id: int, report_id: Any, lock: bool = False) -> Report:
    """A report of the organisation by id or reference (ids from the browser checked in SQL)."""
    text = str(report_id or "").strip()
    if text.upper().startswith("ENV"):
        query = select(Report).where(Report.case_id == parse_reference(text), Report.organisation_id == org_id)
    else:
        rid = bounds.id_or_none(text)
        if rid is None:
            raise NotFound("No such report.")
        query = select(Report).where(Report.id == rid, Report.organisation_id == org_id)
    if lock:
        query = query.with_for_update()
    rep = s.exec(query).first()
    if rep is None:
        raise NotFound("No such report.")
    return rep


def _followers(s: Session, rep: Report) -> list[ReportFollower]:
    return list(s.exec(select(ReportFollower).where(ReportFollower.report_id == rep.id,
                                                    ReportFollower.stopped_at.is_(None))
                       .order_by(ReportFollower.id)).all())


def follower_language(follower: ReportFollower, welsh_enabled: bool) -> str:
    """The language a follower is written to in (``welsh.correspondence_language``: the page language they
    reported or followed on, Welsh only while the organisation offers it)."""
    return welsh.correspondence_language(getattr(follower, "language", None), welsh_enabled)


def _notify(s: Session, rep: Report, subject: Any, text_for: Any) -> int:
    """Queue an email to every current follower, each in their own language; ``subject()`` and
    ``text_for(follower, token)`` are called in it, and the body ends with the follower's own link. Returns how
    many were queued."""
    sent = 0
    welsh_enabled = bool(s.exec(select(Organisation.welsh_enabled)
                                .where(Organisation.id == rep.organisation_id)).first())
    for follower in _followers(s, rep):
        token = _follower_token(rep, follower)
        with i18n.using(follower_language(follower, welsh_enabled)):
            body = text_for(follower, token)
            body += "\n\n" + _("See your report or stop these emails: {link}").format(
                link=tracking_link(rep.reference, token))
            title = subject() if callable(subject) else subject
        outbox.queue(s, to=follower.email, subject=title, body=body, organisation_id=rep.organisation_id,
                     related=("env_report", rep.id), sensitive=True)
        sent += 1
    return sent


def _author(actor: Actor) -> str:
    return actor.full_name or actor.username or "Staff"


def public_update(actor: Actor, report_id: Any, body: Any, photos: Sequence[bytes] = (),
                  notify: bool = True) -> int:
    """A staff update the public sees on the tracking page (and Open311's servicerequestupdates); emailed to
    followers unless ``notify`` is false. Answers the update id."""
    org_id = _manage(actor)
    text = _text(body, "body", MAX_UPDATE, required=True, label="the update")
    cleaned = _clean_photos(photos)
    written: list[str] = []
    try:
        with write_session() as s:
            rep = _staff_report(s, org_id, report_id, lock=True)
            now = utcnow()
            update = ReportUpdate(organisation_id=org_id, report_id=rep.id, kind="public", is_public=True,
                                  status=rep.status, body=text, author_user_id=actor.user_id,
                                  author_name=_author(actor), created_at=now)
            s.add(update)
            s.flush()
            _store_photos(s, org_id, rep.id, cleaned, written, update_id=update.id)
            rep.updated_at = now
            s.add(rep)
            sent = _notify(s, rep, lambda: _("Update on your report {reference}").format(reference=rep.reference),
                           lambda f, t: text) if notify else 0
            audit.record(s, actor, "env_report", rep.id, "public_update",
                         after={"update_id": update.id, "body": text, "emails": sent})
            return update.id
    except BaseException:
        _unwrite(written)
        raise


def internal_note(actor: Actor, report_id: Any, body: Any) -> int:
    """A note for staff only: never on the tracking page, in emails or in Open311."""
    org_id = _manage(actor)
    text = _text(body, "body", MAX_UPDATE, required=True, label="the note")
    with write_session() as s:
        rep = _staff_report(s, org_id, report_id)
        update = ReportUpdate(organisation_id=org_id, report_id=rep.id, kind="internal", is_public=False,
                              body=text, author_user_id=actor.user_id, author_name=_author(actor))
        s.add(update)
        s.flush()
        audit.record(s, actor, "env_report", rep.id, "internal_note", after={"update_id": update.id})
        return update.id


def _response_of(s: Session, rep: Report, status: str) -> ReportResponse | None:
    """The category's own template response for ``status`` (None: the shipped wording)."""
    return s.exec(select(ReportResponse).where(ReportResponse.category_id == rep.category_id,
                                               ReportResponse.status == status)).first()


def _response_text(s: Session, rep: Report, status: str, reason: str, name_of_follower: str, link: str,
                   org_name: str, row: ReportResponse | None) -> str:
    """The template response ``row`` for ``status`` (``_response_of``) in the current language
    (``response_source``), its dates by Babel's ``cy`` or ``en_GB`` locale."""
    category = s.get(ReportCategory, rep.category_id)
    name = _category_name(s, category) if category else ""
    source = response_source(row, status, i18n.current())
    context = {"report": {"reference": rep.reference, "category": name, "location": rep.location_text,
                          "status": _(REPORT_LABELS[status]), "reason": reason,
                          "promise": promise_text(name, category.promise_days) if category else "",
                          "tracking_link": link, "date": i18n.long_date(rep.updated_at or utcnow()),
                          "due_date": i18n.long_date(rep.due_at) if rep.due_at else ""},
               "organisation": {"name": org_name}, "name": name_of_follower}
    return templating.render(source, context, RESPONSE_FIELDS, "response")


def change_status(actor: Actor, report_id: Any, status: str, *, reason: str = "", message: str = "",
                  notify: bool = True) -> int:
    """Move a report on (received → with the team → in progress → fixed → closed, with a reason to close). The
    category's template response for the new status (or ``message`` when staff wrote one) is the public timeline
    entry and goes to followers through the outbox. Fixed or closed meets the case's need (end-to-end time) and
    closes the case on close. Answers the update id."""
    org_id = _manage(actor)
    if status not in tuple(ReportStatus):
        raise ValidationFailed("Choose a status.", {"status": "invalid"})
    reason = _line(reason, "reason", 200, "the reason")
    message = _text(message, "message", MAX_UPDATE, label="the message")
    if status == ReportStatus.CLOSED and not reason:
        raise ValidationFailed("Give the reason the report is closed.", {"reason": "required"})
    with write_session() as s:
        rep = _staff_report(s, org_id, report_id, lock=True)
        if status == rep.status:
            raise Conflict(f"The report is already {REPORT_LABELS[status].lower()}.")
        if status not in NEXT_STATUSES[rep.status]:
            raise Conflict(f"A report that is {REPORT_LABELS[rep.status].lower()} cannot become "
                           f"{REPORT_LABELS[status].lower()}.")
        org_name, org_welsh = s.exec(select(Organisation.name, Organisation.welsh_enabled)
                                     .where(Organisation.id == org_id)).first() or ("", False)
        before = rep.status
        now = utcnow()
        rep.status, rep.updated_at = status, now
        if status == ReportStatus.CLOSED:
            rep.close_reason, rep.closed_at = reason, now
        s.add(rep)
        # The public entry: what staff wrote, or the template response addressed to nobody in particular.
        response = None if message else _response_of(s, rep, status)
        public_text = message or _response_text(s, rep, status, reason, "", "", org_name, response)
        public_text_cy = ""
        if not message and org_welsh:  # and its Welsh for the Welsh tracking page
            with i18n.using(i18n.CY):
                public_text_cy = _response_text(s, rep, status, reason, "", "", org_name, response)
        update = ReportUpdate(organisation_id=org_id, report_id=rep.id, kind="status", is_public=True,
                              status=status, body=public_text.strip(), body_cy=public_text_cy.strip(),
                              author_user_id=actor.user_id, author_name=_author(actor), created_at=now)
        s.add(update)
        s.flush()
        demand = s.get(Demand, rep.demand_id)
        if status in ReportStatus.DONE and demand is not None and demand.need_met_at is None:
            demand.need_met_at = now
            s.add(demand)
        elif status in ReportStatus.OPEN and demand is not None and demand.need_met_at is not None:
            demand.need_met_at = None
            s.add(demand)
        if status == ReportStatus.CLOSED:
            case = s.get(Case, rep.case_id)
            if case is not None and case.status != "closed":
                case.status, case.closed_at = "closed", now
                s.add(case)
        sent = 0
        if notify:
            sent = _notify(s, rep, lambda: _("Your report {reference}: {status}").format(
                               reference=rep.reference, status=_(REPORT_LABELS[status])),
                           lambda f, t: message or _response_text(s, rep, status, reason, f.name,
                                                                  tracking_link(rep.reference, t), org_name,
                                                                  response))
        audit.record(s, actor, "env_report", rep.id, "status_changed",
                     before={"status": before}, after={"status": status, "reason": reason, "emails": sent})
        return update.id


def assign(actor: Actor, report_id: Any, *, team_id: Any = None, officer_id: Any = None) -> None:
    """Give a report to a team and/or an officer (empty clears). Assigning a received report to a team moves it to
    "with the team" without a message."""
    org_id = _manage(actor)
    with write_session() as s:
        rep = _staff_report(s, org_id, report_id, lock=True)
        team = None
        if str(team_id or "").strip() not in ("", "0"):
            team = s.exec(select(CaseTeam).where(CaseTeam.id == bounds.parse_id(team_id, "team_id"),
                                                 CaseTeam.organisation_id == org_id,
                                                 CaseTeam.is_active == True)).first()  # noqa: E712
            if team is None:
                raise ValidationFailed("Choose one of your teams.", {"team_id": "unknown"})
        officer = None
        if str(officer_id or "").strip() not in ("", "0"):
            officer = s.exec(select(User).where(User.id == bounds.parse_id(officer_id, "officer_id"),
                                                User.organisation_id == org_id,
                                                User.is_active == True)).first()  # noqa: E712
            if officer is None:
                raise ValidationFailed("Choose a member of staff from the list.", {"officer_id": "unknown"})
        before = {"team_id": rep.team_id, "officer_id": rep.officer_id, "status": rep.status}
        rep.team_id = team.id if team else None
        rep.officer_id = officer.id if officer else None
        now = utcnow()
        if (team or officer) and rep.status == ReportStatus.RECEIVED:
            rep.status = ReportStatus.WITH_TEAM
            s.add(ReportUpdate(organisation_id=org_id, report_id=rep.id, kind="status", is_public=True,
                               status=ReportStatus.WITH_TEAM, body="", author_user_id=actor.user_id,
                               author_name=_author(actor), created_at=now))
        rep.updated_at = now
        s.add(rep)
        audit.record(s, actor, "env_report", rep.id, "assigned", before=before,
                     after={"team_id": rep.team_id, "officer_id": rep.officer_id, "status": rep.status})


# --- staff: reading -----------------------------------------------------------------------------------------------


def _encode_after(key: Any, report_id: int) -> str:
    raw = f"{key.isoformat() if isinstance(key, datetime) else ('' if key is None else key)}|{report_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_after(after: str) -> tuple[str, int] | None:
    try:
        raw = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode()
        key, rid = raw.rsplit("|", 1)
        return key, int(rid)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("That page link is out of date; start again from the first page.",
                               {"after": "invalid"}) from None


SORTS = ("oldest", "newest", "due")


def _rows(s: Session, reports: Sequence[Report], now: datetime) -> list[ReportRow]:
    cats = {c.id: c for c in s.exec(select(ReportCategory).where(
        ReportCategory.id.in_({r.category_id for r in reports}))).all()} if reports else {}
    type_ids = {c.demand_type_id for c in cats.values()}
    types = dict(s.exec(select(CaseLookup.id, CaseLookup.name).where(CaseLookup.id.in_(type_ids))).all()) \
        if type_ids else {}
    team_ids = {r.team_id for r in reports if r.team_id}
    teams = dict(s.exec(select(CaseTeam.id, CaseTeam.name).where(CaseTeam.id.in_(team_ids))).all()) \
        if team_ids else {}
    user_ids = {r.officer_id for r in reports if r.officer_id}
    users = dict(s.exec(select(User.id, User.full_name).where(User.id.in_(user_ids))).all()) if user_ids else {}
    out = []
    for r in reports:
        c = cats.get(r.category_id)
        name = (c.public_name or types.get(c.demand_type_id, "")) if c else ""
        out.append(ReportRow(r.id, r.reference, r.case_id, r.category_id, name, r.status, REPORT_LABELS[r.status],
                             r.location_text, r.uprn, r.usrn, r.latitude, r.longitude, r.team_id,
                             teams.get(r.team_id, ""), r.officer_id, users.get(r.officer_id, ""), r.created_at,
                             r.due_at, bool(r.due_at and r.status in ReportStatus.OPEN and r.due_at < now),
                             r.repeat_count, r.channel))
    return out


def bbox_to_grid(bbox: Sequence[Any]) -> tuple[float, float, float, float]:
    """(min lng, min lat, max lng, max lat) in WGS84 as a grid box (min e, min n, max e, max n) holding it."""
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ValidationFailed("The map box must be four numbers: west, south, east, north.",
                               {"bbox": "invalid"}) from None
    geo.parse_lat_lng(south, west, "bbox")
    geo.parse_lat_lng(north, east, "bbox")
    if west > east or south > north:
        raise ValidationFailed("The map box must run west to east and south to north.", {"bbox": "invalid"})
    corners = [geo.to_bng(lat, lng) for lat in (south, north) for lng in (west, east)]
    es, ns = [c[0] for c in corners], [c[1] for c in corners]
    return min(es), min(ns), max(es), max(ns)


def list_reports(actor: Actor, *, category_id: Any = None, status: Any = None, team_id: Any = None,
                 officer_id: Any = None, overdue: bool = False, open_only: bool = True,
                 bbox: Sequence[Any] | None = None, sort: str = "oldest", after: str | None = None,
                 limit: int = 50) -> ReportPage:
    """The staff list of the organisation's reports, filtered (category, status, team, officer, overdue against
    the promise, a WGS84 map box ``(west, south, east, north)``), sorted by age or time left (``due``), one page
    at a time: pass the answer's ``next_after`` as ``after`` for the next (keyset, so page 1000 costs what page 1
    does). ``officer_id="me"`` is the actor. ``status`` may be a status or a list of them."""
    org_id = _view(actor)
    if sort not in SORTS:
        raise ValidationFailed("Choose how to sort.", {"sort": "invalid"})
    limit = max(1, min(int(limit), 500))
    now = utcnow()
    query = select(Report).where(Report.organisation_id == org_id)
    if status not in (None, "", []):
        wanted = [status] if isinstance(status, str) else list(status)
        if any(w not in tuple(ReportStatus) for w in wanted):
            raise ValidationFailed("Choose a status.", {"status": "invalid"})
        query = query.where(Report.status.in_(wanted))
    elif open_only:
        query = query.where(sql_text("env_report." + OPEN_SQL))
    if str(category_id or "").strip():
        query = query.where(Report.category_id == bounds.query_id(bounds.parse_id(category_id, "category_id")))
    if str(team_id or "").strip():
        query = query.where(Report.team_id == bounds.parse_id(team_id, "team_id"))
    if str(officer_id or "").strip():
        query = query.where(Report.officer_id == (actor.user_id if officer_id == "me"
                                                  else bounds.parse_id(officer_id, "officer_id")))
    if overdue:
        # Through an expression (NULL, no promise, is never less), so the planner takes the status/time index
        # rather than reading every overdue report through the due-time index (most are overdue in a busy queue).
        due = func.coalesce(Report.due_at, Report.due_at, type_=Report.due_at.type)
        query = query.where(due < now, Report.status.in_(ReportStatus.OPEN))
    if bbox is not None:
        e0, n0, e1, n1 = bbox_to_grid(bbox)
        if (e1 - e0) * (n1 - n0) > 100_000.0 ** 2:
            raise ValidationFailed("Zoom in: the map shows reports for at most 100 km by 100 km.",
                                   {"bbox": "too large"})
        query = query.where(Report.easting.between(e0, e1), Report.northing.between(n0, n1))
    column = Report.due_at if sort == "due" else Report.created_at
    if sort == "due":
        query = query.where(Report.due_at.is_not(None))
    cursor = _decode_after(after) if after else None
    if cursor is not None:
        key = datetime.fromisoformat(cursor[0])
        if sort == "newest":
            query = query.where(tuple_(column, Report.id) < tuple_(key, cursor[1]))
        else:
            query = query.where(tuple_(column, Report.id) > tuple_(key, cursor[1]))
    order = (column.desc(), Report.id.desc()) if sort == "newest" else (column, Report.id)
    with read_session() as s:
        reports = s.exec(query.order_by(*order).limit(limit + 1)).all()
        more = len(reports) > limit
        reports = reports[:limit]
        rows = _rows(s, reports, now)
    last = reports[-1] if reports and more else None
    return ReportPage(rows, _encode_after(last.due_at if sort == "due" else last.created_at, last.id)
                      if last else None)


def get_report(actor: Actor, report_id: Any) -> ReportDetail:
    """One report for staff: its timeline with internal notes, photos, contact details, where it can go next."""
    org_id = _view(actor)
    with read_session() as s:
        rep = _staff_report(s, org_id, report_id)
        photos = _photos(s, rep.id)
        followers = s.exec(select(func.count()).select_from(ReportFollower)
                           .where(ReportFollower.report_id == rep.id, ReportFollower.stopped_at.is_(None))).one()
        return ReportDetail(_rows(s, [rep], utcnow())[0], rep.description, rep.reporter_name, rep.reporter_email,
                            rep.reporter_phone, rep.close_reason, rep.easting, rep.northing, int(followers),
                            _timeline(s, rep, False, photos), [p for ps in photos.values() for p in ps],
                            list(NEXT_STATUSES[rep.status]))


def public_updates_since(org_id: int, start: datetime | None = None, end: datetime | None = None,
                         limit: int = 1000) -> list[tuple[TimelineEntry, str]]:
    """Public timeline entries of the organisation's reports in a time window, oldest first, with each report's
    reference (what an Open311 client polls as service request updates)."""
    with read_session() as s:
        query = (select(ReportUpdate, Report.reference).join(Report, Report.id == ReportUpdate.report_id)
                 .where(ReportUpdate.organisation_id == org_id, ReportUpdate.is_public == True))  # noqa: E712
        if start is not None:
            query = query.where(ReportUpdate.created_at >= start)
        if end is not None:
            query = query.where(ReportUpdate.created_at <= end)
        rows = s.exec(query.order_by(ReportUpdate.created_at, ReportUpdate.id).limit(max(1, min(limit, 10_000)))
                      ).all()
        return [(TimelineEntry(u.id, u.created_at, u.kind, u.status, REPORT_LABELS.get(u.status, ""), u.body,
                               u.author_name, True), ref) for u, ref in rows]


# --- photos -------------------------------------------------------------------------------------------------------


def photo_for_public(reference: Any, token: Any, photo_id: Any) -> tuple[bytes, str]:
    """A report's photo for the holder of its tracking token: (bytes, content type), or NotFound."""
    pid = bounds.id_or_none(photo_id)
    with read_session() as s:
        rep, _ = _by_token(s, reference, token)
        photo = s.exec(select(ReportPhoto).where(ReportPhoto.id == (pid or 0), ReportPhoto.report_id == rep.id)
                       ).first() if pid else None
        if photo is None:
            raise NotFound("No such photo.")
    return storage.open(photo.sha256), photo.content_type


def photo_for_staff(actor: Actor, photo_id: Any) -> tuple[bytes, str]:
    """A photo of one of the actor's organisation's reports."""
    org_id = _view(actor)
    pid = bounds.id_or_none(photo_id)
    with read_session() as s:
        photo = s.exec(select(ReportPhoto).where(ReportPhoto.id == (pid or 0),
                                                 ReportPhoto.organisation_id == org_id)).first() if pid else None
        if photo is None:
            raise NotFound("No such photo.")
    return storage.open(photo.sha256), photo.content_type
