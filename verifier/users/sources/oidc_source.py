"""An OpenID Provider users sign in at: the authorization code flow with PKCE, and the
re-check of its users at their sessions' silent refresh.

The protocol steps are plain HTTP (oidc_http); every token the provider hands back is checked
by us (oidc_tokens). The user is (issuer, `sub`): one source per issuer, so the session keeps
`sub` as its upstream id. Our name for them is the configured claim, which must fit our name
rules (verifier.upstream.mapping); an e-mail address is used as a name only when the provider
says it verified it.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from verifier.errors import VerifierError
from verifier.factors.methods import FEDERATED, MULTI_FACTOR
from verifier.upstream.config import OIDC_PATH_PREFIX, OidcSourceConfig, RecheckPolicy
from verifier.upstream.mapping import our_name
from verifier.users.sources.interface import (
    Rechecked,
    SourceUnavailable,
    UpstreamLink,
    UserGone,
    VouchedUser,
)
from verifier.users.sources.oidc_flows import Flow, StartedFlow
from verifier.users.sources.oidc_http import JsonAnswer, ProviderHttp
from verifier.users.sources.oidc_tokens import (
    JwksCache,
    TokenRefused,
    TokenRules,
    checked_id_token,
    checked_logout_token,
)

# How long a discovery document is trusted before it is read again.
METADATA_SECONDS = 3600.0
START_SUFFIX = "/start"


class SignInRefused(VerifierError):
    """The provider refused to finish the sign-in (the code, the client); `reason` says how."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"sign-in refused: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class ProviderMetadata:
    """What the discovery document says that we use (its issuer already checked)."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    end_session_endpoint: str
    # RFC 9207: the provider puts `iss` in every authorization response.
    sends_iss: bool


@dataclass(frozen=True)
class OidcSignedIn:
    """A finished sign-in: who, how (`amr`), when (`auth_time`), and the link to keep."""

    user: VouchedUser
    link: UpstreamLink
    amr: tuple[str, ...]
    auth_time: float
    # The id_token's own `auth_time`, None when it had none (a step-up needs one).
    stated_auth_time: float | None = None


@dataclass(frozen=True)
class LogoutNotice:
    """A checked logout token: which provider session or user ended, and its `jti`."""

    sub: str
    sid: str
    jti: str
    exp: float


def code_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(SHA-256(verifier)), unpadded."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcSource:
    """One `[[oidc]]` provider (see the module docstring)."""

    def __init__(
        self,
        config: OidcSourceConfig,
        clock: Callable[[], float] = time.time,
        http: ProviderHttp | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._http = http or ProviderHttp(config.name, config.timeout_seconds)
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self.keys = JwksCache(self._fetch_jwks)
        self._rules = TokenRules(
            issuer=config.issuer,
            client_id=config.client_id,
            algorithms=config.algorithms,
            skew_seconds=config.clock_skew_seconds,
            max_age_seconds=config.flow_seconds,
        )

    @property
    def name(self) -> str:
        """`oidc:ID`."""
        return self.config.name

    @property
    def title(self) -> str:
        """What the sign-in page's button says."""
        return self.config.title

    @property
    def start_path(self) -> str:
        """Where the sign-in page's button leads (this verifier's path)."""
        return f"{OIDC_PATH_PREFIX}{self.config.id}{START_SUFFIX}"

    @property
    def recheck_policy(self) -> RecheckPolicy:
        """How often a session's user is asked about again."""
        return self.config.recheck

    async def metadata(self, *, fresh: bool = False) -> ProviderMetadata:
        """The provider's endpoints (discovery, cached; `fresh`: read now, which also tells
        whether the provider answers at all); raise SourceUnavailable."""
        now = self._clock()
        cached = self._metadata is not None and now - self._metadata_at < METADATA_SECONDS
        if cached and not fresh and self._metadata is not None:
            return self._metadata
        url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        answer = await self._http.get(url)
        if answer.status != 200:
            raise SourceUnavailable(self.name, f"discovery answered {answer.status}")
        self._metadata = self._read_metadata(answer.body)
        self._metadata_at = now
        return self._metadata

    def _read_metadata(self, body: Mapping[str, Any]) -> ProviderMetadata:
        # OpenID Connect Discovery 4.3: the document's issuer is exactly the one configured,
        # or nothing it says is believed.
        if body.get("issuer") != self.config.issuer:
            raise SourceUnavailable(
                self.name, f"discovery names another issuer: {str(body.get('issuer'))[:100]!r}"
            )

        def endpoint(key: str, required: bool = True) -> str:
            value = body.get(key)
            if value is None and not required:
                return ""
            schemes = {"https", "http"} if self.config.allow_http else {"https"}
            if not isinstance(value, str) or urlsplit(value).scheme not in schemes:
                raise SourceUnavailable(self.name, f"discovery has no usable {key}")
            return value

        return ProviderMetadata(
            authorization_endpoint=endpoint("authorization_endpoint"),
            token_endpoint=endpoint("token_endpoint"),
            jwks_uri=endpoint("jwks_uri"),
            userinfo_endpoint=endpoint("userinfo_endpoint", required=False),
            end_session_endpoint=endpoint("end_session_endpoint", required=False),
            sends_iss=body.get("authorization_response_iss_parameter_supported") is True,
        )

    async def _fetch_jwks(self) -> Mapping[str, Any]:
        answer = await self._http.get((await self.metadata()).jwks_uri)
        if answer.status != 200:
            raise SourceUnavailable(self.name, f"the JWKS answered {answer.status}")
        return answer.body

    async def authorization_url(self, flow: StartedFlow, *, again: bool = False) -> str:
        """Where the browser goes to sign in at the provider (code flow, PKCE S256).

        `again`: a step-up: the provider must sign the user in now, whatever session it
        has (`prompt=login`, `max_age=0`: OpenID Connect Core 3.1.2.1); the id_token's
        `auth_time` then says whether it did.
        """
        metadata = await self.metadata()
        query = {
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": code_challenge(flow.code_verifier),
            "code_challenge_method": "S256",
        }
        if again:
            query.update({"prompt": "login", "max_age": "0"})
        separator = "&" if urlsplit(metadata.authorization_endpoint).query else "?"
        return metadata.authorization_endpoint + separator + urlencode(query)

    async def finish(self, code: str, flow: Flow, iss: str | None) -> OidcSignedIn:
        """Redeem the code and check what comes back; raise SignInRefused, TokenRefused,
        NameRefused or SourceUnavailable."""
        metadata = await self.metadata()
        # RFC 9207: a response naming another issuer is a mix-up attack; one without it from
        # a provider that always sends it was not made by that provider.
        if iss is not None and iss != self.config.issuer:
            raise SignInRefused("iss")
        if iss is None and metadata.sends_iss:
            raise SignInRefused("iss_missing")
        answer = await self._token_request(
            metadata,
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.config.redirect_uri,
                "code_verifier": flow.code_verifier,
            },
        )
        if answer.status != 200:
            raise SignInRefused(_oauth_error(answer))
        raw_id_token = answer.body.get("id_token")
        if not isinstance(raw_id_token, str):
            raise TokenRefused("no_id_token")
        now = self._clock()
        claims = await checked_id_token(raw_id_token, self._rules, self.keys, flow.nonce, now)
        user = self._vouched(claims)
        link = UpstreamLink(
            source=self.name,
            upstream_id=user.upstream_id,
            checked_at=now,
            upstream_sid=_text(claims.get("sid")),
            refresh_token=_text(answer.body.get("refresh_token")),
            access_token=_text(answer.body.get("access_token")),
            id_token=raw_id_token,
        )
        auth_time = claims.get("auth_time")
        when = float(auth_time) if isinstance(auth_time, int) and auth_time <= now else now
        stated = float(auth_time) if isinstance(auth_time, int) else None
        return OidcSignedIn(
            user=user, link=link, amr=self._amr(claims), auth_time=when, stated_auth_time=stated
        )

    def _vouched(self, claims: Mapping[str, Any]) -> VouchedUser:
        claim = self.config.name_claim
        raw = claims.get(claim)
        if not isinstance(raw, str) or not raw:
            raise TokenRefused(f"no_{claim}")
        if claim == "email" and claims.get("email_verified") is not True:
            # An unverified address is anybody's: never a name here.
            raise TokenRefused("email_verified")
        groups_claim = self.config.groups_claim
        upstream_groups = claims.get(groups_claim, []) if groups_claim else []
        if not isinstance(upstream_groups, list):
            upstream_groups = []
        mapped = self.config.groups.ours(g for g in upstream_groups if isinstance(g, str))
        return VouchedUser(
            source=self.name,
            name=our_name(self.name, raw),
            upstream_id=str(claims["sub"]),
            groups=mapped.groups,
            dropped_groups=mapped.dropped,
        )

    def _amr(self, claims: Mapping[str, Any]) -> tuple[str, ...]:
        amr = claims.get("amr")
        said = (
            {value for value in amr if isinstance(value, str)} if isinstance(amr, list) else set()
        )
        acr = claims.get("acr")
        trusted = bool(said & self.config.trusted_amr) or (
            isinstance(acr, str) and acr in self.config.trusted_acr
        )
        return (FEDERATED, MULTI_FACTOR) if trusted else (FEDERATED,)

    async def recheck(self, link: UpstreamLink, now: float) -> Rechecked:
        """Ask the provider about the user again: a refresh grant (or userinfo without a
        refresh token). Raise UserGone when it no longer vouches, SourceUnavailable."""
        metadata = await self.metadata()
        refresh_token, access_token, id_token = link.refresh_token, link.access_token, link.id_token
        claims: dict[str, Any] | None = None
        if refresh_token:
            answer = await self._token_request(
                metadata, {"grant_type": "refresh_token", "refresh_token": refresh_token}
            )
            if answer.status == 400 and answer.body.get("error") == "invalid_grant":
                raise UserGone(self.name, "the provider no longer accepts the session's grant")
            if answer.status != 200:
                raise SourceUnavailable(self.name, f"refresh answered {_oauth_error(answer)}")
            refresh_token = _text(answer.body.get("refresh_token")) or refresh_token
            access_token = _text(answer.body.get("access_token")) or access_token
            fresh = answer.body.get("id_token")
            if isinstance(fresh, str):
                try:
                    claims = await checked_id_token(fresh, self._rules, self.keys, None, now)
                except TokenRefused as refused:
                    raise SourceUnavailable(
                        self.name, f"refreshed id_token: {refused.reason}"
                    ) from None
                id_token = fresh
        if claims is None:
            claims = await self._userinfo(metadata, access_token)
        if claims.get("sub") != link.upstream_id:
            raise UserGone(self.name, "the provider answered for another subject")
        groups = self._vouched(claims).groups if self.config.groups_claim else ()
        return Rechecked(
            groups=groups,
            link=UpstreamLink(
                source=self.name,
                upstream_id=link.upstream_id,
                checked_at=now,
                upstream_sid=link.upstream_sid,
                refresh_token=refresh_token,
                access_token=access_token,
                id_token=id_token,
            ),
        )

    async def _userinfo(self, metadata: ProviderMetadata, access_token: str) -> dict[str, Any]:
        if not metadata.userinfo_endpoint or not access_token:
            raise SourceUnavailable(self.name, "no refresh token and no userinfo to ask")
        answer = await self._http.get(metadata.userinfo_endpoint, bearer=access_token)
        if answer.status == 401:
            raise UserGone(self.name, "the provider no longer accepts the session's token")
        if answer.status != 200:
            raise SourceUnavailable(self.name, f"userinfo answered {answer.status}")
        return dict(answer.body)

    async def logout_notice(self, raw: str) -> LogoutNotice:
        """A back-channel logout token, checked; raise TokenRefused or SourceUnavailable."""
        await self.metadata()
        claims = await checked_logout_token(raw, self._rules, self.keys, self._clock())
        return LogoutNotice(
            sub=_text(claims.get("sub")),
            sid=_text(claims.get("sid")),
            jti=str(claims["jti"]),
            exp=float(claims["exp"]),
        )

    async def _token_request(
        self, metadata: ProviderMetadata, fields: dict[str, str]
    ) -> JsonAnswer:
        method = self.config.token_auth_method
        basic = None
        if method == "client_secret_basic":
            basic = (self.config.client_id, self.config.client_secret)
        else:
            fields = {**fields, "client_id": self.config.client_id}
            if method == "client_secret_post":
                fields["client_secret"] = self.config.client_secret
        return await self._http.post_form(metadata.token_endpoint, fields, basic)

    def close(self) -> None:
        """Nothing held open (each call is its own connection)."""


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _oauth_error(answer: JsonAnswer) -> str:
    error = answer.body.get("error")
    shown = error if isinstance(error, str) and error.isprintable() else "no error code"
    return f"{answer.status} {shown[:64]}"
