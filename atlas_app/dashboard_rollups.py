"""Daily totals behind the dashboards, kept in step with the source rows by database triggers.

Four rollup tables (models in ``atlas_app.models.dashboards``):

* ``dashboard_demand_day``: demands per organisation, London day received, the case's module and opener, demand
  type and class (with how many were one-stop);
* ``dashboard_booking_day``: bookings per organisation, London day made, channel, whether the booking counts as made,
  and its payment state (``paid`` or ``unpaid`` for a seat-holding booking with a fee, else empty), with the fees and
  the net amount settled;
* ``dashboard_income_day``: payments received (succeeded, not waivers) per organisation and London day, net of
  refunds;
* ``dashboard_session_outcome``: bookings per course session and outcome (attended, did not attend, turned away).

Every write to ``case_demand``, ``case_file`` (module or opener), ``booking`` and ``payment`` fires a row trigger
(plpgsql on PostgreSQL, SQL triggers on SQLite) that, in the same transaction, appends the old row's contribution
negated and the new one's as *pending* rows, so every writing path (services, imports, merges, deletes, payments)
keeps the totals exact. Appending never waits: an ``ON CONFLICT DO UPDATE`` on a shared daily row would hold that
row's lock until commit, serialising every booking of the day and joining deadlocks with the booking service's own
locks. ``compact_statements`` folds the pending rows into one settled row per key (a unique index among settled
rows); the dashboards sum settled and pending rows alike, so the figures never depend on when it ran. On PostgreSQL
the triggers lock the parent row whose fields they read (the case for a demand, the booking for a payment) so that
a concurrent change to that row cannot be missed. SQLite serialises writers.

Payments change a booking's settled amount: the payment trigger runs BEFORE the row is written, reads the booking's
settled amount as it stands (this row's old version included, its new one not), and moves the booking from its old
(state, settled) to the new one. That stays exact for statements that change several payments of one booking.

The day is the London calendar day on both databases: on SQLite ``london_day_sql`` applies British Summer Time
(from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October) to the stored UTC text.

The SQL here is used by migration 0013 (create, backfill, drop); change it only with a new migration.
"""

from __future__ import annotations

from collections.abc import Callable

from atlas_app.domain.statuses import BookingStatus, PaymentStatus, sql_list

DEMAND, BOOKING, INCOME, OUTCOME = ("dashboard_demand_day", "dashboard_booking_day", "dashboard_income_day",
                                    "dashboard_session_outcome")
ROLLUP_TABLES = (DEMAND, BOOKING, INCOME, OUTCOME)
OUTCOMES = sql_list(BookingStatus.OUTCOMES)
# A booking counts as made unless it never became one (a hold, a lapsed hold) or is the new half of a transfer.
MADE = f"({{r}}.status NOT IN {sql_list(BookingStatus.NOT_MADE)} AND {{r}}.transferred_from_id IS NULL)"
# A booking with a fee still to settle or settled, before the register is marked.
SEAT = f"({{r}}.fee_pence > 0 AND {{r}}.status IN {sql_list(BookingStatus.BOOKED)})"
SUCCEEDED = f"'{PaymentStatus.SUCCEEDED}'"

KEYS = {
    DEMAND: ("organisation_id", "day", "module_id", "opened_by_id", "demand_type_id", "demand_class"),
    BOOKING: ("organisation_id", "day", "channel", "made", "pay_state"),
    INCOME: ("organisation_id", "day"),
    OUTCOME: ("session_id", "status"),
}
SUMS = {
    DEMAND: ("demands", "one_stop"),
    BOOKING: ("bookings", "fee_pence", "settled_pence"),
    INCOME: ("payments", "amount_pence"),
    OUTCOME: ("bookings",),
}


def london_day_sql(dialect: str, column: str) -> str:
    """SQL for the London calendar date of a stored UTC timestamp."""
    if dialect == "postgresql":
        return f"CAST(({column} AT TIME ZONE 'Europe/London') AS date)"
    year = f"substr({column}, 1, 4)"
    return (f"date({column}, CASE WHEN {column} >= date({year} || '-03-25', 'weekday 0') || ' 01:00:00' "
            f"AND {column} < date({year} || '-10-25', 'weekday 0') || ' 01:00:00' THEN '+1 hour' ELSE '+0 hour' END)")


def _booleans(dialect: str) -> tuple[str, str]:
    return ("true", "false") if dialect == "postgresql" else ("1", "0")


def _upsert(table: str, select: str) -> str:
    """A trigger's delta: appended as a pending row (the column's default), so writers never wait for each other on
    a shared total; ``compact`` folds pending rows into one settled row per key."""
    return f"INSERT INTO {table} ({', '.join(KEYS[table] + SUMS[table])}) {select}"


def _fold(table: str, dialect: str, select: str) -> str:
    """Add the grouped totals of ``select`` (keys then sums) to the settled row of each key."""
    keys, sums = KEYS[table], SUMS[table]
    false = _booleans(dialect)[1]
    sets = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in sums)
    return (f"INSERT INTO {table} (pending, {', '.join(keys + sums)}) SELECT {false}, {select[len('SELECT '):]} "
            f"ON CONFLICT ({', '.join(keys)}) WHERE NOT pending DO UPDATE SET {sets}")


def compact_statements(dialect: str, table: str) -> list[str]:
    """Fold the table's pending rows into its settled rows (one transaction; SQLite serialises writers, and on
    PostgreSQL the DELETE ... RETURNING takes exactly the rows it removes, so a row committed meanwhile stays
    pending and is never counted twice)."""
    keys, sums = ", ".join(KEYS[table]), ", ".join(f"sum({c})" for c in SUMS[table])
    if dialect == "postgresql":
        return [f"WITH moved AS (DELETE FROM {table} WHERE pending RETURNING *) "
                + _fold(table, dialect, f"SELECT {keys}, {sums} FROM moved GROUP BY {keys}")]
    return [_fold(table, dialect, f"SELECT {keys}, {sums} FROM {table} WHERE pending GROUP BY {keys}"),
            f"DELETE FROM {table} WHERE pending"]


def _settled(b: str) -> str:
    return ("(SELECT coalesce(sum(pm.amount_pence - pm.refunded_pence), 0) FROM payment pm "
            f"WHERE pm.booking_id = {b}.id AND pm.organisation_id = {b}.organisation_id AND pm.status = {SUCCEEDED})")


# --- one row's contribution, with sign (+1 add, -1 remove) ---------------------------------------------------------


def demand_row(d: str, dialect: str, sign: int) -> str:
    return _upsert(DEMAND, (
        f"SELECT {d}.organisation_id, {london_day_sql(dialect, f'{d}.received_at')}, c.module_id, "
        f"coalesce(c.opened_by_id, 0), {d}.demand_type_id, {d}.demand_class, {sign}, "
        f"CASE WHEN {d}.one_stop THEN {sign} ELSE 0 END FROM case_file c WHERE c.id = {d}.case_id"))


def booking_row(b: str, dialect: str, sign: int, settled: str | None = None, source: str = "") -> str:
    """``b`` is NEW/OLD, or the alias of ``source`` (a FROM clause with its WHERE); ``settled`` the booking's net
    settled amount (default: as the payment table stands)."""
    settled = settled or _settled(b)
    made, seat = MADE.format(r=b), SEAT.format(r=b)
    pay_state = f"CASE WHEN NOT {seat} THEN '' WHEN {settled} >= {b}.fee_pence THEN 'paid' ELSE 'unpaid' END"
    true, false = _booleans(dialect)
    made_value = f"CASE WHEN {made} THEN {true} ELSE {false} END"
    condition = f"({made} OR {seat})"
    where = f"{source} AND {condition}" if source else f"WHERE {condition}"
    return _upsert(BOOKING, (
        f"SELECT {b}.organisation_id, {london_day_sql(dialect, f'{b}.created_at')}, {b}.channel, {made_value}, "
        f"{pay_state}, {sign}, {sign} * {b}.fee_pence, {sign} * {settled} {where}"))


def outcome_row(b: str, sign: int) -> str:
    return _upsert(OUTCOME, f"SELECT {b}.session_id, {b}.status, {sign} WHERE {b}.status IN {OUTCOMES}")


def income_row(p: str, dialect: str, sign: int) -> str:
    return _upsert(INCOME, (
        f"SELECT {p}.organisation_id, {london_day_sql(dialect, f'{p}.received_at')}, {sign}, "
        f"{sign} * ({p}.amount_pence - {p}.refunded_pence) "
        f"WHERE {p}.status = {SUCCEEDED} AND {p}.method <> 'waiver'"))


def _payment_share(p: str, b: str) -> str:
    return (f"CASE WHEN {p}.booking_id = {b}.id AND {p}.organisation_id = {b}.organisation_id "
            f"AND {p}.status = {SUCCEEDED} THEN {p}.amount_pence - {p}.refunded_pence ELSE 0 END")


def _case_demands(case: str, dialect: str, sign: int) -> str:
    """Every demand of a case, keyed by the case's module and opener as given by ``case`` (NEW or OLD)."""
    return _upsert(DEMAND, (
        f"SELECT d.organisation_id, {london_day_sql(dialect, 'd.received_at')}, {case}.module_id, "
        f"coalesce({case}.opened_by_id, 0), d.demand_type_id, d.demand_class, {sign} * count(*), "
        f"{sign} * sum(CASE WHEN d.one_stop THEN 1 ELSE 0 END) FROM case_demand d WHERE d.case_id = {case}.id "
        f"GROUP BY d.organisation_id, {london_day_sql(dialect, 'd.received_at')}, d.demand_type_id, d.demand_class"))


# --- triggers ------------------------------------------------------------------------------------------------------


def _payment_statements(op: str, dialect: str) -> list[str]:
    """Move each booking the payment row belongs to (before and after) from its old settled amount to the new."""
    out = []
    rows = {"insert": ("NEW",), "delete": ("OLD",), "update": ("OLD", "NEW")}[op]
    for i, owner in enumerate(rows):
        source = f"FROM booking b WHERE b.id = {owner}.booking_id"
        if i == 1:
            source += " AND NEW.booking_id <> OLD.booking_id"
        before = _settled("b")
        after = before
        if "OLD" in rows:
            after += f" - {_payment_share('OLD', 'b')}"
        if "NEW" in rows:
            after += f" + {_payment_share('NEW', 'b')}"
        out.append(booking_row("b", dialect, -1, before, source))
        out.append(booking_row("b", dialect, 1, f"({after})", source))
    if "OLD" in rows:
        out.append(income_row("OLD", dialect, -1))
    if "NEW" in rows:
        out.append(income_row("NEW", dialect, 1))
    return out


def _statements(table: str, op: str, dialect: str) -> list[str]:
    remove = op in ("update", "delete")
    add = op in ("update", "insert")
    out: list[str] = []
    if table == "case_demand":
        out += [demand_row("OLD", dialect, -1)] if remove else []
        out += [demand_row("NEW", dialect, 1)] if add else []
    elif table == "case_file":
        out = [_case_demands("OLD", dialect, -1), _case_demands("NEW", dialect, 1)]
    elif table == "booking":
        out += [booking_row("OLD", dialect, -1), outcome_row("OLD", -1)] if remove else []
        out += [booking_row("NEW", dialect, 1), outcome_row("NEW", 1)] if add else []
    else:
        out = _payment_statements(op, dialect)
    return out


# (table, operation, BEFORE or AFTER, WHEN condition on SQLite and PostgreSQL, PostgreSQL lock of the parent rows)
TRIGGERS: tuple[tuple[str, str, str, Callable[[str], str] | None, str], ...] = (
    ("case_demand", "insert", "AFTER", None, "SELECT 1 FROM case_file WHERE id = NEW.case_id"),
    ("case_demand", "update", "AFTER",
     lambda ne: " OR ".join(f"OLD.{c} {ne} NEW.{c}" for c in (
         "organisation_id", "case_id", "received_at", "demand_type_id", "demand_class", "one_stop")),
     "SELECT 1 FROM case_file WHERE id IN (OLD.case_id, NEW.case_id) ORDER BY id"),
    ("case_demand", "delete", "AFTER", None, "SELECT 1 FROM case_file WHERE id = OLD.case_id"),
    ("case_file", "update", "AFTER",
     lambda ne: f"OLD.module_id {ne} NEW.module_id OR OLD.opened_by_id {ne} NEW.opened_by_id", ""),
    ("booking", "insert", "AFTER", None, ""),
    ("booking", "update", "AFTER",
     lambda ne: " OR ".join(f"OLD.{c} {ne} NEW.{c}" for c in (
         "organisation_id", "created_at", "channel", "status", "transferred_from_id", "fee_pence", "session_id")),
     ""),
    ("booking", "delete", "AFTER", None, ""),
    ("payment", "insert", "BEFORE", None, "SELECT 1 FROM booking WHERE id = NEW.booking_id"),
    ("payment", "update", "BEFORE",
     lambda ne: " OR ".join(f"OLD.{c} {ne} NEW.{c}" for c in (
         "organisation_id", "booking_id", "amount_pence", "refunded_pence", "status", "method", "received_at")),
     "SELECT 1 FROM booking WHERE id IN (OLD.booking_id, NEW.booking_id) ORDER BY id"),
    ("payment", "delete", "BEFORE", None, "SELECT 1 FROM booking WHERE id = OLD.booking_id"),
)


def _name(table: str, op: str) -> str:
    return f"dashboard_rollup_{table}_{op}"


def create_triggers(dialect: str) -> list[str]:
    """DDL creating every rollup trigger."""
    out = []
    for table, op, timing, when, lock in TRIGGERS:
        name = _name(table, op)
        body = _statements(table, op, dialect)
        if dialect == "postgresql":
            locking = f"PERFORM {lock[len('SELECT '):]} FOR NO KEY UPDATE; " if lock else ""
            result = ("NEW" if op != "delete" else "OLD") if timing == "BEFORE" else "NULL"
            out.append(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {locking}"
                       + "".join(f"{s}; " for s in body) + f"RETURN {result}; END $$")
            condition = f" WHEN ({when('IS DISTINCT FROM')})" if when else ""
            out.append(f"CREATE TRIGGER {name} {timing} {op.upper()} ON {table} FOR EACH ROW{condition} "
                       f"EXECUTE FUNCTION {name}()")
        else:
            condition = f" WHEN {when('IS NOT')}" if when else ""
            out.append(f"CREATE TRIGGER {name} {timing} {op.upper()} ON {table} FOR EACH ROW{condition} BEGIN "
                       + "".join(f"{s}; " for s in body) + "END")
    return out


def drop_triggers(dialect: str) -> list[str]:
    out = []
    for table, op, *_ in TRIGGERS:
        name = _name(table, op)
        out.append(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if dialect == "postgresql" else ""))
        if dialect == "postgresql":
            out.append(f"DROP FUNCTION IF EXISTS {name}()")
    return out


def backfill(dialect: str) -> list[str]:
    """Statements that rebuild every rollup from the source rows (the migration, the benchmark's bulk load)."""
    day = lambda column: london_day_sql(dialect, column)  # noqa: E731
    true, false = _booleans(dialect)
    made, seat = MADE.format(r="b"), SEAT.format(r="b")
    settled = "coalesce(p.settled, 0)"
    return [f"DELETE FROM {t}" for t in ROLLUP_TABLES] + [
        f"INSERT INTO {DEMAND} (pending, {', '.join(KEYS[DEMAND] + SUMS[DEMAND])}) "
        f"SELECT {false}, d.organisation_id, {day('d.received_at')}, c.module_id, coalesce(c.opened_by_id, 0), "
        "d.demand_type_id, d.demand_class, count(*), sum(CASE WHEN d.one_stop THEN 1 ELSE 0 END) "
        f"FROM case_demand d JOIN case_file c ON c.id = d.case_id GROUP BY d.organisation_id, {day('d.received_at')}, "
        "c.module_id, coalesce(c.opened_by_id, 0), d.demand_type_id, d.demand_class",
        f"INSERT INTO {BOOKING} (pending, {', '.join(KEYS[BOOKING] + SUMS[BOOKING])}) "
        f"SELECT {false}, b.organisation_id, {day('b.created_at')}, b.channel, "
        f"CASE WHEN {made} THEN {true} ELSE {false} END, "
        f"CASE WHEN NOT {seat} THEN '' WHEN {settled} >= b.fee_pence THEN 'paid' ELSE 'unpaid' END, count(*), "
        f"sum(b.fee_pence), sum({settled}) FROM booking b LEFT JOIN ("
        "SELECT booking_id, organisation_id, sum(amount_pence - refunded_pence) AS settled FROM payment "
        f"WHERE status = {SUCCEEDED} GROUP BY booking_id, organisation_id) p "
        f"ON p.booking_id = b.id AND p.organisation_id = b.organisation_id WHERE {made} OR {seat} "
        f"GROUP BY b.organisation_id, {day('b.created_at')}, b.channel, "
        f"CASE WHEN {made} THEN {true} ELSE {false} END, "
        f"CASE WHEN NOT {seat} THEN '' WHEN {settled} >= b.fee_pence THEN 'paid' ELSE 'unpaid' END",
        f"INSERT INTO {INCOME} (pending, {', '.join(KEYS[INCOME] + SUMS[INCOME])}) "
        f"SELECT {false}, organisation_id, {day('received_at')}, count(*), sum(amount_pence - refunded_pence) "
        "FROM payment "
        f"WHERE status = {SUCCEEDED} AND method <> 'waiver' GROUP BY organisation_id, {day('received_at')}",
        f"INSERT INTO {OUTCOME} (pending, {', '.join(KEYS[OUTCOME] + SUMS[OUTCOME])}) "
        f"SELECT {false}, session_id, status, count(*) FROM booking WHERE status IN {OUTCOMES} "
        "GROUP BY session_id, status",
    ]
