"""Bookable resources: people (instructors, engineers) and things (training cars) that hold blocks of time, never
two overlapping, and never more than a daily limit.

A *booking table* has ``status`` ("active" or not), ``block_start``/``block_end`` (the time it takes up) and, for a
daily limit, a day column. The database keeps the invariants:

* overlaps: on PostgreSQL an exclusion constraint per resource column (btree_gist:
  ``EXCLUDE USING gist (col WITH =, tstzrange(block_start, block_end, '[)') WITH &&) WHERE (status = 'active')``)
  refuses an overlapping active row whatever the concurrency; on SQLite ``guarded_write`` looks for an overlap
  inside the same ``BEGIN IMMEDIATE`` write transaction as the insert, and SQLite lets one writer in at a time;
* daily limits: a trigger counts the resource's active rows on the day against a limit column of the resource's
  own table (on PostgreSQL after locking the resource's row, so writers for one resource queue; on SQLite inside
  the single writer) and refuses with a known message.

``BookingSpec`` names one table's guards; ``guarded_write`` inserts or moves a row so that they decide, and turns a
refusal into the caller's own error (naming the clash). ``exclusion_sql`` and ``daily_limit_sql`` write the DDL for
a migration, so each booking table gets the same guards. Instructors' session assignments
(``services/instructors/assignments.py``) and engineers' appointments (``services/modules/utilities_servicing``)
are both booked through here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from atlas_app.db import is_postgres


@dataclass(frozen=True)
class OverlapGuard:
    """A resource column of a booking table whose active rows never overlap in time."""

    column: str  # the attribute holding the resource's id (e.g. "instructor_id", "vehicle_id")
    constraint: str  # the PostgreSQL exclusion constraint's name


@dataclass(frozen=True)
class DailyLimit:
    """At most ``resource_table.limit_column`` active rows per resource per ``day_column``."""

    trigger: str  # the trigger's name (PostgreSQL); SQLite's triggers are named ``{trigger}_insert``/``_update``
    message: str  # the text the trigger raises
    resource_column: str  # e.g. "instructor_id"
    day_column: str  # e.g. "session_day"
    resource_table: str  # e.g. "instructor"
    limit_column: str  # e.g. "max_sessions_per_day"


@dataclass(frozen=True)
class BookingSpec:
    model: type
    overlaps: tuple[OverlapGuard, ...]
    daily_limit: DailyLimit | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def find_overlap(s: Session, model: type, column: str, resource_id: int, block_start: datetime,
                 block_end: datetime, exclude: tuple[int, ...] = ()) -> int | None:
    """The first active row of ``model`` holding ``resource_id`` (in ``column``) that overlaps the block."""
    query = select(model.id).where(
        getattr(model, column) == resource_id, model.status == "active",
        model.block_start < block_end, model.block_end > block_start)
    if exclude:
        query = query.where(model.id.not_in(exclude))
    return s.exec(query.order_by(model.block_start).limit(1)).first()


def violated(spec: BookingSpec, exc: IntegrityError) -> str:
    """Which of the spec's guards refused a write: an exclusion constraint's name, the daily-limit trigger's name,
    or "" if none of them."""
    diag = getattr(getattr(exc, "orig", None), "diag", None)
    name = getattr(diag, "constraint_name", None) or ""
    text = str(exc)
    names = [g.constraint for g in spec.overlaps] + ([spec.daily_limit.trigger] if spec.daily_limit else [])
    for guard in names:
        if name == guard or guard in text:
            return guard
    if spec.daily_limit and spec.daily_limit.message in text:
        return spec.daily_limit.trigger
    return ""


def guarded_write(s: Session, spec: BookingSpec, row: Any, *,
                  clash_error: Callable[[OverlapGuard, int | None], Exception],
                  limit_error: Callable[[], Exception], **changes: Any) -> None:
    """Insert an active booking row, or write ``changes`` (new values for an existing row) to it, so that the
    database's guards decide. On PostgreSQL the write runs under a savepoint and a violation becomes
    ``clash_error(guard, clash_id)`` or ``limit_error()``; on SQLite each overlap is looked for first inside the same
    write transaction (one writer at a time) and the daily-limit trigger aborts the write."""
    exclude = (row.id,) if row.id else ()
    if not is_postgres(s):
        with s.no_autoflush:
            for key, value in changes.items():
                setattr(row, key, value)
            for guard in spec.overlaps:
                holder = getattr(row, guard.column)
                if holder is None:
                    continue
                clash = find_overlap(s, spec.model, guard.column, holder, row.block_start, row.block_end, exclude)
                if clash:
                    raise clash_error(guard, clash)
        try:
            s.add(row)
            s.flush()
        except IntegrityError as exc:
            if spec.daily_limit and violated(spec, exc) == spec.daily_limit.trigger:
                raise limit_error() from None
            raise
        return
    block_start = changes.get("block_start", row.block_start)
    block_end = changes.get("block_end", row.block_end)
    holders = {g.column: changes.get(g.column, getattr(row, g.column)) for g in spec.overlaps}
    try:
        with s.begin_nested():
            for key, value in changes.items():
                setattr(row, key, value)
            s.add(row)
            s.flush()
    except IntegrityError as exc:
        guard_name = violated(spec, exc)
        if spec.daily_limit and guard_name == spec.daily_limit.trigger:
            raise limit_error() from None
        for guard in spec.overlaps:
            if guard_name == guard.constraint:
                clash = find_overlap(s, spec.model, guard.column, holders[guard.column], block_start, block_end,
                                     exclude)
                raise clash_error(guard, clash) from None
        raise


# --- DDL for migrations ------------------------------------------------------------------------------------------


def exclusion_sql(table: str, guard: OverlapGuard, nullable: bool = False) -> str:
    """PostgreSQL: the exclusion constraint refusing overlapping active rows of one resource (needs btree_gist)."""
    where = "status = 'active'" + (f" AND {guard.column} IS NOT NULL" if nullable else "")
    return (f"ALTER TABLE {table} ADD CONSTRAINT {guard.constraint} "
            f"EXCLUDE USING gist ({guard.column} WITH =, tstzrange(block_start, block_end, '[)') WITH &&) "
            f"WHERE ({where})")


def daily_limit_sql(dialect: str, table: str, limit: DailyLimit) -> list[str]:
    """The statements creating the daily-limit trigger(s) on ``table`` for ``dialect``."""
    r, d = limit.resource_column, limit.day_column
    if dialect == "postgresql":
        function = f"{table}_daily_limit"
        return [f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    most integer;
    taken integer;
BEGIN
    IF NEW.status <> 'active' THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND OLD.status = 'active' AND OLD.{r} = NEW.{r} AND OLD.{d} = NEW.{d} THEN
        RETURN NEW;
    END IF;
    -- Writers for one resource queue here, so each counts what the one before it committed.
    SELECT {limit.limit_column} INTO most FROM {limit.resource_table} WHERE id = NEW.{r} FOR UPDATE;
    SELECT count(*) INTO taken FROM {table}
     WHERE {r} = NEW.{r} AND status = 'active' AND {d} = NEW.{d} AND id <> NEW.id;
    IF taken >= most THEN
        RAISE EXCEPTION '{limit.message}: % already has % active bookings on %', NEW.{r}, taken, NEW.{d}
            USING ERRCODE = 'check_violation', CONSTRAINT = '{limit.trigger}';
    END IF;
    RETURN NEW;
END
$$
""", f"CREATE TRIGGER {limit.trigger} BEFORE INSERT OR UPDATE OF status, {r}, {d} ON {table} "
     f"FOR EACH ROW EXECUTE FUNCTION {function}()"]
    count = (f"(SELECT count(*) FROM {table} WHERE {r} = NEW.{r} AND status = 'active' AND {d} = NEW.{d}{{extra}}) "
             f">= (SELECT {limit.limit_column} FROM {limit.resource_table} WHERE id = NEW.{r})")
    return [
        f"CREATE TRIGGER {limit.trigger}_insert BEFORE INSERT ON {table} "
        f"WHEN NEW.status = 'active' AND {count.format(extra='')} "
        f"BEGIN SELECT RAISE(ABORT, '{limit.message}'); END",
        f"CREATE TRIGGER {limit.trigger}_update BEFORE UPDATE OF status, {r}, {d} ON {table} "
        f"WHEN NEW.status = 'active' AND NOT (OLD.status = 'active' AND OLD.{r} = NEW.{r} AND OLD.{d} = NEW.{d}) "
        f"AND {count.format(extra=' AND id <> NEW.id')} "
        f"BEGIN SELECT RAISE(ABORT, '{limit.message}'); END",
    ]


def drop_daily_limit_sql(dialect: str, table: str, limit: DailyLimit) -> list[str]:
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {limit.trigger} ON {table}", f"DROP FUNCTION IF EXISTS {table}_daily_limit()"]
    return [f"DROP TRIGGER IF EXISTS {limit.trigger}_insert", f"DROP TRIGGER IF EXISTS {limit.trigger}_update"]
