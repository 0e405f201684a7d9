"""verifier.sso.handoff's pure parts: the challenge and the shape of a minted secret."""

from __future__ import annotations

import base64
import hashlib
import secrets

from verifier.sso.handoff import SECRET_BYTES, challenge_of, is_secret_shape


def test_the_challenge_is_the_base64url_sha256_of_the_state_value() -> None:
    value = secrets.token_urlsafe(SECRET_BYTES)
    expected = base64.urlsafe_b64encode(hashlib.sha256(value.encode()).digest()).rstrip(b"=")
    assert challenge_of(value) == expected.decode()
    assert len(challenge_of(value)) == 43


def test_only_values_shaped_like_ours_are_looked_up() -> None:
    assert is_secret_shape(secrets.token_urlsafe(SECRET_BYTES))
    for other in (None, "", "x" * 42, "x" * 44, "x" * 42 + ".", "%41" * 15):
        assert not is_secret_shape(other)
