"""organisations say whether they may take demo card payments; live pollers are counted per staff session

``organisation.payments_demo``: the labelled demo card provider runs for an organisation only when this is on (or
the deployment sets ATLAS_DEMO_PAYMENTS=1). Off for every organisation except those the demo seeder made (their
"created" audit entry is by seed-demo), so a real council never takes "payments" that move no money.

``live_poller``: the background pollers (live dashboards) a staff session runs, one row per poller in one of a few
numbered slots; the unique (session, slot) pair caps them across every worker.

Revision ID: 0020
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from atlas_app.db import UTCDateTime

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (SQLite's batch mode would rebuild a table many others point to).
    op.add_column("organisation", sa.Column("payments_demo", sa.Boolean(), nullable=False,
                                            server_default=sa.false()))
    op.execute(sa.text(
        "UPDATE organisation SET payments_demo = :on WHERE CAST(id AS VARCHAR(80)) IN ("
        "SELECT entity_id FROM audit_entry WHERE entity = 'organisation' AND action = 'created' "
        "AND username = 'seed-demo')").bindparams(on=True))
    op.create_table(
        "live_poller",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_key", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("seen_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("holder"),
        sa.UniqueConstraint("session_key", "slot", name="uq_live_poller_session_slot"),
    )
    op.create_index("ix_live_poller_seen_at", "live_poller", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_live_poller_seen_at", table_name="live_poller")
    op.drop_table("live_poller")
    op.drop_column("organisation", "payments_demo")
