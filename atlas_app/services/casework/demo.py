"""Demo casework configuration: the five modules and their lists for each demo council, and teams."""

from __future__ import annotations

from sqlmodel import select

from atlas_app.db import write_session
from atlas_app.models import User
from atlas_app.models.casework import CaseLookup, CaseTeam, CaseTeamMember
from atlas_app.services.casework.config import seed_configuration
from atlas_app.services.platform import organisations

# organisation slug -> [(team name, team type, member usernames)]
DEMO_TEAMS = {
    "hartlepool": [
        ("Customer Services", "Contact centre", ["hbc.caseworker", "hbc.contact"]),
        ("Income Team", "Income team", ["hbc.caseworker"]),
        ("Street Cleansing North", "Street cleansing crew", []),
    ],
    "essex": [("Essex Contact Centre", "Contact centre", ["ecc.contact"])],
    "demo": [
        ("Demo Customer Services", "Contact centre", ["demo.caseworker", "demo.contact"]),
        ("Demo Income Team", "Income team", ["demo.caseworker"]),
    ],
}


def seed(slugs: tuple[str, ...] | None = None) -> None:
    """Idempotent: an organisation that already has modules is left alone. ``slugs``: only these organisations."""
    with write_session() as s:
        for slug, teams in DEMO_TEAMS.items():
            if slugs is not None and slug not in slugs:
                continue
            org = organisations.by_slug(s, slug)
            if org is None or not seed_configuration(s, org.id):
                continue
            for name, type_name, members in teams:
                team_type = s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org.id,
                                                            CaseLookup.kind == "team_type",
                                                            CaseLookup.name == type_name)).one()
                team = CaseTeam(organisation_id=org.id, name=name, team_type_id=team_type.id)
                s.add(team)
                s.flush()
                for username in members:
                    user = s.exec(select(User).where(User.username == username)).first()
                    if user is not None:
                        s.add(CaseTeamMember(team_id=team.id, user_id=user.id, organisation_id=org.id))
