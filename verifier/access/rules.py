"""The central rules file (TOML): who may enter what, across every location; first match wins.

    default_policy = "allow"          # when no rule matches: "allow" or "deny"

    [[rules]]
    hosts = ["admin.example.com"]     # optional: exact names or "*.example.com"
    paths = ["/admin"]                # optional: path prefixes, whole segments only
    path_regex = "^/api/v[0-9]+/"     # optional: a Python regex matched at the path's start
    methods = ["POST", "DELETE"]      # optional
    subjects = ["group:admins"]       # optional: user:NAME / group:NAME; absent = anyone
    mfa = true                        # optional, allow rules only: a two-factor session
    max_age_minutes = 10              # optional, allow rules only: signed in this recently
    policy = "allow"                  # required: "allow" or "deny"

A rule applies when every condition it states holds, its subjects included; the first rule
that applies decides (as Authelia's access control does: an admin reads the file top to
bottom and stops at the first match, so a broad allow placed above a narrow deny is a
visible mistake, not a hidden precedence rule). `mfa` and `max_age_minutes` are not
conditions of matching but demands on the session of whoever the rule admits: a subject
whose session falls short needs a step-up, and never falls through to a later rule.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from verifier.access.conditions import NO_CONDITIONS, SignInConditions
from verifier.access.paths import path_has_prefix
from verifier.access.subjects import Subjects
from verifier.errors import AccessConfigError, RulesFileError
from verifier.records import record

_RULE_KEYS = {
    "hosts",
    "paths",
    "path_regex",
    "methods",
    "subjects",
    "mfa",
    "max_age_minutes",
    "policy",
}
_TOP_KEYS = {"default_policy", "rules"}
_METHOD = re.compile(r"[A-Z]{1,20}")
_LABEL = r"[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?"
_HOST = re.compile(rf"(\*\.)?{_LABEL}(\.{_LABEL})*")
_PATH = re.compile(r"/\S*")
_TOML_POSITION = re.compile(r"at line (\d+)")


class Policy(Enum):
    """What a matching rule does."""

    ALLOW = "allow"
    DENY = "deny"


@record
class Target:
    """What a request is for: host (no port), normalized path, method."""

    host: str
    path: str
    method: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One `[[rules]]` entry; `number` counts from 1 and `line` is its header's line."""

    number: int
    line: int
    policy: Policy
    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    path_regex: re.Pattern[str] | None = None
    methods: frozenset[str] = frozenset()
    subjects: Subjects = field(default_factory=Subjects)
    # What an allow rule asks of the session of those it admits.
    conditions: SignInConditions = NO_CONDITIONS

    def applies(self, target: Target, user: str, groups: Sequence[str]) -> bool:
        """True if every condition of the rule holds for this request and user."""
        if self.hosts and not any(_host_matches(pattern, target.host) for pattern in self.hosts):
            return False
        if self.paths and not any(path_has_prefix(target.path, p) for p in self.paths):
            return False
        if self.path_regex is not None and self.path_regex.match(target.path) is None:
            return False
        if self.methods and target.method not in self.methods:
            return False
        return self.subjects.matches(user, groups)

    def describe(self, source: str) -> str:
        """`rule 2 (rules.toml line 7): deny` — where an admin finds it."""
        described = f"rule {self.number} ({source} line {self.line}): {self.policy.value}"
        if self.conditions.any:
            described += f" with {self.conditions.describe()}"
        return described


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every rule of one file, in order, and what applies when none does."""

    source: str
    rules: tuple[Rule, ...] = ()
    default_policy: Policy = Policy.ALLOW

    def first_match(self, target: Target, user: str, groups: Sequence[str]) -> Rule | None:
        """The first rule that applies, or None."""
        for rule in self.rules:
            if rule.applies(target, user, groups):
                return rule
        return None


# With no rules file, every signed-in user may enter (subject to location declarations).
NO_RULES = RuleSet(source="(no rules file)")


def load_rules(path: Path) -> RuleSet:
    """Read and validate a rules file; raise RulesFileError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RulesFileError(str(path), None, f"cannot read: {error.strerror}") from None
    except UnicodeDecodeError:
        raise RulesFileError(str(path), None, "is not UTF-8 text") from None
    return parse_rules(text, str(path))


def parse_rules(text: str, source: str) -> RuleSet:
    """Validate rules-file text; raise RulesFileError naming the line of the first problem."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = _TOML_POSITION.search(str(error))
        # "at end of document": the problem shows on the last line.
        line = int(found.group(1)) if found else max(1, len(text.splitlines()))
        raise RulesFileError(source, line, f"not valid TOML: {error}") from None
    lines = _Lines(text)
    unknown = set(document) - _TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise RulesFileError(source, lines.of_key(key), f"unknown setting {key!r}")
    default = _policy(document.get("default_policy", "allow"))
    if default is None:
        raise RulesFileError(
            source, lines.of_key("default_policy"), 'default_policy must be "allow" or "deny"'
        )
    raw_rules = document.get("rules", [])
    if not isinstance(raw_rules, list):
        raise RulesFileError(source, lines.of_key("rules"), "rules must be [[rules]] tables")
    rules = tuple(
        _rule(number, entry, lines, source) for number, entry in enumerate(raw_rules, start=1)
    )
    return RuleSet(source=source, rules=rules, default_policy=default)


def _rule(number: int, entry: Any, lines: _Lines, source: str) -> Rule:
    header = lines.of_rule(number)

    def fail(message: str, key: str | None = None) -> RulesFileError:
        line = lines.of_key(key, after=header) if key is not None else header
        return RulesFileError(source, line or header, f"rule {number}: {message}")

    if not isinstance(entry, dict):
        raise fail("must be a [[rules]] table")
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise fail(f"unknown key {key!r} (known: {', '.join(sorted(_RULE_KEYS))})", key)
    if "policy" not in entry:
        raise fail('needs policy = "allow" or "deny"')
    policy = _policy(entry["policy"])
    if policy is None:
        raise fail('policy must be "allow" or "deny"', "policy")
    # Outside the try: its own error already names the file, line and rule.
    terms = _strings(entry, "subjects", fail)
    try:
        subjects = Subjects.parse(terms)
    except AccessConfigError as error:
        hint = " (a second factor is `mfa = true`)" if "'mfa'" in str(error) else ""
        raise fail(f"{error}{hint}", "subjects") from None
    conditions = _conditions(entry, policy, fail)
    return Rule(
        number=number,
        line=header,
        policy=policy,
        hosts=_checked(
            entry, "hosts", _HOST, "is not a host name (lower case, or *.example.com)", fail
        ),
        paths=_checked(entry, "paths", _PATH, "must start with /", fail),
        path_regex=_regex(entry, fail),
        methods=frozenset(
            _checked(entry, "methods", _METHOD, "must be upper case, like GET", fail)
        ),
        subjects=subjects,
        conditions=conditions,
    )


def _conditions(entry: dict[str, Any], policy: Policy, fail: Any) -> SignInConditions:
    mfa = entry.get("mfa", False)
    if not isinstance(mfa, bool):
        raise fail("mfa must be true or false", "mfa")
    max_age: int | None = None
    if "max_age_minutes" in entry:
        try:
            max_age = SignInConditions.checked_max_age(entry["max_age_minutes"])
        except AccessConfigError as error:
            raise fail(f"max_age_minutes: {error}", "max_age_minutes") from None
    if not mfa and max_age is None:
        return NO_CONDITIONS
    conditions = SignInConditions(mfa=mfa, max_age_minutes=max_age)
    if policy is Policy.DENY:
        # A deny admits nobody, so it has no session to ask anything of: surely a mistake.
        key = "mfa" if mfa else "max_age_minutes"
        raise fail(f"{key} is for allow rules: a deny admits nobody", key)
    return conditions


def _checked(
    entry: dict[str, Any], key: str, pattern: re.Pattern[str], problem: str, fail: Any
) -> tuple[str, ...]:
    values = _strings(entry, key, fail)
    for value in values:
        if not pattern.fullmatch(value):
            raise fail(f"{key}: {value!r} {problem}", key)
    return values


def _regex(entry: dict[str, Any], fail: Any) -> re.Pattern[str] | None:
    if "path_regex" not in entry:
        return None
    raw_pattern = entry["path_regex"]
    if not isinstance(raw_pattern, str) or not raw_pattern:
        raise fail("path_regex must be a non-empty string", "path_regex")
    try:
        return re.compile(raw_pattern)
    except re.error as error:
        raise fail(f"path_regex is not a valid regex: {error}", "path_regex") from None


def _strings(entry: dict[str, Any], key: str, fail: Any) -> tuple[str, ...]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail(f"{key} must be a list of strings", key)
    if key in entry and not value:
        # An empty list reads as "no condition" and would widen the rule silently.
        raise fail(f"{key} is empty: leave it out to mean any", key)
    return tuple(value)


def _policy(value: object) -> Policy | None:
    try:
        return Policy(value)
    except ValueError:
        return None


class _Lines:
    """Line numbers of `[[rules]]` headers and keys, for messages an admin can act on."""

    def __init__(self, text: str) -> None:
        self._lines = text.splitlines()
        self._headers = [
            number
            for number, line in enumerate(self._lines, start=1)
            if line.strip().replace(" ", "").startswith("[[rules]]")
        ]

    def of_rule(self, number: int) -> int:
        """The line of the number-th `[[rules]]` header (1 if rules were written inline)."""
        return self._headers[number - 1] if number <= len(self._headers) else 1

    def of_key(self, key: str, after: int = 0) -> int | None:
        """The first line at or after `after` that assigns `key`."""
        pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
        for number in range(max(after, 1), len(self._lines) + 1):
            if pattern.match(self._lines[number - 1]):
                return number
        return None


def _host_matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern
