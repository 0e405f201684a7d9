"""The access decision: central rules first (a deny there is final), then the location's own,
then what both (and the user's groups) ask of the session: a subject whose session falls
short needs a step-up, not a refusal."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from verifier.access.conditions import MFA_ONLY, NO_CONDITIONS, SignInConditions
from verifier.access.declaration import DeclarationCache
from verifier.access.rules import NO_RULES, Policy, Rule, RuleSet, Target
from verifier.access.subjects import Subjects
from verifier.errors import AccessConfigError
from verifier.factors.methods import SignIn
from verifier.records import record

log = logging.getLogger(__name__)

# Admissions remembered per worker: one per (location, rule) pair in practice.
_ADMISSIONS = 1024


@record
class Identity:
    """Who is asking: a signed-in user, their groups as Redis has them now, and how and when
    they signed in (None: unknown, so no `mfa` or `max_age` condition holds)."""

    user: str
    groups: tuple[str, ...] = ()
    sign_in: SignIn | None = None


@record
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


@record
class Decision:
    """Allowed or not, and what made it so (for logs, `verifier access check`, never clients).

    Not allowed with `step_up` set: the user is a subject but their session lacks what is
    asked of it (`mfa`, or a sign-in within `max_age`), which a step-up can give; without
    it, the user may not enter at all. The reason is put into words only when asked for:
    every protected request is decided, and an admitted one never needs the text.
    """

    allowed: bool
    rules_source: str
    rule: Rule | None = None
    # The location's subjects when it was read, else the problem that made it unreadable.
    subjects: Subjects | None = None
    problem: str | None = None
    # Everything asked of the session here (rule, location and the user's groups together).
    conditions: SignInConditions = NO_CONDITIONS
    step_up: str | None = None

    @property
    def reason(self) -> str:
        """What made the decision, as `verifier access check` prints it."""
        if self.rule is not None and self.rule.policy is Policy.DENY:
            return self.rule.describe(self.rules_source)
        if self.rule is None and self.subjects is None and self.problem is None:
            return f"no rule of {self.rules_source} matched; default_policy: deny"
        if self.problem is not None:
            return f"invalid location declaration: {self.problem}"
        central = (
            self.rule.describe(self.rules_source) if self.rule is not None else "no central rule"
        )
        assert self.subjects is not None  # noqa: S101 (set on every path that gets here)
        verb = "requires" if not self.allowed and self.step_up is None else "admits"
        described = f"{central}; location {verb} {self.subjects.describe()}"
        asked = self.conditions.describe()
        if self.step_up is not None:
            return f"{described}; step-up needed: {self.step_up} (asked: {asked})"
        if self.conditions.any and self.allowed:
            return f"{described}; session has {asked}"
        return described


class AccessPolicy:
    """Combines the central rules with a location's declaration; both must allow.

    Safe by default: a central deny can never be undone by a location (or a later rule), and
    a location's declaration can only narrow what the central rules allow. A declaration the
    verifier cannot read denies (and is logged), since it was meant to restrict.
    """

    def __init__(
        self,
        rules: RuleSet = NO_RULES,
        mfa_groups: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        # The rules and the admissions decided under them, swapped together in one
        # assignment (a reload runs in another thread): an admission is the same Decision
        # for every request of one location and rule, so it is built once, not per request
        # (building a frozen dataclass costs more than the rest of the decision).
        self._state: tuple[RuleSet, dict[tuple[str, int], Decision]] = (rules, {})
        self._declarations = DeclarationCache()
        # Members of these groups pass no location without a multi-factor session.
        self._mfa_groups = frozenset(mfa_groups)
        self._clock = clock

    @property
    def rules(self) -> RuleSet:
        """The rules in force."""
        return self._state[0]

    def replace_rules(self, rules: RuleSet) -> None:
        """Swap in a newly loaded rules file (one assignment: requests see old or new)."""
        self._state = (rules, {})

    def decide(
        self, identity: Identity, request: AccessRequest, now: float | None = None
    ) -> Decision:
        """Decide one request of a signed-in user (`now`: the policy's clock by default)."""
        rules, admissions = self._state
        source = rules.source
        rule = None
        if rules.rules:
            rule = rules.first_match(request.target, identity.user, identity.groups)
            if rule is not None and rule.policy is Policy.DENY:
                return Decision(False, source, rule)
        if rule is None and rules.default_policy is Policy.DENY:
            return Decision(False, source)
        try:
            declaration = self._declarations.get(request.declaration)
        except AccessConfigError as error:
            log.error("location of %s: %s (denying)", request.path, error)
            return Decision(False, source, rule, problem=str(error))
        subjects = declaration.subjects
        if not subjects.matches(identity.user, identity.groups):
            return Decision(False, source, rule, subjects)
        # Identity tests: nearly every request asks nothing of the session, and this path
        # runs for each of them.
        conditions = declaration.conditions
        if rule is not None and rule.conditions is not NO_CONDITIONS:
            conditions = conditions.combined(rule.conditions)
        if self._mfa_groups and not self._mfa_groups.isdisjoint(identity.groups):
            conditions = conditions.combined(MFA_ONLY)
        if conditions is NO_CONDITIONS:
            key = (request.declaration, rule.number if rule is not None else 0)
            admitted = admissions.get(key)
            if admitted is None:
                if len(admissions) >= _ADMISSIONS:
                    admissions.clear()
                admitted = admissions[key] = Decision(True, source, rule, subjects)
            return admitted
        step = conditions.missing(identity.sign_in, self._clock() if now is None else now)
        return Decision(step is None, source, rule, subjects, None, conditions, step)
