"""The dashboards read daily totals kept by database triggers: on random data, and after updates, moves and deletes
of every kind, each measure must equal the same measure computed in Python from the raw rows, and the totals must
equal a rebuild from scratch (the migration's backfill)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlmodel import select
from conftest import DIALECT, actor_for
from test_dashboards import Bookings, World

from atlas_app import dashboard_rollups
from atlas_app.db import get_engine, read_session, write_session
from atlas_app.models import Booking, CourseSession, Payment
from atlas_app.models.casework import Case, CaseLookup, CaseTeam, CaseTeamMember, Demand
from atlas_app.services.insight import dashboards
from atlas_app.timeutil import london_date, london_midnight

# Spans both clock changes of 2026 (29 March, 25 October) and the turn of the year.
START = datetime(2026, 3, 1, tzinfo=UTC)
SPAN_DAYS = 320
OUTCOMES = ("attended", "did_not_attend", "turned_away")
STATUSES = ("held", "awaiting_payment", "confirmed", "attended", "did_not_attend", "turned_away", "cancelled",
            "transferred", "expired")


def _when(rng: random.Random) -> datetime:
    # many instants close to midnight and to 01:00 UTC, where London and UTC days differ
    day = START + timedelta(days=rng.randrange(SPAN_DAYS))
    return day + timedelta(hours=rng.choice((0, 0, 1, 22, 23, 23, 12)), minutes=rng.randrange(60))


def _period(day: date, grain: str) -> str:
    if grain == "week":
        day -= timedelta(days=day.weekday())
    elif grain == "month":
        day = day.replace(day=1)
    return day.isoformat()


# --- the measures from the raw rows, in Python -----------------------------------------------------------------------


def raw_demands(org: int, f: dashboards.Filters) -> dict:
    with read_session() as s:
        rows = s.exec(select(Demand, Case).join(Case, Case.id == Demand.case_id)
                      .where(Demand.organisation_id == org)).all()
        team = {m.user_id for m in s.exec(select(CaseTeamMember).where(CaseTeamMember.team_id == f.team_id))}
    counts: Counter = Counter()
    ones: Counter = Counter()
    for d, c in rows:
        day = london_date(d.received_at)
        if not f.start <= day <= f.end or (f.module_id and c.module_id != f.module_id) \
                or (f.team_id and c.opened_by_id not in team) \
                or (f.demand_type_id and d.demand_type_id != f.demand_type_id):
            continue
        p = _period(day, f.grain)
        counts[(p, d.demand_type_id, d.demand_class)] += 1
        ones[p] += d.one_stop
    return {"counts": dict(counts), "one_stop": {p: n for p, n in ones.items() if n}}


def served_demands(m: dashboards.DemandMeasures) -> dict:
    counts = {(p, t["id"], t["class"]): n for t in m.by_type for p, n in zip(m.periods, t["counts"]) if n}
    return {"counts": counts, "one_stop": {p: n for p, n in zip(m.periods, m.one_stop) if n}}


def raw_bookings(org: int, f: dashboards.Filters, now: datetime) -> dict:
    with read_session() as s:
        bookings = s.exec(select(Booking).where(Booking.organisation_id == org)).all()
        payments = s.exec(select(Payment).where(Payment.organisation_id == org)).all()
        sessions = {x.id: x for x in s.exec(select(CourseSession))}
    settled: Counter = Counter()
    for p in payments:
        if p.status == "succeeded":
            settled[p.booking_id] += p.amount_pence - p.refunded_pence
    channel: Counter = Counter()
    payment = {k: [0, 0, 0] for k in ("paid", "awaiting", "overdue")}
    outcomes: Counter = Counter()
    for b in bookings:
        if b.status in OUTCOMES and f.start_at <= sessions[b.session_id].starts_at < f.end_at \
                and sessions[b.session_id].organisation_id == org:
            outcomes[b.status] += 1
        if not f.start <= london_date(b.created_at) <= f.end:
            continue
        if b.status not in ("held", "expired") and b.transferred_from_id is None:
            channel[(_period(london_date(b.created_at), f.grain), b.channel)] += 1
        if b.fee_pence > 0 and b.status in ("awaiting_payment", "confirmed"):
            paid = settled[b.id]
            state = ("paid" if paid >= b.fee_pence else "overdue" if b.status == "awaiting_payment"
                     and b.payment_due_at is not None and b.payment_due_at <= now else "awaiting")
            for i, v in enumerate((1, b.fee_pence, paid)):
                payment[state][i] += v
    income: Counter = Counter()
    for p in payments:
        if p.status == "succeeded" and p.method != "waiver" and f.start <= london_date(p.received_at) <= f.end:
            income[_period(london_date(p.received_at), f.grain)] += p.amount_pence - p.refunded_pence
    return {"channel": dict(channel), "payment": payment, "outcomes": dict(outcomes), "income": dict(income),
            "income_periods": sorted({_period(london_date(p.received_at), f.grain) for p in payments
                                      if p.status == "succeeded" and p.method != "waiver"
                                      and f.start <= london_date(p.received_at) <= f.end})}


def served_bookings(m: dashboards.BookingMeasures) -> dict:
    channel = {}
    for i, p in enumerate(m.periods):
        for name, values in (("online", m.online), ("telephone", m.telephone), ("api", m.other)):
            if values[i]:
                channel[(p, name)] = values[i]
    outcomes = {k: v for k, v in (("attended", m.attended), ("did_not_attend", m.did_not_attend),
                                  ("turned_away", m.turned_away)) if v}
    return {"channel": channel,
            "payment": {k: [v["count"], v["fee_pence"], v["settled_pence"]] for k, v in m.payment.items()},
            "outcomes": outcomes, "income": {p: v for p, v in zip(m.income_periods, m.income_pence)},
            "income_periods": list(m.income_periods)}


# --- the data --------------------------------------------------------------------------------------------------------


class Data:
    def __init__(self, org, other_org, make_user, seed: int):
        self.rng = random.Random(seed)
        self.org = org.id
        users = [make_user(f"opener.{i}", roles=("Manager",)) for i in range(3)]
        self.manager = actor_for(users[0])
        self.world, self.other = World(org.id), World(other_org.id)
        with write_session() as s:
            team_type = s.exec(select(CaseLookup.id).where(CaseLookup.organisation_id == org.id,
                                                           CaseLookup.kind == "team_type")).first()
            team = CaseTeam(organisation_id=org.id, name="Front office", team_type_id=team_type)
            s.add(team)
            s.flush()
            s.add_all([CaseTeamMember(organisation_id=org.id, team_id=team.id, user_id=u.id) for u in users[:2]])
            self.team = team.id
        self.types = [(self.world.request, "value"), (self.world.chasing, "failure"),
                      (self.world.not_fixed, "failure")]
        self.cases = [self.world.case(f"Case {i}", module=self.rng.choice((self.world.ci, self.world.gas)),
                                      opened_by=self.rng.choice([u.id for u in users] + [None]))
                      for i in range(8)]
        for _ in range(120):
            type_id, cls = self.rng.choice(self.types)
            self.world.demand(self.rng.choice(self.cases), type_id, cls, _when(self.rng),
                              one_stop=self.rng.random() < 0.4)
        other_case = self.other.case("Elsewhere")
        for _ in range(10):
            self.other.demand(other_case, self.other.chasing, "failure", _when(self.rng))
        self.k, self.k_other = Bookings(org.id), Bookings(other_org.id)
        self.sessions = [self.k.session(_when(self.rng), capacity=20, taken=3) for _ in range(6)]
        for _ in range(90):
            self.booking(self.k, self.rng.choice(self.sessions))
        other_session = self.k_other.session(_when(self.rng), capacity=20, taken=3)
        for _ in range(8):
            self.booking(self.k_other, other_session)

    def booking(self, k: Bookings, session_id: int) -> None:
        rng = self.rng
        created = _when(rng)
        b = k.booking(session_id, created, rng.choice(("online", "online", "telephone", "api")), rng.choice(STATUSES),
                      due=created + timedelta(days=rng.randrange(-5, 30)) if rng.random() < 0.8 else None,
                      fee=rng.choice((0, 9500, 9500, 4000)))
        with write_session() as s:
            for _ in range(rng.randrange(3)):
                amount = rng.choice((2000, 4000, 9500))
                s.add(Payment(organisation_id=k.org, booking_id=b, amount_pence=amount,
                              method=rng.choice(("card_online", "cash", "waiver")), provider="demo",
                              status=rng.choice(("succeeded", "succeeded", "failed", "pending")),
                              refunded_pence=rng.choice((0, 0, amount // 2)), received_at=_when(rng)))

    def mutate(self) -> None:
        """Every kind of write: updates of each field the totals depend on, moves, merges and deletes, through the
        ORM and as multi-row statements."""
        rng = self.rng
        with write_session() as s:
            demands = s.exec(select(Demand).where(Demand.organisation_id == self.org)).all()
            for d in rng.sample(demands, 30):
                change = rng.randrange(5)
                if change == 0:
                    d.demand_type_id, d.demand_class = rng.choice(self.types)
                elif change == 1:
                    d.received_at = _when(rng)
                elif change == 2:
                    d.case_id = rng.choice(self.cases)  # merged into another case
                elif change == 3:
                    d.one_stop = not d.one_stop
                else:
                    s.delete(d)
            for c in s.exec(select(Case).where(Case.id.in_(self.cases[:3]))).all():
                c.module_id = self.world.gas if c.module_id == self.world.ci else self.world.ci
                c.opened_by_id = None if c.opened_by_id else self.manager.user_id
        with write_session() as s:
            bookings = s.exec(select(Booking).where(Booking.organisation_id == self.org)).all()
            for b in rng.sample(bookings, 30):
                change = rng.randrange(6)
                if change == 0:
                    b.status = rng.choice(STATUSES)
                elif change == 1:
                    b.channel = rng.choice(("online", "telephone"))
                elif change == 2:
                    b.fee_pence = rng.choice((0, 9500))
                elif change == 3:
                    b.session_id = rng.choice(self.sessions)
                elif change == 4:
                    b.transferred_from_id = rng.choice(bookings).id
                else:
                    b.created_at = _when(rng)
            payments = s.exec(select(Payment).where(Payment.organisation_id == self.org)).all()
            for p in rng.sample(payments, min(25, len(payments))):
                change = rng.randrange(5)
                if change == 0:
                    p.status = rng.choice(("succeeded", "failed"))
                elif change == 1:
                    p.refunded_pence = rng.randrange(p.amount_pence + 1)
                elif change == 2:
                    p.booking_id = rng.choice(bookings).id  # moved to another booking
                elif change == 3:
                    p.received_at = _when(rng)
                else:
                    s.delete(p)
        with write_session() as s:
            # several payments of one booking changed by one statement
            busy = s.execute(text("SELECT booking_id FROM payment WHERE organisation_id = :o GROUP BY booking_id "
                                  "HAVING count(*) > 1"), {"o": self.org}).scalars().all()
            for booking_id in busy[:5]:
                s.execute(text("UPDATE payment SET status = 'succeeded', refunded_pence = 0 WHERE booking_id = :b"),
                          {"b": booking_id})
            s.execute(text("UPDATE booking SET status = 'confirmed' WHERE organisation_id = :o AND status = 'held'"),
                      {"o": self.org})
            gone = rng.sample(s.exec(select(Booking.id).where(Booking.organisation_id == self.org)).all(), 10)
            for booking_id in gone:
                s.execute(text("UPDATE booking SET transferred_from_id = NULL WHERE transferred_from_id = :b"),
                          {"b": booking_id})
                s.execute(text("DELETE FROM payment WHERE booking_id = :b"), {"b": booking_id})
                s.execute(text("DELETE FROM booking WHERE id = :b"), {"b": booking_id})
            s.execute(text("DELETE FROM case_demand WHERE case_id = :c"), {"c": self.cases[-1]})


FILTERS = [
    dict(grain="week"), dict(grain="day"), dict(grain="month"),
    dict(grain="week", module="gas"), dict(grain="month", team=True), dict(grain="day", dtype=True),
]


def _filters(data: Data, spec: dict, start: date, end: date) -> dashboards.Filters:
    return dashboards.Filters(start=start, end=end, grain=spec["grain"],
                              module_id=data.world.gas if spec.get("module") else None,
                              team_id=data.team if spec.get("team") else None,
                              demand_type_id=data.world.chasing if spec.get("dtype") else None)


def assert_measures_match_the_rows(data: Data) -> None:
    now = datetime(2026, 7, 1, 12, tzinfo=UTC)
    ranges = [(date(2026, 3, 1), date(2027, 1, 31)), (date(2026, 3, 29), date(2026, 4, 12)),
              (date(2026, 10, 24), date(2026, 10, 26))]
    for start, end in ranges:
        for spec in FILTERS:
            f = _filters(data, spec, start, end)
            assert served_demands(dashboards.demand_measures(data.manager, f)) == raw_demands(data.org, f), (spec, f)
        f = dashboards.Filters(start=start, end=end, grain="week")
        assert served_bookings(dashboards.booking_measures(data.manager, f, now=now)) == \
            raw_bookings(data.org, f, now), f


def rollup_rows() -> dict[str, set]:
    """Each rollup's totals per key (settled and pending rows together), leaving out keys whose totals are all 0."""
    out = {}
    with read_session() as s:
        for table in dashboard_rollups.ROLLUP_TABLES:
            keys, sums = dashboard_rollups.KEYS[table], dashboard_rollups.SUMS[table]
            rows = s.execute(text(f"SELECT {', '.join(keys)}, {', '.join(f'sum({c})' for c in sums)} FROM {table} "
                                  f"GROUP BY {', '.join(keys)}")).all()
            out[table] = {tuple(str(v) for v in r) for r in rows if any(r[len(keys):])}
    return out


def pending_rows() -> int:
    with read_session() as s:
        return sum(s.execute(text(f"SELECT count(*) FROM {t} WHERE pending")).scalar()
                   for t in dashboard_rollups.ROLLUP_TABLES)


def assert_rollups_equal_a_rebuild() -> None:
    kept = rollup_rows()
    with write_session() as s:
        dialect = s.get_bind().dialect.name
        for statement in dashboard_rollups.backfill(dialect):
            s.execute(text(statement))
    assert rollup_rows() == kept


@pytest.mark.parametrize("seed", [1, 2])
def test_rollup_measures_equal_the_raw_rows_before_and_after_every_kind_of_change(org, other_org, make_user, seed):
    data = Data(org, other_org, make_user, seed)
    assert_measures_match_the_rows(data)
    assert_rollups_equal_a_rebuild()
    data.mutate()
    before = rollup_rows()
    assert pending_rows() > 0  # the writes appended deltas
    assert dashboards.compact_rollups() > 0
    assert pending_rows() == 0 and rollup_rows() == before
    assert_rollups_equal_a_rebuild()
    data.mutate()
    assert_measures_match_the_rows(data)  # compacts again as it reads
    assert_rollups_equal_a_rebuild()


def test_days_are_london_days_on_both_databases(org, other_org, make_user):
    """23:30 UTC on a summer evening is the next day in London; in winter it is the same day."""
    world = World(org.id)
    manager = actor_for(make_user("day.watcher", roles=("Manager",)))
    case = world.case("Late calls")
    world.demand(case, world.request, "value", datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    world.demand(case, world.request, "value", datetime(2026, 12, 30, 23, 30, tzinfo=UTC))
    f = dashboards.Filters(start=date(2026, 6, 1), end=date(2026, 12, 31), grain="day")
    assert dashboards.demand_measures(manager, f).periods == ["2026-07-01", "2026-12-30"]
    month = dashboards.Filters(start=date(2026, 6, 1), end=date(2026, 12, 31), grain="month")
    assert dashboards.demand_measures(manager, month).periods == ["2026-07-01", "2026-12-01"]
    # the range's first London day starts at London midnight (23:00 UTC the evening before, in summer)
    assert london_midnight(date(2026, 7, 1)) == datetime(2026, 6, 30, 23, tzinfo=UTC)
    assert dashboards.demand_measures(
        manager, dashboards.Filters(start=date(2026, 7, 1), end=date(2026, 7, 1))).value_total == 1


def test_london_day_sql_matches_python_across_clock_changes():
    """The SQLite formula for the London day (British Summer Time rules) agrees with the zone database."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    sql = f"SELECT {dashboard_rollups.london_day_sql('sqlite', '?1')}"
    t = datetime(2024, 1, 1, tzinfo=UTC)
    while t < datetime(2030, 1, 1, tzinfo=UTC):
        stored = t.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        assert conn.execute(sql, (stored,)).fetchone()[0] == london_date(t).isoformat(), stored
        t += timedelta(minutes=53)
    for stored, expected in (("2026-03-29 00:59:59.999999", "2026-03-29"), ("2026-03-28 23:59:59.000000",
                                                                              "2026-03-28"),
                             ("2026-10-24 23:00:00.000000", "2026-10-25"), ("2026-10-25 23:00:00.000000",
                                                                              "2026-10-25")):
        assert conn.execute(sql, (stored,)).fetchone()[0] == expected


def test_a_payment_moves_its_booking_between_paid_and_unpaid(org, make_user):
    manager = actor_for(make_user("pay.watcher", roles=("Manager",)))
    k = Bookings(org.id)
    now = datetime(2026, 2, 1, tzinfo=UTC)
    created = datetime(2026, 1, 10, 10, tzinfo=UTC)
    b = k.booking(k.session(created, 10, 1), created, "online", "awaiting_payment", due=created, fee=9500)
    f = dashboards.Filters(start=date(2026, 1, 1), end=date(2026, 1, 31))

    def states():
        pay = dashboards.booking_measures(manager, f, now=now).payment
        return {k: v["count"] for k, v in pay.items() if v["count"]}

    assert states() == {"overdue": 1}
    with write_session() as s:
        s.add_all([Payment(organisation_id=org.id, booking_id=b, amount_pence=5000, method="cash", provider="demo",
                           status="succeeded", received_at=created) for _ in range(2)])
    assert states() == {"paid": 1}
    with write_session() as s:
        s.execute(text("UPDATE payment SET refunded_pence = 1000 WHERE booking_id = :b"), {"b": b})
    assert states() == {"overdue": 1}
    with write_session() as s:
        s.execute(text("UPDATE booking SET status = 'confirmed', payment_due_at = NULL WHERE id = :b"), {"b": b})
    assert states() == {"awaiting": 1}
    with write_session() as s:
        s.execute(text("DELETE FROM payment WHERE booking_id = :b"), {"b": b})
        s.execute(text("UPDATE booking SET fee_pence = 0 WHERE id = :b"), {"b": b})
    assert states() == {}
    assert dashboards.booking_measures(manager, f, now=now).income_pence == []


@pytest.mark.skipif(DIALECT != "postgresql", reason="SQLite serialises writers")
def test_concurrent_payments_of_one_booking_leave_it_paid(org, make_user):
    """Two transactions each pay half of one booking at once: the second waits for the first (the trigger locks the
    booking) and then sees its payment, so the booking ends up paid, as a rebuild says."""
    manager = actor_for(make_user("race.watcher", roles=("Manager",)))
    k = Bookings(org.id)
    created = datetime(2026, 1, 10, 10, tzinfo=UTC)
    b = k.booking(k.session(created, 10, 1), created, "online", "confirmed", fee=9500)
    insert = text("INSERT INTO payment (organisation_id, booking_id, amount_pence, method, provider, provider_ref, "
                  "status, refunded_pence, received_at, needs_attention, attention_reason, attention_resolved_by, "
                  "recorded_by, note, created_at, updated_at) VALUES (:o, :b, 5000, 'cash', 'demo', '', "
                  "'succeeded', 0, :t, false, '', '', '', '', :t, :t)")
    params = {"o": org.id, "b": b, "t": created}
    engine = get_engine()
    first = engine.connect()
    first.begin()
    first.execute(insert, params)
    second_done = threading.Event()

    def second():
        with engine.begin() as conn:
            conn.execute(insert, params)
        second_done.set()

    worker = threading.Thread(target=second)
    worker.start()
    assert not second_done.wait(0.5)  # waiting for the first transaction's lock on the booking
    first.commit()
    first.close()
    worker.join(10)
    assert second_done.is_set()
    f = dashboards.Filters(start=date(2026, 1, 1), end=date(2026, 1, 31))
    pay = dashboards.booking_measures(manager, f, now=created).payment
    assert (pay["paid"]["count"], pay["paid"]["settled_pence"], pay["awaiting"]["count"]) == (1, 10000, 0)
    assert_rollups_equal_a_rebuild()


def test_concurrent_bookings_do_not_wait_for_each_other_on_the_totals(org):
    """Two open transactions each record a booking counted by the same daily total: neither waits for the other
    (each appends its own delta row), so the totals add no lock that could join a deadlock."""
    k = Bookings(org.id)
    created = datetime(2026, 1, 10, 10, tzinfo=UTC)
    session_id = k.session(created, 10, 1)
    offers = [k.offer(date(2026, 6, 1), status="booked") for _ in range(2)]
    insert = text("INSERT INTO booking (organisation_id, reference, offer_id, session_id, status, channel, fee_pence, "
                  "needs, created_at, updated_at) VALUES (:o, :r, :offer, :s, 'attended', 'online', 9500, '{}', "
                  ":t, :t)")
    engine = get_engine()
    first, second = engine.connect(), engine.connect()
    try:
        first.begin()
        first.execute(insert, {"o": org.id, "r": "RACE-1", "offer": offers[0], "s": session_id, "t": created})
        if DIALECT == "postgresql":
            second.begin()
            second.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            second.execute(insert, {"o": org.id, "r": "RACE-2", "offer": offers[1], "s": session_id, "t": created})
            second.commit()
        first.commit()
    finally:
        first.close()
        second.close()
    assert_rollups_equal_a_rebuild()
