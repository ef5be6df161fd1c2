"""/pay/return: where the client lands after the card payment page (Stripe's, or the demo's). The server asks the
card provider what happened and records it; the page then shows the confirmation, or says the payment was declined,
not finished or timed out (the booking is then still waiting for payment).

Security: the state is public; the checkout session id in the address is the only key, and nothing here takes the
browser's word for anything.
"""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.payments import checkout
from atlas_app.services.platform.errors import NotFound
from atlas_app.services.payments.stripe_gateway import PaymentsUnavailable
from atlas_app.ui.components.paid_flag import demo_banner, paid_flag
from atlas_app.ui.components.shell import public_shell
from atlas_app.ui.format import pounds
from atlas_app.ui.session import public
from atlas_app.ui.runtime import page


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
            self.outcome, self.message = "missing", "We could not find that payment. No money has been taken."
            return
        except PaymentsUnavailable as exc:
            self.outcome, self.message = "unavailable", str(exc)
            return
        self.outcome = result.outcome
        self.message = result.message
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
        rx.el.dt("Booking reference", style={"font_weight": "600"}),
        rx.el.dd(rx.text(R.reference, size="6", weight="bold"), id="return-reference", style=row),
        rx.el.dt("Course", style={"font_weight": "600"}),
        rx.el.dd(R.course_text, rx.el.br(), R.session_text, style=row),
        rx.el.dt("Amount", style={"font_weight": "600"}),
        rx.el.dd(R.amount_text, style=row),
        rx.el.dt("Payment", style={"font_weight": "600"}),
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


@page(route="/pay/return", title="Your payment · Atlas", on_load=R.load)
def pay_return_page() -> rx.Component:
    return public_shell(
        rx.cond(R.is_demo, demo_banner()),
        rx.match(
            R.outcome,
            ("loading", rx.vstack(rx.heading("Checking your payment", size="6", as_="h1"),
                                  rx.center(rx.spinner(size="3"), padding="2em"))),
            ("paid", rx.vstack(_box("Thank you, your payment is received", "green", "return-paid"), _details(),
                               rx.text("We are sending a receipt by email. Bring your photocard driving licence to "
                                       "the course."),
                               spacing="4", align_items="stretch", width="100%")),
            ("attention", rx.vstack(_box("Your payment is received", "amber", "return-attention"), _details(),
                                    spacing="4", align_items="stretch", width="100%")),
            ("declined", rx.vstack(_box("Your payment was declined", "red", "return-declined", "alert"),
                                   rx.link("Manage your booking", href="/booking/manage"),
                                   spacing="4", align_items="stretch", width="100%")),
            ("open", rx.vstack(_box("Your payment is not finished", "amber", "return-open"),
                               rx.link("Manage your booking", href="/booking/manage"),
                               spacing="4", align_items="stretch", width="100%")),
            ("expired", rx.vstack(_box("The payment page timed out", "amber", "return-expired"),
                                  rx.link("Manage your booking", href="/booking/manage"),
                                  spacing="4", align_items="stretch", width="100%")),
            rx.vstack(_box("We could not show your payment", "red", "return-problem", "alert"),
                      rx.button("Check again", on_click=R.load, id="return-check-again", size="3",
                                style={"min_height": "44px", "width": "fit-content"}),
                      rx.link("Go to the booking site", href="/"),
                      spacing="4", align_items="stretch", width="100%"),
        ),
        width="36em",
    )
