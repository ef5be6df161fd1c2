"""Open311 GeoReport v2 over the Environmental Services Ticketing reports: who is asking, and each endpoint's content
as plain dicts for the format layer (``api/open311.py``) to write as XML or JSON.

* The organisation: ``api_key`` is one of its API tokens (``platform.api_tokens``); ``jurisdiction_id`` is its slug.
  A POST and the updates feed need the key; the public reads (services, requests) accept either. Both given and
  naming different organisations is refused. An organisation without the module turned on has no Open311 service.
* A service is a category of the module (``service_code`` = the category's id); only public categories are offered.
* A service request is a report: ``service_request_id`` is its reference (``ENV-000123``). A new one is made through
  the module's ``submit_report`` with channel ``open311`` (the reporter's email, when given, becomes a follower and
  gets the same confirmation as on the web). ``address_id`` is a UPRN; an ``address_string`` is looked up in the
  organisation's own gazetteer (the first match).
* ``servicerequestupdates`` lists the public timeline entries staff made (status changes with their template
  response, public updates) in the window asked for; residents' own entries are not echoed back. A posted update
  is a resident's comment on the case's public timeline, kept once per the site's ``update_id``. Both are a
  feature in preview (``previews.OPEN311_UPDATES``): refused (403) for an organisation that has not switched it on.
* A ``token`` is the reference signed with the installation's secret, so ``tokens/{token}`` needs no table.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from atlas_app.db import glance, read_session, utcnow, write_session
from atlas_app.domain.statuses import ReportStatus
from atlas_app.models import Organisation
from atlas_app.models.casework import CaseLookup, CaseModule
from atlas_app.models.environmental import Report, ReportCategory, ReportUpdate
from atlas_app.services.modules.environmental_ticketing import MODULE_TYPE, reports
from atlas_app.services.platform import api_tokens, audit, previews
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import (
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings

MAX_REQUESTS = 1000  # GET requests answers at most this many, newest first (the standard's servers cap too)
MAX_UPDATES = 1000
DEFAULT_WINDOW_DAYS = 90  # GET requests without dates: the last 90 days

# GeoReport's status is open or closed; the updates feed speaks FixMyStreet's finer states (its map_state reads
# them: "investigating", "in_progress", "fixed", "closed").
OPEN311_STATUS = {ReportStatus.RECEIVED: "open", ReportStatus.WITH_TEAM: "open", ReportStatus.IN_PROGRESS: "open",
                  ReportStatus.FIXED: "closed", ReportStatus.CLOSED: "closed"}
UPDATE_STATUS = {ReportStatus.RECEIVED: "open", ReportStatus.WITH_TEAM: "investigating",
                 ReportStatus.IN_PROGRESS: "in_progress", ReportStatus.FIXED: "fixed", ReportStatus.CLOSED: "closed"}


class Caller:
    """The organisation asking, and whether it proved it with an API token."""

    def __init__(self, organisation_id: int, slug: str, name: str, actor: Actor | None) -> None:
        self.organisation_id = organisation_id
        self.slug = slug
        self.name = name
        self.actor = actor  # None for a public read named by jurisdiction_id only


def _open311_actor(base: Actor) -> Actor:
    """The token's API actor, allowed the module's case work (the token's organisation only)."""
    return Actor(user_id=None, username=base.username.replace("api:", "open311:", 1), organisation_id=base.organisation_id,
                 home_organisation_id=base.organisation_id,
                 permissions=frozenset({Perm.CASES_VIEW.value, Perm.CASES_MANAGE.value}),
                 full_name=base.full_name)


def caller(api_key: str | None, jurisdiction_id: str | None) -> Caller:
    """Who is asking. A bad key is refused (403), an unknown jurisdiction is a 404, and a key of another
    organisation than the jurisdiction named is refused (403)."""
    with glance() as conn:   # two reads on one connection, outside any transaction
        return _caller(conn, api_key, jurisdiction_id)


def _caller(conn, api_key: str | None, jurisdiction_id: str | None) -> Caller:
    actor = None
    org_id = None
    if api_key:
        base = api_tokens.authenticate(api_key, connection=conn)
        if base is None:
            raise NotAuthenticated("api_key is not valid (unknown or revoked).")
        actor = _open311_actor(base)
        org_id = base.organisation_id
    # One query: the organisation (by slug or by the token's) with its module of this type turned on.
    query = (select(Organisation.id, Organisation.slug, Organisation.name, CaseModule.id)
             .outerjoin(CaseModule, and_(CaseModule.organisation_id == Organisation.id,
                                         CaseModule.module_type == MODULE_TYPE,
                                         CaseModule.is_active == True))  # noqa: E712
             .where(Organisation.is_active == True))  # noqa: E712
    if jurisdiction_id:
        query = query.where(Organisation.slug == jurisdiction_id.strip().lower())
    else:
        query = query.where(Organisation.id == org_id)
    row = conn.execute(query).first()
    if row is None:
        if jurisdiction_id:
            raise NotFound("jurisdiction_id not found.")
        raise NotFound("This jurisdiction has no Open311 service.")
    found_id, slug, name, module_id = row
    if org_id is not None and found_id != org_id:
        raise PermissionDenied("api_key is not valid for this jurisdiction_id.")
    if module_id is None:
        raise NotFound("This jurisdiction has no Open311 service.")
    return Caller(found_id, slug, name, actor)


# --- services -------------------------------------------------------------------------------------------------


def _service(c: reports.CategoryRow) -> dict[str, Any]:
    return {"service_code": str(c.id), "service_name": c.name, "description": c.public_description or c.promise,
            "metadata": True, "type": "realtime", "keywords": c.demand_type, "group": "Environmental services"}


def services(api_key: str | None, jurisdiction_id: str | None) -> list[dict[str, Any]]:
    who = caller(api_key, jurisdiction_id)
    return [_service(c) for c in reports.public_categories(who.organisation_id)]


def _category(who: Caller, service_code: str) -> reports.CategoryRow:
    for c in reports.public_categories(who.organisation_id):
        if str(c.id) == str(service_code).strip():
            return c
    raise NotFound("service_code not found.")


# The attributes every service declares: FixMyStreet fills the ones it knows (its own report id, the British
# National Grid point, the nearest address, and the UPRN when it has one).
ATTRIBUTES = [
    ("fixmystreet_id", "string", False, "The report's id on the report-it site"),
    ("easting", "number", False, "Easting (British National Grid)"),
    ("northing", "number", False, "Northing (British National Grid)"),
    ("closest_address", "string", False, "The nearest address the report-it site found"),
    ("uprn", "string", False, "The UPRN of the place, when known"),
    ("title", "string", False, "A short title of the problem"),
    ("report_url", "string", False, "The report's page on the report-it site"),
]


def service_definition(api_key: str | None, jurisdiction_id: str | None, service_code: str) -> dict[str, Any]:
    who = caller(api_key, jurisdiction_id)
    category = _category(who, service_code)
    return {"service_code": str(category.id), "attributes": [
        {"variable": True, "code": code, "datatype": datatype, "required": required, "datatype_description": "",
         "order": n, "description": description}
        for n, (code, datatype, required, description) in enumerate(ATTRIBUTES, start=1)]}


# --- tokens ---------------------------------------------------------------------------------------------------


def _sign(organisation_id: int, reference: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, f"open311|{organisation_id}|{reference}".encode(), hashlib.sha256).hexdigest()[:32]


def token_for(organisation_id: int, reference: str) -> str:
    return f"{reference}.{_sign(organisation_id, reference)}"


def token(api_key: str | None, jurisdiction_id: str | None, value: str) -> dict[str, Any]:
    who = caller(api_key, jurisdiction_id)
    reference, _, signature = str(value or "").partition(".")
    if not signature or not hmac.compare_digest(signature, _sign(who.organisation_id, reference)):
        raise NotFound("token not found.")
    return {"service_request_id": reference, "token": value}


# --- requests -------------------------------------------------------------------------------------------------


def _description(form) -> str:
    text = (form.description or "").strip()
    title = str(form.attributes.get("title") or "").strip() if isinstance(form.attributes.get("title"), str) else ""
    if not text and title:
        text = title
    return text[:reports.MAX_DESCRIPTION]


def create_request(api_key: str | None, jurisdiction_id: str | None, form) -> dict[str, Any]:
    """A new report from a report-it site: answers ``service_request_id`` (the reference) and its ``token``."""
    who = caller(api_key, jurisdiction_id)
    assert who.actor is not None
    code = str(form.service_code or "").strip()
    if not code.isdigit() or len(code) > 10:
        raise NotFound("service_code not found.")
    data: dict[str, Any] = {"category_id": int(code), "description": _description(form)}
    uprn = form.address_id or (form.attributes.get("uprn") if isinstance(form.attributes.get("uprn"), str) else None)
    if form.lat is not None and form.long is not None:
        data["latitude"], data["longitude"] = form.lat, form.long
        if uprn and str(uprn).strip().isdigit():
            data = {**data, "latitude": None, "longitude": None, "uprn": str(uprn).strip()}
    elif uprn:
        data["uprn"] = str(uprn).strip()
    elif form.address_string:
        found = reports.search_address(who.organisation_id, form.address_string, limit=1)
        if not found:
            raise ValidationFailed("address_string matches no address in this jurisdiction.",
                                   {"address_string": "unknown"})
        data["uprn"] = str(found[0].uprn)
    name = " ".join(p for p in (form.first_name, form.last_name) if p and p != "-")
    if name or form.email or form.phone:
        data.update(name=name, email=form.email or "", phone=form.phone or "", consent=True)
    try:   # the report's own checks say whether the service is one of the public categories
        submitted = reports.submit_report(who.organisation_id, data, channel="open311", actor=who.actor,
                                          check_limits=False, public_only=True)
    except ValidationFailed as exc:
        if "category_id" in exc.errors:
            raise NotFound("service_code not found.") from None
        if exc.errors.get("location") == "unknown" and "uprn" in data:
            raise ValidationFailed("address_id is not a UPRN in this jurisdiction.", exc.errors) from None
        raise
    return {"service_request_id": submitted.reference, "token": token_for(who.organisation_id, submitted.reference),
            "service_notice": submitted.promise, "account_id": form.account_id}


def _request_dict(rep: Report, category: str, notes: str, address: str) -> dict[str, Any]:
    return {"service_request_id": rep.reference, "status": OPEN311_STATUS.get(rep.status, "open"),
            "status_notes": notes, "service_name": category, "service_code": str(rep.category_id),
            "description": rep.description, "agency_responsible": "", "service_notice": "",
            "requested_datetime": rep.created_at, "updated_datetime": rep.updated_at,
            "expected_datetime": rep.due_at, "address": address, "address_id": str(rep.uprn) if rep.uprn else "",
            "zipcode": "", "lat": rep.latitude, "long": rep.longitude, "media_url": ""}


def requests(api_key: str | None, jurisdiction_id: str | None, ids: list[str], service_code: str | None,
             start: datetime | None, end: datetime | None, status: str | None) -> list[dict[str, Any]]:
    """Reports by reference (a comma list), or by category, time window (of the report's making) and
    open/closed. Public fields only: no reporter's details."""
    who = caller(api_key, jurisdiction_id)
    org_id = who.organisation_id
    query = select(Report).where(Report.organisation_id == org_id)
    if ids:
        case_ids = []
        for text in ids:
            try:
                case_ids.append(reports.parse_reference(text))
            except NotFound:
                continue
        if not case_ids:
            return []
        query = query.where(Report.case_id.in_(case_ids))
    else:
        if start is None and end is None:
            start = utcnow() - timedelta(days=DEFAULT_WINDOW_DAYS)
        if start is not None:
            query = query.where(Report.created_at >= start)
        if end is not None:
            query = query.where(Report.created_at <= end)
    if service_code:
        code = service_code.strip()
        if not code.isdigit():
            return []
        query = query.where(Report.category_id == int(code))
    if status == "open":
        query = query.where(Report.status.in_(tuple(ReportStatus.OPEN)))
    elif status == "closed":
        query = query.where(Report.status.in_(tuple(ReportStatus.DONE)))
    with read_session() as s:
        rows = s.exec(query.order_by(Report.created_at.desc(), Report.id.desc()).limit(MAX_REQUESTS)).all()
        names = _category_names(s, org_id)
        notes = _latest_public_notes(s, org_id, [r.id for r in rows])
        return [_request_dict(r, names.get(r.category_id, ""), notes.get(r.id, ""), r.location_text) for r in rows]


def _category_names(s, org_id: int) -> dict[int, str]:
    rows = s.exec(select(ReportCategory.id, ReportCategory.public_name, CaseLookup.name)
                  .join(CaseLookup, CaseLookup.id == ReportCategory.demand_type_id)
                  .where(ReportCategory.organisation_id == org_id)).all()
    return {i: (p or n) for i, p, n in rows}


def _latest_public_notes(s, org_id: int, report_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in (report_ids[i:i + 500] for i in range(0, len(report_ids), 500)):
        for rid, body in s.exec(select(ReportUpdate.report_id, ReportUpdate.body)
                                .where(ReportUpdate.organisation_id == org_id, ReportUpdate.report_id.in_(chunk),
                                       ReportUpdate.is_public == True,
                                       ReportUpdate.kind.in_(("status", "public")), ReportUpdate.body != "")
                                .order_by(ReportUpdate.created_at, ReportUpdate.id)).all():
            out[rid] = body
    return out


# --- service request updates ----------------------------------------------------------------------------------


def _require_updates(organisation_id: int) -> None:
    with read_session() as s:
        previews.require_for_organisation(s, organisation_id, previews.OPEN311_UPDATES.code)


def updates(api_key: str | None, jurisdiction_id: str | None, start: datetime | None,
            end: datetime | None) -> list[dict[str, Any]]:
    """Staff's public timeline entries (status changes and public updates) made in [start, end], oldest first
    (a feature in preview: refused unless the organisation switched it on)."""
    who = caller(api_key, jurisdiction_id)
    org_id = who.organisation_id
    _require_updates(org_id)
    if start is None and end is None:
        start = utcnow() - timedelta(hours=2)
    cond = [ReportUpdate.organisation_id == org_id, ReportUpdate.is_public == True,
            ReportUpdate.kind.in_(("status", "public"))]
    if start is not None:
        cond.append(ReportUpdate.created_at >= start)
    if end is not None:
        cond.append(ReportUpdate.created_at <= end)
    with read_session() as s:
        rows = s.exec(select(ReportUpdate, Report.reference, Report.status)
                      .join(Report, and_(Report.id == ReportUpdate.report_id, Report.organisation_id == org_id))
                      .where(*cond)
                      # The received entry of a new report is not news to the site that sent it.
                      .where(or_(ReportUpdate.kind == "public", ReportUpdate.status != ReportStatus.RECEIVED))
                      .order_by(ReportUpdate.created_at, ReportUpdate.id).limit(MAX_UPDATES)).all()
        return [{"update_id": str(u.id), "service_request_id": ref,
                 "status": UPDATE_STATUS.get(u.status or current, "open"), "updated_datetime": u.created_at,
                 "description": u.body, "media_url": "", "external_status_code": u.status or current}
                for u, ref, current in rows]


def post_update(api_key: str | None, jurisdiction_id: str | None, form) -> dict[str, Any]:
    """A resident's comment from the report-it site: a public timeline entry on the report (an internal note is
    never made this way). Answers the new ``update_id``. A feature in preview, as ``updates``.

    The site's own ``update_id`` is kept with the comment (unique per report): a site that sends the same comment
    again, because it never saw the answer, gets the same ``update_id`` back and the comment stays once. The
    report's row is locked first, so of two copies arriving at once the second finds the first; the unique index
    is the backstop."""
    who = caller(api_key, jurisdiction_id)
    assert who.actor is not None
    org_id = who.organisation_id
    _require_updates(org_id)
    body = " ".join((form.description or "").split("\0"))[:reports.MAX_UPDATE].strip()
    if not body:
        raise ValidationFailed("description is required.", {"description": "required"})
    name = " ".join(p for p in (form.first_name, form.last_name) if p and p != "-")[:120] or "Resident"
    site_id = (form.update_id or "").strip()[:100] or None
    try:
        case_id = reports.parse_reference(form.service_request_id)
    except NotFound:
        raise NotFound("service_request_id not found.") from None
    try:
        with write_session() as s:
            rep = s.exec(select(Report).where(Report.case_id == case_id, Report.organisation_id == org_id)
                         .with_for_update()).first()
            if rep is None:
                raise NotFound("service_request_id not found.")
            if site_id is not None:
                known = _site_update(s, rep.id, site_id)
                if known is not None:
                    return {"update_id": str(known)}
            now = utcnow()
            update = ReportUpdate(organisation_id=org_id, report_id=rep.id, kind="resident", is_public=True,
                                  body=body, author_name=name, site_update_id=site_id, created_at=now)
            s.add(update)
            s.flush()
            rep.updated_at = now
            s.add(rep)
            audit.record(s, who.actor, "env_report", rep.id, "information_added",
                         after={"update_id": update.id, "channel": "open311", "site_update_id": site_id or "",
                                "site_status": (form.status or "")[:40]})
            return {"update_id": str(update.id)}
    except IntegrityError:
        # Another copy of the same comment was written first: answer its id.
        if site_id is None:
            raise
        with read_session() as s:
            rep_id = s.exec(select(Report.id).where(Report.case_id == case_id,
                                                    Report.organisation_id == org_id)).first()
            known = _site_update(s, rep_id, site_id) if rep_id is not None else None
        if known is None:
            raise
        return {"update_id": str(known)}


def _site_update(s, report_id: int, site_id: str) -> int | None:
    return s.exec(select(ReportUpdate.id).where(ReportUpdate.report_id == report_id,
                                                ReportUpdate.site_update_id == site_id)).first()


__all__ = ["ATTRIBUTES", "Caller", "caller", "create_request", "post_update", "requests", "service_definition",
           "services", "token", "token_for", "updates"]
