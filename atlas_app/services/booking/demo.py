"""Demo data for course booking: course types, regions, venues, terms, three months of sessions, and offers.

Deterministic (a fixed random seed), and idempotent: run again, nothing is added twice.
"""

from __future__ import annotations

import random
from datetime import date, time, timedelta

from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.models import BookingTerms, Client, ClientEvent, CourseSession, CourseType, Offer, Region, Venue
from atlas_app.timeutil import at_london, london_date
from atlas_app.services.platform import organisations

# code, name, NDORS, minutes, fee (pence), modes, capacity, instructor roles
COURSE_TYPES = [
    ("NSAC", "National Speed Awareness Course", True, 165, 9500, ["classroom", "online"], 24,
     [{"role": "classroom", "clients_per_instructor": 12, "minimum": 1}]),
    ("NMAC", "National Motorway Awareness Course", True, 195, 9900, ["classroom", "online"], 24,
     [{"role": "classroom", "clients_per_instructor": 12, "minimum": 1}]),
    ("WDU", "What's Driving Us?", True, 195, 9900, ["classroom", "online"], 20,
     [{"role": "classroom", "clients_per_instructor": 10, "minimum": 1}]),
    ("SCD", "Safe and Considerate Driving", True, 450, 19500, ["practical"], 8,
     [{"role": "classroom", "clients_per_instructor": 8, "minimum": 1},
      {"role": "practical", "clients_per_instructor": 2, "minimum": 1}]),
    ("RIDE", "Rider Intervention Developing Experience", True, 360, 16500, ["classroom"], 12,
     [{"role": "classroom", "clients_per_instructor": 12, "minimum": 1}]),
    ("ODA", "Older Driver Assessment (non-NDORS)", False, 90, 4500, ["practical"], 4,
     [{"role": "practical", "clients_per_instructor": 2, "minimum": 1}]),
]

ORG_GEOGRAPHY = {
    "hartlepool": {
        "regions": ["Hartlepool", "Teesside"],
        "venues": [
            ("Hartlepool Civic Centre", "Hartlepool", "Victoria Road", "Hartlepool", "TS24 8AY",
             "Step-free access from Victoria Road; hearing loop in the council chamber."),
            ("Seaton Carew Community Centre", "Hartlepool", "Station Lane", "Hartlepool", "TS25 1BA",
             "Ground floor; accessible toilet; free parking."),
            ("Middlesbrough Training Hub", "Teesside", "Albert Road", "Middlesbrough", "TS1 2PA",
             "Lift to the first-floor training room."),
            ("Stockton Road Safety Centre", "Teesside", "Church Road", "Stockton-on-Tees", "TS18 1TU",
             "Level access; induction loop."),
        ],
        "force": "Cleveland Police",
        "offer_prefix": "CLE",
        "postcodes": ["TS24 7QS", "TS25 2AB", "TS26 9HU", "TS1 3BA", "TS18 2EP", "TS27 4RT", "TS23 1AA"],
    },
    "essex": {
        "regions": ["Mid Essex", "South Essex", "North Essex"],
        "venues": [
            ("Chelmsford County Hall", "Mid Essex", "Market Road", "Chelmsford", "CM1 1QH",
             "Step-free entrance on Market Road; accessible toilets on every floor."),
            ("Basildon Centre", "South Essex", "St Martin's Square", "Basildon", "SS14 1DL",
             "Lift; hearing loop; blue-badge parking."),
            ("Southend Civic Centre", "South Essex", "Victoria Avenue", "Southend-on-Sea", "SS2 6ER",
             "Level access from Victoria Avenue."),
            ("Colchester Training Rooms", "North Essex", "Sheepen Road", "Colchester", "CO3 3WG",
             "Ground floor rooms; free parking."),
        ],
        "force": "Essex Police",
        "offer_prefix": "ESX",
        "postcodes": ["CM1 2JE", "CM2 0PP", "SS14 3HG", "SS2 5LZ", "CO3 4AA", "CO1 1XD", "CM7 1AB"],
    },
    "demo": {
        "regions": ["Demo North", "Demo South"],
        "venues": [
            ("Demo Town Hall", "Demo North", "1 Market Place", "Demoton", "DE1 1AA",
             "Step-free entrance; hearing loop in the main hall."),
            ("Riverside Community Centre", "Demo North", "River Walk", "Demoton", "DE1 4RW",
             "Ground floor; accessible toilet; free parking."),
            ("Southgate Training Rooms", "Demo South", "Southgate", "Southbury", "DE5 2SG",
             "Lift to the first floor; induction loop."),
        ],
        "force": "Demoshire Police",
        "offer_prefix": "DEM",
        "postcodes": ["DE1 1AB", "DE1 2CD", "DE1 4RX", "DE5 2SH", "DE5 3EF", "DE6 1GH"],
    },
}

FIRST = ["Amelia", "Oliver", "Isla", "George", "Ava", "Harry", "Mia", "Noah", "Sophie", "Jack", "Grace", "Leo",
         "Lily", "Arthur", "Freya", "Oscar", "Ella", "Charlie", "Poppy", "Thomas", "Priya", "Mohammed", "Zara",
         "Kwame", "Siobhan", "Dylan", "Megan", "Rhys"]
LAST = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
        "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Khan",
        "Clarke", "Hughes", "Edwards", "O'Neill", "Murphy"]

# Known offers for demonstrations and the browser tests: reference, date of birth, postcode, course, days left.
DEMO_OFFERS = {
    "hartlepool": [
        ("CLE-DEMO-0001", date(1985, 3, 14), "TS24 7QS", "NSAC", 60, "Sam", "Demo"),
        ("CLE-DEMO-0002", date(1979, 11, 2), "TS25 2AB", "WDU", 45, "Jo", "Example"),
        ("CLE-DEMO-0003", date(1990, 6, 30), "TS26 9HU", "NSAC", -5, "Alex", "Lapsed"),
    ],
    "essex": [
        ("ESX-DEMO-0001", date(1982, 8, 21), "CM1 2JE", "NSAC", 60, "Chris", "Sample"),
    ],
    "demo": [
        ("DEM-DEMO-0001", date(1984, 5, 9), "DE1 1AB", "NSAC", 60, "Robin", "Tryout"),
        ("DEM-DEMO-0002", date(1991, 2, 17), "DE5 2SH", "WDU", 40, "Casey", "Preview"),
    ],
}


def _licence(last: str, dob: date, rng: random.Random) -> str:
    surname = (last.upper().replace("'", "") + "99999")[:5]
    return f"{surname}{dob:%y}{dob.month:02d}{dob:%d}{rng.choice('ABCDEFGHJK')}{rng.choice('ABCDEFGHJK')}9" \
           f"{rng.choice('ABCDEFGHJK')}{rng.choice('ABCDEFGHJK')}"


def seed(slugs: tuple[str, ...] | None = None) -> None:
    """``slugs``: only these organisations (the demo organisation's reset); otherwise every one listed here."""
    rng = random.Random(20261122)
    now = utcnow()
    today = london_date(now)
    with write_session() as s:
        for slug, geo in ORG_GEOGRAPHY.items():
            if slugs is not None and slug not in slugs:
                continue
            org = organisations.by_slug(s, slug)
            if org is None or s.exec(select(CourseType.id).where(CourseType.organisation_id == org.id)).first():
                continue
            s.add(BookingTerms(organisation_id=org.id))
            types = {}
            for code, name, ndors, minutes, fee, modes, cap, roles in COURSE_TYPES:
                ct = CourseType(organisation_id=org.id, code=code, name=name, is_ndors=ndors,
                                duration_minutes=minutes, fee_pence=fee, delivery_modes=modes, default_capacity=cap,
                                instructor_roles=roles)
                s.add(ct)
                types[code] = ct
            regions = {}
            for i, name in enumerate(geo["regions"]):
                region = Region(organisation_id=org.id, name=name, sort_order=i)
                s.add(region)
                regions[name] = region
            s.flush()
            venues = []
            for name, region, line1, town, postcode, notes in geo["venues"]:
                venue = Venue(organisation_id=org.id, region_id=regions[region].id, name=name, address_line1=line1,
                              town=town, postcode=postcode, accessibility_notes=notes)
                s.add(venue)
                venues.append(venue)
            online = Venue(organisation_id=org.id, name="Online (video call)", is_online=True,
                           accessibility_notes="Live video course: you need a camera, microphone and a quiet room.")
            s.add(online)
            s.flush()
            # Three months of sessions.
            for day_offset in range(1, 92):
                day = today + timedelta(days=day_offset)
                if day.weekday() == 6:
                    continue
                for venue in venues:
                    if rng.random() < 0.35:
                        code = rng.choice(["NSAC", "NSAC", "NMAC", "WDU"])
                        ct = types[code]
                        start = at_london(day, rng.choice([time(9, 30), time(13, 30), time(18, 0)]))
                        s.add(CourseSession(organisation_id=org.id, course_type_id=ct.id, venue_id=venue.id,
                                            delivery_mode="classroom", starts_at=start,
                                            ends_at=start + timedelta(minutes=ct.duration_minutes),
                                            capacity=ct.default_capacity))
                if day.weekday() < 5:
                    for code in ("NSAC", "WDU"):
                        ct = types[code]
                        start = at_london(day, time(10, 0) if code == "NSAC" else time(14, 0))
                        s.add(CourseSession(organisation_id=org.id, course_type_id=ct.id, venue_id=online.id,
                                            delivery_mode="online", starts_at=start,
                                            ends_at=start + timedelta(minutes=ct.duration_minutes), capacity=8,
                                            online_link="https://video.example.org/atlas-course"))
                if day.weekday() in (1, 3):
                    ct = types["SCD"]
                    start = at_london(day, time(8, 30))
                    s.add(CourseSession(organisation_id=org.id, course_type_id=ct.id, venue_id=venues[0].id,
                                        delivery_mode="practical", starts_at=start,
                                        ends_at=start + timedelta(minutes=ct.duration_minutes), capacity=8))
            s.flush()
            # Offers: the known demo offers, then a realistic spread.
            specs = [(ref, dob, pc, code, days, first, last) for ref, dob, pc, code, days, first, last
                     in DEMO_OFFERS.get(slug, [])]
            for i in range(60):
                dob = date(rng.randint(1950, 2004), rng.randint(1, 12), rng.randint(1, 28))
                specs.append((f"{geo['offer_prefix']}-{26_0000 + i:06d}", dob, rng.choice(geo["postcodes"]),
                              rng.choice(["NSAC", "NSAC", "NSAC", "NMAC", "WDU", "SCD", "RIDE"]),
                              rng.randint(10, 110), rng.choice(FIRST), rng.choice(LAST)))
            for ref, dob, postcode, code, days_left, first, last in specs:
                client = Client(organisation_id=org.id, first_name=first, last_name=last, date_of_birth=dob,
                                licence_number=_licence(last, dob, rng), address_line1=f"{rng.randint(1, 200)} "
                                f"{rng.choice(['High Street', 'Church Lane', 'Station Road', 'Park Avenue'])}",
                                town=geo["venues"][0][3], postcode=postcode,
                                email=f"{first.lower()}.{last.lower().replace(chr(39), '')}@example.com",
                                phone=f"07700 9{rng.randint(10000, 99999)}")
                s.add(client)
                s.flush()
                critical = today + timedelta(days=days_left)
                offer = Offer(organisation_id=org.id, offer_reference=ref, client_id=client.id,
                              course_type_id=types[code].id, offence_date=critical - timedelta(days=120),
                              critical_date=critical, police_force=geo["force"],
                              status="expired" if days_left < 0 else "referred")
                s.add(offer)
                s.flush()
                s.add(ClientEvent(organisation_id=org.id, client_id=client.id, offer_id=offer.id, kind="referred",
                                  detail=f"Offer {ref} for {code} from {geo['force']}"))
                if days_left < 0:
                    s.add(ClientEvent(organisation_id=org.id, client_id=client.id, offer_id=offer.id,
                                      kind="offer_expired", detail=f"The critical date {critical:%d %B %Y} passed."))
