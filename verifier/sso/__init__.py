"""Single sign-on: a portal where every sign-in happens, and a one-time hand-off that gives
each app host a session of its own (no cookie ever carries Domain; every cookie keeps
__Host-). `config` parses the portal and its hosts; `handoff` keeps the hand-off's records.
"""

from verifier.sso.config import (
    AUTHORIZE_PATH,
    CALLBACK_PATH,
    HostList,
    PortalUrl,
    SsoConfig,
    host_name_problem,
    parse_host_list,
    parse_portal_url,
)

__all__ = [
    "AUTHORIZE_PATH",
    "CALLBACK_PATH",
    "HostList",
    "PortalUrl",
    "SsoConfig",
    "host_name_problem",
    "parse_host_list",
    "parse_portal_url",
]
