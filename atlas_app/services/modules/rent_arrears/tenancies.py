"""Rent arrears: recovery stages (configuration), tenancies and their tenants, payment arrangements, contacts with
the tenant, the officer's caseload and the measures.

Every function takes an ``Actor``: reading needs ``cases.view``, changing ``cases.manage``, the stages
``settings.manage``; every query is scoped by the actor's organisation, and the organisation must have turned the
Rent Arrears Monitoring module type on (``require_module``). The work on a tenancy is a casework case in that module:
contacts are its demands (value or failure) and activities, letters and stage moves are activities too, and each
stage's follow-up is an intention, so the case's timeline holds every contact and letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import func, or_
from sqlmodel import Session, select

from atlas_app.db import contains, read_session, utcnow, write_session
from atlas_app.domain.money import AmountError, format_pence, parse_pence
from atlas_app.domain.statuses import ArrangementStatus, CaseStatus, DemandClass
from atlas_app.models import User
from atlas_app.models.casework import (
    Activity,
    Case,
    CaseLookup,
    CasePerson,
    CasePlace,
    Demand,
    Person,
    Place,
)
from atlas_app.models.rent_arrears import (
    RentArrangement,
    RentLetter,
    RentStage,
    RentTenancy,
    RentTenant,
    RentTransaction,
)
from atlas_app.services import modules
from atlas_app.services.casework.cases import case_ref, parse_datetime
from atlas_app.services.casework.config import active_lookup
from atlas_app.services.casework.people import (
    full_name,
    get_person_row,
    parse_date,
    person_ref,
    place_by_uprn,
    place_label,
)
from atlas_app.services.insight import letters
from atlas_app.services.modules.rent_arrears import CODE
from atlas_app.services.modules.rent_arrears.arrears import FREQUENCIES, PAYMENT_KINDS
from atlas_app.services.platform import audit, bounds, templating
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date

# --- the letters of each stage (a family of the letters engine) ---------------------------------------------------

LETTER_PREFIX = "rent_"
RENT_FIELDS: dict[str, dict[str, str]] = {
    "tenant": {"name": "Tenants' names", "address": "The home's address (one line per part)"},
    "tenancy": {"rent_account": "Rent account reference", "weekly_rent": "Weekly rent", "balance": "Balance owed",
                "arrears_weeks": "Arrears in weeks of rent", "stage": "Recovery stage", "start_date": "Start date"},
    "arrangement": {"amount": "Arrangement amount", "frequency": "How often", "start_date": "First payment date"},
    "organisation": {"name": "Organisation name"},
    "today": {"": "Today's date"},
}
RENT_TEMPLATES: list[tuple[str, str, str, str]] = [
    ("rent_reminder", "Rent arrears: reminder", "Your rent account {{ tenancy.rent_account }}",
     "Dear {{ tenant.name }},\n\nOur records show that your rent account is {{ tenancy.balance }} in arrears "
     "(about {{ tenancy.arrears_weeks }} weeks of rent). If you have paid recently, thank you, and please ignore "
     "this letter.\n\nIf you are finding it hard to pay, please contact us: we can help with Housing Benefit, "
     "Universal Credit and an arrangement to pay that you can afford.\n\nYours sincerely,\n{{ organisation.name }}"),
    ("rent_contact", "Rent arrears: please contact us", "Please contact us about your rent: {{ tenancy.balance }}",
     "Dear {{ tenant.name }},\n\nYour rent account {{ tenancy.rent_account }} is {{ tenancy.balance }} in arrears, "
     "{{ tenancy.arrears_weeks }} weeks of rent. Please contact your income officer within 7 days so that we can "
     "agree an arrangement to pay and check that you receive all the help with housing costs you are entitled "
     "to.\n\nYours sincerely,\n{{ organisation.name }}"),
    ("rent_notice", "Rent arrears: notice of seeking possession", "Notice of seeking possession: "
     "{{ tenancy.rent_account }}",
     "Dear {{ tenant.name }},\n\nDespite our letters and our offer of an arrangement, your rent account is "
     "{{ tenancy.balance }} in arrears ({{ tenancy.arrears_weeks }} weeks of rent). We are serving a notice of "
     "seeking possession. This does not mean you will lose your home: contact us now to agree how the arrears will "
     "be paid.\n\nYours sincerely,\n{{ organisation.name }}"),
    ("rent_court", "Rent arrears: court action", "Court action about your rent account {{ tenancy.rent_account }}",
     "Dear {{ tenant.name }},\n\nYour rent account is {{ tenancy.balance }} in arrears. As the arrears have not "
     "been paid since our notice, we intend to apply to the county court for a possession order. Please contact "
     "us urgently, and seek independent advice.\n\nYours sincerely,\n{{ organisation.name }}"),
    ("rent_arrangement_broken", "Rent arrears: arrangement missed", "Your arrangement to pay has been missed",
     "Dear {{ tenant.name }},\n\nYou agreed to pay {{ arrangement.amount }} {{ arrangement.frequency }} from "
     "{{ arrangement.start_date }}, but a payment has been missed. Your balance is {{ tenancy.balance }}. Please "
     "contact us straight away.\n\nYours sincerely,\n{{ organisation.name }}"),
]
letters.register_family(LETTER_PREFIX, RENT_FIELDS, RENT_TEMPLATES)

# code, name, threshold (hundredths of a week), days at the previous stage, letter, intention type, days to do it.
DEFAULT_STAGES: list[tuple[str, str, int, int, str, str, int]] = [
    ("reminder", "Reminder letter", 100, 0, "rent_reminder", "Send letter two (14 days)", 14),
    ("contact", "Contact and offer of an arrangement", 400, 14, "rent_contact", "Review arrangement", 7),
    ("notice", "Notice of seeking possession", 800, 28, "rent_notice", "NOSP expiry check (28 days)", 28),
    ("court", "Court action", 800, 28, "rent_court", "Apply for court date", 14),
]
MAX_CASELOAD = 500


def _view(actor: Actor) -> int:
    actor.require(Perm.CASES_VIEW)
    return actor.require_org()


def _manage(actor: Actor) -> int:
    actor.require(Perm.CASES_MANAGE)
    return actor.require_org()


def weeks_text(x100: int) -> str:
    return f"{x100 // 100}.{x100 % 100:02d}"


def ensure_stages(s: Session, org_id: int, module_id: int) -> None:
    """The default stages (and the stage letters) for an organisation that has none yet."""
    if s.exec(select(RentStage.id).where(RentStage.organisation_id == org_id)).first() is not None:
        return
    types = {v.name: v.id for v in s.exec(select(CaseLookup).where(
        CaseLookup.organisation_id == org_id, CaseLookup.kind == "intention_type",
        CaseLookup.module_id == module_id)).all()}
    fallback = next(iter(types.values()), None)
    for order, (code, name, threshold, days, letter, intention, due) in enumerate(DEFAULT_STAGES):
        s.add(RentStage(organisation_id=org_id, code=code, name=name, sort_order=order,
                        min_arrears_weeks_x100=threshold, min_days_in_previous=days, letter_code=letter,
                        intention_type_id=types.get(intention, fallback), intention_due_days=due))
    letters.ensure_templates(s, org_id)
    s.flush()


def _module(s: Session, org_id: int) -> modules.ModuleRef:
    module = modules.require_module(s, org_id, CODE)
    ensure_stages(s, org_id, module.id)
    return module


# --- stages ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageRow:
    id: int
    code: str
    name: str
    sort_order: int
    min_arrears_weeks: str
    min_days_in_previous: int
    letter_code: str
    intention_type_id: int | None
    intention_type: str
    intention_due_days: int
    is_active: bool


def active_stages(s: Session, org_id: int) -> list[RentStage]:
    return list(s.exec(select(RentStage).where(RentStage.organisation_id == org_id,
                                               RentStage.is_active == True)
                       .order_by(RentStage.sort_order, RentStage.id)).all())


def list_stages(actor: Actor) -> list[StageRow]:
    org_id = _view(actor)
    with write_session() as s:
        _module(s, org_id)
        rows = s.exec(select(RentStage).where(RentStage.organisation_id == org_id)
                      .order_by(RentStage.sort_order, RentStage.id)).all()
        names = {v.id: v.name for v in s.exec(select(CaseLookup).where(
            CaseLookup.id.in_({r.intention_type_id for r in rows if r.intention_type_id}))).all()} if rows else {}
        return [StageRow(r.id, r.code, r.name, r.sort_order, weeks_text(r.min_arrears_weeks_x100),
                         r.min_days_in_previous, r.letter_code, r.intention_type_id,
                         names.get(r.intention_type_id, ""), r.intention_due_days, r.is_active) for r in rows]


def intention_types(actor: Actor) -> list[tuple[int, str]]:
    """The module's intention types (for a stage's intention)."""
    org_id = _view(actor)
    with read_session() as s:
        module = modules.require_module(s, org_id, CODE)
        return [(v.id, v.name) for v in s.exec(select(CaseLookup).where(
            CaseLookup.organisation_id == org_id, CaseLookup.kind == "intention_type",
            CaseLookup.module_id == module.id, CaseLookup.is_active == True)  # noqa: E712
            .order_by(CaseLookup.sort_order, CaseLookup.id)).all()]


def parse_weeks_x100(value: Any) -> int:
    """"4", "4.5", "1.25" weeks as hundredths of a week."""
    text = str(value or "").strip()
    whole, _sep, frac = text.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()) or len(frac) > 2 or len(whole) > 3:
        raise ValidationFailed("Give the arrears as weeks of rent, for example 4 or 1.5.",
                               {"min_arrears_weeks": "invalid"})
    return int(whole) * 100 + int((frac + "00")[:2])


def save_stage(actor: Actor, stage_id: Any, *, name: str, min_arrears_weeks: Any, min_days_in_previous: Any,
               letter_code: str, intention_type_id: Any = None, intention_due_days: Any = 7,
               is_active: bool = True) -> None:
    """Change a stage's name and entry rule, its letter and its intention."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    name = " ".join(str(name or "").split())[:100]
    if not name:
        raise ValidationFailed("Give the stage a name.", {"name": "required"})
    threshold = parse_weeks_x100(min_arrears_weeks)
    try:
        days = int(str(min_days_in_previous).strip() or "0")
        due = int(str(intention_due_days).strip() or "0")
    except ValueError:
        raise ValidationFailed("Days must be whole numbers.", {"min_days_in_previous": "invalid"}) from None
    if not 0 <= days <= 365 or not 0 <= due <= 365:
        raise ValidationFailed("Days must be between 0 and 365.", {"min_days_in_previous": "out of range"})
    with write_session() as s:
        module = _module(s, org_id)
        stage = s.exec(select(RentStage).where(RentStage.id == (bounds.id_or_none(stage_id) or 0),
                                               RentStage.organisation_id == org_id)).first()
        if stage is None:
            raise NotFound("No such stage.")
        code = str(letter_code or "").strip()[:40]
        if code and not code.startswith(LETTER_PREFIX):
            raise ValidationFailed("Choose one of the rent letters.", {"letter_code": "unknown"})
        if code and letters._template(s, org_id, code) is None:  # raises NotFound for an unknown template
            raise NotFound("No such letter template.")
        itype = active_lookup(s, org_id, intention_type_id, "intention_type", module.id, field="intention_type_id") \
            if str(intention_type_id or "").strip() else None
        before = {"name": stage.name, "min_arrears_weeks_x100": stage.min_arrears_weeks_x100,
                  "min_days_in_previous": stage.min_days_in_previous, "letter_code": stage.letter_code,
                  "intention_type_id": stage.intention_type_id, "is_active": stage.is_active}
        stage.name, stage.min_arrears_weeks_x100, stage.min_days_in_previous = name, threshold, days
        stage.letter_code, stage.intention_type_id, stage.intention_due_days = code, itype.id if itype else None, due
        stage.is_active = bool(is_active)
        s.add(stage)
        audit.record(s, actor, "rent_stage", stage.id, "updated", before=before,
                     after={"name": name, "min_arrears_weeks_x100": threshold, "min_days_in_previous": days,
                            "letter_code": code, "intention_type_id": stage.intention_type_id,
                            "is_active": stage.is_active})


# --- tenancies ------------------------------------------------------------------------------------------------


def _get_tenancy(s: Session, org_id: int, tenancy_id: Any, lock: bool = False) -> RentTenancy:
    tid = bounds.id_or_none(tenancy_id)
    if tid is None:
        raise NotFound("No such tenancy.")
    query = select(RentTenancy).where(RentTenancy.id == tid, RentTenancy.organisation_id == org_id)
    if lock:
        query = query.with_for_update()
    row = s.exec(query).first()
    if row is None:
        raise NotFound("No such tenancy.")
    return row


def _pence(value: Any, what: str, allow_zero: bool = False) -> int:
    try:
        return parse_pence(value, allow_zero=allow_zero, what=what)
    except AmountError as exc:
        raise ValidationFailed(exc.message, {what.replace("the ", "").replace(" ", "_"): exc.code}) from None


def create_tenancy(actor: Actor, *, rent_account: str, uprn: Any, person_ids: list[Any], start_date: Any,
                   weekly_rent: Any, patch: str = "", officer_user_id: Any = None, end_date: Any = None) -> int:
    """A tenancy of the home at ``uprn`` by the people given (casework people), with its rent account."""
    org_id = _manage(actor)
    account = str(rent_account or "").strip().upper()
    if not account or len(account) > 30:
        raise ValidationFailed("Give the rent account reference (30 characters at most).", {"rent_account": "invalid"})
    start = parse_date(start_date, "start_date", required=True)
    end = parse_date(end_date, "end_date")
    if end is not None and end < start:
        raise ValidationFailed("A tenancy cannot end before it starts.", {"end_date": "early"})
    rent = _pence(weekly_rent, "the weekly rent")
    if not person_ids:
        raise ValidationFailed("Name at least one tenant.", {"person_ids": "required"})
    with write_session() as s:
        _module(s, org_id)
        if s.exec(select(RentTenancy.id).where(RentTenancy.organisation_id == org_id,
                                               RentTenancy.rent_account == account)).first():
            raise Conflict(f"Rent account {account} already has a tenancy.")
        place = place_by_uprn(s, org_id, uprn)
        people = [get_person_row(s, org_id, p) for p in person_ids]
        officer = None
        if str(officer_user_id or "").strip():
            officer = s.exec(select(User.id).where(User.id == (bounds.id_or_none(officer_user_id) or 0),
                                                   User.organisation_id == org_id)).first()
            if officer is None:
                raise ValidationFailed("Choose a member of staff from the list.", {"officer_user_id": "unknown"})
        tenancy = RentTenancy(organisation_id=org_id, rent_account=account, place_id=place.id,
                              patch=" ".join(str(patch or "").split())[:60], officer_user_id=officer,
                              start_date=start, end_date=end, weekly_rent_pence=rent)
        s.add(tenancy)
        s.flush()
        for person in {p.id: p for p in people}.values():
            s.add(RentTenant(organisation_id=org_id, tenancy_id=tenancy.id, person_id=person.id))
        audit.record(s, actor, "rent_tenancy", tenancy.id, "created",
                     after={"rent_account": account, "uprn": place.uprn, "tenants": [person_ref(p.id) for p in people],
                            "weekly_rent_pence": rent, "start_date": start, "patch": tenancy.patch})
        return tenancy.id


@dataclass(frozen=True)
class CaseloadRow:
    id: int
    rent_account: str
    tenants: str
    address: str
    patch: str
    balance: str
    balance_pence: int
    arrears_weeks: str
    trend_4w: str
    trend_13w: str
    stage: str
    arrangement_broken: bool
    last_contact: str
    days_since_contact: int | None
    priority: int
    case_ref: str


def priority(arrears_x100: int, trend_4w_pence: int, weekly_rent_pence: int, broken: bool,
             days_since_contact: int | None) -> int:
    """The caseload's order, highest first: arrears in hundredths of a week, plus their growth over four weeks,
    plus 400 for a broken arrangement, plus up to 300 for time without contact (never: 300; over 28 days: 200;
    over 14: 100; over 7: 50). The SQL in ``caseload`` computes exactly this."""
    growth = trend_4w_pence * 100 // weekly_rent_pence if trend_4w_pence > 0 and weekly_rent_pence > 0 else 0
    if days_since_contact is None:
        contact = 300
    elif days_since_contact > 28:
        contact = 200
    elif days_since_contact > 14:
        contact = 100
    elif days_since_contact > 7:
        contact = 50
    else:
        contact = 0
    return arrears_x100 + growth + (400 if broken else 0) + contact


CONTACT_MAX = 300  # the most time without contact adds to the priority (``priority``)


def _contact_sql(now: datetime):
    t = RentTenancy
    return sql_case((t.last_contact_at.is_(None), CONTACT_MAX), (t.last_contact_at < now - timedelta(days=28), 200),
                    (t.last_contact_at < now - timedelta(days=14), 100),
                    (t.last_contact_at < now - timedelta(days=7), 50), else_=0)


def _priority_sql(now: datetime):
    """``priority`` in SQL: the stored ``priority_base`` (the database keeps it with the row: models/rent_arrears)
    plus the part for time since the last contact."""
    return RentTenancy.priority_base + _contact_sql(now)


def caseload(actor: Actor, *, stage: str = "", patch: str = "", search: str = "", limit: int = 200
             ) -> list[CaseloadRow]:
    """Tenancies in arrears or at a stage, most urgent first (see ``priority``), filtered by stage code ("none":
    in arrears but at no stage yet), patch and rent account or tenant name."""
    org_id = _view(actor)
    now = utcnow()
    with read_session() as s:
        modules.require_module(s, org_id, CODE)
        stages = {st.id: st for st in s.exec(select(RentStage).where(RentStage.organisation_id == org_id)).all()}
        score = _priority_sql(now).label("priority")
        query = select(RentTenancy, score).where(RentTenancy.organisation_id == org_id,
                                                 or_(RentTenancy.arrears_weeks_x100 > 0,
                                                     RentTenancy.stage_id.is_not(None)))
        if stage == "none":
            query = query.where(RentTenancy.stage_id.is_(None))
        elif stage:
            ids = [st.id for st in stages.values() if st.code == stage]
            query = query.where(RentTenancy.stage_id.in_(ids or [-1]))
        if str(patch or "").strip():
            query = query.where(RentTenancy.patch == str(patch).strip()[:60])
        text = " ".join(str(search or "").split())[:60]
        if text:
            people = select(RentTenant.tenancy_id).join(Person, Person.id == RentTenant.person_id).where(
                RentTenant.organisation_id == org_id, contains(Person.name_norm, text.lower()))
            query = query.where(or_(RentTenancy.rent_account == text.upper(), RentTenancy.id.in_(people)))
        limit = max(1, min(limit, MAX_CASELOAD))
        # The most urgent ``limit`` tenancies, read from an index on ``priority_base``: the first ``limit`` by it
        # give a floor (the lowest priority among them); any tenancy above the floor has a ``priority_base`` at most
        # ``CONTACT_MAX`` below it, so only those are scored and sorted.
        first = s.exec(query.order_by(RentTenancy.priority_base.desc()).limit(limit)).all()
        if len(first) == limit:
            floor = min(int(value) for _t, value in first)
            query = query.where(RentTenancy.priority_base >= floor - CONTACT_MAX)
        rows = s.exec(query.order_by(score.desc(), RentTenancy.id).limit(limit)).all()
        ids = [t.id for t, _ in rows]
        names = _tenant_names(s, ids)
        places = {p.id: p for p in s.exec(select(Place).where(Place.id.in_({t.place_id for t, _ in rows
                                                                          if t.place_id}))).all()} if rows else {}
        out = []
        for t, score_value in rows:
            days = (now - t.last_contact_at).days if t.last_contact_at else None
            place = places.get(t.place_id)
            out.append(CaseloadRow(
                t.id, t.rent_account, names.get(t.id, ""), place_label(place) if place else "", t.patch,
                format_pence(max(t.balance_pence, 0)) if t.balance_pence >= 0 else f"{format_pence(-t.balance_pence)} in credit",
                t.balance_pence, weeks_text(t.arrears_weeks_x100), _signed(t.trend_4w_pence),
                _signed(t.trend_13w_pence), stages[t.stage_id].name if t.stage_id in stages else "",
                t.arrangement_broken, _when(t.last_contact_at) if t.last_contact_at else "never", days,
                int(score_value), case_ref(t.case_id) if t.case_id else ""))
        return out


def _signed(pence: int) -> str:
    if pence > 0:
        return f"up {format_pence(pence)}"
    if pence < 0:
        return f"down {format_pence(-pence)}"
    return "no change"


def _when(at: datetime) -> str:
    return london_date(at).strftime("%d/%m/%Y")


def _tenant_names(s: Session, tenancy_ids: list[int]) -> dict[int, str]:
    if not tenancy_ids:
        return {}
    out: dict[int, list[str]] = {}
    for tid, person in s.exec(select(RentTenant.tenancy_id, Person).join(Person, Person.id == RentTenant.person_id)
                              .where(RentTenant.tenancy_id.in_(tenancy_ids)).order_by(RentTenant.id)).all():
        out.setdefault(tid, []).append(full_name(person))
    return {k: " and ".join(v) for k, v in out.items()}


def patches(actor: Actor) -> list[str]:
    org_id = _view(actor)
    with read_session() as s:
        return sorted(p for p in s.exec(select(RentTenancy.patch).where(RentTenancy.organisation_id == org_id)
                                        .distinct()).all() if p)


@dataclass(frozen=True)
class TransactionRow:
    posted_on: date
    kind: str
    method: str
    amount: str
    external_id: str


@dataclass(frozen=True)
class ArrangementRow:
    id: int
    amount: str
    frequency: str
    start_on: date
    status: str
    broken_on: date | None


@dataclass(frozen=True)
class LetterRow:
    id: int
    template_code: str
    subject: str
    produced_at: datetime


@dataclass(frozen=True)
class TenancyDetail:
    id: int
    rent_account: str
    tenants: list[tuple[str, str]]  # (person ref, name)
    address: str
    uprn: str
    patch: str
    start_date: date
    end_date: date | None
    weekly_rent: str
    balance: str
    arrears_weeks: str
    trend_4w: str
    trend_13w: str
    last_payment_on: date | None
    stage: str
    stage_entered_on: date | None
    arrangement_broken: bool
    case_id: int | None
    case_ref: str
    transactions: list[TransactionRow]
    arrangements: list[ArrangementRow]
    letters: list[LetterRow]


KIND_LABELS = {"charge": "Rent charge", "payment": "Payment", "housing_benefit": "Housing Benefit",
               "universal_credit": "Universal Credit (direct)", "adjustment": "Adjustment"}


def get_tenancy(actor: Actor, tenancy_id: Any) -> TenancyDetail:
    org_id = _view(actor)
    with read_session() as s:
        modules.require_module(s, org_id, CODE)
        t = _get_tenancy(s, org_id, tenancy_id)
        place = s.get(Place, t.place_id) if t.place_id else None
        stage = s.get(RentStage, t.stage_id) if t.stage_id else None
        tenants = s.exec(select(Person).join(RentTenant, RentTenant.person_id == Person.id)
                         .where(RentTenant.tenancy_id == t.id).order_by(RentTenant.id)).all()
        txns = s.exec(select(RentTransaction).where(RentTransaction.tenancy_id == t.id,
                                                    RentTransaction.organisation_id == org_id)
                      .order_by(RentTransaction.posted_on.desc(), RentTransaction.id.desc()).limit(30)).all()
        arrangements = s.exec(select(RentArrangement).where(RentArrangement.tenancy_id == t.id,
                                                            RentArrangement.organisation_id == org_id)
                              .order_by(RentArrangement.id.desc())).all()
        produced = s.exec(select(RentLetter).where(RentLetter.tenancy_id == t.id, RentLetter.organisation_id == org_id)
                          .order_by(RentLetter.id.desc())).all()
        return TenancyDetail(
            t.id, t.rent_account, [(person_ref(p.id), full_name(p)) for p in tenants],
            place_label(place) if place else "", str(place.uprn) if place else "", t.patch, t.start_date, t.end_date,
            format_pence(t.weekly_rent_pence),
            format_pence(t.balance_pence) if t.balance_pence >= 0 else f"{format_pence(-t.balance_pence)} in credit",
            weeks_text(t.arrears_weeks_x100), _signed(t.trend_4w_pence), _signed(t.trend_13w_pence),
            t.last_payment_on, stage.name if stage else "", t.stage_entered_on, t.arrangement_broken, t.case_id,
            case_ref(t.case_id) if t.case_id else "",
            [TransactionRow(x.posted_on, KIND_LABELS.get(x.kind, x.kind), x.method,
                            _signed_amount(x.amount_pence), x.external_id) for x in txns],
            [ArrangementRow(a.id, format_pence(a.amount_pence), FREQUENCIES.get(a.frequency, a.frequency),
                            a.start_on, a.status, a.broken_on) for a in arrangements],
            [LetterRow(x.id, x.template_code, x.subject, x.produced_at) for x in produced])


def _signed_amount(pence: int) -> str:
    return format_pence(pence) if pence >= 0 else f"−{format_pence(-pence)}"


# --- the case, letters and contacts ---------------------------------------------------------------------------


def _audit(s: Session, actor: Actor | None, org_id: int, pending: list | None, entity: str, entity_id: Any,
           action: str, after: dict[str, Any]) -> None:
    """An audit entry now, or (``pending`` given: a recompute writing many) one more for ``audit.record_many``."""
    if pending is None:
        audit.record(s, actor, entity, entity_id, action, organisation_id=org_id, after=after)
    else:
        pending.append(audit.Pending(entity, entity_id, action, after=after))


def ensure_case(s: Session, actor: Actor | None, org_id: int, module_id: int, tenancy: RentTenancy,
                pending: list | None = None) -> Case:
    """The tenancy's case in the Rent Arrears module, opened (with its tenants and home) when it has none, reopened
    when it was closed."""
    case = s.get(Case, tenancy.case_id) if tenancy.case_id else None
    if case is not None and case.organisation_id == org_id:
        if case.status != CaseStatus.OPEN:
            case.status, case.closed_at = CaseStatus.OPEN, None
            s.add(case)
            _audit(s, actor, org_id, pending, "case", case.id, "reopened",
                   {"reason": "rent arrears", "rent_account": tenancy.rent_account})
        return case
    place = s.get(Place, tenancy.place_id) if tenancy.place_id else None
    title = f"Rent arrears: {tenancy.rent_account}" + (f", {place.address_line1}" if place and place.address_line1
                                                       else "")
    case = Case(organisation_id=org_id, module_id=module_id, title=title[:200],
                opened_by_id=actor.user_id if actor else None)
    s.add(case)
    s.flush()
    role = s.exec(select(CaseLookup.id).where(CaseLookup.organisation_id == org_id, CaseLookup.kind == "case_role",
                                              CaseLookup.name == "Tenant")).first()
    for pid in s.exec(select(RentTenant.person_id).where(RentTenant.tenancy_id == tenancy.id)).all():
        s.add(CasePerson(organisation_id=org_id, case_id=case.id, person_id=pid, role_id=role))
    if place is not None:
        s.add(CasePlace(organisation_id=org_id, case_id=case.id, place_id=place.id))
    tenancy.case_id = case.id
    s.add(tenancy)
    _audit(s, actor, org_id, pending, "case", case.id, "opened",
           {"title": case.title, "module": "rent_arrears", "rent_account": tenancy.rent_account})
    return case


def letter_context(s: Session, org_id: int, tenancy: RentTenancy, stage_name: str = "",
                   arrangement: RentArrangement | None = None) -> dict[str, Any]:
    from atlas_app.models import Organisation

    org = s.get(Organisation, org_id)
    place = s.get(Place, tenancy.place_id) if tenancy.place_id else None
    names = _tenant_names(s, [tenancy.id]).get(tenancy.id, "")
    address = "\n".join(x for x in ([place.address_line1, place.address_line2, place.address_line3, place.town,
                                     place.postcode] if place else []) if x)
    return {
        "tenant": {"name": names, "address": address},
        "tenancy": {"rent_account": tenancy.rent_account, "weekly_rent": format_pence(tenancy.weekly_rent_pence),
                    "balance": format_pence(max(tenancy.balance_pence, 0)),
                    "arrears_weeks": weeks_text(tenancy.arrears_weeks_x100), "stage": stage_name,
                    "start_date": tenancy.start_date.strftime("%d %B %Y")},
        "arrangement": {"amount": format_pence(arrangement.amount_pence) if arrangement else "",
                        "frequency": FREQUENCIES.get(arrangement.frequency, "").lower() if arrangement else "",
                        "start_date": arrangement.start_on.strftime("%d %B %Y") if arrangement else ""},
        "organisation": {"name": org.name if org else ""},
        "today": london_date(utcnow()).strftime("%d %B %Y"),
    }


def produce_letter(s: Session, actor: Actor | None, org_id: int, tenancy: RentTenancy, case: Case, code: str,
                   stage: RentStage | None = None, arrangement: RentArrangement | None = None,
                   pending: list | None = None, templates: dict | None = None) -> RentLetter | None:
    """Merge the letter ``code`` for the tenancy, keep it, and put it on the case's timeline. ``templates`` keeps
    the templates read (a recompute producing many letters reads each once)."""
    if not code:
        return None
    templates = {} if templates is None else templates
    if code not in templates:
        templates[code] = s.exec(select(letters.LetterTemplate).where(
            letters.LetterTemplate.organisation_id == org_id, letters.LetterTemplate.code == code)).first()
    template = templates[code]
    if template is None or not template.is_active:
        return None
    context = letter_context(s, org_id, tenancy, stage.name if stage else "", arrangement)
    # ``templating.render`` checks the template against the merge fields and compiles it once (it keeps the
    # compiled templates), so a recompute producing many letters of one template compiles it once.
    subject = templating.render(template.subject, context, RENT_FIELDS, "subject")
    body = templating.render(template.body, context, RENT_FIELDS, "body")
    row = RentLetter(organisation_id=org_id, tenancy_id=tenancy.id, case_id=case.id,
                     stage_id=stage.id if stage else None, template_code=code, subject=subject[:300], body=body)
    s.add(row)
    s.add(Activity(organisation_id=org_id, case_id=case.id, occurred_at=utcnow(),
                   staff_user_id=actor.user_id if actor else None,
                   note=f"Letter produced: {template.name} ({subject})"[:2000]))
    s.flush()
    _audit(s, actor, org_id, pending, "rent_letter", row.id, "produced",
           {"template": code, "tenancy_id": tenancy.id, "case_id": case.id})
    return row


def letter_pdf(actor: Actor, letter_id: Any) -> tuple[str, bytes]:
    """A produced letter as a PDF (file name, bytes)."""
    org_id = _view(actor)
    with read_session() as s:
        row = s.exec(select(RentLetter).where(RentLetter.id == (bounds.id_or_none(letter_id) or 0),
                                              RentLetter.organisation_id == org_id)).first()
        if row is None:
            raise NotFound("No such letter.")
        tenancy = s.get(RentTenancy, row.tenancy_id)
        context = letter_context(s, org_id, tenancy)
        from atlas_app.models import Organisation

        org = s.get(Organisation, org_id)
    target = letters.Target(offer_id=0, booking_id=None, client_id=0, client_email="", reference=tenancy.rent_account,
                            context={"client": {"name": context["tenant"]["name"],
                                                "address": context["tenant"]["address"]},
                                     "today": london_date(row.produced_at).strftime("%d %B %Y")})
    return (f"letter-{row.template_code}-{tenancy.rent_account}.pdf",
            letters._pdf(org.name if org else "", [(target, row.subject, row.body)]))


def log_contact(actor: Actor, tenancy_id: Any, *, demand_type_id: Any, note: str, demand_class: str = "",
                channel_id: Any = None, occurred_at: Any = None, resolved: bool = False) -> int:
    """A contact with the tenant: a demand on the tenancy's case (value or failure, following its type unless
    given), an activity with the note, and the tenancy's last contact. Returns the demand id."""
    org_id = _manage(actor)
    when = parse_datetime(occurred_at, "occurred_at") or utcnow()
    if when > utcnow() + timedelta(minutes=5):
        raise ValidationFailed("A contact cannot be in the future.", {"occurred_at": "future"})
    note = str(note or "").strip()[:2000]
    if not note:
        raise ValidationFailed("Say what was discussed.", {"note": "required"})
    with write_session() as s:
        module = _module(s, org_id)
        tenancy = _get_tenancy(s, org_id, tenancy_id, lock=True)
        dtype = active_lookup(s, org_id, demand_type_id, "demand_type", module.id, field="demand_type_id")
        channel = active_lookup(s, org_id, channel_id, "channel", field="channel_id") \
            if str(channel_id or "").strip() else None
        klass = str(demand_class or "").strip().lower() or dtype.demand_class
        if klass not in tuple(DemandClass):
            raise ValidationFailed("Say whether it is value or failure demand.", {"demand_class": "required"})
        case = ensure_case(s, actor, org_id, module.id, tenancy)
        demand = Demand(organisation_id=org_id, case_id=case.id, demand_type_id=dtype.id, demand_class=klass,
                        channel_id=channel.id if channel else None, description=note, received_at=when,
                        one_stop=bool(resolved), need_met_at=when if resolved else None)
        s.add(demand)
        s.add(Activity(organisation_id=org_id, case_id=case.id, occurred_at=when, staff_user_id=actor.user_id,
                       note=f"Contact ({dtype.name}): {note}"[:2000]))
        if tenancy.last_contact_at is None or when > tenancy.last_contact_at:
            tenancy.last_contact_at = when
        s.add(tenancy)
        s.flush()
        audit.record(s, actor, "case", case.id, "demand_added",
                     after={"demand_id": demand.id, "type": dtype.name, "class": klass, "rent_account":
                            tenancy.rent_account, "received_at": when, "one_stop": demand.one_stop})
        return demand.id


# --- arrangements ---------------------------------------------------------------------------------------------


def add_arrangement(actor: Actor, tenancy_id: Any, *, amount: Any, frequency: str, start_on: Any,
                    note: str = "") -> int:
    """An arrangement to pay; any arrangement still active on the tenancy ends."""
    org_id = _manage(actor)
    pence = _pence(amount, "the amount")
    if frequency not in FREQUENCIES:
        raise ValidationFailed("Choose how often the tenant will pay.", {"frequency": "unknown"})
    start = parse_date(start_on, "start_on", required=True)
    with write_session() as s:
        module = _module(s, org_id)
        tenancy = _get_tenancy(s, org_id, tenancy_id, lock=True)
        for old in s.exec(select(RentArrangement).where(RentArrangement.tenancy_id == tenancy.id,
                                                        RentArrangement.organisation_id == org_id,
                                                        RentArrangement.status == ArrangementStatus.ACTIVE)).all():
            old.status = ArrangementStatus.ENDED
            s.add(old)
        row = RentArrangement(organisation_id=org_id, tenancy_id=tenancy.id, amount_pence=pence, frequency=frequency,
                              start_on=start, note=str(note or "").strip()[:500], created_by_id=actor.user_id)
        s.add(row)
        tenancy.arrangement_broken = False
        s.add(tenancy)
        case = ensure_case(s, actor, org_id, module.id, tenancy)
        s.add(Activity(organisation_id=org_id, case_id=case.id, occurred_at=utcnow(), staff_user_id=actor.user_id,
                       note=f"Arrangement agreed: {format_pence(pence)} {FREQUENCIES[frequency].lower()} from "
                            f"{start:%d/%m/%Y}"))
        s.flush()
        audit.record(s, actor, "rent_arrangement", row.id, "created",
                     after={"tenancy_id": tenancy.id, "amount_pence": pence, "frequency": frequency,
                            "start_on": start})
        return row.id


# --- measures -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measures:
    tenancies: int
    in_arrears: int
    total_arrears: str
    total_arrears_pence: int
    rent_due: str
    collected: str
    collection_rate: str  # rent collected as a share of rent due, over ``weeks``
    weeks: int
    by_stage: list[tuple[str, int]]
    contacts: int
    failure_contacts: int
    failure_share: str


def measures(actor: Actor, as_of: date | None = None, weeks: int = 13) -> Measures:
    org_id = _view(actor)
    as_of = as_of or london_date(utcnow())
    since = as_of - timedelta(days=7 * weeks)
    with read_session() as s:
        module = modules.require_module(s, org_id, CODE)
        count, in_arrears, total = s.exec(select(
            func.count(), func.coalesce(func.sum(sql_case((RentTenancy.balance_pence > 0, 1), else_=0)), 0),
            func.coalesce(func.sum(sql_case((RentTenancy.balance_pence > 0, RentTenancy.balance_pence), else_=0)), 0))
            .where(RentTenancy.organisation_id == org_id)).one()
        window = (RentTransaction.organisation_id == org_id, RentTransaction.posted_on > since,
                  RentTransaction.posted_on <= as_of)
        due = s.exec(select(func.coalesce(func.sum(RentTransaction.amount_pence), 0)).where(
            *window, RentTransaction.kind == "charge")).one()
        collected = -s.exec(select(func.coalesce(func.sum(RentTransaction.amount_pence), 0)).where(
            *window, RentTransaction.kind.in_(PAYMENT_KINDS))).one()
        stage_counts = dict(s.exec(select(RentTenancy.stage_id, func.count()).where(
            RentTenancy.organisation_id == org_id, RentTenancy.stage_id.is_not(None))
            .group_by(RentTenancy.stage_id)).all())
        stages = s.exec(select(RentStage).where(RentStage.organisation_id == org_id)
                        .order_by(RentStage.sort_order, RentStage.id)).all()
        contacts = dict(s.exec(select(Demand.demand_class, func.count()).join(Case, Case.id == Demand.case_id)
                               .where(Demand.organisation_id == org_id, Case.module_id == module.id)
                               .group_by(Demand.demand_class)).all())
    total_contacts = sum(contacts.values())
    failure = contacts.get(DemandClass.FAILURE, 0)
    return Measures(
        int(count), int(in_arrears), format_pence(int(total)), int(total), format_pence(int(due)),
        format_pence(int(collected)), f"{100 * collected / due:.1f}%" if due else "no rent due", weeks,
        [(st.name, int(stage_counts.get(st.id, 0))) for st in stages], total_contacts, failure,
        f"{100 * failure / total_contacts:.0f}%" if total_contacts else "no contacts")
