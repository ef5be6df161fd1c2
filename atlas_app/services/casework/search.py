"""Search keys for people and places, computed in Python so the same keys work on SQLite and PostgreSQL.

* ``normalise`` folds accents, case and punctuation: "O'Brien-Smith" -> "obrien smith".
* ``soundex`` is the American Soundex code of a word ("Smith", "Smyth", "Smiht" -> "S530"), stored in indexed
  columns so misspelt names still meet.
* ``similarity`` ranks candidates by trigram overlap (as PostgreSQL's pg_trgm does), computed here.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"), **dict.fromkeys("cgjkqsxz", "2"), **dict.fromkeys("dt", "3"),
    "l": "4", **dict.fromkeys("mn", "5"), "r": "6",
}


_APOSTROPHES = re.compile(r"['’`]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


# Letters that are not a plain letter plus an accent (so Unicode decomposition alone would drop them), and the
# Cyrillic and Greek alphabets, spelt in Latin letters: "Łukasz" -> "lukasz", "Straße" -> "strasse",
# "Олена" -> "olena". Applied to lower-case text after decomposition, so "Ё" and "ά" arrive as "е" and "α".
_LATIN_LETTERS = {
    "ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i", "ħ": "h",
    "ŀ": "l", "ŧ": "t", "ŋ": "n", "ĸ": "k", "ſ": "s",
}
_CYRILLIC = dict(zip("абвгґдеєжзиіїйклмнопрстуфхцчшщъыьэюя",
                     ["a", "b", "v", "g", "g", "d", "e", "ie", "zh", "z", "i", "i", "i", "i", "k", "l", "m", "n",
                      "o", "p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "iu",
                      "ia"]))
_GREEK = dict(zip("αβγδεζηθικλμνξοπρσςτυφχψω",
                  ["a", "v", "g", "d", "e", "z", "i", "th", "i", "k", "l", "m", "n", "x", "o", "p", "r", "s", "s",
                   "t", "y", "f", "ch", "ps", "o"]))
_SPELT_IN_LATIN = str.maketrans({**_LATIN_LETTERS, **_CYRILLIC, **_GREEK})


def normalise(text: str) -> str:
    """Lower-case ASCII words separated by single spaces; accents fold ("Siân" -> "sian"), letters such as "ł" and
    "ß" and the Cyrillic and Greek alphabets are spelt in Latin letters, apostrophes vanish, other punctuation
    splits."""
    text = text or ""
    if text.isascii():
        folded = text.lower()
    else:
        folded = unicodedata.normalize("NFKD", text).lower().translate(_SPELT_IN_LATIN)
        folded = folded.encode("ascii", "ignore").decode("ascii")
    if "'" in folded or "`" in folded or "’" in folded:
        folded = _APOSTROPHES.sub("", folded)
    return " ".join(_NOT_WORD.sub(" ", folded).split())


def soundex(word: str) -> str:
    """Soundex of the letters of ``word`` ("" when it has none)."""
    letters = re.sub(r"[^a-z]", "", normalise(word))
    if not letters:
        return ""
    first = letters[0]
    out = [first.upper()]
    previous = _SOUNDEX_CODES.get(first, "")
    for ch in letters[1:]:
        code = _SOUNDEX_CODES.get(ch, "")
        if code and code != previous:
            out.append(code)
            if len(out) == 4:
                break
        if ch not in "hw":  # h and w do not separate equal codes; vowels do
            previous = code
    return "".join(out).ljust(4, "0")


def sound_keys(text: str, width: int = 120) -> str:
    """The Soundex codes of the words of ``text``, each between spaces (" R550 J525 "), for ``LIKE '% R550 %'``;
    at most ``width`` characters (whole codes only)."""
    codes = []
    for word in normalise(text).split():
        code = soundex(word)
        if code and code not in codes:
            codes.append(code)
    out = " " + " ".join(codes) + " " if codes else ""
    while len(out) > width:
        codes.pop()
        out = " " + " ".join(codes) + " "
    return out


@lru_cache(maxsize=65536)
def trigrams(text: str) -> frozenset[str]:
    """The trigrams of the words of ``text`` (cached: names repeat, and a search compares one query with many)."""
    grams: set[str] = set()
    for word in normalise(text).split():
        padded = f"  {word} "
        grams.update(padded[i:i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


def similarity(a: str, b: str) -> float:
    """Trigram similarity in [0, 1] (shared trigrams / all trigrams)."""
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)


def postcode_key(value: str) -> str:
    key = (value or "").upper().replace(" ", "")
    return key if key.isalnum() and key.isascii() else re.sub(r"[^A-Z0-9]", "", key)


def reference_key(value: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", (value or "").upper())


_KEY_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def key_prefix_bounds(key: str) -> tuple[str, str | None]:
    """``(low, high)`` such that a key of digits and capitals starts with ``key`` exactly when
    ``low <= k < high`` (no upper bound when ``high`` is None). A range, unlike ``LIKE 'KEY%'``, is answered from an
    ordinary index on both databases whatever the collation (digits sort before capitals in all of them)."""
    if any(ch not in _KEY_ALPHABET for ch in key):
        raise ValueError(f"not a search key: {key!r}")
    chars = list(key)
    while chars:
        position = _KEY_ALPHABET.index(chars[-1])
        if position < len(_KEY_ALPHABET) - 1:
            chars[-1] = _KEY_ALPHABET[position + 1]
            return key, "".join(chars)
        chars.pop()
    return key, None
