"""Money in pence: the one rule for reading an amount typed in pounds and the one for showing it, and the fields
that use them (a course fee, a payment taken by staff) agreeing on what they accept."""

from __future__ import annotations

import random

import pytest
from sqlmodel import select

from atlas_app.db import read_session
from atlas_app.domain.money import MAX_PENCE, AmountError, format_pence, parse_pence, pence_decimal
from atlas_app.models import CourseType
from atlas_app.services import payments
from atlas_app.services.booking import catalogue
from atlas_app.services.platform.errors import ValidationFailed
from payments_support import awaiting_booking, make_world

ACCEPTED = [
    ("£12.50", 1250),
    ("12.5", 1250),
    ("12.50", 1250),
    ("95", 9500),
    (" 95 ", 9500),
    ("\t£95.00\n", 9500),
    ("£ 95", 9500),
    ("1,200", 120000),
    ("1,200.5", 120050),
    ("£1,234.56", 123456),
    ("12,345,678", None),  # well formed, but above the upper bound: see REFUSED
    ("0.01", 1),
    (".5", 50),
    ("12.", 1200),
    ("007", 700),
    ("100000", MAX_PENCE),
    (1250, 1250),  # an int is pence
]
REFUSED = [
    ("", "required", "Enter the amount."),
    ("   ", "required", "Enter the amount."),
    (None, "required", "Enter the amount."),
    ("£", "required", "Enter the amount."),
    ("12.345", "invalid", "at most two decimal places"),
    ("0.001", "invalid", "at most two decimal places"),
    ("1,20", "invalid", "commas only between groups of three digits"),
    ("1,2000", "invalid", "commas only between groups of three digits"),
    ("12,34.5", "invalid", "commas only between groups of three digits"),
    (",100", "invalid", "commas only between groups of three digits"),
    ("-5", "invalid", "cannot be negative"),
    ("£-5", "invalid", "cannot be negative"),
    (-500, "invalid", "cannot be negative"),
    ("abc", "invalid", "in pounds, for example 95 or 95.50"),
    ("12 50", "invalid", "in pounds, for example 95 or 95.50"),
    ("1e5", "invalid", "in pounds, for example 95 or 95.50"),
    ("1.2.3", "invalid", "in pounds, for example 95 or 95.50"),
    ("$5", "invalid", "in pounds, for example 95 or 95.50"),
    ("five", "invalid", "in pounds, for example 95 or 95.50"),
    (True, "invalid", "in pounds, for example 95 or 95.50"),
    ("0", "invalid", "must be more than £0"),
    ("0.00", "invalid", "must be more than £0"),
    ("100000.01", "too large", "at most £100,000.00"),
    ("12,345,678", "too large", "at most £100,000.00"),
    ("9" * 40, "too large", "at most £100,000.00"),
]


@pytest.mark.parametrize(("text", "pence"), [(t, p) for t, p in ACCEPTED if p is not None])
def test_the_rule_accepts(text, pence):
    assert parse_pence(text) == pence


@pytest.mark.parametrize(("text", "code", "words"), REFUSED)
def test_the_rule_refuses_with_a_clear_message(text, code, words):
    with pytest.raises(AmountError) as caught:
        parse_pence(text)
    assert caught.value.code == code
    assert words in caught.value.message


def test_zero_and_the_upper_bound_are_the_callers_choice():
    assert parse_pence("0", allow_zero=True) == 0
    with pytest.raises(AmountError, match="Enter the fee."):
        parse_pence("", allow_zero=True, what="the fee")
    assert parse_pence("10,000", maximum=1_000_000) == 1_000_000
    with pytest.raises(AmountError, match=r"The fee can be at most £10,000\.00\."):
        parse_pence("10,000.01", maximum=1_000_000, what="the fee")


@pytest.mark.parametrize(("pence", "shown", "plain"), [
    (0, "£0.00", "0.00"),
    (1, "£0.01", "0.01"),
    (50, "£0.50", "0.50"),
    (1250, "£12.50", "12.50"),
    (9500, "£95.00", "95.00"),
    (123450, "£1,234.50", "1234.50"),
    (100000000, "£1,000,000.00", "1000000.00"),
    (-300, "-£3.00", "-3.00"),
    (-5, "-£0.05", "-0.05"),
    (-123456, "-£1,234.56", "-1234.56"),
])
def test_the_formatters(pence, shown, plain):
    assert format_pence(pence) == shown
    assert pence_decimal(pence) == plain


def test_what_is_shown_reads_back_as_the_same_amount():
    rng = random.Random(7)
    for pence in [1, 99, 100, 101, 99999, 100000, MAX_PENCE] + [rng.randint(1, MAX_PENCE) for _ in range(500)]:
        assert parse_pence(format_pence(pence)) == pence
        assert parse_pence(pence_decimal(pence)) == pence


def test_every_formatter_in_the_app_is_the_one_rule():
    import importlib

    reconciliation = importlib.import_module("atlas_app.services.payments.reconciliation")
    from atlas_app.services.insight import letters
    from atlas_app.ui import format as ui_format
    from atlas_app.ui.staff.booking import catalogue as catalogue_page
    from atlas_app.ui.staff.insight import dashboards as dashboards_page

    for pence in (-300, 0, 5, 123450):
        assert payments.pounds_text(pence) == ui_format.pounds(pence) == format_pence(pence)
        assert dashboards_page._money(pence) == letters._money(pence) == format_pence(pence)
        assert reconciliation._money(pence) == pence_decimal(pence)
    assert catalogue_page._pounds(9550) == "95.50"
    assert ui_format.pounds(None) == "" and reconciliation._money(None) == "" and letters._money(None) == "£0.00"


# --- the two fields agree ------------------------------------------------------------------------------------------

# Inputs within both fields' ranges (a course fee is at most £10,000; zero is a free course, never a payment).
FIELD_INPUTS = ["£12.50", "12.5", "1,200", "1,200.5", " 95 ", "0.01", "12.", "12.345", "1,20", "-5", "abc", "",
                "1e5", "£-1", "10,0000"]


def _fee_outcome(actor, code: str, text) -> int | str:
    try:
        ct_id = catalogue.save_course_type(actor, None, {"code": code, "name": "Course", "fee": text,
                                                         "delivery_modes": ["classroom"]})
    except ValidationFailed as exc:
        assert list(exc.errors) == ["fee"]
        return str(exc)
    with read_session() as s:
        return s.exec(select(CourseType.fee_pence).where(CourseType.id == ct_id)).one()


def _payment_outcome(actor, reference: str, text) -> int | str:
    try:
        row = payments.record_payment(actor, reference, text, "cash")
    except ValidationFailed as exc:
        assert list(exc.errors) == ["amount"]
        return str(exc)
    return row.amount_pence


def test_the_course_fee_and_the_payment_amount_accept_and_refuse_the_same_inputs(org, actor):
    world = make_world(org.id, fee=MAX_PENCE)
    booking = awaiting_booking(world)
    for i, text in enumerate(FIELD_INPUTS):
        fee = _fee_outcome(actor, f"F{i}", text)
        paid = _payment_outcome(actor, booking.reference, text)
        assert type(fee) is type(paid), (text, fee, paid)
        if isinstance(fee, int):
            assert fee == paid == parse_pence(text), text
        else:
            # The same reason, in the field's own words.
            assert fee.replace("the fee", "the amount").replace("The fee", "The amount") == paid, (text, fee, paid)


def test_zero_is_a_free_course_but_never_a_payment(org, actor):
    world = make_world(org.id, fee=9500)
    booking = awaiting_booking(world)
    assert _fee_outcome(actor, "FREE", "0") == 0
    assert _payment_outcome(actor, booking.reference, "0") == "The amount must be more than £0."
    assert _fee_outcome(actor, "BIG", "10,000.01") == "The fee can be at most £10,000.00."
