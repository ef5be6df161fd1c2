"""Each organisation's public accessibility statement, in the structure of GOV.UK's model statement, in English and
Welsh. Administrators (settings.manage) edit each section in each language; a section they leave empty reads the
shipped wording (the catalogue's Welsh for the Welsh statement). Read by the public /accessibility pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import select

from atlas_app.db import read_session, write_session
from atlas_app.models import Organisation
from atlas_app.services.platform import audit, i18n
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.i18n import N_, _
from atlas_app.services.platform.permissions import Perm

MAX_SECTION = 4000

# (key, heading, shipped wording): the model statement's sections, in its order.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("how_accessible", N_("How accessible this service is"),
     N_("We want as many people as possible to be able to use this booking service. You should be able to change "
        "colours and text size, zoom in up to 400% without the text spilling off the screen, get from the start of "
        "the service to the end using just a keyboard or speech recognition software, and listen to the service "
        "using a screen reader. Every page is available in Welsh and in English.")),
    ("not_accessible", N_("What is not accessible, and why"),
     N_("We know of no part of the booking service that does not meet the Web Content Accessibility Guidelines "
        "version 2.2 AA standard. Letters you may be sent as PDF files may not be fully accessible: ask us for "
        "another format.")),
    ("other_formats", N_("How to ask for another format"),
     N_("If you need information in a different format, such as large print, easy read, an audio recording or "
        "braille, telephone or email us. We will consider your request and get back to you within 5 working days.")),
    ("report_problem", N_("Reporting accessibility problems"),
     N_("We are always looking to improve the accessibility of this service. If you find any problems not listed "
        "on this page or think we are not meeting accessibility requirements, contact us.")),
    ("enforcement", N_("Enforcement procedure"),
     N_("The Equality and Human Rights Commission (EHRC) is responsible for enforcing the Public Sector Bodies "
        "(Websites and Mobile Applications) (No. 2) Accessibility Regulations 2018 (the accessibility "
        "regulations). If you are not happy with how we respond to your complaint, contact the Equality Advisory "
        "and Support Service (EASS).")),
    ("compliance", N_("Compliance status"),
     N_("This service is fully compliant with the Web Content Accessibility Guidelines version 2.2 AA standard.")),
    ("testing", N_("How we tested this service"),
     N_("Every public page is tested automatically with the axe accessibility engine, in English and in Welsh, "
        "on a phone-sized screen and a desktop screen, and a complete booking is made using only the keyboard.")),
)
SECTION_KEYS = tuple(key for key, _h, _t in SECTIONS)


@dataclass(frozen=True)
class StatementSection:
    key: str
    heading: str
    text: str
    is_default: bool


@dataclass(frozen=True)
class Statement:
    organisation_slug: str
    organisation_name: str
    language: str
    sections: tuple[StatementSection, ...]
    reviewed_on: date | None

    @property
    def reviewed_text(self) -> str:
        return i18n.long_date(self.reviewed_on, self.language) if self.reviewed_on else ""


def _statement(org: Organisation, language: str) -> Statement:
    lang = i18n.normalise(language)
    stored = ((org.accessibility_statement or {}).get(lang) or {})
    sections = []
    for key, heading, default in SECTIONS:
        text = str(stored.get(key) or "").strip()
        sections.append(StatementSection(key, i18n.gettext(heading, lang), text or i18n.gettext(default, lang),
                                         not text))
    return Statement(org.slug, org.name, lang, tuple(sections), org.accessibility_reviewed_on)


def public_statement(slug: str, language: str) -> Statement:
    """The statement of the active organisation ``slug`` in ``language`` (anyone may read it)."""
    with read_session() as s:
        org = s.exec(select(Organisation).where(Organisation.slug == str(slug or "")[:40],
                                                Organisation.is_active == True)).first()
        if org is None:
            raise NotFound(_("No such organisation."))
        return _statement(org, language)


def organisations_with_statements() -> list[tuple[str, str]]:
    """(slug, name) of every active organisation, for the public list of statements."""
    with read_session() as s:
        return [(o.slug, o.name) for o in s.exec(select(Organisation).where(Organisation.is_active == True)
                                                    .order_by(Organisation.name)).all()]


def statement_for_editing(actor: Actor, language: str) -> Statement:
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        return _statement(s.get(Organisation, org_id), language)


def save_statement(actor: Actor, language: str, texts: dict[str, str], reviewed_on: date | None) -> Statement:
    """An administrator's wording of the statement in ``language`` (an empty section goes back to the shipped
    wording) and the date it was last reviewed. Audited."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    lang = i18n.normalise(language)
    clean: dict[str, str] = {}
    for key in SECTION_KEYS:
        text = str((texts or {}).get(key) or "").strip()
        if len(text) > MAX_SECTION:
            raise ValidationFailed(f"A section can be at most {MAX_SECTION} characters.", {key: "too long"})
        if text:
            clean[key] = text
    with write_session() as s:
        org = s.get(Organisation, org_id)
        before = dict(org.accessibility_statement or {})
        statement = dict(before)
        statement[lang] = clean
        org.accessibility_statement = statement
        org.accessibility_reviewed_on = reviewed_on
        s.add(org)
        s.flush()
        audit.record(s, actor, "accessibility_statement", f"{org.slug}/{lang}", "updated",
                     before={"sections": before.get(lang, {})}, after={"sections": clean,
                                                                       "reviewed_on": str(reviewed_on or "")},
                     organisation_id=org_id)
        return _statement(org, lang)
