"""the report map's tile settings per organisation, report-it sites' comment ids, and the map and duplicate indexes

* ``organisation.map_tile_url`` / ``map_attribution``: the tile URL template of the map on the public report pages
  and the staff queue, and the attribution its provider requires (empty: the deployment's ``MAP_TILE_URL``).
* ``env_report_update.site_update_id``: the ``update_id`` a report-it site gave a comment it posted through Open311,
  unique per report, so the same comment sent again is kept once.
* ``ix_env_report_open_grid``: open reports by organisation, easting and northing (the map's box and the duplicate
  check's 50 m square), partial like the queue's indexes.

Revision ID: 0038
Revises: 0040
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0038'
down_revision: str | None = '0040'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_SQL = "status IN ('received', 'with_team', 'in_progress')"


def upgrade() -> None:
    op.add_column("organisation", sa.Column("map_tile_url", sa.String(length=500), nullable=False, server_default=""))
    op.add_column("organisation", sa.Column("map_attribution", sa.String(length=300), nullable=False,
                                            server_default=""))
    op.add_column("env_report_update", sa.Column("site_update_id", sa.String(length=100), nullable=True))
    op.create_index("ux_env_report_update_site", "env_report_update", ["report_id", "site_update_id"], unique=True)
    where = sa.text(OPEN_SQL)
    op.create_index("ix_env_report_open_grid", "env_report", ["organisation_id", "easting", "northing"],
                    sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    op.drop_index("ix_env_report_open_grid", table_name="env_report")
    op.drop_index("ux_env_report_update_site", table_name="env_report_update")
    op.drop_column("env_report_update", "site_update_id")
    op.drop_column("organisation", "map_attribution")
    op.drop_column("organisation", "map_tile_url")
