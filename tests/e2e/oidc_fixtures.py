"""A real OpenID Provider for the e2e tests, and a stack whose users may sign in at it.

The provider is panva's certified `oidc-provider` (tests/oidc_provider: pinned by its
package-lock.json, installed with `npm ci`), run by Node on a free 127.0.0.1 port in a temp
dir and stopped by its PID. Its login and consent pages are plain forms: `sign_in_at_provider`
posts them with the test's HTTP client, as a browser would, no browser needed. Its /test/
routes (tests/oidc_provider/provider.js) delete an account, make its next id_token hostile,
or send a back-channel logout token now.

A missing Node or npm install fails the test with one line naming it (tests.parts).
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from conftest import RedisServer, Stack
from upstream_fixtures import stack_with_sources

from tests.parts import OIDC_PROVIDER_DIR, require
from verifier.demo import processes
from verifier.demo.processes import ManagedProcess, ProcessStartError

CLIENT_ID = "verifier-e2e"
CLIENT_SECRET = "e2e-client-secret-0123456789abcdef"
PROVIDER_ID = "op"
# How often a test's own OpenID stack re-checks a session's user at the provider (the
# shared one keeps the default, so its access tokens outlive a test: a session that ends
# did so by a revocation, never by expiry).
OIDC_RECHECK_SECONDS = 2
# The provider's accounts: sub -> claims. `jurgen` presents a name we refuse; `taken`
# presents a name a local user holds.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "sub-olivia": {
        "preferred_username": "olivia",
        "email": "olivia@example.org",
        "email_verified": True,
        "groups": ["Staff", "Provider Admins"],
    },
    "sub-oscar": {"preferred_username": "oscar", "groups": []},
    "sub-otto": {"preferred_username": "otto", "groups": []},
    "sub-ophelia": {"preferred_username": "ophelia", "groups": []},
    "sub-jurgen": {"preferred_username": "jürgen"},
    "sub-taken": {"preferred_username": "oidc-local-owner"},
    # In a group that requires a second factor here (VERIFIER_MFA_REQUIRED_GROUPS).
    "sub-strong": {"preferred_username": "strong", "groups": ["Needs MFA"]},
    "sub-weak": {"preferred_username": "weak", "groups": ["Needs MFA"]},
}
# The second provider's: `olivia` again (a name oidc:op holds), and its own `pia`.
SECOND_ID = "op2"
SECOND_ACCOUNTS: dict[str, dict[str, Any]] = {
    "sub-olivia-2": {"preferred_username": "olivia"},
    "sub-pia": {"preferred_username": "pia"},
}


@dataclass
class OpenIdProvider:
    """The running provider: its issuer, and the tests' levers."""

    issuer: str
    process: ManagedProcess
    workdir: Path

    def post(self, path: str, **params: str) -> None:
        """POST one of the provider's /test/ routes (fails the test unless 204)."""
        answer = requests.post(f"{self.issuer}{path}", params=params, timeout=10)
        assert answer.status_code == 204, f"{path}: {answer.status_code} {answer.text[:200]}"

    def tamper_next_id_token(self, mode: str) -> None:
        """The next token response's id_token is rewritten (see provider.js)."""
        self.post("/test/tamper", mode=mode)

    def delete_account(self, sub: str) -> None:
        """The account is gone at the provider."""
        self.post(f"/test/accounts/{sub}/delete")

    def send_backchannel_logout(self, sub: str, sid: str = "") -> None:
        """The provider posts a logout token for (sub, sid) to the verifier now (a client
        registered without backchannel_logout_session_required sends no sid)."""
        self.post("/test/backchannel", client_id=CLIENT_ID, sub=sub, sid=sid)

    def logout_tokens(self) -> list[str]:
        """Every logout token the provider sent so far."""
        answer = requests.get(f"{self.issuer}/test/logout-tokens", timeout=10)
        tokens: list[str] = answer.json()
        return tokens

    def stop(self) -> None:
        """Stop it (by PID): the provider is down."""
        self.process.stop()


def start_provider(
    redirect_base: str,
    label: str = "op",
    provider_id: str = PROVIDER_ID,
    accounts: dict[str, dict[str, Any]] | None = None,
    *,
    sid_required: bool = True,
) -> OpenIdProvider:
    """A provider with our test client (its callback and back-channel under redirect_base)."""
    require("openid-provider")
    workdir = Path(tempfile.mkdtemp(prefix=f"verifier-e2e-{label}-"))
    port = processes.free_port()
    prefix = f"{redirect_base}/auth/oidc/{provider_id}"
    config = {
        "clients": [
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [f"{prefix}/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "backchannel_logout_uri": f"{prefix}/backchannel-logout",
                "backchannel_logout_session_required": sid_required,
            }
        ],
        "accounts": ACCOUNTS if accounts is None else accounts,
    }
    config_path = workdir / "provider.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    node = require("openid-provider")
    process = ManagedProcess(
        "openid-provider",
        [node, str(OIDC_PROVIDER_DIR / "provider.js"), str(port), str(config_path)],
        workdir,
    )
    issuer = f"http://{processes.LOOPBACK}:{port}"
    try:
        process.wait_until_ok(f"{issuer}/.well-known/openid-configuration", timeout=30)
    except ProcessStartError as error:
        process.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(f"the OpenID Provider did not start: {error}", pytrace=False)
    return OpenIdProvider(issuer=issuer, process=process, workdir=workdir)


def sources_entry(
    issuer: str, redirect_base: str, secret_file: Path, provider_id: str = PROVIDER_ID, **extra: Any
) -> str:
    """The [[oidc]] table of a test provider."""
    values: dict[str, Any] = {
        "id": provider_id,
        "title": f"Sign in with the test provider {provider_id}",
        "issuer": issuer,
        "client_id": CLIENT_ID,
        "client_secret_file": str(secret_file),
        "redirect_uri": f"{redirect_base}/auth/oidc/{provider_id}/callback",
        "scopes": ["openid", "profile", "email", "groups"],
        "groups_claim": "groups",
        "group_map": {"Staff": "staff", "Needs MFA": "mfa-enforced"},
        # The provider's passkey sign-in counts as two factors here.
        "trusted_amr": ["hwk"],
        "group_prefix": "op-",
        "backchannel_logout": True,
        "allow_http": True,
        "timeout_seconds": 3,
        **extra,
    }
    lines = ["[[oidc]]"] + [f"{key} = {_toml(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


@dataclass
class OidcWorld:
    """A provider (and with `second`, another one) and a stack whose sources file names them."""

    provider: OpenIdProvider
    stack: Stack
    second: OpenIdProvider | None = None


@contextlib.contextmanager
def oidc_world(
    redis_server: RedisServer, label: str = "oidc", *, second: bool = False, **extra: Any
) -> Iterator[OidcWorld]:
    """Start the provider(s), then a stack on the port their clients were registered with."""
    listen_port = processes.free_port()
    base = f"http://{processes.LOOPBACK}:{listen_port}"
    with contextlib.ExitStack() as exits:
        provider = _started(exits, start_provider(base, label=f"{label}-op"))
        other = None
        if second:
            # Registered without backchannel_logout_session_required: its logout tokens
            # name the user (sub) alone.
            other = _started(
                exits,
                start_provider(
                    base, f"{label}-op2", SECOND_ID, SECOND_ACCOUNTS, sid_required=False
                ),
            )
        secret_file = provider.workdir / "client-secret"
        secret_file.write_text(CLIENT_SECRET + "\n", encoding="utf-8")
        sources = sources_entry(provider.issuer, base, secret_file, **extra)
        if other is not None:
            sources += "\n" + sources_entry(other.issuer, base, secret_file, SECOND_ID, **extra)
        with stack_with_sources(
            redis_server, sources, label=label, listen_port=listen_port
        ) as stack:
            yield OidcWorld(provider, stack, other)


def _started(exits: contextlib.ExitStack, provider: OpenIdProvider) -> OpenIdProvider:
    def stop() -> None:
        provider.stop()
        shutil.rmtree(provider.workdir, ignore_errors=True)

    exits.callback(stop)
    return provider


@pytest.fixture(scope="session")
def oidc(redis_server: RedisServer) -> Iterator[OidcWorld]:
    """Two providers and a stack for the session: tests use accounts no other test changes."""
    with oidc_world(redis_server, second=True) as world:
        yield world


@pytest.fixture
def own_oidc(redis_server: RedisServer) -> Iterator[OidcWorld]:
    """A provider and stack for one test alone (to stop the provider, delete accounts)."""
    with oidc_world(
        redis_server, label="oidc-own", refresh_interval_seconds=OIDC_RECHECK_SECONDS
    ) as world:
        yield world


_FORM = re.compile(r'<form[^>]*action="([^"]+)"', re.IGNORECASE)
_HIDDEN = re.compile(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', re.I)


def sign_in_at_provider(
    client: requests.Session,
    stack: Stack,
    sub: str,
    next_path: str = "/",
    provider_id: str = PROVIDER_ID,
    **start_params: str,
) -> requests.Response:
    """Start at the verifier's button, sign in and consent at the provider, and stop just
    before the browser would follow the provider's redirect to our callback: return that
    redirect (its Location is the callback URL with code, state and iss). `start_params`:
    more of the start path's query (`step_up="max_age"`)."""
    start = client.get(
        f"{stack.base_url}/auth/oidc/{provider_id}/start",
        params={"next": next_path, **start_params},
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 303, start.text[:300]
    location = start.headers["Location"]
    for _ in range(8):
        answer = client.get(location, allow_redirects=False, timeout=10)
        if answer.status_code == 200:
            answer = _post_interaction(client, answer, sub)
        assert answer.status_code in {302, 303}, (answer.status_code, answer.text[:300])
        location = urljoin(answer.url, answer.headers["Location"])
        if urlsplit(location).path == f"/auth/oidc/{provider_id}/callback":
            return answer
    raise AssertionError("the provider never sent the browser back")


def _post_interaction(
    client: requests.Session, page: requests.Response, sub: str
) -> requests.Response:
    # devInteractions: a login form (login + password) or a consent form (hidden prompt).
    action = _FORM.search(page.text)
    assert action is not None, page.text[:500]
    fields = dict(_HIDDEN.findall(page.text))
    if 'name="login"' in page.text:
        fields.update({"login": sub, "password": "any"})
    return client.post(
        urljoin(page.url, action.group(1)), data=fields, allow_redirects=False, timeout=10
    )


def callback_url(redirect: requests.Response) -> str:
    """The callback URL a provider's redirect names."""
    return urljoin(redirect.url, redirect.headers["Location"])


def callback_params(redirect: requests.Response) -> dict[str, str]:
    """code, state and iss of a provider's redirect to our callback."""
    query = parse_qs(urlsplit(callback_url(redirect)).query)
    return {key: values[0] for key, values in query.items()}


def sign_in(
    client: requests.Session,
    stack: Stack,
    sub: str,
    next_path: str = "/",
    provider_id: str = PROVIDER_ID,
) -> requests.Response:
    """A whole sign-in through the provider: the verifier's answer to the callback."""
    redirect = sign_in_at_provider(client, stack, sub, next_path, provider_id)
    return client.get(callback_url(redirect), allow_redirects=False, timeout=10)
