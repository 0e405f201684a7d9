"""`/auth/login`: the sign-in page and the form / JSON login."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import falcon
import falcon.asgi

from verifier.errors import InvalidCredentials, LoginThrottled, PasswordCheckBusy
from verifier.gate import Gate, SessionRef
from verifier.i18n import N_, _
from verifier.observe.audit import shown_name
from verifier.observe.metrics import (
    SIGNIN_NAME_REFUSED,
    SIGNIN_SOURCE_UNAVAILABLE,
    UPSTREAM_OK,
    UPSTREAM_UNAVAILABLE,
)
from verifier.pages.common import (
    PAGE_SECURITY_HEADERS,
    SCRIPT_PAGE_SECURITY_HEADERS,
    ProviderButton,
    login_page,
)
from verifier.resources.body import has_nul, read_fields, wants_json
from verifier.sessions.devices import device_summary
from verifier.sessions.pending_signin import FirstStep
from verifier.sessions.store import SessionStore
from verifier.upstream.mapping import NameRefused
from verifier.users.passwords import MAX_PASSWORD_LENGTH
from verifier.users.sources.accounts import NameTaken
from verifier.users.sources.interface import SourceUnavailable
from verifier.users.sources.password_signin import PasswordSignedIn
from verifier.users.throttle import LoginThrottle
from verifier.web.csrf import check_request_origin
from verifier.web.redirects import safe_next

# One message for every failed sign-in: it must not tell which of the two was wrong.
BAD_CREDENTIALS = N_("Invalid user name or password.")
BUSY = N_("Sign-in is busy right now. Try again in a few seconds.")
BUSY_RETRY_AFTER_SECONDS = 2
# The same words for every throttled sign-in, known user or not; only the wait differs, and
# it is the Retry-After of that answer.
THROTTLED = N_("Too many failed sign-ins. Try again in {seconds} s.")
MAX_USER_NAME_INPUT = 256
# What the sign-in page says when a second step sent the visitor back (?pending=...).
EXPIRED = N_("Your sign-in took too long or was interrupted. Sign in again.")
TOO_MANY_ATTEMPTS = N_("Too many wrong codes. Sign in again.")
SIGNED_OUT = N_("You have been signed out.")
ENTER_BOTH = N_("Enter your user name and password.")
TOO_LONG = N_("The user name or password is too long.")
FORBIDDEN_CHARACTER = N_("The user name or password contains a forbidden character.")
_PENDING_NOTICES = {"expired": EXPIRED, "attempts": TOO_MANY_ATTEMPTS}
# An upstream source that could not be asked: sign-ins through it fail closed, and say so.
SOURCE_UNAVAILABLE = N_(
    "Your directory cannot be reached right now, so your password cannot be checked. "
    "Try again in a few minutes."
)
SOURCE_RETRY_AFTER_SECONDS = 30
NAME_TAKEN = N_(
    "This account cannot sign in here: its user name belongs to another account. An "
    "administrator can link it (verifier users link)."
)
# TRANSLATORS: {source} names a user directory or identity provider; {name} the user name
# it gave; {rule} what a user name may hold ("1-64 characters of a-z, 0-9...").
NAME_REFUSED = N_(
    "{source} names this account {name}, which is not a valid user name here ({rule}); an "
    "administrator can link the account to another name (verifier users link)."
)
# TRANSLATORS: the rule for user names, inside the message above.
NAME_RULE = N_(
    "1-64 characters of a-z, 0-9, '.', '_', '@', '+', '-' (upper case is folded to lower case)"
)
PASSWORD_FORM_OFF = N_("Sign in with one of the buttons on the sign-in page.")


class PasswordCheck(Protocol):
    """Checks a name and password where the name's password lives (here, or a directory)."""

    async def authenticate(self, typed_name: str, password: str) -> PasswordSignedIn:
        """Who they sign in as (verifier.users.sources.password_signin)."""


class SecondStep(Protocol):
    """Decides whether a correct password needs a second factor, and starts that step."""

    async def needed(self, user: str) -> str | None:
        """The step the user must take (see verifier.sessions.pending_signin), or None."""

    async def begin(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        user: str,
        purpose: str,
        next_path: str,
        first: FirstStep = ...,
    ) -> None:
        """Answer with the second step instead of a session."""


class StepUpFlow(Protocol):
    """The step-up page for a live session (verifier.resources.step_up)."""

    async def session_for(self, req: falcon.asgi.Request) -> tuple[str, SessionRef] | None:
        """The step asked for and the caller's live session; None for a normal sign-in."""

    async def show(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, step: str, session: SessionRef
    ) -> None:
        """Answer with the form for the missing step."""

    async def submit(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, step: str, session: SessionRef
    ) -> None:
        """Check the step and strengthen the session in place."""


class Login:
    """GET renders the form; POST checks the password and starts a session."""

    def __init__(
        self,
        gate: Gate,
        passwords: PasswordCheck,
        sessions: SessionStore,
        throttle: LoginThrottle,
        path: str,
        second_step: SecondStep | None = None,
        step_up: StepUpFlow | None = None,
        *,
        passkeys: bool = False,
        providers: Sequence[ProviderButton] = (),
        password_form: bool = True,
    ) -> None:
        self._gate = gate
        # Offer "Sign in with a passkey" (VERIFIER_WEBAUTHN_RP_ID is set).
        self._passkeys = passkeys
        # One button per OpenID Provider; the password form unless the sources file says not.
        self._providers = tuple(providers)
        self._password_form = password_form
        self._passwords = passwords
        self._sessions = sessions
        self._throttle = throttle
        self._path = path
        self._second_step = second_step
        self._step_up = step_up

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Show the sign-in form (or, with `step_up` and a live session, the step-up form)."""
        if self._step_up is not None:
            asked = await self._step_up.session_for(req)
            if asked is not None:
                await self._step_up.show(req, resp, *asked)
                return
        notice = SIGNED_OUT if req.get_param("signed_out") else None
        notice = _PENDING_NOTICES.get(req.get_param("pending") or "", notice)
        self._render(resp, falcon.HTTP_200, safe_next(req.get_param("next")), notice=notice)

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Sign in with `username` and `password` (form or JSON), or complete a step-up."""
        check_request_origin(req)
        asked = None if self._step_up is None else await self._step_up.session_for(req)
        if asked is not None and self._step_up is not None:
            await self._step_up.submit(req, resp, *asked)
        else:
            await self._sign_in(req, resp)

    async def _sign_in(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        as_json = wants_json(req)
        fields = await read_fields(req)
        next_path = safe_next(fields.get("next") or req.get_param("next"))
        user_name, password = fields.get("username", ""), fields.get("password", "")
        problem = _input_problem(user_name, password)
        address = client_address(req)
        if not self._password_form:
            self._audit_failure(user_name, address, "bad_input")
            self._fail(resp, falcon.HTTP_403, PASSWORD_FORM_OFF, as_json, next_path, "")
            return
        if problem is not None:
            self._audit_failure(user_name, address, "bad_input")
            self._fail(resp, falcon.HTTP_400, problem, as_json, next_path, "")
            return
        try:
            await self._throttle.reserve(user_name, address)
        except LoginThrottled as throttled:
            self._audit_throttle(user_name, address, throttled)
            self._audit_failure(user_name, address, "throttled")
            message = throttled_answer(resp, throttled)
            self._fail(resp, falcon.HTTP_429, message, as_json, next_path, user_name)
            return
        answer = _Answer(self, resp, as_json, next_path, user_name, address)
        signed = await self._check_password(answer, password)
        if signed is None:
            return
        await self._throttle.record_success(user_name, address)
        user = signed.name
        if signed.upstream is not None:
            self._gate.metrics.upstream_call(signed.source, "signin", UPSTREAM_OK)
        first = FirstStep(upstream=signed.upstream, recheck_interval=signed.recheck_interval)
        if self._second_step is not None:
            # No session yet for a user with a second factor (or who must enrol one).
            step = await self._second_step.needed(user)
            if step is not None:
                await self._second_step.begin(req, resp, user, step, next_path, first)
                return
        # Always a brand-new session: cookies the request arrived with are never reused,
        # so a session planted before login (fixation) cannot become an authenticated one.
        session = await self._sessions.create(
            user,
            device=device_summary(req.get_header("User-Agent")),
            address=address,
            upstream=signed.upstream,
            recheck_interval=signed.recheck_interval,
        )
        for cookie in self._gate.signed_in(session, address):
            resp.append_header("Set-Cookie", cookie)
        resp.cache_control = ["no-store"]
        if as_json:
            resp.media = {"user": user, "session": session.session_id, "next": next_path}
            return
        resp.status = falcon.HTTP_303
        resp.location = next_path

    async def _check_password(self, answer: _Answer, password: str) -> PasswordSignedIn | None:
        """Who the name and password sign in as; None once a refusal is written."""
        user_name, address, resp = answer.user_name, answer.address, answer.resp
        try:
            return await self._passwords.authenticate(user_name, password)
        except InvalidCredentials:
            self._audit_failure(user_name, address, "bad_credentials")
            answer.fail(falcon.HTTP_401, BAD_CREDENTIALS)
        except PasswordCheckBusy:
            # No password was checked: the attempt is given back, and the client told to retry.
            await self._throttle.release(user_name, address)
            self._audit_failure(user_name, address, "busy")
            resp.retry_after = BUSY_RETRY_AFTER_SECONDS
            answer.fail(falcon.HTTP_503, BUSY)
        except SourceUnavailable as down:
            # Nothing was decided: the attempt is given back. Fail closed, and say why.
            await self._throttle.release(user_name, address)
            self._gate.metrics.upstream_call(down.source, "signin", UPSTREAM_UNAVAILABLE)
            self._audit_failure(user_name, address, SIGNIN_SOURCE_UNAVAILABLE, source=down.source)
            resp.retry_after = SOURCE_RETRY_AFTER_SECONDS
            answer.fail(falcon.HTTP_503, SOURCE_UNAVAILABLE)
        except (NameRefused, NameTaken) as refused:
            # The password was right: the refusal is about the account, and says so.
            await self._throttle.record_success(user_name, address)
            self._refuse_name(resp, refused, address, answer.as_json, answer.next_path)
        return None

    def _audit_failure(
        self, user_name: str, address: str, reason: str, source: str | None = None
    ) -> None:
        self._gate.metrics.signin(reason)
        extra = {"source": source} if source else {}
        self._gate.audit.record(
            "signin.failed", user=shown_name(user_name), address=address, reason=reason, **extra
        )

    def _refuse_name(
        self,
        resp: falcon.asgi.Response,
        refused: NameRefused | NameTaken,
        address: str,
        as_json: bool,
        next_path: str,
    ) -> None:
        self._gate.metrics.signin(SIGNIN_NAME_REFUSED)
        if isinstance(refused, NameTaken):
            # Who presented the name, for the administrator who may link it.
            self._gate.audit.record(
                "signin.name_taken",
                user=refused.name,
                owner=refused.owner,
                source=refused.source,
                upstream_id=refused.upstream_id,
                address=address,
            )
            message = NAME_TAKEN
        else:
            self._gate.audit.record(
                "signin.name_refused",
                user=shown_name(refused.raw),
                source=refused.source,
                address=address,
            )
            message = _(NAME_REFUSED).format(
                source=refused.source, name=repr(refused.raw[:64]), rule=_(NAME_RULE)
            )
        self._fail(resp, falcon.HTTP_403, message, as_json, next_path, "")

    def _audit_throttle(self, user_name: str, address: str, throttled: LoginThrottled) -> None:
        # Which limit refused and for how long; the signin.failed record follows as for any
        # refused sign-in, so counting those by reason stays complete.
        self._gate.audit.record(
            "throttle.engaged",
            counter=throttled.counter,
            retry_after=throttled.retry_after_seconds,
            user=shown_name(user_name),
            address=address,
        )

    def _fail(
        self,
        resp: falcon.asgi.Response,
        status: str,
        message: str,
        as_json: bool,
        next_path: str,
        user_name: str,
    ) -> None:
        if as_json:
            resp.status = status
            resp.cache_control = ["no-store"]
            resp.media = {"error": _(message)}
            return
        # Echo the name back only if it is printable and short; the page escapes it anyway.
        shown = user_name if user_name.isprintable() and len(user_name) <= 64 else ""
        self._render(resp, status, next_path, user_name=shown, error=message)

    def _render(
        self,
        resp: falcon.asgi.Response,
        status: str,
        next_path: str,
        user_name: str = "",
        error: str | None = None,
        notice: str | None = None,
    ) -> None:
        resp.status = status
        resp.set_headers(SCRIPT_PAGE_SECURITY_HEADERS if self._passkeys else PAGE_SECURITY_HEADERS)
        resp.content_type = falcon.MEDIA_HTML
        resp.text = login_page(
            self._path,
            next_path,
            user_name,
            error=error,
            notice=notice,
            passkey=self._passkeys,
            providers=self._providers,
            password_form=self._password_form,
        )


class _Answer:
    """Where a refused password sign-in is answered: the form again (or JSON), `next` kept."""

    def __init__(
        self,
        login: Login,
        resp: falcon.asgi.Response,
        as_json: bool,
        next_path: str,
        user_name: str,
        address: str,
    ) -> None:
        self.login, self.resp, self.as_json = login, resp, as_json
        self.next_path, self.user_name, self.address = next_path, user_name, address

    def fail(self, status: str, message: str) -> None:
        """Answer `status` with `message`; no cookie is set."""
        self.login._fail(self.resp, status, message, self.as_json, self.next_path, self.user_name)


def throttled_answer(resp: falcon.asgi.Response, throttled: LoginThrottled) -> str:
    """Set the answer's Retry-After; return the one message every throttled step shows.

    Already translated (it carries a number): the pages' and send_json's `_()` then finds
    nothing more to do with it.
    """
    resp.retry_after = throttled.retry_after_seconds
    return _(THROTTLED).format(seconds=throttled.retry_after_seconds)


def client_address(req: falcon.asgi.Request) -> str:
    """The client's address: nginx's X-Forwarded-For (set from $remote_addr), else the peer."""
    # verifier-locations.conf replaces, not appends to, X-Forwarded-For, so its one value is
    # the address nginx saw. The verifier must only be reachable through nginx for this.
    forwarded = (req.get_header("X-Forwarded-For") or "").split(",")[0].strip()
    return forwarded[:64] or req.remote_addr or "unknown"


def _input_problem(user_name: str, password: str) -> str | None:
    """A message for input that can never be a valid sign-in, else None."""
    if not user_name or not password:
        return ENTER_BOTH
    if len(user_name) > MAX_USER_NAME_INPUT or len(password) > MAX_PASSWORD_LENGTH:
        return TOO_LONG
    if has_nul(user_name, password):
        return FORBIDDEN_CHARACTER
    return None
