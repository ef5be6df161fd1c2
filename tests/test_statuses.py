"""The vocabulary of statuses: one enum per status column, the named groups the rules use, and the database
keeping every status column to its enum's values (migration 0016)."""

from __future__ import annotations

import importlib.util
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import atlas_app.db
from atlas_app import dashboard_rollups
from atlas_app.db import utcnow, write_session
from atlas_app.domain import statuses as st
from atlas_app.domain.statuses import STATUS_COLUMNS, BookingStatus, OfferStatus, PayState, RefundStatus
from atlas_app.models import Booking, Client, CourseSession, CourseType, Offer, SpecialRequest
from atlas_app.models.casework import Case, CaseLookup, CaseModule, Demand
from atlas_app.models.environmental import Report, ReportCategory
from atlas_app.models.payments import CheckoutAttempt, Payment, PaymentPlan, Refund
from atlas_app.settings import PROJECT_ROOT
from conftest import DIALECT


def _migration_0016():
    path = PROJECT_ROOT / "alembic" / "versions" / "0016_status_checks.py"
    spec = importlib.util.spec_from_file_location("migration_0016", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _constraint_values(table: str, column: str) -> list[str]:
    """The values the database's CHECK on ``table.column`` allows, read back from the database's catalogue."""
    name = st.check_name(table, column)
    with atlas_app.db.get_engine().connect() as conn:
        if DIALECT == "postgresql":
            definition = conn.execute(text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :n"),
                                      {"n": name}).scalar_one()
        else:
            create = conn.execute(text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                                  {"t": table}).scalar_one()
            match = re.search(rf"CONSTRAINT {name} CHECK \(([^)]*\))\)", create)
            assert match, f"no {name} in {create}"
            definition = match.group(1)
    return re.findall(r"'([^']*)'", definition)


# --- the enums and their groups ------------------------------------------------------------------------------------


def test_members_are_plain_strings_for_sql_and_json():
    import json

    assert BookingStatus.CONFIRMED == "confirmed" and isinstance(BookingStatus.CONFIRMED, str)
    assert json.dumps({"status": BookingStatus.TURNED_AWAY}) == '{"status": "turned_away"}'
    assert f"{OfferStatus.RETURNED}" == "returned"


def test_named_groups_hold_members_of_their_own_enum():
    for enum in st.ENUMS:
        for name, group in vars(enum).items():
            if name.isupper() and isinstance(group, tuple):
                assert group and all(isinstance(v, enum) for v in group), (enum.__name__, name)
                assert len(set(group)) == len(group), (enum.__name__, name)


def test_booking_groups_keep_their_meaning():
    B = BookingStatus
    # Every booking either holds its seat or has given it back, never both.
    assert set(B.HOLDS_SEAT) | set(B.FINAL) == set(B) and not set(B.HOLDS_SEAT) & set(B.FINAL)
    assert set(B.HOLDS_SEAT) == set(B.ACTIVE) | set(B.OUTCOMES)
    assert set(B.ON_REGISTER) == set(B.BOOKED) | set(B.OUTCOMES)
    assert B.HELD not in B.ON_REGISTER and B.HELD not in B.CHANGEABLE
    assert set(B.UNCONFIRMED) | set(B.BOOKED) == set(B.ACTIVE)
    assert set(st.OFFER_AFTER_OUTCOME) == set(B.OUTCOMES)
    assert set(st.OFFER_AFTER_OUTCOME.values()) == set(OfferStatus.FINISHED)
    assert set(OfferStatus.FINAL) == set(OfferStatus.FINISHED) | set(OfferStatus.CLOSED)
    assert set(PayState.SETTLED).isdisjoint(PayState.UNPAID)
    assert set(RefundStatus.COUNTS) == {RefundStatus.PENDING, RefundStatus.SUCCEEDED}


def test_every_status_has_words_for_the_pages():
    assert set(st.BOOKING_LABELS) == set(BookingStatus) == set(st.BOOKING_CLIENT_LABELS)
    assert set(st.OFFER_LABELS) == set(OfferStatus)
    assert set(st.SESSION_LABELS) == set(st.SessionStatus)
    assert set(st.REQUEST_LABELS) == set(st.RequestStatus)
    assert set(st.PAY_STATE_LABELS) == set(PayState)


def test_sql_list_refuses_a_quote():
    assert st.sql_list(BookingStatus.NOT_MADE) == "('held', 'expired')"
    with pytest.raises(ValueError):
        st.sql_list(["it's"])


def test_rollup_triggers_use_the_named_groups():
    """The triggers' SQL is generated from the enum's groups, and is what the database holds."""
    assert dashboard_rollups.OUTCOMES == st.sql_list(BookingStatus.OUTCOMES)
    assert f"NOT IN {st.sql_list(BookingStatus.NOT_MADE)}" in dashboard_rollups.MADE
    assert f"IN {st.sql_list(BookingStatus.BOOKED)}" in dashboard_rollups.SEAT
    if DIALECT == "sqlite":
        with atlas_app.db.get_engine().connect() as conn:
            stored = {r[0] for r in conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'dashboard_rollup_%'"))}
        assert stored == set(dashboard_rollups.create_triggers("sqlite"))


# --- the database keeps to the enums -------------------------------------------------------------------------------


@pytest.mark.parametrize(("table", "column"), list(STATUS_COLUMNS))
def test_the_database_constraint_lists_exactly_the_enum_values(table, column):
    assert sorted(_constraint_values(table, column)) == sorted(STATUS_COLUMNS[(table, column)])


def test_migration_0016_lists_the_enum_values_of_its_time():
    checks = {(t, c): set(values) for t, c, values in _migration_0016().CHECKS}
    # Tables made by later migrations carry their CHECK from their own migration (env_report: 0026).
    later = {("env_report", "status")}
    assert checks == {key: set(enum) for key, enum in STATUS_COLUMNS.items() if key not in later}


@pytest.fixture
def one_of_each(org):
    """One row of every table with a status column, each in a valid status."""
    now = utcnow()
    with write_session() as s:
        ct = CourseType(organisation_id=org.id, code="NSAC", name="Speed awareness", fee_pence=9500,
                        delivery_modes=["classroom"])
        s.add(ct)
        s.flush()
        session = CourseSession(organisation_id=org.id, course_type_id=ct.id, delivery_mode="classroom",
                                starts_at=now + timedelta(days=5), ends_at=now + timedelta(days=5, hours=3))
        client = Client(organisation_id=org.id, first_name="Sam", last_name="Driver", date_of_birth=date(1980, 1, 1))
        s.add_all([session, client])
        s.flush()
        offer = Offer(organisation_id=org.id, offer_reference="CLE-1", client_id=client.id, course_type_id=ct.id,
                      offence_date=date(2026, 1, 1), critical_date=date(2030, 1, 1))
        s.add(offer)
        s.flush()
        booking = Booking(organisation_id=org.id, reference="B-STATUS-1", offer_id=offer.id, session_id=session.id,
                          status=BookingStatus.AWAITING_PAYMENT, channel="telephone", fee_pence=9500)
        s.add(booking)
        s.flush()
        attempt = CheckoutAttempt(organisation_id=org.id, booking_id=booking.id, provider="demo", amount_pence=9500,
                                  idempotency_key="k-status-1")
        request = SpecialRequest(organisation_id=org.id, client_id=client.id, kind="payment_plan")
        s.add_all([attempt, request])
        s.flush()
        payment = Payment(organisation_id=org.id, booking_id=booking.id, amount_pence=5000, method="cash",
                          provider="offline", status="succeeded")
        plan = PaymentPlan(organisation_id=org.id, booking_id=booking.id, total_pence=9500)
        s.add_all([payment, plan])
        s.flush()
        refund = Refund(organisation_id=org.id, payment_id=payment.id, amount_pence=100, reason="test")
        module = CaseModule(organisation_id=org.id, name="Customer Interactions")
        s.add_all([refund, module])
        s.flush()
        kind = CaseLookup(organisation_id=org.id, kind="demand_type", name="Missed bin")
        case = Case(organisation_id=org.id, module_id=module.id, title="Bins")
        s.add_all([kind, case])
        s.flush()
        demand = Demand(organisation_id=org.id, case_id=case.id, demand_type_id=kind.id, demand_class="failure",
                        received_at=now)
        s.add(demand)
        s.flush()
        category = ReportCategory(organisation_id=org.id, module_id=module.id, demand_type_id=kind.id)
        s.add(category)
        s.flush()
        report = Report(organisation_id=org.id, module_id=module.id, case_id=case.id, demand_id=demand.id,
                        category_id=category.id, reference="ENV-000001", token_hash="0" * 64)
        s.add(report)
        s.flush()
        rows = {"env_report": report, "booking": booking, "offer": offer, "course_session": session, "payment": payment, "refund": refund,
                "checkout_attempt": attempt, "payment_plan": plan, "special_request": request, "case_file": case,
                "case_demand": demand}
        return {table: row.id for table, row in rows.items()}


def _refused(statement: str, name: str, **params) -> None:
    with pytest.raises(IntegrityError) as caught:
        with atlas_app.db.get_engine().begin() as conn:
            conn.execute(text(statement), params)
    assert name in str(caught.value), str(caught.value)


@pytest.mark.parametrize(("table", "column"), list(STATUS_COLUMNS))
def test_an_unknown_status_written_in_sql_is_refused(one_of_each, table, column):
    row_id = one_of_each[table]
    name = st.check_name(table, column)
    enum = STATUS_COLUMNS[(table, column)]
    for bogus in ("unknown", "", "Confirmed", f"{list(enum)[0]} "):
        _refused(f"UPDATE {table} SET {column} = :v WHERE id = :id", name, v=bogus, id=row_id)
    # A copy of the row with an unknown status is refused too; with a real one it goes in.
    with atlas_app.db.get_engine().connect() as conn:
        columns = [c for c in conn.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}).keys()
                   if c != "id"]
    unique = {"env_report": "reference", "booking": "reference", "offer": "offer_reference", "checkout_attempt": "idempotency_key"}
    select = ", ".join(":v" if c == column else f"{c} || '-copy'" if c == unique.get(table) else c for c in columns)
    insert = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {table} WHERE id = :id"
    _refused(insert, name, v="bogus", id=row_id)
    valid = list(enum)[-1]
    if table == "booking" and valid in BookingStatus.ACTIVE:
        valid = BookingStatus.CANCELLED
    if table == "payment_plan" and valid == st.PlanStatus.ACTIVE:
        valid = st.PlanStatus.CANCELLED
    with atlas_app.db.get_engine().begin() as conn:
        assert conn.execute(text(insert), {"v": str(valid), "id": row_id}).rowcount == 1
    with atlas_app.db.get_engine().begin() as conn:
        for value in enum:
            if table == "booking" and value in BookingStatus.ACTIVE or table == "payment_plan" and value == "active":
                continue  # one live booking per offer, one active plan per booking: other constraints
            conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"), {"v": str(value), "id": row_id})
