"""The checks before the service starts: settings, key files, rules file, then Redis.

`verifier check-config` prints what they find; `verifier serve` runs them first. Every
problem is collected, so one run shows everything there is to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from verifier.errors import KeyFileError
from verifier.keyring.loader import STATIC_POLICY, directory_ring, load_ring
from verifier.settings import Settings, SettingsReading, read_settings
from verifier.store import RedisTarget, connect
from verifier.store.outages import ping_problem

REDIS_TIMEOUT_SECONDS = 3.0


@dataclass(frozen=True)
class Preflight:
    """What the checks found; `settings` is None unless `problems` is empty."""

    settings: Settings | None
    problems: tuple[str, ...]
    # Kept even when other values are bad, so Redis can still be tried.
    redis_url: str | None = field(repr=False)
    # The deployment (any mode), kept in the same way; None if its own variables are bad.
    redis: RedisTarget | None = None


def check_configuration(environ: Mapping[str, str], now: float) -> Preflight:
    """Check the environment, the keys (at `now`) and the rules file; never raise."""
    reading = read_settings(environ)
    problems = list(reading.problems)
    key_problem = _key_problem(reading, now)
    if key_problem is not None:
        problems.append(key_problem)
    return Preflight(
        settings=reading.settings if not problems else None,
        problems=tuple(problems),
        redis_url=reading.redis_url,
        redis=reading.redis,
    )


def _key_problem(reading: SettingsReading, now: float) -> str | None:
    try:
        if reading.settings is not None:
            load_ring(reading.settings, now)
        elif reading.keys_dir is not None and reading.keys_dir.is_absolute():
            # Other values are bad, so there is no policy from them; but the policy sets
            # only how long old keys verify, not which files are valid or which key signs.
            directory_ring(reading.keys_dir, STATIC_POLICY, now)
    except KeyFileError as error:
        return str(error)
    return None


async def redis_problem(target: RedisTarget) -> str | None:
    """None if the Redis deployment answers PING, else why not (never an address or URL)."""
    try:
        client = connect(target)
    except ValueError:
        return "redis: VERIFIER_REDIS_URL cannot be parsed"
    try:
        return await ping_problem(client, REDIS_TIMEOUT_SECONDS)
    finally:
        await client.aclose()
