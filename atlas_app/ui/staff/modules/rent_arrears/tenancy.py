"""A tenancy: its figures, stage, transactions, arrangements and letters; the officer logs a contact (a demand on the
tenancy's case) or agrees an arrangement. The case's page holds the whole timeline (contacts, letters, stage moves).

Threat model: the tenancy id comes from the URL and is checked against the actor's organisation in the service's
SQL; the lookup ids in the forms are checked by ``active_lookup`` against the organisation and module; nothing of
another tenancy is kept in the state.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.casework import config
from atlas_app.services.modules.rent_arrears import tenancies
from atlas_app.services.modules.rent_arrears.arrears import FREQUENCIES
from atlas_app.services.platform.errors import AtlasError, NotFound
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.forms import form_error, form_notice
from atlas_app.ui.components.kit import section, select_field, textarea_field
from atlas_app.ui.components.shell import staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require

CLASS_OPTIONS = [("", "As the type says"), ("value", "Value demand"), ("failure", "Failure demand")]
FREQUENCY_OPTIONS = list(FREQUENCIES.items())


@private
class TenancyState(rx.State):
    found: bool = True
    tenancy_id: str = ""
    account: str = ""
    details: list[dict[str, str]] = []
    tenants: list[dict[str, str]] = []
    case_id: str = ""
    case_ref: str = ""
    transactions: list[dict[str, str]] = []
    arrangements: list[dict[str, str]] = []
    letters: list[dict[str, str]] = []
    demand_types: list[dict[str, str]] = []
    channels: list[dict[str, str]] = []
    can_manage: bool = False
    error: str = ""
    notice: str = ""

    async def _fill(self, actor) -> None:
        t = await asyncio.to_thread(tenancies.get_tenancy, actor, self.tenancy_id)
        self.found = True
        self.account = t.rent_account
        self.details = [{"k": k, "v": v} for k, v in (
            ("Address", t.address or "—"), ("UPRN", t.uprn or "—"), ("Patch", t.patch or "—"),
            ("Start", t.start_date.strftime("%d/%m/%Y")), ("Weekly rent", t.weekly_rent), ("Balance", t.balance),
            ("Arrears (weeks of rent)", t.arrears_weeks), ("Last 4 weeks", t.trend_4w), ("Last 13 weeks", t.trend_13w),
            ("Last payment", t.last_payment_on.strftime("%d/%m/%Y") if t.last_payment_on else "none"),
            ("Stage", (t.stage + (f" since {t.stage_entered_on:%d/%m/%Y}" if t.stage_entered_on else ""))
             if t.stage else "Not at a stage"),
            ("Arrangement", "Broken" if t.arrangement_broken else "—"))]
        self.tenants = [{"ref": ref, "name": name} for ref, name in t.tenants]
        self.case_id, self.case_ref = str(t.case_id or ""), t.case_ref
        self.transactions = [{"on": x.posted_on.strftime("%d/%m/%Y"), "kind": x.kind, "method": x.method or "—",
                              "amount": x.amount, "id": x.external_id} for x in t.transactions]
        self.arrangements = [{"id": str(a.id), "amount": a.amount, "frequency": a.frequency,
                              "start": a.start_on.strftime("%d/%m/%Y"),
                              "status": a.status + (f" on {a.broken_on:%d/%m/%Y}" if a.broken_on else "")}
                             for a in t.arrangements]
        self.letters = [{"id": str(x.id), "subject": x.subject, "at": london(x.produced_at)} for x in t.letters]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.CASES_VIEW)
        self.can_manage = actor.can(Perm.CASES_MANAGE)
        self.error = self.notice = ""
        self.tenancy_id = str(self.router.page.params.get("id", "") or "")[:12]
        try:
            await self._fill(actor)
        except (NotFound, ValueError):
            self.found = False
            return
        modules = await asyncio.to_thread(config.list_modules, actor)
        mid = next((m.id for m in modules if m.module_type == "rent_arrears"), None)
        types = await asyncio.to_thread(config.options, actor, "demand_type", mid) if mid else []
        self.demand_types = [{"id": str(v.id), "name": f"{v.name} ({v.demand_class})"} for v in types]
        channels = await asyncio.to_thread(config.options, actor, "channel")
        self.channels = [{"id": str(v.id), "name": v.name} for v in channels]

    @rx.event
    async def log_contact(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        self.error = self.notice = ""
        try:
            await asyncio.to_thread(tenancies.log_contact, actor, self.tenancy_id,
                                    demand_type_id=form.get("demand_type_id", ""), note=str(form.get("note", "")),
                                    demand_class=str(form.get("demand_class", "")),
                                    channel_id=form.get("channel_id", ""))
            await self._fill(actor)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.notice = "Contact logged on the case."
        return rx.set_value("contact-note", "")

    @rx.event
    async def add_arrangement(self, form: dict):
        actor = await require(self, Perm.CASES_MANAGE)
        self.error = self.notice = ""
        try:
            await asyncio.to_thread(tenancies.add_arrangement, actor, self.tenancy_id,
                                    amount=str(form.get("amount", "")), frequency=str(form.get("frequency", "")),
                                    start_on=str(form.get("start_on", "")))
            await self._fill(actor)
        except AtlasError as exc:
            self.error = str(exc)
            return
        self.notice = "Arrangement recorded."


@staff_page("/rent-arrears/tenancy/[id]", "Tenancy", on_load=TenancyState.load)
def tenancy_page() -> rx.Component:
    S = TenancyState
    return rx.cond(S.found, rx.vstack(
        rx.heading("Rent account " + S.account, size="5", as_="h2", id="tenancy-heading"),
        form_error(S.error), form_notice(S.notice),
        rx.el.dl(rx.foreach(S.details, lambda d: rx.fragment(
            rx.el.dt(d["k"], style={"font-weight": "500"}), rx.el.dd(d["v"], style={"margin": "0 0 0.4em 0"}))),
            id="tenancy-details"),
        rx.hstack(rx.text("Tenants:", weight="medium"),
                  rx.foreach(S.tenants, lambda p: rx.text(p["name"] + " (" + p["ref"] + ")")), wrap="wrap"),
        rx.cond(S.case_id != "", rx.link("Case " + S.case_ref + ": every contact and letter",
                                         href="/casework/case/" + S.case_id, id="tenancy-case-link")),
        rx.cond(S.can_manage, section("Log a contact", rx.form(rx.vstack(
            select_field("What the contact was about", "demand_type_id", S.demand_types, input_id="contact-type",
                         blank="Choose…", keys=("id", "name"), required=True),
            select_field("Value or failure demand", "demand_class", CLASS_OPTIONS, input_id="contact-class"),
            select_field("Channel", "channel_id", S.channels, input_id="contact-channel", blank="—",
                         keys=("id", "name")),
            textarea_field("What was said", "note", input_id="contact-note", required=True, max_length=2000),
            rx.button("Log contact", type="submit", id="contact-save"), spacing="2", width="100%",
            align_items="stretch"), on_submit=S.log_contact, reset_on_submit=False), section_id="log-contact")),
        rx.cond(S.can_manage, section("Agree an arrangement", rx.form(rx.hstack(
            rx.vstack(rx.el.label("Amount (£)", html_for="arr-amount", font_weight="500"),
                      rx.input(id="arr-amount", name="amount", required=True, input_mode="decimal"), spacing="1"),
            rx.box(select_field("How often", "frequency", FREQUENCY_OPTIONS, input_id="arr-frequency"),
                   min_width="10em"),
            rx.vstack(rx.el.label("First payment", html_for="arr-start", font_weight="500"),
                      rx.input(id="arr-start", name="start_on", type="date", required=True), spacing="1"),
            rx.button("Record arrangement", type="submit", id="arr-save"), spacing="3", wrap="wrap", align="end"),
            on_submit=S.add_arrangement), section_id="arrangement")),
        section("Arrangements", data_table(
            ["Amount", "How often", "From", "Status"], S.arrangements,
            lambda a: [a["amount"], a["frequency"], a["start"], a["status"]], caption="Arrangements to pay",
            empty="No arrangements."), section_id="arrangements"),
        section("Letters", data_table(
            ["Produced", "Letter"], S.letters, lambda x: [x["at"], x["subject"]], caption="Letters produced",
            row_id=lambda x: "letter-" + x["id"], empty="No letters yet."), section_id="letters"),
        section("Recent transactions", data_table(
            ["Date", "Type", "Method", "Amount", "Rent system id"], S.transactions,
            lambda x: [x["on"], x["kind"], x["method"], x["amount"], x["id"]], caption="Recent transactions",
            empty="No transactions."), section_id="transactions"),
        spacing="4", width="100%",
    ), rx.callout("No such tenancy.", icon="info", role="status"))
