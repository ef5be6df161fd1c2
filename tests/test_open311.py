"""Open311 GeoReport v2 end to end over HTTP (Starlette's TestClient against build_api()).

``FixMyStreetClient`` does what mySociety's ``perllib/Open311.pm`` does: it appends ``services.xml``,
``requests.xml`` and ``servicerequestupdates.xml`` to its endpoint, sends ``jurisdiction_id`` on every request and
``api_key`` on POSTs (and on the updates poll), posts form-encoded fields (``attribute[...]`` among them), and reads
the answers as XML the way XML::Simple does with its ForceArray list; updates are kept only when their
``updated_datetime`` lies inside the window it asked for (``UpdatesBase::check_date``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import all_rows
from defusedxml import ElementTree as SafeET
from env_report_data import CENTRE, make_env
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import utcnow
from atlas_app.domain.statuses import ReportStatus
from atlas_app.models import AuditEntry
from atlas_app.models.casework import Demand
from atlas_app.models.environmental import Report, ReportFollower, ReportUpdate
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import api_tokens, previews

FORCE_ARRAY = {"service", "attribute", "value", "request", "error", "request_update", "group"}


def xml_simple(body: bytes) -> dict:
    """XML::Simple's reading, as Open311.pm configures it: elements in FORCE_ARRAY become lists of dicts (or text),
    others a dict of their children or their text."""
    def read(el):
        children = list(el)
        if not children:
            return el.text or None
        out: dict = {}
        for child in children:
            value = read(child)
            if child.tag in FORCE_ARRAY:
                out.setdefault(child.tag, []).append(value)
            else:
                out[child.tag] = value
        return out

    return read(SafeET.fromstring(body))


def w3cdtf(dt: datetime) -> str:
    """DateTime::Format::W3CDTF->format_datetime of a UTC DateTime."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FixMyStreetClient:
    def __init__(self, http: TestClient, jurisdiction: str, api_key: str, fmt: str = "xml") -> None:
        self.http, self.jurisdiction, self.api_key, self.fmt = http, jurisdiction, api_key, fmt
        self.endpoint = "/open311/v2/"

    def _read(self, response):
        return xml_simple(response.content) if self.fmt == "xml" else response.json()

    def get(self, path: str, params: dict | None = None):
        params = {**(params or {}), "jurisdiction_id": self.jurisdiction}
        return self.http.get(self.endpoint + path, params=params)

    def post(self, path: str, params: dict):
        params = {**params, "jurisdiction_id": self.jurisdiction, "api_key": self.api_key}
        return self.http.post(self.endpoint + path, data=params)

    def services(self):
        r = self.get(f"services.{self.fmt}")
        assert r.status_code == 200, r.text
        return self._read(r)

    def send_service_request(self, service_code: str, **extra) -> str:
        params = {"description": "title: Sofa on the verge\n\ndetail: An old sofa dumped by the bus stop.\n\n"
                                 "url: https://fms.example/report/1234\n\nSubmitted via FixMyStreet\n",
                  "service_code": service_code, "first_name": "Ann", "last_name": "Resident",
                  "email": "ann@example.org", "lat": f"{CENTRE[0]:.6f}", "long": f"{CENTRE[1]:.6f}",
                  "attribute[fixmystreet_id]": "1234", "attribute[easting]": "450123",
                  "attribute[northing]": "532987", "attribute[closest_address]": "Victoria Road, Hartlepool",
                  **extra}
        r = self.post(f"requests.{self.fmt}", params)
        assert r.status_code == 200, r.text
        obj = self._read(r)
        first = obj["request"][0] if self.fmt == "xml" else obj[0]
        return first["service_request_id"]

    def get_service_request_updates(self, start: datetime, end: datetime) -> list[dict]:
        r = self.http.get(self.endpoint + f"servicerequestupdates.{self.fmt}",
                          params={"api_key": self.api_key, "start_date": w3cdtf(start), "end_date": w3cdtf(end),
                                  "jurisdiction_id": self.jurisdiction})
        assert r.status_code == 200, r.text
        obj = self._read(r)
        items = (obj or {}).get("request_update", []) if self.fmt == "xml" else obj
        kept = []
        for item in items:
            updated = datetime.fromisoformat(item["updated_datetime"].replace("Z", "+00:00"))
            if w3cdtf(start) <= w3cdtf(updated) <= w3cdtf(end):  # check_date compares the strings
                kept.append(item)
        return kept

    def post_service_request_update(self, service_request_id: str, text: str) -> str:
        r = self.post(f"servicerequestupdates.{self.fmt}", {
            "updated_datetime": w3cdtf(utcnow()), "service_request_id": service_request_id, "status": "OPEN",
            "description": text, "last_name": "Resident", "first_name": "Ann", "email": "ann@example.org",
            "update_id": "98765"})
        assert r.status_code == 200, r.text
        obj = self._read(r)
        return (obj["request_update"][0] if self.fmt == "xml" else obj[0])["update_id"]


@pytest.fixture
def http():
    with TestClient(build_api(), raise_server_exceptions=True) as c:
        yield c


@pytest.fixture
def env(org, actor):
    """Hartlepool's module, with the service request updates (a feature in preview) switched on."""
    previews.set_enabled(actor, previews.OPEN311_UPDATES.code, True)
    return make_env(org.id)


@pytest.fixture
def api_key(actor) -> str:
    return api_tokens.create(actor, "FixMyStreet").token


def _error(response, status: int, fmt: str = "xml") -> str:
    assert response.status_code == status, response.text
    if fmt == "xml":
        errors = xml_simple(response.content)["error"]
        assert errors[0]["code"] == str(status)
        return errors[0]["description"]
    body = response.json()
    assert body[0]["code"] == status
    return body[0]["description"]


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_fixmystreet_sends_a_report_and_reads_the_staff_update(http, org, env, actor, api_key, fmt):
    fms = FixMyStreetClient(http, "hartlepool", api_key, fmt)
    services = fms.services()
    listed = services["service"] if fmt == "xml" else services
    codes = {s["service_name"]: s["service_code"] for s in listed}
    assert set(codes) == {"Fly-tipping", "Graffiti", "Missed bin"}
    assert all(s["metadata"] in ("true", True) for s in listed)

    asked_from = utcnow() - timedelta(minutes=5)
    ref = fms.send_service_request(codes["Fly-tipping"])
    assert ref.startswith("ENV-")

    (rep,) = all_rows(Report)
    assert rep.reference == ref and rep.channel == "open311" and rep.status == ReportStatus.RECEIVED
    assert rep.reporter_email == "ann@example.org" and rep.reporter_name == "Ann Resident"
    assert rep.uprn in env.uprns  # the pin matched to the nearest gazetteer place
    assert "An old sofa" in rep.description
    assert [f.email for f in all_rows(ReportFollower)] == ["ann@example.org"]
    (demand,) = all_rows(Demand)
    assert demand.demand_class == "value" and demand.case_id == rep.case_id

    # Nothing yet to tell the site: the "received" entry is the site's own report.
    assert fms.get_service_request_updates(asked_from, utcnow() + timedelta(seconds=1)) == []

    reports.change_status(actor, ref, ReportStatus.IN_PROGRESS, message="A crew is on the way.")
    update_id = reports.public_update(actor, ref, "We have cleared the sofa.")
    window_end = utcnow() + timedelta(seconds=1)
    got = fms.get_service_request_updates(asked_from, window_end)
    assert [(u["service_request_id"], u["status"], u["description"]) for u in got] == [
        (ref, "in_progress", "A crew is on the way."), (ref, "in_progress", "We have cleared the sofa.")]
    assert got[1]["update_id"] == str(update_id)
    assert got[0]["updated_datetime"].endswith("+00:00") or got[0]["updated_datetime"].endswith("+01:00")

    # A window before the updates holds none of them.
    assert fms.get_service_request_updates(asked_from - timedelta(hours=2), asked_from) == []

    # The status as FixMyStreet fetches it: requests.xml?service_request_id=ID,ID
    r = fms.get(f"requests.{fmt}", {"service_request_id": f"{ref},ENV-999999"})
    requests = xml_simple(r.content)["request"] if fmt == "xml" else r.json()
    assert [(q["service_request_id"], q["status"]) for q in requests] == [(ref, "open")]
    assert "ann@example.org" not in r.text and "Resident" not in r.text  # public fields only

    # A resident's comment posted back from the site reaches the case's public timeline, not the feed.
    new_id = fms.post_service_request_update(ref, "It is back again tonight.")
    comment = [u for u in all_rows(ReportUpdate) if str(u.id) == str(new_id)][0]
    assert comment.kind == "resident" and comment.is_public and comment.body == "It is back again tonight."
    assert comment.author_name == "Ann Resident"
    assert [u["update_id"] for u in fms.get_service_request_updates(asked_from, utcnow() + timedelta(seconds=1))
            ] == [got[0]["update_id"], got[1]["update_id"]]
    actions = {(a.entity, a.action) for a in all_rows(AuditEntry)}
    assert ("env_report", "submitted") in actions and ("env_report", "information_added") in actions

    # Closed with a reason: the feed says closed, requests says closed.
    reports.change_status(actor, ref, ReportStatus.CLOSED, reason="Cleared")
    last = fms.get_service_request_updates(asked_from, utcnow() + timedelta(seconds=1))[-1]
    assert last["status"] == "closed"
    r = fms.get(f"requests/{ref}.{fmt}")
    one = xml_simple(r.content)["request"][0] if fmt == "xml" else r.json()[0]
    assert one["status"] == "closed"


def test_service_definition_lists_the_attributes_fixmystreet_fills(http, env, api_key):
    code = env.categories["Graffiti"]
    r = http.get(f"/open311/v2/services/{code}.xml", params={"jurisdiction_id": "hartlepool"})
    assert r.status_code == 200, r.text
    root = SafeET.fromstring(r.content)
    assert root.tag == "service_definition" and root.findtext("service_code") == str(code)
    attrs = [a.findtext("code") for a in root.find("attributes").findall("attribute")]
    assert {"fixmystreet_id", "easting", "northing", "closest_address", "uprn"} <= set(attrs)
    assert http.get("/open311/v2/services/999999.json", params={"jurisdiction_id": "hartlepool"}).status_code == 404


def test_a_token_answer_resolves_to_the_request_id(http, env, api_key):
    r = http.post("/open311/v2/requests.json", data={
        "api_key": api_key, "service_code": str(env.categories["Missed bin"]), "address_id": str(env.uprns[2]),
        "description": "Grey bin not emptied"})
    assert r.status_code == 200, r.text
    (created,) = r.json()
    assert created["service_notice"].startswith("We aim")
    t = http.get(f"/open311/v2/tokens/{created['token']}.xml", params={"jurisdiction_id": "hartlepool"})
    assert xml_simple(t.content)["request"][0]["service_request_id"] == created["service_request_id"]
    forged = created["token"][:-4] + "0000"
    _error(http.get(f"/open311/v2/tokens/{forged}.xml", params={"jurisdiction_id": "hartlepool"}), 404)
    (rep,) = all_rows(Report)
    assert rep.uprn == env.uprns[2]


def test_an_address_string_is_looked_up_in_the_gazetteer(http, env, api_key):
    r = http.post("/open311/v2/requests.xml", data={
        "api_key": api_key, "service_code": str(env.categories["Graffiti"]), "address_string": "3 Victoria Road",
        "description": "Tags on the wall"})
    assert r.status_code == 200, r.text
    (rep,) = all_rows(Report)
    assert rep.uprn == env.uprns[2]
    r = http.post("/open311/v2/requests.xml", data={
        "api_key": api_key, "service_code": str(env.categories["Graffiti"]), "address_string": "Nowhere Lane",
        "description": "x"})
    assert "address_string" in _error(r, 400)


# --- refusals ---------------------------------------------------------------------------------------------------


def _post(http, api_key, code, fmt="xml", **extra):
    return http.post(f"/open311/v2/requests.{fmt}", data={
        "api_key": api_key, "jurisdiction_id": "hartlepool", "service_code": str(code), "lat": str(CENTRE[0]),
        "long": str(CENTRE[1]), "description": "Sofa", **extra})


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_bad_or_revoked_api_key_is_a_403(http, env, actor, api_key, fmt):
    code = env.categories["Fly-tipping"]
    assert "api_key" in _error(_post(http, "atl_not-a-real-token", code, fmt), 403, fmt)
    assert "api_key" in _error(_post(http, "", code, fmt), 403, fmt)
    api_tokens.revoke(actor, api_tokens.list_tokens(actor)[0].id)
    _error(_post(http, api_key, code, fmt), 403, fmt)
    r = http.get(f"/open311/v2/servicerequestupdates.{fmt}", params={"api_key": api_key})
    _error(r, 403, fmt)
    assert all_rows(Report) == []


def test_an_unknown_or_private_service_code_is_a_404(http, env, api_key):
    from conftest import set_columns

    from atlas_app.models.environmental import ReportCategory
    from atlas_app.services.platform.actor import system_actor  # noqa: F401 - the category made private below

    assert "service_code" in _error(_post(http, api_key, 424242), 404)
    assert "service_code" in _error(_post(http, api_key, "FLY"), 404)
    set_columns(ReportCategory, ReportCategory.id == env.categories["Graffiti"], is_public=False)
    _error(_post(http, api_key, env.categories["Graffiti"]), 404)
    assert all_rows(Report) == []


def test_another_organisations_token_reaches_nothing_here(http, org, env, api_key, other_org, other_actor):
    other_env = make_env(other_org.id, categories=("Potholes",), uprn_base=200090000000)
    previews.set_enabled(other_actor, previews.OPEN311_UPDATES.code, True)
    essex_key = api_tokens.create(other_actor, "Essex FixMyStreet").token
    ref = FixMyStreetClient(http, "hartlepool", api_key).send_service_request(str(env.categories["Fly-tipping"]))
    # Essex's key naming Hartlepool's jurisdiction: refused.
    assert "jurisdiction" in _error(_post(http, essex_key, env.categories["Fly-tipping"]), 403)
    # Essex's key alone: Hartlepool's category is not one of Essex's services.
    r = http.post("/open311/v2/requests.xml", data={"api_key": essex_key, "service_code":
                                                     str(env.categories["Fly-tipping"]), "lat": str(CENTRE[0]),
                                                     "long": str(CENTRE[1]), "description": "x"})
    _error(r, 404)
    # Nor can it comment on or read Hartlepool's report or its updates.
    r = http.post("/open311/v2/servicerequestupdates.xml", data={"api_key": essex_key, "service_request_id": ref,
                                                                 "description": "mine now"})
    _error(r, 404)
    r = http.get("/open311/v2/requests.json", params={"api_key": essex_key, "service_request_id": ref})
    assert r.status_code == 200 and r.json() == []
    r = http.get("/open311/v2/servicerequestupdates.json", params={"api_key": essex_key})
    assert r.status_code == 200 and r.json() == []
    assert len(all_rows(Report)) == 1 and other_env.categories


@pytest.mark.parametrize("fmt", ["xml", "json"])
@pytest.mark.parametrize("params", [
    {"start_date": "yesterday", "end_date": "2026-12-02T00:00:00Z"},
    {"start_date": "2026-12-02T00:00:00Z", "end_date": "2026-13-40T00:00:00Z"},
    {"start_date": "2026-12-02T10:00:00Z", "end_date": "2026-12-02T09:00:00Z"},
])
def test_malformed_dates_are_a_400(http, env, api_key, fmt, params):
    r = http.get(f"/open311/v2/servicerequestupdates.{fmt}", params={"api_key": api_key, **params})
    assert "date" in _error(r, 400, fmt)
    r = http.get(f"/open311/v2/requests.{fmt}", params={"jurisdiction_id": "hartlepool", **params})
    assert "date" in _error(r, 400, fmt)


def test_a_post_without_a_location_or_with_a_bad_one_is_a_400(http, env, api_key):
    code = env.categories["Fly-tipping"]
    r = http.post("/open311/v2/requests.xml", data={"api_key": api_key, "service_code": str(code),
                                                    "description": "x"})
    assert "location" in _error(r, 400)
    assert "lat" in _error(_post(http, api_key, code, lat="95"), 400)
    # A pin far outside Hartlepool's gazetteer: told which council to contact, nothing saved.
    assert "outside" in _error(_post(http, api_key, code, lat="51.5072", long="-0.1276"), 400)
    assert all_rows(Report) == []


def test_unknown_jurisdiction_is_a_404_and_one_without_the_module_too(http, env, other_org):
    _error(http.get("/open311/v2/services.xml", params={"jurisdiction_id": "atlantis"}), 404)
    _error(http.get("/open311/v2/services.xml", params={"jurisdiction_id": "essex"}), 404)
    _error(http.get("/open311/v2/services.xml"), 400)


def test_requests_filters_by_status_code_and_dates(http, env, actor, api_key):
    fms = FixMyStreetClient(http, "hartlepool", api_key, "json")
    a = fms.send_service_request(str(env.categories["Fly-tipping"]))
    b = fms.send_service_request(str(env.categories["Graffiti"]))
    reports.change_status(actor, b, ReportStatus.FIXED)
    def ids(**params):
        r = fms.get("requests.json", params)
        assert r.status_code == 200, r.text
        return sorted(x["service_request_id"] for x in r.json())
    assert ids() == sorted([a, b])
    assert ids(status="open") == [a] and ids(status="closed") == [b]
    assert ids(service_code=str(env.categories["Graffiti"])) == [b]
    assert ids(start_date=w3cdtf(utcnow() + timedelta(hours=1))) == []
    assert ids(end_date=w3cdtf(utcnow() - timedelta(days=1))) == []
    _error(fms.get("requests.json", {"status": "pending"}), 400, "json")
