"""Signing in with a passkey: as the second step after the password, or without one.

Each is two JSON POSTs the passkey script makes: options (a fresh challenge, kept in Redis
bound to this browser) and the authenticator's answer (checked against the challenge, taken
with GETDEL so it is answered once). The second step is bound to the pending sign-in's
cookie; a passwordless sign-in to a short-lived cookie of its own, set with its options.
Every refusal is a 4xx that sets no session cookie; failed answers count in the
second-factor throttle like wrong codes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

import falcon
import falcon.asgi

from verifier.errors import LoginThrottled, PasskeyRejected
from verifier.factors.methods import PASSKEY, USER_VERIFIED
from verifier.factors.passkey_store import (
    PASSWORDLESS,
    SECOND_FACTOR,
    ChallengeStore,
    Passkey,
    PasskeyStore,
)
from verifier.factors.passkeys import (
    CEREMONY_SECONDS,
    RelyingParty,
    authentication_options,
    credential_id_of,
    user_handle_of,
    verify_assertion,
)
from verifier.gate import Gate
from verifier.observe.audit import record_revocation
from verifier.observe.causes import RevocationCause
from verifier.observe.metrics import SIGNIN_OK, SIGNIN_PASSKEY_REFUSED
from verifier.resources.body import read_json_object
from verifier.resources.login import (
    EXPIRED,
    TOO_MANY_ATTEMPTS,
    client_address,
    throttled_answer,
)
from verifier.resources.page_answers import send_json
from verifier.resources.second_factor import SecondFactor
from verifier.sessions.pending_signin import MAX_ATTEMPTS, VERIFY, PendingSignIn, PendingSignIns
from verifier.sessions.store import SessionStore
from verifier.store.keyspace import normalize_user_name
from verifier.users.store import UserStore
from verifier.users.throttle import LoginThrottle
from verifier.web.cookies import CookiePolicy, read_passkey_cookie, read_pending_cookie
from verifier.web.csrf import check_request_origin
from verifier.web.redirects import safe_next

NO_PASSKEY = "No passkey is registered for this account."
NO_CHALLENGE = "This passkey request expired or was already answered. Try again."
BAD_ANSWER = "The passkey answer is malformed."
REFUSED = "That passkey was not accepted."
# 256 random bits, like the pending sign-in's id.
BINDING_BYTES = 32


def passkey_answer(document: dict[str, object]) -> dict[str, Any]:
    """The `credential` object of a posted answer; PasskeyRejected("bad_json") otherwise."""
    credential = document.get("credential")
    if not isinstance(credential, dict):
        raise PasskeyRejected("bad_json")
    return credential


class PasskeySecondFactorOptions:
    """POST: a challenge for the pending sign-in's user's passkeys."""

    def __init__(
        self,
        rp: RelyingParty,
        pending: PendingSignIns,
        passkeys: PasskeyStore,
        challenges: ChallengeStore,
        cookie_policy: CookiePolicy,
        login_path: str,
    ) -> None:
        self._rp = rp
        self._pending = pending
        self._passkeys = passkeys
        self._challenges = challenges
        self._cookies = cookie_policy
        self._login_path = login_path

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Answer with navigator.credentials.get() options (the user's passkeys allowed)."""
        check_request_origin(req)
        found = await _pending_verification(req, self._cookies, self._pending)
        if found is None:
            _expired(resp, self._cookies, self._login_path)
            return
        pending_id, pending = found
        passkeys = await self._passkeys.list(pending.user)
        if not passkeys:
            send_json(resp, falcon.HTTP_409, {"error": NO_PASSKEY})
            return
        allowed = [(passkey.credential_id, passkey.transports) for passkey in passkeys]
        options, challenge = authentication_options(self._rp, allowed, require_uv=False)
        await self._challenges.put(SECOND_FACTOR, pending_id, challenge, user=pending.user)
        send_json(resp, falcon.HTTP_200, {"publicKey": json.loads(options)})


class PasskeySecondFactor:
    """POST: the authenticator's answer; a right one ends the pending sign-in in a session."""

    def __init__(
        self,
        gate: Gate,
        rp: RelyingParty,
        pending: PendingSignIns,
        passkeys: PasskeyStore,
        challenges: ChallengeStore,
        throttle: LoginThrottle,
        cookie_policy: CookiePolicy,
        completion: SecondFactor,
        login_path: str,
        clock: Callable[[], float],
    ) -> None:
        self._gate = gate
        self._rp = rp
        self._pending = pending
        self._passkeys = passkeys
        self._challenges = challenges
        self._throttle = throttle
        self._cookies = cookie_policy
        self._completion = completion
        self._login_path = login_path
        self._clock = clock

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Check the answer against the challenge and the stored key; sign in on success."""
        check_request_origin(req)
        found = await _pending_verification(req, self._cookies, self._pending)
        if found is None:
            self._audit_failure(None, req, "expired")
            _expired(resp, self._cookies, self._login_path)
            return
        pending_id, pending = found
        user = pending.user
        try:
            credential = passkey_answer(await read_json_object(req))
            credential_id = credential_id_of(credential)
        except PasskeyRejected:
            self._audit_failure(user, req, "bad_json")
            send_json(resp, falcon.HTTP_400, {"error": BAD_ANSWER})
            return
        taken = await self._challenges.take(SECOND_FACTOR, pending_id)
        if taken is None or taken[1].get("user") != user:
            self._audit_failure(user, req, "no_challenge")
            send_json(resp, falcon.HTTP_400, {"error": NO_CHALLENGE})
            return
        address = client_address(req)
        try:
            await self._throttle.reserve(user, address)
        except LoginThrottled as throttled:
            self._audit_failure(user, req, "throttled")
            message = throttled_answer(resp, throttled)
            send_json(resp, falcon.HTTP_429, {"error": message})
            return
        try:
            await self._verify(user, credential, credential_id, taken[0])
        except PasskeyRejected as rejected:
            await self._refused(req, resp, pending_id, pending, rejected.reason)
            return
        if not await self._pending.finish(pending_id):
            self._audit_failure(user, req, "expired")
            _expired(resp, self._cookies, self._login_path)
            return
        await self._throttle.record_success(user, address)
        await self._completion.complete(req, resp, pending, PASSKEY, as_json=True)

    async def _verify(
        self, user: str, credential: dict[str, Any], credential_id: bytes, challenge: bytes
    ) -> None:
        passkey = await self._passkeys.find(user, credential_id)
        if passkey is None:
            raise PasskeyRejected("unknown_credential")
        assertion = verify_assertion(
            self._rp,
            credential,
            challenge,
            passkey.public_key,
            passkey.sign_count,
            require_uv=False,
        )
        await _record_use(self._passkeys, user, passkey, assertion.new_sign_count, self._clock())

    async def _refused(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        pending_id: str,
        pending: PendingSignIn,
        reason: str,
    ) -> None:
        # Counted like a wrong code: the pending sign-in ends after MAX_ATTEMPTS.
        attempts = await self._pending.count_failure(pending_id)
        if attempts < 0:
            self._audit_failure(pending.user, req, "expired")
            _expired(resp, self._cookies, self._login_path)
            return
        if attempts >= MAX_ATTEMPTS:
            await self._pending.finish(pending_id)
            self._audit_failure(pending.user, req, "too_many_attempts")
            resp.append_header("Set-Cookie", self._cookies.clear_pending())
            send_json(
                resp,
                falcon.HTTP_401,
                {"error": TOO_MANY_ATTEMPTS, "login_url": self._login_path},
            )
            return
        self._audit_failure(pending.user, req, reason)
        send_json(resp, falcon.HTTP_401, {"error": REFUSED})

    def _audit_failure(self, user: str | None, req: falcon.asgi.Request, reason: str) -> None:
        self._gate.metrics.signin(SIGNIN_PASSKEY_REFUSED)
        self._gate.audit.record(
            "signin.second_factor_failed",
            user=user,
            address=client_address(req),
            method=PASSKEY,
            reason=reason,
        )


class PasswordlessOptions:
    """POST: a challenge for any discoverable passkey, bound to a fresh cookie."""

    def __init__(
        self, rp: RelyingParty, challenges: ChallengeStore, cookie_policy: CookiePolicy
    ) -> None:
        self._rp = rp
        self._challenges = challenges
        self._cookies = cookie_policy

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Answer with get() options (user verification required) and set the cookie."""
        check_request_origin(req)
        document = await read_json_object(req)
        raw_next = document.get("next")
        next_path = safe_next(raw_next if isinstance(raw_next, str) else None)
        options, challenge = authentication_options(self._rp, [], require_uv=True)
        binding = secrets.token_urlsafe(BINDING_BYTES)
        await self._challenges.put(PASSWORDLESS, binding, challenge, next=next_path)
        resp.append_header("Set-Cookie", self._cookies.set_passkey(binding, CEREMONY_SECONDS))
        send_json(resp, falcon.HTTP_200, {"publicKey": json.loads(options)})


class Passwordless:
    """POST: the answer of a discoverable passkey with user verification; a new session."""

    def __init__(
        self,
        gate: Gate,
        rp: RelyingParty,
        users: UserStore,
        sessions: SessionStore,
        passkeys: PasskeyStore,
        challenges: ChallengeStore,
        throttle: LoginThrottle,
        cookie_policy: CookiePolicy,
        clock: Callable[[], float],
    ) -> None:
        self._gate = gate
        self._rp = rp
        self._users = users
        self._sessions = sessions
        self._passkeys = passkeys
        self._challenges = challenges
        self._throttle = throttle
        self._cookies = cookie_policy
        self._clock = clock

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Check the answer; sign in as the passkey's user with amr (hwk, pin)."""
        check_request_origin(req)
        binding = read_passkey_cookie(req.get_header("Cookie"), self._cookies)
        if binding is None:
            self._audit_failure(None, req, "no_challenge")
            send_json(resp, falcon.HTTP_400, {"error": NO_CHALLENGE})
            return
        try:
            credential = passkey_answer(await read_json_object(req))
            credential_id = credential_id_of(credential)
        except PasskeyRejected:
            self._audit_failure(None, req, "bad_json")
            send_json(resp, falcon.HTTP_400, {"error": BAD_ANSWER})
            return
        taken = await self._challenges.take(PASSWORDLESS, binding)
        # The cookie is spent with this answer, whatever it is (not before: a Redis outage
        # answers 503 with no Set-Cookie at all).
        resp.append_header("Set-Cookie", self._cookies.clear_passkey())
        if taken is None:
            self._audit_failure(None, req, "no_challenge")
            send_json(resp, falcon.HTTP_400, {"error": NO_CHALLENGE})
            return
        challenge, state = taken
        user = normalize_user_name(user_handle_of(credential) or "")
        if user is None:
            self._audit_failure(None, req, "unknown_credential")
            send_json(resp, falcon.HTTP_401, {"error": REFUSED})
            return
        address = client_address(req)
        try:
            await self._throttle.reserve(user, address)
        except LoginThrottled as throttled:
            self._audit_failure(user, req, "throttled")
            message = throttled_answer(resp, throttled)
            send_json(resp, falcon.HTTP_429, {"error": message})
            return
        try:
            await self._verify(user, credential, credential_id, challenge)
        except PasskeyRejected as rejected:
            self._audit_failure(user, req, rejected.reason)
            send_json(resp, falcon.HTTP_401, {"error": REFUSED})
            return
        await self._throttle.record_success(user, address)
        # A passkey with user verification: possession and PIN or biometric, two factors.
        amr = (PASSKEY, USER_VERIFIED)
        session = await self._sessions.create(user, amr=amr)
        self._gate.metrics.signin(SIGNIN_OK)
        self._gate.audit.record(
            "signin.succeeded",
            user=user,
            session=session.session_id,
            address=address,
            methods=",".join(amr),
        )
        record_revocation(self._gate.audit, RevocationCause.SESSION_LIMIT, user, session.evicted)
        self._gate.metrics.revoked(RevocationCause.SESSION_LIMIT, len(session.evicted))
        for cookie in self._gate.login_cookies(session):
            resp.append_header("Set-Cookie", cookie)
        next_path = safe_next(state.get("next"))
        send_json(
            resp,
            falcon.HTTP_200,
            {
                "user": user,
                "session": session.session_id,
                "next": next_path,
                "redirect": next_path,
                "methods": list(amr),
            },
        )

    async def _verify(
        self, user: str, credential: dict[str, Any], credential_id: bytes, challenge: bytes
    ) -> None:
        # A removed user's passkeys may outlive the record: no session for them.
        passkey = await self._passkeys.find(user, credential_id)
        if passkey is None or not await self._users.exists(user):
            raise PasskeyRejected("unknown_credential")
        assertion = verify_assertion(
            self._rp,
            credential,
            challenge,
            passkey.public_key,
            passkey.sign_count,
            require_uv=True,
        )
        await _record_use(self._passkeys, user, passkey, assertion.new_sign_count, self._clock())

    def _audit_failure(self, user: str | None, req: falcon.asgi.Request, reason: str) -> None:
        self._gate.metrics.signin(SIGNIN_PASSKEY_REFUSED)
        self._gate.audit.record(
            "signin.failed",
            user=user,
            address=client_address(req),
            method=PASSKEY,
            reason=reason,
        )


async def _record_use(
    passkeys: PasskeyStore, user: str, passkey: Passkey, new_sign_count: int, now: float
) -> None:
    recorded = await passkeys.record_use(user, passkey, new_sign_count, now)
    if recorded == 0:
        raise PasskeyRejected("sign_count")  # a count that did not go up: a cloned key?
    if recorded < 0:
        raise PasskeyRejected("unknown_credential")  # removed while it was checked


async def _pending_verification(
    req: falcon.asgi.Request, cookies: CookiePolicy, store: PendingSignIns
) -> tuple[str, PendingSignIn] | None:
    """This browser's pending sign-in and its id, if it waits for a second factor."""
    pending_id = read_pending_cookie(req.get_header("Cookie"), cookies)
    pending = await store.find(pending_id)
    if pending is None or pending_id is None or pending.purpose != VERIFY:
        return None
    return pending_id, pending


def _expired(resp: falcon.asgi.Response, cookies: CookiePolicy, login_path: str) -> None:
    # Back to the password: the pending cookie (if any) is cleared, no session cookie set.
    resp.append_header("Set-Cookie", cookies.clear_pending())
    send_json(resp, falcon.HTTP_401, {"error": EXPIRED, "login_url": login_path})
