"""verifier.sessions.store.RefreshToken: the opaque `user.session_id.secret@generation` value."""

from __future__ import annotations

import base64
import hashlib
import secrets

import pytest

from verifier.errors import RefreshRejected
from verifier.factors.methods import SignIn
from verifier.sessions.store import (
    REFRESH_SECRET_BYTES,
    SESSION_ID_BYTES,
    Refreshed,
    RefreshToken,
    RotationOutcome,
    SteppedUp,
    is_session_id,
)

SESSION_ID = "Abc_def-0123456789xyzQ"  # 22 base64url characters
SECRET = "S" * 20 + "-_" + "s" * 21  # 43 base64url characters
assert len(SESSION_ID) == 22
assert len(SECRET) == 43


def parse_reason(raw: str) -> str:
    with pytest.raises(RefreshRejected) as caught:
        RefreshToken.parse(raw)
    return caught.value.reason


# --- round trip -----------------------------------------------------------------------------------


def test_minted_token_round_trips_through_its_cookie_value() -> None:
    token = RefreshToken.mint("alice", secrets.token_urlsafe(SESSION_ID_BYTES))
    assert RefreshToken.parse(str(token)) == token


def test_parse_splits_user_session_and_secret() -> None:
    token = RefreshToken.parse(f"alice.{SESSION_ID}.{SECRET}")
    assert token == RefreshToken(user="alice", session_id=SESSION_ID, secret=SECRET)
    assert str(token) == f"alice.{SESSION_ID}.{SECRET}"


@pytest.mark.parametrize("user", ["alice.smith", "a.b.c", "alice@example.com", "x+y-z_0", "."])
def test_user_names_with_dots_parse_from_the_right(user: str) -> None:
    token = RefreshToken.parse(f"{user}.{SESSION_ID}.{SECRET}")
    assert (token.user, token.session_id, token.secret) == (user, SESSION_ID, SECRET)


@pytest.mark.parametrize("generation", [0, 1, 7, 123456789])
def test_the_generation_follows_the_secret_and_round_trips(generation: int) -> None:
    raw = f"alice.{SESSION_ID}.{SECRET}@{generation}"
    token = RefreshToken.parse(raw)
    assert (token.secret, token.generation) == (SECRET, generation)
    assert str(token) == raw


def test_a_token_minted_before_generations_has_none_and_keeps_its_form() -> None:
    token = RefreshToken.parse(f"alice.{SESSION_ID}.{SECRET}")
    assert token.generation is None
    assert "@" not in str(token)


def test_the_generation_is_not_part_of_what_the_hash_covers() -> None:
    # A public counter: the stored hash is the secret's alone, whatever the generation says.
    at_one = RefreshToken("alice", SESSION_ID, SECRET, generation=1)
    assert at_one.secret_hash == at_one.at_generation(9).secret_hash


def test_minted_token_at_a_generation_round_trips() -> None:
    token = RefreshToken.mint("alice", SESSION_ID, generation=3)
    assert RefreshToken.parse(str(token)) == token


def test_secret_hash_is_the_sha256_of_the_secret() -> None:
    token = RefreshToken("alice", SESSION_ID, SECRET)
    assert token.secret_hash == hashlib.sha256(SECRET.encode()).hexdigest()
    assert SECRET not in token.secret_hash


# --- minting --------------------------------------------------------------------------------------


def test_mint_gives_a_43_character_secret_of_256_bits() -> None:
    token = RefreshToken.mint("alice", SESSION_ID)
    assert (token.user, token.session_id) == ("alice", SESSION_ID)
    assert len(token.secret) == 43
    assert REFRESH_SECRET_BYTES * 8 >= 256
    assert len(base64.urlsafe_b64decode(token.secret + "=")) == REFRESH_SECRET_BYTES == 32


def test_a_thousand_mints_are_distinct() -> None:
    minted = [RefreshToken.mint("alice", SESSION_ID).secret for _ in range(1000)]
    assert len(set(minted)) == 1000
    assert all(len(secret) == 43 for secret in minted)


def test_session_ids_of_the_configured_size_are_22_characters() -> None:
    assert len(secrets.token_urlsafe(SESSION_ID_BYTES)) == 22


# --- rejections -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "",
        ".",
        "..",
        "alice",
        f"alice.{SESSION_ID}",
        f"{SESSION_ID}.{SECRET}",
        f".{SESSION_ID}.{SECRET}",
        f"alice..{SECRET}",
        f"alice.{SESSION_ID}.",
    ],
)
def test_value_without_three_parts_is_rejected(raw: str) -> None:
    assert parse_reason(raw) == "malformed"


@pytest.mark.parametrize("length", [0, 1, 21, 23, 43])
def test_session_id_of_the_wrong_length_is_rejected(length: int) -> None:
    assert parse_reason(f"alice.{'A' * length}.{SECRET}") == "malformed"


@pytest.mark.parametrize("length", [0, 1, 22, 42, 44, 64])
def test_secret_of_the_wrong_length_is_rejected(length: int) -> None:
    assert parse_reason(f"alice.{SESSION_ID}.{'A' * length}") == "malformed"


@pytest.mark.parametrize("bad", ["+", "/", "=", " ", "!", "%", "é", "\x00", "\n", "."])
def test_session_id_or_secret_with_a_foreign_character_is_rejected(bad: str) -> None:
    assert parse_reason(f"alice.{bad}{SESSION_ID[1:]}.{SECRET}") == "malformed"
    assert parse_reason(f"alice.{SESSION_ID}.{SECRET[:-1]}{bad}") == "malformed"


def test_extra_dots_are_rejected() -> None:
    assert parse_reason(f"alice.{SESSION_ID}.{SECRET}.") == "malformed"
    assert parse_reason(f"alice.{SESSION_ID}.{SECRET}.{SECRET}") == "malformed"
    assert parse_reason(f"alice.{SESSION_ID[:11]}.{SESSION_ID[11:]}.{SECRET}") == "malformed"


@pytest.mark.parametrize("user", ["Alice", "ALICE", "aliCe", " alice", "alice ", "\talice"])
def test_user_part_that_is_not_already_canonical_is_rejected(user: str) -> None:
    assert parse_reason(f"{user}.{SESSION_ID}.{SECRET}") == "malformed"


@pytest.mark.parametrize("user", ["{alice}", "ali ce", "ali/ce", "x" * 65, "ålice", "ali:ce"])
def test_user_part_that_is_not_a_valid_name_is_rejected(user: str) -> None:
    assert parse_reason(f"{user}.{SESSION_ID}.{SECRET}") == "malformed"


@pytest.mark.parametrize(
    "generation", ["", "-1", "01", "1234567890", "1a", " 1", "1 ", "+1", "1@2", "\u0661"]
)
def test_a_generation_that_is_not_a_plain_count_is_rejected(generation: str) -> None:
    assert parse_reason(f"alice.{SESSION_ID}.{SECRET}@{generation}") == "malformed"


def test_trailing_newline_is_not_ignored() -> None:
    assert parse_reason(f"alice.{SESSION_ID}.{SECRET}\n") == "malformed"


def test_rejection_is_a_refresh_rejected_with_a_reason() -> None:
    with pytest.raises(RefreshRejected) as caught:
        RefreshToken.parse("garbage")
    assert str(caught.value) == caught.value.reason == "malformed"


def test_a_token_placed_at_a_generation_keeps_its_secret_and_carries_that_generation() -> None:
    placed = RefreshToken("alice", SESSION_ID, SECRET, generation=1).at_generation(9)
    assert placed == RefreshToken("alice", SESSION_ID, SECRET, generation=9)
    assert str(placed).endswith("@9")


def test_a_session_id_is_22_characters_of_base64url() -> None:
    minted = RefreshToken.mint("alice", secrets.token_urlsafe(SESSION_ID_BYTES))
    assert is_session_id(minted.session_id)
    assert not is_session_id(minted.session_id[:-1])
    assert not is_session_id(minted.session_id + "A")
    assert not is_session_id("A" * 21 + "!")


@pytest.mark.parametrize("answer", [SteppedUp, Refreshed])
def test_seconds_left_count_down_to_the_absolute_expiry_and_stop_at_zero(answer: type) -> None:
    if answer is SteppedUp:
        expiring = SteppedUp(SignIn(amr=("pwd",), auth_time=0), absolute_expiry=1000.75)
    else:
        expiring = Refreshed("alice", SESSION_ID, RotationOutcome.ROTATED, None, 1000.75)
    assert expiring.seconds_left(400.0) == 600
    assert expiring.seconds_left(1000.0) == 0
    assert expiring.seconds_left(1000.75) == 0
    assert expiring.seconds_left(2000.0) == 0
