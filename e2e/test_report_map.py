"""The report map in Chromium, with tiles from a stand-in tile server on this machine (never the internet):
Hartlepool's own tile address is set for this module. On /report's Where step at phone size a resident drops a pin
by tapping the map (and, by keyboard, at the map's centre), the pin is matched to a place and the report carries on
from there; the staff queue's map shows markers for the queue's filter, only those inside its box. axe finds
nothing serious or critical on either page with its map."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from atlas_app.services.platform import maps
from support import at, login, scan, wait_hydrated

ROOT = Path(__file__).resolve().parent.parent
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


def _tile_png() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (256, 256), (226, 232, 224))
    ImageDraw.Draw(img).rectangle((0, 0, 255, 255), outline=(180, 190, 180))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


class _Tiles(BaseHTTPRequestHandler):
    png = b""
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Tiles.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.png)))
        self.end_headers()
        self.wfile.write(self.png)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def tiles(atlas, writer, base_url):
    """A tile server on 127.0.0.1 answering every tile with one small PNG; Hartlepool's maps use it while the
    module runs."""
    _Tiles.png = _tile_png()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    with writer.begin() as conn:
        conn.execute(text("UPDATE organisation SET map_tile_url = :u, map_attribution = :a WHERE slug = 'hartlepool'"),
                     {"u": origin + "/{z}/{x}/{y}.png", "a": "Test tiles"})
    # The pages' image policy names the tile origins, which each server process reads again once its copy is
    # ORIGINS_SECONDS old: wait until a page names this one, and until every process's copy from before the change
    # has run out (the next page may come from another worker).
    changed = time.monotonic()
    deadline = changed + 30
    while True:
        with urllib.request.urlopen(base_url + "/report") as r:
            if origin in (r.headers.get("Content-Security-Policy") or ""):
                break
        assert time.monotonic() < deadline, "the pages' policy never named the tile server"
        time.sleep(1)
    time.sleep(max(0.0, changed + maps.ORIGINS_SECONDS + 1 - time.monotonic()))
    yield origin
    with writer.begin() as conn:
        conn.execute(text("UPDATE organisation SET map_tile_url = '', map_attribution = '' WHERE slug = 'hartlepool'"))
    server.shutdown()


SETUP = r"""
import json, secrets
from sqlmodel import select
from atlas_app.db import write_session
from atlas_app.models import Organisation
from atlas_app.models.casework import CaseLookup, CaseModule, Place
from atlas_app.models.environmental import ReportCategory
from atlas_app.services.modules.environmental_ticketing import reports

tag = secrets.token_hex(3)
with write_session() as s:
    org = s.exec(select(Organisation).where(Organisation.slug == "hartlepool")).one()
    module = s.exec(select(CaseModule).where(CaseModule.organisation_id == org.id,
                                             CaseModule.module_type == "environmental_ticketing")).first()
    dtype = CaseLookup(organisation_id=org.id, module_id=module.id, kind="demand_type", name=f"Graffiti {tag}",
                       demand_class="value")
    s.add(dtype)
    s.flush()
    cat = ReportCategory(organisation_id=org.id, module_id=module.id, demand_type_id=dtype.id, is_public=True,
                         public_description="Paint on walls", promise_days=5)
    s.add(cat)
    s.flush()
    place = s.exec(select(Place).where(Place.organisation_id == org.id, Place.latitude.is_not(None))
                   .order_by(Place.id)).first()
    org_id, cat_id, lat, lng = org.id, cat.id, place.latitude, place.longitude
refs = [reports.submit_report(org_id, {"category_id": cat_id, "latitude": lat + 0.0002 * i, "longitude": lng,
                                       "description": f"Tag on the wall {i}"}, check_limits=False).reference
        for i in range(2)]
print(json.dumps({"refs": refs, "category": f"Graffiti {tag}", "category_id": cat_id}))
"""


@pytest.fixture(scope="module")
def made(atlas) -> dict:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "ATLAS_DATA_DIR": str(atlas.data_dir),
           "DATABASE_URL": atlas.database_url, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-c", SETUP], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _settled(page) -> None:
    page.wait_for_function("document.getAnimations().every(a => a.playState !== 'running')")


def test_a_pin_dropped_on_the_map_at_phone_size(new_context, tiles):
    found: dict[str, list[str]] = {}
    page = new_context(**PHONE).new_page()
    page.goto("/report?org=hartlepool")
    expect(page).to_have_url(at("/report/what"))
    wait_hydrated(page)
    page.get_by_text("Fly-tipping report", exact=True).tap()
    page.locator("#continue").tap()
    expect(page).to_have_url(at("/report/where"))
    wait_hydrated(page)

    canvas = page.locator("#report-map-canvas")
    expect(canvas).to_be_visible()
    expect(page.locator("#map-off")).to_have_count(0)
    expect(page.locator("#f-q")).to_be_visible()  # the address search stays
    # Tiles come from the stand-in server, and are drawn.
    expect(page.locator("#report-map-canvas img.leaflet-tile-loaded").first).to_be_attached()
    assert any(path.endswith(".png") for path in _Tiles.hits)
    expect(canvas).to_contain_text("Test tiles")
    _settled(page)
    scan(page, "where with the map", found)

    box = canvas.bounding_box()
    assert box["width"] <= 390
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator("#pin-label")).to_contain_text("Pin dropped:")
    expect(page.locator("#report-map-canvas .atlas-map-pin")).to_have_count(1)
    label = page.locator("#pin-label strong").inner_text()
    assert label.startswith("Near ") or label.startswith("Map pin at ")

    # By keyboard: the button drops the pin at the centre of the map (moved with the arrow keys).
    canvas.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.locator("#map-drop-centre").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#pin-label strong")).not_to_have_text(label)
    expect(page.locator("#report-map-canvas .atlas-map-pin")).to_have_count(1)
    chosen = page.locator("#pin-label strong").inner_text()
    scan(page, "where with a pin", found)

    page.locator("#use-pin").tap()
    expect(page).to_have_url(re.compile(r"^https?://[^/]+/report/(details|duplicates)/?(\?.*)?$"))
    if "/duplicates" in page.url:
        wait_hydrated(page)
        page.locator("label[for='dupe-new'], #dupe-new").first.tap()
        page.locator("#continue").tap()
        expect(page).to_have_url(at("/report/details"))
    wait_hydrated(page)
    expect(page.locator("main")).to_contain_text(chosen)
    assert found == {"where with the map": [], "where with a pin": []}


def test_the_queue_map_shows_the_filters_reports(new_context, tiles, made):
    found: dict[str, list[str]] = {}
    context = new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    login(page, "hbc.caseworker", "cases123")
    page.goto("/environmental/queue")
    wait_hydrated(page)
    expect(page.locator("main h1")).to_be_visible()
    markers = page.locator("#report-map-canvas path.atlas-map-marker")
    expect(page.locator("#queue-map")).to_be_visible()
    expect(markers.first).to_be_attached()
    expect(page.locator("#report-map-canvas img.leaflet-tile-loaded").first).to_be_attached()

    option = page.locator("#f-category option", has_text=made["category"]).first
    page.select_option("#f-category", option.get_attribute("value"))
    page.click("#queue-apply")
    expect(page.locator("#queue-count")).to_contain_text("2 open reports match")
    expect(markers).to_have_count(2)
    expect(page.locator("#queue-map-note")).to_contain_text("2 reports of this filter in view")
    _settled(page)
    scan(page, "queue with its map", found)

    # Moved far away, the box holds none of them: the map is sent only what is in view.
    canvas = page.locator("#report-map-canvas")
    canvas.scroll_into_view_if_needed()
    canvas.focus()
    expect(canvas).to_be_focused()
    for _ in range(30):
        page.keyboard.press("ArrowLeft", delay=30)
        page.wait_for_timeout(30)
    expect(markers).to_have_count(0, timeout=20_000)
    assert found == {"queue with its map": []}
    context.close()
