"""`/auth/account/tokens`: the signed-in user's API tokens: list, make (after a recent
sign-in) and revoke.

GET lists them (JSON `{"tokens": [...]}`); POST `action=create` (`name`, `expires`, `scope`)
makes one and shows its secret once (JSON 201 `{"token", "id", ...}`), `action=revoke`
(`token`: an id) revokes one. Making a token is a credential made to last: it needs a sign-in
within VERIFIER_API_TOKEN_RECENT_SIGNIN_MINUTES, else the step-up page (`max_age`, the one
locations use) asks for the password again and comes back here. Only the caller's own tokens
are ever listed or revoked: ids are looked up in the caller's own index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon
import falcon.asgi

from verifier.access.conditions import MAX_AGE
from verifier.apitokens import (
    BadTokenInput,
    Scope,
    TokenInfo,
    TokenStore,
    is_token_id,
    lifetime_seconds,
    token_name,
)
from verifier.apitokens.inputs import DEFAULT_LIFETIME, MAX_NAME_LENGTH
from verifier.apitokens.scope import MAX_TERMS
from verifier.apitokens.store import MAX_TOKENS_PER_USER, OwnerDisabled, TooManyTokens
from verifier.gate import SessionRef
from verifier.i18n import N_, _
from verifier.observe.audit import AuditLog
from verifier.observe.metrics import TOKEN_CREATED, TOKEN_REVOKED, Metrics
from verifier.pages.tokens import (
    SCOPE_GROUP,
    SCOPE_PATH,
    TOKENS_PATH,
    new_token_page,
    tokens_page,
)
from verifier.resources.account_session import AccountSession
from verifier.resources.body import read_fields, wants_json
from verifier.resources.login import client_address
from verifier.resources.page_answers import send_json, send_page
from verifier.resources.unauthorized import sign_in_url
from verifier.sessions.store import SessionStore
from verifier.web.csrf import check_request_origin

# Catalog messages (verifier.i18n): translated where they are shown, on the page or in
# send_json. The library's own errors (BadTokenInput, TooManyTokens) are written for
# operators at the `verifier` command; a reader is told the same here, in their language.
UNKNOWN_TOKEN = N_("No such token: it may have expired or been revoked already.")
UNKNOWN_ACTION = N_("Unknown action.")
REVOKED = N_("The token is revoked.")
BAD_NAME = N_(
    "A token's name is 1 to {count} printable characters: what it is for, e.g. ci-deploy."
)
# TRANSLATORS: 12h, 90d, 2w are typed as they are (hours, days, weeks); {max_days}d is the
# longest lifetime ("365d").
BAD_LIFETIME = N_(
    "A token's lifetime is a whole number of hours, days or weeks, from 1h to {max_days}d: "
    "12h, 90d or 2w."
)
TOO_MANY_TERMS = N_("A scope has at most {count} terms.")
# TRANSLATORS: {term} is the scope term as typed; {group} and {path} are the two kinds of
# term ("group:NAME", "path:/PREFIX/"), kept as they are.
BAD_SCOPE_TERM = N_(
    "Bad scope term {term}: write {group} or {path} (an absolute path, without .. or // "
    "segments, % escapes or spaces)."
)
NOT_YOUR_GROUP = N_("A token's scope can only narrow what you may do: name only groups you are in.")
TOO_MANY_TOKENS = N_("You have {count} tokens already: revoke one before making another.")
OWNER_DISABLED = N_("Your account is disabled: no token can be made for it.")

__all__ = ["TOKENS_PATH", "AccountTokens"]


class AccountTokens:
    """The API tokens page; JSON for API clients, the same rules."""

    def __init__(
        self,
        account: AccountSession,
        sessions: SessionStore,
        tokens: TokenStore,
        audit: AuditLog,
        metrics: Metrics,
        clock: Callable[[], float],
        *,
        login_path: str,
        recent_minutes: int,
        max_days: int,
    ) -> None:
        self._account = account
        self._sessions = sessions
        self._tokens = tokens
        self._audit = audit
        self._metrics = metrics
        self._clock = clock
        self._login_path = login_path
        self._recent_minutes = recent_minutes
        self._max_days = max_days

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """List the caller's tokens, with the form to make one."""
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        notice = REVOKED if req.get_param("done") == "revoked" else None
        await self._show(req, resp, session.user, falcon.HTTP_200, notice=notice)

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Make a token, or revoke one."""
        check_request_origin(req)
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        fields = await read_fields(req)
        action = fields.get("action", "")
        if action == "create":
            await self._create(req, resp, session, fields)
        elif action == "revoke":
            await self._revoke(req, resp, session.user, fields.get("token", ""))
        else:
            await self._fail(req, resp, session.user, falcon.HTTP_400, UNKNOWN_ACTION)

    async def _create(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        session: SessionRef,
        fields: dict[str, str],
    ) -> None:
        if not await self._signed_in_recently(session):
            self._ask_for_recent_sign_in(req, resp)
            return
        user = session.user
        typed = _typed_token(fields, self._max_days)
        if isinstance(typed, str):
            await self._fail(req, resp, user, falcon.HTTP_400, typed)
            return
        name, lifetime, scope = typed
        try:
            new = await self._tokens.create(user, name, scope, lifetime)
        except BadTokenInput:
            # The one input the store checks: a group the owner is not in.
            await self._fail(req, resp, user, falcon.HTTP_400, NOT_YOUR_GROUP)
            return
        except TooManyTokens:
            refused = _(TOO_MANY_TOKENS).format(count=MAX_TOKENS_PER_USER)
            await self._fail(req, resp, user, falcon.HTTP_409, refused)
            return
        except OwnerDisabled:
            await self._fail(req, resp, user, falcon.HTTP_409, OWNER_DISABLED)
            return
        info = new.info
        self._audit.record(
            "token.created",
            user=user,
            token=info.token_id,
            scope=str(info.scope),
            expires=info.expires,
            session=session.session_id,
            address=client_address(req),
        )
        self._metrics.api_tokens(TOKEN_CREATED)
        if wants_json(req):
            send_json(resp, falcon.HTTP_201, {"token": str(new.token), **_token_media(info)})
            return
        # The secret on this one page, never in a URL, never again.
        send_page(resp, falcon.HTTP_200, new_token_page(new))

    async def _revoke(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, user: str, token_id: str
    ) -> None:
        if not is_token_id(token_id) or not await self._tokens.revoke(user, token_id):
            await self._fail(req, resp, user, falcon.HTTP_404, UNKNOWN_TOKEN)
            return
        self._audit.record(
            "token.revoked",
            user=user,
            tokens=token_id,
            count=1,
            cause="owner",
            address=client_address(req),
        )
        self._metrics.api_tokens(TOKEN_REVOKED)
        if wants_json(req):
            send_json(resp, falcon.HTTP_200, {"revoked": token_id})
            return
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = TOKENS_PATH + "?done=revoked"

    async def _signed_in_recently(self, session: SessionRef) -> bool:
        # The session as Redis keeps it (a step-up moves its auth_time), not as a cookie says.
        sign_in = await self._sessions.stored_sign_in(session.user, session.session_id)
        if sign_in is None:
            return False
        return self._clock() - sign_in.auth_time <= self._recent_minutes * 60

    def _ask_for_recent_sign_in(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        # The step-up page locations use (`max_age`): password again, and a code for a user
        # who has a second factor; then back here, in the same session.
        step_up = sign_in_url(self._login_path, TOKENS_PATH, MAX_AGE)
        if wants_json(req):
            send_json(
                resp,
                falcon.HTTP_401,
                {"error": "step_up_required", "step_up": step_up, "login_url": step_up},
            )
            return
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = step_up

    async def _fail(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        user: str,
        status: str,
        error: str,
    ) -> None:
        if wants_json(req):
            send_json(resp, status, {"error": error})
            return
        await self._show(req, resp, user, status, error=error)

    async def _show(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        user: str,
        status: str,
        *,
        error: str | None = None,
        notice: str | None = None,
    ) -> None:
        tokens = await self._tokens.owned_by(user)
        if wants_json(req):
            send_json(resp, status, {"tokens": [_token_media(info) for info in tokens]})
            return
        page = tokens_page(
            tokens,
            self._recent_minutes,
            self._max_days,
            now=self._clock(),
            error=error,
            notice=notice,
        )
        send_page(resp, status, page)


def _token_media(info: TokenInfo) -> dict[str, Any]:
    return {
        "id": info.token_id,
        "name": info.name,
        "scope": str(info.scope),
        "created": info.created,
        "expires": info.expires,
        "last_used": info.last_used,
    }


def _typed_token(fields: dict[str, str], max_days: int) -> tuple[str, int, Scope] | str:
    """The name, lifetime and scope as typed; else what is wrong, in the reader's language.

    Each field is checked on its own, so the message names the one that is wrong.
    """
    try:
        name = token_name(fields.get("name", ""))
    except BadTokenInput:
        return _(BAD_NAME).format(count=MAX_NAME_LENGTH)
    try:
        lifetime = lifetime_seconds(fields.get("expires") or DEFAULT_LIFETIME, max_days)
    except BadTokenInput:
        return _(BAD_LIFETIME).format(max_days=max_days)
    terms = fields.get("scope", "").split()
    if len(terms) > MAX_TERMS:
        return _(TOO_MANY_TERMS).format(count=MAX_TERMS)
    for term in terms:
        try:
            Scope.parse([term])
        except BadTokenInput:
            return _(BAD_SCOPE_TERM).format(term=term, group=SCOPE_GROUP, path=SCOPE_PATH)
    return name, lifetime, Scope.parse(terms)
