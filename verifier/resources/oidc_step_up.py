"""`max_age` step-up for a user of an OpenID Provider: the provider signs them in again.

Such a user has no password here, so the step-up page cannot ask for one: it sends them to
their provider's start path with `step_up=max_age`, which asks the provider for a new sign-in
(`prompt=login`, `max_age=0`); the callback then strengthens the SAME session, once the
id_token names the same user and its `auth_time` falls within the flow
(verifier.resources.oidc_signin).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import falcon.asgi

from verifier.access.conditions import MAX_AGE
from verifier.gate import SessionRef
from verifier.resources.account_session import AccountSession
from verifier.sessions.store import SessionStore


@dataclass(frozen=True)
class UpstreamSession:
    """A live session and the provider user it was signed in as."""

    ref: SessionRef
    upstream_id: str

    @property
    def session_id(self) -> str:
        """The session's id."""
        return self.ref.session_id


class OidcStepUps:
    """Which live sessions came from which provider, and where their step-up starts."""

    def __init__(
        self,
        account: AccountSession,
        sessions: SessionStore,
        start_paths: Mapping[str, str],
    ) -> None:
        self._account = account
        self._sessions = sessions
        # source name (`oidc:ID`) -> its start path.
        self._start_paths = dict(start_paths)

    async def session_of(self, req: falcon.asgi.Request, source: str) -> UpstreamSession | None:
        """The caller's live session if it was signed in through `source`, else None."""
        session = await self._account.signed_in(req)
        if session is None:
            return None
        link = await self._sessions.upstream_link(session.user, session.session_id)
        if link is None or link.source != source:
            return None
        return UpstreamSession(session, link.upstream_id)

    async def start_url(self, session: SessionRef, next_path: str) -> str | None:
        """Where a `max_age` step-up of this session starts, if it came from a provider."""
        if not self._start_paths:
            return None
        link = await self._sessions.upstream_link(session.user, session.session_id)
        if link is None or link.source not in self._start_paths:
            return None
        query = urlencode({"step_up": MAX_AGE, "next": next_path})
        return f"{self._start_paths[link.source]}?{query}"
