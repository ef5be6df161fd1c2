"""A seat hold the client can extend (WCAG 2.2.1 Timing Adjustable): each "Give me more time" moves the hold's
end in the database by the organisation's hold length, at least ten times (the limit is the organisation's), the
next is refused by the service; nobody extends a hold that is not theirs, nor one that has ended."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import Booking, BookingTerms
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.ui.public.booking_wizard import BookingWizardState
from payments_support import make_offer, world  # noqa: F401  (fixture)
from state_support import run, substates


def row(reference: str) -> Booking:
    with read_session() as s:
        return s.exec(Booking.__table__.select().where(Booking.reference == reference)).one()


def hold(world):
    offer_id = make_offer(world)
    view = booking_service.hold_seat(world.org_id, offer_id, world.session_id)
    return offer_id, view


def test_extend_extend_again_then_refused_after_the_limit(world):
    offer_id, view = hold(world)
    proof = booking_service.ClientProof(world.org_id, offer_id)
    start = row(view.reference).hold_expires_at
    for n in range(1, 11):
        ext = booking_service.extend_hold(world.org_id, view.reference, client=proof)
        assert ext.extensions_used == n and ext.extensions_allowed == 10
        assert row(view.reference).hold_expires_at == start + timedelta(minutes=15 * n)   # the hold length each time
        assert row(view.reference).hold_extensions == n
    with pytest.raises(ValidationFailed) as refused:
        booking_service.extend_hold(world.org_id, view.reference, client=proof)
    assert refused.value.errors == {"hold": "limit"} and "10 times" in str(refused.value)
    assert row(view.reference).hold_expires_at == start + timedelta(minutes=150)


def test_the_limit_is_the_organisations(world):
    with write_session() as s:
        terms = s.exec(BookingTerms.__table__.select().where(BookingTerms.organisation_id == world.org_id)).one()
        s.execute(BookingTerms.__table__.update().where(BookingTerms.id == terms.id).values(max_hold_extensions=12))
    offer_id, view = hold(world)
    proof = booking_service.ClientProof(world.org_id, offer_id)
    for _n in range(12):
        booking_service.extend_hold(world.org_id, view.reference, client=proof)
    with pytest.raises(ValidationFailed):
        booking_service.extend_hold(world.org_id, view.reference, client=proof)


def test_only_the_clients_own_current_hold(world):
    offer_id, view = hold(world)
    other_offer, _other = hold(world)
    before = row(view.reference).hold_expires_at
    with pytest.raises(NotFound):      # another client's proof
        booking_service.extend_hold(world.org_id, view.reference,
                                    client=booking_service.ClientProof(world.org_id, other_offer))
    with pytest.raises(NotFound):      # the right offer, another organisation
        booking_service.extend_hold(world.org_id + 999, view.reference,
                                    client=booking_service.ClientProof(world.org_id + 999, offer_id))
    assert row(view.reference).hold_expires_at == before and row(view.reference).hold_extensions == 0
    with write_session() as s:         # the hold has run out
        s.execute(Booking.__table__.update().where(Booking.reference == view.reference)
                  .values(hold_expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(ValidationFailed) as ended:
        booking_service.extend_hold(world.org_id, view.reference,
                                    client=booking_service.ClientProof(world.org_id, offer_id))
    assert ended.value.errors == {"hold": "ended"}


def _tab_holding(world, offer_id):
    """A wizard tab that has found the offer and holds a seat, as the booking pages leave it."""
    (tab,) = substates(BookingWizardState)
    view = booking_service.hold_seat(world.org_id, offer_id, world.session_id)
    tab._org_id, tab._offer_id, tab._hold_reference = world.org_id, offer_id, view.reference
    tab._hold_expires_at, tab.hold_expires_iso = view.hold_expires_at, view.hold_expires_at.isoformat()
    return tab, view


def test_the_wizard_extends_its_own_hold_and_says_so(world):
    tab, view = _tab_holding(world, make_offer(world))
    # Not yet near the end: no warning (the browser's word is checked against the server's clock).
    tab.hold_nearly_over()
    assert not tab.hold_warning
    with write_session() as s:
        s.execute(Booking.__table__.update().where(Booking.reference == view.reference)
                  .values(hold_expires_at=utcnow() + timedelta(seconds=90)))
    tab._hold_expires_at = row(view.reference).hold_expires_at
    tab.hold_nearly_over()
    assert tab.hold_warning
    run(tab.extend_hold())
    stored = row(view.reference)
    assert stored.hold_extensions == 1 and tab._hold_expires_at == stored.hold_expires_at
    assert tab.hold_expires_iso == stored.hold_expires_at.isoformat() and not tab.hold_warning
    assert "9 more times" in tab.hold_notice


def test_a_raw_event_cannot_extend_another_clients_hold(world):
    mine, my_hold = _tab_holding(world, make_offer(world))
    theirs_offer = make_offer(world)
    _theirs, their_hold = _tab_holding(world, theirs_offer)
    # The handler takes nothing from the browser: an event naming their hold is refused outright...
    with pytest.raises(TypeError):
        run(mine.extend_hold(reference=their_hold.reference))
    # ...a tab holding nothing extends nothing...
    (empty,) = substates(BookingWizardState)
    run(empty.extend_hold())
    # ...and a tab whose backend vars were pointed at their hold (impossible from the browser) is refused by the
    # service, which wants the proof of their offer.
    mine._hold_reference = their_hold.reference
    run(mine.extend_hold())
    assert mine.hold_notice == "No such booking."
    assert row(their_hold.reference).hold_extensions == 0
    assert row(my_hold.reference).hold_extensions == 0
