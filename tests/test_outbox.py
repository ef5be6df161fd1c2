"""The email outbox, delivered over real SMTP to an in-process aiosmtpd server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from atlas_app.db import utcnow, write_session
from atlas_app.models import EmailMessage
from atlas_app.services.platform import auth, outbox
from atlas_app.services.platform.errors import PermissionDenied, ValidationFailed
from conftest import actor_for, all_rows, set_columns
from smtp_support import SmtpServer


def queue(**kw) -> int:
    kw.setdefault("to", "driver@example.org")
    kw.setdefault("subject", "Your course booking")
    kw.setdefault("body", "You are booked on the course.")
    with write_session() as s:
        return outbox.queue(s, **kw).id


def message(message_id: int) -> EmailMessage:
    return all_rows(EmailMessage, EmailMessage.id == message_id)[0]


def make_due(message_id: int) -> None:
    set_columns(EmailMessage, EmailMessage.id == message_id, next_attempt_at=utcnow() - timedelta(seconds=1))


def test_queued_message_with_attachment_is_delivered(smtp, org):
    pdf = b"%PDF-1.4 fake letter \x00\x01\x02"
    message_id = queue(subject="Your booking confirmation", body="Booked: NSAC on 1 March.",
                       html="<p>Booked: <b>NSAC</b></p>", organisation_id=org.id,
                       attachments=[("confirmation.pdf", "application/pdf", pdf)])
    assert message(message_id).status == "queued"

    report = outbox.deliver_due()
    assert (report.sent, report.failed, report.retrying) == (1, 0, 0)
    assert len(smtp.messages) == 1
    received = smtp.messages[0]
    assert received["Subject"] == "Your booking confirmation"
    assert received["To"] == "driver@example.org"
    assert "atlas@test.example" in received["From"]
    assert smtp.collector.envelopes[0][1] == ["driver@example.org"]
    assert "Booked: NSAC on 1 March." in received.get_body(("plain",)).get_content()
    assert "<b>NSAC</b>" in received.get_body(("html",)).get_content()
    attachments = list(received.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attachments] == [
        ("confirmation.pdf", "application/pdf")
    ]
    assert attachments[0].get_content() == pdf

    row = message(message_id)
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1 and row.last_error == ""
    # A second pass sends nothing twice.
    assert outbox.deliver_due().sent == 0
    assert len(smtp.messages) == 1


def test_several_messages_go_in_one_pass(smtp):
    ids = [queue(to=f"driver{i}@example.org", subject=f"Message {i}") for i in range(5)]
    assert outbox.deliver_due().sent == 5
    assert sorted(m["Subject"] for m in smtp.messages) == [f"Message {i}" for i in range(5)]
    assert {message(i).status for i in ids} == {"sent"}


def test_a_pass_over_several_connections_sends_each_message_once_and_records_them_together(smtp, set_env):
    set_env(SMTP_CONNECTIONS="4")
    ids = [queue(to=f"driver{i}@example.org", subject=f"Message {i}") for i in range(250)]
    report = outbox.deliver_due(limit=1000)
    assert (report.sent, report.failed, report.retrying) == (250, 0, 0)
    assert sorted(m["Subject"] for m in smtp.messages) == sorted(f"Message {i}" for i in range(250))
    rows = [message(i) for i in ids]
    assert {(r.status, r.provider, r.attempts, r.last_error) for r in rows} == {("sent", "smtp", 1, "")}
    assert all(r.sent_at is not None for r in rows)
    assert outbox.deliver_due().sent == 0


def test_a_refused_recipient_in_a_parallel_pass_is_retried_alone(smtp, set_env):
    set_env(SMTP_CONNECTIONS="3")
    collector = smtp.collector
    original = collector.handle_DATA

    async def refuse_one(server, session, envelope):
        if "refused@" in envelope.rcpt_tos[0]:
            return "451 Try again later"
        return await original(server, session, envelope)

    collector.handle_DATA = refuse_one
    ids = [queue(to=("refused@example.org" if i == 7 else f"driver{i}@example.org")) for i in range(20)]
    report = outbox.deliver_due()
    assert (report.sent, report.retrying) == (19, 1)
    assert message(ids[7]).status == "queued" and "451" in message(ids[7]).last_error
    assert len(smtp.messages) == 19 and {message(i).status for i in ids if i != ids[7]} == {"sent"}


def test_parallel_delivery_passes_send_each_message_once(smtp):
    ids = [queue(to=f"driver{i}@example.org", subject=f"Message {i}") for i in range(10)]
    from conftest import run_threads

    results = run_threads(4, lambda i: outbox.deliver_due())
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sum(r.sent for r in results) == 10
    assert sorted(m["Subject"] for m in smtp.messages) == sorted(f"Message {i}" for i in range(10))
    assert {message(i).status for i in ids} == {"sent"}


def test_unreachable_server_retries_with_back_off_then_fails(smtp):
    message_id = queue()
    smtp.stop()

    report = outbox.deliver_due()
    assert (report.sent, report.failed, report.retrying) == (0, 0, 1)
    row = message(message_id)
    assert row.status == "queued" and row.attempts == 1
    assert row.last_error  # e.g. ConnectionRefusedError
    assert row.next_attempt_at > utcnow()
    assert row.sent_at is None

    # Not due yet: a pass now leaves it alone.
    assert outbox.deliver_due() == outbox.DeliveryReport(0, 0, 0)
    assert message(message_id).attempts == 1

    previous_wait = row.next_attempt_at - utcnow()
    for attempt in range(2, outbox.MAX_ATTEMPTS):
        make_due(message_id)
        outbox.deliver_due()
        row = message(message_id)
        assert row.status == "queued" and row.attempts == attempt
        wait = row.next_attempt_at - utcnow()
        assert wait > previous_wait  # the back-off grows
        previous_wait = wait

    make_due(message_id)
    report = outbox.deliver_due()
    assert report.failed == 1
    row = message(message_id)
    assert row.status == "failed" and row.attempts == outbox.MAX_ATTEMPTS and row.last_error
    make_due(message_id)
    assert outbox.deliver_due() == outbox.DeliveryReport(0, 0, 0)  # failed messages stay failed
    assert smtp.messages == []


def test_failed_message_can_be_retried_by_staff_and_then_sent(smtp, org, actor):
    message_id = queue(organisation_id=org.id)
    set_columns(EmailMessage, EmailMessage.id == message_id, status="failed", attempts=outbox.MAX_ATTEMPTS,
                last_error="ConnectionRefusedError")
    outbox.retry(actor, message_id)
    row = message(message_id)
    assert row.status == "queued" and row.attempts == 0
    assert outbox.deliver_due().sent == 1
    assert message(message_id).status == "sent" and len(smtp.messages) == 1


def test_server_back_after_a_failure_delivers(smtp):
    message_id = queue()
    smtp.stop()
    outbox.deliver_due()
    assert message(message_id).status == "queued"
    smtp.start()
    make_due(message_id)
    assert outbox.deliver_due().sent == 1
    row = message(message_id)
    assert row.status == "sent" and row.attempts == 2 and row.last_error == ""


def test_without_smtp_messages_are_held_and_shown_to_staff(org, actor, make_user):
    plain_id = queue(subject="Booking reminder", body="See you on Monday.", organisation_id=org.id,
                     attachments=[("letter.pdf", "application/pdf", b"%PDF")])
    staff = make_user("hbc.staff", email="staff@hartlepool.example.gov.uk")
    auth.request_password_reset("hbc.staff")
    auth.send_requested_links()

    assert message(plain_id).status == "held"
    assert outbox.deliver_due() == outbox.DeliveryReport(0, 0, 0)
    assert message(plain_id).status == "held" and message(plain_id).attempts == 0

    rows, total = outbox.list_messages(actor)
    assert total == 2
    by_subject = {r.subject: r for r in rows}
    reminder = by_subject["Booking reminder"]
    assert reminder.status == "held" and reminder.body_text == "See you on Monday."
    assert reminder.attachment_names == ["letter.pdf"]
    reset = by_subject["Atlas: set a new password"]
    assert reset.to_address == staff.email
    assert "token=" not in reset.body_text and "withheld" in reset.body_text
    stored = all_rows(EmailMessage, EmailMessage.subject == "Atlas: set a new password")[0]
    # The stored copy never held the link: it is made when the email is sent.
    assert "token=" not in stored.body_text and outbox.LINK_PLACEHOLDER in stored.body_text
    held, held_total = outbox.list_messages(actor, status="held")
    assert held_total == 2
    assert outbox.list_messages(actor, status="sent") == ([], 0)


def test_held_messages_go_out_once_smtp_is_configured(set_env, org):
    message_id = queue(organisation_id=org.id)
    assert message(message_id).status == "held"
    server = SmtpServer()
    server.start()
    try:
        set_env(SMTP_URL=server.url)
        assert outbox.deliver_due().sent == 1
        assert len(server.messages) == 1
    finally:
        server.stop()
    assert message(message_id).status == "sent"


def test_outbox_viewer_needs_its_permission(make_user):
    staff = actor_for(make_user("hbc.staff", roles=("Contact centre",)))
    with pytest.raises(PermissionDenied):
        outbox.list_messages(staff)
    with pytest.raises(PermissionDenied):
        outbox.retry(staff, 1)


@pytest.mark.parametrize("to", ["", "not-an-address", "a@b.example\r\nBcc: victim@example.org",
                                "a@b.example, c@d.example", "Name <a@b.example>"])
def test_bad_or_injected_recipients_are_refused(to):
    with pytest.raises(ValidationFailed):
        queue(to=to)
    assert all_rows(EmailMessage) == []


def test_subject_header_injection_is_neutralised(smtp):
    queue(subject="Hello\r\nBcc: victim@example.org")
    outbox.deliver_due()
    received = smtp.messages[0]
    assert received["Bcc"] is None
    assert "\n" not in received["Subject"]
    assert smtp.collector.envelopes[0][1] == ["driver@example.org"]
