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
DEMO_ORGS = [("hartlepool", "Hartlepool Borough Council"), ("essex", "Essex County Council"),
             ("demo", "Demo Borough Council")]
# Organisations whose public service is offered in Welsh from the start (Essex is English only).
WELSH_ORGS = ("hartlepool", "demo")
# Member organisations of the user group from the start (the demo organisation is a sandbox, never a member).
USER_GROUP_MEMBERS = ("hartlepool", "essex")

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
    # Demo Borough Council: anyone may sign in and try anything; the platform administrator resets it.
    "demo": [
        ("demo.admin", "Dee Admin", "Administrator", "admin123"),
        ("demo.booking", "Bo King", "Booking staff", "booking123"),
        ("demo.contact", "Cat Caller", "Contact centre", "contact123"),
        ("demo.instructor", "Dana Teach", "Instructor", "teach123"),
        ("demo.caseworker", "Casey Worker", "Case worker", "cases123"),
        ("demo.manager", "Manny Ger", "Manager", "manage123"),
        ("demo.readonly", "Reed Only", "Read-only", "read123"),
    ],
}
PLATFORM_ADMIN = ("platform.admin", "Pat Morgan", "platform123")


def _org(s, slug: str, name: str) -> Organisation:
    org = organisations.by_slug(s, slug)
    if org is None:
        org = Organisation(slug=slug, name=name, payments_demo=True, welsh_enabled=slug in WELSH_ORGS)
        s.add(org)
        s.flush()
        audit.record(s, system_actor(org.id, "seed-demo"), "organisation", org.id, "created",
                     after={"name": name, "payments_demo": True, "welsh_enabled": org.welsh_enabled})
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
        from atlas_app.models.user_group import UserGroupMember

        for slug in USER_GROUP_MEMBERS:
            org = organisations.by_slug(s, slug)
            if s.get(UserGroupMember, org.id) is None:
                s.add(UserGroupMember(organisation_id=org.id))
    seed_area_data()
    return created


def seed_organisation(slug: str) -> int:
    """Create (or complete) one demo organisation's roles and users, and its data in every area; returns the number
    of users created. Touches no other organisation (the demo organisation's reset)."""
    name = dict(DEMO_ORGS)[slug]
    with write_session() as s:
        org = _org(s, slug, name)
        roles = ensure_default_roles(s, org.id)
        users = sum(_user(s, org, username, full_name, password, roles[role])
                    for username, full_name, role, password in DEMO_USERS[slug])
    seed_area_data((slug,))
    return users


def seed_area_data(slugs: tuple[str, ...] | None = None) -> None:
    """Every area's demo data, for these organisations (all the demo organisations when None)."""
    from atlas_app.services.booking import demo as booking_demo
    from atlas_app.services.casework import demo as casework_demo
    from atlas_app.services.insight import dashboards_demo, reports_demo
    from atlas_app.services.instructors import demo as instructors_demo
    from atlas_app.services.modules.environmental_ticketing import demo as reports_places_demo

    booking_demo.seed(slugs)
    casework_demo.seed(slugs)
    if slugs is None or "hartlepool" in slugs:
        reports_places_demo.seed()  # Hartlepool's places and public report categories
    instructors_demo.seed(slugs)
    dashboards_demo.seed(slugs)
    reports_demo.seed(slugs)
