"""verifier.factors.passkeys: the options each ceremony gives, and every refusal of verify,
on real answers of a software authenticator (tests/soft_authenticator.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.soft_authenticator import SoftAuthenticator, b64, unb64
from verifier.errors import PasskeyRejected
from verifier.factors.passkeys import (
    CEREMONY_SECONDS,
    NewCredential,
    RelyingParty,
    authentication_options,
    credential_id_of,
    registration_options,
    user_handle_of,
    verify_assertion,
    verify_registration,
)

ORIGIN = "https://login.example.com"
RP = RelyingParty("example.com", "verifier", (ORIGIN, "https://other.example.com"))


def _registration(user: str = "alice") -> tuple[dict[str, Any], bytes]:
    options, challenge = registration_options(RP, user, [])
    return json.loads(options), challenge


def _registered(soft: SoftAuthenticator) -> NewCredential:
    options, challenge = _registration()
    return verify_registration(RP, soft.register(options), challenge)


def _soft() -> SoftAuthenticator:
    return SoftAuthenticator(origin=ORIGIN, rp_id=RP.rp_id)


def test_registration_options_ask_for_a_discoverable_credential_of_the_user() -> None:
    options, challenge = registration_options(RP, "alice", [b"\x01" * 16])
    parsed = json.loads(options)
    assert parsed["rp"] == {"id": "example.com", "name": "verifier"}
    assert unb64(parsed["user"]["id"]) == b"alice"
    assert parsed["user"]["name"] == "alice"
    assert parsed["authenticatorSelection"]["residentKey"] == "required"
    assert parsed["attestation"] == "none"
    assert [unb64(c["id"]) for c in parsed["excludeCredentials"]] == [b"\x01" * 16]
    assert unb64(parsed["challenge"]) == challenge
    assert len(challenge) >= 32


def test_each_ceremony_gets_a_new_challenge() -> None:
    challenges = {registration_options(RP, "alice", [])[1] for _ in range(5)}
    challenges |= {authentication_options(RP, [], require_uv=True)[1] for _ in range(5)}
    assert len(challenges) == 10


def test_authentication_options_require_user_verification_without_a_password() -> None:
    passwordless = json.loads(authentication_options(RP, [], require_uv=True)[0])
    assert passwordless["userVerification"] == "required"
    assert passwordless["rpId"] == "example.com"
    assert passwordless.get("allowCredentials", []) == []
    second = json.loads(
        authentication_options(RP, [(b"\x02" * 16, ("internal", "bogus"))], require_uv=False)[0]
    )
    assert second["userVerification"] == "preferred"
    assert second["allowCredentials"] == [
        {"id": b64(b"\x02" * 16), "type": "public-key", "transports": ["internal"]}
    ]


def test_a_right_registration_gives_the_credential_and_its_transports() -> None:
    soft = _soft()
    credential = _registered(soft)
    assert credential.credential_id == soft.credential_id
    assert credential.sign_count == 0
    assert credential.transports == ("internal",)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"origin": "https://evil.example.net"}, "origin"),
        ({"rp_id": "evil.example.net"}, "rp_id"),
    ],
)
def test_a_registration_for_another_origin_or_rp_is_refused(
    change: dict[str, str], reason: str
) -> None:
    options, challenge = _registration()
    with pytest.raises(PasskeyRejected) as refused:
        verify_registration(RP, _soft().register(options, **change), challenge)
    assert refused.value.reason == reason


def test_a_registration_of_another_challenge_is_refused() -> None:
    options, _ = _registration()
    _, other_challenge = _registration()
    with pytest.raises(PasskeyRejected) as refused:
        verify_registration(RP, _soft().register(options), other_challenge)
    assert refused.value.reason == "challenge"


@pytest.mark.parametrize(
    "garbage",
    [
        {},
        {"id": "x", "rawId": "x"},
        {"id": "AA", "rawId": "AA", "response": {"clientDataJSON": "!"}},
    ],
)
def test_a_malformed_registration_is_refused_not_raised(garbage: dict[str, Any]) -> None:
    with pytest.raises(PasskeyRejected) as refused:
        verify_registration(RP, garbage, b"c" * 32)
    assert refused.value.reason == "invalid"


def _assert(soft: SoftAuthenticator, credential: NewCredential, **change: Any) -> Any:
    options, challenge = authentication_options(RP, [], require_uv=True)
    answer = soft.assertion(json.loads(options), **change)
    return verify_assertion(
        RP, answer, challenge, credential.public_key, credential.sign_count, require_uv=True
    )


def test_a_right_assertion_is_verified_with_its_new_sign_count() -> None:
    soft = _soft()
    credential = _registered(soft)
    assertion = _assert(soft, credential)
    assert assertion.credential_id == soft.credential_id
    assert assertion.new_sign_count == 1
    assert assertion.user_verified


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"origin": "http://localhost:8080"}, "origin"),
        ({"rp_id": "localhost"}, "rp_id"),
        ({"user_verified": False}, "user_verification"),
        ({"signer": ec.generate_private_key(ec.SECP256R1())}, "signature"),
    ],
)
def test_an_assertion_is_refused_for_each_broken_rule(change: dict[str, Any], reason: str) -> None:
    soft = _soft()
    credential = _registered(soft)
    with pytest.raises(PasskeyRejected) as refused:
        _assert(soft, credential, **change)
    assert refused.value.reason == reason


def test_a_sign_count_that_did_not_go_up_is_refused() -> None:
    soft = _soft()
    registered = _registered(soft)
    counted = NewCredential(registered.credential_id, registered.public_key, 7, ())
    with pytest.raises(PasskeyRejected) as refused:
        _assert(soft, counted, sign_count=7)
    assert refused.value.reason == "sign_count"


def test_an_assertion_of_another_challenge_is_refused() -> None:
    soft = _soft()
    credential = _registered(soft)
    options, _ = authentication_options(RP, [], require_uv=True)
    _, other = authentication_options(RP, [], require_uv=True)
    answer = soft.assertion(json.loads(options))
    with pytest.raises(PasskeyRejected) as refused:
        verify_assertion(RP, answer, other, credential.public_key, 0, require_uv=True)
    assert refused.value.reason == "challenge"


def test_the_credential_id_and_user_handle_are_read_from_an_answer() -> None:
    soft = _soft()
    _registered(soft)
    answer = soft.assertion({"challenge": b64(b"c" * 32)})
    assert credential_id_of(answer) == soft.credential_id
    assert user_handle_of(answer) == "alice"


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"id": "AA", "rawId": "AB"},
        {"id": "!!", "rawId": "!!"},
        {"id": "", "rawId": ""},
        {"id": "A", "rawId": "A"},  # not base64url: one character is no byte
        {"id": b64(bytes(1024)), "rawId": b64(bytes(1024))},
    ],
)
def test_an_answer_without_a_proper_credential_id_is_bad_json(answer: dict[str, Any]) -> None:
    with pytest.raises(PasskeyRejected) as refused:
        credential_id_of(answer)
    assert refused.value.reason == "bad_json"


def test_both_ceremonies_give_the_browser_the_two_minutes_the_challenge_lives() -> None:
    registration = json.loads(registration_options(RP, "alice", [])[0])
    authentication = json.loads(authentication_options(RP, [], require_uv=False)[0])

    assert registration["timeout"] == authentication["timeout"] == CEREMONY_SECONDS * 1000
    assert registration["user"]["displayName"] == "alice"
    assert registration["authenticatorSelection"]["userVerification"] == "preferred"


def test_a_credential_id_up_to_1023_bytes_is_registered_and_a_longer_one_refused() -> None:
    longest = SoftAuthenticator(origin=ORIGIN, rp_id=RP.rp_id, credential_id=b"\x07" * 1023)
    assert _registered(longest).credential_id == b"\x07" * 1023
    answer = SoftAuthenticator(origin=ORIGIN, rp_id=RP.rp_id, credential_id=b"\x07" * 1024)

    with pytest.raises(PasskeyRejected) as refused:
        _registered(answer)
    assert refused.value.reason == "bad_credential"


def test_an_answer_naming_a_1023_byte_credential_id_is_read() -> None:
    longest = b64(b"\x07" * 1023)
    assert credential_id_of({"id": longest, "rawId": longest}) == b"\x07" * 1023


def test_only_the_known_transports_a_registration_names_are_kept() -> None:
    soft = _soft()
    options, challenge = _registration()
    answer = soft.register(options)
    answer["response"]["transports"] = ["usb", 5, "bogus", "internal", "usb"]

    assert verify_registration(RP, answer, challenge).transports == ("internal", "usb")


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"response": None},
        {"response": "userHandle"},
        {"response": {"userHandle": 5}},
        {"response": {"userHandle": ""}},
        {"response": {"userHandle": b64(b"\xff\xfe")}},  # not UTF-8
    ],
)
def test_an_answer_without_a_user_handle_as_text_has_none(answer: dict[str, Any]) -> None:
    assert user_handle_of(answer) is None
