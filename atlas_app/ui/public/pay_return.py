"""/pay/return: where the client lands after the card payment page (Stripe's, or the demo's). The server asks the
card provider what happened and records it; the page then shows the confirmation, or says the payment was declined,
not finished or timed out (the booking is then still waiting for payment).

Security: the state is public; the checkout session id in the address is the only key, and nothing here takes the
browser's word for anything.
"""

from __future__ import annotations

import asyncio
import re

import reflex as rx

from atlas_app.services.payments import checkout
from atlas_app.services.payments.stripe_gateway import PaymentsUnavailable
from atlas_app.services.platform.errors import NotFound
from atlas_app.services.platform.i18n import money as pounds
from atlas_app.ui.components.paid_flag import demo_banner, paid_flag
from atlas_app.ui.components.shell import public_shell
from atlas_app.ui.i18n import N_, _, public_page, to
from atlas_app.ui.session import public

# The card provider's words for the client (atlas_app/services/payments/checkout.py), as catalogue entries: the
# page shows them in the client's language (tests/test_i18n.py checks each is still said there, word for word).
PROVIDER_MESSAGES = (
    N_("We have received your payment, but the place you chose was no longer free when it arrived. Your money is "
       "safe: we will contact you to offer another date or a full refund."),
    N_("Your payment has been received and your booking is confirmed."),
    N_("The payment has not been completed. Your booking is still waiting for payment."),
    N_("The payment page timed out before the payment was made. No money has been taken."),
    N_("The payment could not be started. No money has been taken."),
    N_("This payment page has timed out. No money has been taken. Go back to your booking to start again."),
    N_("Payment accepted."),
    N_("Your card was declined."),
    N_("Your card has insufficient funds."),
    N_("Your card has expired."),
    N_("Your card was declined. This is a demo: use the test card 4242 4242 4242 4242."),
    N_("Enter the card number."),
    N_("Enter a valid card number, for example 4242 4242 4242 4242."),
    N_("Enter the expiry date, for example 12 / 30."),
    N_("Enter the expiry date as month and year, for example 12 / 30."),
    N_("The expiry date is in the past."),
    N_("Enter the security code (CVC)."),
    N_("The security code is the 3 or 4 digits on the back of the card."),
)
_DECLINED_TAIL = " No money has been taken and your booking is still waiting for payment. You can try again with " \
                 "another card."
_STILL_TO_PAY = re.compile(r"^Your payment has been received\. (£[\d,.]+) is still to pay\.$")


def provider_message(message: str) -> str:
    """A message of the card provider's in the current language (English when it is not a catalogue entry)."""
    if message.endswith(_DECLINED_TAIL):
        head = message[: -len(_DECLINED_TAIL)]
        return _("{reason} No money has been taken and your booking is still waiting for payment. You can try "
                 "again with another card.").format(reason=_(head))
    match = _STILL_TO_PAY.match(message)
    if match:
        return _("Your payment has been received. {amount} is still to pay.").format(amount=match.group(1))
    return _(message)


@public
class PayReturnState(rx.State):
    outcome: str = "loading"  # loading, paid, attention, declined, open, expired, failed, missing, unavailable
    message: str = ""
    reference: str = ""
    amount_text: str = ""
    course_text: str = ""
    session_text: str = ""
    payment_state: str = ""
    is_demo: bool = False

    @rx.event
    async def load(self):
        session_id = str(self.router.url.query_parameters.get("session_id", ""))[:255]
        self.reset()
        try:
            result = await asyncio.to_thread(checkout.complete_checkout, session_id)
        except NotFound:
            self.outcome, self.message = "missing", _("We could not find that payment. No money has been taken.")
            return
        except PaymentsUnavailable as exc:
            self.outcome, self.message = "unavailable", _(str(exc))
            return
        self.outcome = result.outcome
        self.message = provider_message(result.message)
        self.reference = result.booking_reference
        self.amount_text = pounds(result.amount_pence)
        self.course_text = result.course_text
        self.session_text = result.session_text
        self.payment_state = result.payment_state
        self.is_demo = result.is_demo


R = PayReturnState


def _details() -> rx.Component:
    row = {"margin": "0 0 0.4em 0"}
    return rx.el.dl(
        rx.el.dt(_("Booking reference"), style={"font_weight": "600"}),
        rx.el.dd(rx.text(R.reference, size="6", weight="bold"), id="return-reference", style=row),
        rx.el.dt(_("Course"), style={"font_weight": "600"}),
        rx.el.dd(R.course_text, rx.el.br(), R.session_text, style=row),
        rx.el.dt(_("Amount"), style={"font_weight": "600"}),
        rx.el.dd(R.amount_text, style=row),
        rx.el.dt(_("Payment"), style={"font_weight": "600"}),
        rx.el.dd(paid_flag(R.payment_state, id="return-paid-flag"), style=row),
        style={"margin": "0"},
    )


def _box(heading: str, colour: str, box_id: str, role: str = "status") -> rx.Component:
    return rx.box(
        rx.heading(heading, size="6", as_="h1", id="return-heading"),
        rx.text(R.message, margin_top="0.5em", id="return-message"),
        id=box_id,
        role=role,
        style={"border": f"4px solid var(--{colour}-9)", "background": f"var(--{colour}-2)", "padding": "1.25em",
               "border_radius": "var(--radius-3)"},
    )


@public_page("/pay/return", N_("Your payment · Atlas"), on_load=R.load)
def pay_return_page() -> rx.Component:
    return public_shell(
        rx.cond(R.is_demo, demo_banner()),
        rx.match(
            R.outcome,
            ("loading", rx.vstack(rx.heading(_("Checking your payment"), size="6", as_="h1"),
                                  rx.center(rx.spinner(size="3"), padding="2em"))),
            ("paid", rx.vstack(_box(_("Thank you, your payment is received"), "green", "return-paid"), _details(),
                               rx.text(_("We are sending a receipt by email. Bring your photocard driving licence "
                                         "to the course.")),
                               spacing="4", align_items="stretch", width="100%")),
            ("attention", rx.vstack(_box(_("Your payment is received"), "amber", "return-attention"), _details(),
                                    spacing="4", align_items="stretch", width="100%")),
            ("declined", rx.vstack(_box(_("Your payment was declined"), "red", "return-declined", "alert"),
                                   rx.link(_("Manage your booking"), href=to("/booking/manage")),
                                   spacing="4", align_items="stretch", width="100%")),
            ("open", rx.vstack(_box(_("Your payment is not finished"), "amber", "return-open"),
                               rx.link(_("Manage your booking"), href=to("/booking/manage")),
                               spacing="4", align_items="stretch", width="100%")),
            ("expired", rx.vstack(_box(_("The payment page timed out"), "amber", "return-expired"),
                                  rx.link(_("Manage your booking"), href=to("/booking/manage")),
                                  spacing="4", align_items="stretch", width="100%")),
            rx.vstack(_box(_("We could not show your payment"), "red", "return-problem", "alert"),
                      rx.button(_("Check again"), on_click=R.load, id="return-check-again", size="3",
                                style={"min_height": "44px", "width": "fit-content"}),
                      rx.link(_("Go to the booking site"), href=to("/")),
                      spacing="4", align_items="stretch", width="100%"),
        ),
        width="36em",
    )
