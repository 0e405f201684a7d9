"""`/auth/account`: the signed-in user's sessions, sign-in methods and password.

GET shows the page (or JSON); POST `action` is one of `end_session` (field `session`),
`end_others` or `change_password` (`current_password`, `new_password`, `new_password_again`).
Every session listed and ended is one of the caller's own: ids are looked up under the
caller's user only, so another user's id is simply not found.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import falcon
import falcon.asgi

from verifier.apitokens import TokenStore
from verifier.pages.account import ACCOUNT_PATH, FactorSection, account_page, account_url
from verifier.pages.tokens import TOKENS_PATH

__all__ = ["ACCOUNT_PATH", "Account", "FactorSections", "TotpSections"]
from verifier.errors import InvalidCredentials, LoginThrottled, PasswordCheckBusy
from verifier.factors.user_factors import UserFactors
from verifier.gate import Gate, SessionRef
from verifier.observe.audit import record_revocation
from verifier.observe.causes import RevocationCause
from verifier.resources.account_session import AccountSession
from verifier.resources.account_totp import RECOVERY_PATH, TOTP_PATH
from verifier.resources.body import has_nul, read_fields, wants_json
from verifier.resources.login import (
    BUSY,
    BUSY_RETRY_AFTER_SECONDS,
    client_address,
    throttled_answer,
)
from verifier.resources.page_answers import send_json, send_page
from verifier.sessions.store import SessionDetails, SessionStore, is_session_id
from verifier.users.passwords import MAX_PASSWORD_LENGTH
from verifier.users.store import BadUserInput, UserStore
from verifier.users.throttle import LoginThrottle
from verifier.web.csrf import check_request_origin
from verifier.web.redirects import safe_next

NOT_A_SESSION = "That is not a session."
NO_SUCH_SESSION = "No such session: it may have ended already."
THIS_SESSION = "That is the session you are using: sign out instead."
UNKNOWN_ACTION = "Unknown action."
PASSWORDS_MISSING = "Enter your current password and the new one twice."
PASSWORDS_DIFFER = "The two new passwords differ."
PASSWORD_TOO_LONG = "The password is too long."  # noqa: S105 (a message)
BAD_CHARACTER = "The password contains a forbidden character."
WRONG_PASSWORD = "Your current password is not right."  # noqa: S105 (a message)
# What a redirect after a successful POST tells the page to say (?done=...).
NOTICES = {
    "ended": "The session has ended.",
    "ended_others": "Every other session has ended.",
    "password": "Your password has changed. Every other session has ended.",
}


class FactorSections(Protocol):
    """A sign-in method's contribution to the account page (TOTP, recovery codes, passkeys)."""

    async def sections(self, user: str) -> list[FactorSection]:
        """What the page lists for this user, with links to the pages that manage it."""


class TotpSections:
    """The authenticator app and the recovery codes, as the account page lists them."""

    def __init__(self, factors: UserFactors) -> None:
        self._factors = factors

    async def sections(self, user: str) -> list[FactorSection]:
        """On or off with the way to set up or reset; recovery codes left, to renew."""
        status = await self._factors.status(user)
        if status.totp:
            found = [FactorSection("totp", "Authenticator app", "On.", "Reset or move", TOTP_PATH)]
        else:
            found = [FactorSection("totp", "Authenticator app", "Off.", "Set up", TOTP_PATH)]
        # Recovery codes come with the first factor, whichever it is (TOTP or a passkey).
        if status.any:
            left = status.recovery_codes_left
            found.append(
                FactorSection(
                    "recovery_codes",
                    "Recovery codes",
                    f"{left} left.",
                    "Make a new set",
                    RECOVERY_PATH,
                )
            )
        return found


class PasskeySections:
    """The user's passkeys, as the account page lists them (when passkeys are on)."""

    def __init__(self, factors: UserFactors, manage_path: str) -> None:
        self._factors = factors
        self._manage_path = manage_path

    async def sections(self, user: str) -> list[FactorSection]:
        """How many passkeys the user has, with the page that adds and removes them."""
        count = (await self._factors.status(user)).passkeys
        state = f"{count} registered." if count else "None yet."
        return [FactorSection("passkeys", "Passkeys", state, "Manage passkeys", self._manage_path)]


class Account:
    """The account page and its three actions; JSON for API clients, same rules."""

    def __init__(
        self,
        gate: Gate,
        account: AccountSession,
        sessions: SessionStore,
        users: UserStore,
        throttle: LoginThrottle,
        factor_sections: Sequence[FactorSections],
        tokens: TokenStore | None = None,
    ) -> None:
        self._gate = gate
        # The user's API tokens, counted on the page (None: the page does not mention them).
        self._tokens = tokens
        self._account = account
        self._sessions = sessions
        self._users = users
        self._throttle = throttle
        # In page order; passkeys (or any later method) add theirs where app.py wires this.
        self._factor_sections = tuple(factor_sections)

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Show the caller's sessions, sign-in methods and the password form."""
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        notice = NOTICES.get(req.get_param("done") or "")
        await self._show(req, resp, session, falcon.HTTP_200, notice=notice)

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """End a session, end every other one, or change the password."""
        check_request_origin(req)
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        fields = await read_fields(req)
        action = fields.get("action", "")
        if action == "end_session":
            await self._end_session(req, resp, session, fields.get("session", ""))
        elif action == "end_others":
            await self._end_others(req, resp, session)
        elif action == "change_password":
            await self._change_password(req, resp, session, fields)
        else:
            await self._fail(req, resp, session, falcon.HTTP_400, UNKNOWN_ACTION)

    async def _end_session(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        session: SessionRef,
        target: str,
    ) -> None:
        if not is_session_id(target):
            await self._fail(req, resp, session, falcon.HTTP_400, NOT_A_SESSION)
            return
        if target == session.session_id:
            await self._fail(req, resp, session, falcon.HTTP_400, THIS_SESSION)
            return
        own = {s.session_id for s in await self._sessions.session_details(session.user)}
        # Only the caller's own index is read: another user's session id is not in it.
        if target not in own or not await self._sessions.revoke(session.user, target):
            await self._fail(req, resp, session, falcon.HTTP_404, NO_SUCH_SESSION)
            return
        self._revoked(session, RevocationCause.ADMIN, [target], "account.session_ended")
        self._done(req, resp, "ended", {"sessions_ended": 1})

    async def _end_others(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, session: SessionRef
    ) -> None:
        ended = await self._sessions.revoke_others(session.user, session.session_id)
        self._revoked(session, RevocationCause.ADMIN, ended, "account.sessions_ended")
        self._done(req, resp, "ended_others", {"sessions_ended": len(ended)})

    async def _change_password(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        session: SessionRef,
        fields: dict[str, str],
    ) -> None:
        user, address = session.user, client_address(req)
        current = fields.get("current_password", "")
        new, again = fields.get("new_password", ""), fields.get("new_password_again", "")
        problem = _password_problem(current, new, again)
        if problem is not None:
            self._password_refused(user, address, "bad_input")
            await self._fail(req, resp, session, falcon.HTTP_400, problem)
            return
        try:
            # The sign-in's own counters: a stolen session guesses the password no faster here.
            await self._throttle.reserve(user, address)
        except LoginThrottled as throttled:
            self._password_refused(user, address, "throttled")
            message = throttled_answer(resp, throttled)
            await self._fail(req, resp, session, falcon.HTTP_429, message)
            return
        try:
            await self._users.authenticate(user, current)
        except InvalidCredentials:
            self._password_refused(user, address, "bad_credentials")
            await self._fail(req, resp, session, falcon.HTTP_403, WRONG_PASSWORD)
            return
        except PasswordCheckBusy:
            await self._throttle.release(user, address)
            await self._busy(req, resp, session, user, address)
            return
        await self._throttle.record_success(user, address)
        try:
            await self._users.set_password(user, new)
        except BadUserInput as bad:
            self._password_refused(user, address, "bad_input")
            await self._fail(req, resp, session, falcon.HTTP_400, _sentence(str(bad)))
            return
        except PasswordCheckBusy:
            await self._busy(req, resp, session, user, address)
            return
        ended = await self._sessions.revoke_others(user, session.session_id)
        self._gate.audit.record(
            "account.password_changed", user=user, session=session.session_id, address=address
        )
        self._revoked(session, RevocationCause.PASSWORD_CHANGE, ended, None)
        self._done(req, resp, "password", {"password_changed": True, "sessions_ended": len(ended)})

    async def _busy(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        session: SessionRef,
        user: str,
        address: str,
    ) -> None:
        self._password_refused(user, address, "busy")
        resp.retry_after = BUSY_RETRY_AFTER_SECONDS
        await self._fail(req, resp, session, falcon.HTTP_503, BUSY)

    def _password_refused(self, user: str, address: str, reason: str) -> None:
        self._gate.audit.record(
            "account.password_change_failed", user=user, address=address, reason=reason
        )

    def _revoked(
        self,
        session: SessionRef,
        cause: RevocationCause,
        ended: list[str],
        event: str | None,
    ) -> None:
        if event is not None:
            self._gate.audit.record(
                event, user=session.user, session=session.session_id, sessions_ended=len(ended)
            )
        self._gate.metrics.revoked(cause, len(ended))
        record_revocation(self._gate.audit, cause, session.user, ended)

    def _done(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        done: str,
        media: dict[str, Any],
    ) -> None:
        if wants_json(req):
            send_json(resp, falcon.HTTP_200, media)
            return
        # Post/redirect/get: a reload of the page never repeats the action.
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = account_url(_next_path(req), done)

    async def _fail(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        session: SessionRef,
        status: str,
        error: str,
    ) -> None:
        if wants_json(req):
            send_json(resp, status, {"error": error})
            return
        await self._show(req, resp, session, status, error=error)

    async def _show(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        session: SessionRef,
        status: str,
        error: str | None = None,
        notice: str | None = None,
    ) -> None:
        listed = await self._sessions.session_details(session.user)
        factors = [
            section
            for source in self._factor_sections
            for section in await source.sections(session.user)
        ]
        if wants_json(req):
            media = _account_media(session, listed, factors)
            if self._tokens is not None:
                media["api_tokens_url"] = TOKENS_PATH
            send_json(resp, status, media)
            return
        api_tokens = None
        if self._tokens is not None:
            api_tokens = (len(await self._tokens.owned_by(session.user)), TOKENS_PATH)
        html = account_page(
            session.user,
            session.session_id,
            listed,
            factors,
            _next_path(req),
            error=error,
            notice=notice,
            api_tokens=api_tokens,
        )
        send_page(resp, status, html)


def _next_path(req: falcon.asgi.Request) -> str:
    # The way back to the app rides in the query string, of the page and of its forms' actions.
    return safe_next(req.get_param("next"))


def _account_media(
    session: SessionRef, listed: list[SessionDetails], factors: list[FactorSection]
) -> dict[str, Any]:
    return {
        "user": session.user,
        "sessions": [
            {
                "session": s.session_id,
                "device": s.device,
                "address": s.address,
                "started": int(s.started),
                "last_used": int(s.last_used),
                "current": s.session_id == session.session_id,
                # Single sign-on: the app hosts this session has entered.
                "hosts": list(s.hosts),
            }
            for s in listed
        ],
        "factors": [
            {"key": f.key, "title": f.title, "state": f.state, "url": f.link_url} for f in factors
        ],
        "account_url": ACCOUNT_PATH,
    }


def _password_problem(current: str, new: str, again: str) -> str | None:
    """A message for password input that can never be a change, else None."""
    if not current or not new or not again:
        return PASSWORDS_MISSING
    if any(len(value) > MAX_PASSWORD_LENGTH for value in (current, new, again)):
        return PASSWORD_TOO_LONG
    if has_nul(current, new, again):
        return BAD_CHARACTER
    if new != again:
        return PASSWORDS_DIFFER
    return None


def _sentence(rule: str) -> str:
    # BadUserInput says "passwords need at least 8 characters": the page shows a sentence.
    return rule[:1].upper() + rule[1:] + "."
