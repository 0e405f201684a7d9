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
from verifier.i18n import N_
from verifier.observe.metrics import SIGNIN_PASSKEY_REFUSED
from verifier.resources.body import read_json_object
from verifier.resources.login import (
    EXPIRED,
    TOO_MANY_ATTEMPTS,
    client_address,
    throttled_answer,
)
from verifier.resources.page_answers import send_json
from verifier.resources.second_factor import SecondFactor
from verifier.sessions.devices import device_summary
from verifier.sessions.pending_signin import MAX_ATTEMPTS, VERIFY, PendingSignIn, PendingSignIns
from verifier.sessions.store import SessionStore
from verifier.store.keyspace import normalize_user_name
from verifier.users.store import UserStore
from verifier.users.throttle import LoginThrottle
from verifier.web.cookies import CookiePolicy, read_passkey_cookie, read_pending_cookie
from verifier.web.csrf import check_request_origin
from verifier.web.redirects import safe_next

NO_PASSKEY = N_("No passkey is registered for this account.")
NO_CHALLENGE = N_("This passkey request expired or was already answered. Try again.")
BAD_ANSWER = N_("The passkey answer is malformed.")
REFUSED = N_("That passkey was not accepted.")
# 256 random bits, like the pending sign-in's id.
BINDING_BYTES = 32


def passkey_answer(document: dict[str, object]) -> dict[str, Any]:
    """The `credential` object of a posted answer; PasskeyRejected("bad_json") otherwise."""
    credential = document.get("credential")
    if not isinstance(credential, dict):
        raise PasskeyRejected("bad_json")
    return credential


class PasskeyAnswers:
    """What both passkey sign-ins do with an authenticator's answer: read it, count it in
    the second-factor throttle, and check it against the user's stored key.

    Each sign-in keeps its own audit record for a refusal (`audit_event`) and its own rule on
    user verification; the passwordless one also asks `users` that the account still exists.
    """

    def __init__(
        self,
        gate: Gate,
        rp: RelyingParty,
        passkeys: PasskeyStore,
        throttle: LoginThrottle,
        clock: Callable[[], float],
        *,
        audit_event: str,
        require_uv: bool,
        users: UserStore | None = None,
    ) -> None:
        self._gate = gate
        self._rp = rp
        self._passkeys = passkeys
        self._throttle = throttle
        self._clock = clock
        self._audit_event = audit_event
        self._require_uv = require_uv
        self._users = users

    async def read(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, user: str | None
    ) -> tuple[dict[str, Any], bytes] | None:
        """The posted credential and its id; None once a 400 is written."""
        try:
            credential = passkey_answer(await read_json_object(req))
            return credential, credential_id_of(credential)
        except PasskeyRejected:
            self.refused(user, req, "bad_json")
            send_json(resp, falcon.HTTP_400, {"error": BAD_ANSWER})
            return None

    async def reserve(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, user: str
    ) -> bool:
        """Count the attempt; False once a 429 (with Retry-After) is written."""
        try:
            await self._throttle.reserve(user, client_address(req))
        except LoginThrottled as throttled:
            self.refused(user, req, "throttled")
            message = throttled_answer(resp, throttled)
            send_json(resp, falcon.HTTP_429, {"error": message})
            return False
        return True

    async def verify(
        self, user: str, credential: dict[str, Any], credential_id: bytes, challenge: bytes
    ) -> None:
        """Check the answer against the stored key and record its use; PasskeyRejected if not."""
        passkey = await self._passkeys.find(user, credential_id)
        # A removed user's passkeys may outlive the record: no session for them.
        # Nor for a service account or a disabled one: no sign-in path opens a session there.
        if passkey is None or (self._users is not None and not await self._users.may_sign_in(user)):
            raise PasskeyRejected("unknown_credential")
        assertion = verify_assertion(
            self._rp,
            credential,
            challenge,
            passkey.public_key,
            passkey.sign_count,
            require_uv=self._require_uv,
        )
        await _record_use(self._passkeys, user, passkey, assertion.new_sign_count, self._clock())

    async def succeeded(self, req: falcon.asgi.Request, user: str) -> None:
        """A right answer gives its attempt back and clears the count."""
        await self._throttle.record_success(user, client_address(req))

    def refused(self, user: str | None, req: falcon.asgi.Request, reason: str) -> None:
        """Count and record a refused answer (never the answer itself)."""
        self._gate.metrics.signin(SIGNIN_PASSKEY_REFUSED)
        self._gate.audit.record(
            self._audit_event,
            user=user,
            address=client_address(req),
            method=PASSKEY,
            reason=reason,
        )


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
        self._pending = pending
        self._challenges = challenges
        self._cookies = cookie_policy
        self._completion = completion
        self._login_path = login_path
        self._answers = PasskeyAnswers(
            gate,
            rp,
            passkeys,
            throttle,
            clock,
            audit_event="signin.second_factor_failed",
            require_uv=False,
        )

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Check the answer against the challenge and the stored key; sign in on success."""
        check_request_origin(req)
        found = await _pending_verification(req, self._cookies, self._pending)
        if found is None:
            self._answers.refused(None, req, "expired")
            _expired(resp, self._cookies, self._login_path)
            return
        pending_id, pending = found
        user = pending.user
        answer = await self._answers.read(req, resp, user)
        if answer is None:
            return
        taken = await self._challenges.take(SECOND_FACTOR, pending_id)
        if taken is None or taken[1].get("user") != user:
            self._answers.refused(user, req, "no_challenge")
            send_json(resp, falcon.HTTP_400, {"error": NO_CHALLENGE})
            return
        if not await self._answers.reserve(req, resp, user):
            return
        try:
            await self._answers.verify(user, answer[0], answer[1], taken[0])
        except PasskeyRejected as rejected:
            await self._refused(req, resp, pending_id, pending, rejected.reason)
            return
        if not await self._pending.finish(pending_id):
            self._answers.refused(user, req, "expired")
            _expired(resp, self._cookies, self._login_path)
            return
        await self._answers.succeeded(req, user)
        await self._completion.complete(req, resp, pending, PASSKEY, as_json=True)

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
            self._answers.refused(pending.user, req, "expired")
            _expired(resp, self._cookies, self._login_path)
            return
        if attempts >= MAX_ATTEMPTS:
            await self._pending.finish(pending_id)
            self._answers.refused(pending.user, req, "too_many_attempts")
            resp.append_header("Set-Cookie", self._cookies.clear_pending())
            send_json(
                resp,
                falcon.HTTP_401,
                {"error": TOO_MANY_ATTEMPTS, "login_url": self._login_path},
            )
            return
        self._answers.refused(pending.user, req, reason)
        send_json(resp, falcon.HTTP_401, {"error": REFUSED})


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
        self._sessions = sessions
        self._challenges = challenges
        self._cookies = cookie_policy
        self._answers = PasskeyAnswers(
            gate,
            rp,
            passkeys,
            throttle,
            clock,
            audit_event="signin.failed",
            require_uv=True,
            users=users,
        )

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Check the answer; sign in as the passkey's user with amr (hwk, pin)."""
        check_request_origin(req)
        binding = read_passkey_cookie(req.get_header("Cookie"), self._cookies)
        if binding is None:
            self._answers.refused(None, req, "no_challenge")
            send_json(resp, falcon.HTTP_400, {"error": NO_CHALLENGE})
            return
        answer = await self._answers.read(req, resp, None)
        if answer is None:
            return
        taken = await self._challenges.take(PASSWORDLESS, binding)
        # The cookie is spent with this answer, whatever it is (not before: a Redis outage
        # answers 503 with no Set-Cookie at all).
        resp.append_header("Set-Cookie", self._cookies.clear_passkey())
        if taken is None:
            self._answers.refused(None, req, "no_challenge")
            send_json(resp, falcon.HTTP_400, {"error": NO_CHALLENGE})
            return
        challenge, state = taken
        credential, credential_id = answer
        user = normalize_user_name(user_handle_of(credential) or "")
        if user is None:
            self._answers.refused(None, req, "unknown_credential")
            send_json(resp, falcon.HTTP_401, {"error": REFUSED})
            return
        if not await self._answers.reserve(req, resp, user):
            return
        try:
            await self._answers.verify(user, credential, credential_id, challenge)
        except PasskeyRejected as rejected:
            self._answers.refused(user, req, rejected.reason)
            send_json(resp, falcon.HTTP_401, {"error": REFUSED})
            return
        await self._answers.succeeded(req, user)
        # A passkey with user verification: possession and PIN or biometric, two factors.
        amr = (PASSKEY, USER_VERIFIED)
        # What the account page shows of it, as for every other sign-in.
        session = await self._sessions.create(
            user,
            amr=amr,
            device=device_summary(req.get_header("User-Agent")),
            address=client_address(req),
        )
        for cookie in self._gate.signed_in(session, client_address(req), amr):
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
