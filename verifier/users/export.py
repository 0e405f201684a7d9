"""The user export document: what `verifier users export` writes and `users import` reads.

A JSON object, version 1:

    {"format": "verifier-users", "version": 1, "exported_at": 1764581000,
     "contains": "password hashes (argon2id or imported legacy): treat this file as a secret",
     "users": [{"name": "alice", "groups": ["admins"], "created": 1764500000,
                "password_hash": "$argon2id$v=19$..."}]}

A disabled account says so (`"disabled": true`; absent for every other), and a service
account's `password_hash` is the marker `!service`, which matches no password.

Only what recreates the accounts: no sessions, no API tokens, no login-throttle counters,
no keys. The
password hashes are the one secret in it, and `contains` says so to whoever opens the file.
Reading checks the whole document and reports every problem at once; a problem never quotes
a hash.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from verifier.errors import VerifierError
from verifier.private_files import write_private_file
from verifier.store.keyspace import USER_NAME_RULE, normalize_user_name
from verifier.users.store import (
    MAX_GROUPS_LENGTH,
    UserRecord,
    normalize_group_name,
    password_scheme,
)

FORMAT = "verifier-users"
FORMAT_VERSION = 1
CONTAINS = "password hashes (argon2id or imported legacy): treat this file as a secret"
_TOP_FIELDS = {"format", "version", "exported_at", "contains", "users"}
_USER_FIELDS = {"name", "groups", "created", "password_hash"}
# Present only when it says something, so exports of ordinary accounts stay as they were.
_OPTIONAL_USER_FIELDS = {"disabled"}
# The hashes are secrets: owner only, whatever the umask.
EXPORT_FILE_MODE = 0o600


class ExportRefused(VerifierError):
    """A document that cannot be imported; `problems` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


def render_document(records: Sequence[UserRecord], exported_at: int) -> str:
    """The export document for these users, as indented JSON text ending in a newline."""
    document = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "exported_at": exported_at,
        "contains": CONTAINS,
        "users": [
            {
                "name": record.name,
                "groups": list(record.groups),
                "created": record.created,
                "password_hash": record.password_hash,
                **({"disabled": True} if record.disabled else {}),
            }
            for record in records
        ],
    }
    return json.dumps(document, indent=2) + "\n"


def write_export_file(path: Path, text: str) -> None:
    """Write the document to `path` (mode 0600) atomically: a temp file, fsynced, renamed."""
    write_private_file(path, text.encode("utf-8"), EXPORT_FILE_MODE)


def parse_document(data: bytes) -> list[UserRecord]:
    """The users of an export document; raise ExportRefused listing every problem."""
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ExportRefused([f"not a JSON document ({error})"]) from None
    if not isinstance(document, dict):
        raise ExportRefused(["not a users export (the document is not a JSON object)"])
    problems = _header_problems(document)
    users = document.get("users")
    if not isinstance(users, list):
        problems.append('"users" must be a list')
        raise ExportRefused(problems)
    records: list[UserRecord] = []
    seen: set[str] = set()
    for number, entry in enumerate(users, start=1):
        name, record, entry_problems = _parse_user(entry)
        if name is not None:
            if name in seen:
                entry_problems.append("appears more than once")
            seen.add(name)
        label = f"user {number}" + (f" ({name})" if name is not None else "")
        problems += [f"{label}: {problem}" for problem in entry_problems]
        if record is not None and not entry_problems:
            records.append(record)
    if problems:
        raise ExportRefused(problems)
    return records


def _header_problems(document: dict[str, Any]) -> list[str]:
    problems = []
    if document.get("format") != FORMAT:
        problems.append(f'"format" must be "{FORMAT}" (is this a users export?)')
    version = document.get("version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        problems.append(
            f"version {version!r} is not supported (this verifier reads version {FORMAT_VERSION})"
        )
    if not _is_seconds(document.get("exported_at")):
        problems.append('"exported_at" must be unix seconds')
    unknown = sorted(set(document) - _TOP_FIELDS)
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    return problems


def _parse_user(entry: object) -> tuple[str | None, UserRecord | None, list[str]]:
    """One user entry's name (if valid), its record (if all is valid) and its problems."""
    if not isinstance(entry, dict):
        return None, None, ["must be an object"]
    problems = []
    unknown = sorted(set(entry) - _USER_FIELDS - _OPTIONAL_USER_FIELDS)
    if unknown:
        problems.append(f"unknown field(s) {', '.join(unknown)}")
    missing = sorted(_USER_FIELDS - set(entry))
    if missing:
        problems.append(f"missing field(s) {', '.join(missing)}")
    raw_name = entry.get("name")
    name = normalize_user_name(raw_name) if isinstance(raw_name, str) else None
    if "name" in entry and (name is None or name != raw_name):
        # Exports hold canonical names only: a folded one could merge two accounts.
        problems.append(f"bad name {raw_name!r}: user names are {USER_NAME_RULE}")
        name = None
    groups = _groups(entry.get("groups", []), problems)
    created = entry.get("created", 0)
    if not _is_seconds(created):
        problems.append('"created" must be unix seconds')
    password_hash = entry.get("password_hash", "")
    if "password_hash" in entry and (
        not isinstance(password_hash, str) or password_scheme(password_hash) is None
    ):
        problems.append(
            "password_hash is of an unknown or refused scheme (argon2id no costlier than "
            "the verifier's own, bcrypt cost 4-12, apr1 or {SHA})"
        )
    disabled = entry.get("disabled", False)
    if not isinstance(disabled, bool):
        problems.append('"disabled" must be true or false')
    if name is None or problems:
        return name, None, problems
    record = UserRecord(name, groups, int(created), str(password_hash), disabled=bool(disabled))
    return name, record, problems


def _groups(raw: object, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(group, str) for group in raw):
        problems.append('"groups" must be a list of group names')
        return ()
    bad = [group for group in raw if normalize_group_name(group) != group]
    if bad:
        shown = ", ".join(repr(group) for group in bad)
        problems.append(f"bad group name {shown}: group names are {USER_NAME_RULE}")
        return ()
    groups = tuple(sorted(set(raw)))
    if len(",".join(groups)) > MAX_GROUPS_LENGTH:
        problems.append(f"groups longer than {MAX_GROUPS_LENGTH} characters in all")
    return groups


def _is_seconds(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
