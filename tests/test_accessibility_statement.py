"""Each organisation's accessibility statement: the GOV.UK model's sections in English and Welsh, shipped wording
until administrators write their own, edited only with settings.manage (audited), read by anyone."""

from __future__ import annotations

from datetime import date

import pytest
from conftest import actor_for, all_rows, create_org, create_user
from state_support import at, run, substate

from atlas_app.models import AuditEntry
from atlas_app.services.platform import accessibility
from atlas_app.services.platform.errors import (
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from atlas_app.ui.public.accessibility import AccessibilityState


def test_the_model_statements_sections_in_both_languages(org):
    en = accessibility.public_statement(org.slug, "en")
    cy = accessibility.public_statement(org.slug, "cy")
    assert [s.heading for s in en.sections] == [
        "How accessible this service is", "What is not accessible, and why", "How to ask for another format",
        "Reporting accessibility problems", "Enforcement procedure", "Compliance status",
        "How we tested this service"]
    assert cy.sections[4].heading == "Y drefn orfodi" and "Comisiwn Cydraddoldeb" in cy.sections[4].text
    assert all(s.is_default for s in en.sections + cy.sections)


def test_administrators_write_their_own_wording_per_language(org):
    admin = actor_for(create_user(org, "admin", roles=("Administrator",)))
    accessibility.save_statement(admin, "cy", {"other_formats": "Ffoniwch 01234 567890."}, date(2026, 12, 1))
    cy = accessibility.public_statement(org.slug, "cy")
    assert cy.sections[2].text == "Ffoniwch 01234 567890." and not cy.sections[2].is_default
    assert cy.reviewed_text == "dydd Mawrth 1 Rhagfyr 2026"
    assert accessibility.public_statement(org.slug, "en").sections[2].is_default   # English untouched
    entry = [e for e in all_rows(AuditEntry) if e.entity == "accessibility_statement"][-1]
    assert entry.entity_id == f"{org.slug}/cy" and entry.after["sections"] == {"other_formats": "Ffoniwch 01234 567890."}
    with pytest.raises(ValidationFailed):
        accessibility.save_statement(admin, "en", {"testing": "x" * 5000}, None)
    clerk = actor_for(create_user(org, "clerk", roles=("Booking staff",)))
    with pytest.raises(PermissionDenied):
        accessibility.save_statement(clerk, "en", {}, None)


def test_only_active_organisations_and_the_public_page_reads_the_language(org):
    other = create_org("gwent", "Gwent Police")
    with pytest.raises(NotFound):
        accessibility.public_statement("no-such-org", "en")
    state = substate(AccessibilityState)
    at(state, f"/cy/accessibility/{other.slug}")
    state.router.page.params["org"] = other.slug
    run(state.load())
    assert state.name == "Gwent Police" and state.sections[0]["heading"] == "Pa mor hygyrch yw’r gwasanaeth hwn"
    run(state.load_list())
    assert {"slug": "gwent", "name": "Gwent Police", "href": "/cy/accessibility/gwent"} in state.organisations
