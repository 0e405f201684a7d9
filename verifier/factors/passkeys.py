"""Passkeys (WebAuthn): the two ceremonies, each an options/verify pair, on py_webauthn.

Registration: `registration_options` gives the browser what navigator.credentials.create()
needs, `verify_registration` checks its answer against the challenge. Authentication: the
same for navigator.credentials.get(). Every check of origin, RP id, challenge, signature and
sign count is the library's; this module only chooses the options and names the refusals.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from verifier.errors import PasskeyRejected

# How long the browser may take (the authenticator's prompt included); the challenge lives
# as long in Redis, then it is gone.
CEREMONY_SECONDS = 120
# Credential ids are at most 1023 bytes (WebAuthn Level 3); anything longer is not one.
MAX_CREDENTIAL_ID_BYTES = 1023
_TRANSPORTS = frozenset(transport.value for transport in AuthenticatorTransport)
# The library's words for what failed, and the audit reason each one becomes.
_REASONS = (
    ("origin", "origin"),
    ("rp id", "rp_id"),
    ("challenge", "challenge"),
    ("sign count", "sign_count"),
    ("user verification", "user_verification"),
    ("signature", "signature"),
)


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys are for: the RP id, its display name, and the allowed origins."""

    rp_id: str
    name: str
    origins: tuple[str, ...]


@dataclass(frozen=True)
class NewCredential:
    """A credential a registration proved: what the store keeps of it."""

    credential_id: bytes
    public_key: bytes = field(repr=False)
    sign_count: int
    transports: tuple[str, ...]


@dataclass(frozen=True)
class Assertion:
    """A verified sign-in with a passkey."""

    credential_id: bytes
    new_sign_count: int
    user_verified: bool


def registration_options(
    rp: RelyingParty, user: str, existing: Sequence[bytes]
) -> tuple[str, bytes]:
    """Options for navigator.credentials.create() (JSON) and the challenge they carry.

    The user handle is the user name: the authenticator shows and stores the name anyway
    (user.name), so the handle reveals nothing more, and it needs no index of its own.
    A discoverable credential (resident key) is required, so it also signs in without a
    password; the passkeys the user has are excluded, so one authenticator holds one.
    """
    options = generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=rp.name,
        user_name=user,
        user_id=user.encode(),
        user_display_name=user,
        timeout=CEREMONY_SECONDS * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=cid) for cid in existing],
    )
    return options_to_json(options), options.challenge


def verify_registration(
    rp: RelyingParty, credential: Mapping[str, Any], challenge: bytes
) -> NewCredential:
    """Check a create() answer; raise PasskeyRejected(reason) if any check fails."""
    try:
        verified = verify_registration_response(
            credential=dict(credential),
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as error:
        raise PasskeyRejected(_reason(error)) from None
    if len(verified.credential_id) > MAX_CREDENTIAL_ID_BYTES:
        raise PasskeyRejected("bad_credential")
    return NewCredential(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=_transports(credential),
    )


def authentication_options(
    rp: RelyingParty, allowed: Sequence[tuple[bytes, Sequence[str]]], *, require_uv: bool
) -> tuple[str, bytes]:
    """Options for navigator.credentials.get() (JSON) and their challenge.

    `allowed` lists (credential id, transports) of the user's passkeys for a second factor;
    empty for a sign-in without a password, where the authenticator offers its own
    (discoverable) credentials.
    """
    options = generate_authentication_options(
        rp_id=rp.rp_id,
        timeout=CEREMONY_SECONDS * 1000,
        allow_credentials=[
            PublicKeyCredentialDescriptor(
                id=cid,
                transports=[AuthenticatorTransport(t) for t in transports if t in _TRANSPORTS],
            )
            for cid, transports in allowed
        ],
        user_verification=(
            UserVerificationRequirement.REQUIRED
            if require_uv
            else UserVerificationRequirement.PREFERRED
        ),
    )
    return options_to_json(options), options.challenge


def verify_assertion(
    rp: RelyingParty,
    credential: Mapping[str, Any],
    challenge: bytes,
    public_key: bytes,
    sign_count: int,
    *,
    require_uv: bool,
) -> Assertion:
    """Check a get() answer against the stored key and count; raise PasskeyRejected."""
    try:
        verified = verify_authentication_response(
            credential=dict(credential),
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=list(rp.origins),
            credential_public_key=public_key,
            credential_current_sign_count=sign_count,
            require_user_verification=require_uv,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError) as error:
        raise PasskeyRejected(_reason(error)) from None
    return Assertion(
        credential_id=verified.credential_id,
        new_sign_count=verified.new_sign_count,
        user_verified=verified.user_verified,
    )


def credential_id_of(credential: Mapping[str, Any]) -> bytes:
    """The raw credential id an answer names (to find its stored key before verifying)."""
    raw = credential.get("rawId")
    if not isinstance(raw, str) or credential.get("id") != raw:
        raise PasskeyRejected("bad_json")
    decoded = _decode(raw)
    if not decoded or len(decoded) > MAX_CREDENTIAL_ID_BYTES:
        raise PasskeyRejected("bad_json")
    return decoded


def user_handle_of(credential: Mapping[str, Any]) -> str | None:
    """The user handle a get() answer carries (a discoverable credential's), as text."""
    response = credential.get("response")
    handle = response.get("userHandle") if isinstance(response, Mapping) else None
    if not isinstance(handle, str) or not handle:
        return None
    try:
        return _decode(handle).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _decode(value: str) -> bytes:
    try:
        return base64url_to_bytes(value)
    except (binascii.Error, ValueError):
        raise PasskeyRejected("bad_json") from None


def _transports(credential: Mapping[str, Any]) -> tuple[str, ...]:
    response = credential.get("response")
    found = response.get("transports") if isinstance(response, Mapping) else None
    if not isinstance(found, list):
        return ()
    return tuple(sorted({t for t in found if isinstance(t, str) and t in _TRANSPORTS}))


def _reason(error: Exception) -> str:
    text = str(error).lower()
    for words, reason in _REASONS:
        if words in text:
            return reason
    return "invalid"
