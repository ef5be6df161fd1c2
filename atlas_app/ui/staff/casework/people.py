"""People: tolerant search, new person (with possible duplicates flagged), and the person page."""

from __future__ import annotations

import asyncio
from datetime import datetime

import reflex as rx

from atlas_app.services.casework import config
from atlas_app.services.casework import people
from atlas_app.services.platform.errors import AtlasError, NotFound
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.casework_ui import lookup_select
from atlas_app.ui.components.kit import checkbox_field, panel, section, select_field, submit
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.shell import AuthState, NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require

register_nav("Casework", NavItem("People", "/casework/people", "users-round", Perm.CASES_VIEW))

LANGUAGE_OPTIONS = [{"id": k, "name": v} for k, v in people.LANGUAGES.items()]


def _opts(rows) -> list[dict[str, str]]:
    return [{"id": str(r.id), "name": r.name} for r in rows]


def _row(p: people.PersonRow) -> dict[str, str]:
    return {"id": str(p.id), "ref": p.ref, "name": p.name,
            "dob": p.date_of_birth.strftime("%d %b %Y") if p.date_of_birth else "—", "address": p.address or "—"}


@private
class PeopleState(rx.State):
    rows: list[dict[str, str]] = []
    searched: bool = False
    duplicates: list[dict[str, str]] = []
    error: str = ""
    can_manage: bool = False
    form_key: int = 0

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        self.error = ""
        self.duplicates = []

    @rx.event
    async def search(self, form: dict):
        actor = await require(self, Perm.CASES_VIEW)
        try:
            rows = await asyncio.to_thread(
                people.search_people, actor, name=str(form.get("name", ""))[:100],
                date_of_birth=form.get("dob") or None, reference=str(form.get("reference", ""))[:60],
                postcode=str(form.get("postcode", ""))[:10], address=str(form.get("address", ""))[:100])
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.error = ""
        self.searched = True
        self.rows = [_row(p) for p in rows]

    @rx.event
    async def create(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        data = {k: form.get(k) for k in ("title", "given_name", "family_name", "date_of_birth", "preferred_language",
                                          "uprn", "from_date", "notes")}
        try:
            person_id = await asyncio.to_thread(people.create_person, actor, data, bool(form.get("allow_duplicate")))
        except people.PossibleDuplicates as exc:
            self.duplicates = [_row(c) for c in exc.candidates]
            self.error = (str(exc) + " Open the existing record, or tick 'This is a different person' and save "
                          "again.")
            return
        except AtlasError as exc:
            self.error = str(exc)
            return
        return rx.redirect(f"/casework/person/{person_id}")


@staff_page("/casework/people", "People", on_load=PeopleState.load)
def people_page() -> rx.Component:
    S = PeopleState
    return rx.vstack(
        section("Find a person", rx.form(rx.vstack(
            rx.text("Fill in any of these. Names match in any order, by part of a word and by sound.", size="2",
                    color_scheme="gray"),
            rx.grid(
                field("Name", "name", input_id="find-name"),
                field("Date of birth", "dob", type="date", input_id="find-dob"),
                field("Reference number", "reference", input_id="find-reference"),
                field("Postcode", "postcode", input_id="find-postcode"),
                field("Address", "address", input_id="find-address"),
                columns=rx.breakpoints(initial="1", md="3"), spacing="3", width="100%",
            ),
            submit("Search", "find-people"), spacing="2", width="100%", align_items="start",
        ), on_submit=S.search),
            rx.cond(S.searched, data_table(
                ["Person", "Date of birth", "Current address"], S.rows,
                lambda r: [rx.link(r["name"] + " (" + r["ref"] + ")", href="/casework/person/" + r["id"]),
                           r["dob"], r["address"]],
                caption="People found, best matches first", row_id=lambda r: "person-row-" + r["id"],
                empty="Nobody matches.")),
            section_id="find"),
        rx.cond(S.can_manage, section("Add a person", rx.form(rx.vstack(
            form_error(S.error),
            rx.cond(S.duplicates.length() > 0, rx.vstack(
                rx.text("Possible duplicates:", weight="bold"),
                rx.foreach(S.duplicates, lambda d: rx.link(
                    d["name"] + " (" + d["ref"] + "), born " + d["dob"] + ", " + d["address"],
                    href="/casework/person/" + d["id"])),
                checkbox_field("This is a different person", "allow_duplicate", input_id="person-allow-duplicate"),
                spacing="1", id="possible-duplicates", role="region", aria_label="Possible duplicates",
            )),
            rx.grid(
                field("Title", "title", input_id="person-title", autocomplete="off"),
                field("Given name", "given_name", required=True, input_id="person-given"),
                field("Family name", "family_name", required=True, input_id="person-family"),
                field("Date of birth", "date_of_birth", type="date", input_id="person-dob"),
                select_field("Language for letters", "preferred_language", LANGUAGE_OPTIONS,
                             input_id="person-language", default_value="en", keys=("id", "name")),
                field("Lives at UPRN", "uprn", input_id="person-uprn", inputmode="numeric",
                      hint="Optional; find it under Places."),
                field("Living there since", "from_date", type="date", input_id="person-from"),
                columns=rx.breakpoints(initial="1", md="3"), spacing="3", width="100%",
            ),
            submit("Add person", "add-person"), spacing="2", width="100%", align_items="start",
        ), on_submit=S.create), section_id="new-person")),
        spacing="4", width="100%",
    )


@private
class PersonState(rx.State):
    person_id: str = ""
    found: bool = True
    ref: str = ""
    name: str = ""
    dob: str = ""
    language: str = ""
    notes: str = ""
    merged_into: str = ""
    edit: dict[str, str] = {}
    contacts: list[dict[str, str]] = []
    references: list[dict[str, str]] = []
    addresses: list[dict[str, str]] = []
    relationships: list[dict[str, str]] = []
    cases: list[dict[str, str]] = []
    history: list[dict[str, str]] = []
    contact_types: list[dict[str, str]] = []
    reference_types: list[dict[str, str]] = []
    relationship_types: list[dict[str, str]] = []
    person_results: list[dict[str, str]] = []
    error: str = ""
    notice: str = ""
    can_manage: bool = False
    form_key: int = 0

    async def _refresh(self, actor) -> None:
        try:
            d = await asyncio.to_thread(people.get_person, actor, int(self.person_id))
        except (NotFound, ValueError):
            self.found = False
            return
        self.found = True
        self.ref, self.name, self.notes, self.merged_into = d.ref, d.name, d.notes, d.merged_into_ref
        self.dob = d.date_of_birth.strftime("%d %b %Y") if d.date_of_birth else "not known"
        self.language = people.LANGUAGES.get(d.preferred_language, d.preferred_language)
        self.edit = {"title": d.title, "given": d.given_name, "family": d.family_name,
                     "dob": d.date_of_birth.isoformat() if d.date_of_birth else "",
                     "language": d.preferred_language, "notes": d.notes}
        self.contacts = [{"type": c.label, "value": c.value, "extra": c.extra} for c in d.contacts]
        self.references = [{"type": r.label, "value": r.value} for r in d.references]
        self.addresses = [{"address": a.label, "uprn": a.value, "span": a.extra or "—"} for a in d.addresses]
        self.relationships = [{"label": r.label, "name": r.value, "id": r.extra} for r in d.relationships]
        self.cases = [{"id": str(c.id), "title": c.label, "status": c.value, "role": c.extra or "—"}
                      for c in d.cases]
        self.history = [{"action": h.label, "by": h.value, "at": london(datetime.fromisoformat(h.extra))}
                        for h in d.history]

        def choices():
            return (_opts(config.options(actor, "contact_type")), _opts(config.options(actor, "reference_type")),
                    [{"id": str(v.id), "name": f"{v.name} / {v.reverse_name}"}
                     for v in config.options(actor, "relationship_type")])

        self.contact_types, self.reference_types, self.relationship_types = await asyncio.to_thread(choices)

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        new_id = str(self.router.page.params.get("id", "") or "")[:12]
        if new_id != self.person_id:
            self.notice = ""
            self.person_results = []
        self.person_id = new_id
        self.error = ""
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        await self._refresh(actor)

    async def _do(self, fn, done: str, *args):
        actor = await require(self, Perm.CASES_MANAGE)
        try:
            await asyncio.to_thread(fn, actor, *args)
        except (AtlasError, ValueError) as exc:
            self.error = str(exc) if isinstance(exc, AtlasError) else "That could not be done."
            self.notice = ""
            return False
        self.error = ""
        self.notice = done
        self.form_key += 1
        await self._refresh(actor)
        return True

    @rx.event
    async def save_details(self, form: dict):
        data = {k: form.get(k) for k in ("title", "given_name", "family_name", "date_of_birth",
                                          "preferred_language", "notes")}
        await self._do(people.update_person, "Details saved.", int(self.person_id), data)

    @rx.event
    async def add_contact(self, form: dict):
        await self._do(people.add_contact, "Contact detail added.", int(self.person_id), form.get("type_id"),
                       str(form.get("value", "")), bool(form.get("preferred")))

    @rx.event
    async def add_reference(self, form: dict):
        await self._do(people.add_reference, "Reference number added.", int(self.person_id), form.get("type_id"),
                       str(form.get("value", "")))

    @rx.event
    async def add_address(self, form: dict):
        await self._do(people.add_address, "Address added.", int(self.person_id), str(form.get("uprn", "")),
                       form.get("from_date") or None, form.get("to_date") or None)

    @rx.event
    async def find_people(self, form: dict):
        actor = await require(self, Perm.CASES_VIEW)
        try:
            rows = await asyncio.to_thread(people.search_people, actor, name=str(form.get("name", ""))[:100])
        except AtlasError as exc:
            self.error = str(exc)
            self.person_results = []
            return
        self.person_results = [{"id": str(p.id), "name": f"{p.name} ({p.ref})"} for p in rows
                               if str(p.id) != self.person_id][:20]
        self.error = "" if self.person_results else "Nobody else matches that name."

    @rx.event
    async def add_relationship(self, form: dict):
        if await self._do(people.add_relationship, "Relationship added.", int(self.person_id),
                          form.get("related_person_id"), form.get("type_id"), form.get("from_date") or None):
            self.person_results = []

    @rx.event
    async def merge(self, form: dict):
        if not form.get("confirm"):
            self.error = "Tick the box to confirm the merge."
            return
        await self._do(people.merge_people, "Records merged.", int(self.person_id),
                       str(form.get("duplicate", "")).strip())


def _list(title: str, rows: rx.Var, render, sid: str, empty: str) -> rx.Component:
    return section(title, rx.cond(rows.length() > 0, rx.el.ul(rx.foreach(rows, lambda r: rx.el.li(render(r))),
                                                               style={"margin": "0", "padding-left": "1.2em"}),
                                  rx.text(empty, color_scheme="gray")), section_id=sid)


@staff_page("/casework/person/[id]", "Person", on_load=PersonState.load)
def person_page() -> rx.Component:
    S = PersonState
    return rx.cond(S.found, rx.vstack(
        rx.heading(S.name + " (" + S.ref + ")", size="5", as_="h2", id="person-heading"),
        rx.text("Born " + S.dob + " · letters in " + S.language),
        rx.cond(AuthState.permissions.contains(Perm.AUDIT_VIEW),
                rx.link(rx.icon("history", size=16, aria_hidden="true"), " History (audit trail)",
                        href="/admin/audit?person=" + S.person_id, size="2", id="person-audit-trail")),
        rx.cond(AuthState.permissions.contains(Perm.SUBJECT_ACCESS), rx.el.a(
            rx.icon("file-archive", aria_hidden="true", size=16), "Subject access export (ZIP)",
            href="/api/subject-access/person/" + S.person_id + ".zip", download="", reload_document=True,
            id="subject-access-export", class_name="rt-reset rt-BaseButton rt-Button rt-r-size-2 rt-variant-soft",
            style={"gap": "0.5em", "text-decoration": "none"})),
        rx.cond(S.merged_into != "", rx.callout("This record was merged into " + S.merged_into + ".", icon="info",
                                                role="status")),
        form_error(S.error),
        form_notice(S.notice),
        rx.grid(
            _list("Contact details", S.contacts, lambda c: rx.text(c["type"] + ": " + c["value"] + rx.cond(
                c["extra"] != "", " (preferred)", "")), "person-contacts", "None recorded."),
            _list("Reference numbers", S.references, lambda r: rx.text(r["type"] + ": " + r["value"]),
                  "person-references", "None recorded."),
            _list("Address history", S.addresses, lambda a: rx.text(
                rx.link(a["address"], href="/casework/place/" + a["uprn"]), " (UPRN " + a["uprn"] + ", "
                + a["span"] + ")"), "person-addresses", "No addresses."),
            _list("Relationships", S.relationships, lambda r: rx.text(
                r["label"] + " ", rx.link(r["name"], href="/casework/person/" + r["id"])),
                "person-relationships", "None recorded."),
            columns=rx.breakpoints(initial="1", md="2"), spacing="4", width="100%",
        ),
        section("Cases", data_table(
            ["Case", "Role", "Status"], S.cases,
            lambda c: [rx.link(c["title"], href="/casework/case/" + c["id"]), c["role"], c["status"]],
            caption="Cases this person is on", empty="No cases."), section_id="person-cases"),
        rx.cond(S.can_manage, section(
            "Update",
            panel("Edit name, date of birth and language", rx.form(rx.vstack(
                rx.grid(
                    field("Title", "title", input_id="edit-title", autocomplete="off",
                          default_value=S.edit["title"]),
                    field("Given name", "given_name", required=True, input_id="edit-given",
                          default_value=S.edit["given"]),
                    field("Family name", "family_name", required=True, input_id="edit-family",
                          default_value=S.edit["family"]),
                    field("Date of birth", "date_of_birth", type="date", input_id="edit-dob",
                          default_value=S.edit["dob"]),
                    select_field("Language for letters", "preferred_language", LANGUAGE_OPTIONS,
                                 input_id="edit-language", default_value=S.edit["language"], keys=("id", "name")),
                    columns=rx.breakpoints(initial="1", md="3"), spacing="3", width="100%",
                ),
                rx.el.label("Notes", html_for="edit-notes", font_weight="500"),
                rx.text_area(name="notes", id="edit-notes", default_value=S.edit["notes"], width="100%",
                             rows="3"),
                submit("Save details", "save-details"), spacing="2", width="100%", align_items="start"),
                on_submit=S.save_details, key="d-" + S.form_key.to_string()), panel_id="panel-details"),
            panel("Add a contact detail", rx.form(rx.vstack(
                lookup_select("Type", "type_id", S.contact_types, input_id="contact-type", required=True),
                field("Value", "value", required=True, input_id="contact-value"),
                checkbox_field("Preferred", "preferred", input_id="contact-preferred"),
                submit("Add contact detail", "add-contact"), spacing="2", align_items="start"),
                on_submit=S.add_contact, key="c-" + S.form_key.to_string()), panel_id="panel-contact"),
            panel("Add a reference number", rx.form(rx.vstack(
                lookup_select("Type", "type_id", S.reference_types, input_id="reference-type", required=True),
                field("Number", "value", required=True, input_id="reference-value"),
                submit("Add reference", "add-reference"), spacing="2", align_items="start"),
                on_submit=S.add_reference, key="r-" + S.form_key.to_string()), panel_id="panel-reference"),
            panel("Add an address", rx.form(rx.vstack(
                field("UPRN", "uprn", required=True, input_id="address-uprn", inputmode="numeric"),
                field("From", "from_date", type="date", input_id="address-from"),
                field("To (leave empty if they live there now)", "to_date", type="date", input_id="address-to"),
                submit("Add address", "add-address"), spacing="2", align_items="start"),
                on_submit=S.add_address, key="a-" + S.form_key.to_string()), panel_id="panel-address"),
            panel("Add a relationship", rx.vstack(
                rx.form(rx.hstack(
                    rx.el.label("Find the other person by name", html_for="rel-find"),
                    rx.input(id="rel-find", name="name"),
                    rx.button("Find", type="submit", variant="soft", id="rel-find-go"), spacing="2", wrap="wrap",
                    align="end"), on_submit=S.find_people),
                rx.cond(S.person_results.length() > 0, rx.form(rx.vstack(
                    lookup_select(S.name + " is…", "type_id", S.relationship_types, input_id="rel-type",
                                  required=True, hint="Each type reads both ways, e.g. Parent of / Child of."),
                    lookup_select("…of", "related_person_id", S.person_results, input_id="rel-person",
                                  required=True),
                    field("Since", "from_date", type="date", input_id="rel-from"),
                    submit("Add relationship", "add-relationship"), spacing="2", align_items="start"),
                    on_submit=S.add_relationship)),
                spacing="2"), panel_id="panel-relationship"),
            panel("Merge a duplicate into this record", rx.form(rx.vstack(
                field("The duplicate's Atlas number", "duplicate", required=True, input_id="merge-duplicate",
                      hint="Its contacts, references, addresses, relationships and cases move here."),
                checkbox_field("I have checked they are the same person", "confirm", input_id="merge-confirm"),
                rx.button("Merge", type="submit", color_scheme="orange", id="merge-go"),
                spacing="2", align_items="start"), on_submit=S.merge), panel_id="panel-merge"),
            section_id="person-update")),
        section("History", data_table(
            ["When", "What", "By"], S.history, lambda h: [h["at"], h["action"], h["by"]],
            caption="Changes to this record", empty="No history."), section_id="person-history"),
        spacing="4", width="100%",
    ), rx.callout("No such person in your organisation.", icon="info", role="status"))
