"""The access decision: central rules and location declarations, and how they combine."""

from __future__ import annotations

import pytest

from verifier.access import AccessPolicy, AccessRequest, Identity, parse_rules
from verifier.access.conditions import SignInConditions
from verifier.access.explain import explain
from verifier.factors.methods import SignIn

RULES = parse_rules(
    """\
[[rules]]
paths = ["/admin/audit"]
policy = "deny"

[[rules]]
paths = ["/reports"]
subjects = ["group:finance"]
policy = "allow"

[[rules]]
paths = ["/reports"]
policy = "deny"

[[rules]]
paths = ["/wiki"]
methods = ["POST", "PUT", "DELETE"]
subjects = ["group:editors"]
policy = "allow"

[[rules]]
paths = ["/wiki"]
methods = ["POST", "PUT", "DELETE"]
policy = "deny"
""",
    "rules.toml",
)

ADMIN = Identity("alice", ("admins",))
FINANCE = Identity("fred", ("finance",))
NOBODY = Identity("guest", ())


def _request(path: str, declaration: str = "", method: str = "GET") -> AccessRequest:
    return AccessRequest(host="app.example", path=path, method=method, declaration=declaration)


def test_without_rules_or_declaration_every_signed_in_user_may_enter() -> None:
    decision = AccessPolicy().decide(NOBODY, _request("/anything"))
    assert decision.allowed
    assert decision.reason == "no central rule; location admits any signed-in user"


def test_a_location_declaration_admits_only_its_subjects() -> None:
    policy = AccessPolicy()
    assert policy.decide(ADMIN, _request("/admin/", "group:admins")).allowed
    refused = policy.decide(NOBODY, _request("/admin/", "group:admins"))
    assert not refused.allowed
    assert refused.reason == "no central rule; location requires group:admins"


def test_a_central_deny_cannot_be_undone_by_the_location() -> None:
    decision = AccessPolicy(RULES).decide(ADMIN, _request("/admin/audit", "group:admins"))
    assert not decision.allowed
    assert decision.reason == "rule 1 (rules.toml line 1): deny"


def test_a_central_allow_does_not_widen_the_location() -> None:
    decision = AccessPolicy(RULES).decide(FINANCE, _request("/reports/q3", "group:board"))
    assert not decision.allowed
    assert "rule 2 (rules.toml line 5): allow; location requires group:board" in decision.reason


def test_first_match_wins_for_the_allowed_group_and_denies_the_rest() -> None:
    policy = AccessPolicy(RULES)
    assert policy.decide(FINANCE, _request("/reports/q3")).allowed
    assert not policy.decide(NOBODY, _request("/reports/q3")).allowed


@pytest.mark.parametrize(
    ("identity", "method", "allowed"),
    [
        (NOBODY, "GET", True),
        (NOBODY, "POST", False),
        (NOBODY, "DELETE", False),
        (Identity("ed", ("editors",)), "POST", True),
    ],
)
def test_a_rule_can_restrict_some_methods_only(
    identity: Identity, method: str, allowed: bool
) -> None:
    decision = AccessPolicy(RULES).decide(identity, _request("/wiki/page", method=method))
    assert decision.allowed is allowed


def test_default_deny_refuses_what_no_rule_allows() -> None:
    rules = parse_rules(
        'default_policy = "deny"\n[[rules]]\npaths = ["/open"]\npolicy = "allow"\n', "r.toml"
    )
    policy = AccessPolicy(rules)
    assert policy.decide(NOBODY, _request("/open/x")).allowed
    refused = policy.decide(NOBODY, _request("/closed"))
    assert not refused.allowed
    assert refused.reason == "no rule of r.toml matched; default_policy: deny"


def test_an_invalid_declaration_denies_rather_than_admitting_everyone() -> None:
    decision = AccessPolicy().decide(ADMIN, _request("/admin/", "admins"))
    assert not decision.allowed
    assert decision.reason.startswith("invalid location declaration")


def test_replaced_rules_apply_to_the_next_decision() -> None:
    policy = AccessPolicy()
    assert policy.decide(NOBODY, _request("/reports")).allowed
    policy.replace_rules(RULES)
    assert not policy.decide(NOBODY, _request("/reports")).allowed


# --- what the session must have: mfa, max_age, groups that require mfa ----------------------

NOW = 1_700_000_000
PASSWORD_SESSION = SignIn(("pwd",), NOW - 60)
TOTP_SESSION = SignIn(("pwd", "otp"), NOW - 60)
STEP_UP_RULES = parse_rules(
    """\
[[rules]]
paths = ["/vault"]
subjects = ["group:finance"]
mfa = true
policy = "allow"

[[rules]]
paths = ["/vault"]
policy = "deny"

[[rules]]
paths = ["/payments"]
max_age_minutes = 5
policy = "allow"
""",
    "rules.toml",
)


def _as(identity: Identity, sign_in: SignIn | None) -> Identity:
    return Identity(identity.user, identity.groups, sign_in)


def test_a_subject_without_a_second_factor_needs_a_step_up_not_a_refusal() -> None:
    policy = AccessPolicy(clock=lambda: NOW)
    decision = policy.decide(_as(ADMIN, PASSWORD_SESSION), _request("/admin/", "group:admins mfa"))
    assert not decision.allowed
    assert decision.step_up == "mfa"
    assert decision.reason == (
        "no central rule; location admits group:admins; step-up needed: mfa (asked: mfa)"
    )


def test_a_two_factor_session_of_a_subject_enters() -> None:
    policy = AccessPolicy(clock=lambda: NOW)
    decision = policy.decide(_as(ADMIN, TOTP_SESSION), _request("/admin/", "group:admins mfa"))
    assert decision.allowed
    assert decision.step_up is None
    assert decision.reason == "no central rule; location admits group:admins; session has mfa"


def test_who_is_not_a_subject_is_forbidden_whatever_their_session() -> None:
    policy = AccessPolicy(clock=lambda: NOW)
    for sign_in in (PASSWORD_SESSION, TOTP_SESSION):
        decision = policy.decide(_as(NOBODY, sign_in), _request("/admin/", "group:admins mfa"))
        assert not decision.allowed
        assert decision.step_up is None
        assert decision.reason == "no central rule; location requires group:admins"


def test_max_age_counts_from_the_sign_in_on_the_injected_clock() -> None:
    clock = [float(NOW)]
    policy = AccessPolicy(clock=lambda: clock[0])
    request = _request("/recent", "max_age=10")
    signed_in = _as(NOBODY, SignIn(("pwd",), NOW))
    clock[0] = NOW + 600
    assert policy.decide(signed_in, request).allowed
    clock[0] = NOW + 601
    refused = policy.decide(signed_in, request)
    assert (refused.allowed, refused.step_up) == (False, "max_age")
    # An explicit `now` (the gate's) wins over the policy's clock.
    assert policy.decide(signed_in, request, now=NOW + 60).allowed


def test_without_a_known_sign_in_no_condition_holds() -> None:
    policy = AccessPolicy(clock=lambda: NOW)
    assert policy.decide(NOBODY, _request("/x", "mfa")).step_up == "mfa"
    assert policy.decide(NOBODY, _request("/x", "max_age=60")).step_up == "max_age"
    assert policy.decide(NOBODY, _request("/x")).allowed


def test_a_central_rule_can_ask_for_a_second_factor() -> None:
    policy = AccessPolicy(STEP_UP_RULES, clock=lambda: NOW)
    needs = policy.decide(_as(FINANCE, PASSWORD_SESSION), _request("/vault/q3"))
    assert needs.step_up == "mfa"
    assert needs.reason == (
        "rule 1 (rules.toml line 1): allow with mfa; location admits any signed-in user; "
        "step-up needed: mfa (asked: mfa)"
    )
    assert policy.decide(_as(FINANCE, TOTP_SESSION), _request("/vault/q3")).allowed
    # Not a subject of the mfa rule: the next rule denies, whatever the session.
    refused = policy.decide(_as(NOBODY, TOTP_SESSION), _request("/vault/q3"))
    assert (refused.allowed, refused.step_up) == (False, None)


def test_rule_and_location_conditions_add_up() -> None:
    policy = AccessPolicy(STEP_UP_RULES, clock=lambda: NOW)
    old_totp = _as(NOBODY, SignIn(("pwd", "otp"), NOW - 3600))
    # The rule asks max_age 5, the location mfa: both must hold.
    decision = policy.decide(old_totp, _request("/payments/send", "mfa"))
    assert decision.step_up == "max_age"
    assert decision.conditions == SignInConditions(mfa=True, max_age_minutes=5)
    fresh_password = _as(NOBODY, SignIn(("pwd",), NOW))
    assert policy.decide(fresh_password, _request("/payments/send", "mfa")).step_up == "mfa"
    fresh_totp = _as(NOBODY, SignIn(("pwd", "otp"), NOW))
    assert policy.decide(fresh_totp, _request("/payments/send", "mfa")).allowed


def test_members_of_an_mfa_group_need_a_second_factor_everywhere() -> None:
    policy = AccessPolicy(mfa_groups={"admins"}, clock=lambda: NOW)
    anywhere = _request("/anything")
    decision = policy.decide(_as(ADMIN, PASSWORD_SESSION), anywhere)
    assert decision.step_up == "mfa"
    assert policy.decide(_as(ADMIN, TOTP_SESSION), anywhere).allowed
    # Others are not asked; and a location they may not enter stays a 403 for members too.
    assert policy.decide(_as(NOBODY, PASSWORD_SESSION), anywhere).allowed
    refused = policy.decide(_as(ADMIN, PASSWORD_SESSION), _request("/x", "group:board"))
    assert (refused.allowed, refused.step_up) == (False, None)


def test_an_invalid_condition_denies_and_asks_no_step_up() -> None:
    decision = AccessPolicy().decide(_as(ADMIN, PASSWORD_SESSION), _request("/x", "mfa max_age=0"))
    assert (decision.allowed, decision.step_up) == (False, None)
    assert decision.reason.startswith("invalid location declaration")


def test_explain_names_the_step_up_and_the_session() -> None:
    policy = AccessPolicy(clock=lambda: NOW)
    identity = Identity("alice", ("admins",), SignIn(("pwd",), NOW - 25 * 60))
    decision, line = explain(policy, identity, _request("/admin/x", "group:admins mfa"), NOW)
    assert decision.step_up == "mfa"
    assert line == (
        'STEP-UP mfa GET /admin/x on app.example with $verifier_require "group:admins mfa" '
        "for alice (groups: admins; signed in with pwd 25 min ago): no central rule; "
        "location admits group:admins; step-up needed: mfa (asked: mfa)"
    )


def test_explain_says_nothing_of_the_session_where_nothing_is_asked_of_it() -> None:
    identity = Identity("alice", ("admins",), SignIn(("pwd",), NOW))
    _, line = explain(AccessPolicy(), identity, _request("/x"), NOW)
    assert line == (
        "ALLOW GET /x on app.example for alice (groups: admins): "
        "no central rule; location admits any signed-in user"
    )


def test_an_admission_is_built_once_per_location_and_rule_and_forgotten_with_the_rules() -> None:
    policy = AccessPolicy(RULES)
    first = policy.decide(FINANCE, _request("/reports/q3", "group:finance"))
    again = policy.decide(FINANCE, _request("/reports/q4", "group:finance"))
    assert first.allowed and again is first
    # Remembered admissions never admit anyone the checks before them refuse.
    assert not policy.decide(NOBODY, _request("/reports/q3", "group:finance")).allowed
    policy.replace_rules(parse_rules("", "other.toml"))
    after = policy.decide(FINANCE, _request("/reports/q3", "group:finance"))
    assert after.allowed and after is not first
    assert after.rules_source == "other.toml"


def test_a_rule_naming_a_user_applies_to_that_user_only() -> None:
    rules = parse_rules('[[rules]]\nsubjects = ["user:alice"]\npolicy = "deny"\n', "r.toml")
    policy = AccessPolicy(rules)
    refused = policy.decide(ADMIN, _request("/x"))
    assert refused.allowed is False
    assert refused.rule is rules.rules[0]
    assert policy.decide(NOBODY, _request("/x")).allowed


def test_a_location_naming_a_user_admits_that_user() -> None:
    assert AccessPolicy().decide(ADMIN, _request("/x", "user:alice")).allowed
    assert not AccessPolicy().decide(NOBODY, _request("/x", "user:alice")).allowed


def test_default_deny_answers_false_with_no_rule() -> None:
    decision = AccessPolicy(parse_rules('default_policy = "deny"\n', "r.toml")).decide(
        ADMIN, _request("/x")
    )
    assert decision.allowed is False
    assert decision.rule is None and decision.rules_source == "r.toml"


def test_an_invalid_declaration_is_logged_and_named_in_the_decision(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rules = parse_rules('[[rules]]\npaths = ["/admin"]\npolicy = "allow"\n', "r.toml")
    with caplog.at_level("ERROR", logger="verifier.access.decision"):
        decision = AccessPolicy(rules).decide(ADMIN, _request("/admin/x", "admins"))
    assert decision.allowed is False
    assert decision.rules_source == "r.toml"
    assert decision.rule is rules.rules[0]
    assert decision.subjects is None
    assert decision.problem is not None and "admins" in decision.problem
    assert decision.reason == f"invalid location declaration: {decision.problem}"
    (logged,) = caplog.records
    assert logged.getMessage() == f"location of /admin/x: {decision.problem} (denying)"


def test_an_admission_is_remembered_apart_for_each_location_and_rule() -> None:
    rules = parse_rules(
        '[[rules]]\npaths = ["/a"]\npolicy = "allow"\n\n'
        '[[rules]]\npaths = ["/b"]\npolicy = "allow"\n',
        "r.toml",
    )
    policy = AccessPolicy(rules)
    first_rule = policy.decide(ADMIN, _request("/a", "group:admins"))
    second_rule = policy.decide(ADMIN, _request("/b", "group:admins"))
    no_rule = policy.decide(ADMIN, _request("/c", "group:admins"))
    other_location = policy.decide(ADMIN, _request("/a", "user:alice"))
    assert (first_rule.rule, second_rule.rule, no_rule.rule) == (*rules.rules, None)
    assert other_location.subjects is not None and other_location.subjects.users == {"alice"}
    assert first_rule.subjects is not None and first_rule.subjects.groups == {"admins"}
    # The same location and rule again: the same admission.
    assert policy.decide(ADMIN, _request("/a", "group:admins")) is first_rule
