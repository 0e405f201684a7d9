"""Sign-in conditions: `mfa` and `max_age=N`, what a location or rule asks of the session.

Subjects say *who* may enter (any of them); these say *how recently and how strongly* that
person must have signed in, and must all hold in addition. A subject whose session falls
short is not refused: they need a step-up (the missing factor, or a fresh sign-in).
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.errors import AccessConfigError
from verifier.factors.methods import SignIn, is_multi_factor

MFA = "mfa"
MAX_AGE = "max_age"
# The step each missing condition needs, as `/auth` names it (X-Verifier-Step-Up).
STEPS = (MFA, MAX_AGE)
# A year: longer means nothing (no session lives that long), and bounds the arithmetic.
MAX_AGE_LIMIT_MINUTES = 525_600
_MAX_AGE_PREFIX = MAX_AGE + "="


@dataclass(frozen=True, slots=True)
class SignInConditions:
    """A multi-factor session (`mfa`), and a sign-in at most `max_age_minutes` ago."""

    mfa: bool = False
    max_age_minutes: int | None = None

    @property
    def any(self) -> bool:
        """True when something is asked of the session."""
        return self.mfa or self.max_age_minutes is not None

    def combined(self, other: SignInConditions) -> SignInConditions:
        """Both sets at once: mfa if either asks, the shorter of two ages."""
        if not other.any:
            return self
        if not self.any:
            return other
        ages = [age for age in (self.max_age_minutes, other.max_age_minutes) if age is not None]
        return SignInConditions(self.mfa or other.mfa, min(ages) if ages else None)

    def missing(self, sign_in: SignIn | None, now: float) -> str | None:
        """The step the session needs (`mfa` first: it signs in afresh too), or None."""
        if sign_in is None:
            return MFA if self.mfa else MAX_AGE if self.max_age_minutes is not None else None
        if self.mfa and not is_multi_factor(sign_in.amr):
            return MFA
        if self.max_age_minutes is not None and now - sign_in.auth_time > self.max_age_minutes * 60:
            return MAX_AGE
        return None

    def describe(self) -> str:
        """The conditions as they are written (`mfa max_age=10`), or `` for none."""
        terms = [MFA] if self.mfa else []
        if self.max_age_minutes is not None:
            terms.append(f"{_MAX_AGE_PREFIX}{self.max_age_minutes}")
        return " ".join(terms)

    @classmethod
    def checked_max_age(cls, minutes: object) -> int:
        """A max_age in minutes, 1 to a year; raise AccessConfigError otherwise."""
        if (
            not isinstance(minutes, int)
            or isinstance(minutes, bool)
            or not 1 <= minutes <= MAX_AGE_LIMIT_MINUTES
        ):
            raise AccessConfigError(
                f"max_age is a whole number of minutes, 1 to {MAX_AGE_LIMIT_MINUTES}"
            )
        return minutes


# The one "nothing asked" value every parser returns, so the hot path tests it by identity.
NO_CONDITIONS = SignInConditions()
MFA_ONLY = SignInConditions(mfa=True)


def split_terms(terms: list[str]) -> tuple[SignInConditions, list[str]]:
    """Take the `mfa` and `max_age=N` terms out of a declaration; the rest are subjects."""
    mfa = False
    max_age: int | None = None
    subjects: list[str] = []
    for term in terms:
        if term == MFA:
            mfa = True
        elif term.startswith(_MAX_AGE_PREFIX):
            if max_age is not None:
                raise AccessConfigError(f"{term!r}: max_age is given twice")
            raw = term[len(_MAX_AGE_PREFIX) :]
            # Digits only: int() would also take "+5", " 5" or "5_0".
            minutes = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 7 else None
            try:
                max_age = SignInConditions.checked_max_age(minutes)
            except AccessConfigError as error:
                raise AccessConfigError(f"{term!r}: {error}") from None
        else:
            subjects.append(term)
    if not mfa and max_age is None:
        return NO_CONDITIONS, subjects
    return SignInConditions(mfa, max_age), subjects
