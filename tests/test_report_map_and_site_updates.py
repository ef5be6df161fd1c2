"""The report map's services (an organisation's tiles, a dropped pin matched to the nearest place or told which
council to contact, the staff map's box of the queue's filter, the tile origins in the pages' policy) and Open311
``POST servicerequestupdates`` keeping a report-it site's comment once per its ``update_id``, also when two copies
arrive at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import all_rows
from env_report_data import CENTRE, make_env
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.api.security_headers import content_security_policy
from atlas_app.models import AuditEntry
from atlas_app.models.environmental import ReportUpdate
from atlas_app.services.modules.environmental_ticketing import queue as q
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import api_tokens, geo, maps, previews
from atlas_app.services.platform.errors import PermissionDenied, ValidationFailed

TILES = "https://tiles.example.org/{z}/{x}/{y}.png"


@pytest.fixture(autouse=True)
def _fresh_caches():
    reports.forget_extents()
    maps.forget_origins()
    yield
    reports.forget_extents()
    maps.forget_origins()


@pytest.fixture
def env(org):
    return make_env(org.id)


# --- tiles -----------------------------------------------------------------------------------------------------


def test_no_tiles_means_no_map_until_the_organisation_or_the_deployment_sets_them(org, env, actor, set_env):
    set_env(MAP_TILE_URL=None, MAP_ATTRIBUTION=None)
    assert reports.public_map(org.id) is None
    set_env(MAP_TILE_URL="https://deployment.example/{z}/{x}/{y}.png", MAP_ATTRIBUTION="© Deployment")
    found = reports.public_map(org.id)
    assert found.tile_url.startswith("https://deployment.example/") and found.attribution == "© Deployment"
    maps.set_tiles(actor, TILES, "© OpenStreetMap contributors")
    found = reports.public_map(org.id)
    assert found.tile_url == TILES and found.attribution == "© OpenStreetMap contributors"
    # The organisation's area (its places' extent) in WGS84 frames the map around the places.
    south, west, north, east = found.area
    assert south <= CENTRE[0] <= north and west <= CENTRE[1] <= east
    maps.set_tiles(actor, "", "")
    assert reports.public_map(org.id).tile_url.startswith("https://deployment.example/")
    assert [e.action for e in all_rows(AuditEntry) if e.entity == "organisation"].count("map_tiles_set") == 2


@pytest.mark.parametrize("url, error", [
    ("http://tiles.example.org/{z}/{x}/{y}.png", "scheme"),
    ("javascript:alert(1)//{z}{x}{y}", "scheme"),
    ("https://tiles.example.org/{z}/{x}.png", "placeholders"),
    ('https://tiles.example.org/{z}/{x}/{y}.png" onerror="x', "invalid"),
    ("//tiles.example.org/{z}/{x}/{y}.png", "scheme"),
    ("https://tiles.example.org/" + "a" * 500 + "/{z}/{x}/{y}.png", "too long"),
])
def test_a_bad_tile_address_is_refused_and_nothing_changes(org, actor, url, error):
    with pytest.raises(ValidationFailed) as exc:
        maps.set_tiles(actor, url, "© Someone")
    assert exc.value.errors["map_tile_url"] == error
    assert maps.own_tiles(actor) == ("", "")


def test_tiles_need_their_attribution_and_an_administrator(org, actor, make_user):
    with pytest.raises(ValidationFailed) as exc:
        maps.set_tiles(actor, TILES, "")
    assert exc.value.errors == {"map_attribution": "required"}
    with pytest.raises(ValidationFailed):
        maps.set_tiles(actor, TILES, "<b>bold</b>")
    # A path on Atlas itself and a tile server on this machine are allowed (a local tile cache, a test stand-in).
    maps.set_tiles(actor, "/tiles/{z}/{x}/{y}.png", "")
    maps.set_tiles(actor, "http://127.0.0.1:8111/{z}/{x}/{y}.png", "Local tiles")
    from conftest import actor_for

    officer = actor_for(make_user("hbc.officer", roles=("Case worker",)))
    with pytest.raises(PermissionDenied):
        maps.set_tiles(officer, TILES, "© Someone")


def test_the_pages_may_load_images_from_every_configured_tile_origin_only(org, other_org, actor, other_actor, set_env):
    set_env(MAP_TILE_URL=None)
    assert maps.tile_origins() == ()
    maps.set_tiles(actor, "https://{s}.tile.example.org/{z}/{x}/{y}.png", "© Example")
    maps.set_tiles(other_actor, "http://127.0.0.1:8111/{z}/{x}/{y}.png", "Local")
    assert maps.tile_origins() == ("http://127.0.0.1:8111", "https://*.tile.example.org")
    policy = content_security_policy((), maps.tile_origins())
    img = next(p for p in policy.split("; ") if p.startswith("img-src"))
    assert "http://127.0.0.1:8111" in img and "*.tile.example.org" in img
    assert "127.0.0.1:8111" not in policy.replace(img, "")


# --- pins ------------------------------------------------------------------------------------------------------


def test_a_pin_is_matched_to_the_nearest_place_within_150_m(org, env):
    e, n = geo.to_bng(*CENTRE)
    lat, lng = geo.to_wgs84(e + 20, n)
    loc = reports.locate(org.id, latitude=lat, longitude=lng)
    assert loc.uprn in env.uprns and loc.label.startswith("Near ")
    assert abs(loc.easting - (e + 20)) < 1 and abs(loc.northing - n) < 1
    # Nearest, not first: every place is farther from the pin than the one chosen.
    from atlas_app.db import read_session
    from atlas_app.models.casework import Place
    from sqlmodel import select

    with read_session() as s:
        places = s.exec(select(Place).where(Place.organisation_id == org.id)).all()
    chosen = next(p for p in places if p.uprn == loc.uprn)
    best = geo.distance_m((loc.easting, loc.northing), (chosen.x_coordinate, chosen.y_coordinate))
    assert all(geo.distance_m((loc.easting, loc.northing), (p.x_coordinate, p.y_coordinate)) >= best - 0.01
               for p in places)
    # 400 m from every place but inside the area's margin: a pin on the map, no place.
    lat, lng = geo.to_wgs84(e + 400, n + 400)
    far = reports.locate(org.id, latitude=lat, longitude=lng)
    assert far.uprn is None and far.label.startswith("Map pin at")


def test_a_pin_outside_the_area_names_the_council_to_contact(org, env, other_org):
    make_env(other_org.id, categories=("Potholes",), uprn_base=200090000000)
    # Move Essex's places 30 km south: a pin there is Essex's.
    from atlas_app.db import write_session
    from atlas_app.models.casework import Place
    from sqlmodel import select

    with write_session() as s:
        for p in s.exec(select(Place).where(Place.organisation_id == other_org.id)).all():
            p.y_coordinate -= 30_000
            s.add(p)
    reports.forget_extents()
    e, n = geo.to_bng(*CENTRE)
    lat, lng = geo.to_wgs84(e, n - 30_000)
    with pytest.raises(reports.OutsideArea) as exc:
        reports.locate(org.id, latitude=lat, longitude=lng)
    assert "Essex County Council" in str(exc.value) and exc.value.errors["contact"] == "Essex County Council"
    lat, lng = geo.to_wgs84(e + 60_000, n)
    with pytest.raises(reports.OutsideArea) as exc:
        reports.locate(org.id, latitude=lat, longitude=lng)
    assert reports.FIND_COUNCIL in str(exc.value)


# --- the staff map -------------------------------------------------------------------------------------------


def _submit(org_id: int, category_id: int, lat: float, lng: float, text: str = "A problem") -> str:
    return reports.submit_report(org_id, {"category_id": category_id, "latitude": lat, "longitude": lng,
                                          "description": text}, check_limits=False).reference


def test_the_staff_map_gets_the_filters_reports_inside_its_box_only(org, env, actor, other_org, other_actor):
    e, n = geo.to_bng(*CENTRE)
    fly, graffiti = env.categories["Fly-tipping"], env.categories["Graffiti"]
    inside = [_submit(org.id, fly, *geo.to_wgs84(e + 10 * i, n)) for i in range(3)]
    other_kind = _submit(org.id, graffiti, *geo.to_wgs84(e, n + 10))
    outside = _submit(org.id, fly, *geo.to_wgs84(e + 450, n + 450))
    box = _box(e - 100, n - 100, e + 100, n + 100)
    everything = q.map_points(actor, q.QueueFilter(), box)
    assert {p.reference for p in everything.points} == {*inside, other_kind} and not everything.more
    only_fly = q.map_points(actor, q.QueueFilter(category_id=fly), box)
    assert {p.reference for p in only_fly.points} == set(inside)
    assert outside not in {p.reference for p in q.map_points(actor, q.QueueFilter(), box).points}
    assert q.map_points(actor, q.QueueFilter(), _box(e - 1000, n - 1000, e + 1000, n + 1000)).points
    capped = q.map_points(actor, q.QueueFilter(), box, limit=2)
    assert len(capped.points) == 2 and capped.more
    # Another organisation's staff see none of them, whatever box they ask for.
    make_env(other_org.id, categories=("Potholes",), uprn_base=200090000000)
    assert q.map_points(other_actor, q.QueueFilter(), box).points == []
    with pytest.raises(ValidationFailed):
        q.map_points(actor, q.QueueFilter(), (-8.0, 50.0, 1.5, 58.0))
    with pytest.raises(ValidationFailed):
        q.map_points(actor, q.QueueFilter(), ("x", 1, 2, 3))


def _box(e0, n0, e1, n1):
    south, west = geo.to_wgs84(e0, n0)
    north, east = geo.to_wgs84(e1, n1)
    return (west, south, east, north)


# --- Open311: a comment sent again is kept once ----------------------------------------------------------------


@pytest.fixture
def api_key(actor) -> str:
    """A FixMyStreet token for Hartlepool, which has the service request updates (a feature in preview) on."""
    previews.set_enabled(actor, previews.OPEN311_UPDATES.code, True)
    return api_tokens.create(actor, "FixMyStreet").token


def _post_update(http, api_key, ref, update_id, text="The sofa is still there.", fmt="xml"):
    data = {"api_key": api_key, "jurisdiction_id": "hartlepool", "service_request_id": ref,
            "description": text, "first_name": "Ann", "last_name": "Resident", "status": "OPEN",
            "updated_datetime": "2026-12-02T09:00:00Z"}
    if update_id is not None:
        data["update_id"] = update_id
    return http.post(f"/open311/v2/servicerequestupdates.{fmt}", data=data)


def _update_id(r, fmt):
    assert r.status_code == 200, r.text
    if fmt == "json":
        return r.json()[0]["update_id"]
    from defusedxml import ElementTree as SafeET

    return SafeET.fromstring(r.content).find("request_update/update_id").text


def _comments(reference):
    case_id = reports.parse_reference(reference)
    from atlas_app.models.environmental import Report

    report_id = next(r.id for r in all_rows(Report) if r.case_id == case_id)
    return [u for u in all_rows(ReportUpdate) if u.kind == "resident" and u.report_id == report_id]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_retried_comment_is_kept_once_and_answers_the_same_update_id(org, env, api_key, fmt):
    ref = _submit(org.id, env.categories["Fly-tipping"], *CENTRE)
    with TestClient(build_api()) as http:
        first = _update_id(_post_update(http, api_key, ref, "fms-555", fmt=fmt), fmt)
        again = _update_id(_post_update(http, api_key, ref, "fms-555", fmt=fmt), fmt)
        assert again == first
        assert len(_comments(ref)) == 1 and _comments(ref)[0].site_update_id == "fms-555"
        # Another comment of the site is another entry; so is one with no update_id at all.
        other = _update_id(_post_update(http, api_key, ref, "fms-556", "Now there are two sofas.", fmt), fmt)
        plain = _update_id(_post_update(http, api_key, ref, None, "And a fridge.", fmt), fmt)
        assert len({first, other, plain}) == 3
        # The same update_id on another report is that report's own comment.
        ref2 = _submit(org.id, env.categories["Graffiti"], *CENTRE)
        elsewhere = _update_id(_post_update(http, api_key, ref2, "fms-555", fmt=fmt), fmt)
        assert elsewhere not in (first, other, plain)
    assert len(_comments(ref)) == 3 and len(_comments(ref2)) == 1
    audited = [e for e in all_rows(AuditEntry) if e.action == "information_added"]
    assert len(audited) == 4


def test_two_copies_of_a_comment_at_once_are_kept_once(org, env, api_key):
    ref = _submit(org.id, env.categories["Fly-tipping"], *CENTRE)
    threads = 8
    gate = threading.Barrier(threads)

    def send(_):
        with TestClient(build_api()) as http:
            gate.wait(timeout=30)
            return _update_id(_post_update(http, api_key, ref, "fms-777"), "xml")

    for round_ in range(3):
        gate.reset()
        with ThreadPoolExecutor(threads) as pool:
            answers = list(pool.map(send, range(threads)))
        assert len(set(answers)) == 1, answers
    kept = [u for u in _comments(ref) if u.site_update_id == "fms-777"]
    assert len(kept) == 1 and str(kept[0].id) == answers[0]
