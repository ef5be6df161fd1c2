"""Retention: the organisation's retention periods (changed here, audited), what a purge would anonymise today
(a dry run), and legal holds on a client, a person or a case. The rules and the purge live in
services/platform/retention.py; every handler re-checks the permission there."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import retention
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.kit import section, select_field, submit
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.session import private, require

register_nav("Administration", NavItem("Retention", "/admin/retention", "archive", Perm.SETTINGS_MANAGE))

HOLD_KINDS = [("client", "Client (booking)"), ("person", "Casework person"), ("case", "Case")]


@private
class RetentionState(rx.State):
    rows: list[dict[str, str]] = []
    due: str = ""
    error: str = ""
    notice: str = ""
    form_key: int = 0

    async def _refresh(self, actor) -> None:
        rules = await asyncio.to_thread(retention.list_rules, actor)
        self.rows = [{"key": f"{r.kind}:{r.module_id or ''}", "kind": r.kind, "module_id": str(r.module_id or ""),
                      "what": r.label + (f" ({r.module_name})" if r.module_name else ""), "months": str(r.months),
                      "from": r.measured_from, "default": "shipped default" if r.is_default else "set here"}
                     for r in rules]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = self.due = ""
        await self._refresh(actor)

    async def _do(self, fn, done: str, *args) -> bool:
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        try:
            await asyncio.to_thread(fn, actor, *args)
        except AtlasError as exc:
            self.error = str(exc)
            return False
        self.notice = done
        self.form_key += 1
        await self._refresh(actor)
        return True

    @rx.event
    async def save(self, form: dict):
        await require(self, Perm.SETTINGS_MANAGE)
        key = str(form.get("rule", ""))
        row = next((r for r in self.rows if r["key"] == key), None)
        if row is None:
            self.error = "Choose a rule from the list."
            return
        await self._do(retention.save_rule, "Retention period saved.", row["kind"], str(form.get("months", ""))[:6],
                       row["module_id"] or None)

    @rx.event
    async def dry_run(self):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        try:
            report = await asyncio.to_thread(retention.purge, actor.require_org(), dry_run=True, actor=actor)
        except AtlasError as exc:
            self.error = str(exc)
            return
        parts = [f"{n} under {rule.replace('_', ' ')}" for rule, n in report.counts.items() if n]
        self.due = (f"A purge today would anonymise {report.total} record{'s' if report.total != 1 else ''}"
                    + (f" ({', '.join(parts)})" if parts else "") + f"; {report.held} kept by a legal hold.")

    @rx.event
    async def hold(self, form: dict):
        on = str(form.get("action", "")) == "on"
        await self._do(retention.set_legal_hold, "Legal hold set." if on else "Legal hold lifted.",
                       str(form.get("kind", ""))[:10], str(form.get("record_id", ""))[:12], on)


@staff_page("/admin/retention", "Retention", on_load=RetentionState.load)
def retention_page() -> rx.Component:
    S = RetentionState
    return rx.vstack(
        form_error(S.error),
        form_notice(S.notice),
        section("Retention periods", rx.text(
            "Records are anonymised when their period has run out: names, contact details, dates of birth, "
            "addresses and free text are removed; the counts in dashboards and reports stay. The purge runs every "
            "night.", size="2"),
            data_table(["Records", "Kept for (months)", "Measured from", "Set"], S.rows,
                       lambda r: [r["what"], r["months"], r["from"], r["default"]],
                       caption="Retention periods", row_id=lambda r: "rule-" + r["kind"] + "-" + r["module_id"]),
            rx.form(rx.hstack(
                select_field("Rule", "rule", S.rows, input_id="rule-choice", keys=("key", "what")),
                field("Months", "months", input_id="rule-months", inputmode="numeric", required=True),
                submit("Save period", "rule-save"), spacing="3", align="end", wrap="wrap", width="100%"),
                on_submit=S.save, key="rule-" + S.form_key.to_string()),
            rx.hstack(rx.button("What would a purge do today?", on_click=S.dry_run, variant="soft", id="dry-run"),
                      rx.cond(S.due != "", rx.text(S.due, role="status", id="dry-run-result")), spacing="3",
                      align="center", wrap="wrap"),
            section_id="retention-rules"),
        section("Legal holds", rx.text("A record under a legal hold is never anonymised until the hold is lifted.",
                                       size="2"),
                rx.form(rx.hstack(
                    select_field("Record", "kind", HOLD_KINDS, input_id="hold-kind"),
                    field("Record number", "record_id", input_id="hold-id", inputmode="numeric", required=True),
                    select_field("Hold", "action", [("on", "Set a legal hold"), ("off", "Lift the legal hold")],
                                 input_id="hold-action"),
                    submit("Apply", "hold-apply"), spacing="3", align="end", wrap="wrap", width="100%"),
                    on_submit=S.hold, key="hold-" + S.form_key.to_string()),
                section_id="legal-holds"),
        spacing="4", width="100%",
    )
