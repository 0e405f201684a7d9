"""verifier.apitokens.bearer: the token's shape, its checksum, its digest and its header."""

from __future__ import annotations

import hashlib

import pytest

from verifier.apitokens.bearer import (
    TOKEN_LENGTH,
    TOKEN_PATTERN,
    ApiToken,
    is_ours,
    is_token_id,
    new_token_id,
    token_from_header,
)
from verifier.errors import BearerRefused


def test_a_minted_token_is_the_prefix_43_random_base62_digits_and_a_checksum() -> None:
    token = str(ApiToken.mint())
    assert len(token) == TOKEN_LENGTH == 53
    assert token.startswith("vrf_")
    assert TOKEN_PATTERN.fullmatch(token)
    assert ApiToken.parse(token).value == token


def test_minted_tokens_differ_and_use_the_whole_alphabet() -> None:
    tokens = {str(ApiToken.mint()) for _ in range(200)}
    assert len(tokens) == 200
    # 200 x 43 random base62 digits: every one of the 62 shows up.
    assert len({char for token in tokens for char in token[4:47]}) == 62


def test_the_digest_is_the_sha256_of_the_whole_token_and_never_the_token() -> None:
    token = ApiToken.mint()
    assert token.digest == hashlib.sha256(str(token).encode()).hexdigest()
    assert str(token) not in repr(token)


def _one_character_changed(token: str, position: int) -> str:
    replacement = "A" if token[position] != "A" else "B"
    return token[:position] + replacement + token[position + 1 :]


@pytest.mark.parametrize("position", [4, 20, 46, 47, 52])
def test_a_token_with_one_character_changed_fails_its_checksum(position: int) -> None:
    token = str(ApiToken.mint())
    with pytest.raises(BearerRefused) as refused:
        ApiToken.parse(_one_character_changed(token, position))
    assert refused.value.reason == "malformed"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "vrf_",
        "VRF_" + "a" * 49,
        "vrf_" + "a" * 48,
        "vrf_" + "a" * 50,
        "vrf_" + "a" * 48 + "-",
        "vrf_" + "a" * 48 + "é",
        "xrf_" + "a" * 49,
    ],
)
def test_anything_not_shaped_like_a_token_is_malformed(raw: str) -> None:
    with pytest.raises(BearerRefused) as refused:
        ApiToken.parse(raw)
    assert refused.value.reason == "malformed"


@pytest.mark.parametrize(
    "header",
    ["Bearer {t}", "bearer {t}", "BEARER {t}", "BeArEr    {t}", "  Bearer {t}  "],
)
def test_the_bearer_scheme_is_read_in_any_letter_case_with_any_spaces(header: str) -> None:
    token = str(ApiToken.mint())
    assert token_from_header(header.format(t=token)).value == token


@pytest.mark.parametrize(
    "header",
    [
        "{t}",
        "Token {t}",
        "Basic {t}",
        "Bearer",
        "Bearer ",
        "Bearer\t{t}",
        "Bearer {t} {t}",
        "Bearer {t},",
        "Bearer {t}x",
        "Bearer vrf_short",
        "Bearer={t}",
    ],
)
def test_a_header_that_names_our_prefix_in_any_other_shape_is_malformed(header: str) -> None:
    token = str(ApiToken.mint())
    with pytest.raises(BearerRefused) as refused:
        token_from_header(header.format(t=token))
    assert refused.value.reason == "malformed"
    assert refused.value.user is None
    assert refused.value.token_id is None


@pytest.mark.parametrize(
    ("header", "ours"),
    [
        (b"Bearer vrf_abc", True),
        (b"bearer VRF_abc", True),
        (b"Token xvrf_", True),
        (b"Basic dXNlcjpwYXNz", False),
        (b"Bearer eyJhbGciOiJIUzI1NiJ9.e30.x", False),
        (b"", False),
    ],
)
def test_a_header_is_ours_when_it_holds_the_prefix_in_any_case(header: bytes, ours: bool) -> None:
    assert is_ours(header) is ours


def test_token_ids_are_16_hex_digits_and_nothing_else_passes_for_one() -> None:
    token_id = new_token_id()
    assert is_token_id(token_id)
    assert new_token_id() != token_id
    for bad in ("", "ABCDEF0123456789", "0123456789abcde", "0123456789abcdef0", "../x"):
        assert not is_token_id(bad)
