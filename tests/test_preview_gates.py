"""The features in preview beyond comments on change requests, refused by their services while they are off: the
Customer Interactions contact screen (its service and the page's handlers; the raw websocket event is in
e2e/test_customer_interactions.py) and Open311 service request updates (the Open311 API, read and post, with a key
or named by jurisdiction). Each is on once the organisation's administrator switches it on, and only for it."""

from __future__ import annotations

import pytest
from conftest import actor_for, all_rows
from env_report_data import CENTRE, make_env
from rent_support import seed
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.models.casework import Demand, Person
from atlas_app.models.environmental import ReportUpdate
from atlas_app.services.modules import customer_interactions as ci
from atlas_app.services.platform import api_tokens, previews
from atlas_app.services.platform.previews import PreviewOff

CI = previews.CUSTOMER_INTERACTIONS.code
UPDATES = previews.OPEN311_UPDATES.code


@pytest.fixture
def worker(org, make_user):
    seed(org.id)
    return actor_for(make_user("kate.morris", roles=("Case worker",)))


def test_the_contact_screen_is_refused_by_its_service_while_off(worker, actor, other_actor):
    contact = {"given_name": "Amy", "family_name": "Caller", "what_matters": "Bin not collected",
               "outcome": "resolved"}
    for call in (lambda: ci.options(worker), lambda: ci.record_contact(worker, contact),
                 lambda: ci.find_people(worker, "Amy Caller"), lambda: ci.find_places(worker, "High Street")):
        with pytest.raises(PreviewOff, match="Customer Interactions contact screen is a feature in preview"):
            call()
    assert all_rows(Demand) == [] and all_rows(Person) == []
    # Essex switching it on does nothing for Hartlepool.
    previews.set_enabled(other_actor, CI, True)
    with pytest.raises(PreviewOff):
        ci.options(worker)
    previews.set_enabled(actor, CI, True)
    type_id = next(o.id for o in ci.options(worker).demand_types if o.name == "Ask for information")
    ci.record_contact(worker, {**contact, "demand_type_id": type_id})
    assert len(all_rows(Demand)) == 1


def test_the_contact_screen_handlers_meet_the_same_refusal(monkeypatch, worker, actor):
    from state_support import run, signed_in, substate

    from atlas_app.ui.staff.modules.customer_interactions import contact as page

    signed_in(monkeypatch, worker, page)
    state = substate(page.ContactState)
    run(state.load())
    assert "feature in preview" in state.preview_off and state.demand_types == []
    # The handlers sent anyway, as a browser could: each is refused by the service, nothing is written.
    run(state.find_person({"who": "Amy Caller"}))
    assert "feature in preview" in state.error
    state.error = ""
    run(state.record({"given_name": "Amy", "family_name": "Caller", "what_matters": "x"}))
    assert "feature in preview" in state.error and all_rows(Demand) == [] and all_rows(Person) == []
    previews.set_enabled(actor, CI, True)
    run(state.load())
    assert state.preview_off == "" and state.demand_types


def _updates_error(response) -> str:
    assert response.status_code == 403, response.text
    return response.text


def test_open311_service_request_updates_are_refused_through_the_api_while_off(org, actor, other_actor):
    env = make_env(org.id)
    key = api_tokens.create(actor, "FixMyStreet").token
    with TestClient(build_api()) as http:
        made = http.post("/open311/v2/requests.json", data={
            "api_key": key, "service_code": str(env.categories["Fly-tipping"]), "lat": str(CENTRE[0]),
            "long": str(CENTRE[1]), "description": "Mattress by the bins", "email": "r@example.org"})
        assert made.status_code == 200, made.text  # the rest of Open311 is not in preview
        ref = made.json()[0]["service_request_id"]
        for fmt in ("xml", "json"):
            assert "feature in preview" in _updates_error(
                http.get(f"/open311/v2/servicerequestupdates.{fmt}", params={"api_key": key}))
            assert "feature in preview" in _updates_error(
                http.get(f"/open311/v2/servicerequestupdates.{fmt}",
                         params={"api_key": key, "jurisdiction_id": "hartlepool"}))
            assert "feature in preview" in _updates_error(http.post(
                f"/open311/v2/servicerequestupdates.{fmt}",
                data={"api_key": key, "service_request_id": ref, "description": "Still there", "update_id": "1",
                      "status": "OPEN", "first_name": "R", "last_name": "Esident"}))
        assert [u for u in all_rows(ReportUpdate) if u.kind == "resident"] == []
        previews.set_enabled(other_actor, UPDATES, True)  # another organisation's switch is not Hartlepool's
        assert http.get("/open311/v2/servicerequestupdates.xml", params={"api_key": key}).status_code == 403
        previews.set_enabled(actor, UPDATES, True)
        assert http.get("/open311/v2/servicerequestupdates.json", params={"api_key": key}).status_code == 200
        posted = http.post("/open311/v2/servicerequestupdates.json", data={
            "api_key": key, "service_request_id": ref, "description": "Still there", "update_id": "1",
            "status": "OPEN", "first_name": "R", "last_name": "Esident"})
        assert posted.status_code == 200, posted.text
    assert [u.body for u in all_rows(ReportUpdate) if u.kind == "resident"] == ["Still there"]
