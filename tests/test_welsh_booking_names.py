"""What is sent to a client about a booking is in their correspondence language, whoever made the change and on
whatever screen: a staff (telephone) booking, a move, a cancellation and the reminders carry the Welsh course and
venue names and directions where they are written; the email and letter previews render in the template's (or
the client's) language; and one rule, ``welsh.correspondence_language``, decides that language for emails,
letters and text messages alike (Welsh only while the organisation offers it)."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from conftest import actor_for, create_user, welsh_on
from payments_support import another_session, make_offer, world  # noqa: F401  (fixture)
from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import (
    Booking,
    Client,
    CourseSession,
    CourseType,
    EmailMessage,
    Offer,
    Organisation,
    Venue,
)
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking import (
    catalogue,
    emails,
    offers,
    reminders,
    self_service,
)
from atlas_app.services.insight import letters
from atlas_app.services.platform import i18n, welsh
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.services.platform.i18n import CY, EN, using

WELSH_COURSE = "Cwrs Cenedlaethol Ymwybyddiaeth Cyflymder"
WELSH_VENUE = "Canolfan Ddinesig"
WELSH_DIRECTIONS = "Mae'r fynedfa ar Stryd y Llys; mae lle parcio i bobl anabl wrth y drws."


def welsh_names(world) -> None:
    with write_session() as s:
        ct = s.get(CourseType, world.course_type_id)
        ct.name_cy = WELSH_COURSE
        ct.what_to_bring = "Your driving licence"
        ct.what_to_bring_cy = "Eich trwydded yrru"
        venue = s.get(Venue, world.venue_id)
        venue.name_cy = WELSH_VENUE
        venue.accessibility_notes = "The entrance is on Court Street; disabled parking by the door."
        venue.accessibility_notes_cy = WELSH_DIRECTIONS
        s.add(ct)
        s.add(venue)


def welsh_client(world) -> int:
    welsh_on(world.org_id)
    offer_id = make_offer(world)
    assert offers.set_client_language("cy", proof=booking_service.ClientProof(world.org_id, offer_id)) == "cy"
    return offer_id


_clerks = itertools.count(1)


def staff(org):
    return actor_for(create_user(org, f"clerk{next(_clerks)}", roles=("Booking staff",)))


def queued(reference: str) -> list[EmailMessage]:
    with read_session() as s:
        return list(s.exec(select(EmailMessage).where(EmailMessage.related_id == reference)
                           .order_by(EmailMessage.id)).all())


def merged(message: EmailMessage, name: str) -> str:
    """A merge field as the message was filled in (the outbox keeps them flattened: ``booking_venue``)."""
    return message.personalisation[name]


# --- the one rule ---------------------------------------------------------------------------------------------


def test_one_rule_decides_the_correspondence_language():
    assert welsh.correspondence_language("cy", True) == CY
    assert welsh.correspondence_language("cy-GB", True) == CY
    assert welsh.correspondence_language("cy", False) == EN     # the organisation no longer offers Welsh
    assert welsh.correspondence_language("en", True) == EN
    assert welsh.correspondence_language(None, True) == EN


def test_a_welsh_client_gets_english_emails_once_the_organisation_turns_welsh_off(org, world):
    offer_id = welsh_client(world)
    welsh_on(world.org_id, False)
    booking = booking_service.book(staff(org), offer_id, world.session_id)
    (message,) = queued(booking.reference)
    assert message.subject == f"Your course booking {booking.reference}"
    assert message.body_text.startswith("Dear ")
    # Their choice is kept: with Welsh on again they are written to in Welsh.
    welsh_on(world.org_id)
    booking_service.cancel(world.org_id, booking.reference, actor=staff(org), reason="Client asked")
    assert queued(booking.reference)[-1].body_text.startswith("Annwyl ")


# --- the names in the client's language -----------------------------------------------------------------------


def test_a_staff_booking_for_a_welsh_client_carries_the_welsh_names(org, world):
    welsh_names(world)
    offer_id = welsh_client(world)
    booking = booking_service.book(staff(org), offer_id, world.session_id)   # on an English staff screen
    (message,) = queued(booking.reference)
    assert message.subject == f"Archeb eich cwrs {booking.reference}"
    assert f"Cwrs: {WELSH_COURSE} (NSAC)" in message.body_text
    assert WELSH_VENUE in message.body_text
    assert "National Speed Awareness Course" not in message.body_text and "Civic Centre" not in message.body_text
    assert merged(message, "booking_directions") == WELSH_DIRECTIONS


def test_an_english_client_keeps_the_english_names(org, world):
    welsh_names(world)
    welsh_on(world.org_id)
    booking = booking_service.book(staff(org), make_offer(world), world.session_id)
    (message,) = queued(booking.reference)
    assert "National Speed Awareness Course" in message.body_text and "Civic Centre" in message.body_text
    assert WELSH_COURSE not in message.body_text


def test_a_move_and_a_cancellation_carry_the_welsh_names(org, world):
    welsh_names(world)
    offer_id = welsh_client(world)
    clerk = staff(org)
    booking = booking_service.book(clerk, offer_id, world.session_id)
    moved = booking_service.transfer(world.org_id, booking.reference, another_session(world), actor=clerk)
    cancelled = booking_service.cancel(world.org_id, moved.reference, actor=clerk, reason="Client asked")
    sent = queued(booking.reference) + ([] if moved.reference == booking.reference else queued(moved.reference))
    kinds = [m.kind for m in sent]
    assert "booking_transfer" in kinds and "booking_cancellation" in kinds, kinds
    for message in sent:
        if message.kind in ("booking_transfer", "booking_cancellation"):
            assert merged(message, "booking_course_name") == WELSH_COURSE, message.kind
            assert merged(message, "booking_venue") == WELSH_VENUE, message.kind
            assert "Civic Centre" not in message.body_text, message.kind
    assert cancelled.reference == moved.reference


def test_the_reminders_of_a_welsh_client_are_in_welsh_with_the_welsh_names(world):
    welsh_names(world)
    offer_id = welsh_client(world)
    english_offer = make_offer(world)
    refs = []
    for oid in (offer_id, english_offer):
        held = booking_service.hold_seat(world.org_id, oid, world.session_id)
        refs.append(booking_service.confirm_hold(world.org_id, oid, held.reference).reference)
    with write_session() as s:
        start = s.get(CourseSession, world.session_id).starts_at
        for b in s.exec(select(Booking).where(Booking.reference.in_(refs))).all():
            b.created_at = start - timedelta(days=30)
            s.add(b)
    reminders.queue_due(now=start - timedelta(hours=47))
    welsh_reminder = [m for m in queued(refs[0]) if m.kind == "course_reminder"]
    english_reminder = [m for m in queued(refs[1]) if m.kind == "course_reminder"]
    assert len(welsh_reminder) == 1 and len(english_reminder) == 1
    message = welsh_reminder[0]
    assert merged(message, "booking_course_name") == WELSH_COURSE
    assert merged(message, "booking_venue") == WELSH_VENUE
    assert merged(message, "booking_directions") == WELSH_DIRECTIONS
    assert merged(message, "course_what_to_bring") == "Eich trwydded yrru"
    assert re.match(r"dydd \w+ \d{1,2} \w+ \d{4} am \d\d:\d\d$", merged(message, "booking_when"))
    assert "Dear" not in welsh_reminder[0].body_text
    assert merged(english_reminder[0], "booking_course_name") == "National Speed Awareness Course"
    assert merged(english_reminder[0], "course_what_to_bring") == "Your driving licence"
    # Welsh turned off: the Welsh client's reminders go in English (the one rule).
    welsh_on(world.org_id, False)
    with read_session() as s:
        row = s.exec(select(Client.language, Organisation.welsh_enabled).join(Offer, Offer.client_id == Client.id)
                     .join(Organisation, Organisation.id == Offer.organisation_id)
                     .where(Offer.id == offer_id)).one()
    assert reminders._language(row) == EN


# --- previews in the template's language ----------------------------------------------------------------------


def welsh_booking_and_letters_admin(org, world):
    """A booking of the world's course in a Welsh-speaking organisation, with Welsh names, and an administrator
    who previews the email templates."""
    welsh_names(world)
    welsh_on(world.org_id)
    booking = booking_service.book(staff(org), make_offer(world), world.session_id)
    return booking, actor_for(create_user(org, "letters-admin", roles=("Administrator",)))


def test_the_email_preview_of_a_welsh_template_has_welsh_names_dates_and_money(org, world):
    booking, admin = welsh_booking_and_letters_admin(org, world)
    subject = "Archeb {{ booking.reference }}"
    body = ("Cwrs: {{ booking.course_name }}\nPryd: {{ booking.when }}\nFfi: {{ booking.fee }}\n{{ booking.venue }}"
            "\nStatws: {{ booking.status }}")
    welsh_preview = emails.preview(admin, "booking_confirmation", subject, body, booking.reference, "cy")
    assert f"Cwrs: {WELSH_COURSE}" in welsh_preview.body and WELSH_VENUE in welsh_preview.body
    assert "Statws: Wedi archebu" in welsh_preview.body  # the client's word for the status, in Welsh
    assert re.search(r"^Pryd: dydd \w+ \d{1,2} \w+ \d{4} am \d\d:\d\d$", welsh_preview.body, re.M)
    assert "Ffi: £95.00" in welsh_preview.body
    english_preview = emails.preview(admin, "booking_confirmation", subject, body, booking.reference, "en")
    assert "Cwrs: National Speed Awareness Course" in english_preview.body
    assert "Statws: Booked" in english_preview.body
    assert not re.search(r"dydd ", english_preview.body)


def test_the_preview_of_a_welsh_change_email_describes_the_session_before_in_welsh(org, world):
    booking, admin = welsh_booking_and_letters_admin(org, world)
    body = "{% if change.previously %}Cyn hyn: {{ change.previously }}{% endif %}"
    welsh = emails.preview(admin, "session_moved", "Newid", body, booking.reference, "cy").body
    assert re.fullmatch(rf"Cyn hyn: {WELSH_COURSE}, dydd \w+ \d{{1,2}} \w+ \d{{4}} am \d\d:\d\d, {WELSH_VENUE}", welsh)
    english = emails.preview(admin, "session_moved", "Change", body, booking.reference, "en").body
    assert english.startswith("Cyn hyn: National Speed Awareness Course, ") and "dydd " not in english


def test_the_letter_preview_for_a_welsh_client_is_in_welsh(org, world):
    welsh_names(world)
    offer_id = welsh_client(world)
    booking = booking_service.book(staff(org), offer_id, world.session_id)
    admin = actor_for(create_user(org, "letters-admin2", roles=("Administrator",)))
    preview = letters.preview(admin, "Booking {{ booking.reference }}",
                              "Course {{ booking.course_type }} on {{ booking.date }}, fee {{ payment.fee }}",
                              booking.reference, "Archeb {{ booking.reference }}",
                              "Cwrs {{ booking.course_type }} ar {{ booking.date }}, ffi {{ payment.fee }}, "
                              "heddiw {{ today }}, terfyn {{ client.critical_date }}")
    assert preview.language == "cy"
    assert preview.subject == f"Archeb {booking.reference}"
    assert preview.body.startswith(f"Cwrs {WELSH_COURSE} ar dydd ")
    assert "ffi £95.00" in preview.body
    today, deadline = re.search(r"heddiw (.+), terfyn (.+)$", preview.body).groups()
    months = ("Ionawr|Chwefror|Mawrth|Ebrill|Mai|Mehefin|Gorffennaf|Awst|Medi|Hydref|Tachwedd|Rhagfyr")
    assert re.fullmatch(rf"\d{{1,2}} ({months}) \d{{4}}", today), today
    assert re.fullmatch(rf"\d{{1,2}} ({months}) \d{{4}}", deadline), deadline
    # Welsh turned off: the same client's letter is English.
    welsh_on(world.org_id, False)
    english = letters.preview(admin, "Booking {{ booking.reference }}", "On {{ booking.date }}", booking.reference,
                              "Archeb", "Ar {{ booking.date }}")
    assert english.language == "en" and english.body.startswith("On ")


# --- the booking terms in both languages ----------------------------------------------------------------------

ENGLISH_TERMS = "Arrive 15 minutes early. Bring your photocard driving licence."
WELSH_TERMS = "Dewch 15 munud yn gynnar. Dewch â’ch trwydded yrru cerdyn-llun."


def test_the_booking_terms_have_an_editable_welsh_text_marked_missing_until_written(org, world):
    admin = actor_for(create_user(org, "terms-admin", roles=("Administrator",)))
    welsh_on(world.org_id)
    catalogue.save_terms(admin, {"conditions": ENGLISH_TERMS})
    assert catalogue.get_terms(admin).conditions == ENGLISH_TERMS
    assert [m.area for m in welsh.status(admin).missing if m.area == "Booking terms"] == ["Booking terms"]
    catalogue.save_terms(admin, {"conditions_cy": WELSH_TERMS})
    terms = catalogue.get_terms(admin)
    assert (terms.conditions, terms.conditions_cy) == (ENGLISH_TERMS, WELSH_TERMS)
    assert not [m for m in welsh.status(admin).missing if m.area == "Booking terms"]
    # The public pages read them in the page's language.
    with using("cy"):
        assert self_service.client_terms(world.org_id).conditions == WELSH_TERMS
    assert self_service.client_terms(world.org_id).conditions == ENGLISH_TERMS
    with pytest.raises(ValidationFailed):
        catalogue.save_terms(admin, {"conditions_cy": "x" * 4001})


def test_the_confirmation_carries_the_terms_in_the_clients_language(org, world):
    admin = actor_for(create_user(org, "terms-admin2", roles=("Administrator",)))
    catalogue.save_terms(admin, {"conditions": ENGLISH_TERMS, "conditions_cy": WELSH_TERMS})
    welsh_offer = welsh_client(world)
    welsh_booking = booking_service.book(staff(org), welsh_offer, world.session_id)
    english_booking = booking_service.book(staff(org), make_offer(world), world.session_id)
    (welsh_mail,) = queued(welsh_booking.reference)
    (english_mail,) = queued(english_booking.reference)
    assert welsh_mail.body_text.rstrip().endswith("Ein telerau archebu:\n" + WELSH_TERMS)
    assert ENGLISH_TERMS not in welsh_mail.body_text
    assert english_mail.body_text.rstrip().endswith("Our booking terms:\n" + ENGLISH_TERMS)
    # The online path (hold, then confirm) tells them the same.
    online_offer = welsh_client(world)
    held = booking_service.hold_seat(world.org_id, online_offer, world.session_id)
    online = booking_service.confirm_hold(world.org_id, online_offer, held.reference)
    assert WELSH_TERMS in queued(online.reference)[-1].body_text


def test_a_moved_session_tells_a_welsh_client_what_it_was_in_welsh(org, world):
    welsh_names(world)
    welsh_booking = booking_service.book(staff(org), welsh_client(world), world.session_id)
    english_booking = booking_service.book(staff(org), make_offer(world), world.session_id)
    with write_session() as s:
        session = s.get(CourseSession, world.session_id)
        previously = booking_service.session_texts(s, session)
        session.starts_at += timedelta(hours=1)
        session.ends_at += timedelta(hours=1)
        s.add(session)
        s.flush()
        assert booking_service.tell_booked_clients(s, session, "session_moved", previously) == 2
    welsh_mail = [m for m in queued(welsh_booking.reference) if m.kind == "session_moved"][0]
    english_mail = [m for m in queued(english_booking.reference) if m.kind == "session_moved"][0]
    was = merged(welsh_mail, "change_previously")
    assert was.startswith(f"{WELSH_COURSE}, dydd ") and was.endswith(WELSH_VENUE), was
    assert " am " in was
    assert merged(english_mail, "change_previously").startswith("National Speed Awareness Course, ")
    assert merged(english_mail, "change_previously").endswith("Civic Centre")


def test_a_welsh_clients_receipt_and_payment_plan_are_written_in_welsh(org, world, actor):
    from atlas_app.services import payments
    from atlas_app.timeutil import london_date

    booking = booking_service.book(staff(org), welsh_client(world), world.session_id)
    payments.record_payment(actor, booking.reference, "30", "cheque", reference="100234")
    receipt = queued(booking.reference)[-1]
    assert "(siec)" in receipt.body_text and "cheque" not in receipt.body_text
    assert re.search(r"^Wedi dod i law: dydd \w+ \d{1,2} \w+ \d{4} am \d\d:\d\d$", receipt.body_text, re.M)
    today = london_date(utcnow())
    first, second = today + timedelta(days=3), today + timedelta(days=8)
    payments.approve_plan(actor, booking.reference, [(first, "35"), (second, "30")], reason="Hardship")
    plan = queued(booking.reference)[-1]
    assert f"£35.00 erbyn {i18n.day_month_year(first, CY)}" in plan.body_text
    assert " by " not in plan.body_text and f"{first:%B}" not in plan.body_text.replace(
        i18n.day_month_year(first, CY), "")


def test_an_english_clients_receipt_keeps_the_english_words(org, world, actor):
    from atlas_app.services import payments

    booking = booking_service.book(staff(org), make_offer(world), world.session_id)
    payments.record_payment(actor, booking.reference, "30", "cheque", reference="100234")
    receipt = queued(booking.reference)[-1]
    assert "(cheque)" in receipt.body_text
    assert re.search(r"^Received: \w{3} \d\d \w{3} \d{4} \d\d:\d\d$", receipt.body_text, re.M)  # as before
