"""`/auth/account`: the signed-in user's sessions, sign-in methods and password.

GET shows the page (or JSON); POST `action` is one of `end_session` (field `session`),
`end_others` or `change_password` (`current_password`, `new_password`, `new_password_again`).
Every session listed and ended is one of the caller's own: ids are looked up under the
caller's user only, so another user's id is simply not found.

Ending sessions from a browser goes through a confirmation, without script: a form POST
without `confirm=yes` answers with a page that says which sessions end and what that does,
whose own form posts again with `confirm=yes`. JSON clients confirm in their own way: their
POST acts at once, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import falcon
import falcon.asgi

from verifier.apitokens import TokenStore
from verifier.i18n import N_, _, ngettext
from verifier.pages.account import (
    ACCOUNT_PATH,
    LOCAL_PASSWORD,
    FactorSection,
    PasswordSection,
    account_page,
    account_url,
    end_others_page,
    end_session_page,
)
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
    SOURCE_RETRY_AFTER_SECONDS,
    SOURCE_UNAVAILABLE,
    client_address,
    throttled_answer,
)
from verifier.resources.page_answers import send_json, send_page
from verifier.sessions.devices import Device
from verifier.sessions.networks import NetworkNames
from verifier.sessions.store import SessionDetails, SessionStore, is_session_id
from verifier.users.passwords import MAX_PASSWORD_LENGTH
from verifier.users.sources.interface import PasswordChangeRefused, SourceUnavailable, UserGone
from verifier.users.sources.password_signin import PasswordHome
from verifier.users.store import BadUserInput
from verifier.users.throttle import LoginThrottle
from verifier.web.csrf import check_request_origin
from verifier.web.redirects import safe_next

NOT_A_SESSION = N_("That is not a session.")
NO_SUCH_SESSION = N_("No such session: it may have ended already.")
THIS_SESSION = N_("That is the session you are using: sign out instead.")
UNKNOWN_ACTION = N_("Unknown action.")
PASSWORDS_MISSING = N_("Enter your current password and the new one twice.")
PASSWORDS_DIFFER = N_("The two new passwords differ.")
PASSWORD_TOO_SHORT = N_("Passwords need at least 8 characters.")
PASSWORD_TOO_LONG = N_("The password is too long.")
BAD_CHARACTER = N_("The password contains a forbidden character.")
WRONG_PASSWORD = N_("Your current password is not right.")
UNUSABLE_PASSWORD = N_("That password cannot be used.")
# Why a source refused a new password (PasswordChangeRefused.why); {where} is its name.
CHANGE_REFUSED = {
    "policy": N_(
        "{where} refused the new password (its password policy: length, history or complexity)."
    ),
    "not_here": N_("{where} does not take password changes here."),
    "elsewhere": N_("You sign in through {where}: your password is not kept here."),
}
# The users store's own rule (verifier.users.store): checked here first, to say it in words
# of the page.
MIN_PASSWORD_LENGTH = 8
# What a redirect after a successful POST tells the page to say (?done=...).
NOTICES = {
    "ended": N_("The session has ended."),
    "ended_others": N_("Every other session has ended."),
    "password": N_("Your password has changed. Every other session has ended."),
}
# The field a form's second POST carries (the confirmation page's own form).
CONFIRMED = "yes"


USER_GONE = N_("Your directory no longer has an active account for you.")


class PasswordChanges(Protocol):
    """Where a user's password lives, and changing it there (verifier.users.sources)."""

    async def home(self, user: str) -> PasswordHome:
        """Here, a directory, or a provider that keeps it."""

    async def change(self, user: str, old: str, new: str) -> str:
        """Change it where it lives; raise InvalidCredentials, PasswordChangeRefused,
        BadUserInput, UserGone or SourceUnavailable."""


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
        title = _("Authenticator app")
        if status.totp:
            found = [
                FactorSection(
                    "totp", title, _("On."), _("Reset or move"), TOTP_PATH, second_factor=True
                )
            ]
        else:
            found = [FactorSection("totp", title, _("Off."), _("Set up"), TOTP_PATH)]
        # Recovery codes come with the first factor, whichever it is (TOTP or a passkey).
        if status.any:
            left = status.recovery_codes_left
            found.append(
                FactorSection(
                    "recovery_codes",
                    _("Recovery codes"),
                    # TRANSLATORS: recovery codes left, "Recovery codes: 7 left."
                    ngettext("{count} left.", "{count} left.", left).format(count=left),
                    _("Make a new set"),
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
        if count:
            # TRANSLATORS: passkeys registered, "Passkeys: 2 registered."
            state = ngettext("{count} registered.", "{count} registered.", count)
            state = state.format(count=count)
        else:
            state = _("None yet.")
        return [
            FactorSection(
                "passkeys",
                _("Passkeys"),
                state,
                _("Manage passkeys"),
                self._manage_path,
                second_factor=count > 0,
            )
        ]


class Account:
    """The account page and its three actions; JSON for API clients, same rules."""

    def __init__(
        self,
        gate: Gate,
        account: AccountSession,
        sessions: SessionStore,
        passwords: PasswordChanges,
        throttle: LoginThrottle,
        factor_sections: Sequence[FactorSections],
        clock: Callable[[], float],
        networks: NetworkNames | None = None,
        tokens: TokenStore | None = None,
    ) -> None:
        self._gate = gate
        self._clock = clock
        # The networks the operator named (VERIFIER_NETWORK_NAMES), for the session list.
        self._networks = networks or NetworkNames()
        # The user's API tokens, counted on the page (None: the page does not mention them).
        self._tokens = tokens
        self._account = account
        self._sessions = sessions
        self._passwords = passwords
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
        confirmed = fields.get("confirm") == CONFIRMED or wants_json(req)
        if action == "end_session":
            await self._end_session(req, resp, session, fields.get("session", ""), confirmed)
        elif action == "end_others":
            await self._end_others(req, resp, session, confirmed)
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
        confirmed: bool,
    ) -> None:
        if not is_session_id(target):
            await self._fail(req, resp, session, falcon.HTTP_400, NOT_A_SESSION)
            return
        if target == session.session_id:
            await self._fail(req, resp, session, falcon.HTTP_400, THIS_SESSION)
            return
        own = {s.session_id: s for s in await self._sessions.session_details(session.user)}
        # Only the caller's own index is read: another user's session id is not in it.
        if target in own and not confirmed:
            page = end_session_page(
                own[target],
                account_url(_next_path(req)),
                _next_path(req),
                now=self._clock(),
                networks=self._networks,
            )
            send_page(resp, falcon.HTTP_200, page)
            return
        if target not in own or not await self._sessions.revoke(session.user, target):
            await self._fail(req, resp, session, falcon.HTTP_404, NO_SUCH_SESSION)
            return
        self._revoked(session, RevocationCause.ADMIN, [target], "account.session_ended")
        self._done(req, resp, "ended", {"sessions_ended": 1})

    async def _end_others(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        session: SessionRef,
        confirmed: bool,
    ) -> None:
        if not confirmed:
            listed = await self._sessions.session_details(session.user)
            others = [s for s in listed if s.session_id != session.session_id]
            if others:
                page = end_others_page(
                    others,
                    account_url(_next_path(req)),
                    _next_path(req),
                    now=self._clock(),
                    networks=self._networks,
                )
                send_page(resp, falcon.HTTP_200, page)
                return
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
        where = await self._changed_where(req, resp, session, current, new)
        if where is None:
            return
        await self._throttle.record_success(user, address)
        ended = await self._sessions.revoke_others(user, session.session_id)
        self._gate.audit.record(
            "account.password_changed",
            user=user,
            session=session.session_id,
            address=address,
            source=where,
        )
        self._revoked(session, RevocationCause.PASSWORD_CHANGE, ended, None)
        self._done(req, resp, "password", {"password_changed": True, "sessions_ended": len(ended)})

    async def _changed_where(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        session: SessionRef,
        current: str,
        new: str,
    ) -> str | None:
        """Change the password where it lives (here, or the user's directory: RFC 3062 /
        AD); return where, or None once a refusal is written."""
        user, address = session.user, client_address(req)
        try:
            return await self._passwords.change(user, current, new)
        except InvalidCredentials:
            self._password_refused(user, address, "bad_credentials")
            await self._fail(req, resp, session, falcon.HTTP_403, WRONG_PASSWORD)
        except PasswordCheckBusy:
            await self._throttle.release(user, address)
            await self._busy(req, resp, session, user, address)
        except SourceUnavailable:
            await self._throttle.release(user, address)
            self._password_refused(user, address, "source_unavailable")
            resp.retry_after = SOURCE_RETRY_AFTER_SECONDS
            await self._fail(req, resp, session, falcon.HTTP_503, SOURCE_UNAVAILABLE)
        except (BadUserInput, PasswordChangeRefused) as bad:
            # The current password was right: the new one is what was refused. The store's
            # own rules are checked above in the page's words; any other it adds later is
            # refused here, said plainly.
            await self._throttle.record_success(user, address)
            self._password_refused(user, address, "bad_input")
            message = UNUSABLE_PASSWORD
            if isinstance(bad, PasswordChangeRefused):
                message = _(CHANGE_REFUSED.get(bad.why, UNUSABLE_PASSWORD)).format(where=bad.where)
            await self._fail(req, resp, session, falcon.HTTP_400, message)
        except UserGone:
            self._password_refused(user, address, "upstream_gone")
            await self._fail(req, resp, session, falcon.HTTP_403, USER_GONE)
        return None

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
        password = _password_section(await self._passwords.home(session.user))
        if wants_json(req):
            media = _account_media(session, listed, factors, self._networks, password)
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
            now=self._clock(),
            networks=self._networks,
            password=password,
            api_tokens=api_tokens,
        )
        send_page(resp, status, html)


def _next_path(req: falcon.asgi.Request) -> str:
    # The way back to the app rides in the query string, of the page and of its forms' actions.
    return safe_next(req.get_param("next"))


def _password_section(home: PasswordHome) -> PasswordSection:
    if home.source is not None:
        return PasswordSection(
            changeable=home.source.password_change_allowed,
            where=home.source.title,
            url=home.source.password_change_url,
        )
    if home.elsewhere:
        return PasswordSection(changeable=False, where=home.elsewhere)
    return LOCAL_PASSWORD


def _account_media(
    session: SessionRef,
    listed: list[SessionDetails],
    factors: list[FactorSection],
    networks: NetworkNames,
    password: PasswordSection,
) -> dict[str, Any]:
    return {
        "user": session.user,
        "sessions": [
            _session_media(s, s.session_id == session.session_id, networks) for s in listed
        ],
        "factors": [
            {"key": f.key, "title": f.title, "state": f.state, "url": f.link_url} for f in factors
        ],
        "account_url": ACCOUNT_PATH,
        "password": {
            "changeable": password.changeable,
            "where": password.where or "local",
            **({"url": password.url} if password.url else {}),
        },
    }


def _session_media(
    details: SessionDetails, current: bool, networks: NetworkNames
) -> dict[str, Any]:
    """One session for a JSON client: the same facts as the page, as values, not words."""
    device = Device.from_stored(details.device)
    label = networks.label(details.address)
    return {
        "session": details.session_id,
        "device": device.describe(),
        "browser": device.browser or None,
        "browser_version": device.version or None,
        "system": device.system or None,
        "address": details.address,
        "network": None if label is None else (label.name or label.kind.value),
        "methods": list(details.amr),
        "started": int(details.started),
        "last_used": int(details.last_used),
        "current": current,
        # Single sign-on: the app hosts this session has entered.
        "hosts": list(details.hosts),
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
    if len(new) < MIN_PASSWORD_LENGTH:
        return PASSWORD_TOO_SHORT
    return None
