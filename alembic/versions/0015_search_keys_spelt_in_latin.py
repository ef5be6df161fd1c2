"""search keys spelt in Latin letters: names and addresses with ł, ß, ø, đ, æ... or in Cyrillic or Greek

``services.casework_search.normalise`` used to drop every letter that is not a plain letter plus an accent, so
"Łukasz" was kept as "ukasz", "Straße" as "strae" and "Олена" as nothing, and such people and places could not be
found by what a caseworker types. It now spells those letters in Latin ("lukasz", "strasse", "olena"). This
revision recomputes the stored keys of the people (``name_norm``, ``given_key``, ``family_key``) and places
(``search_text``) whose names or addresses hold anything beyond ASCII; the search indexes (pg_trgm, FTS5 and
``person_short_word``) follow through their own triggers. Downgrade puts back the keys of the old rule.

It uses the normaliser of the code it ships with: the keys must equal what that code computes for a search.

Revision ID: 0015
Revises: 0013
"""

import unicodedata
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000

person = sa.table("person", sa.column("id", sa.Integer), sa.column("given_name", sa.String),
                  sa.column("family_name", sa.String), sa.column("name_norm", sa.String),
                  sa.column("given_key", sa.String), sa.column("family_key", sa.String))
place = sa.table("place", sa.column("id", sa.Integer), sa.column("address_line1", sa.String),
                 sa.column("address_line2", sa.String), sa.column("address_line3", sa.String),
                 sa.column("town", sa.String), sa.column("postcode", sa.String), sa.column("search_text", sa.String))


def _old_normalise(text: str) -> str:
    """The rule before this revision: accents folded, every other non-ASCII letter dropped."""
    from atlas_app.services.casework.search import normalise

    return normalise(unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode("ascii"))


def _recompute(normalise: Callable[[str], str]) -> None:
    from atlas_app.services.casework.search import soundex

    bind = op.get_bind()

    def soundex_of(word: str) -> str:
        return soundex(normalise(word)) if word else ""

    def updates(table, query, values) -> None:
        """Rows of ``query`` with any non-ASCII text get the columns ``values(row)`` gives, in batches."""
        columns = None
        pending: list[dict] = []

        def flush() -> None:
            statement = table.update().where(table.c.id == sa.bindparam("row_id")).values(
                {name: sa.bindparam(f"new_{name}") for name in columns})
            bind.execute(statement, pending)
            pending.clear()

        last = 0
        while True:  # pages of the table in id order, so memory stays bounded on a large table
            rows = bind.execute(query.where(table.c.id > last).order_by(table.c.id).limit(BATCH * 5)).mappings().all()
            if not rows:
                break
            last = rows[-1]["id"]
            for row in rows:
                if all(str(v or "").isascii() for v in row.values()):
                    continue
                new = values(row)
                columns = list(new)
                pending.append({"row_id": row["id"], **{f"new_{k}": v for k, v in new.items()}})
            if len(pending) >= BATCH:
                flush()
        if pending:
            flush()

    updates(person, sa.select(person.c.id, person.c.given_name, person.c.family_name),
            lambda r: {"name_norm": normalise(f"{r['given_name']} {r['family_name']}")[:210],
                       "given_key": soundex_of((r["given_name"] or "").split()[0] if r["given_name"] else ""),
                       "family_key": soundex_of((r["family_name"] or "").split()[-1] if r["family_name"] else "")})
    updates(place, sa.select(place.c.id, place.c.address_line1, place.c.address_line2, place.c.address_line3,
                             place.c.town, place.c.postcode),
            lambda r: {"search_text": normalise(" ".join(
                str(r[k] or "") for k in ("address_line1", "address_line2", "address_line3", "town",
                                          "postcode")))[:700]})


def upgrade() -> None:
    from atlas_app.services.casework.search import normalise

    _recompute(normalise)


def downgrade() -> None:
    _recompute(_old_normalise)
