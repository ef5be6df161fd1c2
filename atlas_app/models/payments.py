"""Payments: money received for bookings (card online, card by telephone, offline, waivers), refunds, card checkout
attempts, Stripe webhook events already handled, and payment plans agreed for special circumstances.

Invariants the database keeps:
* a checkout attempt records at most one successful payment (``payment.checkout_attempt_id`` is unique), so a
  webhook and the client's return page, or a replayed event, can never record the same card payment twice;
* a Stripe event is handled once (``processed_webhook_event.event_id`` is unique);
* no more is refunded than was paid (CHECK on ``payment.refunded_pence``);
* a booking has at most one active payment plan (a partial unique index).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint, false, text
from sqlmodel import Field, SQLModel

from atlas_app.db import UTCDateTime, utcnow
from atlas_app.domain.statuses import CheckoutStatus, PaymentStatus, PlanStatus, RefundStatus, check_name, check_sql

PAYMENT_METHODS = ("card_online", "card_telephone", "cheque", "cash", "bank_transfer", "waiver")
PAYMENT_PROVIDERS = ("stripe", "demo", "offline")
PAYMENT_STATUSES = tuple(PaymentStatus)
CHECKOUT_STATUSES = tuple(CheckoutStatus)
PLAN_STATUSES = tuple(PlanStatus)


def _status_check(table: str, enum) -> CheckConstraint:
    return CheckConstraint(check_sql("status", enum), name=check_name(table, "status"))


class CheckoutAttempt(SQLModel, table=True):
    """One attempt by a client to pay by card: a Stripe Checkout Session, or a demo checkout."""

    __tablename__ = "checkout_attempt"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="ck_checkout_attempt_amount"),
        Index("ix_checkout_attempt_booking_status", "booking_id", "status"),
        _status_check("checkout_attempt", CheckoutStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    booking_id: int = Field(foreign_key="booking.id")
    provider: str = Field(max_length=20)  # stripe, demo
    # Stripe's cs_... id, or the demo's unguessable token; set once the provider has created the session.
    provider_session_id: str | None = Field(default=None, max_length=255, unique=True)
    amount_pence: int
    currency: str = Field(default="gbp", max_length=3)
    status: str = Field(default=CheckoutStatus.OPEN, max_length=20)
    # Sent to Stripe with the create request, so a retried request never makes a second session.
    idempotency_key: str = Field(max_length=80, unique=True)
    url: str = Field(default="", max_length=2000)
    success_url: str = Field(default="", max_length=1000)
    cancel_url: str = Field(default="", max_length=1000)
    payment_intent_id: str = Field(default="", max_length=255, index=True)
    last_error: str = Field(default="", max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Payment(SQLModel, table=True):
    """Money in (or a failed try at it) for a booking."""

    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="ck_payment_amount"),
        CheckConstraint("refunded_pence >= 0 AND refunded_pence <= amount_pence", name="ck_payment_refunded"),
        CheckConstraint("fee_pence IS NULL OR fee_pence >= 0", name="ck_payment_fee"),
        # Covering on PostgreSQL: the dashboards sum income by period from the index alone.
        Index("ix_payment_org_received", "organisation_id", "received_at",
              postgresql_include=["status", "method", "amount_pence", "refunded_pence"]),
        Index("ix_payment_booking_status", "booking_id", "status"),
        _status_check("payment", PaymentStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    booking_id: int = Field(foreign_key="booking.id")
    amount_pence: int
    method: str = Field(max_length=20)  # card_online, card_telephone, cheque, cash, bank_transfer, waiver
    provider: str = Field(max_length=20)  # stripe, demo, offline
    # Stripe's PaymentIntent id, the demo's reference, a terminal authorisation code, a cheque number...
    provider_ref: str = Field(default="", max_length=255, index=True)
    status: str = Field(max_length=20)  # PaymentStatus
    # The card processor's fee, where known (Stripe's balance transaction).
    fee_pence: int | None = Field(default=None)
    refunded_pence: int = Field(default=0)
    checkout_attempt_id: int | None = Field(default=None, foreign_key="checkout_attempt.id", unique=True)
    recorded_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    recorded_by: str = Field(default="", max_length=80)
    # When the money was received (the day it counts in reconciliation).
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    note: str = Field(default="", max_length=500)
    # A payment staff must act on: it arrived after the seat was lost, or it paid more than was owed.
    needs_attention: bool = Field(default=False, index=True)
    attention_reason: str = Field(default="", max_length=500)
    attention_resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attention_resolved_by: str = Field(default="", max_length=80)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Refund(SQLModel, table=True):
    __tablename__ = "refund"
    __table_args__ = (
        CheckConstraint("amount_pence > 0", name="ck_refund_amount"),
        CheckConstraint("length(reason) > 0", name="ck_refund_reason"),
        Index("ix_refund_org_at", "organisation_id", "at"),
        _status_check("refund", RefundStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    amount_pence: int
    reason: str = Field(max_length=500)
    # Stripe's re_... id (or the demo's); empty for offline refunds.
    provider_ref: str | None = Field(default=None, max_length=255, unique=True)
    status: str = Field(default=RefundStatus.PENDING, max_length=20)
    # "atlas" when made here; "stripe" when first seen in a Stripe webhook (made in Stripe's dashboard).
    source: str = Field(default="atlas", max_length=20)
    by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    by_username: str = Field(default="", max_length=80)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    error: str = Field(default="", max_length=500)


class ProcessedWebhookEvent(SQLModel, table=True):
    """A provider event already handled: a second delivery of the same event changes nothing."""

    __tablename__ = "processed_webhook_event"

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(default="stripe", max_length=20)
    event_id: str = Field(max_length=255, unique=True)
    event_type: str = Field(max_length=100)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    outcome: str = Field(default="", max_length=300)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PaymentPlan(SQLModel, table=True):
    """Paying by instalments, approved by the organisation for special circumstances. The booking counts as paid
    only when the plan is complete; ``allow_attend_on_plan`` lets the client attend before then."""

    __tablename__ = "payment_plan"
    __table_args__ = (
        CheckConstraint("total_pence > 0", name="ck_payment_plan_total"),
        Index(
            "uq_payment_plan_one_active_per_booking",
            "booking_id",
            unique=True,
            sqlite_where=text(f"status = '{PlanStatus.ACTIVE}'"),
            postgresql_where=text(f"status = '{PlanStatus.ACTIVE}'"),
        ),
        _status_check("payment_plan", PlanStatus),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    booking_id: int = Field(foreign_key="booking.id", index=True)
    special_request_id: int | None = Field(default=None, foreign_key="special_request.id")
    total_pence: int
    allow_attend_on_plan: bool = Field(default=False)
    status: str = Field(default=PlanStatus.ACTIVE, max_length=20)
    reason: str = Field(default="", max_length=1000)
    approved_by_user_id: int | None = Field(default=None, foreign_key="app_user.id")
    approved_by: str = Field(default="", max_length=80)
    approved_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlanInstalment(SQLModel, table=True):
    __tablename__ = "plan_instalment"
    __table_args__ = (
        UniqueConstraint("plan_id", "seq", name="uq_plan_instalment_seq"),
        CheckConstraint("amount_pence > 0", name="ck_plan_instalment_amount"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="payment_plan.id", index=True)
    seq: int
    due_on: date
    amount_pence: int


class GovukPayAccount(SQLModel, table=True):
    """An organisation's own GOV.UK Pay account (services/payments/govuk_pay_accounts.py). The key and the secret
    are stored encrypted and never leave the server; ``api_key_hint`` (its last characters) lets staff recognise
    which key is in use."""

    __tablename__ = "govuk_pay_account"
    __table_args__ = (Index("ux_govuk_pay_account_organisation_id", "organisation_id", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    api_key_encrypted: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": text("''")}, exclude=True)
    api_key_hint: str = Field(default="", max_length=12, sa_column_kwargs={"server_default": text("''")})
    webhook_secret_encrypted: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": text("''")},
                                          exclude=True)
    moto_allowed: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
