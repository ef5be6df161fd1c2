"""clients carry the sound keys of their names, so the contact centre's search tolerates spelling

``client.name_sounds``: the Soundex codes of every word of the client's first and last names, each between
spaces (" R550 J525 "), kept by the booking services whenever a client is written; a search word matches by sound
with ``LIKE '% R550 %'``. Existing clients get theirs here, in batches.

Revision ID: 0034
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0034'
down_revision: str | None = '0025'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def upgrade() -> None:
    from atlas_app.services.casework.search import sound_keys

    op.add_column("client", sa.Column("name_sounds", sa.String(length=120), nullable=False,
                                      server_default=sa.text("''")))
    client = sa.table("client", sa.column("id", sa.Integer), sa.column("first_name", sa.String),
                      sa.column("last_name", sa.String), sa.column("name_sounds", sa.String))
    bind = op.get_bind()
    statement = client.update().where(client.c.id == sa.bindparam("row_id")).values(
        name_sounds=sa.bindparam("sounds"))
    last = 0
    while True:
        rows = bind.execute(sa.select(client.c.id, client.c.first_name, client.c.last_name)
                            .where(client.c.id > last).order_by(client.c.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1].id
        bind.execute(statement, [{"row_id": r.id, "sounds": sound_keys(f"{r.first_name} {r.last_name}")}
                                 for r in rows])


def downgrade() -> None:
    op.drop_column("client", "name_sounds")
