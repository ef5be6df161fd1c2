"""Indexes of the Environmental Services Ticketing staff queue over ``env_report`` (migrations 0027 and 0038).

Partial indexes of the *open* reports only (received, with the team, in progress), each ordered by the report's
making, so the queue's first page under any single filter is read in order from one index and its count is an
index-only scan, however many closed reports pile up. The queue writes its open-status condition as the same
literal SQL (``OPEN_SQL``): SQLite uses a partial index only when the query repeats its condition word for word.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from atlas_app.models.environmental import Report

OPEN_SQL = "status IN ('received', 'with_team', 'in_progress')"


def _open(*columns, name: str, extra: str = "") -> Index:
    where = text(OPEN_SQL + (f" AND {extra}" if extra else ""))
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


QUEUE_INDEXES = (
    _open(Report.organisation_id, Report.created_at, name="ix_env_report_open_created"),
    _open(Report.organisation_id, Report.due_at, name="ix_env_report_open_due", extra="due_at IS NOT NULL"),
    _open(Report.organisation_id, Report.category_id, Report.created_at, name="ix_env_report_open_category"),
    _open(Report.organisation_id, Report.team_id, Report.officer_id, Report.created_at,
          name="ix_env_report_open_team"),
    _open(Report.organisation_id, Report.officer_id, Report.created_at, name="ix_env_report_open_officer"),
    _open(Report.organisation_id, Report.place_id, Report.created_at, name="ix_env_report_open_place"),
    # The map's box and the duplicate check's square (migration 0038).
    _open(Report.organisation_id, Report.easting, Report.northing, name="ix_env_report_open_grid"),
)
