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
from verifier.apitokens.inputs import DEFAULT_LIFETIME
from verifier.apitokens.store import OwnerDisabled, TooManyTokens
from verifier.gate import SessionRef
from verifier.observe.audit import AuditLog
from verifier.observe.metrics import TOKEN_CREATED, TOKEN_REVOKED, Metrics
from verifier.pages.tokens import TOKENS_PATH, new_token_page, tokens_page
from verifier.resources.account_session import AccountSession
from verifier.resources.body import read_fields, wants_json
from verifier.resources.login import client_address
from verifier.resources.page_answers import send_json, send_page
from verifier.resources.unauthorized import sign_in_url
from verifier.sessions.store import SessionStore
from verifier.web.csrf import check_request_origin

UNKNOWN_TOKEN = "No such token (it may have expired or been revoked already)."  # noqa: S105
UNKNOWN_ACTION = "Unknown action."
REVOKED = "The token is revoked."
NEEDS_RECENT_SIGN_IN = "Making a token needs a recent sign-in."

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
        try:
            name = token_name(fields.get("name", ""))
            lifetime = lifetime_seconds(fields.get("expires") or DEFAULT_LIFETIME, self._max_days)
            scope = Scope.parse([fields.get("scope", "")])
            new = await self._tokens.create(user, name, scope, lifetime)
        except BadTokenInput as bad:
            await self._fail(req, resp, user, falcon.HTTP_400, _sentence(str(bad)))
            return
        except (TooManyTokens, OwnerDisabled) as refused:
            await self._fail(req, resp, user, falcon.HTTP_409, _sentence(str(refused)))
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
        page = tokens_page(tokens, self._recent_minutes, self._max_days, error=error, notice=notice)
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


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
