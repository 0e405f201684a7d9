"""Proving a current factor on the account pages (to reset TOTP or renew recovery codes)."""

from __future__ import annotations

from collections.abc import Callable

from verifier.factors.methods import RECOVERY_CODE
from verifier.factors.user_factors import UserFactors
from verifier.observe.audit import AuditLog
from verifier.resources.page_answers import split_current_code
from verifier.users.throttle import LoginThrottle


class CurrentFactorCheck:
    """Checks a typed code against the user's factors, throttled like a sign-in's second step.

    Shares the second-factor throttle of the sign-in: a stolen session cannot guess codes on
    the account pages faster than a stolen password could on the sign-in page.
    """

    def __init__(
        self,
        factors: UserFactors,
        throttle: LoginThrottle,
        audit: AuditLog,
        clock: Callable[[], float],
    ) -> None:
        self._factors = factors
        self._throttle = throttle
        self._audit = audit
        self._clock = clock

    async def reserve(self, user: str, address: str) -> None:
        """Count one attempt, or raise LoginThrottled."""
        await self._throttle.reserve(user, address)

    async def prove(self, user: str, typed: str, address: str, action: str) -> str | None:
        """The amr method of a right current code (used up), or None; call reserve() first."""
        totp_code, recovery_code = split_current_code(typed)
        method = await self._factors.check(user, totp_code, recovery_code, self._clock())
        if method is None:
            self.refused(user, address, action, "bad_code")
            return None
        await self._throttle.record_success(user, address)
        if method == RECOVERY_CODE:
            left = await self._factors.recovery_codes_left(user)
            self._audit.record("recovery_code.used", user=user, remaining=left)
        return method

    async def succeeded(self, user: str, address: str) -> None:
        """A right code (a confirmed enrolment's) gives its attempt back and clears the count."""
        await self._throttle.record_success(user, address)

    def refused(self, user: str, address: str, action: str, reason: str) -> None:
        """Record an attempt refused before its code was checked."""
        self._audit.record(
            "account.factor_check_failed", user=user, address=address, action=action, reason=reason
        )
