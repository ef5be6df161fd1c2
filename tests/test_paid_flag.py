"""The paid flag: every screen showing a booking carries the one flag from the one payment rule, with an amount and a
due text that agree with it; the booking status speaks of the booking only; the register warns before marking an
unpaid client attended and records who let them in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BOOKING_CLIENT_LABELS, BOOKING_LABELS
from atlas_app.models import AuditEntry, Booking, CourseSession, Offer
from atlas_app.services import payments
from atlas_app.services.booking import bookings as booking_service, offers, registers
from atlas_app.timeutil import LONDON, london_date
from payments_support import awaiting_booking, booking_row, make_world, payments_for

FEE = 9900


def _day(d) -> str:
    return f"{d.day} {d:%B %Y}"


def _offer_reference(reference: str) -> str:
    with read_session() as s:
        return s.get(Offer, booking_row(reference).offer_id).offer_reference


def screens(actor, reference: str) -> dict[str, dict[str, str]]:
    """The paid flag of one booking as each screen's data carries it."""
    b = booking_row(reference)
    with read_session() as s:
        client_id = s.get(Offer, b.offer_id).client_id
    [entry] = [e for e in registers.session_detail(actor, b.session_id).entries if e.reference == reference]
    [hit] = offers.search_clients(actor, query=_offer_reference(reference))
    return {
        "session page and register": entry.paid_flag,
        "client record": offers.client_record(actor, client_id).paid_flags[b.id],
        "client search (telephone)": hit.paid_flag,
        "payments page": payments.booking_payments(actor, reference).summary.flag(),
    }


def assert_everywhere(actor, reference: str, expected: dict[str, str]) -> None:
    seen = screens(actor, reference)
    for screen, flag in seen.items():
        assert flag == expected, screen


@pytest.fixture
def world(org):
    return make_world(org.id, fee=FEE)


def test_part_paid_shows_what_is_still_to_pay_and_by_when(actor, world):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "33", "cash")
    due = booking_row(b.reference).payment_due_at.astimezone(LONDON).date()
    assert_everywhere(actor, b.reference, {"pay_state": "part_paid", "pay_label": "Part-paid",
                                           "pay_amount": "Still to pay £66.00", "pay_due": f"Payment due by {_day(due)}"})


def test_refunded_in_part_says_refunded_not_still_to_pay(actor, world):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "99", "cash")
    assert booking_row(b.reference).status == "confirmed"
    payments.refund_payment(actor, payments_for(b.reference)[0].id, "20", "Goodwill: the venue changed")
    assert_everywhere(actor, b.reference, {"pay_state": "refunded", "pay_label": "Refunded",
                                           "pay_amount": "Refunded £20.00", "pay_due": ""})
    summary = payments.booking_payments(actor, b.reference).summary
    assert summary.outstanding_pence == 2000  # the ledger still knows the fee is not covered


def test_plan_shows_the_next_instalment_not_payment_due_by(actor, world):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "30", "cash")
    today = london_date(utcnow())
    first, second = today + timedelta(days=3), today + timedelta(days=8)
    payments.approve_plan(actor, b.reference, [(first, "35"), (second, "34")], reason="Hardship")
    expected = {"pay_state": "part_paid", "pay_label": "Part-paid", "pay_amount": "Still to pay £69.00",
                "pay_due": f"Next instalment £35.00 due {_day(first)}"}
    assert_everywhere(actor, b.reference, expected)
    # Part of the first instalment paid: the rest of it is what is next.
    payments.record_payment(actor, b.reference, "20", "cash")
    expected.update(pay_amount="Still to pay £49.00", pay_due=f"Next instalment £15.00 due {_day(first)}")
    assert_everywhere(actor, b.reference, expected)
    # The first covered and more: the second is next, less what was paid towards it.
    payments.record_payment(actor, b.reference, "25", "cash")
    expected.update(pay_amount="Still to pay £24.00", pay_due=f"Next instalment £24.00 due {_day(second)}")
    assert_everywhere(actor, b.reference, expected)


def test_waived(actor, world):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "99", "waiver", note="Hardship: council tax support")
    assert_everywhere(actor, b.reference, {"pay_state": "waived", "pay_label": "Waived",
                                           "pay_amount": "Waived £99.00", "pay_due": ""})


def test_overdue(actor, world):
    b = awaiting_booking(world)
    past = utcnow() - timedelta(days=2)
    with write_session() as s:
        row = s.exec(select(Booking).where(Booking.reference == b.reference)).one()
        row.payment_due_at = past
        s.add(row)
    assert_everywhere(actor, b.reference, {"pay_state": "overdue", "pay_label": "Overdue",
                                           "pay_amount": "Still to pay £99.00",
                                           "pay_due": f"Payment due by {_day(past.astimezone(LONDON).date())}"})


def test_paid_in_full(actor, world):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "99", "cash")
    assert_everywhere(actor, b.reference, {"pay_state": "paid", "pay_label": "Paid", "pay_amount": "Paid £99.00",
                                           "pay_due": ""})


def test_booking_status_words_say_nothing_of_money():
    for words in list(BOOKING_LABELS.values()) + list(BOOKING_CLIENT_LABELS.values()):
        assert "paid" not in words.lower() and "payment" not in words.lower(), words


def test_search_hit_without_a_booking_has_no_flag(actor, world):
    b = awaiting_booking(world)
    [hit] = offers.search_clients(actor, query=_offer_reference(b.reference))
    assert hit.paid_flag["pay_state"] == "awaiting_payment"
    from payments_support import make_offer
    offer_id = make_offer(world)
    with read_session() as s:
        ref = s.get(Offer, offer_id).offer_reference
    [hit] = offers.search_clients(actor, query=ref)
    assert hit.paid_flag == {}


# --- the register ----------------------------------------------------------------------------------------------


def _start_now(session_id: int) -> None:
    with write_session() as s:
        row = s.get(CourseSession, session_id)
        shift = row.starts_at - (utcnow() + timedelta(minutes=30))
        row.starts_at -= shift
        row.ends_at -= shift
        s.add(row)


def _attendance_audit(reference: str) -> list[AuditEntry]:
    with read_session() as s:
        return list(s.exec(select(AuditEntry).where(AuditEntry.entity == "booking", AuditEntry.entity_id == reference,
                                                    AuditEntry.action == "attendance")
                           .order_by(AuditEntry.id)).all())


def test_register_refuses_attended_for_unpaid_until_overridden_and_records_who(actor, world):
    b = awaiting_booking(world)
    payments.record_payment(actor, b.reference, "33", "cash")
    _start_now(world.session_id)
    [entry] = registers.session_detail(actor, world.session_id).entries
    assert entry.attend_needs_override
    with pytest.raises(booking_service.UnpaidAttendance) as refused:
        booking_service.record_attendance(actor, b.reference, "attended")
    assert "Part-paid" in str(refused.value) and "£66.00" in str(refused.value)
    assert booking_row(b.reference).status == "awaiting_payment" and _attendance_audit(b.reference) == []
    # Other marks need no override: a client who did not come owes what they owe.
    booking_service.record_attendance(actor, b.reference, "did_not_attend")
    view = booking_service.record_attendance(actor, b.reference, "attended", override_unpaid=True)
    assert view.status == "attended"
    entries = _attendance_audit(b.reference)
    assert "unpaid_override" not in entries[0].after
    last = entries[-1]
    assert last.after["status"] == "attended"
    assert last.after["unpaid_override"] == {"pay_state": "part_paid", "amount": "Still to pay £66.00",
                                             "by": actor.username}
    assert last.username == actor.username and last.user_id == actor.user_id


def test_register_marks_a_paid_or_plan_client_attended_without_override(actor, world):
    paid = awaiting_booking(world)
    payments.record_payment(actor, paid.reference, "99", "cash")
    on_plan = awaiting_booking(world)
    today = london_date(utcnow())
    payments.approve_plan(actor, on_plan.reference, [(today + timedelta(days=20), "99")], allow_attend_on_plan=True,
                          reason="Hardship")
    not_on_plan_attend = awaiting_booking(world)
    payments.approve_plan(actor, not_on_plan_attend.reference, [(today + timedelta(days=2), "99")],
                          reason="Hardship")
    _start_now(world.session_id)
    needs = {e.reference: e.attend_needs_override for e in registers.session_detail(actor, world.session_id).entries}
    assert needs == {paid.reference: False, on_plan.reference: False, not_on_plan_attend.reference: True}
    for ref in (paid.reference, on_plan.reference):
        assert booking_service.record_attendance(actor, ref, "attended").status == "attended"
        assert "unpaid_override" not in _attendance_audit(ref)[-1].after
    with pytest.raises(booking_service.UnpaidAttendance):
        booking_service.record_attendance(actor, not_on_plan_attend.reference, "attended")
