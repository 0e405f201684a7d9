"""Print the mutation score of the security core, per module, from mutmut's results.

`make mutation` runs `mutmut run` (the modules and tests in pyproject.toml's [tool.mutmut])
and then this, which reads `mutmut results --all true` and tests/mutation/equivalent.toml:
every surviving mutant must be listed there with why it is equivalent (it changes nothing a
caller could see), and every listed one must still survive. A module's score is its killed
mutants over its mutants less the equivalent ones. Exit status 1 when a survivor is not
explained, an explanation is stale, or a module scores under the target.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

TARGET_PERCENT = 90.0
EQUIVALENT_FILE = Path("tests/mutation/equivalent.toml")
# mutmut's verdicts: a mutant some test failed on (or that hung a test: the timeout is
# mutmut's own, far beyond the test's normal time) is killed.
KILLED = {"killed", "timeout", "caught by type check"}
SURVIVED = {"survived"}


@dataclass(frozen=True)
class Verdicts:
    """Each mutant's verdict by its mutmut name (`module.x_function__mutmut_N`)."""

    by_name: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Verdicts:
        """Read `mutmut results --all true`: one `    NAME: VERDICT` line per mutant."""
        found: dict[str, str] = {}
        for line in text.splitlines():
            name, separator, verdict = line.strip().partition(": ")
            if separator and "__mutmut_" in name:
                found[name] = verdict.strip()
        return cls(found)


def module_of(mutant: str) -> str:
    """`verifier.web.cookies` for `verifier.web.cookies.xǁCookiePolicyǁset_access__mutmut_3`."""
    return mutant.rsplit(".", 1)[0]


def only_module(
    verdicts: Verdicts, equivalent: dict[str, str], module: str
) -> tuple[Verdicts, dict[str, str]]:
    """One module's (or package's) verdicts and explanations: `make mutation MODULE=...`
    runs its mutants alone."""

    def inside(name: str) -> bool:
        return module_of(name) == module or module_of(name).startswith(module + ".")

    return (
        Verdicts({name: v for name, v in verdicts.by_name.items() if inside(name)}),
        {name: why for name, why in equivalent.items() if inside(name)},
    )


def read_equivalent(path: Path) -> dict[str, str]:
    """The mutants explained as equivalent, each with why: `[equivalent."NAME"] why = ...`."""
    if not path.exists():
        return {}
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    explained: dict[str, str] = {}
    for name, entry in document.get("equivalent", {}).items():
        why = str(entry.get("why", "")).strip()
        if not why:
            raise SystemExit(f"{path}: {name} says no `why`")
        explained[name] = why
    return explained


@dataclass(frozen=True)
class Report:
    """The lines to print and whether the run passes."""

    lines: list[str]
    passed: bool


def report(verdicts: Verdicts, equivalent: dict[str, str], target: float) -> Report:
    """The score per module, the problems, and whether every module meets `target`."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    unexplained: list[str] = []
    for name, verdict in sorted(verdicts.by_name.items()):
        module = module_of(name)
        if verdict in KILLED:
            counts[module]["killed"] += 1
        elif verdict in SURVIVED and name in equivalent:
            counts[module]["equivalent"] += 1
        else:
            counts[module]["left"] += 1
            unexplained.append(f"  {name}: {verdict}")
    stale = sorted(
        f"  {name}: {verdicts.by_name.get(name, 'no such mutant')}"
        for name in equivalent
        if verdicts.by_name.get(name) not in SURVIVED
    )
    lines = [f"{'module':<34} {'mutants':>7} {'killed':>7} {'equiv.':>7} {'left':>5} {'score':>7}"]
    passed = not unexplained and not stale
    total: Counter[str] = Counter()
    for module in sorted(counts):
        count = counts[module]
        total.update(count)
        score = _score(count)
        passed = passed and score >= target
        lines.append(_row(module, count, score))
    lines.append(_row("all", total, _score(total)))
    if unexplained:
        lines.append(f"survivors neither killed nor explained in {EQUIVALENT_FILE}:")
        lines += unexplained
    if stale:
        lines.append(f"explained in {EQUIVALENT_FILE} but no longer surviving:")
        lines += stale
    lines.append(f"target: {target:g}% killed in every module: {'met' if passed else 'NOT met'}")
    return Report(lines, passed)


def _score(count: Counter[str]) -> float:
    # Equivalent mutants cannot be killed by any test: they are left out of the count.
    judged = count["killed"] + count["left"]
    return 100.0 * count["killed"] / judged if judged else 100.0


def _row(module: str, count: Counter[str], score: float) -> str:
    mutants = count["killed"] + count["equivalent"] + count["left"]
    return (
        f"{module:<34} {mutants:>7} {count['killed']:>7} {count['equivalent']:>7} "
        f"{count['left']:>5} {score:>6.1f}%"
    )


def main(argv: list[str]) -> int:
    """Print the report of the results in mutants/; exit status 1 unless it passes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutmut", default=str(Path(sys.executable).parent / "mutmut"))
    parser.add_argument("--equivalent", type=Path, default=EQUIVALENT_FILE)
    parser.add_argument("--target", type=float, default=TARGET_PERCENT)
    parser.add_argument("--module", help="score this module alone (`make mutation MODULE=...`)")
    args = parser.parse_args(argv)
    results = subprocess.run(
        [args.mutmut, "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    )
    verdicts = Verdicts.parse(results.stdout)
    equivalent = read_equivalent(args.equivalent)
    if args.module:
        verdicts, equivalent = only_module(verdicts, equivalent, args.module)
    if not verdicts.by_name:
        print("no mutation results in mutants/: run `make mutation`", file=sys.stderr)
        return 1
    outcome = report(verdicts, equivalent, args.target)
    print("\n".join(outcome.lines))
    return 0 if outcome.passed else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
