"""A client's language: asked when they find their offer, kept on the client, changed by staff (audited), and the
language of their emails: the Welsh confirmation arrives over SMTP in Welsh, with Welsh dates and money."""

from __future__ import annotations

import re

import pytest

from atlas_app.db import write_session
from atlas_app.models import AuditEntry, Client, Offer
from atlas_app.models.letters import EmailTemplate
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking import offers
from atlas_app.services.booking.email_defaults import KINDS, WELSH_WORDING
from atlas_app.services.platform import outbox
from atlas_app.services.platform.errors import PermissionDenied, ValidationFailed
from conftest import actor_for, all_rows, create_user, welsh_on
from payments_support import make_offer, world  # noqa: F401  (fixture)


def delivered(smtp) -> dict[str, str]:
    outbox.deliver_due()
    return {m["Subject"]: m.get_body(("plain",)).get_content().replace("\r\n", "\n") for m in smtp.messages}


def client_of(offer_id: int) -> Client:
    with write_session() as s:
        offer = s.get(Offer, offer_id)
        client = s.get(Client, offer.client_id)
        s.expunge(client)
        return client


def welsh_booking(world):
    welsh_on(world.org_id)
    offer_id = make_offer(world)
    proof = booking_service.ClientProof(world.org_id, offer_id)
    assert offers.set_client_language("cy", proof=proof) == "cy"
    held = booking_service.hold_seat(world.org_id, offer_id, world.session_id)
    return offer_id, booking_service.confirm_hold(world.org_id, offer_id, held.reference)


def test_the_welsh_confirmation_arrives_in_welsh_with_welsh_dates_and_money(smtp, world):
    offer_id, booking = welsh_booking(world)
    got = delivered(smtp)
    body = got[f"Archeb eich cwrs {booking.reference}"]
    assert body.startswith(f"Annwyl {booking.client_name},\n\nDiolch am archebu eich cwrs. Eich cyfeirnod archebu "
                           f"yw {booking.reference}.\n\nCwrs: National Speed Awareness Course (NSAC)\n")
    # "dydd Mawrth 1 Rhagfyr 2026 am 09:30": a Welsh day and month name, and Babel's cy money.
    when = re.search(r"^Pryd: (.+) tan (\d\d:\d\d)$", body, re.M).group(1)
    assert re.fullmatch(r"dydd (Llun|Mawrth|Mercher|Iau|Gwener|Sadwrn|Sul) \d{1,2} \w+ \d{4} am \d\d:\d\d", when)
    assert re.search(r"^Dyddiad terfyn: dydd \w+ \d{1,2} \w+ \d{4}$", body, re.M)
    assert "\n\nFfi: £95.00, i’w thalu erbyn dydd " in body
    assert "Dear" not in body and "Thank you" not in body


def test_a_client_cannot_choose_welsh_where_the_organisation_offers_none(world):
    offer_id = make_offer(world)
    proof = booking_service.ClientProof(world.org_id, offer_id)
    assert offers.set_client_language("cy", proof=proof) == "en"      # Welsh is off: kept in English
    assert client_of(offer_id).language == "en"
    welsh_on(world.org_id)
    assert offers.set_client_language("cy", proof=proof) == "cy"
    assert client_of(offer_id).language == "cy"


def test_an_english_client_still_gets_the_english_wording(smtp, world):
    offer_id = make_offer(world)
    held = booking_service.hold_seat(world.org_id, offer_id, world.session_id)
    booking = booking_service.confirm_hold(world.org_id, offer_id, held.reference)
    assert delivered(smtp)[f"Your course booking {booking.reference}"].startswith("Dear ")


def test_an_organisations_own_welsh_template_wins(smtp, world):
    with write_session() as s:
        s.add(EmailTemplate(organisation_id=world.org_id, kind="booking_confirmation", language="cy",
                            subject="Wedi archebu: {{ booking.reference }}",
                            body="Helo {{ client.first_name }}, {{ booking.fee }}."))
    _offer, booking = welsh_booking(world)
    assert delivered(smtp)[f"Wedi archebu: {booking.reference}"].startswith("Helo ")


def test_every_kind_has_shipped_welsh_wording_with_the_same_fields():
    assert set(WELSH_WORDING) == set(KINDS)
    fields = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
    for code, kind in KINDS.items():
        subject, body = WELSH_WORDING[code]
        assert set(fields.findall(subject + body)) == set(fields.findall(kind.subject + kind.body)), code


def test_staff_change_the_language_audited_and_the_client_proof_is_checked(org, world):
    offer_id = make_offer(world)
    client = client_of(offer_id)
    assert client.language == "en"
    manager = actor_for(create_user(org, "bookings", roles=("Booking staff",)))
    assert offers.set_client_language("cy", actor=manager, client_id=client.id) == "cy"
    assert offers.client_record(manager, client.id).language == "cy"
    entry = [e for e in all_rows(AuditEntry) if e.entity == "client" and e.action == "language changed"][-1]
    assert (entry.before, entry.after, entry.subject_kind) == ({"language": "en"}, {"language": "cy"}, "client")
    with pytest.raises(ValidationFailed):
        offers.set_client_language("fr", actor=manager, client_id=client.id)
    viewer = actor_for(create_user(org, "viewer", roles=("Read-only",)))
    with pytest.raises(PermissionDenied):
        offers.set_client_language("en", actor=viewer, client_id=client.id)
    # A proof for another offer cannot reach this client.
    other = make_offer(world)
    offers.set_client_language("en", proof=booking_service.ClientProof(world.org_id, other))
    assert client_of(offer_id).language == "cy"
