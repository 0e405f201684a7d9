"""The single sign-on demo's hosts (`make demo SSO=1`), shared with its tests.

A portal and three app hosts on two root domains, all under `localhost`: browsers resolve
every *.localhost name to 127.0.0.1 and treat plain http there as a secure context (Secure
and __Host- cookies included), so the demo runs exactly as production would on https.
"""

from __future__ import annotations

from verifier.demo.processes import NGINX_DIR

PORTAL_HOST = "auth.corp.localhost"
APP_HOSTS = ("wiki.corp.localhost", "grafana.corp.localhost", "app.org2.localhost")
# A sibling of the portal and wiki under corp.localhost that is not ours: its server
# answers with cookies for the whole parent domain (nginx/sso-demo.conf.template).
HOSTILE_SIBLING = "evil.corp.localhost"
SSO_TEMPLATE = NGINX_DIR / "sso-demo.conf.template"


def sso_settings(port: int) -> dict[str, str]:
    """The VERIFIER_* settings of the portal and its hosts, nginx listening on `port`."""
    portal = f"http://{PORTAL_HOST}:{port}"
    return {
        "VERIFIER_SSO_PORTAL_URL": portal,
        "VERIFIER_SSO_HOSTS": " ".join(APP_HOSTS),
        # Every cookie keeps __Host-: Secure cookies work on http://*.localhost.
        "VERIFIER_COOKIE_SECURE": "true",
        # Passkeys live on the portal, like every other way to sign in.
        "VERIFIER_WEBAUTHN_RP_ID": PORTAL_HOST,
        "VERIFIER_WEBAUTHN_ORIGINS": portal,
    }
