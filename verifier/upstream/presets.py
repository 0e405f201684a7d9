"""Starting points for an LDAP source: Active Directory and OpenLDAP (RFC 2307bis).

Every value here can be overridden in the sources file, key by key. Filters are templates:
`{username}` is the name typed at sign-in and `{dn}` a user's DN, both escaped (RFC 4515)
before they are put in; `{now_filetime}` is the current time as Active Directory counts it
(100 ns ticks since 1601-01-01, UTC), for `accountExpires`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

ACTIVE_DIRECTORY = "active_directory"
OPENLDAP = "openldap"

# Group lookups: read the user's memberOf, or search the groups with a filter.
MEMBER_OF = "member_of"
SEARCH = "search"
GROUP_LOOKUPS = (MEMBER_OF, SEARCH)

# Password changes through the directory: RFC 3062's Password Modify extended operation,
# Active Directory's unicodePwd (delete the old value, add the new, in one modify), or none.
PASSWORD_MODIFY = "rfc3062"  # noqa: S105 (a method name, not a password)
AD_UNICODEPWD = "ad_unicodepwd"
NO_PASSWORD_CHANGE = "off"  # noqa: S105 (a method name)
PASSWORD_CHANGES = (PASSWORD_MODIFY, AD_UNICODEPWD, NO_PASSWORD_CHANGE)

# Active Directory (learn.microsoft.com: "Active Directory Schema", "How to query Active
# Directory by using a bitwise filter", "LDAP_MATCHING_RULE_IN_CHAIN"):
# - sAMAccountName is the pre-Windows 2000 logon name: 1-20 characters, unique in the domain;
# - userAccountControl bit 2 (ACCOUNTDISABLE) marks a disabled account, tested with the
#   bitwise AND rule 1.2.840.113556.1.4.803;
# - accountExpires is 0 or 0x7FFFFFFFFFFFFFFF for "never", else the moment it expires;
# - objectGUID is the immutable id (16 bytes; the name and even the DN can change);
# - 1.2.840.113556.1.4.1941 (in-chain) walks nested groups on the server, in one search;
# - a password is changed with a modify of unicodePwd, over an encrypted connection only.
_ACTIVE_DIRECTORY: Mapping[str, object] = MappingProxyType(
    {
        "user_filter": "(&(objectCategory=person)(objectClass=user)(sAMAccountName={username}))",
        "active_filter": (
            "(&(!(userAccountControl:1.2.840.113556.1.4.803:=2))"
            "(|(accountExpires=0)(accountExpires=9223372036854775807)"
            "(accountExpires>={now_filetime})))"
        ),
        "name_attribute": "sAMAccountName",
        "id_attribute": "objectGUID",
        "id_binary": True,
        "groups": SEARCH,
        "groups_filter": "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:={dn}))",
        "member_of_attribute": "memberOf",
        "group_dn_attribute": "distinguishedName",
        "group_name_attribute": "cn",
        "password_change": AD_UNICODEPWD,
    }
)

# OpenLDAP with inetOrgPerson users and groupOfNames groups (RFC 2307bis): the immutable id is
# entryUUID (RFC 4530); memberOf comes from the memberof or dynlist overlay, which slapd 2.5's
# dynlist computes through nested groups too (it returns the DNs in lower case: names are read
# from the group entries); an account locked by the ppolicy overlay (pwdAccountLockedTime,
# e.g. 000001010000Z for "locked by an administrator") counts as disabled.
_OPENLDAP: Mapping[str, object] = MappingProxyType(
    {
        "user_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
        "active_filter": "(!(pwdAccountLockedTime=*))",
        "name_attribute": "uid",
        "id_attribute": "entryUUID",
        "id_binary": False,
        "groups": MEMBER_OF,
        "groups_filter": "(objectClass=groupOfNames)",
        "member_of_attribute": "memberOf",
        "group_dn_attribute": "entryDN",
        "group_name_attribute": "cn",
        "password_change": PASSWORD_MODIFY,
    }
)

PRESETS: Mapping[str, Mapping[str, object]] = MappingProxyType(
    {ACTIVE_DIRECTORY: _ACTIVE_DIRECTORY, OPENLDAP: _OPENLDAP}
)
