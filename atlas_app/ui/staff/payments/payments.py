"""/bookings/payments: take a card payment by telephone or record an offline payment for a booking, refund with a
reason, the payments that need attention, and the reconciliation report with CSV downloads.

Every handler re-checks the signed-in actor and permission on the server; the services scope every id to the
actor's organisation, so a reference or payment id from the browser can only ever reach this organisation's data.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import reflex as rx

from atlas_app.domain.money import pence_decimal
from atlas_app.domain.statuses import BOOKING_LABELS
from atlas_app.services import payments
from atlas_app.services.payments import checkout
from atlas_app.services.platform import bounds
from atlas_app.services.platform.errors import AtlasError, PermissionDenied, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.timeutil import london_date, utcnow
from atlas_app.ui.components.forms import field
from atlas_app.ui.components.paid_flag import demo_banner, paid_flag
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.components.table import data_table
from atlas_app.ui.format import london, pounds
from atlas_app.ui.session import private, require

register_nav("Bookings", NavItem("Payments", "/bookings/payments", "credit_card", Perm.PAYMENTS_TAKE))

STAFF_METHOD_OPTIONS = [
    ("card_telephone", "Card by telephone (card terminal)"),
    ("cheque", "Cheque"),
    ("cash", "Cash"),
    ("bank_transfer", "Bank transfer"),
    ("waiver", "Waive the fee (special circumstances)"),
]
SELECT_STYLE = {"padding": "0.5em", "border-radius": "var(--radius-2)", "border": "1px solid var(--gray-7)",
                "background": "var(--color-background)", "min-height": "2.5em", "width": "100%", "font-size": "1em"}


def form_error(message: rx.Var) -> rx.Component:
    """A problem with a form, announced when it appears (high contrast for WCAG AA)."""
    return rx.cond(message != "", rx.callout(message, icon="triangle_alert", color_scheme="red", high_contrast=True,
                                             role="alert", width="100%"))


def form_notice(message: rx.Var) -> rx.Component:
    return rx.cond(message != "", rx.callout(message, icon="info", color_scheme="green", high_contrast=True,
                                             role="status", width="100%"))


def _select(label: str, name: str, options: list[tuple[str, str]], input_id: str, hint: str = "") -> rx.Component:
    props: dict[str, Any] = {"id": input_id, "name": name, "style": SELECT_STYLE}
    parts = [rx.el.label(label, html_for=input_id, font_weight="500", font_size="0.95em")]
    if hint:
        parts.append(rx.text(hint, id=f"{input_id}-hint", size="2", color_scheme="gray"))
        props["aria-describedby"] = f"{input_id}-hint"
    parts.append(rx.el.select(*[rx.el.option(text, value=value) for value, text in options], **props))
    return rx.vstack(*parts, spacing="1", width="100%", align_items="stretch")


def _date(value: Any, what: str) -> date:
    try:
        day = date.fromisoformat(str(value or "").strip())
    except ValueError:
        raise ValidationFailed(f"Enter the {what} as a date.", {what: "invalid"}) from None
    return bounds.filter_date(day, what)


@private
class BookingPaymentsState(rx.State):
    can_take: bool = False
    can_refund: bool = False
    can_report: bool = False
    notice: str = ""
    find_error: str = ""
    take_error: str = ""
    refund_error: str = ""
    plan_error: str = ""
    booking: dict[str, str] = {}
    payment_rows: list[dict[str, str]] = []
    refund_rows: list[dict[str, str]] = []
    attention_rows: list[dict[str, str]] = []
    any_demo: bool = False
    refund_target: dict[str, str] = {}
    recon_from: str = ""
    recon_to: str = ""
    recon_error: str = ""
    recon_rows: list[dict[str, str]] = []
    recon_totals: list[dict[str, str]] = []
    recon_demo: bool = False
    recon_ran: bool = False
    moto_available: bool = False
    moto_error: str = ""
    _reference: str = ""

    async def _actor(self, permission: str | None = None):
        actor = await require(self)
        if not (actor.can(Perm.PAYMENTS_TAKE) or actor.can(Perm.PAYMENTS_REFUND)):
            raise PermissionDenied()
        if permission is not None:
            actor.require(permission)
        return actor

    @rx.event
    async def load(self):
        actor = await self._actor()
        self.can_take = actor.can(Perm.PAYMENTS_TAKE)
        self.can_refund = actor.can(Perm.PAYMENTS_REFUND)
        self.can_report = actor.can(Perm.REPORTS_VIEW)
        self.moto_available = bool(self.can_take and actor.organisation_id is not None and await asyncio.to_thread(
            checkout.moto_available, actor.organisation_id))
        self.moto_error = ""
        self.notice = self.find_error = self.take_error = self.refund_error = self.recon_error = ""
        self.refund_target = {}
        today = london_date(utcnow()).isoformat()
        self.recon_from = self.recon_from or today
        self.recon_to = self.recon_to or today
        await self._load_attention(actor)
        ref = str(self.router.url.query_parameters.get("ref", "")).strip()[:20]
        if ref:
            await self._show(actor, ref)
        elif self._reference:
            await self._show(actor, self._reference)

    async def _load_attention(self, actor) -> None:
        rows = await asyncio.to_thread(payments.attention_list, actor)
        self.attention_rows = [
            {"payment_id": str(r.payment_id), "reference": r.booking_reference, "client": r.client_name,
             "status": BOOKING_LABELS.get(r.booking_status, r.booking_status), "amount": pounds(r.amount_pence),
             "refundable": pounds(r.refundable_pence), "received": london(r.received_at), "reason": r.reason,
             "demo": "yes" if r.is_demo else ""}
            for r in rows
        ]

    async def _show(self, actor, reference: str) -> None:
        bp = await asyncio.to_thread(payments.booking_payments, actor, reference)
        b, s = bp.booking, bp.summary
        self._reference = b.reference
        plan = next((p for p in bp.plans if p.status == "active"), None)
        self.booking = {
            "reference": b.reference, "client": b.client_name, "offer": b.offer_reference,
            "course": f"{b.course_name} ({b.course_code})", "session": b.session_text,
            "status": BOOKING_LABELS.get(b.status, b.status), "fee": pounds(s.fee_pence), "paid": pounds(s.paid_pence),
            "refunded": pounds(s.refunded_pence), "waived": pounds(s.waived_pence),
            "outstanding": pounds(s.outstanding_pence), "outstanding_value": pence_decimal(s.outstanding_pence),
            "due": s.due_text, "state": s.state, "amount_label": s.amount_label, "amount": pounds(s.amount_pence),
            "plan": ("; ".join(f"{pounds(a)} by {d:%d %b %Y}" for d, a in plan.instalments)
                     + (" (may attend on the plan)" if plan.allow_attend_on_plan else "")) if plan else "",
        }
        self.payment_rows = [
            {"id": str(p.id), "received": london(p.received_at), "method": p.method_label,
             "amount": pounds(p.amount_pence), "status": p.status, "reference": p.provider_ref,
             "fee": pounds(p.fee_pence) if p.fee_pence is not None else "",
             "refunded": pounds(p.refunded_pence) if p.refunded_pence else "",
             "refundable": pounds(p.refundable_pence), "refundable_value": pence_decimal(p.refundable_pence),
             "can_refund": "yes" if p.refundable_pence > 0 else "", "by": p.recorded_by, "note": p.note,
             "booking": p.booking_reference, "demo": "yes" if p.is_demo else "",
             "attention": p.attention_reason if p.needs_attention else ""}
            for p in bp.payments
        ]
        self.refund_rows = [
            {"at": london(r.at), "amount": pounds(r.amount_pence), "reason": r.reason, "status": r.status,
             "by": r.by_username, "reference": r.provider_ref, "error": r.error}
            for r in bp.refunds
        ]
        self.any_demo = any(p.is_demo for p in bp.payments)

    @rx.event
    async def find(self, form: dict[str, Any]):
        actor = await self._actor()
        self.notice = self.find_error = self.take_error = ""
        try:
            await self._show(actor, str(form.get("reference", ""))[:20])
        except AtlasError as exc:
            self.find_error, self.booking, self.payment_rows, self.refund_rows = str(exc), {}, [], []
            self._reference = ""

    @rx.event
    async def open_booking(self, reference: str):
        actor = await self._actor()
        self.notice = self.find_error = ""
        try:
            await self._show(actor, str(reference)[:20])
        except AtlasError as exc:
            self.find_error = str(exc)

    @rx.event
    async def take_payment(self, form: dict[str, Any]):
        method = str(form.get("method", ""))
        actor = await self._actor(Perm.PAYMENTS_REFUND if method == "waiver" else Perm.PAYMENTS_TAKE)
        self.take_error = self.notice = ""
        if not self._reference:
            self.take_error = "Find the booking first."
            return
        try:
            row = await asyncio.to_thread(
                payments.record_payment, actor, self._reference, str(form.get("amount", ""))[:20], method,
                reference=str(form.get("payment_reference", ""))[:100], note=str(form.get("note", ""))[:500])
        except AtlasError as exc:
            self.take_error = str(exc)
            return
        await self._show(actor, self._reference)
        await self._load_attention(actor)
        self.notice = f"{pounds(row.amount_pence)} recorded ({row.method_label.lower()}) for {self._reference}."

    @rx.event
    async def take_moto(self):
        """Open GOV.UK Pay's card page for a telephone (MOTO) payment of what is owed on the booking shown; the
        service refuses it unless the organisation's GOV.UK Pay account allows MOTO payments."""
        actor = await self._actor(Perm.PAYMENTS_TAKE)
        self.moto_error = self.notice = ""
        if not self._reference:
            self.moto_error = "Find the booking first."
            return
        try:
            start = await asyncio.to_thread(checkout.start_moto_payment, actor, self._reference)
        except AtlasError as exc:
            self.moto_error = str(exc)
            return
        yield rx.redirect(start.url)

    @rx.event
    async def approve_plan(self, form: dict[str, Any]):
        actor = await self._actor(Perm.PAYMENTS_REFUND)
        self.plan_error = self.notice = ""
        if not self._reference:
            self.plan_error = "Find the booking first."
            return
        try:
            instalments = payments.parse_instalments(str(form.get("instalments", ""))[:2000])
            await asyncio.to_thread(payments.approve_plan, actor, self._reference, instalments,
                                    allow_attend_on_plan=form.get("allow_attend") in ("on", "true", True),
                                    reason=str(form.get("reason", ""))[:1000])
        except AtlasError as exc:
            self.plan_error = str(exc)
            return
        await self._show(actor, self._reference)
        self.notice = f"Payment plan agreed for {self._reference}."

    @rx.event
    async def start_refund(self, payment_id: str, refundable: str, amount_text: str):
        await self._actor(Perm.PAYMENTS_REFUND)
        self.refund_error = ""
        self.refund_target = {"id": str(payment_id)[:12], "max": str(refundable)[:12],
                              "max_text": str(amount_text)[:20]}

    @rx.event
    def close_refund(self):
        self.refund_target = {}
        self.refund_error = ""

    @rx.event
    async def refund(self, form: dict[str, Any]):
        actor = await self._actor(Perm.PAYMENTS_REFUND)
        payment_id = self.refund_target.get("id", "")
        if not payment_id:
            return
        self.refund_error = ""
        try:
            row = await asyncio.to_thread(payments.refund_payment, actor, payment_id,
                                          str(form.get("amount", ""))[:20], str(form.get("reason", ""))[:500])
        except AtlasError as exc:
            self.refund_error = str(exc)
            return
        self.refund_target = {}
        if self._reference:
            await self._show(actor, self._reference)
        await self._load_attention(actor)
        self.notice = f"{pounds(row.amount_pence)} refunded."

    @rx.event
    async def run_report(self, form: dict[str, Any]):
        actor = await self._actor(Perm.REPORTS_VIEW)
        self.recon_error = ""
        try:
            start, end = _date(form.get("date_from"), "date_from"), _date(form.get("date_to"), "date_to")
            report = await asyncio.to_thread(payments.reconciliation, actor, start, end)
        except AtlasError as exc:
            self.recon_error = str(exc).replace("date_from", "start date").replace("date_to", "end date")
            return
        self.recon_from, self.recon_to = start.isoformat(), end.isoformat()
        self.recon_rows = [
            {"day": f"{r.day:%a %d %b %Y}", "method": r.label, "payments": str(r.payments),
             "gross": pounds(r.gross_pence), "fees": pounds(r.fees_pence) + (" *" if r.fees_unknown else ""),
             "refunds": pounds(r.refunds_pence), "net": pounds(r.net_pence), "after_fees": pounds(r.after_fees_pence)}
            for r in report.rows
        ]
        self.recon_totals = [
            {"method": t.label, "payments": str(t.payments), "gross": pounds(t.gross_pence),
             "fees": pounds(t.fees_pence) + (" *" if t.fees_unknown else ""), "refunds": pounds(t.refunds_pence),
             "net": pounds(t.net_pence), "after_fees": pounds(t.after_fees_pence)}
            for key, t in report.totals.items()
        ]
        self.recon_demo = report.includes_demo
        self.recon_ran = True

    @rx.event
    async def download(self, kind: str):
        actor = await self._actor(Perm.REPORTS_VIEW)
        kind = "summary" if kind == "summary" else "lines"
        try:
            start, end = _date(self.recon_from, "date_from"), _date(self.recon_to, "date_to")
            text = await asyncio.to_thread(payments.reconciliation_csv, actor, start, end, kind)
        except AtlasError as exc:
            self.recon_error = str(exc)
            return
        name = f"payments-{kind}-{start.isoformat()}-to-{end.isoformat()}.csv"
        return rx.download(data=text, filename=name, mime_type="text/csv")


S = BookingPaymentsState


def _booking_panel() -> rx.Component:
    b = S.booking
    row = {"margin": "0 0 0.4em 0"}

    def item(term, value) -> list[rx.Component]:
        return [rx.el.dt(term, style={"font-weight": "500", "color": "var(--gray-11)"}), rx.el.dd(value, style=row)]

    return rx.card(
        rx.vstack(
            rx.hstack(rx.heading(b["reference"], size="5", as_="h2", id="pay-booking-heading"),
                      paid_flag(b["state"], id="booking-paid-flag"), spacing="3", align="center", wrap="wrap"),
            rx.el.dl(
                *item("Client", b["client"]), *item("Offer", b["offer"]), *item("Course", b["course"]),
                *item("When and where", b["session"]), *item("Booking status", b["status"]),
                *item("Fee", b["fee"]), *item("Paid (after refunds)", b["paid"]), *item("Waived", b["waived"]),
                *item(b["amount_label"], rx.text(b["amount"], weight="bold", id="booking-outstanding")),
                *item("Due", rx.cond(b["due"] != "", rx.text(b["due"], id="booking-due"), "—")),
                *item("Payment plan", rx.cond(b["plan"] != "", b["plan"], "None")),
                style={"display": "grid", "grid-template-columns": "minmax(8em, max-content) minmax(0, 1fr)",
                       "column-gap": "1em", "margin": "0"},
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _moto_form() -> rx.Component:
    return rx.cond(
        S.moto_available & (S.booking["outstanding"] != "£0.00"),
        rx.card(
            rx.vstack(
                rx.heading("Card payment by telephone on GOV.UK Pay", size="4", as_="h2"),
                rx.text("Opens GOV.UK Pay's card page for what is owed (", S.booking["outstanding"], "). Key in the "
                        "card details the caller reads out. When it is done, GOV.UK Pay returns to Atlas's payment "
                        "page, which confirms the payment and marks the booking paid.", size="2", color_scheme="gray"),
                form_error(S.moto_error),
                rx.button("Take the card payment on GOV.UK Pay", on_click=S.take_moto, id="pay-moto", size="3"),
                spacing="3", width="100%", align_items="stretch",
            ),
            width="100%",
        ),
    )


def _take_form() -> rx.Component:
    return rx.cond(
        S.can_take,
        rx.card(
            rx.form(
                rx.vstack(
                    rx.heading("Take or record a payment", size="4", as_="h2"),
                    rx.text("For a card payment by telephone, take it on the card terminal first, then record it "
                            "here with the terminal's authorisation code. Never write card numbers here.",
                            size="2", color_scheme="gray"),
                    form_error(S.take_error),
                    _select("How was it paid?", "method", STAFF_METHOD_OPTIONS, "pay-method"),
                    field("Amount (£)", "amount", input_id="pay-amount-input", required=True,
                          hint="Defaults to what is still owed.", default_value=S.booking["outstanding_value"],
                          key=S.booking["reference"] + S.booking["outstanding_value"], input_mode="decimal"),
                    field("Reference", "payment_reference", input_id="pay-reference-input",
                          hint="Authorisation code, cheque number or bank reference. Not needed for cash or "
                               "waivers.", max_length=100),
                    field("Note", "note", input_id="pay-note-input", hint="Required when waiving the fee: the "
                          "special circumstances.", max_length=500),
                    rx.button("Record payment", type="submit", id="pay-record", size="3"),
                    spacing="3",
                    width="100%",
                    align_items="stretch",
                ),
                on_submit=S.take_payment,
                reset_on_submit=True,
                aria_label="Take or record a payment",
            ),
            width="100%",
        ),
    )


def _plan_form() -> rx.Component:
    return rx.cond(
        S.can_refund & (S.booking["plan"] == "") & (S.booking["outstanding"] != "£0.00"),
        rx.card(
            rx.el.details(
                rx.el.summary("Agree a payment plan (special circumstances)", style={"cursor": "pointer",
                                                                                    "font-weight": "600"}),
                rx.form(
                    rx.vstack(
                        rx.text("The instalments must add up to what is still owed. The booking counts as paid "
                                "only when the plan is complete.", size="2", color_scheme="gray"),
                        form_error(S.plan_error),
                        rx.vstack(
                            rx.el.label("Instalments", html_for="plan-instalments", font_weight="500"),
                            rx.text("One per line: the date it is due and the amount, for example 01/12/2026 45.00",
                                    id="plan-instalments-hint", size="2", color_scheme="gray"),
                            rx.el.textarea(id="plan-instalments", name="instalments", rows=4, required=True,
                                           aria_describedby="plan-instalments-hint",
                                           style={"padding": "0.5em", "border-radius": "var(--radius-2)",
                                                  "border": "1px solid var(--gray-7)", "font": "inherit",
                                                  "width": "100%"}),
                            spacing="1", width="100%", align_items="stretch",
                        ),
                        rx.el.div(
                            rx.el.input(type="checkbox", id="plan-allow-attend", name="allow_attend",
                                        style={"width": "1.25em", "height": "1.25em", "margin": "0"}),
                            rx.el.label("The client may attend before the plan is complete",
                                        html_for="plan-allow-attend"),
                            style={"display": "flex", "gap": "0.5em", "align-items": "center"},
                        ),
                        field("Special circumstances", "reason", input_id="plan-reason", required=True,
                              max_length=1000),
                        rx.button("Agree the plan", type="submit", id="plan-submit", size="3"),
                        spacing="3",
                        width="100%",
                        align_items="stretch",
                        margin_top="0.75em",
                    ),
                    on_submit=S.approve_plan,
                    aria_label="Agree a payment plan",
                ),
            ),
            width="100%",
        ),
    )


def _payments_table() -> rx.Component:
    return rx.vstack(
        rx.heading("Payments", size="4", as_="h2"),
        rx.cond(S.any_demo, demo_banner("Payments marked DEMO were made with the demo card provider: "
                                        "DEMO — no real money.")),
        data_table(
            ["Received", "Method", "Amount", "Status", "Reference", "Stripe fee", "Refunded", "By", "Note", ""],
            S.payment_rows,
            lambda r: [
                r["received"],
                rx.fragment(r["method"], rx.cond(r["demo"] == "yes", rx.badge("DEMO — no real money",
                                                                             color_scheme="amber", ml="0.4em"))),
                r["amount"], r["status"], r["reference"], r["fee"], r["refunded"], r["by"],
                rx.fragment(r["note"], rx.cond(r["attention"] != "", rx.text("Needs attention: ", r["attention"],
                                                                              color_scheme="red", size="2"))),
                rx.cond(S.can_refund & (r["can_refund"] == "yes"),
                        rx.button("Refund", size="1", variant="soft",
                                  on_click=S.start_refund(r["id"], r["refundable_value"], r["refundable"]),
                                  aria_label="Refund payment of " + r["amount"] + " received " + r["received"])),
            ],
            caption="Payments for this booking",
            empty="No payments yet.",
        ),
        rx.cond(
            S.refund_rows.length() > 0,
            rx.vstack(
                rx.heading("Refunds", size="3", as_="h3"),
                data_table(["When", "Amount", "Reason", "Status", "By", "Reference", "Problem"], S.refund_rows,
                           lambda r: [r["at"], r["amount"], r["reason"], r["status"], r["by"], r["reference"],
                                      r["error"]],
                           caption="Refunds for this booking"),
                width="100%",
            ),
        ),
        width="100%",
        spacing="3",
    )


def _refund_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Refund a payment"),
            rx.dialog.description(rx.text("Up to ", S.refund_target["max_text"], " can be refunded. Card payments "
                                          "taken online are refunded to the card through Stripe."), size="2"),
            rx.form(
                rx.vstack(
                    form_error(S.refund_error),
                    field("Amount to refund (£)", "amount", input_id="refund-amount", required=True,
                          default_value=S.refund_target["max"], key=S.refund_target["id"], input_mode="decimal"),
                    field("Reason", "reason", input_id="refund-reason", required=True, max_length=500,
                          hint="Required. It is shown to the client and kept in the audit trail."),
                    rx.hstack(
                        rx.button("Refund", type="submit", color_scheme="red", id="refund-submit"),
                        rx.dialog.close(rx.button("Cancel", variant="soft", type="button", on_click=S.close_refund)),
                        spacing="3",
                    ),
                    spacing="3",
                    width="100%",
                    align_items="stretch",
                ),
                on_submit=S.refund,
                aria_label="Refund",
            ),
            max_width="32em",
        ),
        open=S.refund_target.length() > 0,
        on_open_change=lambda _open: S.close_refund(),
    )


def _attention() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Payments needing attention", size="4", as_="h2", id="attention-heading"),
            rx.text("Money that arrived after the booking's seat was lost, or more than the fee. Offer the client "
                    "another session (book it, then open the booking) or refund the payment.", size="2",
                    color_scheme="gray"),
            data_table(
                ["Received", "Booking", "Client", "Booking status", "Amount", "Why", ""],
                S.attention_rows,
                lambda r: [
                    r["received"],
                    rx.fragment(r["reference"], rx.cond(r["demo"] == "yes", rx.badge("DEMO", color_scheme="amber",
                                                                                     ml="0.4em"))),
                    r["client"], r["status"], r["amount"], r["reason"],
                    rx.hstack(
                        rx.button("Open", size="1", variant="soft", on_click=S.open_booking(r["reference"]),
                                  aria_label="Open booking " + r["reference"]),
                        rx.cond(S.can_refund, rx.button(
                            "Refund", size="1", color_scheme="red", variant="soft",
                            on_click=S.start_refund(r["payment_id"], r["refundable"].replace("£", ""),
                                                    r["refundable"]),
                            aria_label="Refund the payment for " + r["reference"])),
                        spacing="2"),
                ],
                caption="Payments needing attention",
                empty="Nothing needs attention.",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="attention",
    )


def _reconciliation() -> rx.Component:
    totals_cells = lambda r: [r["method"], r["payments"], r["gross"], r["fees"], r["refunds"], r["net"],  # noqa: E731
                              r["after_fees"]]
    return rx.cond(
        S.can_report,
        rx.card(
            rx.vstack(
                rx.heading("Reconciliation", size="4", as_="h2"),
                rx.text("Money in and out per day and method. Refunds count on the day they were made. Stripe fees "
                        "are shown where Stripe reported them (* = some unknown).", size="2", color_scheme="gray"),
                rx.form(
                    rx.hstack(
                        field("From", "date_from", type="date", input_id="recon-from", default_value=S.recon_from,
                              key=S.recon_from),
                        field("To", "date_to", type="date", input_id="recon-to", default_value=S.recon_to,
                              key=S.recon_to),
                        rx.button("Run report", type="submit", id="recon-run", size="3", margin_top="1.5em"),
                        spacing="3",
                        align="start",
                        wrap="wrap",
                        width="100%",
                    ),
                    on_submit=S.run_report,
                    aria_label="Reconciliation period",
                ),
                form_error(S.recon_error),
                rx.cond(
                    S.recon_ran,
                    rx.vstack(
                        rx.cond(S.recon_demo, demo_banner("This period includes DEMO payments (demo card provider): "
                                                          "DEMO — no real money.")),
                        data_table(["Day", "Method", "Payments", "Taken", "Stripe fees", "Refunds", "Net",
                                    "Net after fees"], S.recon_rows,
                                   lambda r: [r["day"], r["method"], r["payments"], r["gross"], r["fees"],
                                              r["refunds"], r["net"], r["after_fees"]],
                                   caption="Reconciliation by day and method", empty="No payments in this period."),
                        rx.heading("Totals", size="3", as_="h3"),
                        data_table(["Method", "Payments", "Taken", "Stripe fees", "Refunds", "Net", "Net after fees"],
                                   S.recon_totals, totals_cells, caption="Reconciliation totals"),
                        rx.hstack(
                            rx.button(rx.icon("download", size=16, aria_hidden="true"), "Download every payment (CSV)",
                                      on_click=S.download("lines"), variant="soft", id="recon-csv-lines"),
                            rx.button(rx.icon("download", size=16, aria_hidden="true"), "Download the summary (CSV)",
                                      on_click=S.download("summary"), variant="soft", id="recon-csv-summary"),
                            spacing="3",
                            wrap="wrap",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            width="100%",
        ),
    )


@staff_page("/bookings/payments", "Payments", on_load=S.load)
def bookings_payments_page() -> rx.Component:
    return rx.vstack(
        form_notice(S.notice),
        rx.card(
            rx.form(
                rx.hstack(
                    field("Booking reference", "reference", input_id="pay-find-reference", required=True,
                          hint="For example HAR-AB23CD4.", auto_capitalize="characters", spell_check=False),
                    rx.button("Find booking", type="submit", id="pay-find", size="3", margin_top="1.5em"),
                    spacing="3",
                    align="start",
                    wrap="wrap",
                    width="100%",
                ),
                on_submit=S.find,
                aria_label="Find a booking",
            ),
            form_error(S.find_error),
            width="100%",
        ),
        rx.cond(
            S.booking.length() > 0,
            rx.vstack(_booking_panel(), _moto_form(), _take_form(), _plan_form(), _payments_table(), spacing="4", width="100%"),
        ),
        _refund_dialog(),
        _attention(),
        _reconciliation(),
        spacing="4",
        width="100%",
        align_items="stretch",
    )


__all__ = ["BookingPaymentsState", "bookings_payments_page"]
