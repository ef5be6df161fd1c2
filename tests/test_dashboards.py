"""Dashboard measures aggregated by the database: demand, capability, one-stop, system conditions and the booking
measures, each scoped to the organisation; change points; the change marker; and the attacker's side."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select
from conftest import actor_for, all_rows

from atlas_app.db import write_session
from atlas_app.models import AuditEntry, Booking, BookingTerms, Client, CourseSession, CourseType, Offer, Payment, Venue
from atlas_app.models.casework import Case, CaseLookup, CaseModule, CaseTeam, CaseTeamMember, Demand, SystemCondition
from atlas_app.services.casework import cases as casework_cases
from atlas_app.services.insight import dashboards
from atlas_app.services.casework.config import seed_configuration
from atlas_app.services.platform.errors import NotFound, PermissionDenied, ValidationFailed

MON = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # a Monday in winter: London time is UTC
F = dashboards.Filters(start=date(2026, 1, 5), end=date(2026, 1, 25), grain="week")


def at(days: float, hours: float = 0) -> datetime:
    return MON + timedelta(days=days, hours=hours)


class World:
    """Hartlepool casework: two modules, demand types of each class, cases with demands and system conditions."""

    def __init__(self, org_id: int, opened_by: int | None = None):
        self.org = org_id
        with write_session() as s:
            seed_configuration(s, org_id)
            s.flush()
            mods = {m.name: m.id for m in s.exec(select(CaseModule).where(CaseModule.organisation_id == org_id))}
            self.ci = mods["Customer Interactions"]
            self.gas = mods["Gas and Electric Utilities Servicing"]

            def lookup(kind, name):
                return s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org_id, CaseLookup.kind == kind,
                                                       CaseLookup.name == name)).one().id

            self.request = lookup("demand_type", "Request a service")
            self.chasing = lookup("demand_type", "Chasing progress")
            self.not_fixed = lookup("demand_type", "Not fixed or not done right")
            self.it = lookup("system_condition", "IT system")
            self.policy = lookup("system_condition", "Policy")
        self.opened_by = opened_by

    def case(self, title: str, module: int | None = None, opened_by: int | None = None) -> int:
        with write_session() as s:
            c = Case(organisation_id=self.org, module_id=module or self.ci, title=title, opened_at=MON,
                     opened_by_id=opened_by or self.opened_by)
            s.add(c)
            s.flush()
            return c.id

    def demand(self, case_id: int, type_id: int, cls: str, received: datetime, met: datetime | None = None,
               one_stop: bool = False) -> int:
        with write_session() as s:
            d = Demand(organisation_id=self.org, case_id=case_id, demand_type_id=type_id, demand_class=cls,
                       received_at=received, need_met_at=met, one_stop=one_stop)
            s.add(d)
            s.flush()
            return d.id

    def condition(self, case_id: int, category: int, minutes: int, when: datetime) -> None:
        with write_session() as s:
            s.add(SystemCondition(organisation_id=self.org, case_id=case_id, category_id=category,
                                  minutes_lost=minutes, recorded_at=when))


@pytest.fixture
def manager(org, make_user):
    return actor_for(make_user("mark.lowe", roles=("Manager",)))


@pytest.fixture
def world(org, manager) -> World:
    return World(org.id)


@pytest.fixture
def essex_world(other_org) -> World:
    return World(other_org.id)


def test_demand_volume_value_failure_and_one_stop_by_week(world, essex_world, manager):
    a = world.case("Bin not emptied")
    b = world.case("Boiler service", module=world.gas)
    # week of 5 Jan: 2 value (1 one-stop), 1 failure; week of 12 Jan: 1 value (one-stop), 2 failure
    world.demand(a, world.request, "value", at(0), one_stop=True)
    world.demand(a, world.request, "value", at(2))
    world.demand(a, world.chasing, "failure", at(6, 13))  # Sunday 11 Jan, 23:00: still the first week
    world.demand(b, world.request, "value", at(7), one_stop=True)
    world.demand(b, world.chasing, "failure", at(8))
    world.demand(b, world.not_fixed, "failure", at(9))
    world.demand(a, world.request, "value", at(30))  # outside the range
    # another council's demands never count
    e = essex_world.case("Essex case")
    for i in range(5):
        essex_world.demand(e, essex_world.chasing, "failure", at(i))

    m = dashboards.demand_measures(manager, F)
    assert m.periods == ["2026-01-05", "2026-01-12"]
    assert m.value == [2, 1] and m.failure == [1, 2] and m.total == [3, 3]
    assert m.one_stop == [1, 1]
    assert (m.value_total, m.failure_total) == (3, 3)
    assert m.failure_pct == 50.0
    assert m.one_stop_pct == pytest.approx(33.3)
    assert [(t["name"], t["count"]) for t in m.top_failure] == [("Chasing progress", 2),
                                                                 ("Not fixed or not done right", 1)]
    assert m.top_failure[0]["pct"] == pytest.approx(66.7)
    request = next(t for t in m.by_type if t["name"] == "Request a service")
    assert request["counts"] == [2, 1]

    by_module = dashboards.demand_measures(manager, dashboards.Filters(F.start, F.end, module_id=world.gas))
    assert (by_module.value_total, by_module.failure_total) == (1, 2)
    by_day = dashboards.demand_measures(manager, dashboards.Filters(F.start, F.end, grain="day"))
    assert by_day.periods[0] == "2026-01-05" and len(by_day.periods) == 6
    by_month = dashboards.demand_measures(manager, dashboards.Filters(F.start, F.end, grain="month"))
    assert by_month.periods == ["2026-01-01"] and by_month.total == [6]


def test_team_filter_counts_cases_opened_by_the_team(world, manager, make_user, org):
    kate = make_user("kate.morris", roles=("Case worker",))
    with write_session() as s:
        team_type = s.exec(select(CaseLookup).where(CaseLookup.organisation_id == org.id,
                                                    CaseLookup.kind == "team_type")).first()
        team = CaseTeam(organisation_id=org.id, name="Customer Services", team_type_id=team_type.id)
        s.add(team)
        s.flush()
        s.add(CaseTeamMember(team_id=team.id, user_id=kate.id, organisation_id=org.id))
        team_id = team.id
    mine = world.case("Kate's case", opened_by=kate.id)
    other = world.case("Someone else's")
    world.demand(mine, world.request, "value", at(1))
    world.demand(other, world.request, "value", at(1))
    world.demand(other, world.chasing, "failure", at(1))
    m = dashboards.demand_measures(manager, dashboards.Filters(F.start, F.end, team_id=team_id))
    assert (m.value_total, m.failure_total) == (1, 0)


def test_capability_is_an_xmr_chart_of_end_to_end_days_in_completion_order(world, essex_world, manager):
    c = world.case("Repairs")
    # end-to-end days 5 7 6 8 4, completed in that order: mean 6, mR-bar 2.25, UPL 11.985 (see test_control_chart)
    ids = []
    for i, days in enumerate([5, 7, 6, 8, 4]):
        met = at(10 + i)
        ids.append(world.demand(c, world.request, "value", met - timedelta(days=days), met))
    world.demand(c, world.request, "value", at(1))  # still open: not on the chart
    e = essex_world.case("Essex")
    essex_world.demand(e, essex_world.request, "value", at(1), at(12))
    cap = dashboards.capability(manager, F)
    assert [p.days for p in cap.points] == [5, 7, 6, 8, 4]
    assert [p.demand_id for p in cap.points] == ids
    assert {p.case_id for p in cap.points} == {c}
    assert cap.chart.segments[0].mean == pytest.approx(6)
    assert cap.chart.segments[0].upl == pytest.approx(11.985)
    assert not cap.truncated
    latest = dashboards.capability(manager, F, limit=3)
    assert latest.truncated and [p.days for p in latest.points] == [6, 8, 4]


def test_limits_recalculated_from_a_saved_change_point(world, manager, actor, other_actor):
    c = world.case("Repairs")
    for i, days in enumerate([5, 7, 6, 8, 4, 15, 17, 16, 18, 14]):
        met = at(1 + i)
        world.demand(c, world.request, "value", met - timedelta(days=days), met)
    cp = dashboards.add_change_point(manager, "2026-01-11", "New repairs process")
    cap = dashboards.capability(manager, F)
    assert [(s.start, s.end) for s in cap.chart.segments] == [(0, 5), (5, 10)]
    assert cap.chart.segments[1].mean == pytest.approx(16)
    assert cap.change_points[0]["note"] == "New repairs process"
    assert all_rows(AuditEntry, AuditEntry.entity == "capability_change_point")[0].action == "created"
    # a change point for another module does not split this module's chart unless that module is chosen
    dashboards.add_change_point(manager, "2026-01-07", "Gas only", module_id=world.gas)
    assert len(dashboards.capability(manager, F).chart.segments) == 2
    # another council cannot remove it; the manager can
    with pytest.raises(NotFound):
        dashboards.remove_change_point(other_actor, cp)
    dashboards.remove_change_point(manager, cp)
    assert len(dashboards.capability(manager, F).chart.segments) == 1
    with pytest.raises(ValidationFailed):
        dashboards.add_change_point(manager, "not a date")
    with pytest.raises(ValidationFailed):
        dashboards.add_change_point(manager, (date.today() + timedelta(days=10)).isoformat())
    with pytest.raises(NotFound):
        dashboards.add_change_point(other_actor, "2026-01-11", module_id=world.gas)


def test_system_conditions_pareto_by_count_and_time_lost(world, essex_world, manager):
    c = world.case("Repairs")
    world.condition(c, world.it, 30, at(1))
    world.condition(c, world.it, 10, at(2))
    world.condition(c, world.policy, 120, at(3))
    world.condition(c, world.policy, 120, at(40))  # outside the range
    e = essex_world.case("Essex")
    essex_world.condition(e, essex_world.it, 999, at(1))
    rows = dashboards.system_conditions(manager, F)
    assert [(r.name, r.count, r.minutes) for r in rows] == [("IT system", 2, 40), ("Policy", 1, 120)]
    assert dashboards.pareto([(r.name, r.minutes) for r in rows]) == [("Policy", 120, 75.0),
                                                                      ("IT system", 40, 100.0)]


def test_cases_behind_a_bar(world, essex_world, manager):
    a = world.case("Chased twice")
    b = world.case("Asked once")
    world.demand(a, world.chasing, "failure", at(1))
    world.demand(a, world.chasing, "failure", at(8))
    world.demand(b, world.request, "value", at(1), one_stop=True)
    world.condition(b, world.it, 15, at(2))
    e = essex_world.case("Essex chaser")
    essex_world.demand(e, essex_world.chasing, "failure", at(1))
    behind = dashboards.cases_behind(manager, F, "demand_type", world.chasing)
    assert [(x.case_id, x.detail) for x in behind] == [(a, "2 demands")]
    assert [x.case_id for x in dashboards.cases_behind(manager, F, "failure", period="2026-01-12")] == [a]
    assert [x.case_id for x in dashboards.cases_behind(manager, F, "value", period="2026-01-12")] == []
    assert [x.case_id for x in dashboards.cases_behind(manager, F, "not_one_stop")] == [a]
    assert [x.title for x in dashboards.cases_behind(manager, F, "condition", world.it)] == ["Asked once"]
    # another council's lookup id shows nothing of theirs
    assert dashboards.cases_behind(manager, F, "demand_type", essex_world.chasing) == []
    with pytest.raises(ValidationFailed):
        dashboards.cases_behind(manager, F, "salaries")
    with pytest.raises(ValidationFailed):
        dashboards.cases_behind(manager, F, "demand_type", "1 OR 1=1")


def test_permission_is_needed(world, make_user):
    caseworker = actor_for(make_user("kate", roles=("Case worker",)))
    booking = actor_for(make_user("ben", roles=("Booking staff",)))
    for who in (caseworker, booking):
        with pytest.raises(PermissionDenied):
            dashboards.demand_measures(who, F)
        with pytest.raises(PermissionDenied):
            dashboards.booking_measures(who, F)
        with pytest.raises(PermissionDenied):
            dashboards.change_marker(who)
        with pytest.raises(PermissionDenied):
            dashboards.add_change_point(who, "2026-01-11")


def test_filters_are_validated():
    today = date(2026, 3, 1)
    f = dashboards.parse_filters({}, today)
    assert (f.start, f.end, f.grain) == (date(2025, 12, 8), today, "week")
    f = dashboards.parse_filters({"start": "2026-01-01", "end": "2026-01-31", "grain": "day", "module_id": "3",
                                  "team_id": "", "demand_type_id": "all"}, today)
    assert (f.module_id, f.team_id, f.demand_type_id, f.grain) == (3, None, None, "day")
    for bad in ({"grain": "year"}, {"start": "yesterday"}, {"start": "2026-02-01", "end": "2026-01-01"},
                {"module_id": "x"}, {"module_id": "-4"}, {"start": "2020-01-01", "end": "2026-01-01"}):
        with pytest.raises(ValidationFailed):
            dashboards.parse_filters(bad, today)


def test_change_marker_moves_when_a_demand_is_resolved(world, manager, actor, other_actor):
    c = world.case("Open")
    d = world.demand(c, world.request, "value", at(1))
    before = dashboards.change_marker(manager)
    assert dashboards.change_marker(manager) == before
    casework_cases.set_need_met(actor, d)
    assert dashboards.change_marker(manager) != before


# --- booking measures ----------------------------------------------------------------------------------------------


def actor_for_role(org, role: str):
    from conftest import create_user

    return actor_for(create_user(org, f"someone.{role.split()[0].lower()}", roles=(role,)))


class Bookings:
    def __init__(self, org_id: int):
        self.org = org_id
        self.n = 0
        with write_session() as s:
            s.add(BookingTerms(organisation_id=org_id))
            self.ct = CourseType(organisation_id=org_id, code="NSAC", name="Speed awareness", fee_pence=9500,
                                 delivery_modes=["classroom"])
            self.venue = Venue(organisation_id=org_id, name="Civic Centre")
            s.add_all([self.ct, self.venue])
            s.flush()

    def session(self, starts: datetime, capacity: int, taken: int, status: str = "scheduled",
                venue: bool = True) -> int:
        with write_session() as s:
            row = CourseSession(organisation_id=self.org, course_type_id=self.ct.id,
                                venue_id=self.venue.id if venue else None, delivery_mode="classroom",
                                starts_at=starts, ends_at=starts + timedelta(hours=3), capacity=capacity,
                                seats_taken=taken, status=status)
            s.add(row)
            s.flush()
            return row.id

    def offer(self, critical: date, status: str = "referred") -> int:
        self.n += 1
        with write_session() as s:
            c = Client(organisation_id=self.org, first_name="Client", last_name=f"N{self.n}",
                       date_of_birth=date(1980, 1, 1))
            s.add(c)
            s.flush()
            o = Offer(organisation_id=self.org, offer_reference=f"REF-{self.org}-{self.n}", client_id=c.id,
                      course_type_id=self.ct.id, offence_date=date(2025, 12, 1), critical_date=critical,
                      status=status)
            s.add(o)
            s.flush()
            return o.id

    def booking(self, session_id: int, created: datetime, channel: str, status: str, due: datetime | None = None,
                paid: int = 0, fee: int = 9500) -> int:
        offer = self.offer(date(2026, 6, 1), status="booked")
        with write_session() as s:
            b = Booking(organisation_id=self.org, reference=f"B{self.org}-{self.n}", offer_id=offer,
                        session_id=session_id, status=status, channel=channel, fee_pence=fee,
                        payment_due_at=due, created_at=created, updated_at=created)
            s.add(b)
            s.flush()
            if paid:
                s.add(Payment(organisation_id=self.org, booking_id=b.id, amount_pence=paid, method="card_online",
                              provider="demo", status="succeeded", received_at=created))
            return b.id


def test_booking_measures(org, other_org, manager):
    k = Bookings(org.id)
    now = at(14)
    s1 = k.session(at(3), capacity=10, taken=4)
    s2 = k.session(at(4), capacity=10, taken=6)
    k.session(at(5), capacity=10, taken=0, status="cancelled")
    online = k.session(at(6), capacity=20, taken=5, venue=False)
    # week 1: 3 online, 2 telephone; week 2: 1 online, 1 telephone
    k.booking(s1, at(0), "online", "attended", paid=9500)
    k.booking(s1, at(1), "online", "did_not_attend", paid=9500)
    k.booking(s1, at(1), "online", "confirmed", paid=5000)  # part paid, no deadline: awaiting
    k.booking(s1, at(1), "telephone", "confirmed", paid=9500)  # paid
    k.booking(s2, at(2), "telephone", "attended", paid=9500)
    k.booking(s2, at(8), "online", "awaiting_payment", due=at(9))  # overdue at `now`
    k.booking(s2, at(9), "telephone", "awaiting_payment", due=at(20))  # awaiting
    k.booking(s2, at(9), "online", "held")  # a hold is not a booking made
    k.booking(online, at(2), "api", "expired")
    # offers near their critical date: 2 without a live booking, 1 outside the window
    k.offer(date(2026, 1, 20))
    k.offer(date(2026, 1, 27))
    k.offer(date(2026, 2, 20))
    other = Bookings(other_org.id)
    os1 = other.session(at(3), capacity=10, taken=10)
    other.booking(os1, at(1), "online", "attended", paid=9500)
    other.offer(date(2026, 1, 20))

    m = dashboards.booking_measures(manager, F, now=now, include_clients=True)
    assert m.periods == ["2026-01-05", "2026-01-12"]
    assert m.online == [3, 1] and m.telephone == [2, 1] and m.other == [0, 0]
    assert m.online_share == [60.0, 50.0]
    civic = next(r for r in m.fill if r["venue"] == "Civic Centre")
    assert (civic["sessions"], civic["taken"], civic["capacity"], civic["pct"]) == (2, 10, 20, 50.0)
    assert next(r for r in m.fill if r["venue"] == "Online")["pct"] == 25.0
    # the payment state of bookings holding a seat (awaiting payment or confirmed); attended ones are history
    assert m.payment["paid"]["count"] == 1
    assert m.payment["overdue"]["count"] == 1
    assert m.payment["awaiting"]["count"] == 2
    assert m.payment["awaiting"]["settled_pence"] == 5000
    assert (m.attended, m.did_not_attend) == (2, 1)
    assert m.attendance_pct == pytest.approx(66.7) and m.dna_pct == pytest.approx(33.3)
    assert m.income_total_pence == 9500 * 4 + 5000
    assert m.income_periods == ["2026-01-05"]
    assert m.near_critical == 2
    # each query also runs on its own (the benchmark times them one by one)
    assert dashboards.booking_query(manager, F, "near_critical", now=now) == [(2,)]
    with pytest.raises(ValidationFailed):
        dashboards.booking_query(manager, F, "salaries")
    with pytest.raises(PermissionDenied):
        dashboards.booking_query(actor_for_role(org, "Case worker"), F, "channel")
    assert [r["critical_date"] for r in m.near_critical_rows] == ["2026-01-20", "2026-01-27"]
