"""Places (UPRN-keyed) for case workers: search by postcode or address words, and a place's people and cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

from atlas_app.db import read_session
from atlas_app.models.casework import Place
from atlas_app.services.platform.actor import Actor
from atlas_app.services.casework.cases import CaseRow, cases_at_place
from atlas_app.services.casework.people import LinkRow, people_at_place, place_label
from atlas_app.services.casework.search import normalise, postcode_key
from atlas_app.services.platform.errors import NotFound
from atlas_app.services.platform.permissions import Perm


@dataclass(frozen=True)
class PlaceRow:
    uprn: int
    address: str
    postcode: str
    classification: str
    status: str


@dataclass(frozen=True)
class PlaceDetail:
    uprn: int
    address: str
    address_line1: str
    address_line2: str
    address_line3: str
    town: str
    postcode: str
    classification: str
    status: str
    parent_uprn: int | None
    usrn: int | None
    x_coordinate: float | None
    y_coordinate: float | None
    latitude: float | None
    longitude: float | None
    source: str
    people: list[LinkRow] = field(default_factory=list)
    cases: list[CaseRow] = field(default_factory=list)
    children: list[PlaceRow] = field(default_factory=list)


def _row(p: Place) -> PlaceRow:
    return PlaceRow(p.uprn, place_label(p), p.postcode, p.classification, p.status)


def search_places(actor: Actor, text: str, limit: int = 50) -> list[PlaceRow]:
    """By UPRN, by postcode (whole or the start of it) or by words of the address."""
    actor.require(Perm.CASES_VIEW)
    org_id = actor.require_org()
    text = " ".join(str(text or "").split())[:120]
    if not text:
        return []
    with read_session() as s:
        query = select(Place).where(Place.organisation_id == org_id)
        if text.isdigit() and len(text) <= 12:
            query = query.where(Place.uprn == int(text))
        else:
            key = postcode_key(text)
            words = normalise(text).split()[:6]
            by_postcode = s.exec(query.where(Place.postcode_key.like(f"{key}%"))
                                 .order_by(Place.postcode_key, Place.search_text).limit(limit)).all() \
                if 2 <= len(key) <= 7 and any(c.isdigit() for c in key) else []
            if by_postcode:
                return [_row(p) for p in by_postcode]
            for word in words:
                query = query.where(Place.search_text.like(f"%{word}%"))
        rows = s.exec(query.order_by(Place.search_text).limit(limit)).all()
        return [_row(p) for p in rows]


def get_place(actor: Actor, uprn: Any) -> PlaceDetail:
    actor.require(Perm.CASES_VIEW)
    org_id = actor.require_org()
    text = str(uprn or "").strip()
    if not text.isdigit() or len(text) > 12:
        raise NotFound("No such place.")
    with read_session() as s:
        p = s.exec(select(Place).where(Place.organisation_id == org_id, Place.uprn == int(text))).first()
        if p is None:
            raise NotFound("No such place.")
        children = s.exec(select(Place).where(Place.organisation_id == org_id, Place.parent_uprn == p.uprn)
                          .order_by(Place.search_text).limit(200)).all()
        return PlaceDetail(
            p.uprn, place_label(p), p.address_line1, p.address_line2, p.address_line3, p.town, p.postcode,
            p.classification, p.status, p.parent_uprn, p.usrn, p.x_coordinate, p.y_coordinate, p.latitude,
            p.longitude, p.source, people=people_at_place(s, org_id, p.id), cases=cases_at_place(s, org_id, p.id),
            children=[_row(c) for c in children],
        )
