"""Test data for Environmental Services Ticketing: the module turned on, demand types with public categories, and a
few gazetteer places (with both coordinate systems) around Hartlepool's civic centre, so pins there are inside the
organisation's area."""

from __future__ import annotations

from dataclasses import dataclass

from atlas_app.db import write_session
from atlas_app.models.casework import CaseLookup, CaseModule, CaseTeam, Place
from atlas_app.models.environmental import ReportCategory
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import geo

CENTRE = (54.6862, -1.2126)  # lat, long: Victoria Road, Hartlepool


@dataclass
class EnvSetup:
    module_id: int
    categories: dict[str, int]  # name -> category id
    demand_types: dict[str, int]
    teams: dict[str, int]
    uprns: list[int]


def make_env(org_id: int, categories=("Fly-tipping", "Graffiti", "Missed bin"), promise_days: int = 5,
             places: int = 6, uprn_base: int = 100090000000, teams=("Street Scene", "Waste")) -> EnvSetup:
    with write_session() as s:
        module = CaseModule(organisation_id=org_id, name="Environmental Services", module_type="environmental_ticketing")
        s.add(module)
        s.flush()
        team_type = CaseLookup(organisation_id=org_id, kind="team_type", name="Operations")
        s.add(team_type)
        s.flush()
        team_rows = {t: CaseTeam(organisation_id=org_id, name=t, team_type_id=team_type.id) for t in teams}
        s.add_all(team_rows.values())
        types, cats = {}, {}
        for n, name in enumerate(categories):
            lookup = CaseLookup(organisation_id=org_id, module_id=module.id, kind="demand_type", name=name,
                                demand_class="value", sort_order=n)
            s.add(lookup)
            s.flush()
            types[name] = lookup.id
            cat = ReportCategory(organisation_id=org_id, module_id=module.id, demand_type_id=lookup.id,
                                 is_public=True, public_description=f"{name} in a public place",
                                 promise_days=promise_days, sort_order=n)
            s.add(cat)
            s.flush()
            cats[name] = cat.id
        uprns = []
        for i in range(places):
            lat, lng = CENTRE[0] + 0.0004 * (i - places / 2), CENTRE[1] + 0.0006 * (i % 3 - 1)
            e, n = geo.to_bng(lat, lng)
            uprn = uprn_base + i
            s.add(Place(organisation_id=org_id, uprn=uprn, address_line1=f"{i + 1} Victoria Road", town="Hartlepool",
                        postcode="TS24 8AY", postcode_key="TS248AY",
                        search_text=f"{i + 1} victoria road hartlepool ts24 8ay", x_coordinate=e, y_coordinate=n,
                        latitude=lat, longitude=lng))
            uprns.append(uprn)
        s.flush()
        team_ids = {t: r.id for t, r in team_rows.items()}
    reports.forget_extents()
    return EnvSetup(module.id, cats, types, team_ids, uprns)
