"""Welsh and English public pages: one scheme, the ``/cy`` prefix.

Every public page exists twice: ``/book/how`` in English and ``/cy/book/how`` in Welsh. ``public_page`` declares
both from one render function, compiled once per language with the current language set, so the page's text
(``_("...")``), its links (``to("/book")``) and its dates are in that language in the compiled page, and the
Welsh page's frame carries ``lang="cy"``.

In events, ``LanguageMiddleware`` sets the current language from the address of the page that sent the event,
so a handler's messages and redirects (``rx.redirect(to("/book/how"))``) stay in the client's language, the
services it calls through ``asyncio.to_thread`` see it too, and a return address handed to the payment provider
(``to("/pay/return?...")``) brings the client back to the page in their language.

A page adopts it by replacing ``runtime.page`` with ``public_page`` and wrapping its English text in ``_()``::

    from atlas_app.ui.i18n import _, public_page, to

    @public_page("/report", "Report a problem · Atlas", on_load=ReportState.load)
    def report_page() -> rx.Component:
        return public_shell(rx.heading(_("Report a problem"), as_="h1"), rx.link(_("Back"), href=to("/")))
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

import reflex as rx

from atlas_app.services.platform import i18n
from atlas_app.services.platform.i18n import CY, EN, LANGUAGES, N_, _, current, using
from atlas_app.ui.runtime import page

__all__ = [
    "CY",
    "EN",
    "LANGUAGES",
    "N_",
    "LanguageMiddleware",
    "PublicLanguageState",
    "Texts",
    "_",
    "current",
    "language_of_state",
    "follow_organisation",
    "language_switch",
    "public_page",
    "to",
    "using",
]

# The English route of the public page being compiled (for the link to the other language).
_compiling_route: contextvars.ContextVar[str] = contextvars.ContextVar("atlas_compiling_route", default="/")
# (English route, language) of every page declared with public_page.
PUBLIC_ROUTES: list[tuple[str, str]] = []


def to(path: str, language: str | None = None) -> str:
    """``path`` (an English public address) in the current language: ``/book`` or ``/cy/book``."""
    return i18n.localised_path(path, language)


def route_for(route: str, language: str) -> str:
    if language == EN:
        return route
    if route == "/":
        return "/cy"
    return "/cy" + (route if route.startswith("/") else "/" + route)


def public_page(route: str, title: str, on_load: Any = None, **meta: Any) -> Callable:
    """Declare a public page in English at ``route`` and in Welsh at ``/cy`` + ``route``; ``title`` is the
    English title (a catalogue msgid)."""

    def decorator(render: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        for language in LANGUAGES:
            def compiled(render=render, language=language) -> rx.Component:
                marker = _compiling_route.set(route)
                try:
                    with using(language):
                        return render()
                finally:
                    _compiling_route.reset(marker)

            compiled.__name__ = f"{render.__name__}_{language}"
            with using(language):
                translated_title = _(title)
            page(route=route_for(route, language), title=translated_title, on_load=on_load, **meta)(compiled)
            PUBLIC_ROUTES.append((route, language))
        return render

    return decorator


def language_of_state(state: Any) -> str:
    """The language of the page a state's event came from."""
    try:
        router = state.router
        path = router.page.path or router.url.path
    except Exception:  # noqa: BLE001 - no router (a unit test): the current language
        return current()
    return i18n.language_of_path(path)


class LanguageMiddleware(rx.Middleware):
    """Before every event: the current language is the language of the page that sent it."""

    async def preprocess(self, app, state, event):
        path = ""
        try:
            path = state.router.page.path or state.router.url.path
        except Exception:  # noqa: BLE001 - an event without router data stays English
            path = ""
        i18n.set_current(i18n.language_of_path(path))


class PublicLanguageState(rx.State):
    """Whether the organisation this tab's public journey is with offers Welsh (``organisation.welsh_enabled``).
    Until the journey reaches an organisation (an offer found, a council chosen, a report opened) the pages offer
    Welsh; from then on the link to Welsh follows the organisation's switch. Set only by the server."""

    welsh_offered: bool = True


async def follow_organisation(state: Any, offers_welsh: bool) -> str:
    """The journey in ``state``'s tab has reached an organisation: show or hide the link to Welsh by its switch, and
    return the language to carry on in (English when the client came in Welsh and the organisation offers none;
    the current language of the event is changed to match, so messages follow)."""
    language_state = await state.get_state(PublicLanguageState)
    language_state.welsh_offered = bool(offers_welsh)
    if not offers_welsh and current() == CY:
        i18n.set_current(EN)
    return current()


def language_switch(route: str | None = None) -> rx.Component:
    """The link to this same page in the other language, named in that language and marked with its ``lang``.
    A click keeps the path's own values and the query string (``?attempt=...``, ``?session_id=...``), so a page reached with one opens as
    the same page in the other language; without scripts the plain link still goes to the other language."""
    target = other_language()
    href = route_for(route if route is not None else _compiling_route.get(), target)
    link = rx.el.a(
        i18n.NATIVE_NAMES[target],
        href=href,
        lang=i18n.HTML_LANG[target],
        custom_attrs={"hreflang": i18n.HTML_LANG[target]},
        id="language-switch",
        class_name="language-switch",
        # The address this tab is at, in the other language (works for /accessibility/<slug> as well).
        on_click=[rx.prevent_default, rx.call_script(
            "(() => { const p = window.location.pathname; const t = "
            + ("(p === '/' ? '/cy' : '/cy' + p)" if target == CY else "(p.replace(/^\\/cy(?=\\/|$)/, '') || '/')")
            + "; window.location.href = t + (window.location.search || '') + (window.location.hash || ''); })()")],
        style={"display": "inline-flex", "align_items": "center", "min_height": "44px"},
    )
    # The way back to English is always there; the way to Welsh only while the organisation offers it.
    return rx.cond(PublicLanguageState.welsh_offered, link) if target == CY else link


class Texts(dict):
    """A page's texts by key (each an English catalogue msgid marked with ``N_``), each read in the current
    language: ``TEXT["what"]`` is Welsh in a Welsh page and in an event sent from one."""

    def __getitem__(self, key: str) -> str:
        return _(super().__getitem__(key))


def other_language() -> str:
    return i18n.other(current())


def interpolate(template: str, **parts: Any) -> list[Any]:
    """A translated sentence with pieces of the page in it, in the order the language puts them:
    ``rx.text(*interpolate(_("Offer {ref} expires on {date}."), ref=S.ref, date=rx.text.strong(S.date)))``."""
    import re

    out: list[Any] = []
    pos = 0
    for match in re.finditer(r"\{(\w+)\}", template):
        if match.start() > pos:
            out.append(template[pos:match.start()])
        out.append(parts[match.group(1)])
        pos = match.end()
    if pos < len(template):
        out.append(template[pos:])
    return out
