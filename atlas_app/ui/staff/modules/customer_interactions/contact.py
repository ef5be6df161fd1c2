"""The contact screen: record a front-desk or telephone contact in under 30 seconds with the keyboard alone.

The fields come in the order of the conversation, each reached with Tab and each search run with Enter: who (find
a person, or type a new person's names), where (find a place, optional), what (the demand type; value or failure
follows from it and can be changed), what matters to the person, and the outcome (resolved, or handed to a team or
module). "Record contact" (or Enter in the last field's form) saves it and puts the focus back on "who" for the next.

Threat model: the person and place chosen are ids the server offered; the service checks each id against the
actor's organisation in SQL (person, UPRN, lookups, team, module) whatever the browser sends. The screen is a
feature in preview: the service refuses every call of an organisation that has not switched it on, and the page
then says so instead of showing the form.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.modules import customer_interactions as ci
from atlas_app.services.casework.people import PossibleDuplicates
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.previews import PreviewOff
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.kit import checkbox_field, section, select_field, textarea_field
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.session import private, require

register_nav("Customer interactions", NavItem("Record a contact", "/customer-interactions", "phone",
                                              Perm.CASES_MANAGE, module_type="customer_interactions"))

CLASS_OPTIONS = [("value", "Value demand"), ("failure", "Failure demand")]
OUTCOME_OPTIONS = list(ci.OUTCOMES.items())


@private
class ContactState(rx.State):
    people: list[dict[str, str]] = []
    places: list[dict[str, str]] = []
    person_id: str = ""
    uprn: str = ""
    people_searched: bool = False
    places_searched: bool = False
    demand_types: list[dict[str, str]] = []
    channels: list[dict[str, str]] = []
    teams: list[dict[str, str]] = []
    modules: list[dict[str, str]] = []
    demand_type_id: str = ""
    demand_class: str = "value"
    outcome: str = "resolved"
    duplicates: list[str] = []
    error: str = ""
    notice: str = ""
    last_case_id: str = ""
    preview_off: str = ""
    _classes: dict[str, str] = {}

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_MANAGE)
        self.error = self.preview_off = ""
        try:
            opts = await asyncio.to_thread(ci.options, actor)
        except PreviewOff as exc:
            self.preview_off = str(exc)
            return
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.demand_types = [{"id": o.id, "name": f"{o.name} ({o.demand_class})"} for o in opts.demand_types]
        self._classes = {o.id: o.demand_class for o in opts.demand_types}
        self.channels = [{"id": o.id, "name": o.name} for o in opts.channels]
        self.teams = [{"id": o.id, "name": o.name} for o in opts.teams]
        self.modules = [{"id": o.id, "name": o.name} for o in opts.modules]

    @rx.event
    async def find_person(self, form: dict):
        actor = await require(self, Perm.CASES_VIEW)
        self.error = ""
        try:
            found = await asyncio.to_thread(ci.find_people, actor, str(form.get("who", ""))[:100])
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.people = [{"id": o.id, "name": o.name} for o in found]
        self.person_id = found[0].id if found else ""
        self.people_searched = True

    @rx.event
    async def find_place(self, form: dict):
        actor = await require(self, Perm.CASES_VIEW)
        self.error = ""
        try:
            found = await asyncio.to_thread(ci.find_places, actor, str(form.get("where", ""))[:120])
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.places = [{"id": o.id, "name": o.name} for o in found]
        self.uprn = found[0].id if found else ""
        self.places_searched = True

    @rx.event
    def choose_person(self, value: str):
        self.person_id = str(value or "")[:20]

    @rx.event
    def choose_place(self, value: str):
        self.uprn = str(value or "")[:12]

    @rx.event
    def choose_type(self, value: str):
        self.demand_type_id = str(value or "")[:20]
        self.demand_class = self._classes.get(self.demand_type_id, self.demand_class)

    @rx.event
    def choose_class(self, value: str):
        self.demand_class = value if value in ("value", "failure") else "value"

    @rx.event
    def choose_outcome(self, value: str):
        self.outcome = value if value in ci.OUTCOMES else "resolved"

    @rx.event
    async def record(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        self.error = self.notice = ""
        self.duplicates = []
        data = {"person_id": self.person_id, "given_name": str(form.get("given_name", "")),
                "family_name": str(form.get("family_name", "")), "allow_duplicate": bool(form.get("new_anyway")),
                "uprn": self.uprn, "demand_type_id": self.demand_type_id, "demand_class": self.demand_class,
                "channel_id": form.get("channel_id", ""), "what_matters": str(form.get("what_matters", "")),
                "outcome": self.outcome, "team_id": form.get("team_id", ""),
                "handoff_module_id": form.get("handoff_module_id", "")}
        if str(form.get("given_name", "")).strip():
            data["person_id"] = ""  # typing a new person's names means a new person
        try:
            result = await asyncio.to_thread(ci.record_contact, actor, data)
        except PossibleDuplicates as exc:
            self.error = ("There may already be a record for this person: find them above, or tick "
                          "\"New person anyway\".")
            self.duplicates = [f"{d.name} ({d.ref})" for d in exc.candidates]
            return
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.notice = (f"Contact recorded for {result.person_name} ({result.person_ref}) on case {result.case_ref}"
                       + (" (added to the open case)" if result.added_to_existing else "")
                       + (f"; handed on as {result.handed_case_ref}" if result.handed_case_ref else "") + ".")
        self.last_case_id = str(result.case_id)
        self.people, self.places, self.person_id, self.uprn = [], [], "", ""
        self.people_searched = self.places_searched = False
        self.demand_type_id, self.demand_class, self.outcome = "", "value", "resolved"
        return [rx.set_value("ci-what", ""), rx.set_value("ci-who", ""), rx.set_value("ci-where", ""),
                rx.set_value("ci-given", ""), rx.set_value("ci-family", ""), rx.set_focus("ci-who")]


@staff_page("/customer-interactions", "Record a contact", on_load=ContactState.load)
def contact_page() -> rx.Component:
    S = ContactState
    return rx.cond(S.preview_off != "", rx.callout(S.preview_off, icon="info", role="status", id="ci-preview-off"),
                   _screen())


def _screen() -> rx.Component:
    S = ContactState
    return rx.vstack(
        form_error(S.error),
        rx.cond(S.duplicates.length() > 0, rx.el.ul(rx.foreach(S.duplicates, lambda d: rx.el.li(d)),
                                                    id="ci-duplicates")),
        form_notice(S.notice),
        rx.cond(S.last_case_id != "", rx.link("Open the case", href="/casework/case/" + S.last_case_id,
                                              id="ci-case-link")),
        section("Who", rx.form(rx.hstack(
            rx.vstack(rx.el.label("Find a person (name)", html_for="ci-who", font_weight="500"),
                      rx.input(id="ci-who", name="who", auto_focus=True, auto_complete="off"), spacing="1"),
            rx.button("Find", type="submit", variant="soft", id="ci-find-person"), spacing="2", align="end",
            wrap="wrap"), on_submit=S.find_person, reset_on_submit=False),
            rx.cond(S.people_searched, rx.cond(S.people.length() > 0,
                    select_field("Person", "person", S.people, input_id="ci-person", value=S.person_id,
                                 on_change=S.choose_person, blank="Nobody: a new person", keys=("id", "name")),
                    rx.text("Nobody found: type the new person's names below.", role="status", size="2"))),
            section_id="ci-who-section"),
        section("Where", rx.form(rx.hstack(
            rx.vstack(rx.el.label("Find a place (postcode, address or UPRN; optional)", html_for="ci-where",
                                  font_weight="500"),
                      rx.input(id="ci-where", name="where", auto_complete="off"), spacing="1"),
            rx.button("Find", type="submit", variant="soft", id="ci-find-place"), spacing="2", align="end",
            wrap="wrap"), on_submit=S.find_place, reset_on_submit=False),
            rx.cond(S.places_searched, rx.cond(S.places.length() > 0,
                    select_field("Place", "place", S.places, input_id="ci-place", value=S.uprn,
                                 on_change=S.choose_place, blank="No place", keys=("id", "name")),
                    rx.text("No place found.", role="status", size="2"))),
            section_id="ci-where-section"),
        section("What", rx.form(rx.vstack(
            rx.cond(S.person_id == "", rx.hstack(
                rx.vstack(rx.el.label("New person: first name", html_for="ci-given", font_weight="500"),
                          rx.input(id="ci-given", name="given_name", auto_complete="off"), spacing="1"),
                rx.vstack(rx.el.label("Last name", html_for="ci-family", font_weight="500"),
                          rx.input(id="ci-family", name="family_name", auto_complete="off"), spacing="1"),
                checkbox_field("New person anyway", "new_anyway", input_id="ci-new-anyway"),
                spacing="3", wrap="wrap", align="end")),
            select_field("What the contact is about", "demand_type_id", S.demand_types, input_id="ci-type",
                         value=S.demand_type_id, on_change=S.choose_type, blank="Choose…", keys=("id", "name"),
                         required=True),
            select_field("Value or failure demand", "demand_class", CLASS_OPTIONS, input_id="ci-class",
                         value=S.demand_class, on_change=S.choose_class),
            select_field("Channel", "channel_id", S.channels, input_id="ci-channel", blank="—", keys=("id", "name")),
            textarea_field("What matters to the person (their words)", "what_matters", input_id="ci-what",
                           required=True, max_length=2000),
            select_field("Outcome", "outcome", OUTCOME_OPTIONS, input_id="ci-outcome", value=S.outcome,
                         on_change=S.choose_outcome),
            rx.cond(S.outcome == "handed_on", rx.hstack(
                rx.box(select_field("Team", "team_id", S.teams, input_id="ci-team", blank="—", keys=("id", "name")),
                       min_width="12em"),
                rx.box(select_field("Module", "handoff_module_id", S.modules, input_id="ci-module", blank="—",
                                    keys=("id", "name")), min_width="12em"),
                spacing="3", wrap="wrap")),
            rx.button("Record contact", type="submit", id="ci-record"),
            spacing="2", width="100%", align_items="stretch"), on_submit=S.record, reset_on_submit=False),
            section_id="ci-what-section"),
        spacing="4", width="100%",
    )
