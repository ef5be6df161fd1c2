"""An organisation's Welsh: its administrators turn it on or off (audited, nobody else may); its public pages offer
Welsh only while it is on; its own texts have Welsh wording that the Welsh pages, emails and letters use; and the
texts still without Welsh are listed and marked on the staff screens."""

from __future__ import annotations

import pytest

from atlas_app.db import write_session
from atlas_app.models import AuditEntry, Client, Offer
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.booking import catalogue, emails, offers
from atlas_app.services.insight import letters
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.platform import welsh
from atlas_app.services.platform.errors import PermissionDenied, ValidationFailed
from atlas_app.services.platform.i18n import using
from conftest import actor_for, all_rows, create_user, welsh_on
from payments_support import make_offer, world  # noqa: F401  (fixture)
from state_support import at, drain, redirect_path, substates
from test_citizen_reports import _submit, setup  # noqa: F401  (fixture)


def test_only_administrators_turn_welsh_on_and_it_is_audited(org, admin, other_org, make_user):
    actor = actor_for(admin)
    assert welsh.offers_welsh(org.id) is False
    assert welsh.set_welsh(actor, True) is True
    assert welsh.set_welsh(actor, True) is False               # nothing changed: no second entry
    assert welsh.offers_welsh(org.id) is True and welsh.offers_welsh(other_org.id) is False   # its own only
    entries = [e for e in all_rows(AuditEntry) if e.entity == "organisation" and e.action == "updated"]
    assert [(e.before, e.after) for e in entries] == [({"welsh_enabled": False}, {"welsh_enabled": True})]
    clerk = make_user("hbc.clerk", roles=("Booking staff",))
    with pytest.raises(PermissionDenied):
        welsh.set_welsh(actor_for(clerk), False)
    assert welsh.offers_welsh(org.id) is True
    assert welsh.status(actor_for(clerk)).enabled is True       # every member of staff may see the list


def test_the_organisations_text_is_welsh_only_where_welsh_is_asked_for_and_written():
    assert welsh.pick("Venue", "Lleoliad", "cy") == "Lleoliad"
    assert welsh.pick("Venue", "Lleoliad", "en") == "Venue"
    assert welsh.pick("Venue", "  ", "cy") == "Venue"           # not written yet: the English
    with using("cy"):
        assert welsh.pick("Venue", "Lleoliad") == "Lleoliad"
    assert welsh.is_missing("Venue", "") and not welsh.is_missing("", "") and not welsh.is_missing("A", "B")


def test_missing_welsh_is_listed_until_it_is_written(world, org, admin):  # noqa: F811
    actor = actor_for(admin)
    welsh_on(org.id)
    missing = welsh.status(actor).missing
    names = {(m.area, m.field) for m in missing}
    assert ("Course types", "name") in names and ("Venues", "name") in names
    assert all(m.href.startswith("/") for m in missing)
    ct = next(t for t in catalogue.list_course_types(actor) if t.id == world.course_type_id)
    catalogue.save_course_type(actor, ct.id, {
        "code": ct.code, "name": ct.name, "description": ct.description, "fee_pence": ct.fee_pence,
        "delivery_modes": ct.delivery_modes, "default_capacity": ct.default_capacity,
        "duration_minutes": ct.duration_minutes, "instructor_roles": ct.instructor_roles,
        "name_cy": "Cwrs Ymwybyddiaeth Cyflymder Cenedlaethol", "description_cy": "Cwrs am gyflymder.",
        "what_to_bring": ct.what_to_bring, "what_to_bring_cy": "Dewch â’ch trwydded yrru." if ct.what_to_bring else ""})
    left = {(m.area, m.item, m.field) for m in welsh.status(actor).missing}
    assert not any(area == "Course types" and item.startswith(ct.code + " ") for area, item, _f in left)
    # Saving the form without the Welsh fields keeps the Welsh.
    catalogue.save_course_type(actor, ct.id, {
        "code": ct.code, "name": ct.name, "fee_pence": ct.fee_pence, "delivery_modes": ct.delivery_modes,
        "default_capacity": ct.default_capacity, "duration_minutes": ct.duration_minutes,
        "instructor_roles": ct.instructor_roles})
    kept = next(t for t in catalogue.list_course_types(actor) if t.id == ct.id)
    assert kept.name_cy == "Cwrs Ymwybyddiaeth Cyflymder Cenedlaethol"
    # The organisation's own English email wording needs its own Welsh; the shipped wording has shipped Welsh.
    assert not any(m.area == "Email templates" for m in welsh.status(actor).missing)
    emails.save_template(actor, "booking_confirmation", "Your booking {{ booking.reference }}",
                         "Hello {{ client.first_name }}, see you there.")
    assert [m.field for m in welsh.status(actor).missing if m.area == "Email templates"] == ["subject and body"]
    emails.save_template(actor, "booking_confirmation", "Eich archeb {{ booking.reference }}",
                         "Helo {{ client.first_name }}, welwn ni chi yno.", "cy")
    assert not any(m.area == "Email templates" for m in welsh.status(actor).missing)
    welsh_views = {v.kind: v for v in emails.list_templates(actor, "cy")}
    assert welsh_views["booking_confirmation"].subject == "Eich archeb {{ booking.reference }}"
    assert welsh_views["payment_receipt"].is_default                       # the shipped Welsh, not stored
    with pytest.raises(ValidationFailed):
        emails.save_template(actor, "booking_confirmation", "Eich archeb", "{{ client.password }}", "cy")


def test_welsh_pages_show_the_welsh_course_and_venue_names(world, org, admin):  # noqa: F811
    actor = actor_for(admin)
    welsh_on(org.id)
    venue = next(v for v in catalogue.list_venues(actor) if v.id == world.venue_id)
    catalogue.save_venue(actor, venue.id, {
        "name": venue.name, "address_line1": venue.address_line1 or "1 Victoria Road",
        "town": venue.town or "Hartlepool",
        "postcode": venue.postcode or "TS24 8AY", "region_id": venue.region_id,
        "accessibility_notes": "Step-free access.", "name_cy": "Canolfan Ddinesig",
        "accessibility_notes_cy": "Mynediad heb risiau."})
    offer_id = make_offer(world)
    with using("cy"):
        choices = offers.venue_choices(org.id, offer_id, "classroom")
        rows = offers.session_choices(org.id, offer_id, "classroom", venue.id)
    assert [(c.name, c.accessibility_notes) for c in choices] == [("Canolfan Ddinesig", "Mynediad heb risiau.")]
    assert {r.venue_name for r in rows} == {"Canolfan Ddinesig"}
    english = offers.venue_choices(org.id, offer_id, "classroom")
    assert [(c.name, c.accessibility_notes) for c in english] == [(venue.name, "Step-free access.")]


def test_a_welsh_client_gets_the_welsh_letter_where_it_is_written(world, org, admin):  # noqa: F811
    actor = actor_for(admin)
    welsh_on(org.id)
    offer_id = make_offer(world)
    offers.set_client_language("cy", proof=booking_service.ClientProof(org.id, offer_id))
    held = booking_service.hold_seat(org.id, offer_id, world.session_id)
    booking = booking_service.confirm_hold(org.id, offer_id, held.reference)
    template = next(t for t in letters.list_templates(actor) if t.code == "booking_confirmation")
    english = letters.produce_one(actor, "booking_confirmation", booking.reference)
    assert english.count == 1                          # no Welsh written yet: the English letter
    letters.save_template(actor, template.code, template.name, template.subject, template.body,
                          subject_cy="Eich archeb {{ booking.reference }}",
                          body_cy="Annwyl {{ client.name }},\n\nDyma eich archeb ar gyfer {{ booking.date }}.")
    welsh_run = letters.produce_one(actor, "booking_confirmation", booking.reference, email=True)
    from atlas_app.models import EmailMessage

    sent = [m for m in all_rows(EmailMessage) if m.subject == f"Eich archeb {booking.reference}"]
    assert welsh_run.emailed == 1 and len(sent) == 1
    assert sent[0].body_text.startswith("Annwyl ") and "dydd " in sent[0].body_text
    with pytest.raises(ValidationFailed):
        letters.save_template(actor, template.code, template.name, template.subject, template.body,
                              body_cy="{{ client.secret }}")
    # Welsh turned off: the same client is written to in English again.
    welsh_on(org.id, False)
    letters.produce_one(actor, "booking_confirmation", booking.reference, email=True)
    assert len([m for m in all_rows(EmailMessage) if m.subject == f"Eich archeb {booking.reference}"]) == 1


def test_report_categories_in_welsh_and_the_welsh_promise(setup):  # noqa: F811
    actor, org = setup["actor"], setup["org"]
    welsh_on(org.id)
    fly = setup["cats"]["Fly-tipping report"]
    assert any(m.area == "Report-a-problem categories" for m in welsh.status(actor).missing)
    reports.save_category(actor, fly.demand_type_id, is_public=True, public_name="Fly-tipping",
                          public_description="Rubbish dumped in a public place.", promise_days=5,
                          public_name_cy="Tipio anghyfreithlon",
                          public_description_cy="Sbwriel wedi’i adael mewn man cyhoeddus.")
    with using("cy"):
        row = next(c for c in reports.public_categories(org.id) if c.id == fly.id)
    assert (row.name, row.public_description) == ("Tipio anghyfreithlon", "Sbwriel wedi’i adael mewn man cyhoeddus.")
    assert row.promise == "Tipio anghyfreithlon: ein nod yw ymdrin ag adroddiadau o fewn 5 diwrnod gwaith."
    english = next(c for c in reports.public_categories(org.id) if c.id == fly.id)
    assert english.name == "Fly-tipping" and english.promise.startswith("We aim to deal with fly-tipping reports")
    # Saving without the Welsh keeps it (the Open311 and older forms send none).
    reports.save_category(actor, fly.demand_type_id, is_public=True, public_name="Fly-tipping", promise_days=3)
    with using("cy"):
        assert next(c for c in reports.public_categories(org.id) if c.id == fly.id).name == "Tipio anghyfreithlon"


def test_a_report_made_in_welsh_is_confirmed_and_tracked_in_welsh(setup):  # noqa: F811
    from atlas_app.models import EmailMessage

    welsh_on(setup["org"].id)
    with using("cy"):
        done = _submit(setup, email="ann@example.org", consent=True)
    assert done.tracking_path.startswith("/cy/track/")
    mail = next(m for m in all_rows(EmailMessage) if m.to_address == "ann@example.org")
    assert mail.subject == f"Eich adroddiad {done.reference}"
    assert mail.body_text.startswith(f"Diolch am roi gwybod i {setup['org'].name}.")
    assert "/cy/track/" in mail.body_text
    with using("cy"), pytest.raises(ValidationFailed) as refused:
        _submit(setup, email="not an email", consent=True)
    assert str(refused.value).startswith("Rhowch gyfeiriad e-bost")


def _report_states():
    from atlas_app.ui.i18n import PublicLanguageState
    from atlas_app.ui.public.report import ReportState

    return substates(ReportState, PublicLanguageState)


def test_the_report_pages_offer_welsh_only_for_a_council_that_offers_it(setup):  # noqa: F811
    org = setup["org"]
    state, language = _report_states()
    # Welsh off: a Welsh visitor carries on in English, and the link to Welsh goes.
    at(state, f"/cy/report?org={org.slug}")
    from atlas_app.services.platform import i18n

    i18n.set_current("cy")
    assert redirect_path(drain(state.start())) == "/report/what"
    assert language.welsh_offered is False
    welsh_on(org.id)
    state, language = _report_states()
    at(state, f"/cy/report?org={org.slug}")
    i18n.set_current("cy")
    assert redirect_path(drain(state.start())) == "/cy/report/what"
    assert language.welsh_offered is True
    i18n.set_current("en")


def test_the_link_to_welsh_follows_the_organisations_switch_and_the_way_back_stays():
    from atlas_app.ui.i18n import PublicLanguageState, language_switch, using as ui_using

    with ui_using("en"):
        english = str(language_switch("/report").render())
    with ui_using("cy"):
        welsh_page = str(language_switch("/report").render())
    # English page: the link to Welsh is shown only while the state says the organisation offers Welsh.
    assert "public_language_state.welsh_offered" in english and '"/cy/report"' in english
    assert PublicLanguageState.__fields__["welsh_offered"].default is True     # before any organisation is known
    assert "welsh_offered" not in welsh_page and '"/report"' in welsh_page


def test_the_tracking_page_of_a_council_without_welsh_goes_back_to_english(setup):  # noqa: F811
    from atlas_app.services.platform import i18n
    from atlas_app.ui.i18n import PublicLanguageState
    from atlas_app.ui.public.track import TrackState

    done = _submit(setup, description="Sofa")
    state, language = substates(TrackState, PublicLanguageState)
    at(state, f"/cy/track/{done.reference}?token={done.token}")
    i18n.set_current("cy")
    assert redirect_path(drain(state.load())) == f"/track/{done.reference}?token={done.token}"
    assert language.welsh_offered is False
    welsh_on(setup["org"].id)
    state, language = substates(TrackState, PublicLanguageState)
    at(state, f"/cy/track/{done.reference}?token={done.token}")
    i18n.set_current("cy")
    assert redirect_path(drain(state.load())) is None
    assert state.found and state.status_label == "Wedi dod i law" and state.steps[0]["label"] == "Wedi dod i law"
    assert state.reported.split()[0] in {"Llun", "Maw", "Mer", "Iau", "Gwen", "Sad", "Sul"}
    i18n.set_current("en")


def test_a_client_record_language_is_not_set_to_welsh_behind_the_organisations_back(world):  # noqa: F811
    offer_id = make_offer(world)
    assert offers.set_client_language("cy", proof=booking_service.ClientProof(world.org_id, offer_id)) == "en"
    with write_session() as s:
        client = s.get(Client, s.get(Offer, offer_id).client_id)
        assert client.language == "en"


def test_a_clerk_cannot_switch_welsh_for_another_organisation(org, other_org):
    clerk = create_user(other_org, "ecc.admin", roles=("Administrator",))
    welsh.set_welsh(actor_for(clerk), True)                  # their own organisation only
    assert welsh.offers_welsh(other_org.id) is True and welsh.offers_welsh(org.id) is False
