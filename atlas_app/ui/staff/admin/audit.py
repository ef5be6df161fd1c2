"""The audit viewer: filter the trail by client, casework person or offer reference (one client's trail from the
point of referral, oldest first, with its CSV export), entity, user, action and date."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime, time, timedelta

import reflex as rx

from atlas_app.services.platform import audit, bounds
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.shell import staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import LONDON, london
from atlas_app.ui.session import private, require

PAGE_SIZE = 50
FILTERS = ("client", "person", "offer", "entity", "entity_id", "username", "action", "date_from", "date_to")


def _parse_day(value: str) -> datetime | None:
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    if not bounds.FILTER_EARLIEST <= day <= bounds.FILTER_LATEST:
        return None
    return datetime.combine(day, time.min, tzinfo=LONDON)


def _summary(values: dict | None) -> str:
    if not values:
        return ""
    return json.dumps(values, ensure_ascii=False, default=str)[:400]


@private
class AuditState(rx.State):
    rows: list[dict[str, str]] = []
    entities: list[str] = []
    actions: list[str] = []
    total: int = 0
    page: int = 0
    filters: dict[str, str] = {}
    error: str = ""
    export_url: str = ""

    async def _refresh(self, actor) -> None:
        f = self.filters
        start = _parse_day(f.get("date_from", ""))
        end = _parse_day(f.get("date_to", ""))

        client_id = bounds.id_or_none(f.get("client", ""))
        person_id = bounds.id_or_none(f.get("person", ""))
        subject = ("client", client_id) if client_id is not None else ("person", person_id) if person_id else None
        self.export_url = f"/api/audit/{subject[0]}/{subject[1]}.csv" if subject else ""
        found = await asyncio.to_thread(
            audit.trail_page, actor, entity=f.get("entity") or None, entity_id=f.get("entity_id") or None,
            username=f.get("username") or None, action=f.get("action") or None,
            date_from=start, date_to=end + timedelta(days=1) if end else None,
            client_id=client_id, person_id=person_id, offer_reference=f.get("offer") or None,
            oldest_first=subject is not None, limit=PAGE_SIZE, offset=self.page * PAGE_SIZE,
        )
        self.total, self.entities, self.actions = found.total, found.entities, found.actions
        self.rows = [
            {
                "seq": str(r.seq),
                "at": london(r.at, with_seconds=True),
                "user": r.username or "—",
                "entity": r.entity,
                "entity_id": r.entity_id,
                "action": r.action,
                "before": _summary(r.before),
                "after": _summary(r.after),
            }
            for r in found.rows
        ]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.AUDIT_VIEW)
        params = self.router.url.query_parameters
        self.filters = {k: params.get(k, "")[:80] for k in FILTERS if k not in ("date_from", "date_to")}
        self.page = 0
        await self._refresh(actor)

    @rx.event
    async def apply(self, form: dict):
        actor = await require(self, Perm.AUDIT_VIEW)
        self.filters = {k: str(form.get(k, "") or "")[:80] for k in FILTERS}
        self.page = 0
        await self._refresh(actor)

    @rx.event
    async def next_page(self):
        actor = await require(self, Perm.AUDIT_VIEW)
        if (self.page + 1) * PAGE_SIZE < self.total:
            self.page += 1
        await self._refresh(actor)

    @rx.event
    async def prev_page(self):
        actor = await require(self, Perm.AUDIT_VIEW)
        self.page = max(0, self.page - 1)
        await self._refresh(actor)


def _select(label: str, name: str, options: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"audit-{name}", font_size="0.9em", font_weight="500"),
        rx.el.select(
            rx.el.option("Any", value=""),
            rx.foreach(options, lambda o: rx.el.option(o, value=o)),
            id=f"audit-{name}",
            name=name,
            default_value=AuditState.filters[name],
            style={"padding": "0.45em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-7)",
                   "background": "var(--color-background)", "min-width": "10em"},
        ),
        spacing="1",
    )


def _text(label: str, name: str, type_: str = "text") -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"audit-{name}", font_size="0.9em", font_weight="500"),
        rx.input(id=f"audit-{name}", name=name, type=type_, default_value=AuditState.filters[name]),
        spacing="1",
    )


@staff_page("/admin/audit", "Audit trail", on_load=AuditState.load)
def audit_page() -> rx.Component:
    return rx.vstack(
        rx.form(
            rx.flex(
                _text("Client number", "client"),
                _text("Person number", "person"),
                _text("Offer reference", "offer"),
                _select("Entity", "entity", AuditState.entities),
                _text("Entity id", "entity_id"),
                _text("User", "username"),
                _select("Action", "action", AuditState.actions),
                _text("From", "date_from", "date"),
                _text("To", "date_to", "date"),
                rx.button("Filter", type="submit", id="audit-filter", align_self="end"),
                gap="3",
                wrap="wrap",
                align="end",
            ),
            on_submit=AuditState.apply,
            aria_label="Filter the audit trail",
        ),
        rx.hstack(
            rx.text(AuditState.total, " entries", role="status", size="2", color_scheme="gray", id="audit-count"),
            rx.cond(AuditState.export_url != "",
                    rx.el.a(rx.icon("download", size=16), " Download this trail (CSV)", href=AuditState.export_url,
                            download="", id="audit-export", custom_attrs={"reloadDocument": True},
                            class_name="rt-Button rt-variant-soft rt-r-size-2",
                            style={"display": "inline-flex", "gap": "0.4em", "align-items": "center"})),
            spacing="4", align="center",
        ),
        data_table(
            ["#", "When", "User", "Entity", "Id", "Action", "Before", "After"],
            AuditState.rows,
            lambda r: [r["seq"], r["at"], r["user"], r["entity"], r["entity_id"], rx.code(r["action"]),
                       rx.text(r["before"], size="1", font_family="monospace"),
                       rx.text(r["after"], size="1", font_family="monospace")],
            caption="Audit entries: newest first, or one client's or person's trail oldest first",
        ),
        rx.hstack(
            rx.button("Newer", on_click=AuditState.prev_page, variant="soft", disabled=AuditState.page == 0),
            rx.text("Page ", AuditState.page + 1),
            rx.button("Older", on_click=AuditState.next_page, variant="soft",
                      disabled=(AuditState.page + 1) * PAGE_SIZE >= AuditState.total),
            align="center",
        ),
        spacing="4",
        width="100%",
    )
