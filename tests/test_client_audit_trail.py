"""One client's (or casework person's) audit trail from referral: every entry about them, oldest first, the import
that created them included; never another organisation's; searchable by offer reference; exported as CSV with
formulas neutralised; and the chain still verifies."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import AuditEntry, Client, Offer
from atlas_app.services import payments
from atlas_app.services.booking import bookings as booking_service, referrals
from atlas_app.services.casework import cases, config, people
from atlas_app.services.platform import audit
from atlas_app.services.platform.errors import NotFound, PermissionDenied
from atlas_app.timeutil import london_date
from conftest import actor_for, all_rows
from payments_support import *  # noqa: F403
from test_reports import cookie_for

HEADER = ("Offer reference,Course type,First name,Last name,Date of birth,Driving licence number,Address line 1,"
          "Address line 2,Town,Postcode,Email,Phone,Offence date,Critical date,Police force")


def referral_csv(*rows: tuple[str, str, str]) -> bytes:
    today = london_date(utcnow())
    lines = [HEADER] + [
        f"{ref},NSAC,{first},{last},1985-03-14,,1 High Street,,Hartlepool,TS24 7QS,{first.lower()}@example.com,,"
        f"{today - timedelta(days=20)},{today + timedelta(days=90)},Cleveland Police" for ref, first, last in rows]
    return ("\n".join(lines) + "\n").encode()


def offer_of_ref(org_id: int, ref: str) -> Offer:
    with read_session() as s:
        return s.exec(select(Offer).where(Offer.organisation_id == org_id, Offer.offer_reference == ref)).one()


def trail(actor, kind: str, subject_id: int) -> list[tuple[str, str, str]]:
    return [(r.entity, r.entity_id, r.action) for r in audit.subject_trail(actor, kind, subject_id)]


@pytest.fixture
def journey(world, actor, org):
    """Two clients imported from one file; the first books online, pays, is refunded and cancels."""
    data = referral_csv(("CLE-AUD-1", "Ada", "Lovelace"), ("CLE-AUD-2", "Alan", "Turing"))
    result = referrals.import_csv(actor, data, "police.csv")
    assert result.ok and result.created == 2 and result.clients_created == 2
    offer = offer_of_ref(org.id, "CLE-AUD-1")
    held = booking_service.hold_seat(org.id, offer.id, world.session_id)
    booked = booking_service.confirm_hold(org.id, offer.id, held.reference)
    paid = payments.record_payment(actor, booked.reference, "95", "cash")
    refund = payments.refund_payment(actor, paid.id, "95", "Course cancelled by the council")
    booking_service.cancel(org.id, booked.reference, actor=actor, reason="Client cannot attend")
    return {"offer": offer, "booking": booked.reference, "payment": paid.id, "refund": refund.id,
            "job": result.job_id, "other": offer_of_ref(org.id, "CLE-AUD-2")}


def test_a_clients_trail_runs_from_the_import_through_booking_payment_refund_and_cancellation(journey, actor):
    offer, ref = journey["offer"], journey["booking"]
    got = trail(actor, "client", offer.client_id)
    assert [(e, a) for e, _, a in got[:2]] == [("client", "created"), ("offer", "referred")]
    assert got[1][1] == "CLE-AUD-1"
    actions = [a for _, _, a in got]
    for before, after in [("referred", "held"), ("held", "booked"), ("booked", "recorded"), ("recorded", "refunded"),
                          ("refunded", "cancelled")]:
        assert actions.index(before) < actions.index(after), actions
    # Every entry in the organisation naming this client's offer, booking, payment or refund is on the trail, and
    # nothing else is: not the other imported client's, not the import's own summary entry.
    names = {("offer", "CLE-AUD-1"), ("booking", ref), ("payment", str(journey["payment"])),
             ("refund", str(journey["refund"])), ("client", str(offer.client_id))}
    about = [(e.entity, e.entity_id, e.action) for e in all_rows(AuditEntry, order_by=AuditEntry.id)
             if (e.entity, e.entity_id) in names]
    assert got == about and len(got) >= 7
    assert ("import_job", str(journey["job"]), "referrals_imported") not in got
    assert ("offer", "CLE-AUD-2", "referred") in trail(actor, "client", journey["other"].client_id)
    # The import's entries carry the job that wrote them, and the entries are a page of the audit viewer too.
    created = next(r for r in audit.subject_trail(actor, "client", offer.client_id))
    assert created.after["import_job"] == journey["job"] and created.after["source"] == "import"
    with read_session() as s:
        rows, total = audit.search(s, actor, client_id=offer.client_id, oldest_first=True)
        assert total == len(got) and [(r.entity, r.entity_id, r.action) for r in rows] == got
        assert audit.verify_trail(s).ok


def test_an_import_writes_one_entry_per_client_and_offer_it_creates_or_changes(world, actor, org):
    referrals.import_csv(actor, referral_csv(*[(f"CLE-B-{i}", f"P{i}", "Jones") for i in range(30)]), "a.csv")
    entries = all_rows(AuditEntry, AuditEntry.organisation_id == org.id, order_by=AuditEntry.id)
    assert sum(e.entity == "client" and e.action == "created" for e in entries) == 30
    assert sum(e.entity == "offer" and e.action == "referred" for e in entries) == 30
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    # Unchanged rows write nothing; a changed row one "updated" entry about its client.
    data = referral_csv(*[(f"CLE-B-{i}", f"P{i}", "Jones") for i in range(30)]).replace(b"p0@example.com",
                                                                                       b"new@example.com")
    referrals.import_csv(actor, data, "b.csv")
    updated = all_rows(AuditEntry, AuditEntry.action == "updated", AuditEntry.entity == "offer")
    client = all_rows(Client, Client.first_name == "P0")[0]
    assert [(u.entity_id, u.subject_kind, u.subject_id) for u in updated] == [("CLE-B-0", "client", client.id)]
    with read_session() as s:
        assert audit.verify_trail(s).ok


def test_tampering_with_an_entrys_subject_breaks_the_chain(journey, actor, org):
    target = all_rows(AuditEntry, AuditEntry.entity == "booking", AuditEntry.action == "booked")[0]
    with write_session() as s:
        row = s.get(AuditEntry, target.id)
        row.subject_id = journey["other"].client_id  # move the booking onto another client's trail
        s.add(row)
    with read_session() as s:
        report = audit.verify_trail(s)
    assert not report.ok and report.first_broken_seq == target.seq


def test_another_organisations_client_shows_nothing(journey, actor, other_actor, other_org, org):
    client_id = journey["offer"].client_id
    assert trail(other_actor, "client", client_id) == []
    with read_session() as s:
        assert audit.search(s, other_actor, client_id=client_id)[1] == 0
        assert audit.search(s, other_actor, offer_reference="CLE-AUD-1")[1] == 0
    # The other organisation's own client with the same offer reference never joins this trail.
    other_world = make_world(other_org.id)  # noqa: F405
    referrals.import_csv(other_actor, referral_csv(("CLE-AUD-1", "Ada", "Lovelace")), "theirs.csv")
    theirs = offer_of_ref(other_org.id, "CLE-AUD-1")
    assert other_world and theirs.client_id != client_id
    assert all(e.organisation_id == org.id for e in audit.subject_trail(actor, "client", client_id))
    assert trail(actor, "client", theirs.client_id) == []
    with read_session() as s:
        rows, _ = audit.search(s, actor, offer_reference="cle-aud-1")
        assert rows and all(r.organisation_id == org.id for r in rows)


def test_searching_by_offer_reference_finds_the_offer_its_booking_and_payments(journey, actor):
    with read_session() as s:
        rows, total = audit.search(s, actor, offer_reference=" cle-aud-1 ")
        found = {(r.entity, r.action) for r in rows}
        assert {("offer", "referred"), ("booking", "held"), ("booking", "cancelled"), ("payment", "recorded"),
                ("refund", "refunded")} <= found
        assert all(r.subject_id == journey["offer"].client_id for r in rows)
        assert audit.search(s, actor, offer_reference="CLE-AUD-2")[1] == 1
        assert audit.search(s, actor, offer_reference="NO-SUCH")[1] == 0


def test_the_trail_needs_audit_view(journey, actor, make_user):
    clerk = actor_for(make_user("hbc.clerk", roles=("Contact centre",)))
    assert not clerk.can("audit.view")
    with pytest.raises(PermissionDenied):
        list(audit.subject_trail(clerk, "client", journey["offer"].client_id))
    with pytest.raises(NotFound):  # a trail is kept per client or person, not per any entity
        list(audit.subject_trail(actor, "booking", 1))


@pytest.fixture
def api():
    return TestClient(build_api(), base_url="http://atlas.test")


def test_the_csv_export_checks_session_permission_origin_and_escapes_formulas(journey, api, admin, other_admin,
                                                                              org, make_user, actor):
    client_id = journey["offer"].client_id
    with write_session() as s:  # a value a spreadsheet would run, in a column the export writes bare
        audit.record(s, actor, "call", "=HYPERLINK(\"http://evil.example\")", "logged",
                     subject=audit.about_client(client_id))
    url = f"/api/audit/client/{client_id}.csv"
    assert api.get(url).status_code == 401
    assert api.get(url, headers={"cookie": "atlas_session=not-a-session"}).status_code == 401
    clerk = make_user("hbc.clerk", roles=("Contact centre",))
    assert api.get(url, headers=cookie_for(clerk)).status_code == 403
    cross = api.get(url, headers={**cookie_for(admin), "origin": "https://evil.example"})
    assert cross.status_code == 403
    assert api.get(f"/api/audit/booking/{client_id}.csv", headers=cookie_for(admin)).status_code == 404

    response = api.get(url, headers={**cookie_for(admin), "origin": "http://atlas.test"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == list(audit.CSV_COLUMNS)
    assert [(r[3], r[5]) for r in rows[1:3]] == [("client", "created"), ("offer", "referred")]
    assert len(rows) - 1 == len(trail(actor, "client", client_id))
    evil = [r for r in rows if r[3] == "call"][0]
    assert evil[4] == "'=HYPERLINK(\"http://evil.example\")"
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)

    # Another organisation's administrator gets an empty trail for this client, not its entries.
    theirs = api.get(url, headers=cookie_for(other_admin))
    assert theirs.status_code == 200
    assert list(csv.reader(io.StringIO(theirs.content.decode("utf-8-sig")))) == [list(audit.CSV_COLUMNS)]


def test_a_casework_persons_trail_has_their_own_entries_and_their_cases(org, actor, make_user, other_actor):
    with write_session() as s:
        config.seed_configuration(s, org.id)
    worker = actor_for(make_user("kate.morris", roles=("Case worker",)))
    mid = next(m.id for m in config.list_modules(worker) if m.name == "Customer Interactions")
    pid = people.create_person(worker, {"given_name": "Lucy", "family_name": "Grey"})
    bystander = people.create_person(worker, {"given_name": "Tom", "family_name": "Ash"})
    case_id = cases.create_case(worker, module_id=mid, title="Council tax bill query", person_id=pid)
    got = trail(actor, "person", pid)
    assert got[0] == ("person", str(pid), "created")
    assert ("case", str(case_id), "opened") in got
    assert all(e != ("person", str(bystander), "created") for e in got)
    assert trail(actor, "person", bystander) == [("person", str(bystander), "created")]
    assert trail(other_actor, "person", pid) == []
    with read_session() as s:
        assert audit.search(s, actor, person_id=pid)[1] == len(got)
        assert audit.verify_trail(s).ok


def test_every_writer_of_an_entry_about_a_client_or_person_names_its_subject():
    """Read from the source: an ``audit.record`` call whose entity is a client's offer, booking, payment, refund,
    plan, call, request or letter, or a casework person, passes ``subject=``; otherwise its entry would be
    missing from that client's or person's trail."""
    import ast
    from pathlib import Path

    import atlas_app

    about_someone = {"offer", "booking", "payment", "refund", "payment_plan", "call", "special_request", "letter",
                     "person", "client"}
    root = Path(atlas_app.__file__).parent / "services"
    missing, seen = [], 0
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "record"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "audit"):
                continue
            entity = node.args[2] if len(node.args) > 2 else None
            if isinstance(entity, ast.Constant) and entity.value in about_someone:
                seen += 1
                if not any(k.arg == "subject" for k in node.keywords):
                    missing.append(f"{path.relative_to(root)}:{node.lineno}")
    assert seen >= 30 and missing == []
