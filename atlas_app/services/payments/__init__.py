"""Payments for bookings: the payment state of a booking, staff-recorded payments (card by telephone, cheque, cash,
bank transfer, waivers), refunds, payment plans, overdue bookings, payments needing attention, and reconciliation.

* A booking's payment state is computed from data, never stored: :func:`payment_state` decides it from the facts,
  :func:`payment_summaries` gathers the facts for many bookings in one query. Payments made for a booking before
  it was transferred count for the booking it became.
* Money that arrives is never lost. A payment landing after the booking's seat was let go takes the seat back when
  one is free; otherwise it is recorded and flagged for staff ("needs attention") to rebook or refund.
* When a booking becomes fully paid it moves from awaiting payment to confirmed, with an audit entry, a 'paid'
  event on the client's timeline and a receipt by email.
* :func:`process_overdue` is the housekeeping job for bookings whose payment deadline has passed: released or
  chased, as the organisation's booking terms say.
"""

from atlas_app.services.payments.attention import (  # noqa: F401
    AttentionRow,
    attention_list,
    move_payment,
    resolve_attention,
)
from atlas_app.services.payments.cancellation import (  # noqa: F401
    NO_MONEY,
    REFUNDED_AUTOMATICALLY,
    CancelMoney,
    CancelOutcome,
    cancel_booking,
    cancel_preview,
)
from atlas_app.services.payments.ledger import (  # noqa: F401
    booking_by_reference,
    flag_payment,
    lock_booking,
    offer_of,
    parse_pence,
    payment_snapshot,
    pounds_text,
    record_failed_card_payment,
    record_provider_payment,
    settle,
)
from atlas_app.services.payments.overdue import (  # noqa: F401
    UNSENT_REFUND_AGE,
    OverdueReport,
    process_overdue,
    retry_unsent_refunds,
)
from atlas_app.services.payments.plans import (  # noqa: F401
    approve_plan,
    cancel_plan,
    parse_instalments,
)
from atlas_app.services.payments.reconciliation import (  # noqa: F401
    ReconciliationReport,
    ReconLine,
    ReconRow,
    reconciliation,
    reconciliation_csv,
)
from atlas_app.services.payments.refunds import (  # noqa: F401
    ReservedRefund,
    apply_provider_refund_total,
    provider_refund_update,
    lock_payment,
    refund_payment,
    refund_row,
    reserve_refund,
    send_card_refund,
)
from atlas_app.services.payments.staff import (  # noqa: F401
    BookingPayments,
    PaymentRow,
    PlanView,
    RefundRow,
    booking_payments,
    payment_row,
    record_payment,
)
from atlas_app.services.payments.state import (  # noqa: F401
    GROUP_LABELS,
    MAX_BACKDATE,
    METHOD_GROUPS,
    METHOD_LABELS,
    PAYMENT_STATE_LABELS,
    PAYMENT_STATES,
    REFERENCE_REQUIRED,
    REMINDER_INTERVAL,
    SEAT_STATUSES,
    STAFF_METHODS,
    TIMELINE_LABELS,
    PaymentFacts,
    PaymentSummary,
    booking_paid_flags,
    booking_payment_states,
    client_payment_summary,
    lineage_cte,
    payment_state,
    payment_summaries,
    payment_summary,
)


__all__ = [
    "PAYMENT_METHODS", "PAYMENT_STATES", "PAYMENT_STATE_LABELS", "TIMELINE_LABELS", "AttentionRow",
    "BookingPayments", "OverdueReport",
    "PaymentFacts", "PaymentRow", "PaymentSummary", "PlanView", "ReconciliationReport", "RefundRow", "approve_plan",
    "CancelMoney", "CancelOutcome", "attention_list", "booking_paid_flags", "booking_payment_states", "booking_payments",
    "cancel_booking", "cancel_plan", "cancel_preview", "client_payment_summary", "move_payment",
    "parse_instalments", "payment_state",
    "payment_summaries", "payment_summary", "process_overdue", "provider_refund_update", "reconciliation",
    "reconciliation_csv",
    "record_payment", "refund_payment", "resolve_attention",
]
