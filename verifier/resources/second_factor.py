"""`/auth/login/factor`: the second step of a sign-in (a code, or the enrolment a group needs).

After a correct password, a user with a second factor (or in a group that demands one) gets
no session: a pending sign-in (verifier.sessions.pending_signin) and its cookie instead, then this
page. A right code ends the pending sign-in and starts the session, a brand-new one as a
password-only login does; `/auth` never accepts the pending cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.errors import LoginThrottled
from verifier.factors.methods import PASSKEY, RECOVERY_CODE, TOTP
from verifier.factors.totp import new_secret, provisioning_uri, qr_code_svg
from verifier.factors.user_factors import UserFactors
from verifier.gate import Gate
from verifier.i18n import N_, _
from verifier.observe.metrics import SIGNIN_SECOND_FACTOR_REQUIRED
from verifier.pages.account import account_url
from verifier.pages.common import WayBack
from verifier.pages.factors import (
    CODE_FIELD,
    RECOVERY_FIELD,
    enrolment_page,
    recovery_code_used_page,
    recovery_codes_page,
    second_factor_page,
)
from verifier.pages.sessions import OtherSessions, password_only
from verifier.resources.body import read_fields, wants_json
from verifier.resources.login import (
    EXPIRED,
    TOO_MANY_ATTEMPTS,
    client_address,
    throttled_answer,
)
from verifier.resources.page_answers import code_problem, send_json, send_page
from verifier.sessions.devices import device_summary
from verifier.sessions.networks import NetworkNames
from verifier.sessions.pending_signin import (
    ENROLL,
    MAX_ATTEMPTS,
    PASSWORD_STEP,
    VERIFY,
    FirstStep,
    PendingSignIn,
    PendingSignIns,
)
from verifier.sessions.store import SessionStore
from verifier.users.store import UnknownUser, UserStore
from verifier.users.throttle import LoginThrottle
from verifier.web.cookies import CookiePolicy, read_pending_cookie
from verifier.web.csrf import check_request_origin
from verifier.web.redirects import DEFAULT_NEXT, safe_next

FACTOR_PATH = "/auth/login/factor"
# A passkey as the second step (verifier.resources.passkey_signin): options, then the answer.
FACTOR_PASSKEY_OPTIONS_PATH = "/auth/login/factor/passkey/options"
FACTOR_PASSKEY_PATH = "/auth/login/factor/passkey"
WRONG_CODE = N_("That code is not right, or was already used.")
SIGNED_IN_AND_SET_UP = N_("Your authenticator app is set up and you are signed in.")
ENROL_INTRO = N_(
    "Your account needs two-step sign-in. Scan this code with your authenticator app, "
    "then enter the code it shows."
)
CANCEL_SIGN_IN = N_("Cancel sign-in")
# What the JSON login and this page's GET tell an API client to do next.
REQUIRED = "required"
ENROLLMENT_REQUIRED = "enrollment_required"


class SecondFactorStart:
    """Decides whether a password sign-in needs a second step, and starts it."""

    def __init__(
        self,
        gate: Gate,
        users: UserStore,
        factors: UserFactors,
        pending: PendingSignIns,
        cookie_policy: CookiePolicy,
        required_groups: frozenset[str],
    ) -> None:
        self._gate = gate
        self._users = users
        self._factors = factors
        self._pending = pending
        self._cookies = cookie_policy
        self._required_groups = required_groups

    async def needed(self, user: str) -> str | None:
        """VERIFY for an enrolled user, ENROLL for a member of a group that demands a factor."""
        if (await self._factors.status(user)).any:
            return VERIFY
        if not self._required_groups:
            return None
        try:
            groups = await self._users.groups(user)
        except UnknownUser:
            return None  # removed since the password check: the session would not live either
        return ENROLL if self._required_groups.intersection(groups) else None

    async def begin(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        user: str,
        purpose: str,
        next_path: str,
        first: FirstStep = PASSWORD_STEP,
    ) -> None:
        """Start the pending sign-in: its cookie, then the second-factor page (or JSON).

        `first` is how the first step went (a password here or in a directory, a provider's
        sign-in): the session the second step starts records it.
        """
        # A pending sign-in this browser left behind ends here: one at a time per browser.
        previous = read_pending_cookie(req.get_header("Cookie"), self._cookies)
        if previous is not None:
            await self._pending.finish(previous)
        secret = new_secret() if purpose == ENROLL else ""
        pending_id = await self._pending.start(user, next_path, purpose, secret, first)
        resp.append_header(
            "Set-Cookie", self._cookies.set_pending(pending_id, self._pending.ttl_seconds)
        )
        self._gate.metrics.signin(SIGNIN_SECOND_FACTOR_REQUIRED)
        self._gate.audit.record(
            "signin.second_factor_required",
            user=user,
            address=client_address(req),
            purpose=purpose,
        )
        if wants_json(req):
            # 202, not 200: not signed in yet. A client that took any 2xx as a session
            # would at least not take this one for it by its status alone.
            step = ENROLLMENT_REQUIRED if purpose == ENROLL else REQUIRED
            send_json(
                resp,
                falcon.HTTP_202,
                {"second_factor": step, "url": FACTOR_PATH, "next": next_path},
            )
            return
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = FACTOR_PATH


class SecondFactor:
    """GET shows the code form (or the enrolment); POST checks the code and signs in."""

    def __init__(
        self,
        gate: Gate,
        sessions: SessionStore,
        factors: UserFactors,
        pending: PendingSignIns,
        throttle: LoginThrottle,
        cookie_policy: CookiePolicy,
        login_path: str,
        clock: Callable[[], float],
        *,
        passkeys: bool = False,
        networks: NetworkNames | None = None,
        users: UserStore | None = None,
    ) -> None:
        self._gate = gate
        self._networks = networks or NetworkNames()
        # Offer "Use a passkey" to users who have one (VERIFIER_WEBAUTHN_RP_ID is set).
        self._passkeys = passkeys
        # Asked once more before the session starts: the account may have been disabled (or
        # removed) since its password was checked.
        self._users = users
        self._sessions = sessions
        self._factors = factors
        self._pending = pending
        self._throttle = throttle
        self._cookies = cookie_policy
        self._login_path = login_path
        self._clock = clock

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Show the form for the pending sign-in's step."""
        pending_id = read_pending_cookie(req.get_header("Cookie"), self._cookies)
        pending = await self._pending.find(pending_id)
        if pending is None:
            self._expired(req, resp)
            return
        if wants_json(req):
            send_json(resp, falcon.HTTP_200, await self._describe(pending))
            return
        await self._send_form(resp, falcon.HTTP_200, pending, None)

    def _cancel(self, pending: PendingSignIn) -> WayBack:
        # Back to the password (a link: the pending sign-in simply expires, or ends with
        # the next one this browser starts), keeping where the sign-in was going.
        return WayBack(self._login_url(pending.next_path), _(CANCEL_SIGN_IN))

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Check `code` (TOTP) or `recovery_code`; on success, start the session."""
        check_request_origin(req)
        as_json = wants_json(req)
        pending_id = read_pending_cookie(req.get_header("Cookie"), self._cookies)
        pending = await self._pending.find(pending_id)
        if pending is None or pending_id is None:
            self._audit_failure(None, req, "expired")
            self._expired(req, resp)
            return
        fields = await read_fields(req)
        code, recovery = fields.get("code", ""), fields.get("recovery_code", "")
        if pending.purpose == ENROLL:
            recovery = ""  # nothing to recover yet
        problem = code_problem(code, recovery)
        # The field the answer was typed into: a wrong recovery code comes back there.
        field = RECOVERY_FIELD if recovery and not code else CODE_FIELD
        if problem is not None:
            self._audit_failure(pending.user, req, "bad_input")
            await self._fail(resp, falcon.HTTP_400, problem, as_json, pending, field)
            return
        address = client_address(req)
        try:
            await self._throttle.reserve(pending.user, address)
        except LoginThrottled as throttled:
            self._audit_failure(pending.user, req, "throttled")
            message = throttled_answer(resp, throttled)
            await self._fail(resp, falcon.HTTP_429, message, as_json, pending, field)
            return
        method = await self._check(pending, code, recovery)
        if method is None:
            await self._wrong_code(req, resp, pending_id, pending, as_json, field)
            return
        # Used once: of two requests racing with right codes, only one ends the pending
        # sign-in, and only that one gets a session.
        if not await self._pending.finish(pending_id):
            self._expired(req, resp)
            return
        await self._throttle.record_success(pending.user, address)
        await self.complete(req, resp, pending, method, as_json)

    async def _check(self, pending: PendingSignIn, code: str, recovery: str) -> str | None:
        now = self._clock()
        if pending.purpose == ENROLL:
            accepted = await self._factors.accept_code(pending.user, pending.totp_secret, code, now)
            return TOTP if accepted else None
        return await self._factors.check(pending.user, code, recovery, now)

    async def _wrong_code(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        pending_id: str,
        pending: PendingSignIn,
        as_json: bool,
        field: str,
    ) -> None:
        attempts = await self._pending.count_failure(pending_id)
        if attempts < 0:
            self._expired(req, resp)  # it expired (or completed) while the code was checked
            return
        if attempts >= MAX_ATTEMPTS:
            await self._pending.finish(pending_id)
            self._audit_failure(pending.user, req, "too_many_attempts")
            resp.append_header("Set-Cookie", self._cookies.clear_pending())
            if as_json:
                send_json(
                    resp,
                    falcon.HTTP_401,
                    {"error": TOO_MANY_ATTEMPTS, "login_url": self._login_url(pending.next_path)},
                )
                return
            resp.cache_control = ["no-store"]
            resp.status = falcon.HTTP_303
            resp.location = self._login_url(pending.next_path, "attempts")
            return
        self._audit_failure(pending.user, req, "bad_code")
        await self._fail(resp, falcon.HTTP_401, WRONG_CODE, as_json, pending, field)

    async def complete(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        pending: PendingSignIn,
        method: str,
        as_json: bool,
    ) -> None:
        """Start the session of a finished pending sign-in whose second step `method` proved."""
        user = pending.user
        if self._users is not None and not await self._users.may_sign_in(user):
            # Finished already by the caller: the pending sign-in is spent, nothing starts.
            self._audit_failure(user, req, "expired")
            self._expired(req, resp)
            return
        new_codes: list[str] = []
        if pending.purpose == ENROLL:
            await self._factors.set_totp(user, pending.totp_secret)
            new_codes = await self._factors.new_recovery_codes(user)
            self._gate.audit.record("totp.enrolled", user=user, replaced=0)
        left = None
        if method == RECOVERY_CODE:
            left = await self._factors.recovery_codes_left(user)
            self._gate.audit.record("recovery_code.used", user=user, remaining=left)
        first = pending.first
        amr = (*first.amr, method)
        # A brand-new session, as at a password-only login (no fixation), that records how
        # the user signed in (and through which source): the access token carries it to
        # `mfa` rules.
        session = await self._sessions.create(
            user,
            amr=amr,
            device=device_summary(req.get_header("User-Agent")),
            address=client_address(req),
            upstream=first.upstream,
            recheck_interval=first.recheck_interval,
        )
        started = self._gate.signed_in(session, client_address(req), amr)
        for cookie in (*started, self._cookies.clear_pending()):
            resp.append_header("Set-Cookie", cookie)
        next_path = safe_next(pending.next_path)
        if as_json:
            media: dict[str, object] = {
                "user": user,
                "session": session.session_id,
                "next": next_path,
                "methods": list(amr),
            }
            if left is not None:
                media["recovery_codes_left"] = left
            if new_codes:
                media["recovery_codes"] = new_codes
            if method == PASSKEY:
                media["redirect"] = next_path  # where the passkey script goes on
            send_json(resp, falcon.HTTP_200, media)
            return
        if new_codes:
            # The user's other sessions that began with a password alone stay live: the
            # codes page names them and offers to end them (as the account's set-up does).
            listed = await self._sessions.session_details(user)
            others = OtherSessions(
                password_only(listed, session.session_id),
                self._networks,
                self._clock(),
                account_url(next_path),
            )
            page = recovery_codes_page(new_codes, next_path, SIGNED_IN_AND_SET_UP, others)
            send_page(resp, falcon.HTTP_200, page)
            return
        if left is not None:
            send_page(resp, falcon.HTTP_200, recovery_code_used_page(next_path, left))
            return
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = next_path

    async def _send_form(
        self,
        resp: falcon.asgi.Response,
        status: str,
        pending: PendingSignIn,
        error: str | None,
        field: str = CODE_FIELD,
    ) -> None:
        if pending.purpose == ENROLL:
            send_page(resp, status, self._form(pending, error))
            return
        factors = await self._factors.status(pending.user)
        passkey = self._passkeys and factors.passkeys > 0
        page = second_factor_page(
            FACTOR_PATH,
            error,
            failed=field,
            totp=factors.totp or not passkey,
            passkey_paths=(FACTOR_PASSKEY_OPTIONS_PATH, FACTOR_PASSKEY_PATH) if passkey else None,
            cancel_url=self._cancel(pending).href,
        )
        send_page(resp, status, page, script=passkey)

    def _form(self, pending: PendingSignIn, error: str | None) -> str:
        if pending.purpose == ENROLL:
            uri = provisioning_uri(pending.totp_secret, pending.user, self._factors.totp_issuer)
            return enrolment_page(
                FACTOR_PATH,
                pending.totp_secret,
                qr_code_svg(uri),
                error,
                intro=ENROL_INTRO,
                back=self._cancel(pending),
            )
        return second_factor_page(FACTOR_PATH, error, cancel_url=self._cancel(pending).href)

    async def _fail(
        self,
        resp: falcon.asgi.Response,
        status: str,
        message: str,
        as_json: bool,
        pending: PendingSignIn,
        field: str = CODE_FIELD,
    ) -> None:
        if as_json:
            send_json(resp, status, {"error": message})
            return
        await self._send_form(resp, status, pending, message, field)

    def _expired(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        # Back to the password: the cookie (if any) is cleared, no session cookie is set.
        resp.append_header("Set-Cookie", self._cookies.clear_pending())
        if wants_json(req):
            send_json(resp, falcon.HTTP_401, {"error": EXPIRED, "login_url": self._login_path})
            return
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = self._login_url(DEFAULT_NEXT, "expired")

    def _login_url(self, next_path: str, reason: str | None = None) -> str:
        query = [f"pending={reason}"] if reason else []
        safe = safe_next(next_path)
        if safe != DEFAULT_NEXT:
            query.append("next=" + quote(safe, safe="/"))
        return self._login_path + ("?" + "&".join(query) if query else "")

    def _audit_failure(self, user: str | None, req: falcon.asgi.Request, reason: str) -> None:
        self._gate.metrics.signin(f"second_factor_{reason}")
        self._gate.audit.record(
            "signin.second_factor_failed", user=user, address=client_address(req), reason=reason
        )

    async def _describe(self, pending: PendingSignIn) -> dict[str, object]:
        if pending.purpose == ENROLL:
            return {
                "second_factor": ENROLLMENT_REQUIRED,
                "totp_secret": pending.totp_secret,
                "otpauth_uri": provisioning_uri(
                    pending.totp_secret, pending.user, self._factors.totp_issuer
                ),
            }
        factors = await self._factors.status(pending.user)
        methods = [TOTP] if factors.totp else []
        if self._passkeys and factors.passkeys:
            methods.append(PASSKEY)
        return {"second_factor": REQUIRED, "methods": [*methods, RECOVERY_CODE]}
