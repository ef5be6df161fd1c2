"""The general widgets (ui/components/kit.py) render what each area's pages give them."""

from __future__ import annotations

import reflex as rx

from atlas_app.ui.components import kit
from atlas_app.ui.components.casework_ui import lookup_select


def test_a_select_takes_pairs_or_rows_with_named_keys_and_a_blank_first_choice():
    pairs = str(kit.select_field("Kind", "kind", [("a", "Alpha"), ("b", "Beta")], input_id="k", blank="Any"))
    assert pairs.index('"Any"') < pairs.index('value:"a"},"Alpha"') < pairs.index('value:"b"},"Beta"')
    assert 'id:"k"' in pairs and 'name:"kind"' in pairs and 'htmlFor:"k"' in pairs
    rows = str(lookup_select("Team", "team_id", [{"id": "7", "name": "Repairs"}], input_id="t", placeholder="All"))
    assert '?.["id"]' in rows and '?.["name"]' in rows and '"All"' in rows


def test_a_section_with_an_id_names_itself_by_its_heading():
    html = str(kit.section("Demands", rx.text("x"), section_id="case-demands"))
    assert 'id:"case-demands"' in html and 'id:"case-demands-title"' in html
    assert html.startswith('jsx("section",{"aria-labelledby":"case-demands-title"')
