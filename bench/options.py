"""The knobs of a run, parsed from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# In the order they run: the baselines first, then the two that load the CPU in the
# background (a lowest-priority busy loop, then the login flood's password hashing) last.
SCENARIOS = (
    "floor", "naive", "valid", "access", "metrics", "token", "sso", "fastpath", "socket",
    "refresh", "login", "spin", "flood",
)  # fmt: skip
# Both are reported by their p99 against the quiet valid path's, so they need that run too;
# the flood is judged against the spin control's p99, so it needs that one as well.
_NEEDS = {
    "access": ("valid",),
    "metrics": ("valid",),
    "sso": ("valid",),
    "socket": ("floor",),
    "spin": ("valid",),
    "flood": ("valid", "spin"),
}
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"
# `--redis`: one topology, or "all": the same scenarios on each, in one run, compared.
REDIS_CHOICES = ("standalone", "sentinel", "cluster", "all")
HA_TOPOLOGIES = ("sentinel", "cluster")
# What `--redis all` runs unless --only says otherwise: the path every protected request
# takes, and the one that writes (a rotation per request).
COMPARED_SCENARIOS = ("valid", "refresh")


@dataclass(frozen=True)
class Options:
    """One run's settings; defaults are the ones issue 4's targets are stated for."""

    duration_seconds: int = 10
    warmup_seconds: int = 2
    connections: int = 16
    threads: int = 2
    workers: int = 2
    flood_connections: int = 50
    scenarios: tuple[str, ...] = SCENARIOS
    output: Path = DEFAULT_OUTPUT
    redis: str = "standalone"
    # The topology twice, VERIFIER_REDIS_MIN_REPLICAS 0 and 1, compared (Sentinel, Cluster).
    compare_replica_ack: bool = False


def parse_options(argv: Sequence[str] | None = None) -> Options:
    """Options from `python -m bench [flags]`."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure /auth through nginx against a floor and a naive baseline.",
    )
    parser.add_argument("--duration", type=_positive, default=10, help="seconds per scenario")
    parser.add_argument("--warmup", type=_positive, default=2, help="seconds before each")
    parser.add_argument("--connections", type=_positive, default=16, help="wrk connections")
    parser.add_argument("--threads", type=_positive, default=2, help="wrk threads")
    parser.add_argument("--workers", type=_positive, default=2, help="verifier workers")
    parser.add_argument(
        "--flood-connections", type=_positive, default=50, help="concurrent bad logins"
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="SCENARIO",
        help=f"run only these (repeat or comma-separate): {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results file")
    parser.add_argument(
        "--redis",
        choices=REDIS_CHOICES,
        default="standalone",
        help="the Redis under the verifiers; all: the scenarios (by default "
        f"{', '.join(COMPARED_SCENARIOS)}) on each topology, compared with standalone",
    )
    parser.add_argument(
        "--compare-replica-ack",
        action="store_true",
        help="with --redis sentinel or cluster: that topology twice, rotations and "
        "revocations answered at once (VERIFIER_REDIS_MIN_REPLICAS=0) and after a replica "
        "confirmed them (=1), compared",
    )
    args = parser.parse_args(argv)
    if args.compare_replica_ack and args.redis not in HA_TOPOLOGIES:
        parser.error("--compare-replica-ack needs --redis sentinel or --redis cluster")
    # wrk gives each thread connections / threads connections, rounded down, and refuses
    # fewer connections than threads: a remainder would silently run fewer connections.
    for flag, connections in (
        ("--connections", args.connections),
        ("--flood-connections", args.flood_connections),
    ):
        if connections % args.threads:
            parser.error(f"{flag} ({connections}) must be a multiple of --threads ({args.threads})")
    return Options(
        duration_seconds=args.duration,
        warmup_seconds=args.warmup,
        connections=args.connections,
        threads=args.threads,
        workers=args.workers,
        flood_connections=args.flood_connections,
        scenarios=_selected(
            parser, args.only, compared=args.redis == "all" or args.compare_replica_ack
        ),
        output=args.output,
        redis=args.redis,
        compare_replica_ack=args.compare_replica_ack,
    )


def _selected(
    parser: argparse.ArgumentParser, only: list[str] | None, compared: bool = False
) -> tuple[str, ...]:
    if not only:
        return COMPARED_SCENARIOS if compared else SCENARIOS
    wanted = {name.strip() for item in only for name in item.split(",") if name.strip()}
    unknown = wanted - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    for name in list(wanted):
        wanted.update(_NEEDS.get(name, ()))
    return tuple(name for name in SCENARIOS if name in wanted)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a whole number >= 1")
    return value
