"""Demo history for the dashboards: twelve weeks of casework demands (value and failure, one-stop or not, most
with their need met) with system conditions and a recorded system change, and past course sessions with bookings,
payments and attendance."""

from __future__ import annotations

import random
from datetime import time, timedelta

from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.models import Booking, Client, CourseSession, CourseType, Offer, Organisation, Payment, User, Venue
from atlas_app.models.casework import Case, CaseLookup, CaseModule, Demand, SystemCondition
from atlas_app.models.dashboards import CapabilityChangePoint
from atlas_app.timeutil import at_london, london_date
from atlas_app.services.platform import organisations

CASEWORKERS = {"hartlepool": "hbc.caseworker", "essex": "ecc.contact", "demo": "demo.caseworker"}
TITLES = ["Missed bin collection", "Council tax bill query", "Housing benefit change", "Pothole report",
          "Street light out", "Garden waste subscription", "Noise complaint", "Parking permit", "Blue badge renewal",
          "Fly-tipping on footpath"]


def _seed_casework(s, org: Organisation, rng: random.Random, now) -> None:
    if s.exec(select(Demand.id).where(Demand.organisation_id == org.id)).first() is not None:
        return
    module = s.exec(select(CaseModule).where(CaseModule.organisation_id == org.id,
                                             CaseModule.name == "Customer Interactions")).first()
    if module is None:
        return
    types = s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org.id, CaseLookup.module_id == module.id,
                                            CaseLookup.kind == "demand_type")).all()
    conditions = s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org.id,
                                                 CaseLookup.module_id == module.id,
                                                 CaseLookup.kind == "system_condition")).all()
    channels = s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org.id,
                                               CaseLookup.kind == "channel")).all()
    user = s.exec(select(User).where(User.username == CASEWORKERS.get(org.slug, ""))).first()
    value = [t for t in types if t.demand_class == "value"]
    failure = [t for t in types if t.demand_class == "failure"]
    change_at = now - timedelta(days=42)
    for i in range(90):
        received = now - timedelta(days=84 - i * 84 / 90, hours=rng.randint(0, 6))
        before_change = received < change_at
        case = Case(organisation_id=org.id, module_id=module.id, title=f"{rng.choice(TITLES)} ({i + 1})",
                    opened_at=received, opened_by_id=user.id if user else None)
        s.add(case)
        s.flush()
        for j in range(rng.choice([1, 1, 2])):
            is_failure = rng.random() < (0.45 if before_change else 0.25)
            kind = rng.choice(failure if is_failure else value)
            one_stop = rng.random() < (0.25 if before_change else 0.5)
            when = received + timedelta(hours=j * 5)
            days = (rng.uniform(0.05, 0.4) if one_stop else rng.expovariate(1 / (6.0 if before_change else 3.0)))
            met = when + timedelta(days=days)
            still_open = i >= 84 and j == 0 and not one_stop
            s.add(Demand(organisation_id=org.id, case_id=case.id, demand_type_id=kind.id,
                         demand_class=kind.demand_class,
                         channel_id=rng.choice(channels).id if channels else None,
                         description=f"{kind.name}: {case.title.lower()}", received_at=when, one_stop=one_stop,
                         need_met_at=None if still_open or met > now else met))
        if conditions and rng.random() < 0.45:
            weights = [6, 3, 4, 2, 2, 1][:len(conditions)]
            category = rng.choices(conditions, weights=weights)[0]
            s.add(SystemCondition(organisation_id=org.id, case_id=case.id, category_id=category.id,
                                  note="Recorded while handling the demand",
                                  minutes_lost=rng.choice([5, 10, 15, 30, 45, 60, 90]),
                                  recorded_at=received + timedelta(hours=1),
                                  recorded_by_id=user.id if user else None))
    s.add(CapabilityChangePoint(organisation_id=org.id, changed_at=change_at,
                                note="Triage at first contact; the expert answers the phone"))


def _seed_bookings(s, org: Organisation, rng: random.Random, now) -> None:
    if s.exec(select(Booking.id).where(Booking.organisation_id == org.id,
                                       Booking.reference.startswith("HIST"))).first():
        return
    ct = s.exec(select(CourseType).where(CourseType.organisation_id == org.id, CourseType.code == "NSAC")).first()
    venues = s.exec(select(Venue).where(Venue.organisation_id == org.id, Venue.is_online.is_(False))).all()
    if ct is None or not venues:
        return
    today = london_date(now)
    n = 0

    def offer(status: str, critical_days: int) -> Offer:
        nonlocal n
        n += 1
        client = Client(organisation_id=org.id, first_name=rng.choice(["Amy", "Ben", "Cara", "Dev", "Eli", "Fay"]),
                        last_name=f"History{n}", date_of_birth=today.replace(year=1980) - timedelta(days=n),
                        email=f"history{n}@example.com")
        s.add(client)
        s.flush()
        o = Offer(organisation_id=org.id, offer_reference=f"HIST-{org.id}-{n:05d}", client_id=client.id,
                  course_type_id=ct.id, offence_date=today - timedelta(days=120),
                  critical_date=today + timedelta(days=critical_days), police_force="Demo Police", status=status,
                  source="staff")
        s.add(o)
        s.flush()
        return o

    for week in range(12, 0, -1):
        for k in range(2):
            venue = venues[(week + k) % len(venues)]
            start = at_london(today - timedelta(days=7 * week - 2 * k), time(9, 30))
            capacity = 20
            taken = rng.randint(9, 19)
            sess = CourseSession(organisation_id=org.id, course_type_id=ct.id, venue_id=venue.id,
                                 delivery_mode="classroom", starts_at=start, ends_at=start + timedelta(minutes=165),
                                 capacity=capacity, seats_taken=taken, status="completed")
            s.add(sess)
            s.flush()
            for _ in range(taken):
                attended = rng.random() < 0.88
                o = offer("completed" if attended else "did_not_attend", 30)
                made = start - timedelta(days=rng.randint(3, 25), hours=rng.randint(0, 10))
                b = Booking(organisation_id=org.id, reference=f"HIST{org.id}-{n:06d}", offer_id=o.id,
                            session_id=sess.id,
                            status="attended" if attended else "did_not_attend",
                            channel="online" if rng.random() < 0.7 else "telephone", fee_pence=ct.fee_pence,
                            created_at=made, updated_at=start)
                s.add(b)
                s.flush()
                s.add(Payment(organisation_id=org.id, booking_id=b.id, amount_pence=ct.fee_pence,
                              method="card_online" if b.channel == "online" else "card_telephone", provider="demo",
                              provider_ref=f"demo-history-{b.id}", status="succeeded",
                              received_at=made + timedelta(minutes=5), recorded_by="seed-demo"))


def seed(slugs: tuple[str, ...] | None = None) -> None:
    """Idempotent: an organisation that already has demands (or bookings) keeps them. ``slugs``: only these."""
    rng = random.Random(20261127)
    now = utcnow()
    with write_session() as s:
        for slug in slugs if slugs is not None else tuple(CASEWORKERS):
            org = organisations.by_slug(s, slug)
            if org is None:
                continue
            _seed_casework(s, org, rng, now)
            _seed_bookings(s, org, rng, now)
