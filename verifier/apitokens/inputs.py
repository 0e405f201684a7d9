"""What a person types when making a token: its name and its lifetime, checked strictly."""

from __future__ import annotations

import re

from verifier.errors import VerifierError

MAX_NAME_LENGTH = 64
# "90d", "12h", "2w": a whole number and a unit. No "never": every token ends by itself.
_LIFETIME = re.compile(r"([1-9][0-9]{0,5})([hdw])")
_UNIT_SECONDS = {"h": 3600, "d": 86_400, "w": 7 * 86_400}
MIN_LIFETIME_SECONDS = 3600
DEFAULT_LIFETIME = "90d"


class BadTokenInput(VerifierError):
    """A token name, lifetime or scope that can never be valid; the message says why."""


def token_name(raw: str) -> str:
    """A token's name as typed, spaces squeezed; BadTokenInput if empty, long or unprintable.

    Only ever displayed (the account page escapes it): it says what the token is for.
    """
    name = " ".join(raw.split())
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        raise BadTokenInput(
            f"a token's name is 1 to {MAX_NAME_LENGTH} printable characters (what it is for, "
            "e.g. ci-deploy)"
        )
    return name


def lifetime_seconds(raw: str, max_days: int) -> int:
    """Seconds of a lifetime written `90d`, `12h` or `2w`, from an hour to `max_days` days."""
    match = _LIFETIME.fullmatch(raw.strip())
    if match is None:
        raise BadTokenInput(
            f"a lifetime is a whole number of hours, days or weeks: 12h, 90d, 2w (at most "
            f"{max_days}d); {raw!r} is not one"
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not MIN_LIFETIME_SECONDS <= seconds <= max_days * 86_400:
        raise BadTokenInput(f"a token lives from 1h to {max_days}d (VERIFIER_API_TOKEN_MAX_DAYS)")
    return seconds
