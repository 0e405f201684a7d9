"""tools/mutation_score.py: the score per module, and survivors that must be explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.mutation_score import Verdicts, module_of, only_module, read_equivalent, report

RESULTS = """\
    verifier.web.cookies.x_clean__mutmut_1: killed
    verifier.web.cookies.x_clean__mutmut_2: survived
    verifier.web.cookies.xǁCookiePolicyǁset_access__mutmut_1: timeout
    verifier.web.csrf.x_same_origin__mutmut_1: killed
    verifier.web.csrf.x_same_origin__mutmut_2: no tests
"""


def test_results_are_read_by_mutant_and_module() -> None:
    verdicts = Verdicts.parse(RESULTS)

    assert len(verdicts.by_name) == 5
    assert verdicts.by_name["verifier.web.csrf.x_same_origin__mutmut_2"] == "no tests"
    assert module_of("verifier.web.cookies.xǁCookiePolicyǁset_access__mutmut_1") == (
        "verifier.web.cookies"
    )


def test_an_explained_survivor_leaves_the_score_and_the_run_passes() -> None:
    equivalent = {
        "verifier.web.cookies.x_clean__mutmut_2": "why",
        "verifier.web.csrf.x_same_origin__mutmut_2": "why",
    }
    # A mutant no test reaches is not a survivor that can be explained: it counts as left.
    outcome = report(Verdicts.parse(RESULTS), equivalent, target=50.0)

    assert not outcome.passed
    assert "verifier.web.csrf.x_same_origin__mutmut_2: no tests" in "\n".join(outcome.lines)


def test_the_score_is_killed_over_mutants_less_the_equivalent_ones() -> None:
    equivalent = {"verifier.web.cookies.x_clean__mutmut_2": "a why"}
    verdicts = Verdicts.parse(RESULTS.replace("x_same_origin__mutmut_2: no tests", "x_2: killed"))

    outcome = report(verdicts, equivalent, target=90.0)

    assert outcome.passed, outcome.lines
    cookies = next(line for line in outcome.lines if line.startswith("verifier.web.cookies "))
    assert cookies.split() == ["verifier.web.cookies", "3", "2", "1", "0", "100.0%"]


def test_an_unexplained_survivor_or_a_stale_explanation_fails_the_run() -> None:
    verdicts = Verdicts.parse("    verifier.web.csrf.x_a__mutmut_1: survived\n")
    stale = {"verifier.web.csrf.x_gone__mutmut_9": "it was equivalent once"}

    outcome = report(verdicts, stale, target=0.0)

    text = "\n".join(outcome.lines)
    assert not outcome.passed
    assert "verifier.web.csrf.x_a__mutmut_1: survived" in text
    assert "verifier.web.csrf.x_gone__mutmut_9: no such mutant" in text


def test_an_explanation_without_a_why_is_refused(tmp_path: Path) -> None:
    listed = tmp_path / "equivalent.toml"
    listed.write_text('[equivalent."verifier.a.x_f__mutmut_1"]\nwhy = ""\n', encoding="utf-8")

    with pytest.raises(SystemExit, match="says no `why`"):
        read_equivalent(listed)


def test_the_explanations_file_reads() -> None:
    assert isinstance(read_equivalent(Path("tests/mutation/equivalent.toml")), dict)


def test_a_run_of_one_module_is_scored_without_the_others_results_or_explanations() -> None:
    # The other modules' mutants were not run: neither they nor their explanations count.
    equivalent = {
        "verifier.web.cookies.x_clean__mutmut_2": "why",
        "verifier.web.csrf.x_same_origin__mutmut_9": "why",
    }

    verdicts, explained = only_module(Verdicts.parse(RESULTS), equivalent, "verifier.web.cookies")

    assert sorted(verdicts.by_name) == [
        "verifier.web.cookies.x_clean__mutmut_1",
        "verifier.web.cookies.x_clean__mutmut_2",
        "verifier.web.cookies.xǁCookiePolicyǁset_access__mutmut_1",
    ]
    assert explained == {"verifier.web.cookies.x_clean__mutmut_2": "why"}
    assert report(verdicts, explained, target=90.0).passed


def test_a_run_of_a_package_is_scored_over_its_modules_alone() -> None:
    results = RESULTS + "    verifier.webhooks.x_a__mutmut_1: survived\n"

    verdicts, _ = only_module(Verdicts.parse(results), {}, "verifier.web")

    assert {module_of(name) for name in verdicts.by_name} == {
        "verifier.web.cookies",
        "verifier.web.csrf",
    }
