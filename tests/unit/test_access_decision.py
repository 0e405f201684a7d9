"""The access decision: central rules and location declarations, and how they combine."""

from __future__ import annotations

import pytest

from verifier.access import AccessPolicy, AccessRequest, Identity, parse_rules

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
