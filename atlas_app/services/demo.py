"""Demo data: the two demo organisations, their roles and a user for each role.

Every demo password is ``<role word>123`` style and meets the password rule; the README lists the logins.
"""

from __future__ import annotations

from sqlmodel import select

from atlas_app.db import write_session
from atlas_app.models import Organisation, User, UserRole
from atlas_app.services.booking import emails
from atlas_app.services.platform import audit
from atlas_app.services.platform.actor import system_actor
from atlas_app.services.platform.passwords import hash_password
from atlas_app.services.platform.users import ensure_default_roles
from atlas_app.services.platform import organisations

PLATFORM_ORG = ("atlas", "Atlas Service Provider")
DEMO_ORGS = [("hartlepool", "Hartlepool Borough Council"), ("essex", "Essex County Council")]

# username, full name, role, password
DEMO_USERS = {
    "hartlepool": [
        ("hbc.admin", "Helen Barker", "Administrator", "admin123"),
        ("hbc.booking", "Ben Hughes", "Booking staff", "booking123"),
        ("hbc.contact", "Chloe Dixon", "Contact centre", "contact123"),
        ("hbc.instructor", "Ian Walsh", "Instructor", "teach123"),
        ("hbc.caseworker", "Kate Morris", "Case worker", "cases123"),
        ("hbc.manager", "Mark Lowe", "Manager", "manage123"),
        ("hbc.readonly", "Rita Shaw", "Read-only", "read123"),
    ],
    "essex": [
        ("ecc.admin", "Edward Cole", "Administrator", "admin123"),
        ("ecc.booking", "Priya Shah", "Booking staff", "booking123"),
        ("ecc.contact", "Tom Reid", "Contact centre", "contact123"),
        ("ecc.manager", "Sara Quinn", "Manager", "manage123"),
    ],
}
PLATFORM_ADMIN = ("platform.admin", "Pat Morgan", "platform123")


def _org(s, slug: str, name: str) -> Organisation:
    org = organisations.by_slug(s, slug)
    if org is None:
        org = Organisation(slug=slug, name=name, payments_demo=True)
        s.add(org)
        s.flush()
        audit.record(s, system_actor(org.id, "seed-demo"), "organisation", org.id, "created",
                     after={"name": name, "payments_demo": True})
        emails.ensure_templates(s, org.id)
    return org


def _user(s, org: Organisation, username: str, full_name: str, password: str, role_id: int | None,
          platform_admin: bool = False) -> bool:
    if s.exec(select(User.id).where(User.username == username)).first() is not None:
        return False
    user = User(
        organisation_id=org.id,
        username=username,
        full_name=full_name,
        email=f"{username}@{org.slug}.example.gov.uk",
        password_hash=hash_password(password, rounds=10),
        is_platform_admin=platform_admin,
    )
    s.add(user)
    s.flush()
    if role_id is not None:
        s.add(UserRole(user_id=user.id, role_id=role_id))
    audit.record(s, system_actor(org.id, "seed-demo"), "user", user.id, "created",
                 after={"username": username, "full_name": full_name})
    return True


def has_demo_data() -> bool:
    from atlas_app.db import read_session

    with read_session() as s:
        return s.exec(select(Organisation.id)).first() is not None


def seed_demo() -> dict[str, int]:
    """Create (or complete) the demo organisations and users. Running it again adds nothing twice."""
    created = {"organisations": 0, "users": 0}
    with write_session() as s:
        platform = _org(s, *PLATFORM_ORG)
        platform_roles = ensure_default_roles(s, platform.id)
        created["users"] += _user(s, platform, PLATFORM_ADMIN[0], PLATFORM_ADMIN[1], PLATFORM_ADMIN[2],
                                  platform_roles["Administrator"], platform_admin=True)
        for slug, name in DEMO_ORGS:
            org = _org(s, slug, name)
            roles = ensure_default_roles(s, org.id)
            for username, full_name, role, password in DEMO_USERS[slug]:
                created["users"] += _user(s, org, username, full_name, password, roles[role])
        created["organisations"] = len(DEMO_ORGS) + 1
    from atlas_app.services.booking import demo as booking_demo

    booking_demo.seed()
    from atlas_app.services.casework import demo as casework_demo

    casework_demo.seed()
    from atlas_app.services.modules.environmental_ticketing import demo as reports_places_demo

    reports_places_demo.seed()
    from atlas_app.services.instructors import demo as instructors_demo

    instructors_demo.seed()
    from atlas_app.services.insight import dashboards_demo

    dashboards_demo.seed()
    from atlas_app.services.insight import reports_demo

    reports_demo.seed()
    return created
