"""The password rule and bcrypt hashing."""

from __future__ import annotations

import pytest

from atlas_app.services.platform import passwords
from atlas_app.services.platform.errors import ValidationFailed
from atlas_app.services.platform.passwords import (
    check_password_rule,
    hash_password,
    password_problems,
    token_digest,
    verify_password,
)
from conftest import SHIPPED_BCRYPT_ROUNDS, TEST_BCRYPT_ROUNDS


@pytest.mark.parametrize("password", ["abcdef1", "1234abc", "Passw0rd", "a1b2c3d4e5", "ÄÖÜäöü1"])
def test_acceptable_passwords(password):
    assert password_problems(password) == []
    check_password_rule(password)


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("abcde1", "at least 7 characters"),
        ("", "at least 7 characters"),
        ("abcdefgh", "at least one digit"),
        ("12345678", "at least one letter"),
        ("!!!!!!!!!", "at least one letter"),
        ("a1" * 65, "no more than 128 characters"),
    ],
)
def test_rejected_passwords_name_the_problem(password, problem):
    assert problem in password_problems(password)
    with pytest.raises(ValidationFailed) as err:
        check_password_rule(password)
    assert problem in str(err.value)
    assert "password" in err.value.errors


def test_organisation_can_raise_the_minimum():
    assert password_problems("abcdef1", min_length=10) == ["at least 10 characters"]
    assert password_problems("abcdefghi1", min_length=10) == []
    with pytest.raises(ValidationFailed):
        check_password_rule("abcdefgh1", 10)


@pytest.mark.parametrize("lower", [0, 1, 3, 6])
def test_organisation_cannot_lower_the_minimum(lower):
    assert "at least 7 characters" in password_problems("abc1", min_length=lower)
    assert password_problems("abcdef1", min_length=lower) == []
    with pytest.raises(ValidationFailed):
        check_password_rule("abcde1", lower)


def test_hash_is_not_the_password_and_verifies():
    hashed = hash_password("secret123")
    assert hashed != "secret123"
    assert "secret123" not in hashed
    assert hashed.startswith("$2")
    assert verify_password("secret123", hashed)
    assert not verify_password("secret124", hashed)
    assert not verify_password("", hashed)


def test_same_password_hashes_differently_each_time():
    first, second = hash_password("secret123"), hash_password("secret123")
    assert first != second
    assert verify_password("secret123", first) and verify_password("secret123", second)


def test_long_passwords_differing_only_after_72_bytes_are_told_apart():
    prefix = "a1" * 40  # 80 bytes, beyond bcrypt's 72-byte limit
    one, two = prefix + "tail-one", prefix + "tail-two"
    hashed = hash_password(one)
    assert verify_password(one, hashed)
    assert not verify_password(two, hashed)
    assert not verify_password(prefix, hashed)


def test_multibyte_passwords_past_72_bytes_are_told_apart():
    prefix = "ü1" * 30  # 90 bytes in UTF-8
    hashed = hash_password(prefix + "x")
    assert verify_password(prefix + "x", hashed)
    assert not verify_password(prefix + "y", hashed)


def test_verify_against_a_missing_or_corrupt_hash_is_false():
    assert verify_password("secret123", "") is False
    assert verify_password("secret123", "not-a-bcrypt-hash") is False


def test_rounds_are_read_when_hashing():
    """The work factor is read at call time: the shipped setting is strong, and the tests' lower one applies."""
    assert SHIPPED_BCRYPT_ROUNDS >= 12
    assert passwords.BCRYPT_ROUNDS == TEST_BCRYPT_ROUNDS
    assert hash_password("secret123").startswith(f"$2b${TEST_BCRYPT_ROUNDS:02d}$")
    assert hash_password("secret123", rounds=5).startswith("$2b$05$")


def test_token_digest_is_sha256_hex_and_not_the_token():
    import hashlib

    token = passwords.new_token()
    assert len(token) >= 40
    assert token_digest(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in token_digest(token)
    assert passwords.new_token() != token
