"""Client emails come from each organisation's templates: every kind renders with its shipped wording, an edited
template is what the client really receives over SMTP (and only that organisation's clients), a bad template is
refused at save with the field named and nothing changed, saves are audited, and the letters page drives it all."""

from __future__ import annotations

import pytest

from atlas_app.db import write_session
from atlas_app.models import AuditEntry
from atlas_app.models.letters import EmailTemplate
from atlas_app.services import payments
from atlas_app.services.booking import emails
from atlas_app.services.booking.email_defaults import KINDS
from atlas_app.services.platform import outbox
from atlas_app.services.platform.errors import PermissionDenied, ValidationFailed
from atlas_app.ui.staff.insight import letters as letters_page
from atlas_app.ui.staff.insight import reports as reports_page
from atlas_app.ui.staff.insight.letters import EmailsState
from conftest import actor_for, all_rows, create_org, create_user
from payments_support import awaiting_booking, make_world, world  # noqa: F401  (fixture)
from state_support import at, run, signed_in, substate


def delivered(smtp) -> dict[str, str]:
    """Deliver what is due; what arrived, as {subject: plain text}."""
    outbox.deliver_due()
    return {m["Subject"]: m.get_body(("plain",)).get_content().replace("\r\n", "\n") for m in smtp.messages}


def test_every_kind_renders_its_shipped_wording_with_real_data(world, actor):
    booking = awaiting_booking(world)
    views = emails.list_templates(actor)
    assert [v.kind for v in views] == list(KINDS)
    for v in views:
        assert v.is_default and v.language == "en"
        p = emails.preview(actor, v.kind, v.subject, v.body, booking.reference)
        assert booking.reference in p.subject, v.kind
        if v.kind.endswith("_sms"):  # a text message: short, the booking named
            assert booking.reference in p.body and len(p.body) < 320, v.kind
        else:
            assert p.body.startswith(f"Dear {booking.client_name},\n\n"), v.kind
        assert "{{" not in p.body + p.subject and "{%" not in p.body + p.subject, v.kind
        assert p.to.endswith("@example.com")


def test_the_shipped_confirmation_keeps_todays_wording(smtp, world, actor):
    booking = awaiting_booking(world)
    body = delivered(smtp)[f"Your course booking {booking.reference}"]
    assert body.startswith(f"Dear {booking.client_name},\n\nThank you for booking your course. Your booking "
                           f"reference is {booking.reference}.\n\nCourse: National Speed Awareness Course (NSAC)\n")
    assert "Where: Civic Centre, Hartlepool, TS24 8AY\n" in body
    assert "\n\nFee: £95.00, to be paid by " in body
    assert body.rstrip("\n").endswith("before the course through the booking site or by telephone.")


def test_an_edited_template_is_what_the_client_receives(smtp, org, actor):
    other = create_org("essex", "Essex County Council")
    world = make_world(org.id)
    essex = make_world(other.id)
    emails.save_template(actor, "booking_confirmation",
                         "{{ organisation.name }}: you are booked ({{ booking.reference }})",
                         "Hello {{ client.first_name }},\n\nSee you on {{ booking.when }} at {{ booking.venue }}."
                         "{% if booking.awaiting_payment %}\nPlease pay {{ booking.fee }}.{% endif %}\n")
    emails.save_template(actor, "payment_receipt", "Thanks for {{ payment.amount }}",
                         "{{ payment.amount }} by {{ payment.method }}; "
                         "{% if payment.paid_in_full %}all paid{% else %}{{ payment.outstanding }} to go{% endif %}.")
    mine = awaiting_booking(world)
    theirs = awaiting_booking(essex)
    payments.record_payment(actor, mine.reference, "40", "cash")
    got = delivered(smtp)
    body = got[f"Hartlepool Borough Council: you are booked ({mine.reference})"]
    assert body.startswith(f"Hello Sam,\n\nSee you on ") and "at Civic Centre.\nPlease pay £95.00." in body
    assert got["Thanks for £40.00"].startswith("£40.00 by cash; £55.00 to go.")
    # the other organisation's clients keep the shipped wording
    assert got[f"Your course booking {theirs.reference}"].startswith("Dear Sam ")


@pytest.mark.parametrize("subject, body, field, named", [
    ("Booked {{ booking.reference }}", "Dear {{ client.pet }}", "body", "client.pet"),
    ("Booked {{ refund.amount }}", "Dear {{ client.name }}", "subject", "refund.amount"),
    ("Booked", "{{ 9 ** (9 ** 9) }}", "body", "power"),
    ("{{ 'a' * 10**9 }}", "Dear {{ client.name }}", "subject", "power"),
    ("Booked", "{% for i in range(10**9) %}x{% endfor %}", "body", "**"),
    ("Booked", "Dear {{ client.name }\n", "body", "line 1"),
    ("Booked", "{{ client.name.__class__ }}", "body", "client.name.__class__"),
    ("", "Dear {{ client.name }}", "subject", "subject"),
    ("Booked", "  ", "body", "text"),
])
def test_a_bad_template_is_refused_at_save_with_the_field_named(actor, subject, body, field, named):
    before = {r.kind: (r.subject, r.body) for r in (emails.list_templates(actor))}
    with pytest.raises(ValidationFailed) as err:
        emails.save_template(actor, "booking_confirmation", subject, body)
    assert field in err.value.errors and named in str(err.value)
    assert {r.kind: (r.subject, r.body) for r in emails.list_templates(actor)} == before
    assert not all_rows(AuditEntry, AuditEntry.entity == "email_template")


def test_saving_is_audited_and_needs_the_letters_permission(org, actor):
    emails.save_template(actor, "refund", "Refund {{ booking.reference }}", "{{ refund.amount }}: {{ refund.reason }}")
    entry = all_rows(AuditEntry, AuditEntry.entity == "email_template")[-1]
    assert entry.entity_id == "refund/en" and entry.action == "updated" and entry.username == actor.username
    restored = emails.restore_default(actor, "refund")
    assert restored.is_default and restored.body == KINDS["refund"].body
    contact = actor_for(create_user(org, "hbc.contact", roles=("Contact centre",)))
    for call in (lambda: emails.list_templates(contact),
                 lambda: emails.save_template(contact, "refund", "x", "y"),
                 lambda: emails.preview(contact, "refund", "x", "y")):
        with pytest.raises(PermissionDenied):
            call()


def test_a_stored_template_that_cannot_be_filled_in_falls_back_to_the_shipped_wording(smtp, world, actor):
    emails.list_templates(actor)
    with write_session() as s:
        row = s.exec(EmailTemplate.__table__.select().where(EmailTemplate.kind == "booking_confirmation")).first()
        s.execute(EmailTemplate.__table__.update().where(EmailTemplate.id == row.id)
                  .values(body="{{ client.password }}"))
    booking = awaiting_booking(world)
    assert delivered(smtp)[f"Your course booking {booking.reference}"].startswith(f"Dear {booking.client_name},")


def test_new_organisations_from_seed_demo_get_every_template():
    from atlas_app.services import demo

    demo.seed_demo()
    rows = all_rows(EmailTemplate)
    orgs = {r.organisation_id for r in rows}
    assert orgs and all(sum(1 for r in rows if r.organisation_id == o) == len(KINDS) for o in orgs)


def test_the_emails_section_of_the_letters_page(monkeypatch, org, actor):
    world = make_world(org.id)
    booking = awaiting_booking(world)
    signed_in(monkeypatch, actor, letters_page, reports_page)
    st = at(substate(EmailsState), "http://atlas.test/letters")
    run(EmailsState.load.fn(st))
    assert len(st.kinds) == len(KINDS) and st.kind == "booking_confirmation"
    assert any(f["field"] == "{{ booking.reference }}" for f in st.fields)
    run(EmailsState.choose.fn(st, "refund"))
    assert st.subject == KINDS["refund"].subject
    assert any(f["field"] == "{{ refund.reason }}" for f in st.fields)
    run(EmailsState.set_body.fn(st, "Refunded {{ refund.amount }} {{ payment.amount }}"))
    run(EmailsState.save.fn(st))
    assert "payment.amount" in st.error
    assert all_rows(EmailTemplate, EmailTemplate.kind == "refund")[0].body == KINDS["refund"].body
    run(EmailsState.set_body.fn(st, "Refunded {{ refund.amount }} for {{ client.name }}"))
    run(EmailsState.set_preview_reference.fn(st, booking.reference))
    run(EmailsState.preview.fn(st))
    assert st.error == "" and st.preview_body == f"Refunded £95.00 for {booking.client_name}"
    run(EmailsState.save.fn(st))
    assert "saved" in st.notice and "(changed)" in next(k["label"] for k in st.kinds if k["value"] == "refund")
    assert all_rows(EmailTemplate, EmailTemplate.kind == "refund")[0].body.startswith("Refunded")
    contact = actor_for(create_user(org, "hbc.contact2", roles=("Contact centre",)))
    signed_in(monkeypatch, contact, letters_page, reports_page)
    with pytest.raises(PermissionDenied):
        run(EmailsState.save.fn(st))


def test_paying_and_cancelling_send_the_shipped_wording(smtp, world, actor):
    """A booking paid in two parts, then cancelled: each email arrives with its shipped subject and wording."""
    booking = awaiting_booking(world)
    payments.record_payment(actor, booking.reference, "40", "cash")
    payments.record_payment(actor, booking.reference, "55", "cash")
    payments.cancel_booking(world.org_id, booking.reference, actor=actor)
    got = delivered(smtp)
    assert f"Your course booking {booking.reference}" in got
    assert "Still to pay: £55.00, by " in got[f"Payment received for booking {booking.reference}"]
    assert "Your course fee is paid in full and your booking is confirmed." in \
        got[f"Payment received: booking {booking.reference} is confirmed"]
    cancelled = got[f"Your course booking {booking.reference} is cancelled"]
    assert cancelled.startswith(f"Dear {booking.client_name},\n\nYour booking {booking.reference} has been "
                                "cancelled.\n\nYou paid £95.00.")
