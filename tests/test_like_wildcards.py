"""Searches take "%" and "_" as the characters they are, not as LIKE wildcards, on SQLite and PostgreSQL alike: a
contact-centre search for "%" does not list every client, "_" does not match any one letter, and a name that
really holds them is still found."""

from __future__ import annotations

import pytest
from sqlmodel import select

from atlas_app.db import contains, like_literal, read_session, write_session
from atlas_app.models import Client
from atlas_app.services.booking import offers
from atlas_app.services.casework import cases, people
from atlas_app.services.platform import users as users_service
from booking_data import add_offers, make_catalogue
from conftest import create_user
from test_casework_services import module_id, worker  # noqa: F401  (fixture)


@pytest.fixture
def clients(org):
    cat = make_catalogue(org.id)
    add_offers(cat, 3)  # Client Number0..2, offers CLE-T-00001..3
    with write_session() as s:
        odd = s.exec(select(Client).where(Client.last_name == "Number2")).one()
        odd.last_name = "O_Neil 100%"
        s.add(odd)


@pytest.mark.parametrize("query, found", [("%", ["Client O_Neil 100%"]), ("_", ["Client O_Neil 100%"]),
                                          ("%%", []), ("n_mber", []), ("cle-t-0000_", []), ("%umber", []),
                                          ("!", []), ("!%", [])])
def test_a_client_search_with_wildcards_does_not_match_everyone(actor, clients, query, found):
    assert [h.name for h in offers.search_clients(actor, query=query)] == found


def test_a_client_whose_name_holds_the_characters_is_found_by_them(actor, clients):
    assert [h.name for h in offers.search_clients(actor, query="o_neil")] == ["Client O_Neil 100%"]
    assert [h.name for h in offers.search_clients(actor, query="100%")] == ["Client O_Neil 100%"]
    assert len(offers.search_clients(actor, query="number")) == 2  # an ordinary search still finds part words


def test_the_user_search_takes_wildcards_literally(actor, org):
    create_user(org, "hbc.booking")
    assert users_service.list_users(actor, "%") == []
    assert users_service.list_users(actor, "hbc_booking") == []
    assert [u.username for u in users_service.list_users(actor, "booking")] == ["hbc.booking"]


def test_case_and_person_searches_take_wildcards_literally(worker):  # noqa: F811
    cases.create_case(worker, module_id=module_id(worker), title="Bin not emptied")
    cases.create_case(worker, module_id=module_id(worker), title="Rent 10% late")
    assert [c.title for c in cases.list_cases(worker, search="%")] == ["Rent 10% late"]
    assert cases.list_cases(worker, search="b_n") == []
    assert cases.list_cases(worker, search=str(2**40)) == []  # a number past any case id finds nothing, no error
    people.create_person(worker, {"given_name": "Ann", "family_name": "Smith"})
    assert people.search_people(worker, name="%") == []
    assert people.search_people(worker, name="sm_th") == []


def test_the_pattern_helper_escapes_its_own_escape_character():
    assert like_literal("a!b%c_d") == "a!!b!%c!_d"
    with read_session() as s:
        from sqlalchemy import literal

        assert s.exec(select(contains(literal("x!%y"), "!%"))).one() in (True, 1)
        assert s.exec(select(contains(literal("x%y"), "!%"))).one() in (False, 0)
