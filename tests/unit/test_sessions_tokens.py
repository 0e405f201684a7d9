"""verifier.sessions.tokens: the access-token round trip and every way a token is refused.

Forged tokens are minted by hand (base64url JSON + HMAC) so that each one differs from a
genuine token in exactly one respect. Their `exp` is in the past on purpose: a codec that
looked at expiry before the signature would answer AccessTokenExpired, which would make the
gate fall back to the refresh cookie for a token that was never ours.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from verifier.errors import (
    AccessKeyRetired,
    AccessTokenExpired,
    AccessTokenOutdated,
    SettingsError,
    TokenRejected,
)
from verifier.factors.methods import KNOWN_METHODS, SignIn
from verifier.keyring.material import Key
from verifier.keyring.ring import CurrentRing, KeyRing, RingPolicy
from verifier.sessions.tokens import (
    ALGORITHM,
    MAX_TOKEN_LENGTH,
    REQUIRED_CLAIMS,
    SIGN_IN_CLAIMS,
    TOKEN_TYPE,
    AccessClaims,
    AccessTokenCodec,
)
from verifier.settings import Settings, SigningKey

NOW = 1_700_000_000
TTL = 300
# 64 bytes: long enough for HS512 too, so PyJWT mints the HS384/HS512 forgeries silently.
SECRET = b"k1-secret-".ljust(64, b"x")
OLD_SECRET = b"k0-secret-".ljust(64, b"y")
FOREIGN_SECRET = b"attacker-".ljust(64, b"z")


def make_settings(**fields: Any) -> Settings:
    values: dict[str, Any] = {
        "redis_url": "redis://127.0.0.1:6379/0",
        "signing_keys": (SigningKey("k1", SECRET), SigningKey("k0", OLD_SECRET)),
        "access_ttl_seconds": TTL,
    }
    values.update(fields)
    return Settings(**values)


CODEC = AccessTokenCodec(make_settings())


@pytest.fixture(autouse=True)
def _a_codec_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # The codec caches what it verified: a test must not find a token another test verified
    # (the same claims at the same NOW make the same token) and skip the checks it is about.
    monkeypatch.setattr(sys.modules[__name__], "CODEC", AccessTokenCodec(make_settings()))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(document: object) -> str:
    return b64url(json.dumps(document, separators=(",", ":")).encode())


def good_header(**changes: Any) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "HS256", "typ": TOKEN_TYPE, "kid": "k1"}
    header.update(changes)
    return {name: value for name, value in header.items() if value is not _DROP}


def good_claims(**changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "verifier",
        "aud": "verifier",
        "sub": "alice",
        "sid": "session-1",
        "iat": NOW - 10,
        "exp": NOW + TTL,
        "amr": ["pwd"],
        # Before every `iat` a test uses: nobody signs in after their token was issued.
        "auth_time": NOW - 5000,
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not _DROP}


_DROP = object()  # marks a header field or claim to leave out


def forge(
    header: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    secret: bytes = SECRET,
    digest: Any = hashlib.sha256,
) -> str:
    """A compact JWS over exactly these header and claims, HMAC-signed with `secret`."""
    signing_input = f"{b64json(header or good_header())}.{b64json(claims or good_claims())}"
    signature = hmac.new(secret, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64url(signature)}"


def expired_claims(**changes: Any) -> dict[str, Any]:
    """Claims that would be genuinely expired at NOW, were the token ours."""
    return good_claims(**{"iat": NOW - 1000, "exp": NOW - 500, **changes})


def assert_rejected(token: str, reason: str, *, now: float = NOW) -> None:
    """The token is refused as not ours (never as merely expired), for `reason`."""
    for allow_expired in (False, True):
        with pytest.raises(TokenRejected) as caught:
            CODEC.verify(token, now, allow_expired=allow_expired)
        assert type(caught.value) is TokenRejected
        assert caught.value.reason == reason


# --- the genuine article --------------------------------------------------------------------------


def test_issued_token_round_trips() -> None:
    token = CODEC.issue("alice", "session-1", NOW)
    assert CODEC.verify(token, NOW) == AccessClaims(
        user="alice", session_id="session-1", expires_at=NOW + TTL, sign_in=SignIn(("pwd",), NOW)
    )


def test_issued_token_uses_pinned_header_and_required_claims() -> None:
    token = CODEC.issue("alice", "session-1", NOW + 0.9)
    assert jwt.get_unverified_header(token) == {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": "k1"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {
        "iss": "verifier",
        "aud": "verifier",
        "sub": "alice",
        "sid": "session-1",
        "iat": NOW,
        "exp": NOW + TTL,
        "amr": ["pwd"],
        "auth_time": NOW,
    }
    assert set(REQUIRED_CLAIMS) | set(SIGN_IN_CLAIMS) <= set(claims)


def test_ttl_seconds_reports_the_configured_lifetime() -> None:
    assert CODEC.ttl_seconds == TTL


def test_token_signed_with_an_older_key_of_the_ring_is_accepted() -> None:
    token = forge(good_header(kid="k0"), good_claims(), secret=OLD_SECRET)
    assert CODEC.verify(token, NOW).user == "alice"


def test_token_signed_before_rotation_verifies_after_it() -> None:
    before = AccessTokenCodec(make_settings(signing_keys=(SigningKey("k0", OLD_SECRET),)))
    token = before.issue("alice", "session-1", NOW)
    assert CODEC.verify(token, NOW).session_id == "session-1"


def test_custom_issuer_and_audience_are_written_and_required() -> None:
    codec = AccessTokenCodec(make_settings(issuer="issuer-x", audience="audience-y"))
    token = codec.issue("alice", "session-1", NOW)
    assert codec.verify(token, NOW).user == "alice"
    assert_rejected(token, "InvalidIssuerError")


def test_audience_list_containing_ours_is_accepted() -> None:
    token = forge(claims=good_claims(aud=["other", "verifier"]))
    assert CODEC.verify(token, NOW).user == "alice"


def test_token_issued_at_a_clock_ahead_of_wall_time_round_trips() -> None:
    # verify() judges the token against the `now` it is given (the injected clock), so a
    # token issued and checked at the same `now` must pass whatever the wall clock says.
    ahead = time.time() + 3600
    token = CODEC.issue("alice", "session-1", ahead)
    assert CODEC.verify(token, ahead).user == "alice"


# --- expiry ---------------------------------------------------------------------------------------


def test_token_is_valid_until_the_second_before_exp() -> None:
    token = CODEC.issue("alice", "session-1", NOW)
    assert CODEC.verify(token, NOW + TTL - 1).expires_at == NOW + TTL


def test_expired_token_raises_access_token_expired() -> None:
    token = CODEC.issue("alice", "session-1", NOW)
    with pytest.raises(AccessTokenExpired) as caught:
        CODEC.verify(token, NOW + TTL)
    assert caught.value.reason == "expired"


def test_expired_token_is_returned_when_expiry_is_allowed() -> None:
    token = CODEC.issue("alice", "session-1", NOW)
    claims = CODEC.verify(token, NOW + 10 * TTL, allow_expired=True)
    assert claims == AccessClaims(
        user="alice", session_id="session-1", expires_at=NOW + TTL, sign_in=SignIn(("pwd",), NOW)
    )


def test_leeway_stretches_expiry_and_issue_time() -> None:
    codec = AccessTokenCodec(make_settings(jwt_leeway_seconds=5))
    token = codec.issue("alice", "session-1", NOW)
    assert codec.verify(token, NOW + TTL + 4).user == "alice"
    with pytest.raises(AccessTokenExpired):
        codec.verify(token, NOW + TTL + 5)
    assert codec.verify(token, NOW - 5).user == "alice"


def test_allow_expired_does_not_excuse_a_bad_signature() -> None:
    token = forge(claims=expired_claims(), secret=FOREIGN_SECRET)
    assert_rejected(token, "InvalidSignatureError")


# --- header: algorithm, type, key id --------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "NoNe"])
def test_token_with_alg_none_is_rejected(alg: str) -> None:
    unsigned = f"{b64json(good_header(alg=alg))}.{b64json(expired_claims())}."
    assert_rejected(unsigned, "wrong alg")
    # Same with a signature present, in case a verifier only looks at an empty one.
    assert_rejected(forge(good_header(alg=alg), expired_claims()), "wrong alg")


@pytest.mark.parametrize(
    ("alg", "digest"),
    [("HS384", hashlib.sha384), ("HS512", hashlib.sha512)],
    ids=["HS384", "HS512"],
)
def test_token_with_other_hmac_alg_and_the_right_secret_is_rejected(alg: str, digest: Any) -> None:
    assert_rejected(forge(good_header(alg=alg), expired_claims(), digest=digest), "wrong alg")
    # And PyJWT's own encoder gives the same answer.
    minted = jwt.encode(expired_claims(), SECRET, algorithm=alg, headers=good_header(alg=_DROP))
    assert jwt.get_unverified_header(minted)["alg"] == alg
    assert_rejected(minted, "wrong alg")


@pytest.mark.parametrize("alg", ["hs256", "Hs256", "HS256 ", "RS256", "ES256", "EdDSA", "PS256"])
def test_token_whose_header_names_another_alg_is_rejected(alg: str) -> None:
    assert_rejected(forge(good_header(alg=alg), expired_claims()), "wrong alg")


def test_token_with_missing_or_non_string_alg_is_rejected() -> None:
    assert_rejected(forge(good_header(alg=_DROP), expired_claims()), "wrong alg")
    assert_rejected(forge(good_header(alg=["HS256"]), expired_claims()), "wrong alg")


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_token_signed_with_a_real_asymmetric_key_is_rejected(alg: str) -> None:
    pytest.importorskip(
        "cryptography",
        reason="cryptography is not installed: PyJWT cannot mint RS256/ES256 tokens "
        "(the hand-forged RS256/ES256 headers above still cover the rejection)",
    )
    from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: PLC0415

    private_key: Any = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if alg == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    headers = good_header(alg=_DROP)
    token = jwt.encode(expired_claims(), private_key, algorithm=alg, headers=headers)
    assert_rejected(token, "wrong alg")


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+JWT ", "", "refresh+jwt", None, 1, ["at+jwt"]])
def test_token_with_wrong_typ_is_rejected(typ: object) -> None:
    assert_rejected(forge(good_header(typ=typ), expired_claims()), "wrong typ")


def test_token_without_typ_is_rejected() -> None:
    assert_rejected(forge(good_header(typ=_DROP), expired_claims()), "wrong typ")


def test_plain_jwt_signed_with_our_secret_is_not_an_access_token() -> None:
    # e.g. some other token the same secret might sign: PyJWT's default typ is "JWT".
    other = jwt.encode(expired_claims(), SECRET, algorithm="HS256", headers={"kid": "k1"})
    assert_rejected(other, "wrong typ")


def test_token_signed_with_unknown_kid_is_rejected() -> None:
    token = forge(good_header(kid="k9"), expired_claims(), secret=FOREIGN_SECRET)
    assert_rejected(token, "unknown kid")


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../dev/null",
        "k1/../k1",
        "/etc/passwd",
        "..\\..\\k1",
        "k1\x00",
        "K1",
        " k1",
        "",
    ],
)
def test_token_with_path_traversal_or_odd_kid_is_rejected(kid: str) -> None:
    assert_rejected(forge(good_header(kid=kid), expired_claims()), "unknown kid")


@pytest.mark.parametrize("kid", [None, 1, ["k1"], {"k1": "k1"}])
def test_token_with_non_string_kid_is_rejected(kid: object) -> None:
    # PyJWT refuses a non-string kid while reading the header.
    assert_rejected(forge(good_header(kid=kid), expired_claims()), "malformed")


def test_token_without_kid_is_rejected() -> None:
    assert_rejected(forge(good_header(kid=_DROP), expired_claims()), "unknown kid")


def test_token_naming_one_kid_but_signed_with_another_key_is_rejected() -> None:
    token = forge(good_header(kid="k1"), expired_claims(), secret=OLD_SECRET)
    assert_rejected(token, "InvalidSignatureError")


def test_embedded_jwk_does_not_supply_the_key() -> None:
    header = good_header(jwk={"kty": "oct", "k": b64url(FOREIGN_SECRET)})
    assert_rejected(forge(header, expired_claims(), secret=FOREIGN_SECRET), "InvalidSignatureError")


# --- claims: issuer, audience, required claims, types, times --------------------------------------


@pytest.mark.parametrize(
    "iss", ["verifier-evil", "verifie", "Verifier", "verifier ", " verifier", "https://verifier"]
)
def test_token_with_wrong_or_prefix_matching_iss_is_rejected(iss: str) -> None:
    assert_rejected(forge(claims=expired_claims(iss=iss)), "InvalidIssuerError")


@pytest.mark.parametrize("iss", [["verifier"], 1, True, {"iss": "verifier"}])
def test_token_with_non_string_iss_is_rejected(iss: object) -> None:
    assert_rejected(forge(claims=expired_claims(iss=iss)), "InvalidIssuerError")


@pytest.mark.parametrize(
    "aud", ["other-app", "verifier-evil", "verifie", "Verifier", ["other-app"], ["verifie"]]
)
def test_token_for_a_foreign_audience_is_rejected(aud: object) -> None:
    assert_rejected(forge(claims=expired_claims(aud=aud)), "InvalidAudienceError")


def test_token_with_an_empty_audience_list_is_rejected() -> None:
    assert_rejected(forge(claims=expired_claims(aud=[])), "MissingRequiredClaimError")


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_token_missing_a_required_claim_is_rejected(claim: str) -> None:
    assert_rejected(forge(claims=expired_claims(**{claim: _DROP})), "MissingRequiredClaimError")


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_token_with_a_null_required_claim_is_rejected(claim: str) -> None:
    assert_rejected(forge(claims=expired_claims(**{claim: None})), "MissingRequiredClaimError")


@pytest.mark.parametrize(
    "exp", [str(NOW + TTL), "soon", True, False, float(NOW + TTL), NOW + TTL + 0.5, [NOW], {}]
)
def test_token_with_non_integer_exp_is_rejected(exp: object) -> None:
    assert_rejected(forge(claims=good_claims(exp=exp)), "bad exp/iat")


@pytest.mark.parametrize("iat", [str(NOW), True, float(NOW), NOW - 0.5])
def test_token_with_non_integer_iat_is_rejected(iat: object) -> None:
    assert_rejected(forge(claims=good_claims(iat=iat)), "bad exp/iat")


@pytest.mark.parametrize("iat", ["yesterday", [NOW], {}])
def test_token_with_unparsable_iat_is_rejected(iat: object) -> None:
    assert_rejected(forge(claims=good_claims(iat=iat)), "bad exp/iat")


@pytest.mark.parametrize(
    ("claim", "value"),
    [("sub", ""), ("sid", ""), ("sid", 7), ("sid", ["session-1"]), ("sid", True)],
)
def test_token_with_empty_or_non_string_sub_or_sid_is_rejected(claim: str, value: object) -> None:
    assert_rejected(forge(claims=good_claims(**{claim: value})), "bad sub/sid")


@pytest.mark.parametrize("sub", [7, ["alice"], True])
def test_token_with_non_string_sub_is_rejected(sub: object) -> None:
    assert_rejected(forge(claims=good_claims(sub=sub)), "InvalidSubjectError")


@pytest.mark.parametrize(
    "amr",
    [[], ["evil"], ["pwd", "evil"], ["pwd", "pwd"], "pwd", ["PWD"], [1], [None], None, {},
     ["pwd", "otp", "rcv", "hwk", "pin", "pwd"], True],
)  # fmt: skip
def test_token_with_a_bad_amr_is_rejected(amr: object) -> None:
    assert_rejected(forge(claims=expired_claims(amr=amr)), "bad amr")


@pytest.mark.parametrize("auth_time", [str(NOW - 5000), True, float(NOW - 5000), 0, -1, None, []])
def test_token_with_a_bad_auth_time_is_rejected(auth_time: object) -> None:
    assert_rejected(forge(claims=expired_claims(auth_time=auth_time)), "bad auth_time")


def test_token_with_only_one_of_amr_and_auth_time_is_rejected() -> None:
    assert_rejected(forge(claims=expired_claims(amr=_DROP)), "bad amr")
    assert_rejected(forge(claims=expired_claims(auth_time=_DROP)), "bad auth_time")


def test_token_saying_the_user_signed_in_after_it_was_issued_is_rejected() -> None:
    assert_rejected(
        forge(claims=good_claims(iat=NOW - 10, auth_time=NOW - 9)), "auth_time in the future"
    )


def test_a_sign_in_ahead_of_the_clock_is_accepted_only_within_the_leeway() -> None:
    # Another verifier host's clock may run a little ahead: its tokens say so in both times.
    ahead = forge(claims=good_claims(iat=NOW + 5, auth_time=NOW + 5))
    codec = AccessTokenCodec(make_settings(jwt_leeway_seconds=5))
    assert codec.verify(ahead, NOW).sign_in.auth_time == NOW + 5
    strict = AccessTokenCodec(make_settings(jwt_leeway_seconds=4))
    with pytest.raises(TokenRejected, match="in the future"):
        strict.verify(ahead, NOW)


def test_a_genuine_token_from_before_amr_existed_is_outdated_so_the_refresh_token_takes_over() -> (
    None
):
    old = forge(claims=good_claims(amr=_DROP, auth_time=_DROP))
    for allow_expired in (False, True):
        with pytest.raises(AccessTokenOutdated) as caught:
            CODEC.verify(old, NOW, allow_expired=allow_expired)
        assert isinstance(caught.value, AccessTokenExpired)
        assert caught.value.reason == "outdated"


def test_a_forged_token_without_amr_is_still_refused_as_forged() -> None:
    forged = forge(claims=good_claims(amr=_DROP, auth_time=_DROP), secret=FOREIGN_SECRET)
    assert_rejected(forged, "InvalidSignatureError")


def test_issue_writes_how_and_when_the_user_signed_in() -> None:
    token = CODEC.issue("alice", "s", NOW, amr=("pwd", "otp"), auth_time=NOW - 3600)
    claims = CODEC.verify(token, NOW)
    assert claims.sign_in == SignIn(("pwd", "otp"), NOW - 3600)


def test_issue_never_writes_a_sign_in_after_the_token() -> None:
    token = CODEC.issue("alice", "s", NOW, auth_time=NOW + 30)
    assert CODEC.verify(token, NOW).sign_in.auth_time == NOW


@pytest.mark.parametrize("amr", [(), ("evil",), ("pwd", "sms")])
def test_issue_refuses_an_unknown_or_empty_amr(amr: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="amr"):
        CODEC.issue("alice", "s", NOW, amr=amr)


def test_token_issued_in_the_future_is_rejected() -> None:
    assert_rejected(forge(claims=good_claims(iat=NOW + 60, exp=NOW + 360)), "issued in the future")


def test_token_issued_in_the_future_beyond_the_wall_clock_is_rejected() -> None:
    far = int(time.time()) + 10 * 365 * 86_400
    assert_rejected(
        forge(claims=good_claims(iat=far, exp=far + TTL)), "issued in the future", now=far - 60
    )


def test_token_not_yet_valid_at_the_wall_clock_is_rejected() -> None:
    far = int(time.time()) + 10 * 365 * 86_400
    assert_rejected(forge(claims=good_claims(nbf=far)), "not yet valid")


def test_token_not_yet_valid_at_the_given_clock_is_rejected() -> None:
    # `nbf` one minute after `now`: not valid yet at the codec's clock. (The wall clock is
    # years later, which must not matter: verify() is told what time it is.)
    with pytest.raises(TokenRejected) as caught:
        CODEC.verify(forge(claims=good_claims(nbf=NOW + 60)), NOW)
    assert type(caught.value) is TokenRejected


# --- tampering and malformed input ----------------------------------------------------------------


def test_payload_edited_under_the_original_signature_is_rejected() -> None:
    token = CODEC.issue("alice", "session-1", NOW - 1000)
    header, _, signature = token.split(".")
    edited = b64json(
        {
            "iss": "verifier",
            "aud": "verifier",
            "sub": "admin",
            "sid": "session-1",
            "iat": NOW - 1000,
            "exp": NOW - 1000 + TTL,
        }
    )
    assert_rejected(f"{header}.{edited}.{signature}", "InvalidSignatureError")


def test_header_edited_under_the_original_signature_is_rejected() -> None:
    token = CODEC.issue("alice", "session-1", NOW - 1000)
    _, payload, signature = token.split(".")
    assert_rejected(
        f"{b64json(good_header(kid='k0'))}.{payload}.{signature}", "InvalidSignatureError"
    )


def test_token_signed_with_a_foreign_secret_is_rejected() -> None:
    assert_rejected(forge(claims=expired_claims(), secret=FOREIGN_SECRET), "InvalidSignatureError")


def test_token_with_empty_signature_is_rejected() -> None:
    header, payload, _ = forge(claims=expired_claims()).split(".")
    assert_rejected(f"{header}.{payload}.", "InvalidSignatureError")


@pytest.mark.parametrize("keep_bytes", [31, 16, 1])
def test_token_with_truncated_signature_is_rejected(keep_bytes: int) -> None:
    header, payload, signature = forge(claims=expired_claims()).split(".")
    raw = base64.urlsafe_b64decode(signature + "=")
    assert len(raw) == 32
    assert_rejected(f"{header}.{payload}.{b64url(raw[:keep_bytes])}", "InvalidSignatureError")


def test_token_with_signature_cut_mid_character_is_rejected() -> None:
    header, payload, signature = forge(claims=expired_claims()).split(".")
    # 41 characters cannot be base64 of whole bytes.
    assert_rejected(f"{header}.{payload}.{signature[:41]}", "malformed")


def test_token_with_junk_after_the_signature_is_rejected() -> None:
    token = forge(claims=expired_claims())
    assert_rejected(token + "!", "malformed")
    assert_rejected(token + "AAAA", "InvalidSignatureError")


def test_oversized_token_is_rejected_before_parsing() -> None:
    token = forge(claims=expired_claims(pad="p" * MAX_TOKEN_LENGTH))
    assert len(token) > MAX_TOKEN_LENGTH
    assert_rejected(token, "oversized")
    assert_rejected("x" * (MAX_TOKEN_LENGTH + 1), "oversized")


def test_token_of_exactly_the_maximum_length_is_parsed() -> None:
    assert_rejected("x" * MAX_TOKEN_LENGTH, "malformed")


@pytest.mark.parametrize("token", ["", ".", "..", "abc", "abc.def"])
def test_token_with_fewer_than_three_segments_is_rejected(token: str) -> None:
    assert_rejected(token, "malformed")


def test_token_with_four_or_five_segments_is_rejected() -> None:
    token = forge(claims=expired_claims())
    assert_rejected(token + ".AAAA", "malformed")
    assert_rejected(token + ".AAAA.AAAA", "malformed")


@pytest.mark.parametrize(
    "token",
    [
        "!!!.@@@.###",
        "eyJ!.eyJ.sig",
        "eyJhbGciOiJIUzI1NiJ9%3D.e30.AAAA",
        "é.é.é",
        "\x00.\x00.\x00",
    ],
)
def test_token_that_is_not_base64url_is_rejected(token: str) -> None:
    assert_rejected(token, "malformed")


@pytest.mark.parametrize("header", [b"not json", b"[1,2]", b'"at+jwt"', b"null", b"[" * 1200])
def test_token_whose_header_is_not_a_json_object_is_rejected(header: bytes) -> None:
    assert_rejected(f"{b64url(header)}.{b64json(expired_claims())}.AAAA", "malformed")


@pytest.mark.parametrize("payload", [b"not json", b"[1,2]", b'"alice"', b"null", b""])
def test_signed_token_whose_payload_is_not_a_json_object_is_rejected(payload: bytes) -> None:
    signing_input = f"{b64json(good_header())}.{b64url(payload)}"
    signature = b64url(hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest())
    assert_rejected(f"{signing_input}.{signature}", "DecodeError")


def test_unencoded_payload_header_does_not_bypass_the_claims() -> None:
    # RFC 7797 `b64: false` with an empty payload segment: nothing to verify, nothing accepted.
    signing_input = f"{b64json(good_header(b64=False, crit=['b64']))}."
    signature = b64url(hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest())
    with pytest.raises(TokenRejected) as caught:
        CODEC.verify(f"{signing_input}.{signature}", NOW)
    assert type(caught.value) is TokenRejected


def test_token_with_characters_that_cannot_be_encoded_is_rejected() -> None:
    # A lone surrogate cannot reach us through ASGI (headers are latin-1), but verify()'s
    # contract is TokenRejected for anything that is not a token, not a UnicodeEncodeError.
    assert_rejected("\ud800.\ud800.\ud800", "malformed")


# --- the key ring: rotation, retirement, reloads ------------------------------------------------

ROTATION = NOW + 100
RING_POLICY = RingPolicy(access_verify_seconds=TTL, assertion_verify_seconds=60)


def access_key(kid: str, secret: bytes, activates_at: int) -> Key:
    return Key(kid, "access", "HS256", created=NOW, activates_at=activates_at, secret=secret)


def rotating_ring(*extra: Key) -> KeyRing:
    """k0 signs until ROTATION, k1 from then on."""
    return KeyRing(
        [access_key("k0", OLD_SECRET, NOW - 1000), access_key("k1", SECRET, ROTATION), *extra],
        RING_POLICY,
    )


def test_the_ring_decides_which_key_signs_at_the_given_time() -> None:
    codec = AccessTokenCodec(make_settings(), CurrentRing(rotating_ring()))
    before = codec.issue("alice", "session-1", ROTATION - 1)
    after = codec.issue("alice", "session-1", ROTATION)
    assert jwt.get_unverified_header(before)["kid"] == "k0"
    assert jwt.get_unverified_header(after)["kid"] == "k1"


def test_a_token_of_the_superseded_key_verifies_until_its_expiry() -> None:
    codec = AccessTokenCodec(make_settings(), CurrentRing(rotating_ring()))
    token = codec.issue("alice", "session-1", ROTATION - 1)
    assert codec.verify(token, ROTATION - 1 + TTL - 1).user == "alice"
    with pytest.raises(AccessTokenExpired):
        codec.verify(token, ROTATION - 1 + TTL)


def test_a_key_past_its_window_hands_over_to_the_refresh_token() -> None:
    # A worker that had not reloaded signed with k0 after the rotation: its token outlives
    # k0's window. Refused as retired, an AccessTokenExpired: the gate refreshes silently.
    codec = AccessTokenCodec(make_settings(), CurrentRing(rotating_ring()))
    late = forge(
        good_header(kid="k0"), good_claims(iat=ROTATION + 5, exp=ROTATION + 5 + TTL), OLD_SECRET
    )
    assert codec.verify(late, ROTATION + TTL - 1).user == "alice"  # cached now

    with pytest.raises(AccessKeyRetired) as caught:
        codec.verify(late, ROTATION + TTL)  # still cached, but its key stopped verifying

    assert isinstance(caught.value, AccessTokenExpired)
    assert caught.value.reason == "key retired"
    with pytest.raises(TokenRejected) as for_logout:
        codec.verify(late, ROTATION + TTL, allow_expired=True)
    assert type(for_logout.value) is TokenRejected


def test_a_withdrawn_key_stops_verifying_at_the_reload_even_from_the_cache() -> None:
    current = CurrentRing(rotating_ring())
    codec = AccessTokenCodec(make_settings(), current)
    token = codec.issue("alice", "session-1", ROTATION - 1)
    assert codec.verify(token, ROTATION).user == "alice"

    withdrawn = access_key("k0", OLD_SECRET, NOW - 1000).withdrawn(ROTATION + 1)
    current.swap(KeyRing([withdrawn, access_key("k1", SECRET, ROTATION)], RING_POLICY))

    with pytest.raises(AccessKeyRetired):
        codec.verify(token, ROTATION + 2)


def test_a_new_key_verifies_before_it_signs() -> None:
    # Another worker's clock may be a little ahead: what it signs with k1 is accepted here.
    codec = AccessTokenCodec(make_settings(), CurrentRing(rotating_ring()))
    early = forge(good_header(kid="k1"), good_claims(iat=ROTATION - 10, exp=ROTATION + 200))
    assert codec.verify(early, ROTATION - 5).user == "alice"


def test_an_assertion_key_never_verifies_an_access_token() -> None:
    assertion_key = Key("s1", "assertion", "EdDSA", created=NOW, activates_at=NOW - 1000)
    codec = AccessTokenCodec(make_settings(), CurrentRing(rotating_ring(assertion_key)))
    assert_rejected_by(codec, forge(good_header(kid="s1"), expired_claims()), "unknown kid")


def test_settings_with_a_keys_directory_need_the_ring_passed_in() -> None:
    settings = make_settings(signing_keys=(), keys_dir=Path("/keys"))
    with pytest.raises(SettingsError) as refused:
        AccessTokenCodec(settings)
    assert str(refused.value) == "VERIFIER_KEYS_DIR is set: pass the ring loaded from it"


def assert_rejected_by(codec: AccessTokenCodec, token: str, reason: str) -> None:
    with pytest.raises(TokenRejected) as caught:
        codec.verify(token, NOW)
    assert type(caught.value) is TokenRejected
    assert caught.value.reason == reason


# --- single sign-on: a token bound to its host -------------------------------------------------


def test_a_host_bound_token_names_its_host_in_aud_beside_the_audience() -> None:
    token = CODEC.issue("alice", "session-1", NOW, host="wiki.corp.example")
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["aud"] == ["verifier", "wiki.corp.example"]
    assert CODEC.verify(token, NOW).host == "wiki.corp.example"


def test_a_token_without_a_host_binds_to_none() -> None:
    assert CODEC.verify(CODEC.issue("alice", "session-1", NOW), NOW).host == ""
    several = forge(claims=good_claims(aud=["verifier", "a.example", "b.example"]))
    assert CODEC.verify(several, NOW).host == ""


# --- where the user came from (the `src` claim) ----------------------------------------------


def test_an_upstream_users_token_carries_its_source() -> None:
    token = CODEC.issue("alice", "session-1", NOW, source="ldap:corp")
    assert jwt.decode(token, options={"verify_signature": False})["src"] == "ldap:corp"
    assert CODEC.verify(token, NOW).sign_in == SignIn(("pwd",), NOW, "ldap:corp")


def test_a_local_users_token_has_no_source_claim_and_reads_as_local() -> None:
    token = CODEC.issue("alice", "session-1", NOW)
    assert "src" not in jwt.decode(token, options={"verify_signature": False})
    assert CODEC.verify(token, NOW).sign_in.source == "local"
    assert not CODEC.verify(token, NOW).sign_in.upstream


@pytest.mark.parametrize("source", [7, "", "LDAP:corp", "ldap:corp:x", "ldap:" + "x" * 40, ["a"]])
def test_a_malformed_source_claim_is_not_ours(source: object) -> None:
    assert_rejected(forge(claims=good_claims(src=source)), "bad src")


# --- the edges of each check ---------------------------------------------------------------------

LEEWAY = 5


def _lenient() -> AccessTokenCodec:
    # A codec of the test's own, like CODEC (its cache must start empty).
    return AccessTokenCodec(make_settings(jwt_leeway_seconds=LEEWAY))


def test_a_non_integer_nbf_is_refused_as_such() -> None:
    assert_rejected(forge(claims=expired_claims(nbf="soon")), "bad nbf")


def test_a_token_valid_from_now_is_accepted_and_the_leeway_is_on_the_accepting_side() -> None:
    assert CODEC.verify(forge(claims=good_claims(nbf=NOW)), NOW).user == "alice"
    ahead = forge(claims=good_claims(nbf=NOW + LEEWAY))
    assert _lenient().verify(ahead, NOW).user == "alice"


def test_a_sign_in_with_every_known_method_once_is_accepted() -> None:
    every = sorted(KNOWN_METHODS)
    assert CODEC.verify(forge(claims=good_claims(amr=every)), NOW).sign_in.amr == tuple(every)


def test_a_sign_in_at_the_first_second_of_the_epoch_is_a_time() -> None:
    assert CODEC.verify(forge(claims=good_claims(auth_time=1)), NOW).sign_in.auth_time == 1


def test_a_key_past_its_window_at_logout_is_refused_as_retired() -> None:
    codec = AccessTokenCodec(make_settings(), CurrentRing(rotating_ring()))
    late = forge(
        good_header(kid="k0"), good_claims(iat=ROTATION + 5, exp=ROTATION + 5 + TTL), OLD_SECRET
    )
    with pytest.raises(TokenRejected) as refused:
        codec.verify(late, ROTATION + TTL, allow_expired=True)
    assert refused.value.reason == "key retired"


def test_a_verified_token_is_answered_from_the_cache() -> None:
    token = CODEC.issue("alice", "session-1", NOW)
    first = CODEC.verify(token, NOW)
    assert CODEC.verify(token, NOW + 1) is first
    assert CODEC.verify(token, NOW + 2) is first


def test_a_cached_token_is_good_until_its_expiry_plus_the_leeway() -> None:
    lenient = _lenient()
    token = lenient.issue("alice", "session-1", NOW)
    lenient.verify(token, NOW)  # cached now
    assert lenient.verify(token, NOW + TTL - 1).user == "alice"
    assert lenient.verify(token, NOW + TTL + LEEWAY - 1).user == "alice"
    with pytest.raises(AccessTokenExpired):
        lenient.verify(token, NOW + TTL + LEEWAY)


def test_a_ring_with_no_access_key_signing_now_issues_nothing() -> None:
    future_only = KeyRing([access_key("k9", SECRET, NOW + 10_000)], RING_POLICY)
    codec = AccessTokenCodec(make_settings(), CurrentRing(future_only))
    with pytest.raises(SettingsError) as refused:
        codec.issue("alice", "session-1", NOW)
    assert str(refused.value) == "the key ring has no access key that signs now"


def test_after_a_reload_verified_tokens_are_cached_again() -> None:
    current = CurrentRing(rotating_ring())
    codec = AccessTokenCodec(make_settings(), current)
    token = codec.issue("alice", "session-1", ROTATION)
    codec.verify(token, ROTATION)
    current.swap(rotating_ring())  # a reload: the cache is dropped once

    first = codec.verify(token, ROTATION + 1)
    assert codec.verify(token, ROTATION + 2) is first
