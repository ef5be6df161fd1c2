"""Module types: a module's type turns its screens on; an organisation has one module of each non-generic type,
held by the database; a type's services find the organisation's module or refuse."""

from __future__ import annotations

import pytest
from conftest import actor_for
from sqlalchemy.exc import IntegrityError

from atlas_app.db import read_session, write_session
from atlas_app.models.casework import CaseModule
from atlas_app.services import modules
from atlas_app.services.casework import config
from atlas_app.services.platform.errors import Conflict, NotFound, ValidationFailed


@pytest.fixture
def admin_actor(org, admin):
    with write_session() as s:
        config.seed_configuration(s, org.id)
    return actor_for(admin)


def test_seeded_modules_carry_their_types(admin_actor):
    by_name = {m.name: m.module_type for m in config.list_modules(admin_actor)}
    assert by_name == {
        "Customer Interactions": "customer_interactions",
        "Strategic Measures Dashboard": "generic",
        "Gas and Electric Utilities Servicing": "utilities_servicing",
        "Rent Arrears Monitoring": "rent_arrears",
        "Environmental Services Ticketing": "environmental_ticketing",
    }
    assert modules.enabled_types(admin_actor) == ["customer_interactions", "environmental_ticketing",
                                                  "rent_arrears", "utilities_servicing"]


def test_a_second_module_of_a_type_is_refused_and_generic_ones_are_not(admin_actor):
    with pytest.raises(Conflict, match="already this organisation's Rent Arrears Monitoring module"):
        config.save_module(admin_actor, None, name="Arrears (east)", module_type="rent_arrears")
    first = config.save_module(admin_actor, None, name="Licensing")
    second = config.save_module(admin_actor, None, name="Pest control", module_type="generic")
    assert {m.module_type for m in config.list_modules(admin_actor) if m.id in (first, second)} == {"generic"}


def test_the_database_holds_one_module_per_type(org, admin_actor):
    with pytest.raises(IntegrityError):
        with write_session() as s:
            s.add(CaseModule(organisation_id=org.id, name="Second tickets", module_type="environmental_ticketing"))


def test_an_unknown_type_is_refused(admin_actor):
    with pytest.raises(ValidationFailed, match="Choose a module type"):
        config.save_module(admin_actor, None, name="Mystery", module_type="../../etc")


def test_changing_a_module_keeps_its_type_unless_told(admin_actor):
    rent = next(m for m in config.list_modules(admin_actor) if m.module_type == "rent_arrears")
    config.save_module(admin_actor, rent.id, name="Income recovery", description="Renamed")
    assert next(m for m in config.list_modules(admin_actor) if m.id == rent.id).module_type == "rent_arrears"
    config.save_module(admin_actor, rent.id, name="Income recovery", module_type="generic")
    assert "rent_arrears" not in modules.enabled_types(admin_actor)
    # The type is free again, so another module may take it.
    other = config.save_module(admin_actor, None, name="Rent arrears", module_type="rent_arrears")
    with read_session() as s:
        assert modules.require_module(s, admin_actor.organisation_id, "rent_arrears").id == other


def test_require_module_refuses_a_type_that_is_off_or_retired(org, admin_actor, other_org):
    with read_session() as s:
        assert modules.module_of(s, other_org.id, "rent_arrears") is None
        with pytest.raises(NotFound, match="Rent Arrears Monitoring is not turned on"):
            modules.require_module(s, other_org.id, "rent_arrears")
    rent = next(m for m in config.list_modules(admin_actor) if m.module_type == "rent_arrears")
    config.save_module(admin_actor, rent.id, name=rent.name, is_active=False)
    with read_session() as s:
        assert modules.module_of(s, org.id, "rent_arrears") is None
    assert "rent_arrears" not in modules.enabled_types(admin_actor)
