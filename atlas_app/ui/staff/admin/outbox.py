"""The outbox: every email, text message and letter Atlas has queued, with its delivery state."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.platform import outbox
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings
from atlas_app.ui.components.badges import EMAIL_STATUS_COLOURS, status_badge
from atlas_app.ui.components.shell import staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london
from atlas_app.ui.session import private, require


@private
class OutboxState(rx.State):
    rows: list[dict[str, str]] = []
    total: int = 0
    smtp_configured: bool = False
    notify_configured: bool = False
    selected: dict[str, str] = {}

    async def _refresh(self, actor) -> None:
        rows, total = await asyncio.to_thread(outbox.list_messages, actor, None, 100, 0)
        self.total = total
        self.smtp_configured = bool(get_settings().smtp_url)
        self.notify_configured = bool(get_settings().notify_api_key)
        self.rows = [
            {"id": str(r.id), "created": london(r.created_at), "to": r.to_address, "subject": r.subject,
             "status": r.status, "attempts": str(r.attempts), "error": r.last_error, "sent": london(r.sent_at),
             "body": r.body_text, "attachments": ", ".join(r.attachment_names),
             "channel": {"sms": "Text", "letter": "Letter"}.get(r.channel, "Email"),
             "receipt": r.delivery_status.replace("-", " ")}
            for r in rows
        ]

    @rx.event
    async def load(self):
        actor = await require(self, Perm.OUTBOX_VIEW)
        self.selected = {}
        await self._refresh(actor)

    @rx.event
    async def show(self, message_id: str):
        await require(self, Perm.OUTBOX_VIEW)
        self.selected = next((r for r in self.rows if r["id"] == str(message_id)), {})

    @rx.event
    def close(self):
        self.selected = {}

    @rx.event
    async def retry(self, message_id: str):
        actor = await require(self, Perm.OUTBOX_VIEW)
        try:
            await asyncio.to_thread(outbox.retry, actor, int(message_id))
        except (AtlasError, ValueError) as exc:
            return rx.toast.error(str(exc))
        await self._refresh(actor)


@staff_page("/admin/outbox", "Email outbox", on_load=OutboxState.load)
def outbox_page() -> rx.Component:
    return rx.vstack(
        rx.cond(
            OutboxState.smtp_configured,
            rx.callout("Emails are delivered through the configured mail server.", icon="info"),
            rx.callout("No mail server is configured (SMTP_URL): emails are held here for staff to read.",
                       icon="info", color_scheme="amber"),
        ),
        rx.cond(
            OutboxState.notify_configured,
            rx.callout("GOV.UK Notify is configured: text messages, letters and emails with a Notify template go "
                       "through it.", icon="info"),
            rx.callout("GOV.UK Notify is not configured (NOTIFY_API_KEY): text messages and letters are held here.",
                       icon="info", color_scheme="amber"),
        ),
        data_table(
            ["Queued", "Channel", "To", "Subject", "Status", "Attempts", "Sent", "Delivery", "Problem", ""],
            OutboxState.rows,
            lambda r: [r["created"], r["channel"], r["to"], r["subject"],
                       status_badge(r["status"], EMAIL_STATUS_COLOURS), r["attempts"], r["sent"], r["receipt"],
                       r["error"],
                       rx.hstack(
                           rx.button("Read", size="1", variant="soft", on_click=OutboxState.show(r["id"]),
                                     aria_label="Read email " + r["id"]),
                           rx.cond(r["status"] == "failed",
                                   rx.button("Retry", size="1", on_click=OutboxState.retry(r["id"]))),
                           spacing="2")],
            caption="Messages, newest first",
        ),
        rx.dialog.root(
            rx.dialog.content(
                rx.dialog.title(OutboxState.selected["subject"]),
                rx.dialog.description(rx.text("To ", OutboxState.selected["to"]), size="2"),
                rx.el.pre(OutboxState.selected["body"], style={"white-space": "pre-wrap", "font-size": "0.9em"}),
                rx.cond(OutboxState.selected["attachments"] != "",
                        rx.text("Attachments: ", OutboxState.selected["attachments"], size="2")),
                rx.dialog.close(rx.button("Close", on_click=OutboxState.close)),
                max_width="40em",
            ),
            open=OutboxState.selected.length() > 0,
        ),
        spacing="4",
        width="100%",
    )
