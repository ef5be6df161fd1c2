"""An organisation's Welsh: whether it offers its public service in Welsh, the Welsh wording of its own texts, and
the list of those texts still without Welsh.

* ``offers_welsh(org_id)``: the organisation's switch (``organisation.welsh_enabled``). Off, its public pages do not
  link to Welsh and do not offer Welsh as a language to be written to in; on, every public page links to its
  Welsh counterpart. Administrators (settings.manage) change it with ``set_welsh`` (audited).
* ``correspondence_language(choice, welsh_enabled)``: the one rule for the language of what is sent to a person
  (emails, letters, SMS): Welsh when they chose it and the organisation offers Welsh, else English.
* ``pick(english, welsh, language)``: the one rule for an organisation's own text: the Welsh when the language is
  Welsh and a Welsh text has been written, else the English.
* ``missing_texts(actor)``: every text the public sees that has English but no Welsh (course types, venues,
  report-a-problem categories and their template responses, booking terms, letter templates, the
  organisation's own email wordings), with where staff fill
  it in. Staff screens mark each missing one ("Welsh missing", with an icon) when Welsh is on.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.models import Organisation
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound
from atlas_app.services.platform.i18n import CY, EN, current, normalise
from atlas_app.services.platform.permissions import Perm

MISSING_LABEL = "Welsh missing"


def pick(english: str | None, welsh: str | None, language: str | None = None) -> str:
    """The organisation's own text in ``language`` (default: the current language): its Welsh when that is
    asked for and written, else its English."""
    lang = normalise(language) if language is not None else current()
    if lang == CY and (welsh or "").strip():
        return str(welsh)
    return str(english or "")


def is_missing(english: str | None, welsh: str | None) -> bool:
    """An English text with no Welsh beside it (an empty English text needs no Welsh)."""
    return bool((english or "").strip()) and not (welsh or "").strip()


def offers_welsh(org_id: int | None) -> bool:
    if not org_id:
        return False
    with read_session() as s:
        return bool(s.exec(select(Organisation.welsh_enabled).where(Organisation.id == org_id)).first())


def correspondence_language(choice: str | None, welsh_enabled: bool | None) -> str:
    """The one rule for what is sent to a person (email, letter, SMS): Welsh only when they chose Welsh and their
    organisation offers Welsh now; else English. A Welsh choice made while the switch was on is kept, and honoured
    again once it is turned back on."""
    return CY if normalise(choice) == CY and bool(welsh_enabled) else EN


def correspondence_language_in(s, org_id: int | None, choice: str | None) -> str:
    """``correspondence_language`` with the organisation's switch read in the caller's session (read only when the
    person chose Welsh)."""
    if normalise(choice) != CY or not org_id:
        return EN
    return correspondence_language(choice, _org_enabled(s, org_id))


def language_for(org_id: int | None, language: str | None) -> str:
    """The language to write to someone of the organisation in (``correspondence_language``, the switch read in
    a session of its own)."""
    if normalise(language) != CY:
        return EN
    return correspondence_language(language, offers_welsh(org_id))


def set_welsh(actor: Actor, on: bool) -> bool:
    """Turn the organisation's Welsh public service on or off. Audited; returns whether anything changed."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    with write_session() as s:
        org = s.exec(select(Organisation).where(Organisation.id == org_id).with_for_update()).first()
        if org is None:
            raise NotFound("No such organisation.")
        if org.welsh_enabled == bool(on):
            return False
        before = org.welsh_enabled
        org.welsh_enabled = bool(on)
        s.add(org)
        audit.record(s, actor, "organisation", org.id, "updated", before={"welsh_enabled": before},
                     after={"welsh_enabled": bool(on)}, organisation_id=org.id)
        return True


@dataclass(frozen=True)
class WelshStatus:
    enabled: bool
    missing: list[MissingText]


@dataclass(frozen=True)
class MissingText:
    area: str        # "Course types", "Venues", ...
    item: str        # the item's English name
    field: str       # "name", "description", ...
    href: str        # the staff screen where it is filled in


def _org_enabled(s, org_id: int) -> bool:
    return bool(s.exec(select(Organisation.welsh_enabled).where(Organisation.id == org_id)).first())


def status(actor: Actor) -> WelshStatus:
    """Whether the actor's organisation offers Welsh, and which of its texts have no Welsh yet (any staff member
    may see the list; filling them in needs each screen's own permission)."""
    from atlas_app.models import CourseType, EmailTemplate, LetterTemplate, Venue
    from atlas_app.models.casework import CaseLookup
    from atlas_app.models.environmental import ReportCategory, ReportResponse

    org_id = actor.require_org()
    out: list[MissingText] = []
    with read_session() as s:
        enabled = _org_enabled(s, org_id)
        for ct in s.exec(select(CourseType).where(CourseType.organisation_id == org_id, CourseType.is_active)
                         .order_by(CourseType.code)).all():
            for field, en, cy in (("name", ct.name, ct.name_cy), ("description", ct.description, ct.description_cy),
                                  ("what to bring", ct.what_to_bring, ct.what_to_bring_cy)):
                if is_missing(en, cy):
                    out.append(MissingText("Course types", f"{ct.code} {ct.name}", field, "/bookings/catalogue"))
        for v in s.exec(select(Venue).where(Venue.organisation_id == org_id, Venue.is_active)
                        .order_by(Venue.name)).all():
            for field, en, cy in (("name", v.name, v.name_cy),
                                  ("directions and access", v.accessibility_notes, v.accessibility_notes_cy)):
                if is_missing(en, cy):
                    out.append(MissingText("Venues", v.name, field, "/bookings/catalogue"))
        for c, type_name in s.exec(select(ReportCategory, CaseLookup.name)
                                   .join(CaseLookup, CaseLookup.id == ReportCategory.demand_type_id)
                                   .where(ReportCategory.organisation_id == org_id, ReportCategory.is_public)
                                   .order_by(ReportCategory.sort_order, ReportCategory.id)).all():
            # Without a public name of its own the category shows its demand type's (English) name.
            for field, en, cy in (("public name", c.public_name or "the demand type's name", c.public_name_cy),
                                  ("public description", c.public_description, c.public_description_cy)):
                if is_missing(en, cy):
                    out.append(MissingText("Report-a-problem categories", c.public_name or type_name, field,
                                           "/environmental/categories"))
        for r, c_name, type_name in s.exec(
                select(ReportResponse, ReportCategory.public_name, CaseLookup.name)
                .join(ReportCategory, ReportCategory.id == ReportResponse.category_id)
                .join(CaseLookup, CaseLookup.id == ReportCategory.demand_type_id)
                .where(ReportResponse.organisation_id == org_id, ReportCategory.is_public)
                .order_by(ReportCategory.sort_order, ReportCategory.id, ReportResponse.status)).all():
            # The organisation's own English response: the shipped Welsh would not say the same.
            if is_missing(r.body, r.body_cy):
                out.append(MissingText("Report-a-problem categories", c_name or type_name,
                                       f"template response ({r.status.replace('_', ' ')})",
                                       "/environmental/categories"))
        from atlas_app.models import BookingTerms

        terms = s.exec(select(BookingTerms.conditions, BookingTerms.conditions_cy)
                       .where(BookingTerms.organisation_id == org_id)).first()
        if terms is not None and is_missing(terms[0], terms[1]):
            out.append(MissingText("Booking terms", "Booking terms", "terms", "/bookings/catalogue?tab=terms"))
        for t in s.exec(select(LetterTemplate).where(LetterTemplate.organisation_id == org_id,
                                                     LetterTemplate.is_active)
                        .order_by(LetterTemplate.code)).all():
            for field, en, cy in (("subject", t.subject, t.subject_cy), ("body", t.body, t.body_cy)):
                if is_missing(en, cy):
                    out.append(MissingText("Letter templates", t.name, field, "/letters"))
        from atlas_app.services.booking.email_defaults import KINDS

        emails = s.exec(select(EmailTemplate).where(EmailTemplate.organisation_id == org_id)).all()
        welsh_kinds = {e.kind for e in emails if e.language == CY}
        for e in sorted(emails, key=lambda e: e.kind):
            kind = KINDS.get(e.kind)
            if e.language == CY or e.kind in welsh_kinds or kind is None:
                continue
            if (e.subject, e.body) != (kind.subject, kind.body):
                # The organisation wrote its own English wording: the shipped Welsh would not say the same.
                out.append(MissingText("Email templates", kind.label, "subject and body", "/letters"))
    return WelshStatus(enabled, out)
