"""Paying by card online: Stripe Checkout (or the labelled demo provider where this is a demo), the return
from the payment page, and Stripe's webhook events.

The booking is confirmed only by the server, from what Stripe itself says: :func:`complete_checkout` retrieves the
Checkout Session when the client comes back, and :func:`handle_stripe_event` applies signed webhook events (checked
by the route before they get here). Either may come first, both may come, and an event may arrive twice or out of
order; a checkout attempt records at most one payment whatever happens.

Integration (the booking wizard and manage-my-booking pages)::

    start = start_checkout(org_id, offer_id, booking_reference)        # success/cancel URLs are optional
    return rx.redirect(start.url, is_external=True)                       # Stripe, or /pay/demo?attempt=...
    # the client comes back to /pay/return?session_id=..., which calls complete_checkout(session_id)
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlparse

import stripe
from sqlmodel import Session, select

from atlas_app.db import read_session, utcnow, write_session
from atlas_app.domain.statuses import BookingStatus, CheckoutStatus, PaymentStatus, PayState, PlanStatus
from atlas_app.models import Booking, Client, Offer, Organisation
from atlas_app.models.payments import (
    CheckoutAttempt,
    Payment,
    PaymentPlan,
    PlanInstalment,
    ProcessedWebhookEvent,
)
from atlas_app.services import payments
from atlas_app.services.booking import bookings as booking_service
from atlas_app.services.payments import govuk_pay, govuk_pay_accounts
from atlas_app.services.payments.stripe_gateway import (
    DEMO_LABEL,
    PaymentsUnavailable,
    as_dict,
    card_provider,
    require_demo_allowed,
    stripe_client,
    stripe_error_text,
)
from atlas_app.services.platform import bounds, locks
from atlas_app.services.platform.errors import (
    AtlasError,
    Conflict,
    NotFound,
    ValidationFailed,
)
from atlas_app.settings import get_settings
from atlas_app.timeutil import london_date, london_text

log = logging.getLogger("atlas.payments")

SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"
DEFAULT_SUCCESS_PATH = "/pay/return?session_id=" + SESSION_PLACEHOLDER
DEFAULT_CANCEL_PATH = "/booking/manage"
# Stripe lets a Checkout Session live between 30 minutes and 24 hours.
STRIPE_SESSION_MINUTES = 31
DEMO_SESSION_MINUTES = 30
PAYABLE_STATUSES = BookingStatus.HOLDS_SEAT
EXPAND = ["payment_intent.latest_charge.balance_transaction"]

DEMO_CARDS = {
    "4242424242424242": None,  # succeeds
    "4000000000000002": "Your card was declined.",
    "4000000000009995": "Your card has insufficient funds.",
    "4000000000000069": "Your card has expired.",
}


class RetryLater(AtlasError):
    """A webhook event that cannot be applied yet (its payment is not recorded yet); Stripe will send it again."""

    status_code = 503


# --- starting a checkout -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckoutStart:
    url: str
    provider: str  # stripe, demo
    session_id: str
    amount_pence: int
    is_demo: bool
    expires_at: datetime


def _local_url(url: str) -> str:
    """Only this site's own addresses: a path, or an absolute URL under BASE_URL (no open redirects)."""
    base = get_settings().base_url
    url = (url or "").strip()
    if url.startswith("/") and not url.startswith("//"):
        return base + url
    if url.startswith(base + "/") or url == base:
        return url
    raise ValidationFailed("The return address must be on this site.", {"url": "not local"})


def _with_session_placeholder(url: str) -> str:
    if SESSION_PLACEHOLDER in url:
        return url
    sep = "&" if urlparse(url).query else "?"
    return f"{url}{sep}session_id={SESSION_PLACEHOLDER}"


def amount_due_now(s: Session, booking: Booking, summary: payments.PaymentSummary) -> int:
    """What the client pays now: the balance, or on a payment plan the next instalment (with any arrears)."""
    if summary.outstanding_pence <= 0:
        return 0
    if not summary.plan_active:
        return summary.outstanding_pence
    plan = s.exec(select(PaymentPlan).where(PaymentPlan.booking_id == booking.id,
                                            PaymentPlan.status == PlanStatus.ACTIVE)
                  ).first()
    if plan is None:
        return summary.outstanding_pence
    settled = summary.paid_pence + summary.waived_pence
    cumulative = summary.fee_pence - plan.total_pence
    for inst in s.exec(select(PlanInstalment).where(PlanInstalment.plan_id == plan.id)
                       .order_by(PlanInstalment.seq)).all():
        cumulative += inst.amount_pence
        if cumulative > settled:
            return min(cumulative - settled, summary.outstanding_pence)
    return summary.outstanding_pence


def organisation_demo(org_id: int, s: Session | None = None) -> bool:
    """The organisation's ``payments_demo`` flag (False for an unknown organisation)."""
    if s is None:
        with read_session() as own:
            return organisation_demo(org_id, own)
    flag = s.exec(select(Organisation.payments_demo).where(Organisation.id == bounds.query_id(org_id))).first()
    return bool(flag)


def organisation_card_provider(org_id: int) -> str:
    """The provider the organisation chose (``stripe`` or ``govuk_pay``)."""
    with read_session() as s:
        chosen = s.exec(select(Organisation.card_provider).where(Organisation.id == bounds.query_id(org_id))).first()
    return chosen or "stripe"


CARD_PROVIDERS = ("stripe", "govuk_pay")


def set_card_provider(organisation_slug: str, provider: str, by: str = "cli") -> str:
    """Choose the organisation's online card provider (``stripe`` or ``govuk_pay``), audited. Returns the one in
    use afterwards (GOV.UK Pay needs GOVUK_PAY_API_KEY too)."""
    from atlas_app.services.platform import audit

    if provider not in CARD_PROVIDERS:
        raise ValidationFailed("The card provider is stripe or govuk_pay.", {"provider": "invalid"})
    with write_session() as s:
        from atlas_app.services.platform.organisations import clean_slug

        org = s.exec(select(Organisation).where(Organisation.slug == clean_slug(organisation_slug))
                     .with_for_update()).first()
        if org is None:
            raise NotFound(f"No organisation '{organisation_slug}'.")
        before, org.card_provider = org.card_provider, provider
        s.add(org)
        audit.record(s, None, "organisation", org.id, "card_provider_changed", before={"card_provider": before},
                     after={"card_provider": provider, "by": by[:80]}, organisation_id=org.id)
        org_id = org.id
    return provider_for(org_id)


def provider_for(org_id: int) -> str:
    """How the organisation's clients pay by card online: ``govuk_pay`` (when it chose GOV.UK Pay and the account
    is configured), ``stripe``, ``demo`` or ``none``."""
    if organisation_card_provider(org_id) == "govuk_pay" and govuk_pay_accounts.account_for(org_id) is not None:
        return "govuk_pay"
    if card_provider() == "stripe":
        return "stripe"
    return card_provider(organisation_demo(org_id))


def moto_available(org_id: int) -> bool:
    """Whether staff can take telephone (MOTO) card payments through GOV.UK Pay: the organisation uses GOV.UK Pay and
    its administrator said the account allows MOTO payments."""
    if provider_for(org_id) != "govuk_pay":
        return False
    account = govuk_pay_accounts.account_for(org_id)
    return account is not None and account.moto_allowed


def start_moto_payment(actor, booking_reference: str) -> CheckoutStart:
    """A card payment taken by staff over the telephone (MOTO: mail order / telephone order) through GOV.UK Pay, for
    an organisation that chose it and whose GOV.UK Pay account allows MOTO payments (else GOV.UK Pay refuses with
    P0196, and staff are told). The staff member opens ``url`` and keys in the card details the caller reads out.
    Refused before GOV.UK Pay is asked unless an administrator said the account allows MOTO payments."""
    from atlas_app.services.platform.permissions import Perm

    actor.require(Perm.PAYMENTS_TAKE)
    org_id = actor.require_org()
    if provider_for(org_id) != "govuk_pay":
        raise ValidationFailed("Telephone card payments through GOV.UK Pay need the organisation to use GOV.UK Pay.",
                               {"provider": "not govuk_pay"})
    govuk_pay_accounts.require_moto(org_id)
    with read_session() as s:
        offer_id = s.exec(select(Booking.offer_id).where(
            Booking.reference == str(booking_reference or "").strip().upper(),
            Booking.organisation_id == org_id)).first()
    if offer_id is None:
        raise NotFound("No such booking.")
    return start_checkout(org_id, offer_id, booking_reference, moto=True)


def start_checkout(org_id: int, offer_id: int, booking_reference: str, success_url: str | None = None,
                   cancel_url: str | None = None, *, moto: bool = False) -> CheckoutStart:
    """Start paying for a booking by card. ``offer_id`` (from the verified offer) proves whose booking it is.
    Returns where to send the client: Stripe's hosted page, or the demo page when Stripe is not configured.
    A checkout already open for the same booking and amount is reused rather than a second one made."""
    provider = provider_for(org_id)
    if provider not in ("stripe", "govuk_pay"):
        require_demo_allowed(organisation_demo(org_id))
    success = _with_session_placeholder(_local_url(success_url or DEFAULT_SUCCESS_PATH))
    cancel = _local_url(cancel_url or DEFAULT_CANCEL_PATH)
    now = utcnow()
    with write_session() as s:
        found = s.exec(select(Booking.id).where(
            Booking.reference == str(booking_reference or "").strip().upper(), Booking.organisation_id == org_id,
            Booking.offer_id == int(offer_id))).first()
        if found is None:
            raise NotFound("That booking cannot be found.")
        booking = payments.lock_booking(s, found, int(offer_id))
        if booking.status not in PAYABLE_STATUSES:
            raise ValidationFailed("This booking can no longer be paid for. Please book again or telephone us.",
                                   {"booking": booking.status})
        summary = payments.payment_summary(s, booking.id, now)
        due = amount_due_now(s, booking, summary)
        if due <= 0:
            raise Conflict("This booking is already paid.")
        reuse = None if moto else s.exec(select(CheckoutAttempt).where(
            CheckoutAttempt.booking_id == booking.id, CheckoutAttempt.provider == provider,
            CheckoutAttempt.status == CheckoutStatus.OPEN, CheckoutAttempt.amount_pence == due,
            CheckoutAttempt.expires_at > now + timedelta(minutes=5), CheckoutAttempt.url != "",
        ).order_by(CheckoutAttempt.id.desc())).first()
        if reuse is not None:
            return CheckoutStart(reuse.url, provider, reuse.provider_session_id, due, provider == "demo",
                                 reuse.expires_at)
        minutes = {"demo": DEMO_SESSION_MINUTES, "govuk_pay": govuk_pay.PAYMENT_MINUTES}.get(
            provider, STRIPE_SESSION_MINUTES)
        attempt = CheckoutAttempt(
            organisation_id=org_id, booking_id=booking.id, provider=provider, amount_pence=due,
            idempotency_key="atlas-checkout-" + secrets.token_hex(16), success_url=success, cancel_url=cancel,
            created_at=now, expires_at=now + timedelta(minutes=minutes),
        )
        if provider == "demo":
            attempt.provider_session_id = "demo_cs_" + secrets.token_urlsafe(24)
            attempt.url = "/pay/demo?" + urlencode({"attempt": attempt.provider_session_id})
        if provider == "govuk_pay":
            # Atlas's own token names the attempt in the return address (GOV.UK Pay's id is not known yet).
            attempt.provider_session_id = "gp_" + secrets.token_urlsafe(24)
        s.add(attempt)
        s.flush()
        if provider == "demo":
            return CheckoutStart(attempt.url, provider, attempt.provider_session_id, due, True, attempt.expires_at)
        view = booking_service.booking_view(s, booking)
        client = s.get(Client, s.get(Offer, booking.offer_id).client_id)
        if provider == "govuk_pay":
            ct_code = view.course_code
            pay_params = {
                "amount_pence": due, "reference": booking.reference,
                "description": f"{view.course_name} ({view.course_code}), booking {booking.reference}",
                "return_url": get_settings().base_url + "/pay/return?" + urlencode(
                    {"session_id": attempt.provider_session_id}),
                "language": "cy" if str(getattr(client, "language", "") or "") == "cy" else "en",
                "email": (client.email or "") if client is not None else "",
                "metadata": {"ledger_code": get_settings().govuk_pay_ledger_code or ct_code,
                             "booking_reference": booking.reference, "atlas_attempt": attempt.id},
                "idempotency_key": attempt.idempotency_key,
                "moto": moto,
                "api_key": _govuk_key(org_id),
            }
            return_token = attempt.provider_session_id
        metadata = {"booking_reference": booking.reference, "organisation_id": str(org_id),
                    "checkout_attempt_id": str(attempt.id)}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [{
                "quantity": 1,
                "price_data": {
                    "currency": "gbp",
                    "unit_amount": due,
                    "product_data": {"name": f"{view.course_name} ({view.course_code})"[:250],
                                     "description": f"Booking {booking.reference}: {view.session_text}"[:500]},
                },
            }],
            "success_url": success,
            "cancel_url": cancel,
            "client_reference_id": booking.reference,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": f"Course booking {booking.reference}"},
            "expires_at": int(attempt.expires_at.timestamp()),
            "locale": "en-GB",
        }
        if client is not None and client.email:
            params["customer_email"] = client.email
        attempt_id, key = attempt.id, attempt.idempotency_key
    if provider == "govuk_pay":
        return _start_govuk_payment(attempt_id, return_token, pay_params, booking_reference, due)
    # Stripe is called outside the transaction; the attempt's idempotency key makes a retried call create one session.
    try:
        session = stripe_client().v1.checkout.sessions.create(params=params, options={"idempotency_key": key})
        error = ""
    except stripe.StripeError as exc:
        session, error = None, stripe_error_text(exc)
    with write_session() as s:
        attempt = locks.lock_one(s, locks.checkout_attempt(attempt_id))
        if session is None:
            attempt.status, attempt.last_error = CheckoutStatus.FAILED, error
            s.add(attempt)
        else:
            attempt.provider_session_id = session.id
            attempt.url = session.url or ""
            pi = getattr(session, "payment_intent", None)
            attempt.payment_intent_id = pi if isinstance(pi, str) else (getattr(pi, "id", "") or "")
            s.add(attempt)
    if session is None:
        log.warning("Stripe Checkout Session not created for %s: %s", booking_reference, error)
        raise PaymentsUnavailable()
    return CheckoutStart(session.url, "stripe", session.id, due, False, attempt.expires_at)


def _start_govuk_payment(attempt_id: int, token: str, params: dict[str, Any], booking_reference: str,
                         due: int) -> CheckoutStart:
    """Create the GOV.UK Pay payment outside any transaction (its Idempotency-Key makes a retried call create one),
    then record its id and next_url on the attempt. The attempt lives as long as GOV.UK Pay's 90-minute payment,
    and an open attempt keeps the booking from being released as unpaid meanwhile."""
    try:
        payment = govuk_pay.create_payment(**params)
        error = ""
    except govuk_pay.GovukPayError as exc:
        payment, error = None, str(exc)
        if exc.code == "P0196":
            with write_session() as s:
                attempt = locks.lock_one(s, locks.checkout_attempt(attempt_id))
                attempt.status, attempt.last_error = CheckoutStatus.FAILED, error[:500]
                s.add(attempt)
            raise ValidationFailed("This organisation's GOV.UK Pay account does not allow telephone (MOTO) "
                                   "payments. Ask GOV.UK Pay support to enable them, or take the payment another "
                                   "way.", {"moto": "not enabled"}) from None
    with write_session() as s:
        attempt = locks.lock_one(s, locks.checkout_attempt(attempt_id))
        if payment is None or not govuk_pay.next_url(payment):
            attempt.status, attempt.last_error = CheckoutStatus.FAILED, (error or "no next_url")[:500]
        else:
            attempt.payment_intent_id = str(payment.get("payment_id") or "")
            attempt.url = govuk_pay.next_url(payment)
        s.add(attempt)
        url, expires = attempt.url, attempt.expires_at
    if payment is None or not url:
        log.warning("GOV.UK Pay payment not created for %s: %s", booking_reference, error)
        raise PaymentsUnavailable()
    return CheckoutStart(url, "govuk_pay", token, due, False, expires)


# The failure codes of a finished GOV.UK Pay payment that mean the page timed out rather than the card failing.
GOVUK_EXPIRED_CODES = ("P0020",)
GOVUK_CANCELLED_CODES = ("P0030", "P0040")


def _apply_govuk_payment(s: Session, attempt: CheckoutAttempt, payment: dict, now: datetime) -> str:
    """Apply a GOV.UK Pay payment's state to its attempt (the caller holds the attempt's lock): a success is
    recorded once (the same ledger rule as Stripe's: a payment arriving after the seat was lost is flagged for a
    refund); a finished failure closes the attempt; refunds made in GOV.UK Pay are counted."""
    status, finished, code = govuk_pay.state_of(payment)
    payment_id = str(payment.get("payment_id") or attempt.payment_intent_id or "")
    if status == "success":
        amount = payment.get("amount")
        amount = int(amount) if isinstance(amount, int) and amount > 0 else attempt.amount_pence
        row, created = payments.record_provider_payment(s, attempt, amount_pence=amount, provider_ref=payment_id,
                                                        fee_pence=payment.get("fee") if isinstance(
                                                            payment.get("fee"), int) else None, now=now)
        meta_ref = (payment.get("metadata") or {}).get("booking_reference")
        booking = s.get(Booking, attempt.booking_id)
        if created and meta_ref and meta_ref != booking.reference:
            payments.flag_payment(s, row, f"GOV.UK Pay's record names booking {str(meta_ref)[:30]}, not "
                                          f"{booking.reference}. Check which booking this payment is for.")
        summary = payment.get("refund_summary") or {}
        submitted = summary.get("amount_submitted")
        if isinstance(submitted, int) and submitted > row.refunded_pence:
            payments.apply_provider_refund_total(s, row, submitted, now)
        return "paid" if created else "already paid"
    if finished:
        if attempt.status != CheckoutStatus.OPEN:
            return f"{status} ignored (attempt {attempt.status})"
        if code in GOVUK_EXPIRED_CODES:
            attempt.status = CheckoutStatus.EXPIRED
        elif code in GOVUK_CANCELLED_CODES:
            attempt.status = CheckoutStatus.EXPIRED
            attempt.last_error = "The payment was cancelled."
        else:
            attempt.status = CheckoutStatus.FAILED
            attempt.last_error = str((payment.get("state") or {}).get("message") or "The payment failed.")[:500]
        s.add(attempt)
        return f"{status} ({code})"
    return f"no change ({status})"


def _govuk_attempt_for_update(s: Session, payment_id: str) -> CheckoutAttempt | None:
    return locks.lock_where(s, "checkout_attempt", CheckoutAttempt.provider == "govuk_pay",
                            CheckoutAttempt.payment_intent_id == payment_id)


def _govuk_key(org_id: int) -> str:
    account = govuk_pay_accounts.account_for(org_id)
    if account is None:
        raise PaymentsUnavailable("GOV.UK Pay is not configured for this organisation.")
    return account.api_key


def _govuk_attempt_org(payment_id: str) -> int | None:
    with read_session() as s:
        return s.exec(select(CheckoutAttempt.organisation_id).where(
            CheckoutAttempt.provider == "govuk_pay", CheckoutAttempt.payment_intent_id == payment_id)).first()


def handle_govuk_pay_event(event: dict, organisation_id: int | None = None) -> WebhookOutcome:
    """Apply one verified GOV.UK Pay webhook message, once (its ``webhook_message_id`` is claimed in the same
    transaction as the change). Whatever the event says, the payment's state is fetched from GOV.UK Pay (strongly
    consistent) with the key of the organisation the payment belongs to, so messages arriving in any order, or
    twice, come to the same result. ``organisation_id``: the organisation whose webhook address (and signing
    secret) the message came through; it can touch only that organisation's payments. Without it (the deployment's
    address, under the deployment's secret) only payments of organisations with no account of their own."""
    message_id = str(event.get("webhook_message_id") or "")
    payment_id = str(event.get("resource_id") or "")
    event_type = str(event.get("event_type") or "")
    if not message_id or not payment_id or event.get("resource_type", "payment") != "payment":
        return WebhookOutcome(400, "not a GOV.UK Pay payment event")
    event_id = ("govukpay:" + message_id)[:255]
    with read_session() as s:
        if s.exec(select(ProcessedWebhookEvent.id).where(ProcessedWebhookEvent.event_id == event_id)).first():
            return WebhookOutcome(200, "duplicate")
    owner = _govuk_attempt_org(payment_id)
    account = govuk_pay_accounts.account_for(owner) if owner is not None else None
    if owner is not None and (account is None or (owner != organisation_id if organisation_id is not None
                                                  else account.source != "environment")):
        return WebhookOutcome(200, "not ours")
    try:
        payment = govuk_pay.get_payment(payment_id, api_key=account.api_key) if account is not None else {}
    except (govuk_pay.GovukPayError, PaymentsUnavailable):
        resource = event.get("resource")
        if not isinstance(resource, dict):
            return WebhookOutcome(503, "GOV.UK Pay could not be reached; send it again")
        payment = resource  # the signed message's own copy
    from sqlalchemy.exc import IntegrityError

    now = utcnow()
    with write_session() as s:
        record = ProcessedWebhookEvent(provider="govuk_pay", event_id=event_id, event_type=event_type[:100],
                                       received_at=now)
        try:
            with s.begin_nested():
                s.add(record)
                s.flush()
        except IntegrityError:
            return WebhookOutcome(200, "duplicate")
        attempt = _govuk_attempt_for_update(s, payment_id)
        if attempt is None:
            outcome, org_id = "not ours", None
        else:
            outcome, org_id = _apply_govuk_payment(s, attempt, payment, now), attempt.organisation_id
        record.outcome, record.organisation_id = outcome[:300], org_id
        s.add(record)
    return WebhookOutcome(200, outcome)


# --- applying what Stripe says ------------------------------------------------------------------------------------


def _fee_from(payment_intent: Any) -> int | None:
    """Stripe's fee, when the PaymentIntent came expanded down to its charge's balance transaction."""
    if not isinstance(payment_intent, dict):
        return None
    charge = payment_intent.get("latest_charge")
    if not isinstance(charge, dict):
        return None
    bt = charge.get("balance_transaction")
    if isinstance(bt, dict) and isinstance(bt.get("fee"), int):
        return bt["fee"]
    return None


def _attempt_for_update(s: Session, provider_session_id: str) -> CheckoutAttempt | None:
    return locks.lock_where(s, "checkout_attempt", CheckoutAttempt.provider_session_id == provider_session_id)


def _apply_session(s: Session, obj: dict, now: datetime) -> tuple[str, int | None]:
    """Apply a Checkout Session as Stripe reports it. Returns (outcome, organisation id)."""
    attempt = _attempt_for_update(s, str(obj.get("id") or ""))
    if attempt is None:
        return "not ours", None
    status, pay_status = obj.get("status"), obj.get("payment_status")
    pi = obj.get("payment_intent")
    pi_id = pi.get("id", "") if isinstance(pi, dict) else (pi or "")
    if status == "complete" and pay_status in ("paid", "no_payment_required"):
        amount = obj.get("amount_total")
        amount = int(amount) if isinstance(amount, int) and amount > 0 else attempt.amount_pence
        payment, created = payments.record_provider_payment(s, attempt, amount_pence=amount, provider_ref=pi_id,
                                                            fee_pence=_fee_from(pi), now=now)
        meta_ref = (obj.get("metadata") or {}).get("booking_reference")
        booking = s.get(Booking, attempt.booking_id)
        if created and meta_ref and meta_ref != booking.reference:
            payments.flag_payment(s, payment, f"Stripe's record names booking {meta_ref[:30]}, not {booking.reference}. "
                                       "Check which booking this payment is for.")
        charge = pi.get("latest_charge") if isinstance(pi, dict) else None
        if isinstance(charge, dict) and int(charge.get("amount_refunded") or 0) > payment.refunded_pence:
            # Refunded in Stripe before Atlas heard of the payment: the refund is not lost either.
            payments.apply_provider_refund_total(s, payment, int(charge["amount_refunded"]), now)
        return ("paid" if created else "already paid"), attempt.organisation_id
    if status == "expired":
        if attempt.status == CheckoutStatus.OPEN:
            attempt.status = CheckoutStatus.EXPIRED
            s.add(attempt)
            return "expired", attempt.organisation_id
        return f"expired ignored (attempt {attempt.status})", attempt.organisation_id
    if pi_id and not attempt.payment_intent_id:
        attempt.payment_intent_id = pi_id
        s.add(attempt)
    return f"no change ({status}/{pay_status})", attempt.organisation_id


def _retrieve_session(session_id: str) -> dict | None:
    """The Checkout Session from Stripe, expanded to its fee; None if Stripe cannot be reached."""
    try:
        return as_dict(stripe_client().v1.checkout.sessions.retrieve(session_id, params={"expand": EXPAND}))
    except (stripe.StripeError, PaymentsUnavailable) as exc:
        log.warning("Could not retrieve Checkout Session %s: %s", session_id, exc)
        return None


@dataclass(frozen=True)
class CheckoutResult:
    outcome: str  # paid, attention, declined, open, expired, failed
    booking_reference: str
    amount_pence: int
    provider: str
    is_demo: bool
    message: str
    payment_state: str
    course_text: str = ""
    session_text: str = ""
    organisation_name: str = ""


def complete_checkout(session_id: str) -> CheckoutResult:
    """The client is back from the payment page: ask the provider what happened and record it. Safe to call any
    number of times; only the provider's word (never the browser's) confirms a booking."""
    sid = str(session_id or "").strip()[:255]
    if not sid:
        raise NotFound("We could not find that payment.")
    with read_session() as s:
        attempt = s.exec(select(CheckoutAttempt).where(CheckoutAttempt.provider_session_id == sid)).first()
        if attempt is None:
            raise NotFound("We could not find that payment.")
        provider = attempt.provider
    if provider == "govuk_pay":
        with read_session() as s:
            payment_id = s.exec(select(CheckoutAttempt.payment_intent_id)
                                .where(CheckoutAttempt.provider_session_id == sid)).first() or ""
        try:
            payment = govuk_pay.get_payment(payment_id, api_key=_govuk_key(attempt.organisation_id)) \
                if payment_id else None
        except (govuk_pay.GovukPayError, PaymentsUnavailable) as exc:
            log.warning("Could not get GOV.UK Pay payment %s: %s", payment_id, exc)
            raise PaymentsUnavailable("We could not check your payment with GOV.UK Pay just now. If you paid, your "
                                      "booking will be confirmed automatically; reload this page in a minute to "
                                      "see it.") from None
        if payment is not None:
            with write_session() as s:
                attempt = _attempt_for_update(s, sid)
                _apply_govuk_payment(s, attempt, payment, utcnow())
    if provider == "stripe":
        obj = _retrieve_session(sid)
        if obj is None:
            raise PaymentsUnavailable("We could not check your payment with the card payment service just now. "
                                      "If you paid, your booking will be confirmed automatically; reload this page "
                                      "in a minute to see it.")
        with write_session() as s:
            _apply_session(s, obj, utcnow())
    return checkout_result(sid)


def checkout_result(session_id: str) -> CheckoutResult:
    """What happened to a checkout, from Atlas's own records."""
    with read_session() as s:
        attempt = s.exec(select(CheckoutAttempt).where(CheckoutAttempt.provider_session_id == session_id)).first()
        if attempt is None:
            raise NotFound("We could not find that payment.")
        booking = s.get(Booking, attempt.booking_id)
        view = booking_service.booking_view(s, booking)
        org = s.get(Organisation, booking.organisation_id)
        payment = s.exec(select(Payment).where(Payment.checkout_attempt_id == attempt.id)).first()
        summary = payments.payment_summary(s, booking.id)
        demo = attempt.provider == "demo"
        if payment is not None and payment.needs_attention and payment.attention_resolved_at is None:
            outcome, message = "attention", (
                "We have received your payment, but the place you chose was no longer free when it arrived. Your "
                "money is safe: we will contact you to offer another date or a full refund.")
        elif payment is not None:
            outcome = "paid"
            message = ("Your payment has been received and your booking is confirmed." if summary.state in
                       PayState.SETTLED else
                       f"Your payment has been received. {payments.pounds_text(summary.outstanding_pence)} is still to "
                       "pay.")
        elif attempt.status == CheckoutStatus.OPEN and attempt.last_error:
            outcome, message = "declined", (f"{attempt.last_error} No money has been taken and your booking is "
                                            "still waiting for payment. You can try again with another card.")
        elif attempt.status == CheckoutStatus.OPEN:
            outcome, message = "open", ("The payment has not been completed. Your booking is still waiting for "
                                        "payment.")
        elif attempt.status == CheckoutStatus.EXPIRED:
            outcome, message = "expired", ("The payment page timed out before the payment was made. No money has "
                                           "been taken.")
        else:
            outcome, message = "failed", "The payment could not be started. No money has been taken."
        return CheckoutResult(
            outcome=outcome, booking_reference=booking.reference,
            amount_pence=payment.amount_pence if payment is not None else attempt.amount_pence,
            provider=attempt.provider, is_demo=demo, message=message, payment_state=summary.state,
            course_text=f"{view.course_name} ({view.course_code})",
            session_text=f"{london_text(view.starts_at)}, {view.venue_name}",
            organisation_name=org.name if org else "",
        )


# --- Stripe webhook events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookOutcome:
    status_code: int
    outcome: str


def _attempt_for_payment_intent(s: Session, obj: dict) -> CheckoutAttempt | None:
    meta = obj.get("metadata") or {}
    attempt = None
    stripe_attempt = CheckoutAttempt.provider == "stripe"
    if str(meta.get("checkout_attempt_id", "")).isdigit():
        attempt = locks.lock_where(s, "checkout_attempt", stripe_attempt,
                                   CheckoutAttempt.id == bounds.query_id(meta["checkout_attempt_id"]))
    if attempt is None and obj.get("id"):
        attempt = locks.lock_where(s, "checkout_attempt", stripe_attempt,
                                   CheckoutAttempt.payment_intent_id == obj["id"])
    return attempt


def _payment_failed(s: Session, obj: dict, now: datetime) -> tuple[str, int | None]:
    attempt = _attempt_for_payment_intent(s, obj)
    if attempt is None:
        return "not ours", None
    if attempt.status == CheckoutStatus.COMPLETE or s.exec(select(Payment.id)
                                                           .where(Payment.checkout_attempt_id == attempt.id)
                                              ).first():
        return "failure after success ignored", attempt.organisation_id
    error = obj.get("last_payment_error") or {}
    message = str(error.get("message") or "The card payment failed.")
    if obj.get("id") and not attempt.payment_intent_id:
        attempt.payment_intent_id = obj["id"]
    payments.record_failed_card_payment(s, attempt, provider_ref=str(obj.get("id") or ""), message=message, now=now)
    return "payment failed recorded", attempt.organisation_id


def _charge_refunded(s: Session, obj: dict, now: datetime) -> tuple[str, int | None]:
    pi = obj.get("payment_intent")
    pi_id = pi.get("id") if isinstance(pi, dict) else pi
    found = None
    if pi_id:
        found = s.exec(select(Payment.id, Payment.booking_id).where(
            Payment.provider == "stripe", Payment.provider_ref == pi_id,
            Payment.status == PaymentStatus.SUCCEEDED)).first()
    payment = None
    if found is not None:
        booking = s.get(Booking, found[1])
        payment = locks.lock(s, locks.offer(booking.offer_id), locks.booking(booking.id),
                             locks.payment(found[0])).get(locks.payment(found[0]))
    if payment is None:
        meta = obj.get("metadata") or {}
        ours = bool(meta.get("checkout_attempt_id") or meta.get("booking_reference")) or (
            pi_id and s.exec(select(CheckoutAttempt.id).where(CheckoutAttempt.payment_intent_id == pi_id)).first())
        if ours:
            raise RetryLater("The refunded payment is not recorded yet; try again later.")
        return "not ours", None
    added = payments.apply_provider_refund_total(s, payment, int(obj.get("amount_refunded") or 0), now)
    return (f"refund of {added} recorded" if added else "refund already recorded"), payment.organisation_id


def _refund_updated(s: Session, obj: dict, now: datetime) -> tuple[str, int | None]:
    outcome = payments.provider_refund_update(s, str(obj.get("id") or ""), str(obj.get("status") or ""),
                                              str(obj.get("failure_reason") or ""), now)
    if outcome is not None:
        return outcome
    if (obj.get("metadata") or {}).get("atlas_refund_id"):  # ours, but Stripe's answer to it is not recorded yet
        raise RetryLater("The refund is not recorded yet; try again later.")
    return "not ours", None


SESSION_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded",
                  "checkout.session.expired")
REFUND_EVENTS = ("refund.updated", "charge.refund.updated", "refund.failed")


def handle_stripe_event(event: dict) -> WebhookOutcome:
    """Apply one verified Stripe event, once. The event id is claimed in the same transaction as the change, so a
    second delivery changes nothing; an event that cannot be applied yet is not claimed (Stripe retries it)."""
    event_id = str(event.get("id") or "")
    event_type = str(event.get("type") or "")
    obj = ((event.get("data") or {}).get("object")) or {}
    if not event_id or not isinstance(obj, dict):
        return WebhookOutcome(400, "not a Stripe event")
    with read_session() as s:
        if s.exec(select(ProcessedWebhookEvent.id).where(ProcessedWebhookEvent.event_id == event_id)).first():
            return WebhookOutcome(200, "duplicate")
    # For a completed session, re-fetch it from Stripe (authoritative, and carries the fee); fall back to the
    # signed payload if Stripe cannot be reached.
    if event_type in SESSION_EVENTS and obj.get("status") == "complete" and obj.get("id"):
        obj = _retrieve_session(str(obj["id"])) or obj
    from sqlalchemy.exc import IntegrityError

    now = utcnow()
    try:
        with write_session() as s:
            record = ProcessedWebhookEvent(event_id=event_id[:255], event_type=event_type[:100], received_at=now)
            try:
                with s.begin_nested():
                    s.add(record)
                    s.flush()
            except IntegrityError:
                return WebhookOutcome(200, "duplicate")
            if event_type in SESSION_EVENTS:
                outcome, org_id = _apply_session(s, obj, now)
            elif event_type == "checkout.session.async_payment_failed":
                attempt = _attempt_for_update(s, str(obj.get("id") or ""))
                if attempt is None:
                    outcome, org_id = "not ours", None
                else:
                    payments.record_failed_card_payment(s, attempt, provider_ref=str(obj.get("payment_intent") or ""),
                                                        message="The payment failed.", now=now)
                    outcome, org_id = "payment failed recorded", attempt.organisation_id
            elif event_type == "payment_intent.payment_failed":
                outcome, org_id = _payment_failed(s, obj, now)
            elif event_type == "charge.refunded":
                outcome, org_id = _charge_refunded(s, obj, now)
            elif event_type in REFUND_EVENTS:
                outcome, org_id = _refund_updated(s, obj, now)
            else:
                outcome, org_id = "ignored", None
            record.outcome, record.organisation_id = outcome[:300], org_id
            s.add(record)
    except RetryLater as exc:
        return WebhookOutcome(503, str(exc))
    return WebhookOutcome(200, outcome)


# --- the demo card provider ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoCheckoutView:
    amount_pence: int
    booking_reference: str
    course_text: str
    session_text: str
    organisation_name: str
    status: str  # open, complete, expired, failed
    last_error: str
    cancel_url: str
    return_url: str
    label: str = DEMO_LABEL


def _demo_attempt(s: Session, token: str, lock: bool = False) -> CheckoutAttempt:
    token = str(token or "").strip()
    if not token.startswith("demo_cs_") or len(token) > 100:
        raise NotFound("This payment page does not exist or has expired.")
    query = select(CheckoutAttempt).where(CheckoutAttempt.provider_session_id == token,
                                          CheckoutAttempt.provider == "demo")
    if lock:
        attempt = locks.lock_where(s, "checkout_attempt", CheckoutAttempt.provider_session_id == token,
                                   CheckoutAttempt.provider == "demo")
    else:
        attempt = s.exec(query).first()
    if attempt is None:
        raise NotFound("This payment page does not exist or has expired.")
    return attempt


def demo_checkout(token: str) -> DemoCheckoutView:
    """The demo payment page's contents. The unguessable token in the address is the only key to it."""
    require_demo_allowed(organisation_demo=True)  # a live key switches the demo off for everyone
    with read_session() as s:
        attempt = _demo_attempt(s, token)
        booking = s.get(Booking, attempt.booking_id)
        org = s.get(Organisation, booking.organisation_id)
        require_demo_allowed(bool(org and org.payments_demo))
        view = booking_service.booking_view(s, booking)
        status = attempt.status
        if status == CheckoutStatus.OPEN and attempt.expires_at is not None and attempt.expires_at <= utcnow():
            status = CheckoutStatus.EXPIRED
        return DemoCheckoutView(
            amount_pence=attempt.amount_pence, booking_reference=booking.reference,
            course_text=f"{view.course_name} ({view.course_code})",
            session_text=f"{london_text(view.starts_at)}, {view.venue_name}",
            organisation_name=org.name if org else "", status=status, last_error=attempt.last_error,
            cancel_url=attempt.cancel_url, return_url=attempt.success_url.replace(SESSION_PLACEHOLDER, token),
        )


@dataclass(frozen=True)
class DemoPayResult:
    outcome: str  # paid, declined, invalid, closed
    message: str = ""
    errors: dict[str, str] | None = None
    redirect_url: str = ""


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def check_card_fields(card_number: str, expiry: str, cvc: str, now: datetime | None = None) -> tuple[str, dict]:
    """Validate the demo form as a card form would; returns (digits, errors by field)."""
    errors: dict[str, str] = {}
    digits = re.sub(r"[\s-]", "", str(card_number or ""))
    if not digits:
        errors["card_number"] = "Enter the card number."
    elif not digits.isdigit() or not 13 <= len(digits) <= 19 or not _luhn_ok(digits):
        errors["card_number"] = "Enter a valid card number, for example 4242 4242 4242 4242."
    exp = re.sub(r"\s", "", str(expiry or ""))
    m = re.fullmatch(r"(\d{1,2})/?(\d{2}|\d{4})", exp)
    if not exp:
        errors["expiry"] = "Enter the expiry date, for example 12 / 30."
    elif not m or not 1 <= int(m.group(1)) <= 12:
        errors["expiry"] = "Enter the expiry date as month and year, for example 12 / 30."
    else:
        year = int(m.group(2)) if len(m.group(2)) == 4 else 2000 + int(m.group(2))
        today = london_date(now or utcnow())
        if (year, int(m.group(1))) < (today.year, today.month):
            errors["expiry"] = "The expiry date is in the past."
    c = str(cvc or "").strip()
    if not c:
        errors["cvc"] = "Enter the security code (CVC)."
    elif not re.fullmatch(r"\d{3,4}", c):
        errors["cvc"] = "The security code is the 3 or 4 digits on the back of the card."
    return digits, errors


def _return_url(attempt: CheckoutAttempt) -> str:
    return attempt.success_url.replace(SESSION_PLACEHOLDER, attempt.provider_session_id or "")


def demo_pay(token: str, card_number: str, expiry: str, cvc: str) -> DemoPayResult:
    """Pay on the demo page, as Stripe's test mode would: 4242 4242 4242 4242 succeeds, 4000 0000 0000 0002 is
    declined (the booking stays payable). No card data is stored."""
    require_demo_allowed(organisation_demo=True)  # a live key switches the demo off for everyone
    now = utcnow()
    with write_session() as s:
        attempt = _demo_attempt(s, token, lock=True)
        require_demo_allowed(organisation_demo(attempt.organisation_id, s))
        digits, errors = check_card_fields(card_number, expiry, cvc)
        if errors:
            return DemoPayResult("invalid", "There is a problem with the card details.", errors)
        if attempt.status == CheckoutStatus.COMPLETE:
            return DemoPayResult("paid", "Already paid.",
                                 redirect_url=_return_url(attempt))
        if attempt.status != CheckoutStatus.OPEN or (attempt.expires_at is not None and attempt.expires_at <= now):
            if attempt.status == CheckoutStatus.OPEN:
                attempt.status = CheckoutStatus.EXPIRED
                s.add(attempt)
            return DemoPayResult("closed", "This payment page has timed out. No money has been taken. Go back to "
                                           "your booking to start again.")
        if digits in DEMO_CARDS and DEMO_CARDS[digits] is None:
            payments.record_provider_payment(s, attempt, amount_pence=attempt.amount_pence,
                                             provider_ref="demo_pi_" + secrets.token_hex(12), fee_pence=None,
                                             now=now, note=f"{DEMO_LABEL}; card ending {digits[-4:]}")
            return DemoPayResult("paid", "Payment accepted.",
                                 redirect_url=_return_url(attempt))
        message = DEMO_CARDS.get(digits) or ("Your card was declined. This is a demo: use the test card "
                                             "4242 4242 4242 4242.")
        payments.record_failed_card_payment(s, attempt, provider_ref="demo_pi_" + secrets.token_hex(12),
                                            message=message, now=now)
        return DemoPayResult("declined", message)


def verify_event_time(sig_header: str, tolerance: int) -> bool:
    """Stripe's library rejects old timestamps; this also rejects ones too far in the future."""
    try:
        t = int(next(p.split("=", 1)[1] for p in (sig_header or "").split(",") if p.startswith("t=")))
    except (StopIteration, ValueError):
        return False
    return t <= int(utcnow().timestamp()) + tolerance


def parse_event(payload: bytes) -> dict:
    return json.loads(payload.decode("utf-8"))


__all__ = [
    "CheckoutResult", "CheckoutStart", "DemoCheckoutView", "DemoPayResult", "WebhookOutcome", "amount_due_now",
    "check_card_fields", "checkout_result", "complete_checkout", "demo_checkout", "demo_pay", "handle_stripe_event",
    "organisation_demo", "provider_for", "moto_available", "start_moto_payment",
    "start_checkout",
]
