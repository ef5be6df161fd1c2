"""/pay/demo: the demo card payment page, used when Stripe is not configured. Clearly labelled "DEMO — no real
money"; it behaves like Stripe's test mode (4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined).

Security: the state is public. The checkout attempt is named in the address by an unguessable token, kept only in a
backend var; card details pass through the submit handler and are never stored or put in state.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlparse

import reflex as rx

from atlas_app.domain.statuses import CheckoutStatus
from atlas_app.services.payments import checkout
from atlas_app.services.payments.stripe_gateway import PaymentsUnavailable
from atlas_app.services.platform.errors import NotFound
from atlas_app.services.platform.i18n import money as pounds
from atlas_app.ui.components.paid_flag import demo_banner
from atlas_app.ui.components.shell import public_shell
from atlas_app.ui.i18n import N_, _, interpolate, public_page, to
from atlas_app.ui.public.pay_return import provider_message
from atlas_app.ui.session import public

FIELD_LABELS = {"card_number": N_("Card number"), "expiry": N_("Expiry date"), "cvc": N_("Security code (CVC)")}
FOCUS_JS = "setTimeout(() => { const e = document.getElementById('pay-problem'); if (e) e.focus(); }, 60)"


def local_path(url: str) -> str:
    """A same-site address as a path (the provider hands back absolute addresses under BASE_URL)."""
    parsed = urlparse(url or "")
    path = parsed.path or "/"
    return path + (f"?{parsed.query}" if parsed.query else "")


@public
class PayDemoState(rx.State):
    # Display strings only.
    status: str = "loading"  # loading, open, complete, expired, missing, unavailable
    amount_text: str = ""
    reference: str = ""
    course_text: str = ""
    session_text: str = ""
    organisation_name: str = ""
    cancel_path: str = "/"
    problem: str = ""
    errors: dict[str, str] = {}
    error_fields: list[dict[str, str]] = []
    paying: bool = False
    _token: str = ""

    @rx.event
    async def load(self):
        # Keep the token if only the fragment changed (an in-page link), not the checkout in the address.
        self._token = str(self.router.url.query_parameters.get("attempt", "") or self._token)[:100]
        self.problem, self.errors, self.error_fields, self.paying = "", {}, [], False
        try:
            view = await asyncio.to_thread(checkout.demo_checkout, self._token)
        except NotFound:
            self.status = "missing"
            return
        except PaymentsUnavailable as exc:
            self.status, self.problem = "unavailable", _(str(exc))
            return
        self.status = str(view.status)
        self.amount_text = pounds(view.amount_pence)
        self.reference = view.booking_reference
        self.course_text = view.course_text
        self.session_text = view.session_text
        self.organisation_name = view.organisation_name
        self.cancel_path = to(local_path(view.cancel_url))
        if view.status == CheckoutStatus.COMPLETE:
            return rx.redirect(to(local_path(view.return_url)))

    @rx.event
    async def pay(self, form: dict[str, Any]):
        if self.paying or self.status != CheckoutStatus.OPEN or not self._token:
            return
        self.paying = True
        yield
        try:
            result = await asyncio.to_thread(
                checkout.demo_pay, self._token, str(form.get("card_number", ""))[:40],
                str(form.get("expiry", ""))[:10], str(form.get("cvc", ""))[:10])
        except (NotFound, PaymentsUnavailable) as exc:
            self.paying, self.problem, self.errors, self.error_fields = False, _(str(exc)), {}, []
            yield rx.call_script(FOCUS_JS)
            return
        self.paying = False
        if result.outcome == "paid":
            self.status = CheckoutStatus.COMPLETE.value
            yield rx.redirect(to(local_path(result.redirect_url)))
            return
        if result.outcome == "closed":
            self.status = CheckoutStatus.EXPIRED.value
        errors = {k: provider_message(m) for k, m in (result.errors or {}).items()}
        self.errors = errors
        self.error_fields = [{"message": m, "href": f"#{_fid(k)}"} for k, m in errors.items()]
        self.problem = provider_message(result.message) if result.outcome != "invalid" else ""
        yield rx.call_script(FOCUS_JS)


P = PayDemoState


def _fid(name: str) -> str:
    return f"pay-{name.replace('_', '-')}"


def _field(label: str, name: str, hint: str, autocomplete: str, width: str, max_length: int) -> rx.Component:
    fid = _fid(name)
    has_error = P.errors.contains(name)
    return rx.vstack(
        rx.el.label(label, html_for=fid, style={"font_weight": "600"}),
        rx.text(hint, id=f"{fid}-hint", size="2", color_scheme="gray"),
        rx.cond(has_error, rx.text(rx.el.span(_("Error: "), class_name="sr-only"), P.errors.get(name, ""),
                                   id=f"{fid}-error", color_scheme="red", weight="bold", size="2")),
        rx.el.input(
            id=fid, name=name, type="text", input_mode="numeric", auto_complete=autocomplete, max_length=max_length,
            spell_check=False, aria_invalid=rx.cond(has_error, "true", "false"),
            aria_describedby=rx.cond(has_error, f"{fid}-hint {fid}-error", f"{fid}-hint"),
            style={"width": width, "max_width": "100%", "min_height": "44px", "padding": "0.5em 0.6em",
                   "font_size": "1.1em", "border_radius": "var(--radius-2)", "background": "var(--color-background)",
                   "border": rx.cond(has_error, "3px solid var(--red-9)", "2px solid var(--gray-9)"),
                   "&:focus-visible": {"outline": "3px solid var(--accent-9)", "outline_offset": "2px"}},
        ),
        spacing="1",
        width="100%",
        align_items="stretch",
    )


def _problem_box() -> rx.Component:
    return rx.cond(
        (P.problem != "") | (P.error_fields.length() > 0),
        rx.box(
            rx.heading(_("There is a problem"), size="4", as_="h2", margin_bottom="0.4em"),
            rx.cond(P.problem != "", rx.text(P.problem, id="pay-problem-message")),
            rx.el.ul(
                *[rx.cond(P.errors.contains(key), rx.el.li(rx.el.a(
                    P.errors.get(key, ""), href=f"#{_fid(key)}",
                    # Move focus to the field without navigating (the page address carries the checkout token).
                    on_click=[rx.prevent_default, rx.call_script(f"document.getElementById('{_fid(key)}').focus()")],
                    style={"color": "var(--red-11)", "font_weight": "600", "text_decoration": "underline"})))
                  for key in FIELD_LABELS],
                style={"margin": "0.4em 0 0 1.2em", "padding": "0"},
            ),
            id="pay-problem",
            role="alert",
            tab_index=-1,
            style={"border": "4px solid var(--red-9)", "padding": "1em", "border_radius": "var(--radius-2)"},
        ),
    )


def _summary() -> rx.Component:
    row = {"margin": "0 0 0.4em 0"}
    return rx.el.dl(
        rx.el.dt(_("Amount to pay"), style={"font_weight": "600"}),
        rx.el.dd(rx.text(P.amount_text, size="6", weight="bold"), id="pay-amount", style=row),
        rx.el.dt(_("Booking reference"), style={"font_weight": "600"}),
        rx.el.dd(P.reference, id="pay-reference", style=row),
        rx.el.dt(_("Course"), style={"font_weight": "600"}),
        rx.el.dd(P.course_text, rx.el.br(), P.session_text, style=row),
        rx.el.dt(_("Paid to"), style={"font_weight": "600"}),
        rx.el.dd(P.organisation_name, style=row),
        style={"margin": "0"},
    )


def _form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _field(_("Card number"), "card_number", _("The long number on the front of the card. For this demo "
                   "use 4242 4242 4242 4242 (pays) or 4000 0000 0000 0002 (declined)."), "cc-number", "100%", 23),
            _field(_("Expiry date"), "expiry", _("Month and year, for example 12 / 30."), "cc-exp", "8em", 7),
            _field(_("Security code (CVC)"), "cvc", _("The last 3 digits on the back of the card (any 3 digits in "
                   "the demo)."), "cc-csc", "6em", 4),
            rx.button(rx.cond(P.paying, _("Paying…"),
                              rx.fragment(*interpolate(_("Pay {amount} (demo)"), amount=P.amount_text))),
                      type="submit",
                      size="3", id="pay-submit", disabled=P.paying,
                      style={"min_height": "48px", "width": "100%", "max_width": "20em", "font_weight": "600"}),
            spacing="4",
            width="100%",
            align_items="stretch",
        ),
        on_submit=P.pay,
        reset_on_submit=False,
        aria_label=_("Demo card payment"),
        no_validate=True,
    )


@public_page("/pay/demo", N_("Pay for your course (DEMO — no real money) · Atlas"), on_load=P.load)
def pay_demo_page() -> rx.Component:
    return public_shell(
        demo_banner(),
        rx.heading(_("Pay for your course"), size="7", as_="h1", id="pay-heading"),
        rx.match(
            P.status,
            ("loading", rx.center(rx.spinner(size="3"), rx.text(_("Loading…"), margin_left="0.5em"),
                                  padding="2em")),
            ("missing", rx.box(rx.text(_("This payment page does not exist or has expired. No money has been "
                                         "taken.")),
                               rx.link(_("Go to the booking site"), href=to("/")), id="pay-missing", role="alert")),
            ("unavailable", rx.box(rx.text(P.problem), rx.link(_("Go to the booking site"), href=to("/")),
                                   id="pay-unavailable", role="alert")),
            (CheckoutStatus.EXPIRED.value, rx.vstack(
                _summary(),
                rx.box(rx.text(_("This payment page has timed out. No money has been taken. Go back to your "
                                 "booking to start again.")), id="pay-expired", role="alert",
                       style={"border": "4px solid var(--red-9)", "padding": "1em",
                              "border_radius": "var(--radius-2)"}),
                rx.link(_("Back to your booking"), href=P.cancel_path),
                spacing="4", align_items="stretch", width="100%")),
            (CheckoutStatus.COMPLETE.value, rx.text(_("This booking has been paid. Taking you to the "
                                                      "confirmation…"))),
            rx.vstack(
                _problem_box(),
                _summary(),
                _form(),
                rx.link(_("Cancel and go back without paying"), href=P.cancel_path, id="pay-cancel",
                        style={"display": "inline-flex", "min_height": "44px", "align_items": "center"}),
                spacing="5",
                width="100%",
                align_items="stretch",
            ),
        ),
        width="36em",
    )
