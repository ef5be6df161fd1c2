"""Each organisation's GOV.UK Pay account: which online card provider it uses, its own API key and webhook signing
secret, and whether its account allows telephone (MOTO) payments.

* The key and the secret are entered by an administrator (``settings.manage``), sealed at rest
  (services/platform/secret_box.py, each value bound to its organisation and field) and never returned: the view carries only whether one is held and the key's last
  four characters. A blank field keeps what is held; "remove" forgets it. Every change is audited, without the
  secrets.
* An organisation with no key of its own uses the deployment's ``GOVUK_PAY_API_KEY`` / ``GOVUK_PAY_WEBHOOK_SECRET``.
* Its webhook address is ``/api/govuk-pay/webhook/<organisation>``; messages there are checked against its own
  signing secret (or the deployment's when it has none) and can touch only its own payments.
* MOTO payments are refused here, before GOV.UK Pay is asked, unless the administrator said the account allows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlmodel import select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.models import Organisation
from atlas_app.models.payments import GovukPayAccount
from atlas_app.services.platform import audit, bounds, secret_box
from atlas_app.services.platform.actor import Actor
from atlas_app.services.platform.errors import NotFound, ValidationFailed
from atlas_app.services.platform.permissions import Perm
from atlas_app.settings import get_settings

CARD_PROVIDERS = ("stripe", "govuk_pay")
PROVIDER_NAMES = {"stripe": "Stripe", "govuk_pay": "GOV.UK Pay"}
WEBHOOK_PATH = "/api/govuk-pay/webhook/"
# GOV.UK Pay's API keys are "api_test_..." or "api_live_..." followed by the key itself; its webhook signing
# secrets are "webhook_test_..." / "webhook_live_...". Anything with spaces or of another shape is a paste error.
_API_KEY = re.compile(r"^api_(test|live)_[A-Za-z0-9_-]{16,200}$")
_WEBHOOK_SECRET = re.compile(r"^webhook_(test|live)_[A-Za-z0-9_-]{16,200}$")


@dataclass(frozen=True)
class Account:
    """The GOV.UK Pay account an organisation's payments go through (server side only)."""

    api_key: str = field(repr=False)
    webhook_secret: str = field(repr=False)
    moto_allowed: bool
    source: str  # organisation, environment


@dataclass(frozen=True)
class PaymentSettingsView:
    """What the settings page may show: never a secret."""

    provider: str
    provider_in_use: str  # what clients actually pay through: stripe, govuk_pay, demo or none
    own_api_key: bool
    api_key_hint: str
    own_webhook_secret: bool
    moto_allowed: bool
    environment_key: bool  # the deployment has a GOV.UK Pay key to fall back on
    webhook_path: str


def _key_context(org_id: int) -> str:
    return f"govuk_pay:{org_id}:api_key"


def _secret_context(org_id: int) -> str:
    return f"govuk_pay:{org_id}:webhook_secret"


def _row(s, org_id: int) -> GovukPayAccount | None:
    return s.exec(select(GovukPayAccount).where(GovukPayAccount.organisation_id == org_id)).first()


def account_for(org_id: int) -> Account | None:
    """The organisation's GOV.UK Pay account: its own key when it entered one, else the deployment's; None when
    neither is set. The webhook secret falls back the same way."""
    settings = get_settings()
    with read_session() as s:
        row = _row(s, bounds.query_id(org_id))
    own_key = secret_box.open_or_blank(row.api_key_encrypted, _key_context(row.organisation_id)) if row is not None else ""
    own_secret = secret_box.open_or_blank(row.webhook_secret_encrypted, _secret_context(row.organisation_id)) if row is not None else ""
    moto = bool(row.moto_allowed) if row is not None else False
    if own_key:
        return Account(own_key, own_secret or "", moto, "organisation")
    if settings.govuk_pay_api_key:
        return Account(settings.govuk_pay_api_key, own_secret or settings.govuk_pay_webhook_secret or "", moto,
                       "environment")
    return None


def webhook_secret_for(org_id: int) -> str:
    account = account_for(org_id)
    if account is not None and account.webhook_secret:
        return account.webhook_secret
    return get_settings().govuk_pay_webhook_secret or ""


def organisation_by_slug(slug: str) -> int | None:
    from atlas_app.services.platform.organisations import clean_slug

    try:
        wanted = clean_slug(slug)
    except ValidationFailed:
        return None
    with read_session() as s:
        return s.exec(select(Organisation.id).where(Organisation.slug == wanted, Organisation.is_active)).first()


def settings_view(actor: Actor) -> PaymentSettingsView:
    from atlas_app.services.payments import checkout

    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    with read_session() as s:
        org = s.get(Organisation, org_id)
        if org is None:
            raise NotFound("No such organisation.")
        row = _row(s, org_id)
        slug = org.slug
        provider = org.card_provider or "stripe"
    key = secret_box.open_or_blank(row.api_key_encrypted, _key_context(row.organisation_id)) if row is not None else ""
    secret = secret_box.open_or_blank(row.webhook_secret_encrypted, _secret_context(row.organisation_id)) if row is not None else ""
    return PaymentSettingsView(
        provider=provider, provider_in_use=checkout.provider_for(org_id), own_api_key=bool(key),
        api_key_hint=(row.api_key_hint if row is not None and key else ""), own_webhook_secret=bool(secret),
        moto_allowed=bool(row.moto_allowed) if row is not None else False,
        environment_key=bool(get_settings().govuk_pay_api_key), webhook_path=WEBHOOK_PATH + slug)


def save_settings(actor: Actor, *, provider: str, api_key: str = "", webhook_secret: str = "",
                  moto_allowed: bool = False, remove_api_key: bool = False,
                  remove_webhook_secret: bool = False) -> PaymentSettingsView:
    """Choose the provider and set the GOV.UK Pay account. A blank key or secret keeps the one held."""
    actor.require(Perm.SETTINGS_MANAGE)
    org_id = actor.require_org()
    provider = str(provider or "").strip()
    api_key = str(api_key or "").strip()
    webhook_secret = str(webhook_secret or "").strip()
    errors: dict[str, str] = {}
    if provider not in CARD_PROVIDERS:
        errors["provider"] = "Choose Stripe or GOV.UK Pay."
    if api_key and not _API_KEY.match(api_key):
        errors["api_key"] = "That is not a GOV.UK Pay API key: it starts api_test_ or api_live_ and has no spaces."
    if webhook_secret and not _WEBHOOK_SECRET.match(webhook_secret):
        errors["webhook_secret"] = ("That is not a GOV.UK Pay webhook signing secret: it starts webhook_test_ or "
                                    "webhook_live_ and has no spaces.")
    if errors:
        raise ValidationFailed(" ".join(errors.values()), errors)
    now = utcnow()
    with write_session() as s:
        org = s.exec(select(Organisation).where(Organisation.id == org_id).with_for_update()).first()
        if org is None:
            raise NotFound("No such organisation.")
        row = _row(s, org_id)
        if row is None:
            row = GovukPayAccount(organisation_id=org_id, updated_at=now)
        held_key = secret_box.open_or_blank(row.api_key_encrypted, _key_context(row.organisation_id))
        will_have_key = bool(api_key) or (bool(held_key) and not remove_api_key)
        if provider == "govuk_pay" and not will_have_key and not get_settings().govuk_pay_api_key:
            raise ValidationFailed("Enter the GOV.UK Pay API key before choosing GOV.UK Pay.",
                                   {"api_key": "required"})
        before = {"card_provider": org.card_provider, "api_key": row.api_key_hint if held_key else "",
                  "webhook_secret": "held" if secret_box.open_or_blank(row.webhook_secret_encrypted, _secret_context(row.organisation_id)) else "",
                  "moto_allowed": bool(row.moto_allowed)}
        if api_key:
            row.api_key_encrypted, row.api_key_hint = secret_box.seal_optional(api_key, _key_context(org_id)), secret_box.hint(api_key)
        elif remove_api_key:
            row.api_key_encrypted, row.api_key_hint = "", ""
        if webhook_secret:
            row.webhook_secret_encrypted = secret_box.seal_optional(webhook_secret, _secret_context(org_id))
        elif remove_webhook_secret:
            row.webhook_secret_encrypted = ""
        row.moto_allowed = bool(moto_allowed)
        row.updated_at = now
        org.card_provider = provider
        s.add(row)
        s.add(org)
        after = {"card_provider": provider, "api_key": row.api_key_hint if row.api_key_encrypted else "",
                 "webhook_secret": "held" if row.webhook_secret_encrypted else "",
                 "moto_allowed": bool(row.moto_allowed)}
        if api_key and held_key and api_key != held_key:
            after["api_key_replaced"] = True
        if webhook_secret:
            after["webhook_secret_entered"] = True
        if before != after:
            audit.record(s, actor, "organisation", org_id, "payment_settings_changed", before=before, after=after,
                         organisation_id=org_id)
    return settings_view(actor)


def require_moto(org_id: int) -> Account:
    """The account for a telephone (MOTO) payment, refused unless the organisation uses GOV.UK Pay and said its
    account allows MOTO payments."""
    account = account_for(org_id)
    if account is None:
        raise ValidationFailed("GOV.UK Pay is not set up for this organisation.", {"provider": "not configured"})
    if not account.moto_allowed:
        raise ValidationFailed("This organisation's GOV.UK Pay account does not take telephone (MOTO) payments. An "
                               "administrator can switch them on under Payment settings once GOV.UK Pay has "
                               "enabled them.", {"moto": "not allowed"})
    return account
