"""The central rules file: validation naming the line, matching, first match wins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from verifier.access import rules as rules_module
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


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("rules = 1\n", "r.toml:1: rules must be [[rules]] tables"),
        ("rules = [1]\n", "r.toml:1: rule 1: must be a [[rules]] table"),
        ("default_policy = 'maybe'\n", 'r.toml:1: default_policy must be "allow" or "deny"'),
        ("[[rules]]\npaths = ['/x']\n", 'r.toml:1: rule 1: needs policy = "allow" or "deny"'),
        ("[[rules]]\npolicy = 'permit'\n", 'r.toml:2: rule 1: policy must be "allow" or "deny"'),
        (
            "[[rules]]\npolicy = 'allow'\npath = ['/x']\n",
            "r.toml:3: rule 1: unknown key 'path' (known: hosts, max_age_minutes, methods, mfa,"
            " path_regex, paths, policy, subjects)",
        ),
        (
            "[[rules]]\npolicy = 'allow'\npath_regex = ''\n",
            "r.toml:3: rule 1: path_regex must be a non-empty string",
        ),
        (
            "[[rules]]\npolicy = 'allow'\npath_regex = 5\n",
            "r.toml:3: rule 1: path_regex must be a non-empty string",
        ),
        (
            "[[rules]]\npolicy = 'deny'\nsubjects = 'group:a'\n",
            "r.toml:3: rule 1: subjects must be a list of strings",
        ),
        (
            "[[rules]]\npolicy = 'allow'\nsubjects = ['admins']\n",
            "r.toml:3: rule 1: 'admins' is not a subject: write user:NAME or group:NAME",
        ),
        (
            "[[rules]]\npolicy = 'deny'\nhosts = ['Bad Host']\n",
            "r.toml:3: rule 1: hosts: 'Bad Host' is not a host name (lower case, or *.example.com)",
        ),
        (
            "[[rules]]\npolicy = 'deny'\nmethods = ['get']\n",
            "r.toml:3: rule 1: methods: 'get' must be upper case, like GET",
        ),
        (
            "[[rules]]\npolicy = 'allow'\nmfa = 'yes'\n",
            "r.toml:3: rule 1: mfa must be true or false",
        ),
        (
            "[[rules]]\npolicy = 'allow'\nsubjects = ['mfa']\n",
            "r.toml:3: rule 1: 'mfa' is not a subject: write user:NAME or group:NAME"
            " (a second factor is `mfa = true`)",
        ),
        # The line of the key in the rule that is wrong, not of the same key in an earlier one.
        (
            "[[rules]]\npolicy = 'deny'\npaths = ['/a']\n"
            "[[ rules ]]\npolicy = 'deny'\npaths = ['b']\n",
            "r.toml:6: rule 2: paths: 'b' must start with /",
        ),
        # Rules written inline have no header line: the file's first line is named.
        (
            "rules = [{ policy = 'deny', paths = 'x' }]\n",
            "r.toml:1: rule 1: paths must be a list of strings",
        ),
        (
            "[[rules]]\npolicy = = 'deny'\n\n\n",
            "r.toml:2: not valid TOML: Invalid value (at line 2, column 10)",
        ),
        ("x =", "r.toml:1: not valid TOML: Invalid value (at end of document)"),
    ],
)
def test_a_bad_file_is_refused_with_the_whole_message(text: str, error: str) -> None:
    with pytest.raises(RulesFileError) as raised:
        parse_rules(text, "r.toml")
    assert str(raised.value) == error


def test_a_spaced_rules_header_still_gives_the_rules_line() -> None:
    rules = parse_rules("\n[[ rules ]]\npolicy = 'deny'\n", "r.toml")
    assert [rule.line for rule in rules.rules] == [2]


def test_a_file_that_is_not_utf8_is_refused_naming_it(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(RulesFileError) as raised:
        load_rules(binary)
    assert str(raised.value) == f"{binary}: is not UTF-8 text"
    assert raised.value.source == str(binary)


def test_a_loaded_file_is_named_by_its_path(tmp_path: Path) -> None:
    written = tmp_path / "rules.toml"
    written.write_text("[[rules]]\npaths = ['/x']\npolicy = 'deny'\n", encoding="utf-8")
    rules = load_rules(written)
    assert rules.source == str(written)
    assert rules.rules[0].paths == ("/x",)


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("app.example", True),
        ("app.example.org", False),
        ("xapp.example", False),
        ("db.internal.example", False),
    ],
)
def test_a_host_without_a_star_matches_that_host_only(host: str, matches: bool) -> None:
    rules = parse_rules("[[rules]]\nhosts = ['app.example']\npolicy = 'deny'\n", "r.toml")
    assert (rules.first_match(_target("/", host=host), "bob", ()) is not None) is matches


@pytest.mark.parametrize(
    ("host", "matches"),
    [
        ("a.corp.example", True),
        ("a.b.corp.example", True),
        ("corp.example", False),
        (".corp.example", False),
        ("xcorp.example", False),
        ("evilcorp.example", False),
        ("other.example", False),
        ("a.much.longer.other.example", False),
    ],
)
def test_a_star_host_matches_names_below_it_only(host: str, matches: bool) -> None:
    rules = parse_rules("[[rules]]\nhosts = ['*.corp.example']\npolicy = 'deny'\n", "r.toml")
    assert (rules.first_match(_target("/", host=host), "bob", ()) is not None) is matches


@pytest.mark.parametrize(
    ("path", "covered"),
    [
        ("/admin", True),
        ("/admin/", True),
        ("/admin/x", True),
        ("/administrator", False),
        ("/", False),
    ],
)
def test_a_path_prefix_written_with_its_slash_covers_the_same_place(
    path: str, covered: bool
) -> None:
    rules = parse_rules("[[rules]]\npaths = ['/admin/']\npolicy = 'deny'\n", "r.toml")
    assert (rules.first_match(_target(path), "bob", ()) is not None) is covered


def test_a_rule_naming_a_user_matches_that_user() -> None:
    rules = parse_rules("[[rules]]\nsubjects = ['user:alice']\npolicy = 'deny'\n", "r.toml")
    assert rules.first_match(_target("/"), "alice", ()) is not None
    assert rules.first_match(_target("/"), "bob", ()) is None


def test_a_rules_file_is_read_as_utf8_whatever_the_locale(tmp_path: Path) -> None:
    # A service started under the C locale (ASCII, no coercion) still reads the file as
    # UTF-8: a comment with an accented letter must not make it "not UTF-8".
    written = tmp_path / "rules.toml"
    written.write_text("# café\n[[rules]]\npaths = ['/x']\npolicy = 'deny'\n", encoding="utf-8")
    script = (
        "import sys, pathlib; from verifier.access.rules import load_rules; "
        "load_rules(pathlib.Path(sys.argv[1]))"
    )
    # The package this process imported (the one under test), not whatever else is installed.
    package_root = str(Path(rules_module.__file__).parents[2])
    environment = {
        **os.environ,
        "LC_ALL": "C",
        "PYTHONCOERCECLOCALE": "0",
        "PYTHONUTF8": "0",
        "PYTHONPATH": package_root,
    }
    loaded = subprocess.run(
        [sys.executable, "-c", script, str(written)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
