"""Forgotten passwords: an emailed single-use, expiring link, made only when the email is sent."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from atlas_app.db import utcnow
from atlas_app.models import AuditEntry, AuthSession, EmailMessage, PasswordResetToken
from atlas_app.services.platform import auth, outbox
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.services.platform.passwords import token_digest
from atlas_app.settings import get_settings
from conftest import all_rows, get_user, set_columns, sql

LINK = re.compile(r"(https?://\S+/reset-password\?token=([A-Za-z0-9_\-]+))")


def emails_to(address: str) -> list[EmailMessage]:
    return all_rows(EmailMessage, EmailMessage.to_address == address, order_by=EmailMessage.id)


def mail_to(smtp, address: str) -> list:
    return [m for m in smtp.messages if m["To"] == address]


def reset_token_from_email(address: str) -> str:
    """Send what is due and read the token from the last email that reached ``address`` over SMTP."""
    auth.send_requested_links()
    outbox.deliver_due()
    received = [m for m in SMTP.messages if m["To"] == address]
    assert received, f"no email to {address}"
    body = received[-1].get_body(("plain",)).get_content()
    match = LINK.search(body)
    assert match, body
    assert match.group(1).startswith(get_settings().base_url + "/reset-password?token=")
    return match.group(2)


SMTP = None


@pytest.fixture(autouse=True)
def mail_server(smtp):
    global SMTP
    SMTP = smtp
    yield smtp
    SMTP = None


@pytest.fixture
def staff(make_user):
    return make_user("hbc.staff", "secret123", email="Staff.Member@hartlepool.example.gov.uk")


def test_request_queues_an_email_with_a_link_and_stores_only_the_hash(staff, smtp):
    message = auth.request_password_reset("hbc.staff", ip="192.0.2.7")
    assert "email a link" in message
    assert emails_to(staff.email) == []  # made by the background pass, not while answering
    assert auth.send_requested_links() == 1
    emails = emails_to(staff.email)
    assert len(emails) == 1
    email = emails[0]
    assert email.subject == "Atlas: set a new password"
    assert email.sensitive is True
    assert email.organisation_id == staff.organisation_id
    assert email.status == "queued"
    token = reset_token_from_email(staff.email)
    # The stored copy holds a placeholder, never the link, before and after sending.
    stored = emails_to(staff.email)[0]
    assert stored.status == "sent" and token not in stored.body_text and "token=" not in stored.body_text
    assert outbox.LINK_PLACEHOLDER in stored.body_text

    rows = all_rows(PasswordResetToken)
    assert len(rows) == 1
    assert rows[0].user_id == staff.id
    assert rows[0].token_hash == token_digest(token) != token
    minutes = get_settings().password_reset_minutes
    assert abs((rows[0].expires_at - utcnow()) - timedelta(minutes=minutes)) < timedelta(seconds=30)
    raw = sql("SELECT * FROM password_reset_token").fetchall()
    assert all(token not in str(v) for row in raw for v in row)
    # The token is not in the audit trail either.
    assert all(token not in str(e.after) + str(e.before) for e in all_rows(AuditEntry))
    assert [e.action for e in all_rows(AuditEntry)] == ["password_reset_requested"]
    assert auth.reset_password_with_token(token, "brandnew42") == "hbc.staff"


def test_email_address_works_as_identifier_in_any_case(staff):
    auth.request_password_reset("STAFF.member@hartlepool.example.gov.uk")
    auth.send_requested_links()
    assert len(emails_to(staff.email)) == 1


def test_reset_link_works_once(staff):
    session_token = auth.login("hbc.staff", "secret123").token
    auth.login("hbc.staff", "wrong999")
    auth.request_password_reset("hbc.staff")
    token = reset_token_from_email(staff.email)

    assert auth.reset_password_with_token(token, "brandnew42") == "hbc.staff"
    assert auth.login("hbc.staff", "brandnew42").ok
    assert not auth.login("hbc.staff", "secret123").ok
    assert auth.resolve(session_token) is None  # sessions end with a reset
    assert get_user(staff.id).must_change_password is False
    assert all_rows(PasswordResetToken)[0].used_at is not None

    with pytest.raises(ValidationFailed):
        auth.reset_password_with_token(token, "another42x")
    assert auth.login("hbc.staff", "brandnew42").ok
    assert "password_reset_by_link" in [e.action for e in all_rows(AuditEntry)]


def test_reset_clears_failed_attempts(staff):
    auth.login("hbc.staff", "wrong999")
    auth.login("hbc.staff", "wrong999")
    auth.request_password_reset("hbc.staff")
    auth.reset_password_with_token(reset_token_from_email(staff.email), "brandnew42")
    assert get_user(staff.id).failed_attempts == 0


def test_expired_link_is_refused(staff):
    auth.request_password_reset("hbc.staff")
    token = reset_token_from_email(staff.email)
    set_columns(PasswordResetToken, PasswordResetToken.user_id == staff.id, expires_at=utcnow() - timedelta(seconds=1))
    with pytest.raises(ValidationFailed) as err:
        auth.reset_password_with_token(token, "brandnew42")
    assert "not valid" in str(err.value)
    assert auth.login("hbc.staff", "secret123").ok


def test_weak_password_is_refused_and_the_link_still_works(staff):
    auth.request_password_reset("hbc.staff")
    token = reset_token_from_email(staff.email)
    for weak in ("short1", "lettersonly", "12345678", ""):
        with pytest.raises(ValidationFailed) as err:
            auth.reset_password_with_token(token, weak)
        assert "password" in err.value.errors
    assert auth.login("hbc.staff", "secret123").ok
    assert auth.reset_password_with_token(token, "brandnew42") == "hbc.staff"


def test_reset_respects_the_organisations_longer_minimum(staff, org):
    sql("UPDATE organisation SET password_min_length = 12 WHERE id = :id", id=org.id)
    auth.request_password_reset("hbc.staff")
    token = reset_token_from_email(staff.email)
    with pytest.raises(ValidationFailed):
        auth.reset_password_with_token(token, "brandnew42")
    assert auth.reset_password_with_token(token, "brandnew42abc") == "hbc.staff"


def test_a_new_request_replaces_the_earlier_link(staff):
    auth.request_password_reset("hbc.staff")
    first = reset_token_from_email(staff.email)
    auth.request_password_reset("hbc.staff")
    second = reset_token_from_email(staff.email)
    assert first != second
    with pytest.raises(ValidationFailed):
        auth.reset_password_with_token(first, "brandnew42")
    assert auth.reset_password_with_token(second, "brandnew42") == "hbc.staff"


@pytest.mark.parametrize("token", ["", "made-up-token", "A" * 43])
def test_made_up_tokens_are_refused(staff, token):
    auth.request_password_reset("hbc.staff")
    with pytest.raises(ValidationFailed):
        auth.reset_password_with_token(token, "brandnew42")


def test_same_answer_whether_or_not_the_account_exists(make_user, staff):
    make_user("hbc.noemail", email="")
    make_user("hbc.disabled", is_active=False)
    answers = {
        ident: auth.request_password_reset(ident)
        for ident in ("hbc.staff", "nobody.at.all", "nobody@example.org", "hbc.noemail", "hbc.disabled")
    }
    assert len(set(answers.values())) == 1, answers
    auth.send_requested_links()
    # Only the real, active account with an address got an email and a token.
    assert [m.to_address for m in all_rows(EmailMessage)] == [staff.email]
    assert len(all_rows(PasswordResetToken)) == 1


def test_blank_identifier_is_a_validation_error(staff):
    with pytest.raises(ValidationFailed):
        auth.request_password_reset("   ")


def test_locked_account_gets_an_unlock_link_and_no_reset_link(staff):
    for _ in range(auth.MAX_FAILED_ATTEMPTS):
        auth.login("hbc.staff", "wrong999")
    answer = auth.request_password_reset("hbc.staff")
    assert answer == auth.request_password_reset("nobody.at.all")
    auth.send_requested_links()
    outbox.deliver_due()
    subjects = [m["Subject"] for m in mail_to(SMTP, staff.email)]
    # An unlock link was queued when the account locked and replaced by the request's: only the newer one goes
    # out (the older is not sent, as its link no longer works); never a reset link.
    assert subjects == ["Atlas: unlock your account"]
    assert [m.status for m in emails_to(staff.email)] == ["cancelled", "sent"]
    assert all(LINK.search(m.get_body(("plain",)).get_content()) is None for m in mail_to(SMTP, staff.email))
    assert {r.purpose for r in all_rows(PasswordResetToken)} == {"unlock"}
    assert [r.used_at is None for r in all_rows(PasswordResetToken, order_by=PasswordResetToken.id)] == [False, True]


def test_link_stops_working_if_the_account_is_locked_or_disabled_meanwhile(staff, actor):
    from atlas_app.services.platform import users

    auth.request_password_reset("hbc.staff")
    token = reset_token_from_email(staff.email)
    for _ in range(auth.MAX_FAILED_ATTEMPTS):
        auth.login("hbc.staff", "wrong999")
    with pytest.raises(ValidationFailed):
        auth.reset_password_with_token(token, "brandnew42")
    users.unlock(actor, staff.id)
    users.set_active(actor, staff.id, False)
    with pytest.raises(ValidationFailed):
        auth.reset_password_with_token(token, "brandnew42")
    users.set_active(actor, staff.id, True)
    assert auth.reset_password_with_token(token, "brandnew42") == "hbc.staff"
    assert all_rows(AuthSession) == []
