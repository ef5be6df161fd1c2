"""Demo data for letters and reports: the shipped letter templates for every organisation, and for each demo
organisation some bookings (online and by telephone, paid and unpaid) and two months of contact-centre calls, so the
reports have something to show. Running it again adds nothing twice."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.models import Booking, CallLog, Client, ClientEvent, CourseSession, CourseType, Offer
from atlas_app.models.payments import Payment
from atlas_app.services.insight import letters
from atlas_app.services.booking.bookings import new_reference
from atlas_app.services.booking.offers import CALL_OUTCOMES, CALL_TYPES
from atlas_app.timeutil import london_date
from atlas_app.services.platform import organisations

DEMO_SLUGS = ("hartlepool", "essex", "demo")
BOOKINGS_PER_ORG = 40
CALLS_PER_ORG = 240


def seed(slugs: tuple[str, ...] | None = None) -> None:
    """``slugs``: only these organisations."""
    if slugs is None:
        letters.seed_templates()
    else:
        with write_session() as s:
            for slug in slugs:
                org = organisations.by_slug(s, slug)
                if org is not None:
                    letters.ensure_templates(s, org.id)
    rng = random.Random(20261127)
    now = utcnow()
    with write_session() as s:
        for slug in (s_ for s_ in DEMO_SLUGS if slugs is None or s_ in slugs):
            org = organisations.by_slug(s, slug)
            if org is None or s.exec(select(CallLog.id).where(CallLog.organisation_id == org.id)).first():
                continue
            sessions = s.exec(select(CourseSession).where(CourseSession.organisation_id == org.id,
                                                          CourseSession.starts_at > now + timedelta(days=2),
                                                          CourseSession.status == "scheduled",
                                                          CourseSession.delivery_mode == "classroom")
                              .order_by(CourseSession.starts_at)).all()
            by_type: dict[int, list[CourseSession]] = {}
            for cs in sessions:
                by_type.setdefault(cs.course_type_id, []).append(cs)
            made = 0
            per_session: dict[int, int] = {}
            type_ids = sorted(by_type)
            for i in range(BOOKINGS_PER_ORG * 3):
                if made >= BOOKINGS_PER_ORG or not type_ids:
                    break
                ct_id = type_ids[i % len(type_ids)]
                choices = [cs for cs in by_type[ct_id][:40]
                           if cs.seats_taken < cs.capacity - 2 and per_session.get(cs.id, 0) < 2]
                if not choices:
                    continue
                offer = _new_offer(s, org.id, slug, ct_id, made, rng, now)
                cs = rng.choice(choices)
                per_session[cs.id] = per_session.get(cs.id, 0) + 1
                ct = s.get(CourseType, cs.course_type_id)
                paid = rng.random() < 0.6
                created = now - timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 8))
                booking = Booking(organisation_id=org.id, reference=new_reference(s, org.id), offer_id=offer.id,
                                  session_id=cs.id, status="confirmed" if paid else "awaiting_payment",
                                  channel="telephone" if rng.random() < 0.35 else "online",
                                  payment_due_at=min(cs.starts_at - timedelta(days=1), now + timedelta(days=3)),
                                  fee_pence=ct.fee_pence, created_at=created, updated_at=created)
                s.add(booking)
                cs.seats_taken += 1
                offer.status = "booked"
                s.add(cs)
                s.add(offer)
                s.flush()
                s.add(ClientEvent(organisation_id=org.id, client_id=offer.client_id, offer_id=offer.id,
                                  booking_id=booking.id, at=created, kind="booked",
                                  detail=f"Booked {booking.reference} ({booking.channel})"))
                if paid and ct.fee_pence > 0:
                    s.add(Payment(organisation_id=org.id, booking_id=booking.id, amount_pence=ct.fee_pence,
                                  method="card_telephone" if booking.channel == "telephone" else "cheque",
                                  provider="offline", status="succeeded", received_at=created,
                                  recorded_by="seed-demo", note="Demo payment"))
                made += 1
            weights_type = [30, 25, 20, 10, 8, 4, 3]
            for _ in range(CALLS_PER_ORG):
                day = now - timedelta(days=rng.randint(0, 60))
                at = day.replace(hour=rng.choice([8, 9, 9, 10, 10, 10, 11, 11, 12, 13, 14, 14, 15, 16, 17]),
                                 minute=rng.randint(0, 59))
                call_type = rng.choices(CALL_TYPES, weights=weights_type)[0]
                outcome = {"booking": "booked", "transfer": "transferred", "cancellation": "cancelled",
                           "payment": "payment_taken"}.get(call_type) or rng.choice(CALL_OUTCOMES)
                s.add(CallLog(organisation_id=org.id, at=at, call_type=call_type, outcome=outcome,
                              notes="Demo call"))


FIRST = ("Alex", "Jordan", "Sam", "Chris", "Jamie", "Robin", "Morgan", "Casey", "Drew", "Reese")
LAST = ("Atkinson", "Bell", "Carter", "Dawson", "Ellis", "Fletcher", "Graham", "Harper", "Irving", "Jennings")


def _new_offer(s, org_id: int, slug: str, course_type_id: int, n: int, rng: random.Random, now) -> Offer:
    """A client and offer of their own for each demo booking (the other demo offers stay free to book)."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    client = Client(organisation_id=org_id, first_name=first, last_name=last,
                    date_of_birth=date(rng.randint(1955, 2000), rng.randint(1, 12), rng.randint(1, 28)),
                    address_line1=f"{rng.randint(1, 150)} Market Street", town=slug.capitalize(),
                    postcode="TS24 7QS" if slug == "hartlepool" else "CM1 1QH",
                    email=f"{first.lower()}.{last.lower()}.{n}@example.com", phone=f"07700 9{rng.randint(10000, 99999)}")
    s.add(client)
    s.flush()
    today = london_date(now)
    offer = Offer(organisation_id=org_id, offer_reference=f"RPT-{slug[:3].upper()}-{n + 1:04d}", client_id=client.id,
                  course_type_id=course_type_id, offence_date=today - timedelta(days=40),
                  critical_date=today + timedelta(days=120), police_force="Demo Police", status="referred",
                  source="staff")
    s.add(offer)
    s.flush()
    s.add(ClientEvent(organisation_id=org_id, client_id=client.id, offer_id=offer.id, kind="referred",
                      detail=f"Offer {offer.offer_reference}"))
    return offer
