"""Whether this worker can serve: Redis answers, an access key signs, revocations arrive.

What `/readyz` reports. Each gunicorn worker answers for itself: a probe reaches one
worker, so one ready answer says nothing about the others.
"""

from __future__ import annotations

from collections.abc import Callable

from verifier.keyring.material import ACCESS
from verifier.keyring.ring import CurrentRing
from verifier.sessions.liveness import LivenessCache
from verifier.store import RedisClient
from verifier.store.outages import ping_problem

Clock = Callable[[], float]

# Below the probes' own timeouts (the Dockerfile's and compose's are 5 s), so a hung Redis
# is reported as a problem instead of the probe timing out with no reason.
PING_TIMEOUT_SECONDS = 2.0
NOT_SUBSCRIBED = "revocation channel not subscribed"
NO_ACCESS_KEY = "keys: no access key signs now"


class ReadinessCheck:
    """Lists what keeps this worker from serving; an empty list means ready."""

    def __init__(
        self,
        client: RedisClient,
        keyring: CurrentRing,
        clock: Clock,
        liveness: LivenessCache | None,
    ) -> None:
        self._redis = client
        self._keyring = keyring
        self._clock = clock
        # None when the liveness cache is off (VERIFIER_LIVENESS_CACHE_SECONDS=0): then
        # nothing listens for revocations, and every check asks Redis instead.
        self._liveness = liveness

    async def problems(self) -> list[str]:
        """Every reason this worker cannot serve now, in a fixed order."""
        found: list[str] = []
        unreachable = await ping_problem(self._redis, PING_TIMEOUT_SECONDS)
        if unreachable is not None:
            found.append(unreachable)
        if self._keyring.ring.signing_key(ACCESS, self._clock()) is None:
            # Tokens could not be issued: every login and refresh would fail.
            found.append(NO_ACCESS_KEY)
        if self._liveness is not None and not self._liveness.trusted:
            found.append(NOT_SUBSCRIBED)
        return found
