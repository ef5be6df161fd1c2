"""Languages: English (``en``) and Welsh (``cy``), one place for translated text, dates, times and money.

* Text: ``_("English text")`` returns the text in the *current language*, a context variable. Pages are compiled
  once per language with it set (see ``atlas_app/ui/i18n.py``); each public event runs with it set from the
  address of the page that sent it (``/cy/...`` is Welsh); code that sends something to one person (an email)
  sets it with ``using(language)``. Services called from a Welsh page through ``asyncio.to_thread`` see the same
  language, so a refusal meant for a client can be written ``raise ValidationFailed(_("..."))``.
* ``N_("...")`` only marks a text for extraction (a constant translated later, where it is shown).
* Catalogues: ``atlas_app/locale/<lang>/LC_MESSAGES/messages.po`` (Babel: ``make i18n-extract``,
  ``make i18n-update``, ``make i18n-compile``); the compiled ``.mo`` is built by ``make setup``. When it is
  missing or older than its ``.po`` (a fresh checkout running tests), the ``.po`` is compiled in memory.
* Dates, times and money: Babel's ``cy`` and ``en_GB`` locales, in Europe/London.
"""

from __future__ import annotations

import contextlib
import contextvars
import gettext as _gettext
import io
import logging
from collections.abc import Iterator
from datetime import date, datetime
from functools import cache
from pathlib import Path

from babel.dates import format_date, format_time
from babel.numbers import format_currency

from atlas_app.timeutil import LONDON

log = logging.getLogger("atlas.i18n")

EN = "en"
CY = "cy"
LANGUAGES = (EN, CY)
# What each language is called in itself (for the link to the other language) and its HTML lang code.
NATIVE_NAMES = {EN: "English", CY: "Cymraeg"}
HTML_LANG = {EN: "en-GB", CY: "cy"}
BABEL_LOCALE = {EN: "en_GB", CY: "cy"}
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parents[2] / "locale"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("atlas_language", default=EN)


def normalise(language: str | None) -> str:
    """A language code we speak: ``cy`` for anything Welsh (``cy``, ``cy-GB``, ``CY``), else ``en``."""
    text = str(language or "").strip().lower().replace("_", "-")
    return CY if text.split("-")[0] == CY else EN


def current() -> str:
    return _current.get()


def set_current(language: str | None) -> None:
    _current.set(normalise(language))


@contextlib.contextmanager
def using(language: str | None) -> Iterator[str]:
    """Run a block in ``language`` (an email to a Welsh speaker, a page compiled in Welsh)."""
    token = _current.set(normalise(language))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def other(language: str | None = None) -> str:
    return EN if normalise(language or current()) == CY else CY


# --- catalogues ------------------------------------------------------------------------------------------------


def _po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalogue of ``language`` (English is the source: no catalogue)."""
    language = normalise(language)
    if language == EN:
        return _gettext.NullTranslations()
    po = _po_path(language)
    mo = po.with_suffix(".mo")
    if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as fh:
            return _gettext.GNUTranslations(fh)
    if not po.exists():
        log.warning("no catalogue for %s at %s", language, po)
        return _gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    log.info("compiled %s in memory (run `make i18n-compile`)", po)
    return _gettext.GNUTranslations(buf)


def gettext(message: str, language: str | None = None) -> str:
    """``message`` (English, as written in the code) in ``language`` (default: the current language)."""
    lang = normalise(language) if language is not None else current()
    if lang == EN or not message:
        return message
    return translations(lang).gettext(message)


def ngettext(singular: str, plural: str, n: int, language: str | None = None) -> str:
    lang = normalise(language) if language is not None else current()
    return translations(lang).ngettext(singular, plural, n)


_ = gettext


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it here."""
    return message


# --- dates, times, money ---------------------------------------------------------------------------------------


def _local(value: datetime | date) -> date | datetime:
    if isinstance(value, datetime):
        return value.astimezone(LONDON)
    return value


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def _day(value: datetime | date | None, pattern: str, language: str | None) -> str:
    """The London day of ``value`` in a Babel date ``pattern``, in ``language`` (default: the current one)."""
    if value is None:
        return ""
    lang = normalise(language) if language is not None else current()
    local = _local(value)
    day = local.date() if isinstance(local, datetime) else local
    return format_date(day, pattern, locale=BABEL_LOCALE[lang])


def long_date(value: datetime | date | None, language: str | None = None) -> str:
    """``Tuesday 3 December 2026`` / ``dydd Mawrth 3 Rhagfyr 2026`` (Welsh day names are not capitalised
    inside a sentence)."""
    text = _day(value, "EEEE d MMMM y", language)
    lang = normalise(language) if language is not None else current()
    return _lower_first(text) if lang == CY else text


def day_text(value: datetime | date | None, language: str | None = None) -> str:
    """``3 December 2026`` / ``3 Rhagfyr 2026``."""
    return _day(value, "d MMMM y", language)


def short_date(value: datetime | date | None, language: str | None = None) -> str:
    """``3 Dec 2026`` / ``3 Rhag 2026``."""
    return _day(value, "d MMM y", language)


def clock(value: datetime | None, language: str | None = None) -> str:
    """24-hour time in London: ``09:30`` in both languages."""
    if value is None:
        return ""
    lang = normalise(language) if language is not None else current()
    return format_time(value.astimezone(LONDON), "HH:mm", locale=BABEL_LOCALE[lang])


def money(pence: int | None, language: str | None = None) -> str:
    """Pence as pounds: ``£95.00`` (Babel's locale rules; Welsh and English write pounds alike)."""
    if pence is None:
        return ""
    lang = normalise(language) if language is not None else current()
    return format_currency(pence / 100, "GBP", locale=BABEL_LOCALE[lang])


def localised_path(path: str, language: str | None = None) -> str:
    """A public address in ``language``: ``/book`` -> ``/cy/book``; ``/cy/book`` -> ``/book`` for English.
    Query strings and fragments are kept."""
    lang = normalise(language) if language is not None else current()
    base = strip_language(path or "/")
    if lang == EN:
        return base
    return "/cy" if base == "/" else "/cy" + base if base.startswith("/") else base


def strip_language(path: str) -> str:
    """The English address of a public page: ``/cy/book/how?x=1`` -> ``/book/how?x=1``."""
    if path == "/cy" or path.startswith(("/cy/", "/cy?", "/cy#")):
        rest = path[3:]
        return rest if rest.startswith("/") else "/" + rest
    return path


def language_of_path(path: str | None) -> str:
    text = str(path or "")
    return CY if text == "/cy" or text.startswith(("/cy/", "/cy?", "/cy#")) else EN


def day_month_year(value: date | None, language: str | None = None) -> str:
    """``03 December 2026`` / ``03 Rhagfyr 2026`` (the form refusal messages use)."""
    if value is None:
        return ""
    lang = normalise(language) if language is not None else current()
    if lang == EN:
        return f"{value:%d %B %Y}"
    return format_date(value, "dd MMMM y", locale=BABEL_LOCALE[lang])
