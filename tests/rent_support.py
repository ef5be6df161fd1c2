"""Shared set-up for the rent arrears tests: an organisation with the casework modules seeded, homes, tenants and
tenancies, and files of rent transactions."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from atlas_app.db import write_session
from atlas_app.models.casework import Place
from atlas_app.services.casework import config, people
from atlas_app.services.modules.rent_arrears import imports, tenancies

WEEKLY = 10_000  # £100 a week


def seed(org_id: int) -> None:
    with write_session() as s:
        config.seed_configuration(s, org_id)


def home(org_id: int, uprn: int, line1: str = "") -> int:
    with write_session() as s:
        place = Place(organisation_id=org_id, uprn=uprn, address_line1=line1 or f"{uprn % 1000} Station Road",
                      town="Hartlepool", postcode="TS24 7AA", postcode_key="TS247AA")
        s.add(place)
        s.flush()
        return place.id


def tenancy(actor, account: str, uprn: int, given: str = "Jo", family: str = "Tenant", patch: str = "North",
            weekly: int = WEEKLY, start: date = date(2025, 1, 6), officer_user_id=None) -> int:
    home(actor.organisation_id, uprn)
    person = people.create_person(actor, {"given_name": given, "family_name": f"{family}{uprn}"},
                                  allow_duplicate=True)
    return tenancies.create_tenancy(actor, rent_account=account, uprn=uprn, person_ids=[person], start_date=start,
                                    weekly_rent=weekly, patch=patch, officer_user_id=officer_user_id)


def weeks_of(account: str, start: date, weeks: int, pay_pence: int, prefix: str = "T", weekly: int = WEEKLY,
             kind: str = "payment") -> list[tuple[str, str, str, str, str, str]]:
    """A charge every Monday and a payment of ``pay_pence`` each Friday (none when 0)."""
    rows = []
    for n in range(weeks):
        monday = start + timedelta(days=7 * n)
        rows.append((f"{prefix}{account}-C{n}", account, monday.isoformat(), "charge", "", f"{weekly / 100:.2f}"))
        if pay_pence:
            rows.append((f"{prefix}{account}-P{n}", account, (monday + timedelta(days=4)).isoformat(), kind,
                         "direct_debit", f"{pay_pence / 100:.2f}"))
    return rows


def write(tmp_path: Path, rows, name: str = "rent.csv") -> Path:
    path = tmp_path / name
    path.write_text(imports.sample_csv(rows), encoding="utf-8")
    return path
