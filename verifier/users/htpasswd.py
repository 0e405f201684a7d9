"""Strict reading of htpasswd files (nginx `auth_basic_user_file`) for `users import-htpasswd`.

One `name:hash` per line (nginx allows a third `:comment` field, which is ignored); blank
lines and `#` comments are skipped. Every line is checked before anything is imported, and
one bad line refuses the whole file, with every problem listed by line number. Messages
never quote a hash: a plaintext line would otherwise print its password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verifier.errors import VerifierError
from verifier.store.keyspace import USER_NAME_RULE, normalize_user_name
from verifier.users.legacy_hashes import (
    MAX_BCRYPT_COST,
    MIN_BCRYPT_COST,
    LegacyScheme,
    bcrypt_cost,
    legacy_scheme,
)

# Schemes nginx or htpasswd can produce that the verifier does not check, by their marker;
# only these markers are ever named in a message (anything else could be a password).
_UNSUPPORTED_CRYPT_IDS = {
    "1": "MD5-crypt ($1$)",
    "5": "SHA-256-crypt ($5$)",
    "6": "SHA-512-crypt ($6$)",
    "y": "yescrypt ($y$)",
    "7": "scrypt ($7$)",
    "argon2i": "argon2i ($argon2i$)",
    "argon2d": "argon2d ($argon2d$)",
    "argon2id": "argon2id ($argon2id$)",
}
_UNSUPPORTED_BRACED = {
    "PLAIN": "{PLAIN} (a plaintext password)",
    "SSHA": "{SSHA}",
    "SHA256": "{SHA256}",
    "SHA512": "{SHA512}",
}
IMPORTABLE = (
    f"importable hashes: bcrypt ($2y$, $2b$, $2a$; cost {MIN_BCRYPT_COST}-{MAX_BCRYPT_COST}), "
    "Apache apr1 ($apr1$), {SHA}"
)
_SUPPORTED_MARKERS = (
    (re.compile(r"\$2[aby]\$"), "bcrypt"),
    (re.compile(r"\$apr1\$"), "apr1"),
    (re.compile(r"\{SHA\}"), "{SHA}"),
)
_CRYPT_ID = re.compile(r"\$([0-9a-z]+)\$")
_BRACED = re.compile(r"\{([A-Z0-9-]+)\}")
_DES_CRYPT = re.compile(r"[./0-9A-Za-z]{13}")
_MAX_SHOWN_NAME = 64


@dataclass(frozen=True)
class HtpasswdEntry:
    """One user of an htpasswd file."""

    line: int
    name: str  # canonical (lower case)
    password_hash: str
    scheme: LegacyScheme


@dataclass(frozen=True)
class HtpasswdProblem:
    """Why one line cannot be imported."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line else self.reason


class HtpasswdRefused(VerifierError):
    """An htpasswd file with bad lines: nothing is imported; `problems` lists every one."""

    def __init__(self, problems: list[HtpasswdProblem]) -> None:
        listed = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{len(problems)} bad line(s), nothing imported:\n{listed}\n{IMPORTABLE}")
        self.problems = tuple(problems)


def parse_htpasswd(data: bytes) -> list[HtpasswdEntry]:
    """Every entry of an htpasswd file, in file order; raise HtpasswdRefused on any bad line."""
    entries: list[HtpasswdEntry] = []
    problems: list[HtpasswdProblem] = []
    first_line_of: dict[str, int] = {}
    for number, raw_line in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw_line.decode("utf-8").strip()
        except UnicodeDecodeError:
            problems.append(HtpasswdProblem(number, "not valid UTF-8"))
            continue
        if not line or line.startswith("#"):
            continue
        entry = _parse_line(number, line)
        if isinstance(entry, HtpasswdProblem):
            problems.append(entry)
            continue
        first = first_line_of.setdefault(entry.name, number)
        if first != number:
            reason = f"user {entry.name} is already on line {first} (names ignore case here)"
            problems.append(HtpasswdProblem(number, reason))
            continue
        entries.append(entry)
    if not entries and not problems:
        problems.append(HtpasswdProblem(0, "no users in the file"))
    if problems:
        raise HtpasswdRefused(problems)
    return entries


def _parse_line(number: int, line: str) -> HtpasswdEntry | HtpasswdProblem:
    raw_name, colon, rest = line.partition(":")
    if not colon:
        return HtpasswdProblem(number, "no ':' between the user name and the hash")
    name = normalize_user_name(raw_name)
    if name is None or raw_name != raw_name.strip():
        shown = repr(raw_name[:_MAX_SHOWN_NAME])
        return HtpasswdProblem(number, f"bad user name {shown}: user names are {USER_NAME_RULE}")
    password_hash = rest.partition(":")[0]  # nginx: anything after a second ':' is a comment
    scheme = legacy_scheme(password_hash)
    if scheme is None:
        return HtpasswdProblem(number, f"user {name}: {_why_not_importable(password_hash)}")
    return HtpasswdEntry(number, name, password_hash, scheme)


def _why_not_importable(password_hash: str) -> str:
    """Why a hash cannot be imported, without quoting it."""
    if not password_hash:
        return "empty password hash"
    cost = bcrypt_cost(password_hash)
    if cost is not None:
        return (
            f"bcrypt cost {cost} is outside {MIN_BCRYPT_COST}-{MAX_BCRYPT_COST} (every failed "
            "sign-in pays the highest imported cost)"
        )
    for marker, scheme in _SUPPORTED_MARKERS:
        if marker.match(password_hash):
            return f"malformed {scheme} hash"
    unsupported = _unsupported_scheme(password_hash)
    if unsupported is not None:
        return f"unsupported scheme {unsupported}"
    if _DES_CRYPT.fullmatch(password_hash):
        return "DES crypt, or a 13-character plaintext password"
    return "plaintext password (not a hash of any known scheme)"


def _unsupported_scheme(password_hash: str) -> str | None:
    crypt_id = _CRYPT_ID.match(password_hash)
    if crypt_id is not None:
        return _UNSUPPORTED_CRYPT_IDS.get(crypt_id[1], "(unknown $...$ marker)")
    braced = _BRACED.match(password_hash)
    if braced is not None:
        return _UNSUPPORTED_BRACED.get(braced[1], "(unknown {...} marker)")
    return None
