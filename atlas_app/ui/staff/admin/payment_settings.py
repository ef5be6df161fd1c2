"""/admin/payment-settings: the organisation's online card provider (Stripe or GOV.UK Pay), its GOV.UK Pay API key
and webhook signing secret, and whether its GOV.UK Pay account takes telephone (MOTO) payments.

Threat model: the key and the secret travel once, in the submitted form, to the server, which seals them
(services/payments/govuk_pay_accounts.py); they are never put in this state, so they never go back to a browser.
The state holds only whether each is held and the key's last four characters. Every handler re-checks
``settings.manage`` in the service, for the actor's own organisation only."""

from __future__ import annotations

import asyncio

import reflex as rx

from atlas_app.services.payments import govuk_pay_accounts as accounts
from atlas_app.services.platform.errors import AtlasError
from atlas_app.services.platform.permissions import Perm
from atlas_app.ui.components.forms import field, form_error, form_notice
from atlas_app.ui.components.kit import checkbox_field, section, select_field, submit
from atlas_app.ui.components.shell import NavItem, register_nav, staff_page
from atlas_app.ui.session import private, require

register_nav("Administration", NavItem("Payment settings", "/admin/payment-settings", "credit_card",
                                       Perm.SETTINGS_MANAGE))

PROVIDERS = [("stripe", "Stripe"), ("govuk_pay", "GOV.UK Pay")]
IN_USE = {"stripe": "Stripe", "govuk_pay": "GOV.UK Pay", "demo": "the labelled demo provider (no real money)",
          "none": "none: card payments online are off"}
CHECKED = (True, "on", "true", "1")


@private
class PaymentSettingsState(rx.State):
    provider: str = "stripe"
    in_use: str = ""
    key_held: bool = False
    key_hint: str = ""
    secret_held: bool = False
    moto_allowed: bool = False
    environment_key: bool = False
    webhook_url: str = ""
    error: str = ""
    notice: str = ""
    form_key: int = 0

    def _show(self, view: accounts.PaymentSettingsView) -> None:
        from atlas_app.settings import get_settings

        self.provider, self.in_use = view.provider, IN_USE.get(view.provider_in_use, view.provider_in_use)
        self.key_held, self.key_hint = view.own_api_key, view.api_key_hint
        self.secret_held, self.moto_allowed = view.own_webhook_secret, view.moto_allowed
        self.environment_key = view.environment_key
        self.webhook_url = get_settings().base_url + view.webhook_path
        self.form_key += 1

    @rx.event
    async def load(self):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        try:
            self._show(await asyncio.to_thread(accounts.settings_view, actor))
        except AtlasError as exc:
            self.error = str(exc)

    @rx.event
    async def save(self, form: dict):
        actor = await require(self, Perm.SETTINGS_MANAGE)
        self.error = self.notice = ""
        try:
            view = await asyncio.to_thread(
                accounts.save_settings, actor, provider=str(form.get("provider", ""))[:20],
                api_key=str(form.get("api_key", ""))[:300], webhook_secret=str(form.get("webhook_secret", ""))[:300],
                moto_allowed=form.get("moto_allowed") in CHECKED,
                remove_api_key=form.get("remove_api_key") in CHECKED,
                remove_webhook_secret=form.get("remove_webhook_secret") in CHECKED)
        except AtlasError as exc:
            self.error = str(exc)
            self.form_key += 1  # the typed secrets are cleared from the form either way
            return
        self._show(view)
        self.notice = "Payment settings saved."


S = PaymentSettingsState


@staff_page("/admin/payment-settings", "Payment settings", on_load=S.load)
def payment_settings_page() -> rx.Component:
    return rx.vstack(
        form_error(S.error),
        form_notice(S.notice),
        section("Online card payments", rx.text(
            "Clients paying online, and staff taking a card over the telephone, pay through the provider chosen "
            "here. In use now: ", rx.el.strong(S.in_use, id="provider-in-use"), ".", size="2"),
            rx.form(
                rx.vstack(
                    select_field("Card payment provider", "provider", PROVIDERS, input_id="pay-provider",
                                 default_value=S.provider),
                    rx.heading("GOV.UK Pay account", size="3", as_="h3"),
                    rx.text(rx.cond(S.key_held, "An API key is held (ending " + S.key_hint + ").",
                                    rx.cond(S.environment_key, "No API key of your own: the deployment's GOV.UK Pay "
                                            "account is used.", "No API key is held.")),
                            size="2", id="key-status"),
                    field("API key", "api_key", type="password", input_id="pay-api-key", autocomplete="off",
                          hint="From GOV.UK Pay's admin tool (starts api_test_ or api_live_). Leave blank to keep "
                               "the one held. It is stored encrypted and never shown again."),
                    rx.cond(S.key_held, checkbox_field("Remove the API key held", "remove_api_key",
                                                       input_id="pay-remove-key")),
                    rx.text(rx.cond(S.secret_held, "A webhook signing secret is held.",
                                    "No webhook signing secret of your own is held."), size="2", id="secret-status"),
                    field("Webhook signing secret", "webhook_secret", type="password", input_id="pay-webhook-secret",
                          autocomplete="off", hint="From the webhook you create in GOV.UK Pay for the address "
                                                   "below. Leave blank to keep the one held."),
                    rx.cond(S.secret_held, checkbox_field("Remove the webhook signing secret held",
                                                          "remove_webhook_secret", input_id="pay-remove-secret")),
                    rx.text("Webhook address for GOV.UK Pay: ", rx.el.code(S.webhook_url, id="webhook-url"),
                            size="2"),
                    checkbox_field("Our GOV.UK Pay account takes telephone (MOTO) card payments", "moto_allowed",
                                   input_id="pay-moto-allowed", default_checked=S.moto_allowed),
                    rx.text("Tick this only once GOV.UK Pay has enabled MOTO payments on the account. Staff then "
                            "see a button on the payments screen that opens GOV.UK Pay's card page.",
                            size="2", color_scheme="gray"),
                    submit("Save payment settings", "pay-settings-save"),
                    spacing="3", width="100%", align_items="stretch",
                ),
                on_submit=S.save, reset_on_submit=True, key="pay-settings-" + S.form_key.to_string(),
                aria_label="Payment settings",
            ),
            section_id="card-payments"),
        spacing="4", width="100%",
    )
