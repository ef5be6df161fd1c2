"""Welsh and English: the catalogue is complete for everything the code says, Welsh pages show no English from it,
each page links to its counterpart, the wizard keeps the client's language, and dates and money follow Babel's
``cy`` and ``en_GB`` locales."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import reflex as rx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from conftest import welsh_on

from atlas_app.domain.statuses import BOOKING_CLIENT_LABELS
from atlas_app.services.platform import i18n
from atlas_app.ui import pages, runtime  # noqa: F401  (declares every page)
from atlas_app.ui.i18n import PUBLIC_ROUTES, route_for, using
from atlas_app.ui.public import booking_manage, pay_return
from atlas_app.ui.public.booking_wizard import BookingWizardState

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "atlas_app" / "locale" / "cy" / "LC_MESSAGES" / "messages.po"


def code_msgids() -> set[str]:
    """Every ``_("...")`` and ``N_("...")`` in the app's code, as Babel extracts them (``make i18n-extract``)."""
    found = extract_from_dir(str(ROOT / "atlas_app"), method_map=[("**.py", "python")],
                             keywords={"_": None, "N_": None})
    return {message for _file, _line, message, _comments, _context in found if isinstance(message, str) and message}


def welsh_catalogue() -> dict[str, str]:
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="cy")
    return {m.id: m.string for m in catalog if m.id and not m.fuzzy}


def placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"\{\w+\}", text))


def test_every_message_in_the_code_has_a_welsh_translation():
    msgids, welsh = code_msgids(), welsh_catalogue()
    assert len(msgids) > 250
    missing = sorted(m for m in msgids if not welsh.get(m))
    assert missing == [], f"untranslated for Welsh (run make i18n-update and translate): {missing[:10]}"
    for msgid in msgids:
        assert placeholders(welsh[msgid]) == placeholders(msgid), msgid


def test_the_runtime_reads_the_same_catalogue():
    welsh = welsh_catalogue()
    for msgid in ("Continue", "Find your offer", "Step {number} of {total}"):
        assert i18n.gettext(msgid, "cy") == welsh[msgid] != msgid
        assert i18n.gettext(msgid, "en") == msgid
    with using("cy"):
        assert i18n._("Back") == "Yn ôl"
    assert i18n._("Back") == "Back"                      # the default language is English


def _strings(rendered) -> list[str]:
    """The literal text of a rendered component tree (what the compiled page shows)."""
    out: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            props = node.get("props") or []
            if 'className:"language-switch"' in props or ('lang:"en-GB"' in props and node is not rendered):
                return  # English on purpose, marked so: the link to the English page, the choice "English"
            contents = node.get("contents")
            # A literal is rendered as a JavaScript string ("..."); anything else is an expression (a var).
            if isinstance(contents, str) and contents.startswith('"') and contents.endswith('"'):
                out.append(json.loads(contents))
            for value in node.values():
                if isinstance(value, (dict, list)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(rendered)
    return out


def _page(route: str):
    for render, kwargs in runtime.declared_pages():
        if kwargs["route"] == route:
            return render, kwargs
    raise AssertionError(f"no page {route}")


PUBLIC_PAGES = sorted({route for route, _lang in PUBLIC_ROUTES})


def test_every_public_page_exists_in_both_languages():
    for route in ("/", "/book", "/book/how", "/book/where", "/book/when", "/book/needs", "/book/check", "/book/done",
                  "/booking/manage", "/booking/manage/view", "/booking/manage/move", "/booking/manage/cancel",
                  "/pay/demo", "/pay/return", "/book/waiting-list", "/waiting-list/seat",
                  # The citizen report, its tracking and the waiting list follow the same scheme.
                  "/report", "/report/what", "/report/where", "/report/duplicates", "/report/repeat", "/report/added",
                  "/report/details", "/report/check", "/report/done", "/track", "/track/[reference]"):
        assert (route, "en") in PUBLIC_ROUTES and (route, "cy") in PUBLIC_ROUTES, route
        _page(route)
        _page(route_for(route, "cy"))


@pytest.mark.parametrize("route", PUBLIC_PAGES)
def test_a_welsh_page_shows_no_english_from_the_catalogue(route):
    welsh = welsh_catalogue()
    # English words that are also the Welsh (names, examples) cannot tell the languages apart.
    english = {m for m, t in welsh.items() if t != m and len(m) > 3 and "{" not in m}
    render, kwargs = _page(route_for(route, "cy"))
    shown = _strings(render().render())
    leaked = sorted({s.strip() for s in shown} & english)
    assert leaked == [], f"{route_for(route, 'cy')} shows English: {leaked}"
    assert kwargs["title"] == i18n.gettext(_page(route)[1]["title"], "cy")
    text = " ".join(shown)
    assert "Neidio i’r prif gynnwys" in text and "Datganiad hygyrchedd" in text


def _nodes(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from _nodes(item)


@pytest.mark.parametrize("route", PUBLIC_PAGES)
def test_each_page_is_marked_with_its_language_and_links_to_the_other(route):
    for language, other in (("en", "cy"), ("cy", "en")):
        render, _kwargs = _page(route_for(route, language))
        tree = render().render()
        assert f'lang:"{i18n.HTML_LANG[language]}"' in tree["props"], route      # the page's frame
        switches = [n for n in _nodes(tree) if 'className:"language-switch"' in n.get("props", [])]
        assert len(switches) == 1, route
        props = switches[0]["props"]
        assert f'to:"{route_for(route, other)}"' in props or f'href:"{route_for(route, other)}"' in props
        assert f'lang:"{i18n.HTML_LANG[other]}"' in props and f'hreflang:"{i18n.HTML_LANG[other]}"' in props
        assert any("window.location.search" in p for p in props)      # keeps ?session_id= / ?attempt=


def test_the_404_page_speaks_both_languages():
    render, _ = _page("404")
    tree = render().render()
    shown = _strings(tree)
    assert "Page not found" in shown and "Heb ddod o hyd i’r dudalen" in shown
    assert any('lang:"cy"' in n.get("props", []) for n in _nodes(tree))
    assert any('to:"/cy/book"' in n.get("props", []) for n in _nodes(tree))


def test_paths_carry_the_language():
    assert i18n.localised_path("/book/how", "cy") == "/cy/book/how"
    assert i18n.localised_path("/", "cy") == "/cy"
    assert i18n.localised_path("/cy/book?x=1", "en") == "/book?x=1"
    assert i18n.localised_path("/cy/pay/return?session_id=1", "cy") == "/cy/pay/return?session_id=1"
    assert i18n.localised_path("/pay/return?session_id={CHECKOUT_SESSION_ID}", "cy") == \
        "/cy/pay/return?session_id={CHECKOUT_SESSION_ID}"
    assert i18n.language_of_path("/cy/book") == "cy" and i18n.language_of_path("/cy") == "cy"
    assert i18n.language_of_path("/cycle") == "en" and i18n.language_of_path("/book") == "en"
    assert i18n.normalise("cy-GB") == "cy" and i18n.normalise("CY") == "cy" and i18n.normalise(None) == "en"


def test_dates_times_and_money_in_both_locales():
    day = date(2026, 12, 1)
    assert i18n.long_date(day, "cy") == "dydd Mawrth 1 Rhagfyr 2026"
    assert i18n.long_date(day, "en") == "Tuesday 1 December 2026"
    winter = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
    assert i18n.clock(winter, "cy") == "09:30" and i18n.clock(summer, "cy") == "10:30"   # Europe/London
    assert i18n.money(9500, "cy") == "£95.00" and i18n.money(123456, "en") == "£1,234.56"
    assert i18n.short_date(day, "cy") == "1 Rhag 2026"
    assert i18n.day_month_year(day, "cy") == "01 Rhagfyr 2026" and i18n.day_month_year(day, "en") == "01 December 2026"


def test_the_mirrored_provider_and_status_words_are_still_the_code_words():
    source = (ROOT / "atlas_app" / "services" / "payments" / "checkout.py").read_text()
    flat = re.sub(r'"\s*\n\s*(?:f?")', "", source)           # join implicitly concatenated literals
    flat = re.sub(r'"\s+"', "", flat)
    for message in pay_return.PROVIDER_MESSAGES:
        assert message in flat, message
    assert set(booking_manage.STATUS_MSGIDS) == set(BOOKING_CLIENT_LABELS.values())


def test_provider_messages_are_shown_in_welsh():
    with using("cy"):
        declined = pay_return.provider_message(
            "Your card was declined. No money has been taken and your booking is still waiting for payment. You "
            "can try again with another card.")
        assert declined.startswith("Cafodd eich cerdyn ei wrthod. Does dim arian")
        assert pay_return.provider_message("Your payment has been received. £12.50 is still to pay.") == \
            "Rydym wedi cael eich taliad. Mae £12.50 yn dal i’w dalu."
        assert pay_return.provider_message("Something new.") == "Something new."


# --- the wizard in Welsh ------------------------------------------------------------------------------------------


def run(coro_or_value):
    return asyncio.run(coro_or_value) if asyncio.iscoroutine(coro_or_value) else coro_or_value


def redirect_path(spec) -> str | None:
    specs = spec if isinstance(spec, list) else [spec]
    for item in specs:
        if getattr(getattr(item, "handler", None), "fn", None) is not None and \
                item.handler.fn.__qualname__ == "_redirect":
            args = {k._js_expr: getattr(v, "_var_value", v) for k, v in item.args}
            return args["path"]
    return None


@pytest.fixture
def wizard():
    root = rx.State()
    return root.get_substate(BookingWizardState.get_full_name().split(".")[1:])


def test_the_wizard_answers_in_welsh_and_stays_on_welsh_pages(org, wizard):
    from test_client_self_service import _catalogue, _offer

    welsh_on(org.id)
    ct_id, _sessions = _catalogue(org.id)
    _offer(org.id, ct_id)
    with using("cy"):
        run(wizard.find({"reference": "", "dob_day": "31", "dob_month": "2", "dob_year": "1985", "postcode": ""}))
        assert wizard.errors == {"reference": "Rhowch gyfeirnod eich cynnig.",
                                 "dob": "Rhaid i’r dyddiad geni fod yn ddyddiad go iawn, er enghraifft 14 3 1985.",
                                 "postcode": "Rhowch eich cod post."}
        run(wizard.find({"reference": "CLE-NOPE", "dob_day": "14", "dob_month": "3", "dob_year": "1985",
                         "postcode": "TS24 7QS"}))
        assert wizard.error.startswith("Nid oeddem yn gallu dod o hyd i gynnig")   # the service's refusal, in Welsh
        found = run(wizard.find({"reference": "cle-test-0001", "dob_day": "14", "dob_month": "3",
                                 "dob_year": "1985", "postcode": "ts24 7qs"}))
        assert redirect_path(found) == "/cy/book/how"
        assert wizard.modes[0]["label"] == "Mewn ystafell ddosbarth"
        assert re.fullmatch(r"dydd \w+ \d+ \w+ \d{4}", wizard.critical_date_text)
        assert redirect_path(run(wizard.choose_mode({"mode": "online"}))) == "/cy/book/when"
    # The same tab on an English page speaks English again.
    assert redirect_path(run(wizard.choose_mode({"mode": "classroom"}))) == "/book/where"
