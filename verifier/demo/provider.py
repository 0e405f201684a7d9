"""The tests' OpenID Provider for `make demo SOURCES=oidc`: panva's oidc-provider under Node.

tests/oidc_provider/provider.js (pinned by its package-lock.json, installed with `npm ci
--prefix tests/oidc_provider`) runs on a free port of 127.0.0.1 with one client, ours, whose
redirect URI is the demo's callback. Its sign-in page takes any password for an account that
exists: it is a test provider, never a real one.
"""

from __future__ import annotations

import json
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from verifier.demo.directory import toml_value
from verifier.demo.processes import LOOPBACK, ManagedProcess, ProcessStartError, free_port

PROVIDER_DIR = Path(__file__).resolve().parents[2] / "tests" / "oidc_provider"
PROVIDER_ID = "demo-op"
CLIENT_ID = "verifier-demo"
# The provider's accounts (sub -> claims); `olivia` is in a group mapped to our admins.
ACCOUNTS: dict[str, dict[str, object]] = {
    "olivia": {
        "preferred_username": "olivia",
        "name": "Olivia Owens",
        "email": "olivia@example.org",
        "email_verified": True,
        "groups": ["Provider Admins"],
    },
    "oscar": {"preferred_username": "oscar", "name": "Oscar Ortiz", "groups": []},
}
GROUP_MAP = {"Provider Admins": "admins"}
# What the welcome prints: each account's groups here, after GROUP_MAP.
DEMO_GROUPS = {"olivia": ("admins",), "oscar": ()}


def find_provider() -> str:
    """Node's path, once the provider's npm packages are installed; FileNotFoundError naming
    what is missing (one line)."""
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("SOURCES=oidc needs Node (Debian: apt-get install nodejs npm)")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        raise FileNotFoundError(
            f"SOURCES=oidc needs the provider's packages: npm ci --prefix {PROVIDER_DIR}"
        )
    return node


@dataclass
class DemoProvider:
    """One provider whose single client is the verifier at `redirect_base`."""

    workdir: Path
    redirect_base: str
    port: int = field(default_factory=free_port)
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    process: ManagedProcess | None = None

    @property
    def issuer(self) -> str:
        """http://127.0.0.1:PORT (the provider's own name for itself)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def redirect_uri(self) -> str:
        """Our callback, the one redirect URI its client is registered with."""
        return f"{self.redirect_base}/auth/oidc/{PROVIDER_ID}/callback"

    def start(self, timeout: float = 30.0) -> ManagedProcess:
        """Write its configuration, start it, wait until its discovery document answers;
        its process."""
        node = find_provider()
        self.workdir.mkdir(parents=True, exist_ok=True)
        client = {
            "client_id": CLIENT_ID,
            "client_secret": self.client_secret,
            "redirect_uris": [self.redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        }
        config = self.workdir / "provider.json"
        config.write_text(json.dumps({"clients": [client], "accounts": ACCOUNTS}), "utf-8")
        config.chmod(0o600)
        argv = [node, str(PROVIDER_DIR / "provider.js"), str(self.port), str(config)]
        process = self.process = ManagedProcess("openid-provider", argv, self.workdir)
        try:
            process.wait_until_ok(f"{self.issuer}/.well-known/openid-configuration", timeout)
        except ProcessStartError:
            process.stop()
            raise
        return process

    def sources_entry(self) -> str:
        """The `[[oidc]]` table of a sources file for this provider (its secret in a file)."""
        secret_file = self.workdir / "client-secret"
        secret_file.write_text(self.client_secret + "\n", encoding="utf-8")
        secret_file.chmod(0o600)
        values: dict[str, object] = {
            "id": PROVIDER_ID,
            "title": "Sign in with the demo provider",
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret_file": str(secret_file),
            "redirect_uri": self.redirect_uri,
            "scopes": ["openid", "profile", "email", "groups"],
            "groups_claim": "groups",
            "group_map": GROUP_MAP,
            # The provider is on plain http (127.0.0.1): a demo, never production.
            "allow_http": True,
        }
        return "[[oidc]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in values.items())
