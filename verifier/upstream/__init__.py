"""Where users come from besides the verifier's own store: the sources file and its rules.

The file (VERIFIER_SOURCES_FILE, TOML) names each LDAP / Active Directory source and each
OpenID Provider, checked once at start-up like the rules file (verifier.upstream.config);
the names and groups an upstream presents are turned into ours by verifier.upstream.mapping.
The sources themselves (connections, protocol steps) are verifier.users.sources.
"""

from verifier.upstream.config import (
    NO_SOURCES,
    LdapSourceConfig,
    OidcSourceConfig,
    RecheckPolicy,
    SourcesConfig,
    load_sources,
    parse_sources,
)
from verifier.upstream.mapping import GroupMapping, NameRefused, our_name

__all__ = [
    "NO_SOURCES",
    "GroupMapping",
    "LdapSourceConfig",
    "NameRefused",
    "OidcSourceConfig",
    "RecheckPolicy",
    "SourcesConfig",
    "load_sources",
    "our_name",
    "parse_sources",
]
