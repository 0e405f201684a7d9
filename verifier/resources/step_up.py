"""`/auth/login?step_up=mfa|max_age&next=...` with a live session: the missing step only.

`/auth/unauthorized` sends a signed-in user here when a location asks for more than the
session has. The page asks only for what is missing, and a right answer strengthens the SAME
session (Gate.step_up: no new session id, methods only added, auth_time moved to now), sets
the new access cookie and goes on to `next`. Without a live session the login resource
ignores `step_up` and runs the normal sign-in, which gives a fresh session with the factors
used (that satisfies the location too).

What each step asks:
- `mfa`: a TOTP code or a recovery code (the password was shown when the session began). A
  user with no factor is told so and sent to the TOTP enrolment, which strengthens the
  session itself (a right code was just shown) and comes back to `next`.
- `max_age`: a recent sign-in, so the password again, and for a user who has a second factor
  a code too: a recent sign-in for such a user is never a password alone, as at the login.
  A user of an OpenID Provider has no password here: they are sent to sign in at their
  provider again (verifier.resources.oidc_step_up).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.access.conditions import MAX_AGE, MFA, STEPS
from verifier.errors import InvalidCredentials, LoginThrottled, PasswordCheckBusy
from verifier.factors.methods import PASSWORD, RECOVERY_CODE
from verifier.factors.user_factors import UserFactors
from verifier.gate import Gate, SessionRef
from verifier.i18n import N_
from verifier.observe.metrics import SIGNIN_STEPPED_UP
from verifier.pages.step_up import no_second_factor_page, step_up_page
from verifier.resources.account_session import AccountSession
from verifier.resources.body import has_nul, read_fields, wants_json
from verifier.resources.login import (
    BUSY,
    BUSY_RETRY_AFTER_SECONDS,
    SOURCE_RETRY_AFTER_SECONDS,
    SOURCE_UNAVAILABLE,
    client_address,
    throttled_answer,
)
from verifier.resources.oidc_step_up import OidcStepUps
from verifier.resources.page_answers import (
    code_problem,
    send_json,
    send_page,
    split_current_code,
)
from verifier.users.passwords import MAX_PASSWORD_LENGTH
from verifier.users.sources.interface import SourceUnavailable
from verifier.users.throttle import LoginThrottle
from verifier.web.redirects import DEFAULT_NEXT, safe_next

ENROL_PATH = "/auth/account/totp"
WRONG_CODE = N_("That code is not right, or was already used.")
WRONG_PASSWORD = N_("That password is not right.")
ENTER_PASSWORD = N_("Enter your password.")
NOT_A_PASSWORD = N_("That is not a password.")
NO_FACTOR = N_("This page needs a second factor, and your account has none yet.")
_REASONS = {
    MFA: N_("This page needs a second factor: enter a code from your authenticator app."),
    MAX_AGE: N_("This page needs a recent sign-in: enter your password again."),
}
_REASON_WITH_CODE = N_(
    "This page needs a recent sign-in: enter your password and a code from your authenticator app."
)


class StepUp:
    """Shows and checks the missing step for a live session (the login resource asks it)."""

    def __init__(
        self,
        gate: Gate,
        account: AccountSession,
        authenticate: Callable[[str, str], Awaitable[object]],
        factors: UserFactors,
        password_throttle: LoginThrottle,
        factor_throttle: LoginThrottle,
        login_path: str,
        clock: Callable[[], float],
        providers: OidcStepUps | None = None,
    ) -> None:
        self._providers = providers
        self._gate = gate
        self._account = account
        self._authenticate = authenticate
        self._factors = factors
        self._password_throttle = password_throttle
        self._factor_throttle = factor_throttle
        self._login_path = login_path
        self._clock = clock

    async def session_for(self, req: falcon.asgi.Request) -> tuple[str, SessionRef] | None:
        """The step asked for and the caller's live session; None for a normal sign-in."""
        step = req.get_param("step_up")
        if step not in STEPS:
            return None
        session = await self._account.signed_in(req)
        return None if session is None else (str(step), session)

    async def show(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, step: str, session: SessionRef
    ) -> None:
        """The form for the missing step (or, for mfa without a factor, the way to enrol)."""
        next_path = safe_next(req.get_param("next"))
        if await self._to_provider(req, resp, step, session, next_path):
            return
        has_factor = (await self._factors.status(session.user)).any
        if step == MFA and not has_factor:
            self._no_factor(req, resp, falcon.HTTP_200, session, next_path)
            return
        if wants_json(req):
            needs = [PASSWORD] if step == MAX_AGE else []
            send_json(
                resp,
                falcon.HTTP_200,
                {"step_up": step, "needs": [*needs, *(["code"] if has_factor else [])]},
            )
            return
        self.render_form(resp, falcon.HTTP_200, step, session, next_path, has_factor, None)

    async def submit(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, step: str, session: SessionRef
    ) -> None:
        """Check the step; on success strengthen the session in place and go on to `next`."""
        next_path = safe_next(req.get_param("next"))
        if await self._to_provider(req, resp, step, session, next_path):
            return
        await self._submit(req, resp, step, session)

    async def _submit(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, step: str, session: SessionRef
    ) -> None:
        fields = await read_fields(req)
        next_path = safe_next(fields.get("next") or req.get_param("next"))
        user, address = session.user, client_address(req)
        has_factor = (await self._factors.status(user)).any
        if step == MFA and not has_factor:
            self.record_failure(user, session, step, address, "no_factor")
            self._no_factor(req, resp, falcon.HTTP_409, session, next_path)
            return
        password = fields.get("password", "")
        code, recovery = _typed_code(fields)
        problem = _input_problem(step, password, has_factor, code, recovery)
        failure = _Failure(self, req, resp, step, session, next_path, has_factor, address)
        if problem is not None:
            failure.answer(falcon.HTTP_400, problem, "bad_input")
            return
        amr: list[str] = []
        if step == MAX_AGE:
            if not await self._check_password(failure, password):
                return
            amr.append(PASSWORD)
        if has_factor:
            method = await self._check_code(failure, code, recovery)
            if method is None:
                return
            amr.append(method)
        stepped = await self._gate.strengthen(session, amr)
        if stepped is None:
            # Ended meanwhile (logged out elsewhere, revoked): a normal sign-in from here.
            self.record_failure(user, session, step, address, "session_ended")
            self._account.send_to_login(req, resp)
            return
        self._gate.metrics.signin(SIGNIN_STEPPED_UP)
        self._gate.audit.record(
            "signin.stepped_up",
            user=user,
            session=session.session_id,
            address=address,
            step=step,
            methods=",".join(amr),
            amr=",".join(stepped.sign_in.amr),
        )
        if RECOVERY_CODE in amr:
            left = await self._factors.recovery_codes_left(user)
            self._gate.audit.record("recovery_code.used", user=user, remaining=left)
        resp.append_header("Set-Cookie", stepped.set_access_cookie)
        if wants_json(req):
            send_json(
                resp,
                falcon.HTTP_200,
                {"stepped_up": True, "amr": list(stepped.sign_in.amr), "next": next_path},
            )
            return
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = next_path

    async def _to_provider(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        step: str,
        session: SessionRef,
        next_path: str,
    ) -> bool:
        # max_age for a provider's user: their provider signs them in again (no password
        # here to ask for). A JSON client is told where to send the browser.
        if step != MAX_AGE or self._providers is None:
            return False
        url = await self._providers.start_url(session, next_path)
        if url is None:
            return False
        if wants_json(req):
            send_json(resp, falcon.HTTP_200, {"step_up": step, "needs": ["provider"], "url": url})
            return True
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = url
        return True

    async def _check_password(self, failure: _Failure, password: str) -> bool:
        user, address = failure.session.user, failure.address
        try:
            await self._password_throttle.reserve(user, address)
        except LoginThrottled as throttled:
            failure.throttled(throttled)
            return False
        try:
            await self._authenticate(user, password)
        except InvalidCredentials:
            failure.answer(falcon.HTTP_401, WRONG_PASSWORD, "bad_credentials")
            return False
        except PasswordCheckBusy:
            # No password was checked: the attempt is given back, and the client told to retry.
            await self._password_throttle.release(user, address)
            failure.resp.retry_after = BUSY_RETRY_AFTER_SECONDS
            failure.answer(falcon.HTTP_503, BUSY, "busy")
            return False
        except SourceUnavailable:
            # The user's directory cannot be asked: nothing was decided, fail closed.
            await self._password_throttle.release(user, address)
            failure.resp.retry_after = SOURCE_RETRY_AFTER_SECONDS
            failure.answer(falcon.HTTP_503, SOURCE_UNAVAILABLE, "source_unavailable")
            return False
        await self._password_throttle.record_success(user, address)
        return True

    async def _check_code(self, failure: _Failure, code: str, recovery: str) -> str | None:
        user, address = failure.session.user, failure.address
        # The sign-in's second-factor throttle: a stolen session guesses no faster here.
        try:
            await self._factor_throttle.reserve(user, address)
        except LoginThrottled as throttled:
            failure.throttled(throttled)
            return None
        method = await self._factors.check(user, code, recovery, self._clock())
        if method is None:
            failure.answer(falcon.HTTP_401, WRONG_CODE, "bad_code")
            return None
        await self._factor_throttle.record_success(user, address)
        return method

    def record_failure(
        self, user: str, session: SessionRef, step: str, address: str, reason: str
    ) -> None:
        self._gate.metrics.signin(_metric_outcome(reason))
        self._gate.audit.record(
            "signin.step_up_failed",
            user=user,
            session=session.session_id,
            address=address,
            step=step,
            reason=reason,
        )

    def render_form(
        self,
        resp: falcon.asgi.Response,
        status: str,
        step: str,
        session: SessionRef,
        next_path: str,
        has_factor: bool,
        error: str | None,
    ) -> None:
        """Answer with the step-up form (the same page again, with `error`, on a failure)."""
        reason = _REASON_WITH_CODE if step == MAX_AGE and has_factor else _REASONS[step]
        page = step_up_page(
            self.action(step, next_path),
            next_path,
            session.user,
            reason,
            password=step == MAX_AGE,
            code=has_factor,
            error=error,
        )
        send_page(resp, status, page)

    def action(self, step: str, next_path: str) -> str:
        """The step-up URL itself: where the form posts, and what a JSON client calls."""
        url = f"{self._login_path}?step_up={step}"
        if next_path != DEFAULT_NEXT:
            url += "&next=" + quote(next_path, safe="/")
        return url

    def _no_factor(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        status: str,
        session: SessionRef,
        next_path: str,
    ) -> None:
        enrol_url = ENROL_PATH + "?next=" + quote(next_path, safe="/")
        if wants_json(req):
            send_json(resp, status, {"error": NO_FACTOR, "enrol": enrol_url})
            return
        send_page(resp, status, no_second_factor_page(session.user, enrol_url))


class _Failure:
    """Answers a refused step-up: recorded with its reason, `next` kept, nothing set."""

    def __init__(
        self,
        owner: StepUp,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        step: str,
        session: SessionRef,
        next_path: str,
        has_factor: bool,
        address: str,
    ) -> None:
        self.owner, self.req, self.resp = owner, req, resp
        self.step, self.session, self.next_path = step, session, next_path
        self.has_factor, self.address = has_factor, address

    def throttled(self, throttled: LoginThrottled) -> None:
        """429 with Retry-After."""
        message = throttled_answer(self.resp, throttled)
        self.answer(falcon.HTTP_429, message, "throttled")

    def answer(self, status: str, message: str, reason: str) -> None:
        """The form again (or JSON) with `message`; the failure is recorded."""
        self.owner.record_failure(self.session.user, self.session, self.step, self.address, reason)
        if wants_json(self.req):
            send_json(
                self.resp,
                status,
                {"error": message, "step_up": self.owner.action(self.step, self.next_path)},
            )
            return
        self.owner.render_form(
            self.resp, status, self.step, self.session, self.next_path, self.has_factor, message
        )


def _typed_code(fields: dict[str, str]) -> tuple[str, str]:
    """(TOTP code, recovery code) from `recovery_code`, or from `code` taking either."""
    recovery = fields.get("recovery_code", "")
    if recovery:
        return "", recovery
    return split_current_code(fields.get("code", ""))


def _input_problem(
    step: str, password: str, has_factor: bool, code: str, recovery: str
) -> str | None:
    """A message for input that can never pass this step, else None."""
    if step == MAX_AGE:
        if not password:
            return ENTER_PASSWORD
        if len(password) > MAX_PASSWORD_LENGTH or has_nul(password):
            return NOT_A_PASSWORD
    if has_factor:
        return code_problem(code, recovery)
    return None


def _metric_outcome(reason: str) -> str:
    # The sign-in counters' fixed set: a wrong password is one, a code failure the second
    # factor's; anything else (no factor, session ended) is "other".
    if reason in {"bad_credentials", "throttled", "busy", "bad_input", "source_unavailable"}:
        return reason
    if reason == "bad_code":
        return "second_factor_bad_code"
    return "other"
