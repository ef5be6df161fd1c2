"""A purge leaves no trace of a person: after it, no text column of any table and no file under ATLAS_DATA_DIR
holds their name, email or postcode (PDFs searched by their text, as a reader would), while the dashboards' totals
are the same as before and the audit trail verifies. A photo shared by content address with a report that is kept
stays on disk; the purged report's own photo goes."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

import pytest
from conftest import actor_for, all_rows, run_cli, set_columns
from PIL import Image
from sqlalchemy import Boolean, Date, DateTime, Float, Integer, Numeric, Text, Time, cast, column, func, inspect, or_
from sqlalchemy import select, table

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import Client, EmailMessage, Offer
from atlas_app.models.casework import Case, Place
from atlas_app.models.environmental import ReportPhoto
from atlas_app.models.rent_arrears import RentLetter, RentTenancy, RentTenant
from atlas_app.models.utilities import ServicingLetter
from atlas_app.services.booking import offers as offers_service
from atlas_app.services.casework import cases, config, people
from atlas_app.services.insight import dashboards
from atlas_app.services.modules.environmental_ticketing import reports
from atlas_app.services.modules.utilities_servicing import letters as servicing_letters
from atlas_app.services.modules.utilities_servicing import storage as documents
from atlas_app.services.platform import audit, geo, retention, storage
from atlas_app.settings import get_settings
from atlas_app.timeutil import london_date
from booking_data import add_offers, make_catalogue

TODAY = london_date(utcnow())
NAME = ("Gwenllian", "Prydderch")
EMAIL = "gwen.prydderch@example.org"
CLIENT = ("Bethan", "Quarrington")
CLIENT_EMAIL = "bethan.quarrington@example.net"
CLIENT_POSTCODE = "TS25 9QX"
NEEDLES = ("Prydderch", EMAIL, "Quarrington", CLIENT_EMAIL, CLIENT_POSTCODE)
LONG_AGO = datetime.now(timezone.utc) - timedelta(days=365 * 7)


def _photo(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


_NOT_TEXT = (Integer, Float, Numeric, Boolean, DateTime, Date, Time)


def traces_in_tables(needles=NEEDLES) -> list[str]:
    """Every column that can hold text, of every table the database has (read from the database itself, so a
    table or column the models do not know is searched too)."""
    found = []
    with read_session() as s:
        inspector = inspect(s.connection())
        for name in inspector.get_table_names():
            if name == "alembic_version":
                continue
            for col in inspector.get_columns(name):
                if isinstance(col["type"], _NOT_TEXT):
                    continue
                value = func.lower(cast(column(col["name"]), Text))
                hits = s.execute(select(func.count()).select_from(table(name, column(col["name"]))).where(
                    or_(*[value.like(f"%{n.lower()}%") for n in needles]))).scalar_one()
                if hits:
                    found.append(f"{name}.{col['name']} ({hits})")
    return found


def _file_text(data: bytes) -> str:
    text = data.decode("latin-1")
    if data.startswith(b"%PDF"):
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError, PdfStreamError

        try:  # a made-up "PDF" another test stored is searched by its bytes alone
            text += "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)
        except (PdfReadError, PdfStreamError):
            pass
    return text.lower()


def traces_in_files(needles=NEEDLES) -> list[str]:
    """Every file under ATLAS_DATA_DIR except the SQLite database itself (searched through its columns above)."""
    found = []
    for path in get_settings().data_dir.rglob("*"):
        if not path.is_file() or path.name.startswith("unit.db") or path.name == "secret_key":
            continue
        text = _file_text(path.read_bytes())
        found += [f"{path} ({n})" for n in needles if n.lower() in text]
    return found


def _place(org_id: int, uprn: int, line1: str) -> int:
    e, n = 450500.0 + uprn % 100, 532500.0
    lat, lng = geo.to_wgs84(e, n)
    with write_session() as s:
        place = Place(organisation_id=org_id, uprn=uprn, address_line1=line1, town="Hartlepool", postcode="TS24 8AA",
                      postcode_key="TS248AA", search_text=f"{line1} hartlepool ts24 8aa".lower(), x_coordinate=e,
                      y_coordinate=n, latitude=lat, longitude=lng, status="approved")
        s.add(place)
        s.flush()
        return place.id


@pytest.fixture
def person_everywhere(org, admin, make_user):
    """One casework person and one booking client, each recorded through every path that keeps personal data:
    the person's case, contact, home, a servicing letter (a PDF) and a rent letter addressed to them, and a report
    they made with two photos (one also on a neighbour's report); the client's offer, call notes, an email and an
    audit entry. Their records' retention ran out years ago."""
    actor = actor_for(admin)
    with write_session() as s:
        config.seed_configuration(s, org.id)
    reports.forget_extents()
    reports.ensure_categories(actor)
    for c in reports.list_categories(actor):
        reports.save_category(actor, c.demand_type_id, is_public=True, public_description="Tell us.", promise_days=5)
    category = next(c for c in reports.list_categories(actor) if c.demand_type == "Fly-tipping report")
    home = _place(org.id, 100001, "1 Victoria Road")
    _place(org.id, 100002, "3 Victoria Road")

    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    module = next(m for m in config.list_modules(worker) if m.name == "Customer Interactions")
    demand_type = config.options(worker, "demand_type", module.id)[0].id
    email_type = next(o.id for o in config.options(worker, "contact_type") if o.name == "Email")
    pid = people.create_person(worker, {"given_name": NAME[0], "family_name": NAME[1], "date_of_birth": "1970-01-01",
                                        "notes": f"{NAME[0]} {NAME[1]} prefers email"}, allow_duplicate=True)
    people.add_contact(worker, pid, email_type, EMAIL)
    people.add_address(worker, pid, 100001, from_date="2015-01-01")
    case_id = cases.create_case(worker, module_id=module.id, title=f"{NAME[1]}: noisy neighbour", person_id=pid)
    cases.add_demand(worker, case_id, {"demand_type_id": demand_type,
                                       "description": f"{NAME[0]} {NAME[1]} ({EMAIL}) says next door is loud"})
    cases.set_case_status(worker, case_id, "closed")
    set_columns(Case, Case.id == case_id, closed_at=LONG_AGO)
    with write_session() as s:
        letter = servicing_letters.produce(s, "admin", org.id, s.get(Place, home), servicing_letters.APPOINTMENT)
        tenancy = RentTenancy(organisation_id=org.id, rent_account="RA-1", place_id=home, start_date=date(2015, 1, 1))
        s.add(tenancy)
        s.flush()
        s.add(RentTenant(organisation_id=org.id, tenancy_id=tenancy.id, person_id=pid))
        s.add(RentLetter(organisation_id=org.id, tenancy_id=tenancy.id, template_code="arrears_1",
                         subject=f"Your rent account, {NAME[1]}", body=f"Dear {NAME[0]} {NAME[1]},\n..."))
    letter_row = all_rows(ServicingLetter, ServicingLetter.id == letter.id)[0]
    assert letter_row.person_id == pid and NAME[1].lower() in _file_text(documents.get(letter_row.pdf_sha256))

    shared, own = _photo((200, 30, 30)), _photo((30, 30, 200))
    mine = reports.submit_report(org.id, {"category_id": category.id, "uprn": 100001, "name": " ".join(NAME),
                                          "email": EMAIL, "phone": "07700 900321", "consent": True,
                                          "description": f"Sofa dumped outside, call {NAME[1]} on 07700 900321"},
                                 [shared, own], check_limits=False)
    reports.add_information(mine.reference, mine.token, f"It is still there. {NAME[0]} {NAME[1]}")
    neighbour = reports.submit_report(org.id, {"category_id": category.id, "uprn": 100002,
                                               "description": "The same sofa"}, [shared], check_limits=False)
    set_columns(Case, Case.id == mine.case_id, status="closed", closed_at=LONG_AGO)

    cat = make_catalogue(org.id)
    offer_id = add_offers(cat, 1, prefix="TRC")[0]
    set_columns(Offer, Offer.id == offer_id, status="completed", offence_date=retention.add_months(TODAY, -60))
    client_id = all_rows(Offer, Offer.id == offer_id)[0].client_id
    set_columns(Client, Client.id == client_id, first_name=CLIENT[0], last_name=CLIENT[1], email=CLIENT_EMAIL,
                postcode=CLIENT_POSTCODE)
    offers_service.log_call(actor, client_id=client_id, offer_id=offer_id, call_type="enquiry", outcome="resolved",
                            notes=f"{CLIENT[1]} moved to {CLIENT_POSTCODE}")
    with write_session() as s:
        audit.record(s, actor, "client", client_id, "updated", before={"postcode": "TS24 7QS"},
                     after={"postcode": CLIENT_POSTCODE, "email": CLIENT_EMAIL}, subject=audit.about_client(client_id))
        s.add(EmailMessage(organisation_id=org.id, to_address=CLIENT_EMAIL, subject="Your course",
                           body_text=f"Dear {CLIENT[0]} {CLIENT[1]}"))
    photos = {p.sha256 for p in all_rows(ReportPhoto, ReportPhoto.report_id == mine.id)}
    kept_photo = all_rows(ReportPhoto, ReportPhoto.report_id == neighbour.id)[0].sha256
    return {"actor": actor, "person": pid, "report_case": mine.case_id, "client": client_id, "letter": letter_row, "photos": photos,
            "kept_photo": kept_photo, "neighbour": neighbour}


def _totals(actor):
    f = dashboards.Filters(start=TODAY - timedelta(days=1000), end=TODAY, grain="month")
    return dashboards.demand_measures(actor, f), dashboards.booking_measures(actor, f)


def test_a_purge_leaves_no_trace_in_any_table_or_file(org, person_everywhere):
    world = person_everywhere
    # The search finds them while they are there.
    found = {t.split(" ")[0] for t in traces_in_tables()}
    assert {"person.family_name", "person_contact.value", "case_file.title", "case_demand.description",
            "env_report.reporter_name", "env_report.reporter_email", "env_report_follower.email",
            "env_report_update.body", "rent_letter.body", "client.last_name", "client.postcode", "call_log.notes",
            "email_message.to_address", "audit_entry.after"} <= found, found
    assert traces_in_files()
    before = _totals(world["actor"])

    report = retention.purge(org.id)

    assert report.counts["case_closed"] == 2 and report.counts["client_completed"] == 1  # the person, the report
    assert traces_in_tables() == []
    assert traces_in_files() == []
    assert _totals(world["actor"]) == before
    # The neighbour's report keeps its photo (the same bytes as one of the purged report's); the other photo and
    # the letter's PDF are gone from disk; the letter's row stays, saying its file was deleted.
    assert storage.exists(world["kept_photo"])
    assert [k for k in world["photos"] - {world["kept_photo"]} if storage.exists(k)] == []
    assert report.files_deleted == 2
    assert not documents.path_of(world["letter"].pdf_sha256).exists()
    assert all_rows(ServicingLetter, ServicingLetter.id == world["letter"].id)[0].pdf_sha256 == ""
    assert reports.track(world["neighbour"].reference, world["neighbour"].token).reference \
        == world["neighbour"].reference
    with read_session() as s:
        assert audit.verify_trail(s).ok
    verify = run_cli("audit-verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert retention.purge(org.id).total == 0


def test_a_legal_hold_keeps_the_report_and_its_files(org, person_everywhere, actor):
    retention.set_legal_hold(actor, "case", person_everywhere["report_case"], True)
    report = retention.purge(org.id)
    assert report.held == 1
    assert all(storage.exists(k) for k in person_everywhere["photos"])
    found = traces_in_tables(("Prydderch",))
    assert any("env_report" in t for t in found), found

