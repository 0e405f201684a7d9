"""Key operations on a keys directory: generate, rotate, describe, retire.

Every operation takes the time (`now`, unix seconds) instead of reading a clock, and only
writes whole files atomically (verifier.keyring.files); the running verifiers pick the
change up within their reload interval.

The publish delay: a rotated key signs nothing for `publish_delay_seconds(settings)`,

    2 x JWKS_MAX_AGE_SECONDS + 2 x KEYS_RELOAD_SECONDS + JWT_LEEWAY_SECONDS   (VERIFIER_*)

so that before it signs, every verifier has read it (one reload interval, doubled for a
slow poll), every app has refetched the JWKS (a client cache behind a shared cache that
ignores `Age` may keep a copy for two max-ages), and hosts whose clocks lag have caught up.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verifier.errors import KeyOperationRefused
from verifier.keyring.files import (
    read_key_directory,
    remove_key_file,
    write_key_file,
)
from verifier.keyring.material import (
    ACCESS,
    ACCESS_ALGORITHMS,
    DEFAULT_ASSERTION_ALGORITHM,
    Key,
    KeyUse,
    generate_key,
)
from verifier.keyring.ring import KeyRing, KeyState, RingPolicy
from verifier.settings import Settings, SigningKey


def publish_delay_seconds(settings: Settings) -> int:
    """The default wait before a rotated key signs (the rule in this module's docstring)."""
    return (
        2 * settings.jwks_max_age_seconds
        + 2 * settings.keys_reload_seconds
        + settings.jwt_leeway_seconds
    )


@dataclass(frozen=True)
class KeyRow:
    """One line of `verifier keys list`."""

    kid: str
    use: KeyUse
    alg: str
    state: KeyState
    created: int
    activates_at: int
    # When it stops verifying (None: not superseded yet); for a retired key, when its
    # tombstone may go.
    verifies_until: float | None


def existing_keys(directory: Path) -> tuple[Key, ...]:
    """Every key in the directory (none if it does not exist yet)."""
    if not directory.exists():
        return ()
    return read_key_directory(directory).keys


def generate(
    directory: Path,
    uses: Sequence[KeyUse],
    now: int,
    *,
    assertion_alg: str = DEFAULT_ASSERTION_ALGORITHM,
    force: bool = False,
) -> list[Key]:
    """Create a first key of each use, signing at once; refuse a use that has keys already."""
    keys = existing_keys(directory)
    if not force:
        for use in uses:
            present = [key.kid for key in keys if key.use == use and not key.retired]
            if present:
                raise KeyOperationRefused(
                    f"{directory} has {use} keys already ({', '.join(present)}): rotate "
                    f"with `verifier keys rotate --use {use}`, or add one that signs at "
                    "once with --force"
                )
    created = [
        generate_key(use, _alg_for(use, assertion_alg), now, _after_latest(keys, use, now))
        for use in uses
    ]
    for key in created:
        write_key_file(directory, key)
    return created


def import_access_keys(directory: Path, signing_keys: Sequence[SigningKey], now: int) -> list[Key]:
    """Write the keys of a VERIFIER_JWT_KEYS list as access keys: the first keeps signing.

    The others become keys superseded now: they verify the tokens they signed for one more
    access lifetime, then expire. Same kids, same secrets: tokens issued before the switch
    stay valid, so switching to a keys directory logs nobody out.
    """
    present = [key.kid for key in existing_keys(directory) if key.use == ACCESS]
    if present:
        raise KeyOperationRefused(
            f"{directory} has access keys already ({', '.join(present)}): import into a "
            "directory without any"
        )
    # Later in the list, older: each activates a second before the one listed before it,
    # so the first signs and every other is superseded from now on.
    imported = [
        Key(listed.kid, ACCESS, "HS256", now, now - age, secret=listed.secret)
        for age, listed in enumerate(signing_keys)
    ]
    for key in imported:
        write_key_file(directory, key)
    return imported


def rotate(
    directory: Path,
    uses: Sequence[KeyUse],
    now: int,
    publish_seconds: int,
    policy: RingPolicy,
    *,
    assertion_alg: str | None = None,
) -> list[Key]:
    """Add a key of each use that starts signing `publish_seconds` from now."""
    if publish_seconds < 0:
        raise KeyOperationRefused("--publish-seconds must be >= 0")
    keys = existing_keys(directory)
    ring = KeyRing(keys, policy)
    rotated: list[Key] = []
    for use in uses:
        current = ring.signing_key(use, now)
        if current is None:
            raise KeyOperationRefused(
                f"{directory} has no {use} key to rotate: create one with "
                f"`verifier keys generate --use {use}`"
            )
        for entry in ring.entries():
            if entry.key.use == use and entry.state(now) is KeyState.PENDING:
                raise KeyOperationRefused(
                    f"{entry.key.kid} is pending already (signs from "
                    f"{format_time(entry.key.activates_at)}): let it activate first"
                )
        alg = assertion_alg or current.alg
        activates_at = _after_latest(keys, use, now + publish_seconds)
        rotated.append(generate_key(use, _alg_for(use, alg), now, activates_at))
    for key in rotated:
        write_key_file(directory, key)
    return rotated


def describe(directory: Path, policy: RingPolicy, now: int) -> list[KeyRow]:
    """Every key of the directory with its state at `now`."""
    ring = KeyRing(existing_keys(directory), policy)
    rows = []
    for entry in ring.entries():
        if entry.key.retired:
            until: float | None = entry.tokens_expire_by
        else:
            until = entry.verifies_until if entry.verifies_until != float("inf") else None
        rows.append(
            KeyRow(
                kid=entry.key.kid,
                use=entry.key.use,
                alg=entry.key.alg,
                state=entry.state(now),
                created=entry.key.created,
                activates_at=entry.key.activates_at,
                verifies_until=until,
            )
        )
    return rows


def retire(directory: Path, kid: str, policy: RingPolicy, now: int, *, force: bool) -> str:
    """Delete a key that verifies nothing any more, or withdraw a live one with `force`.

    Returns what was done, for the operator. Withdrawing leaves a tombstone (the file
    without its material, `retired_at` set): tokens under that kid are then treated as
    expired, so users with one are silently refreshed instead of being sent to log in.
    """
    ring = KeyRing(existing_keys(directory), policy)
    entry = ring.entry(kid)
    if entry is None:
        raise KeyOperationRefused(f"there is no key {kid!r} in {directory}")
    state = entry.state(now)
    activates = entry.key.activates_at
    if state is KeyState.EXPIRED or (state is KeyState.RETIRED and now >= entry.tokens_expire_by):
        remove_key_file(directory, kid)
        return f"deleted {kid}: every token it signed had expired"
    if state is KeyState.RETIRED:
        if not force:
            raise KeyOperationRefused(
                f"{kid} is retired; its tombstone turns its tokens into silent refreshes "
                f"until {format_time(entry.tokens_expire_by)}: delete it after that "
                "(or now with --force: holders of its tokens would have to log in again)"
            )
        remove_key_file(directory, kid)
        return f"deleted the tombstone of {kid}"
    use = entry.key.use
    if state is KeyState.SIGNING:
        # Even --force: the ring would fall back to an older key, or to none at all.
        raise KeyOperationRefused(
            f"{kid} signs {use} tokens now: rotate first (`verifier keys rotate --use {use}`; "
            "for a compromised key add --publish-seconds 0), then retire it"
        )
    if not force:
        if state is KeyState.PENDING:
            problem = f"is pending: it is published and signs from {format_time(activates)}"
        else:
            problem = f"still verifies tokens until {format_time(entry.verifies_until)}"
        raise KeyOperationRefused(
            f"{kid} {problem}. Retire it once it has expired (`verifier keys list`), or "
            "withdraw it now with --force if it is compromised"
        )
    write_key_file(directory, entry.key.withdrawn(now), replace=True)
    if use == ACCESS:
        effect = "access tokens it signed are refreshed silently on their next request"
    else:
        effect = (
            "it left the JWKS; apps that cached the JWKS may accept its assertions for up "
            "to VERIFIER_JWKS_MAX_AGE_SECONDS more"
        )
    return f"withdrew {kid}: it verifies nothing now; {effect}"


def format_time(unix_seconds: float) -> str:
    """ISO 8601 UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix_seconds))


def _after_latest(keys: Sequence[Key], use: KeyUse, wanted: int) -> int:
    # Keys are ordered by activation second: a new key must activate strictly after every
    # existing one of its use, or a rotation within the same second might not take over.
    # A key withdrawn while still pending never signed and supersedes nothing (the ring
    # skips it): its planned activation must not hold back the key that replaces it.
    latest = max(
        (key.activates_at for key in keys if key.use == use and not _withdrawn_unused(key)),
        default=wanted - 1,
    )
    return max(wanted, latest + 1)


def _withdrawn_unused(key: Key) -> bool:
    return key.retired_at is not None and key.retired_at <= key.activates_at


def _alg_for(use: KeyUse, assertion_alg: str) -> str:
    return ACCESS_ALGORITHMS[0] if use == ACCESS else assertion_alg
