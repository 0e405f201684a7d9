"""The access decision: central rules first (a deny there is final), then the location's own."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from verifier.access.declaration import DeclarationCache
from verifier.access.rules import NO_RULES, Policy, RuleSet, Target
from verifier.errors import AccessConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking: a signed-in user and their groups as Redis has them now."""

    user: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """What is asked for, as nginx describes the original request to /auth."""

    host: str = ""
    path: str = "/"
    method: str = "GET"
    declaration: str = ""
    # The `aud` this location asks for in X-Auth-Assertion ("" = the configured default).
    audience: str = ""

    @property
    def target(self) -> Target:
        """Host, path and method, for rule matching."""
        return Target(host=self.host, path=self.path, method=self.method)


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed or not, and what made it so (for logs, `verifier access check`, never clients)."""

    allowed: bool
    reason: str


class AccessPolicy:
    """Combines the central rules with a location's declaration; both must allow.

    Safe by default: a central deny can never be undone by a location (or a later rule), and
    a location's declaration can only narrow what the central rules allow. A declaration the
    verifier cannot read denies (and is logged), since it was meant to restrict.
    """

    def __init__(self, rules: RuleSet = NO_RULES) -> None:
        self._rules = rules
        self._declarations = DeclarationCache()

    @property
    def rules(self) -> RuleSet:
        """The rules in force."""
        return self._rules

    def replace_rules(self, rules: RuleSet) -> None:
        """Swap in a newly loaded rules file (one assignment: requests see old or new)."""
        self._rules = rules

    def decide(self, identity: Identity, request: AccessRequest) -> Decision:
        """Decide one request of a signed-in user."""
        rules = self._rules
        rule = rules.first_match(request.target, identity.user, identity.groups)
        if rule is not None and rule.policy is Policy.DENY:
            return Decision(False, rule.describe(rules.source))
        if rule is None and rules.default_policy is Policy.DENY:
            return Decision(False, f"no rule of {rules.source} matched; default_policy: deny")
        try:
            declaration = self._declarations.get(request.declaration)
        except AccessConfigError as error:
            log.error("location of %s: %s (denying)", request.path, error)
            return Decision(False, f"invalid location declaration: {error}")
        central = rule.describe(rules.source) if rule is not None else "no central rule"
        subjects = declaration.subjects
        if not subjects.matches(identity.user, identity.groups):
            return Decision(False, f"{central}; location requires {subjects.describe()}")
        return Decision(True, f"{central}; location admits {subjects.describe()}")
