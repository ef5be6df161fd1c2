"""Welsh correspondence: the language a report's follower is written to in, the Welsh of a category's template
responses, and the organisation's booking terms as text in English and Welsh

* ``env_report_follower.language``: ``en`` or ``cy``, the language of the page they reported or followed on.
* ``env_report_response.body_cy``: the Welsh of the template response ('' for none written).
* ``env_report_update.body_cy``: the Welsh of a status entry written from a template response, for the Welsh
  tracking page ('' when there is none: staff's own words are shown as written).
* ``booking_terms.conditions`` / ``conditions_cy``: the organisation's own booking terms, shown on the public
  pages and in the confirmation email in the client's language ('' for none).

Revision ID: 0044
Revises: 0041
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0044'
down_revision: str | None = '0041'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


COLUMNS = [
    ("env_report_follower", "language", sa.String(length=8), "en"),
    ("env_report_response", "body_cy", sa.String(length=4000), ""),
    ("env_report_update", "body_cy", sa.String(length=4000), ""),
    ("booking_terms", "conditions", sa.Text(), ""),
    ("booking_terms", "conditions_cy", sa.Text(), ""),
]


def upgrade() -> None:
    # ADD COLUMN with a constant default: no rewrite of existing rows on PostgreSQL 11+, none on SQLite.
    for table, column, kind, default in COLUMNS:
        op.add_column(table, sa.Column(column, kind, nullable=False, server_default=default))


def downgrade() -> None:
    for table, column, _kind, _default in reversed(COLUMNS):
        op.drop_column(table, column)
