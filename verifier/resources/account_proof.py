"""Proving a current factor on the account pages (to reset TOTP or renew recovery codes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import falcon
import falcon.asgi

from verifier.errors import LoginThrottled
from verifier.factors.methods import RECOVERY_CODE
from verifier.factors.user_factors import UserFactors
from verifier.i18n import N_
from verifier.observe.audit import AuditLog
from verifier.resources.login import throttled_answer
from verifier.resources.page_answers import code_problem, split_current_code
from verifier.users.throttle import LoginThrottle

WRONG_CURRENT_CODE = N_("That code is not right, or was already used.")


@dataclass(frozen=True, slots=True)
class ProofRefused:
    """A current code not taken: the answer's status and the message the page shows."""

    status: str
    message: str
    # True when the code itself was checked (and wrong): what is left may have changed.
    checked: bool = False


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

    async def prove_current(
        self, resp: falcon.asgi.Response, user: str, typed: str, address: str, action: str
    ) -> str | ProofRefused:
        """Every account page's check of a typed current code: its shape (400), the throttle
        (429, with Retry-After set on `resp`), then the code (403); the amr method if right."""
        problem = code_problem(typed)
        if problem is not None:
            self.refused(user, address, action, "bad_input")
            return ProofRefused(falcon.HTTP_400, problem)
        try:
            await self.reserve(user, address)
        except LoginThrottled as throttled:
            self.refused(user, address, action, "throttled")
            return ProofRefused(falcon.HTTP_429, throttled_answer(resp, throttled))
        method = await self.prove(user, typed, address, action)
        if method is None:
            return ProofRefused(falcon.HTTP_403, WRONG_CURRENT_CODE, checked=True)
        return method

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
