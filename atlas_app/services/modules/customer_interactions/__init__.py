"""Customer Interactions (module type ``customer_interactions``): the front-desk and telephone contact screen.

One contact is recorded in one call (``record_contact``): who (a person found, or a new one), where (a place by
UPRN, optional), what (a demand type of the Customer Interactions module, value or failure following from the type
unless the officer changes it), what matters to the person (their words), and the outcome: resolved at first contact
(the demand's need is met at once, one-stop) or handed to a team (an intention for the team) and, if chosen, to
another module (a case opened there with the same person and place). It opens a case or adds to one the person
already has open in the module. The demand is an ordinary casework demand, so the demand dashboards count it.

The screen is a feature in preview (``previews.CUSTOMER_INTERACTIONS``): every function here refuses an
organisation that has not switched it on, so the page, a hand-made websocket event and any other caller meet the
same refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import CaseStatus, DemandClass
from atlas_app.models.casework import (
    Activity,
    Case,
    CaseLookup,
    CaseModule,
    CasePerson,
    CasePlace,
    CaseTeam,
    Demand,
    Intention,
    Person,
)
from atlas_app.services import modules
from atlas_app.services.casework import people
from atlas_app.services.casework.cases import case_ref, parse_case_ref
from atlas_app.services.casework.config import active_lookup
from atlas_app.services.casework.people import full_name, get_person_row, person_ref, place_by_uprn
from atlas_app.services.platform import audit, bounds, previews
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date

CODE = "customer_interactions"
OUTCOMES = {"resolved": "Resolved at first contact", "handed_on": "Handed to a team or module"}


@dataclass(frozen=True)
class Option:
    id: str
    name: str
    demand_class: str = ""


@dataclass(frozen=True)
class ScreenOptions:
    module_id: int
    demand_types: list[Option]
    channels: list[Option]
    teams: list[Option]
    modules: list[Option]


def options(actor: Actor) -> ScreenOptions:
    """The lists the contact screen offers (the Customer Interactions module's demand types, channels, teams, the
    other modules a contact can be handed to)."""
    actor.require(Perm.CASES_VIEW)
    previews.require(actor, previews.CUSTOMER_INTERACTIONS.code)
    org_id = actor.require_org()
    with read_session() as s:
        module = modules.require_module(s, org_id, CODE)
        lookups = s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org_id,
                                                  CaseLookup.is_active == True,  # noqa: E712
                                                  CaseLookup.kind.in_(("demand_type", "channel")))
                         .order_by(CaseLookup.sort_order, CaseLookup.id)).all()
        teams = s.exec(select(CaseTeam).where(CaseTeam.organisation_id == org_id,
                                              CaseTeam.is_active == True).order_by(CaseTeam.name)).all()  # noqa: E712
        others = s.exec(select(CaseModule).where(CaseModule.organisation_id == org_id,
                                                 CaseModule.is_active == True,  # noqa: E712
                                                 CaseModule.is_read_only == False,  # noqa: E712
                                                 CaseModule.id != module.id)
                        .order_by(CaseModule.sort_order, CaseModule.id)).all()
        return ScreenOptions(
            module.id,
            [Option(str(v.id), v.name, v.demand_class) for v in lookups
             if v.kind == "demand_type" and v.module_id == module.id],
            [Option(str(v.id), v.name) for v in lookups if v.kind == "channel" and v.module_id is None],
            [Option(str(t.id), t.name) for t in teams],
            [Option(str(m.id), m.name) for m in others])


@dataclass(frozen=True)
class ContactResult:
    case_id: int
    case_ref: str
    demand_id: int
    person_ref: str
    person_name: str
    added_to_existing: bool
    handed_case_ref: str = ""


def _open_case_of(s, org_id: int, module_id: int, person_id: int) -> Case | None:
    return s.exec(select(Case).join(CasePerson, CasePerson.case_id == Case.id).where(
        Case.organisation_id == org_id, Case.module_id == module_id, Case.status == CaseStatus.OPEN,
        CasePerson.person_id == person_id).order_by(Case.opened_at.desc())).first()


def record_contact(actor: Actor, data: dict[str, Any]) -> ContactResult:
    """Record one contact (see the module notes). ``data``: ``person_id`` or ``given_name`` + ``family_name``
    (with ``allow_duplicate`` to create a new person despite possible duplicates), ``uprn``, ``demand_type_id``,
    ``demand_class`` (blank: the type's), ``channel_id``, ``what_matters``, ``outcome`` (``resolved`` or
    ``handed_on``), ``team_id`` and ``handoff_module_id`` when handed on, ``case_id`` to add to a given case."""
    actor.require(Perm.CASES_MANAGE)
    previews.require(actor, previews.CUSTOMER_INTERACTIONS.code)
    org_id = actor.require_org()
    what = " ".join(str(data.get("what_matters") or "").split())[:2000]
    if not what:
        raise ValidationFailed("Write down what matters to the person, in their words.", {"what_matters": "required"})
    outcome = str(data.get("outcome") or "")
    if outcome not in OUTCOMES:
        raise ValidationFailed("Say whether it was resolved or handed on.", {"outcome": "required"})
    person_id = str(data.get("person_id") or "").strip()
    if not person_id:
        if not str(data.get("given_name") or "").strip() or not str(data.get("family_name") or "").strip():
            raise ValidationFailed("Find the person, or give a new person's first and last names.",
                                   {"person_id": "required"})
        # create_person writes in its own transaction; a refusal further on leaves an unlinked new person, which
        # is harmless (and found by the next search), so the checks that need no database run first.
        person_id = str(people.create_person(actor, {"given_name": data.get("given_name"),
                                                     "family_name": data.get("family_name"),
                                                     "uprn": data.get("uprn") or ""},
                                             allow_duplicate=bool(data.get("allow_duplicate"))))
    now = utcnow()
    with write_session() as s:
        module = modules.require_module(s, org_id, CODE)
        person = get_person_row(s, org_id, person_id)
        if person.merged_into_id:
            raise ValidationFailed(f"{person_ref(person.id)} was merged into {person_ref(person.merged_into_id)}.",
                                   {"person_id": "merged"})
        place = place_by_uprn(s, org_id, data["uprn"]) if str(data.get("uprn") or "").strip() else None
        dtype = active_lookup(s, org_id, data.get("demand_type_id"), "demand_type", module.id,
                              field="demand_type_id")
        klass = str(data.get("demand_class") or "").strip().lower() or dtype.demand_class
        if klass not in tuple(DemandClass):
            raise ValidationFailed("Say whether it is value or failure demand.", {"demand_class": "required"})
        channel = active_lookup(s, org_id, data["channel_id"], "channel", field="channel_id") \
            if str(data.get("channel_id") or "").strip() else None
        team = None
        target = None
        if outcome == "handed_on":
            tid = bounds.id_or_none(data.get("team_id"))
            if tid is not None:
                team = s.exec(select(CaseTeam).where(CaseTeam.id == tid, CaseTeam.organisation_id == org_id,
                                                     CaseTeam.is_active == True)).first()  # noqa: E712
                if team is None:
                    raise ValidationFailed("Choose one of your teams.", {"team_id": "unknown"})
            mid = bounds.id_or_none(data.get("handoff_module_id"))
            if mid is not None:
                target = s.exec(select(CaseModule).where(CaseModule.id == mid, CaseModule.organisation_id == org_id,
                                                         CaseModule.is_active == True,  # noqa: E712
                                                         CaseModule.is_read_only == False,  # noqa: E712
                                                         CaseModule.id != module.id)).first()
                if target is None:
                    raise ValidationFailed("Choose one of your modules.", {"handoff_module_id": "unknown"})
            if team is None and target is None:
                raise ValidationFailed("Choose the team or module it is handed to.", {"team_id": "required"})
        case = None
        if str(data.get("case_id") or "").strip():
            case = s.exec(select(Case).where(Case.id == parse_case_ref(data["case_id"]),
                                             Case.organisation_id == org_id, Case.module_id == module.id)).first()
            if case is None or case.status != CaseStatus.OPEN:
                raise Conflict("Choose one of the person's open cases.")
        existing = case or _open_case_of(s, org_id, module.id, person.id)
        if existing is None:
            case = Case(organisation_id=org_id, module_id=module.id, title=f"{dtype.name}: {full_name(person)}"[:200],
                        opened_by_id=actor.user_id)
            s.add(case)
            s.flush()
            s.add(CasePerson(organisation_id=org_id, case_id=case.id, person_id=person.id))
        else:
            case = existing
            if s.exec(select(CasePerson.id).where(CasePerson.case_id == case.id,
                                                  CasePerson.person_id == person.id)).first() is None:
                s.add(CasePerson(organisation_id=org_id, case_id=case.id, person_id=person.id))
        if place is not None and s.exec(select(CasePlace.id).where(CasePlace.case_id == case.id,
                                                                   CasePlace.place_id == place.id)).first() is None:
            s.add(CasePlace(organisation_id=org_id, case_id=case.id, place_id=place.id))
        resolved = outcome == "resolved"
        demand = Demand(organisation_id=org_id, case_id=case.id, demand_type_id=dtype.id, demand_class=klass,
                        channel_id=channel.id if channel else None, description=what, received_at=now,
                        one_stop=resolved, need_met_at=now if resolved else None)
        s.add(demand)
        s.flush()
        handed_ref = ""
        note = f"Contact: {dtype.name} ({klass} demand). {OUTCOMES[outcome]}"
        if target is not None:
            handed = Case(organisation_id=org_id, module_id=target.id, title=f"{dtype.name}: {full_name(person)}"[:200],
                          opened_by_id=actor.user_id)
            s.add(handed)
            s.flush()
            s.add(CasePerson(organisation_id=org_id, case_id=handed.id, person_id=person.id))
            if place is not None:
                s.add(CasePlace(organisation_id=org_id, case_id=handed.id, place_id=place.id))
            s.add(Activity(organisation_id=org_id, case_id=handed.id, occurred_at=now, staff_user_id=actor.user_id,
                           note=f"Handed on from Customer Interactions ({case_ref(case.id)}): {what}"[:2000]))
            handed_ref = case_ref(handed.id)
            note += f" to {target.name} ({handed_ref})"
        if team is not None:
            itype = s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org_id,
                                                    CaseLookup.kind == "intention_type",
                                                    CaseLookup.module_id == module.id,
                                                    CaseLookup.is_active == True)  # noqa: E712
                           .order_by(CaseLookup.sort_order, CaseLookup.id)).first()
            if itype is not None:
                s.add(Intention(organisation_id=org_id, case_id=case.id, intention_type_id=itype.id, team_id=team.id,
                                due_on=london_date(now) + timedelta(days=1), note=what[:1000]))
            note += f" to team {team.name}"
        s.add(Activity(organisation_id=org_id, case_id=case.id, occurred_at=now, staff_user_id=actor.user_id,
                       note=(note + ". What matters: " + what)[:2000]))
        s.flush()
        audit.record(s, actor, "case", case.id, "contact_recorded",
                     after={"demand_id": demand.id, "person": person_ref(person.id), "type": dtype.name,
                            "class": klass, "outcome": outcome, "team_id": team.id if team else None,
                            "handed_case": handed_ref, "uprn": place.uprn if place else None},
                     subject=audit.about_person(person.id))
        return ContactResult(case.id, case_ref(case.id), demand.id, person_ref(person.id), full_name(person),
                             existing is not None, handed_ref)


def find_people(actor: Actor, name: str) -> list[Option]:
    """People matching a name (for the screen's "who")."""
    previews.require(actor, previews.CUSTOMER_INTERACTIONS.code)
    if len(" ".join(str(name or "").split())) < 2:
        return []
    return [Option(str(p.id), f"{p.name} ({p.ref})" + (f", {p.address}" if p.address else ""))
            for p in people.search_people(actor, name=str(name)[:100], limit=20)]


def find_places(actor: Actor, text: str) -> list[Option]:
    from atlas_app.services.casework import places

    previews.require(actor, previews.CUSTOMER_INTERACTIONS.code)
    if len(str(text or "").strip()) < 2:
        return []
    return [Option(str(p.uprn), p.address) for p in places.search_places(actor, str(text)[:120])[:20]]


def person_name(s, org_id: int, person_id: int) -> str:
    p = s.exec(select(Person).where(Person.id == person_id, Person.organisation_id == org_id)).first()
    return full_name(p) if p else ""
