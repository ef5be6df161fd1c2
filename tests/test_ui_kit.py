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


def test_an_end_at_midnight_reads_midnight_not_00_00():
    from datetime import datetime, timezone

    from atlas_app.ui.format import end_clock

    # 21:00 to 00:00 London time on a winter evening (GMT) and a summer one (BST).
    assert end_clock(datetime(2026, 12, 3, 21, tzinfo=timezone.utc), datetime(2026, 12, 4, 0, tzinfo=timezone.utc)) \
        == "midnight"
    assert end_clock(datetime(2026, 7, 3, 20, tzinfo=timezone.utc), datetime(2026, 7, 3, 23, tzinfo=timezone.utc)) \
        == "midnight"
    assert end_clock(datetime(2026, 12, 3, 9, tzinfo=timezone.utc), datetime(2026, 12, 3, 12, 30, tzinfo=timezone.utc)) \
        == "12:30"
    assert end_clock(datetime(2026, 12, 3, 22, tzinfo=timezone.utc), datetime(2026, 12, 4, 1, tzinfo=timezone.utc)) \
        == "01:00 (next day)"
