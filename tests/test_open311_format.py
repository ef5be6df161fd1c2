"""The Open311 format layer on its own: XML read back the way XML::Simple reads it, JSON with the same content, W3C
datetimes both ways, form fields (attribute[CODE], repeated media_url) into the pydantic models, and refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from defusedxml import ElementTree as SafeET
from starlette.testclient import TestClient

from atlas_app.api import open311
from atlas_app.api.app import build_api


def test_xml_is_plain_elements_under_the_standard_roots():
    body = open311.xml_document("services", "service", [
        {"service_code": "FLY", "service_name": "Fly-tipping & dumping", "metadata": True, "type": "realtime",
         "keywords": None, "groups": ["Streets", "Waste"]}])
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?><services>')
    root = SafeET.fromstring(body)
    (service,) = root.findall("service")
    assert service.findtext("service_code") == "FLY"
    assert service.findtext("service_name") == "Fly-tipping & dumping"
    assert service.findtext("metadata") == "true"
    assert service.findtext("keywords") in (None, "")
    assert [g.text for g in service.find("groups").findall("group")] == ["Streets", "Waste"]


def test_nested_attributes_and_values_use_group_tags():
    body = open311.xml_document("service_definition", None, {
        "service_code": "BIN", "attributes": [
            {"variable": True, "code": "bin_type", "datatype": "singlevaluelist", "required": True, "order": 1,
             "values": [{"key": "grey", "name": "General waste"}, {"key": "blue", "name": "Recycling"}]}]})
    root = SafeET.fromstring(body)
    assert root.tag == "service_definition"
    attribute = root.find("attributes").find("attribute")
    assert attribute.findtext("code") == "bin_type" and attribute.findtext("required") == "true"
    assert [v.findtext("key") for v in attribute.find("values").findall("value")] == ["grey", "blue"]


def test_control_characters_never_break_the_xml():
    body = open311.xml_document("service_requests", "request", [{"description": "bad\x00\x1bbyte"}])
    assert SafeET.fromstring(body).find("request").findtext("description") == "badbyte"


def test_datetimes_carry_the_uk_offset():
    assert open311.w3c(datetime(2026, 7, 1, 9, 30, 15, 999, tzinfo=UTC)) == "2026-07-01T10:30:15+01:00"
    assert open311.w3c(datetime(2026, 12, 1, 9, 30, tzinfo=UTC)) == "2026-12-01T09:30:00+00:00"


@pytest.mark.parametrize("text,expected", [
    ("2026-12-02T09:30:00Z", datetime(2026, 12, 2, 9, 30, tzinfo=UTC)),
    ("2026-07-02T10:30:00+01:00", datetime(2026, 7, 2, 9, 30, tzinfo=UTC)),
    ("2026-07-02T10:30:00 01:00", datetime(2026, 7, 2, 9, 30, tzinfo=UTC)),  # '+' decoded as a space
    ("2026-12-02", datetime(2026, 12, 2, tzinfo=UTC)),
])
def test_w3c_datetimes_are_read(text, expected):
    assert open311.parse_w3c(text, "start_date") == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-02T00:00:00Z", "2026-12-02T25:00:00Z", "02/12/2026",
                                  "2026-12-02T09:30:00+0100junk", "9" * 60])
def test_malformed_datetimes_are_a_400(text):
    with pytest.raises(open311.Open311Error) as caught:
        open311.parse_w3c(text, "start_date")
    assert caught.value.status == 400 and "start_date" in caught.value.description


def test_request_form_reads_attributes_and_repeated_media():
    form = open311.parse_request_form([
        ("api_key", "atl_x"), ("service_code", "FLY"), ("lat", "54.6862"), ("long", "-1.2126"),
        ("attribute[fixmystreet_id]", "1234"), ("attribute[easting]", "450123"), ("attribute[colours][]", "red"),
        ("attribute[colours][]", "blue"), ("media_url", "https://fms.example/photo/1.jpeg"),
        ("media_url", "https://fms.example/photo/2.jpeg"), ("email", ""), ("first_name", " Ann ")])
    assert form.service_code == "FLY" and form.lat == pytest.approx(54.6862)
    assert form.attributes == {"fixmystreet_id": "1234", "easting": "450123", "colours": ["red", "blue"]}
    assert len(form.media_url) == 2 and form.email is None and form.first_name == "Ann"
    assert form.location_given()


@pytest.mark.parametrize("pairs,field", [
    ([("lat", "1"), ("long", "1")], "service_code"),
    ([("service_code", "X"), ("lat", "91"), ("long", "0")], "lat"),
    ([("service_code", "X"), ("lat", "nan"), ("long", "0")], "lat"),
    ([("service_code", "X"), ("email", "not-an-email")], "email"),
    ([("service_code", "X"), ("media_url", "javascript:alert(1)")], "media_url"),
    ([("service_code", "X"), ("description", "x" * 5000)], "description"),
])
def test_bad_request_forms_name_the_field(pairs, field):
    with pytest.raises(open311.Open311Error) as caught:
        open311.parse_request_form(pairs)
    assert caught.value.status == 400 and field in caught.value.description


@pytest.fixture
def client():
    with TestClient(build_api(), raise_server_exceptions=True) as c:
        yield c


def test_unknown_paths_and_formats_answer_the_error_list(client):
    r = client.get("/open311/v2/nothing.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = client.get("/open311/v2/services.html")
    assert r.status_code == 404
    assert SafeET.fromstring(r.content).find("error").findtext("code") == "404"


def test_a_post_without_api_key_is_a_403_in_the_asked_format(client):
    r = client.post("/open311/v2/requests.xml", data={"service_code": "FLY", "lat": "54.6", "long": "-1.2"})
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/xml")
    error = SafeET.fromstring(r.content).find("error")
    assert error.findtext("code") == "403" and "api_key" in error.findtext("description")
    r = client.post("/open311/v2/requests.json", data={"service_code": "FLY", "lat": "54.6", "long": "-1.2"})
    assert r.status_code == 403 and json.loads(r.content)[0]["code"] == 403


def test_a_wrong_method_is_a_405(client):
    r = client.delete("/open311/v2/services.json")
    assert r.status_code == 405 and r.json()[0]["code"] == 405


def test_an_oversized_body_is_refused(client):
    r = client.post("/open311/v2/requests.xml", content=b"description=" + b"x" * (open311.MAX_BODY_BYTES + 10),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    assert SafeET.fromstring(r.content).find("error").findtext("code") == "413"
