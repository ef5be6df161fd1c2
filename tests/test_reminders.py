"""Course reminders: the schedule, consent, once per booking and point under races of threads and processes, never
for a booking that left its session."""

from __future__ import annotations

import multiprocessing
import secrets
from datetime import timedelta

import pytest
from booking_data import add_offers, add_session, make_catalogue
from conftest import all_rows, run_cli, run_threads, set_columns
from sqlmodel import select

from atlas_app.db import utcnow, write_session
from atlas_app.models import (
    Booking,
    Client,
    CourseSession,
    CourseType,
    EmailMessage,
    Offer,
)
from atlas_app.models.reminders import ReminderDispatch
from atlas_app.services.booking import reminders
from atlas_app.services.platform import outbox
from atlas_app.services.platform.errors import NotFound, ValidationFailed


@pytest.fixture
def cat(org):
    return make_catalogue(org.id)


def book(cat, offer_ids, session_id, status="confirmed", booked_ago=timedelta(days=30)) -> list[int]:
    with write_session() as s:
        rows = [Booking(organisation_id=cat.organisation_id, reference=f"R-{secrets.token_hex(5).upper()}",
                        offer_id=o, session_id=session_id, status=status, channel="online",
                        created_at=utcnow() - booked_ago) for o in offer_ids]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def consent_sms(offer_ids, phone="07700 900123"):
    with write_session() as s:
        for o in offer_ids:
            client = s.get(Client, s.get(Offer, o).client_id)
            client.phone, client.sms_consent = phone, True
            s.add(client)


def messages(**where) -> list[EmailMessage]:
    rows = all_rows(EmailMessage, order_by=EmailMessage.id)
    return [r for r in rows if all(getattr(r, k) == v for k, v in where.items())]


def test_shipped_schedule_sends_the_latest_point_per_channel_once(cat):
    session_id = add_session(cat, starts_in=timedelta(hours=20))  # inside 7 days, 2 days and 1 day
    offers = add_offers(cat, 3)
    book(cat, offers, session_id)
    consent_sms(offers[:1])
    run = reminders.queue_due()
    # Email: only the 2-day point (the 7-day one is past too, but one reminder per channel at a time); SMS: the
    # one client who agreed to texts.
    assert run.queued == 4 and run.skipped == 2
    emails, texts = messages(channel="email"), messages(channel="sms")
    assert len(emails) == 3 and len(texts) == 1
    assert emails[0].kind == "course_reminder" and emails[0].subject.startswith("Reminder: your course on")
    assert "Where: NSAC Civic Centre" in emails[0].body_text
    assert texts[0].to_phone == "+447700900123" and "NSAC course" in texts[0].body_text
    assert {d.point for d in all_rows(ReminderDispatch)} == {"email:48", "sms:24"}
    assert emails[0].personalisation["client_first_name"] == "Client"
    # Again: nothing new.
    assert reminders.queue_due().queued == 0
    assert len(messages()) == 4


def test_nothing_before_a_point_and_nothing_for_a_booking_made_after_it(cat):
    far = add_session(cat, starts_in=timedelta(days=10))
    soon = add_session(cat, starts_in=timedelta(hours=30))
    offers = add_offers(cat, 2)
    book(cat, offers[:1], far)
    book(cat, offers[1:], soon, booked_ago=timedelta(hours=2))  # booked after the 7-day and 2-day points
    assert reminders.queue_due().queued == 0


def test_held_cancelled_and_moved_bookings_get_no_reminder_for_the_old_session(cat, smtp):
    old = add_session(cat, starts_in=timedelta(hours=40))
    new = add_session(cat, starts_in=timedelta(days=9))
    offers = add_offers(cat, 3)
    booked = book(cat, offers[:1], old)
    book(cat, offers[1:2], old, status="cancelled")
    book(cat, offers[2:], old, status="held")
    assert reminders.queue_due().queued == 1
    # Moved to another session before the reminder left: it is not sent.
    set_columns(Booking, Booking.id == booked[0], session_id=new)
    report = outbox.deliver_due()
    assert report.sent == 0 and smtp.messages == []
    row = messages()[0]
    assert row.status == "cancelled" and "no longer on that session" in row.last_error
    # The new session is reminded in its own time, keyed by the new session.
    assert reminders.queue_due(now=utcnow() + timedelta(days=3)).queued == 1
    assert {(d.session_id, d.point) for d in all_rows(ReminderDispatch)} == {(old, "email:48"), (new, "email:168")}


def test_a_reminder_still_wanted_is_delivered(cat, smtp):
    session_id = add_session(cat, starts_in=timedelta(hours=40))
    book(cat, add_offers(cat, 1), session_id)
    reminders.queue_due()
    assert outbox.deliver_due().sent == 1
    assert smtp.messages[0]["Subject"].startswith("Reminder: your course on")


def test_no_email_without_consent(cat):
    session_id = add_session(cat, starts_in=timedelta(hours=40))
    offers = add_offers(cat, 2)
    book(cat, offers, session_id)
    with write_session() as s:
        client = s.get(Client, s.get(Offer, offers[0]).client_id)
        client.email_consent = False
        s.add(client)
    run = reminders.queue_due()
    assert run.queued == 1 and run.skipped == 1


def test_a_landline_gets_no_text(cat):
    session_id = add_session(cat, starts_in=timedelta(hours=20))
    offers = add_offers(cat, 1, email=False)
    book(cat, offers, session_id)
    consent_sms(offers, phone="01632 960001")
    assert reminders.queue_due().queued == 0


def test_online_reminder_carries_joining_details_and_what_to_bring(cat):
    session_id = add_session(cat, starts_in=timedelta(hours=40))
    set_columns(CourseSession, CourseSession.id == session_id, delivery_mode="online",
                online_link="https://meet.example.org/j/42", meeting_id="42 42", meeting_passcode="road")
    set_columns(CourseType, CourseType.id == cat.course_type_id, what_to_bring="Your photocard driving licence")
    book(cat, add_offers(cat, 1), session_id)
    reminders.queue_due()
    body = messages()[0].body_text
    assert "Video link: https://meet.example.org/j/42" in body and "Passcode: road" in body
    assert "Please bring: Your photocard driving licence" in body


def test_an_organisations_own_schedule_and_template(cat, actor):
    session_id = add_session(cat, starts_in=timedelta(hours=5))
    book(cat, add_offers(cat, 1), session_id)
    from atlas_app.services.booking import emails

    emails.save_template(actor, "course_reminder", "See you soon {{ booking.reference }}", "Soon, {{ client.name }}.")
    schedule = reminders.set_schedule(actor, cat.course_type_id, [("email", 6)])
    assert [(p.channel, p.hours_before) for p in schedule.points] == [("email", 6)]
    assert reminders.queue_due().queued == 1
    assert messages()[0].body_text == "Soon, Client Number0."
    assert all_rows(ReminderDispatch)[0].point == "email:6"


def test_no_reminders_for_a_course_type_set_to_none(cat, actor):
    session_id = add_session(cat, starts_in=timedelta(hours=20))
    book(cat, add_offers(cat, 1), session_id)
    reminders.set_schedule(actor, cat.course_type_id, [])
    assert [s.points for s in reminders.schedules(actor) if s.course_type_id == cat.course_type_id] == [[]]
    assert reminders.queue_due().queued == 0
    reminders.reset_schedule(actor, cat.course_type_id)
    assert reminders.queue_due().queued == 1


def test_schedule_is_checked_and_scoped(cat, actor, other_actor):
    with pytest.raises(ValidationFailed):
        reminders.set_schedule(actor, cat.course_type_id, [("fax", 24)])
    with pytest.raises(ValidationFailed):
        reminders.set_schedule(actor, cat.course_type_id, [("email", 0)])
    with pytest.raises(NotFound):
        reminders.set_schedule(other_actor, cat.course_type_id, [("email", 24)])
    assert all(s.is_default for s in reminders.schedules(actor))


def test_threads_running_the_job_at_once_queue_each_reminder_once(cat):
    session_id = add_session(cat, starts_in=timedelta(hours=40))
    book(cat, add_offers(cat, 60), session_id)
    results = run_threads(4, lambda i: reminders.queue_due(batch=7))
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r.queued for r in results) == 60
    assert len(messages()) == 60 and len({m.related_id for m in messages()}) == 60


def test_processes_running_the_job_at_once_queue_each_reminder_once(cat):
    from reminder_race_worker import run_job

    session_id = add_session(cat, starts_in=timedelta(hours=40))
    book(cat, add_offers(cat, 80), session_id)
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=run_job, args=(w, barrier, results)) for w in range(3)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(isinstance(n, int) for _, n in outcomes), outcomes
    assert sum(n for _, n in outcomes) == 80
    assert len(messages()) == 80 and len({m.related_id for m in messages()}) == 80


def test_cli_command_queues_and_a_rerun_after_restart_queues_none(cat):
    session_id = add_session(cat, starts_in=timedelta(hours=40))
    book(cat, add_offers(cat, 3), session_id)
    first = run_cli("send-reminders")
    assert first.returncode == 0 and "Reminders queued: 3" in first.stdout, first.stderr
    second = run_cli("send-reminders")
    assert "Reminders queued: 0" in second.stdout
    with write_session() as s:
        assert len(s.exec(select(EmailMessage)).all()) == 3
