"""The template engine from an attacker's side: a user who may manage letters or emails writes a template meant to
stop the server (constant arithmetic Jinja would fold while compiling, huge repeats, runaway loops, deep nesting).
Each is refused quickly, and the app keeps answering while a slow one is being previewed."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from starlette.applications import Starlette

from atlas_app.api import health
from atlas_app.services.insight import letters
from atlas_app.services.platform import templating
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.ui.staff.insight import letters as letters_page
from atlas_app.ui.staff.insight.letters import LettersState
from payments_support import awaiting_booking, world  # noqa: F401  (fixture)
from state_support import at, signed_in, substate

CONTEXT = {
    "client": {"name": "Sam Li", "first_name": "Sam", "address": "1 High Street\nHartlepool\nTS24 7QS"},
    "booking": {"reference": "HBC-1"}, "payment": {}, "organisation": {"name": "Hartlepool"}, "today": "1 Dec",
}
LOOPS = "".join("{% for x" + str(i) + " in client.address %}" for i in range(5)) + "{{ x0 }}" + \
    "{% endfor %}" * 5
# Ten nested loops over the postcode and nothing written: 10**9 steps unless something stops them.
SLOW = "".join("{% for x" + str(i) + " in client.postcode %}" for i in range(10)) + \
    "{% if x0 == 'never' %}x{% endif %}" + "{% endfor %}" * 10

EXPENSIVE = [
    "{{ 9 ** (9 ** 9) }}",
    "{{ 7 ** 1500000 }}",
    "{{ 2 ** 64 }}",
    "{{ client.name ** 2 }}",
    "{{ 'a' * 10**9 }}",
    "{{ 'a' * 1000000000 }}",
    "{{ 'a' * 1000 * 1000 * 1000 }}",
    "{{ ('a' * 5000) * 5000 }}",
    "{{ [1] * 99999 * 99999 }}",
    "{% for i in range(10**9) %}x{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x'|center(999999999) }}",
    "{{ client.name|format(1) }}",
    "{{ lipsum(1000000) }}",
    "{% set a = client.name ~ client.name %}{% set a = a ~ a %}{% set a = a ~ a %}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "{{ " + "-" * 5000 + "1 }}",
    "{{ 1" + "9" * 5000 + " }}",
    "{% if client.name %}" * 200 + "x" + "{% endif %}" * 200,
    LOOPS,
    "{{ client.address|replace('', client.address)|replace('', client.address)|replace('', client.address) }}",
    "{{ client.address|join(client.address)|join(client.address)|join(client.address) }}",
    "{% for c in client.address %}{{ client.name|center(90000) }}{% endfor %}",
    "{{ (client.name ~ client.name ~ client.name ~ client.name) * 9999 }}",
    "x" * (templating.MAX_SOURCE + 1),
]


@pytest.mark.parametrize("source", EXPENSIVE, ids=lambda s: s[:40])
def test_an_expensive_template_is_refused_quickly(source):
    started = time.monotonic()
    with pytest.raises(ValidationFailed) as err:
        templating.render(source, CONTEXT, letters.MERGE_FIELDS)
    took = time.monotonic() - started
    assert took < 1.0, f"{took:.2f}s to refuse {source[:60]!r}"
    assert "body" in err.value.errors


def test_the_constant_folding_cases_are_refused_before_anything_is_compiled(monkeypatch):
    """Jinja folds constants while compiling, before any sandbox rule runs: the check on the parsed template must
    refuse them without compiling."""
    compiled = []
    real = templating.ENV.compile
    monkeypatch.setattr(templating.ENV, "compile", lambda *a, **k: compiled.append(a) or real(*a, **k))
    for source in ["{{ 9 ** (9 ** 9) }}", "{{ 'a' * 10**9 }}", "{{ 'a' * 1000 * 1000 * 1000 }}",
                   "{% for i in range(10**9) %}{% endfor %}", "{{ '%099999999d' % 1 }}"]:
        with pytest.raises(ValidationFailed):
            templating.compile_template(source, letters.MERGE_FIELDS)
    assert compiled == []


def test_operators_are_checked_while_rendering_too():
    """Even where the check cannot see the sizes (merge fields), each operator is bounded when it runs."""
    env = templating.ENV
    with pytest.raises(templating.TemplateLimit):
        env.call_binop(None, "**", 2, 3)
    with pytest.raises(templating.TemplateLimit):
        env.call_binop(None, "*", "a" * 1000, 1000)
    with pytest.raises(templating.TemplateLimit):
        env.call_binop(None, "*", 2 ** 40, 2 ** 40)
    with pytest.raises(templating.TemplateLimit):
        env.call_binop(None, "%", "%s", 1)
    assert env.call_binop(None, "*", "ab", 3) == "ababab"
    assert env.call_unop(None, "-", 5) == -5


def test_output_and_loop_budgets_stop_a_render():
    with pytest.raises(ValidationFailed, match="loops ran more than"):
        templating.render("{% for a in client.address %}{% for b in client.address %}{% for c in client.address %}"
                          "{% endfor %}{% endfor %}{% endfor %}", CONTEXT, letters.MERGE_FIELDS)
    with pytest.raises(ValidationFailed, match="longer than"):
        templating.render("{% for a in client.address %}{{ client.address|center(20000) }}{% endfor %}", CONTEXT,
                          letters.MERGE_FIELDS)


def test_ordinary_templates_still_render():
    source = ("{{ client.name|upper }}|{{ client.address|replace('\\n', ', ') }}|{{ ['a', 'b']|join('-') }}|"
              "{{ client.name|length * 2 }}|{{ (10 - 3) // 2 }}|{{ client.name ~ '!' }}|"
              "{% if client.name|length > 3 %}long{% else %}short{% endif %}|{{ client.first_name|center(9) }}|"
              "{% for line in client.address %}{% if line == '\\n' %}/{% endif %}{% endfor %}")
    out = templating.render(source, CONTEXT, letters.MERGE_FIELDS)
    assert out == "SAM LI|1 High Street, Hartlepool, TS24 7QS|a-b|12|3|Sam Li!|long|   Sam   |//"


def test_health_keeps_answering_while_a_slow_template_is_previewed(monkeypatch, world, actor):
    """With the loop budget lifted, ten nested loops over the postcode would run for hours; the preview runs off
    the event loop, its deadline ends it, and /api/health answers promptly all the while."""
    booking = awaiting_booking(world)
    monkeypatch.setattr(templating, "MAX_ITERATIONS", 10 ** 12)
    monkeypatch.setattr(templating, "RENDER_SECONDS", 1.5)
    signed_in(monkeypatch, actor, letters_page)
    st = at(substate(LettersState), "http://atlas.test/letters")
    st.subject, st.body, st.preview_reference = "Slow", SLOW, booking.reference
    app = Starlette(routes=health.routes)

    async def scenario():
        preview = asyncio.create_task(LettersState.preview.fn(st))
        started = time.monotonic()
        answered, slowest = 0, 0.0
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://atlas.test") as web:
            while not preview.done() and time.monotonic() - started < 10:
                t = time.monotonic()
                response = await web.get("/api/health")
                slowest = max(slowest, time.monotonic() - t)
                assert response.status_code == 200 and response.json()["status"] == "ok"
                if not preview.done():
                    answered += 1
                await asyncio.sleep(0.05)
        await preview
        return answered, slowest, time.monotonic() - started

    answered, slowest, took = asyncio.run(scenario())
    assert answered >= 5, answered
    assert slowest < 0.5, slowest
    assert took < 1.5 + 3.0, took  # ended by the render's own deadline
    assert "too long" in st.error and st.preview_body == "", (st.error, len(st.preview_body), answered, took)
    # the worker is free again: a plain render through the pool finishes at once
    t = time.monotonic()
    assert templating.run_bounded(templating.render, "{{ client.name }}", CONTEXT, letters.MERGE_FIELDS) == "Sam Li"
    assert time.monotonic() - t < 1.0
