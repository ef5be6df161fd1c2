"""Demo data for residents' reports: a handful of Hartlepool places (with grid and WGS84 coordinates) and the
Environmental Services Ticketing categories public with their descriptions and promises. Idempotent."""

from __future__ import annotations

from sqlmodel import select

from atlas_app.db import write_session
from atlas_app.models.casework import CaseLookup, Place
from atlas_app.models.environmental import ReportCategory
from atlas_app.services import modules
from atlas_app.services.casework.search import normalise
from atlas_app.services.modules.environmental_ticketing import MODULE_TYPE
from atlas_app.services.platform import geo, organisations

# (uprn, usrn, line 1, postcode, easting, northing): around Hartlepool civic centre.
PLACES = [
    (100110000001, 20000101, "1 Victoria Road", "TS24 8AA", 450520.0, 532610.0),
    (100110000003, 20000101, "3 Victoria Road", "TS24 8AA", 450540.0, 532612.0),
    (100110000005, 20000101, "5 Victoria Road", "TS24 8AA", 450560.0, 532614.0),
    (100110000010, 20000102, "10 Church Street", "TS24 7DJ", 451020.0, 533120.0),
    (100110000012, 20000102, "12 Church Street", "TS24 7DJ", 451040.0, 533125.0),
    (100110000020, 20000103, "20 Park Road", "TS26 9HU", 449700.0, 532100.0),
    (100110000022, 20000103, "22 Park Road", "TS26 9HU", 449720.0, 532104.0),
    (100110000030, 20000104, "Seaton Carew Promenade", "TS25 1DU", 452300.0, 529400.0),
]

# demand type name -> (public description, promise in working days)
PUBLIC = {
    "Fly-tipping report": ("Rubbish dumped on a street, path, verge or other public land.", 5),
    "Graffiti removal": ("Paint or marker on walls, signs, bins or street furniture.", 10),
    "Offensive graffiti": ("Graffiti that is racist, obscene or otherwise offensive.", 1),
    "Dead animal": ("A dead animal on a road, path or other public place.", 2),
    "Overflowing litter bin": ("A council litter bin that is full or overflowing.", 3),
    "Missed bin collection": ("Your household bin was out on time but was not emptied.", 2),
}

# The same in Welsh (Welsh Government terms where there are any: "tipio anghyfreithlon" for fly-tipping).
PUBLIC_CY = {
    "Fly-tipping report": ("Tipio anghyfreithlon",
                           "Sbwriel wedi’i adael ar stryd, llwybr, ymyl ffordd neu dir cyhoeddus arall."),
    "Graffiti removal": ("Cael gwared ar graffiti",
                         "Paent neu farciwr ar waliau, arwyddion, biniau neu ddodrefn stryd."),
    "Offensive graffiti": ("Graffiti sarhaus", "Graffiti sy’n hiliol, yn anweddus neu’n sarhaus mewn ffordd arall."),
    "Dead animal": ("Anifail marw", "Anifail marw ar ffordd, llwybr neu fan cyhoeddus arall."),
    "Overflowing litter bin": ("Bin sbwriel yn gorlifo", "Bin sbwriel y cyngor sy’n llawn neu’n gorlifo."),
    "Missed bin collection": ("Bin heb ei gasglu", "Roedd bin eich cartref allan mewn pryd ond ni chafodd ei wagio."),
}


def seed() -> int:
    """Places and public categories for Hartlepool; returns how many rows were added."""
    added = 0
    with write_session() as s:
        org = organisations.by_slug(s, "hartlepool")
        if org is None:
            return 0
        module = modules.module_of(s, org.id, MODULE_TYPE)
        if module is None:
            return 0
        have = set(s.exec(select(Place.uprn).where(Place.organisation_id == org.id)).all())
        for uprn, usrn, line1, postcode, e, n in PLACES:
            if uprn in have:
                continue
            lat, lng = geo.to_wgs84(e, n)
            s.add(Place(organisation_id=org.id, uprn=uprn, usrn=usrn, address_line1=line1, town="Hartlepool",
                        postcode=postcode, postcode_key=postcode.replace(" ", ""),
                        search_text=normalise(f"{line1} Hartlepool {postcode}"), classification="RD",
                        x_coordinate=e, y_coordinate=n, latitude=lat, longitude=lng, source="demo"))
            added += 1
        types = s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org.id,
                                                CaseLookup.module_id == module.id,
                                                CaseLookup.kind == "demand_type")
                       .order_by(CaseLookup.sort_order, CaseLookup.id)).all()
        have_cats = set(s.exec(select(ReportCategory.demand_type_id)
                               .where(ReportCategory.organisation_id == org.id)).all())
        for order, t in enumerate(types):
            if t.id in have_cats:
                continue
            description, days = PUBLIC.get(t.name, ("", 5))
            name_cy, description_cy = PUBLIC_CY.get(t.name, ("", ""))
            s.add(ReportCategory(organisation_id=org.id, module_id=module.id, demand_type_id=t.id,
                                 is_public=t.name in PUBLIC, public_description=description, promise_days=days,
                                 sort_order=order, public_name_cy=name_cy, public_description_cy=description_cy))
            added += 1
    return added
