"""Letters: the sandboxed template language and its merge fields, previews with a real client's data, PDFs whose
text holds the merged values, bulk runs for a filter, emailing through the outbox, the client timeline and the
audit trail, and the letters route from an attacker's side."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlmodel import select
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import AuditEntry, ClientEvent, EmailAttachment, EmailMessage
from atlas_app.models.letters import LetterTemplate
from atlas_app.models.payments import Payment
from atlas_app.services.platform import auth
from atlas_app.services.insight import letters
from atlas_app.services.platform.errors import NotFound, PermissionDenied, ValidationFailed
from atlas_app.timeutil import london_date
from conftest import actor_for, all_rows, create_user
from payments_support import FEE, awaiting_booking, make_world


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_pages(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def world(org, actor):
    letters.list_templates(actor)  # the shipped templates
    return make_world(org.id)


def pay(reference: str, pence: int) -> None:
    from atlas_app.models import Booking

    with write_session() as s:
        b = s.exec(select(Booking).where(Booking.reference == reference)).one()
        s.add(Payment(organisation_id=b.organisation_id, booking_id=b.id, amount_pence=pence, method="cash",
                      provider="offline", status="succeeded"))


# --- the template language -------------------------------------------------------------------------------------


def test_every_shipped_template_is_valid_and_each_organisation_gets_them(actor, org):
    views = letters.list_templates(actor)
    families = [t for _fields, shipped in letters._families().values() for t in shipped]
    assert {v.code for v in views} == {code for code, *_ in [*letters.SHIPPED_TEMPLATES, *families]}
    assert len(views) == 7 + len(families) and families
    for v in views:
        fields = letters.fields_for(v.code)
        letters.check_template(v.subject, "subject", fields=fields)
        letters.check_template(v.body, "body", fields=fields)


@pytest.mark.parametrize("source, named", [
    ("Dear {{ client.nickname }}", "client.nickname"),
    ("Dear {{ customer.name }}", "customer"),
    ("{{ booking.reference.upper() }}", "booking.reference.upper"),
    ("{{ client.__class__ }}", "client.__class__"),
    ("{{ client['password'] }}", "client.password"),
    ("{{ ''.__class__.__mro__ }}", "(expression)"),
    ("{{ lipsum.__globals__ }}", "lipsum"),
    ("{{ cycler.__init__.__globals__.os }}", "cycler"),
])
def test_a_template_with_an_unknown_field_is_refused_with_the_field_named(source, named):
    with pytest.raises(ValidationFailed) as err:
        letters.check_template(source)
    assert named in str(err.value)


def test_no_code_runs_from_a_template():
    for source in ["{{ client.name.__class__.__base__.__subclasses__() }}", "{% for x in range(10**9) %}{% endfor %}",
                   "{{ client }}", "{{ self }}", "{% import 'os' as os %}"]:
        with pytest.raises(ValidationFailed):
            letters.check_template(source)


def test_a_template_that_does_not_parse_is_refused_with_the_line():
    with pytest.raises(ValidationFailed, match="line 2"):
        letters.check_template("Dear {{ client.name }}\n{% if %}")


def test_loops_filters_and_conditions_over_fields_are_allowed():
    out = letters.render("{% if payment.balance != '£0.00' %}Owe {{ payment.balance }}{% endif %} "
                         "{{ client.name | upper }}",
                         {"payment": {"balance": "£5.00"}, "client": {"name": "Sam"}})
    assert out == "Owe £5.00 SAM"


# --- preview and saving ----------------------------------------------------------------------------------------


def test_preview_merges_a_real_clients_data(world, actor):
    b = awaiting_booking(world)
    p = letters.preview(actor, "Booking {{ booking.reference }}",
                        "Dear {{ client.name }}, {{ booking.course_type }} at {{ booking.venue }}: "
                        "fee {{ payment.fee }}, balance {{ payment.balance }}, offer {{ client.offer_reference }}",
                        b.reference)
    assert p.subject == f"Booking {b.reference}"
    assert b.client_name in p.body
    assert "National Speed Awareness Course at Civic Centre" in p.body
    assert f"fee £{FEE / 100:.2f}, balance £{FEE / 100:.2f}" in p.body
    assert b.offer_reference in p.body


def test_saving_checks_the_template_and_is_audited(world, actor):
    with pytest.raises(ValidationFailed, match="client.shoe_size"):
        letters.save_template(actor, "unpaid_reminder", "Unpaid", "Pay", "Hello {{ client.shoe_size }}")
    saved = letters.save_template(actor, "unpaid_reminder", "Unpaid reminder", "Please pay {{ booking.reference }}",
                                  "Dear {{ client.first_name }}, please pay {{ payment.balance }}.")
    assert saved.updated_by == actor.username
    row = all_rows(LetterTemplate, LetterTemplate.code == "unpaid_reminder")[0]
    assert row.body.startswith("Dear {{ client.first_name }}")
    entry = all_rows(AuditEntry, AuditEntry.entity == "letter_template")[-1]
    assert entry.action == "updated" and "shoe_size" not in str(entry.after)


def test_templates_belong_to_their_organisation(world, actor, other_actor):
    letters.list_templates(other_actor)
    letters.save_template(other_actor, "unpaid_reminder", "Essex unpaid", "S", "Essex {{ client.name }}")
    mine = {v.code: v for v in letters.list_templates(actor)}
    assert mine["unpaid_reminder"].name == "Unpaid reminder"
    b = awaiting_booking(world)
    with pytest.raises(NotFound):  # Essex cannot print Hartlepool's client
        letters.produce_one(other_actor, "unpaid_reminder", b.reference)
    with pytest.raises(NotFound):
        letters.preview(other_actor, "S", "{{ client.name }}", b.reference)


def test_staff_without_the_letters_permission_are_refused(world, org):
    contact = actor_for(create_user(org, "hbc.contact", roles=("Contact centre",)))
    for call in (lambda: letters.list_templates(contact),
                 lambda: letters.save_template(contact, "unpaid_reminder", "x", "y", "z"),
                 lambda: letters.produce_bulk(contact, "unpaid_reminder", {})):
        with pytest.raises(PermissionDenied):
            call()


# --- producing letters -----------------------------------------------------------------------------------------


def test_one_letter_as_a_pdf_with_the_merged_values(world, actor):
    b = awaiting_booking(world)
    pay(b.reference, 2500)
    run = letters.produce_one(actor, "payment_receipt", b.reference)
    assert run.count == 1 and pdf_pages(run.pdf) == 1
    text = pdf_text(run.pdf)
    assert b.reference in text
    assert b.client_name in text
    assert "£25.00" in text  # paid
    assert f"£{(FEE - 2500) / 100:.2f}" in text  # balance
    assert f"{london_date(utcnow()):%B %Y}" in text  # payment date
    assert "Hartlepool Borough Council" in text


def test_names_in_welsh_polish_and_cyrillic_print_as_written_and_other_scripts_as_a_question_mark(world, actor):
    from atlas_app.models import Booking, Client, Offer

    b = awaiting_booking(world)
    with write_session() as s:
        offer = s.get(Offer, s.exec(select(Booking).where(Booking.reference == b.reference)).one().offer_id)
        client = s.get(Client, offer.client_id)
        client.first_name, client.last_name = "Siân Ŵyn", "Łukasz-Ştefan Олена 王"
        s.add(client)
    run = letters.produce_one(actor, "payment_receipt", b.reference)
    text = pdf_text(run.pdf)
    assert "Siân Ŵyn Łukasz-Ştefan Олена ?" in text
    assert "王" not in text
    assert "  " not in text  # left-aligned text: a copied or read-aloud letter has single spaces between words


def test_a_letter_for_an_offer_with_no_booking(world, actor):
    from payments_support import make_offer
    from atlas_app.models import Offer

    offer_id = make_offer(world)
    with read_session() as s:
        offer = s.get(Offer, offer_id)
    run = letters.produce_one(actor, "offer_returned", offer.offer_reference.lower())
    text = pdf_text(run.pdf)
    assert offer.offer_reference in text and "Cleveland Police" in text


def test_bulk_letters_for_unpaid_bookings_next_week_as_one_pdf(world, actor, org):
    unpaid = [awaiting_booking(world) for _ in range(3)]
    paid = awaiting_booking(world)
    pay(paid.reference, FEE)
    start = london_date(utcnow())
    run = letters.produce_bulk(actor, "unpaid_reminder", {"payment": "unpaid", "session_from": start.isoformat(),
                                                          "session_to": (start + timedelta(days=14)).isoformat()})
    assert run.count == 3 and pdf_pages(run.pdf) == 3
    text = pdf_text(run.pdf)
    for b in unpaid:
        assert b.reference in text and b.client_name in text
    assert paid.reference not in text
    # Nothing for a week with no sessions.
    with pytest.raises(ValidationFailed, match="No bookings match"):
        letters.produce_bulk(actor, "unpaid_reminder", {"payment": "unpaid",
                                                        "session_from": (start + timedelta(days=30)).isoformat()})


def test_each_letter_is_on_the_timeline_and_in_the_audit_trail(world, actor):
    bookings = [awaiting_booking(world) for _ in range(2)]
    letters.produce_bulk(actor, "course_reminder", {})
    events = all_rows(ClientEvent, ClientEvent.kind == "letter")
    assert len(events) == 2
    assert all("Course reminder letter produced" in e.detail and e.username == actor.username for e in events)
    audited = all_rows(AuditEntry, AuditEntry.entity == "letter")
    assert sorted(a.entity_id for a in audited) == sorted(b.reference for b in bookings)
    assert all(a.action == "produced" and a.after["template"] == "course_reminder" for a in audited)


def test_letters_can_be_emailed_through_the_outbox_with_the_pdf(world, actor):
    with_email = awaiting_booking(world, email="sam.letters@example.com")
    awaiting_booking(world, email="")
    run = letters.produce_bulk(actor, "booking_confirmation", {}, email=True)
    assert (run.count, run.emailed, run.no_email) == (2, 1, 1)
    mail = all_rows(EmailMessage, EmailMessage.related_entity == "letter")
    assert len(mail) == 1 and mail[0].to_address == "sam.letters@example.com"
    assert with_email.reference in mail[0].subject
    attachment = all_rows(EmailAttachment, EmailAttachment.email_id == mail[0].id)[0]
    assert attachment.content_type == "application/pdf"
    assert with_email.reference in pdf_text(attachment.content)
    assert "emailed" in all_rows(ClientEvent, ClientEvent.booking_id == with_email.id,
                                 ClientEvent.kind == "letter")[0].detail


def test_bad_filters_are_refused_clearly(world, actor):
    with pytest.raises(ValidationFailed, match="date"):
        letters.produce_bulk(actor, "unpaid_reminder", {"session_from": "next tuesday"})
    with pytest.raises(ValidationFailed):
        letters.produce_bulk(actor, "unpaid_reminder", {"payment": "1; DROP TABLE booking"})
    with pytest.raises(NotFound):
        letters.produce_bulk(actor, "no_such_template", {})


# --- the route, from the attacker's side ----------------------------------------------------------------------


@pytest.fixture
def api():
    return TestClient(build_api(), base_url="http://atlas.test")


def cookie_for(username: str, password: str) -> dict[str, str]:
    outcome = auth.login(username, password)
    assert outcome.ok
    return {"cookie": f"atlas_session={outcome.token}"}


def test_letters_route_needs_a_session_the_permission_and_the_same_origin(world, api, admin, org, other_admin):
    b = awaiting_booking(world)
    form = {"template": "course_reminder", "mode": "single", "reference": b.reference}
    assert api.post("/api/letters/pdf", data=form).status_code == 401
    assert api.post("/api/letters/pdf", data=form, headers={"cookie": "atlas_session=forged"}).status_code == 401
    contact = create_user(org, "hbc.contact", roles=("Contact centre",))
    assert api.post("/api/letters/pdf", data=form,
                    headers=cookie_for(contact.username, contact.password)).status_code == 403
    essex = cookie_for(other_admin.username, other_admin.password)
    letters.list_templates(actor_for(other_admin))
    assert api.post("/api/letters/pdf", data=form, headers=essex).status_code == 404
    mine = cookie_for(admin.username, admin.password)
    cross_site = api.post("/api/letters/pdf", data=form, headers={**mine, "origin": "https://evil.example"})
    assert cross_site.status_code == 403
    ok = api.post("/api/letters/pdf", data=form, headers={**mine, "origin": "http://atlas.test"})
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/pdf"
    assert "attachment" in ok.headers["content-disposition"]
    assert b.reference in pdf_text(ok.content)
    assert not all_rows(AuditEntry, AuditEntry.entity == "letter", AuditEntry.organisation_id != org.id)
