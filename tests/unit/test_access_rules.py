"""The central rules file: validation naming the line, matching, first match wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.access.conditions import SignInConditions
from verifier.access.rules import Policy, Target, load_rules, parse_rules
from verifier.errors import RulesFileError

EXAMPLE = """\
# Example rules
default_policy = "allow"

[[rules]]
paths = ["/admin"]
subjects = ["group:admins"]
policy = "allow"

[[rules]]
paths = ["/admin"]
policy = "deny"

[[rules]]
hosts = ["*.internal.example"]
path_regex = "^/api/v[0-9]+/"
methods = ["POST", "DELETE"]
policy = "deny"
"""


def _target(path: str, method: str = "GET", host: str = "app.example") -> Target:
    return Target(host=host, path=path, method=method)


def test_the_first_rule_that_applies_decides() -> None:
    rules = parse_rules(EXAMPLE, "rules.toml")
    admin = rules.first_match(_target("/admin/users"), "alice", ("admins",))
    other = rules.first_match(_target("/admin/users"), "bob", ())
    assert admin is not None and admin.number == 1 and admin.policy is Policy.ALLOW
    assert other is not None and other.number == 2 and other.policy is Policy.DENY
    assert rules.first_match(_target("/home"), "bob", ()) is None


def test_rules_know_the_line_they_start_on() -> None:
    rules = parse_rules(EXAMPLE, "rules.toml")
    assert [rule.line for rule in rules.rules] == [4, 9, 13]
    assert rules.rules[1].describe("rules.toml") == "rule 2 (rules.toml line 9): deny"


@pytest.mark.parametrize(
    ("path", "covered"),
    [("/admin", True), ("/admin/", True), ("/admin/x/y", True), ("/administrator", False)],
)
def test_path_prefixes_cover_whole_segments_only(path: str, covered: bool) -> None:
    rules = parse_rules(EXAMPLE, "rules.toml")
    rule = rules.first_match(_target(path), "bob", ())
    assert (rule is not None) is covered


def test_a_rule_applies_only_when_host_path_and_method_all_match() -> None:
    rules = parse_rules(EXAMPLE, "rules.toml")
    api = "/api/v2/items"
    assert rules.first_match(_target(api, "POST", "db.internal.example"), "bob", ()) is not None
    assert rules.first_match(_target(api, "GET", "db.internal.example"), "bob", ()) is None
    assert rules.first_match(_target(api, "POST", "internal.example"), "bob", ()) is None
    assert rules.first_match(_target("/x/api/v2/", "POST", "a.internal.example"), "b", ()) is None


def test_default_policy_deny_is_read() -> None:
    assert parse_rules('default_policy = "deny"\n', "r").default_policy is Policy.DENY
    assert parse_rules("", "r").default_policy is Policy.ALLOW


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("[[rules]]\npolicy = 'allow'\npath = ['/x']\n", 3, "unknown key 'path'"),
        ("[[rules]]\npaths = ['/x']\n", 1, "needs policy"),
        ("\n[[rules]]\npolicy = 'permit'\n", 3, "policy must be"),
        (
            "[[rules]]\npolicy = 'deny'\n\n[[rules]]\npolicy = 'deny'\npaths = ['x']\n",
            6,
            "start with /",
        ),
        ("[[rules]]\npolicy = 'deny'\nmethods = ['get']\n", 3, "upper case"),
        ("[[rules]]\npolicy = 'deny'\nhosts = ['Bad Host']\n", 3, "not a host name"),
        ("[[rules]]\npolicy = 'deny'\npath_regex = '('\n", 3, "not a valid regex"),
        ("[[rules]]\npolicy = 'deny'\nsubjects = ['admins']\n", 3, "not a subject"),
        ("[[rules]]\npolicy = 'allow'\nsubjects = ['mfa']\n", 3, "second factor is `mfa = true`"),
        ("[[rules]]\npolicy = 'allow'\n\nmfa = 'yes'\n", 4, "mfa must be true or false"),
        ("[[rules]]\npolicy = 'allow'\nmax_age_minutes = 0\n", 3, "max_age_minutes: max_age"),
        ("[[rules]]\npolicy = 'allow'\nmax_age_minutes = '10'\n", 3, "whole number"),
        ("[[rules]]\npolicy = 'allow'\nmax_age_minutes = 1.5\n", 3, "whole number"),
        ("[[rules]]\npolicy = 'allow'\nmax_age_minutes = true\n", 3, "whole number"),
        ("[[rules]]\npolicy = 'deny'\nmfa = true\n", 3, "mfa is for allow rules"),
        ("[[rules]]\npolicy = 'deny'\nmax_age_minutes = 5\n", 3, "is for allow rules"),
        ("[[rules]]\npolicy = 'deny'\npaths = []\n", 3, "is empty"),
        ("[[rules]]\npolicy = 'deny'\npaths = '/x'\n", 3, "list of strings"),
        ("defaults = 'allow'\n", 1, "unknown setting 'defaults'"),
        ("default_policy = 'maybe'\n", 1, "default_policy must be"),
        ("[[rules]]\npolicy = = 'deny'\n", 2, "not valid TOML"),
        ("[[rules]]\npolicy = 'deny\n", 2, "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(RulesFileError, match=message) as raised:
        parse_rules(text, "rules.toml")
    assert raised.value.line == line
    assert str(raised.value).startswith(f"rules.toml:{line}: ")


def test_an_unreadable_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(RulesFileError, match=r"missing\.toml: cannot read"):
        load_rules(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(RulesFileError, match="not UTF-8"):
        load_rules(binary)


def test_an_allow_rule_reads_what_it_asks_of_the_session() -> None:
    rules = parse_rules(
        '[[rules]]\npaths = ["/admin"]\nmfa = true\nmax_age_minutes = 10\npolicy = "allow"\n'
        '[[rules]]\npaths = ["/wiki"]\nmfa = false\npolicy = "deny"\n',
        "rules.toml",
    )
    first, second = rules.rules
    assert first.conditions == SignInConditions(mfa=True, max_age_minutes=10)
    assert first.describe("rules.toml") == "rule 1 (rules.toml line 1): allow with mfa max_age=10"
    assert not second.conditions.any
    assert second.describe("rules.toml") == "rule 2 (rules.toml line 6): deny"


def test_conditions_do_not_decide_whether_a_rule_applies() -> None:
    # Matching looks at host, path, method and subjects only: a session without a second
    # factor meets the mfa rule (and needs a step-up), it never falls through to the next.
    rules = parse_rules(
        '[[rules]]\npaths = ["/admin"]\nmfa = true\npolicy = "allow"\n', "rules.toml"
    )
    assert rules.first_match(_target("/admin/x"), "bob", ()) is rules.rules[0]
