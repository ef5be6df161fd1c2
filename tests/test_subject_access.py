"""Subject access export: what the ZIP holds, how the person's records are matched, and who may have it (from the
attacker's side: another organisation's records, no permission, no session, another site)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date

import pytest
from pypdf import PdfReader
from sqlmodel import select
from starlette.testclient import TestClient

from atlas_app.api.app import build_api
from atlas_app.db import read_session, write_session
from atlas_app.models import AuditEntry, Booking, Client, EmailMessage, Offer
from atlas_app.models.payments import Payment
from atlas_app.services.booking import offers as offers_service
from atlas_app.services.casework import cases, config, people
from atlas_app.services.insight import letters
from atlas_app.services.platform import auth, subject_access
from atlas_app.services.platform.errors import NotFound, PermissionDenied
from atlas_app.services.platform.permissions import DEFAULT_ROLES, Perm
from conftest import actor_for, all_rows, create_user
from payments_support import awaiting_booking, make_world

EMAIL = "lucy.grey@example.com"


def unzip(data: bytes) -> dict[str, object]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        return {name: (zf.read(name) if name.endswith(".pdf") else json.loads(zf.read(name)))
                for name in zf.namelist()}


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 1
    return "\n".join(page.extract_text() for page in reader.pages)


def seed_casework(org_id: int) -> None:
    with write_session() as s:
        config.seed_configuration(s, org_id)


def lookup(actor, kind, name, module_id=None):
    return next(v.id for v in config.options(actor, kind, module_id) if v.name == name)


def make_person(actor, given="Lucy", family="Grey", born="1980-01-01", email=EMAIL) -> tuple[int, int]:
    """A casework person with an email contact and a case (demand, activity with a task about them, intention)."""
    mid = next(m.id for m in config.list_modules(actor) if m.name == "Customer Interactions")
    pid = people.create_person(actor, {"given_name": given, "family_name": family, "date_of_birth": born},
                               allow_duplicate=True)
    if email:
        people.add_contact(actor, pid, lookup(actor, "contact_type", "Email"), email)
    case_id = cases.create_case(actor, module_id=mid, title=f"Council tax query for {family}", person_id=pid,
                                role_id=lookup(actor, "case_role", "Customer"))
    cases.add_demand(actor, case_id, {"demand_type_id": lookup(actor, "demand_type", "Ask for information", mid),
                                      "received_at": "2024-05-01T09:00"})
    cases.log_activity(actor, case_id, note="Called back about the bill", tasks=[
        {"task_category_id": lookup(actor, "task_category", "Give information", mid), "person_id": pid,
         "minutes": 10}])
    cases.add_intention(actor, case_id, intention_type_id=lookup(actor, "intention_type", "Call back", mid),
                        due_on="2030-01-01")
    return pid, case_id


def make_client(org_id: int, actor, email=EMAIL, first="Lucy", last="Grey", world=None) -> tuple[int, str]:
    """A booking client with an offer, a booking paid in part, a call, a letter and an email in the outbox."""
    world = world or make_world(org_id)
    booking = awaiting_booking(world, email=email)
    with write_session() as s:
        b = s.exec(select(Booking).where(Booking.reference == booking.reference)).one()
        offer = s.get(Offer, b.offer_id)
        client = s.get(Client, offer.client_id)
        client.first_name, client.last_name, client.date_of_birth = first, last, date(1980, 1, 1)
        s.add(client)
        s.add(Payment(organisation_id=org_id, booking_id=b.id, amount_pence=4250, method="cash", provider="offline",
                      status="succeeded"))
        client_id = client.id
    offers_service.log_call(actor, client_id=client_id, offer_id=None, call_type="booking", outcome="booked",
                            notes="Rang to book")
    letters.list_templates(actor)
    letters.produce_one(actor, "course_reminder", booking.reference, email=True)
    return client_id, booking.reference


@pytest.fixture
def hartlepool(org, actor):
    seed_casework(org.id)
    client_id, reference = make_client(org.id, actor)
    person_id, case_id = make_person(actor)
    return {"client_id": client_id, "reference": reference, "person_id": person_id, "case_id": case_id}


@pytest.fixture
def essex_same_email(other_org, other_actor):
    """Essex holds a client and a person with the same name, date of birth and email address."""
    seed_casework(other_org.id)
    client_id, reference = make_client(other_org.id, other_actor)
    person_id, _ = make_person(other_actor)
    return {"client_id": client_id, "reference": reference, "person_id": person_id}


def test_the_administrator_role_holds_the_permission_and_others_do_not():
    assert Perm.SUBJECT_ACCESS == "people.subject_access"
    assert Perm.SUBJECT_ACCESS in DEFAULT_ROLES["Administrator"][1]
    assert all(Perm.SUBJECT_ACCESS not in perms for name, (_, perms) in DEFAULT_ROLES.items()
               if name != "Administrator")


def test_the_zip_holds_the_clients_and_the_persons_records_and_a_readable_pdf(hartlepool, actor, org):
    run = subject_access.export(actor, "client", hartlepool["client_id"])
    files = unzip(run.data)
    assert run.client_ids == (hartlepool["client_id"],) and run.person_ids == (hartlepool["person_id"],)
    manifest = files["manifest.json"]
    assert manifest["joined_by"].startswith("same email")
    assert manifest["counts"] == {k: len(files[f"{k}.json"]) for k in manifest["counts"]}
    [client] = files["clients.json"]
    assert client["email"] == EMAIL and client["date_of_birth"] == "1980-01-01"
    [booking] = files["bookings.json"]
    assert booking["reference"] == hartlepool["reference"] and booking["fee_pence"] == 9500
    assert [p["amount_pence"] for p in files["payments.json"]] == [4250]
    assert isinstance(files["payments.json"][0]["received_at"], str)
    assert "T" in files["payments.json"][0]["received_at"]
    assert [c["notes"] for c in files["call_logs.json"]] == ["Rang to book"]
    assert len(files["letters.json"]) == 1 and files["letters.json"][0]["kind"] == "letter"
    sent = all_rows(EmailMessage, EmailMessage.organisation_id == org.id, EmailMessage.to_address == EMAIL)
    assert sorted(m["id"] for m in files["emails.json"]) == sorted(m.id for m in sent) and len(sent) >= 2
    assert any(a["content_type"] == "application/pdf" for m in files["emails.json"] for a in m["attachments"])
    [person] = files["people.json"]
    assert (person["given_name"], person["family_name"]) == ("Lucy", "Grey") and "name_norm" not in person
    assert [c["value"] for c in files["person_contacts.json"]] == [EMAIL]
    assert [c["id"] for c in files["cases.json"]] == [hartlepool["case_id"]]
    assert files["cases.json"][0]["role"] == "Customer"
    assert len(files["demands.json"]) == 1 and files["activities.json"][0]["note"] == "Called back about the bill"
    assert files["tasks.json"][0]["minutes"] == 10 and files["intentions.json"][0]["due_on"] == "2030-01-01"
    audited = {(e["entity"], e["entity_id"]) for e in files["audit_entries.json"]}
    assert ("booking", hartlepool["reference"]) in audited and ("person", str(hartlepool["person_id"])) in audited
    assert ("case", str(hartlepool["case_id"])) in audited and ("letter", hartlepool["reference"]) in audited
    text = pdf_text(files["summary.pdf"])
    assert "Subject access export" in text and "Lucy Grey" in text and hartlepool["reference"] in text
    assert "Hartlepool Borough Council" in text


def test_starting_from_the_person_finds_the_same_records(hartlepool, actor):
    run = subject_access.export(actor, "person", hartlepool["person_id"])
    assert run.client_ids == (hartlepool["client_id"],) and run.person_ids == (hartlepool["person_id"],)


def test_name_and_date_of_birth_match_without_an_email_and_others_are_left_out(org, actor):
    seed_casework(org.id)
    world = make_world(org.id)
    client_id, _ = make_client(org.id, actor, email="", world=world)
    person_id, _ = make_person(actor, email="")
    stranger, _ = make_person(actor, given="Lucy", family="Grey", born="1991-06-30", email="other@example.com")
    namesake, _ = make_client(org.id, actor, email="other2@example.com", first="Lucy", last="Gray",
                              world=world)
    run = subject_access.export(actor, "client", client_id)
    assert run.client_ids == (client_id,) and run.person_ids == (person_id,)
    assert stranger not in run.person_ids and namesake not in run.client_ids


def test_records_chosen_explicitly_replace_the_matching(hartlepool, actor):
    other_person, _ = make_person(actor, given="Lucinda", family="Smith", born="1979-02-02", email="")
    run = subject_access.export(actor, "client", hartlepool["client_id"], person_ids=[other_person])
    assert run.person_ids == (other_person,) and run.client_ids == (hartlepool["client_id"],)
    assert unzip(run.data)["manifest.json"]["joined_by"] == "records chosen by staff"


def test_another_organisations_records_never_join_even_with_the_same_email(hartlepool, essex_same_email, actor):
    run = subject_access.export(actor, "client", hartlepool["client_id"])
    files = unzip(run.data)
    assert essex_same_email["client_id"] not in run.client_ids
    assert essex_same_email["person_id"] not in run.person_ids
    refs = {b["reference"] for b in files["bookings.json"]}
    assert refs == {hartlepool["reference"]}
    with read_session() as s:
        essex_org = s.get(Client, essex_same_email["client_id"]).organisation_id
    for name, rows in files.items():
        if name.endswith(".json") and isinstance(rows, list):
            assert all(r.get("organisation_id") in (None, actor.organisation_id) for r in rows), name
    essex_mail = all_rows(EmailMessage, EmailMessage.organisation_id != actor.organisation_id,
                          EmailMessage.to_address == EMAIL)
    assert essex_mail and not {m.id for m in essex_mail} & {m["id"] for m in files["emails.json"]}
    assert essex_same_email["reference"] not in json.dumps(files["audit_entries.json"])
    assert essex_org != actor.organisation_id
    # Naming Essex's records by id, or starting from one, finds nothing.
    with pytest.raises(NotFound):
        subject_access.export(actor, "client", essex_same_email["client_id"])
    with pytest.raises(NotFound):
        subject_access.export(actor, "person", hartlepool["person_id"], client_ids=[essex_same_email["client_id"]])


def test_staff_without_the_permission_are_refused_and_nothing_is_audited(hartlepool, org):
    booking_staff = actor_for(create_user(org, "hbc.booking", roles=("Booking staff", "Case worker", "Manager")))
    with pytest.raises(PermissionDenied):
        subject_access.export(booking_staff, "client", hartlepool["client_id"])
    assert not all_rows(AuditEntry, AuditEntry.entity == "subject_access")


def test_the_export_is_audited_with_whose_and_how_many_never_the_data(hartlepool, actor):
    run = subject_access.export(actor, "person", hartlepool["person_id"])
    [entry] = all_rows(AuditEntry, AuditEntry.entity == "subject_access")
    assert entry.username == actor.username and entry.organisation_id == actor.organisation_id
    assert entry.entity_id == f"person:{hartlepool['person_id']}" and entry.action == "exported"
    assert entry.after["records"] == run.records > 10
    assert entry.after["client_ids"] == [hartlepool["client_id"]]
    assert entry.after["person_ids"] == [hartlepool["person_id"]]
    stored = json.dumps(entry.after) + json.dumps(entry.before)
    assert EMAIL not in stored and "Grey" not in stored and hartlepool["reference"] not in stored
    # The next export lists the earlier one among the audit entries about them.
    again = unzip(subject_access.export(actor, "client", hartlepool["client_id"]).data)
    assert ("subject_access", f"person:{hartlepool['person_id']}", "exported") in {
        (e["entity"], e["entity_id"], e["action"]) for e in again["audit_entries.json"]}


def test_bad_kinds_and_ids_are_refused_clearly(hartlepool, actor):
    with pytest.raises(NotFound):
        subject_access.export(actor, "booking", 1)
    with pytest.raises(Exception, match="whole number"):
        subject_access.export(actor, "client", "1; drop table client")
    with pytest.raises(NotFound):
        subject_access.export(actor, "person", 10**9)


# --- the route ------------------------------------------------------------------------------------------------


@pytest.fixture
def api():
    return TestClient(build_api(), base_url="http://atlas.test")


def cookie_for(username: str, password: str) -> dict[str, str]:
    outcome = auth.login(username, password)
    assert outcome.ok
    return {"cookie": f"atlas_session={outcome.token}"}


def test_the_route_needs_a_session_the_permission_the_organisation_and_the_same_origin(
        hartlepool, essex_same_email, api, admin, org, other_admin):
    url = f"/api/subject-access/client/{hartlepool['client_id']}.zip"
    assert api.get(url).status_code == 401
    assert api.get(url, headers={"cookie": "atlas_session=forged"}).status_code == 401
    staff = create_user(org, "hbc.contact", roles=("Contact centre", "Case worker"))
    assert api.get(url, headers=cookie_for(staff.username, staff.password)).status_code == 403
    essex = cookie_for(other_admin.username, other_admin.password)
    assert api.get(url, headers=essex).status_code == 404
    mine = cookie_for(admin.username, admin.password)
    assert api.get(url, headers={**mine, "referer": "https://evil.example/page"}).status_code == 403
    assert api.get(f"/api/subject-access/booking/{hartlepool['client_id']}.zip", headers=mine).status_code == 404
    assert api.get("/api/subject-access/client/abc.zip", headers=mine).status_code == 422
    ok = api.get(url, headers={**mine, "referer": f"http://atlas.test/bookings/client/{hartlepool['client_id']}"})
    assert ok.status_code == 200 and ok.headers["content-type"] == "application/zip"
    assert "attachment" in ok.headers["content-disposition"] and ok.headers["cache-control"] == "no-store"
    files = unzip(ok.content)
    assert {b["reference"] for b in files["bookings.json"]} == {hartlepool["reference"]}
    assert int(ok.headers["x-atlas-records"]) == sum(files["manifest.json"]["counts"].values())
    entries = all_rows(AuditEntry, AuditEntry.entity == "subject_access")
    assert [(e.username, e.organisation_id) for e in entries] == [(admin.username, org.id)]
    # Joining records by id through the query string, and never another organisation's.
    joined = api.get(f"{url}?person={essex_same_email['person_id']}", headers=mine)
    assert joined.status_code == 404


def test_the_client_and_person_pages_link_to_the_export_for_holders_of_the_permission_only():
    """The link is a plain document download (not client-side routing), shown under the permission."""
    from atlas_app.ui.staff.booking.clients import client_page
    from atlas_app.ui.staff.casework.people import person_page

    for page, kind in ((client_page, "client"), (person_page, "person")):
        rendered = str(page().render())
        at = rendered.index(f'"/api/subject-access/{kind}/"')
        around = rendered[max(0, at - 1500):at + 200]
        assert 'includes("people.subject_access")' in around
        assert "reloadDocument:true" in around and 'download:""' in around
