"""A listener's own heartbeat on the revocation channel: proof that publications reach it.

A subscription whose connection answers PING can still miss what is published: its node
cut off from the node the scripts publish on, a demoted master, a replica that stopped
replicating. So each listener publishes its own beat through the command client, as the
scripts publish revocations, and trusts its cache only while it hears its own beats back
within a deadline.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

Clock = Callable[[], float]

# "h <listener id> <n>" on the revocation channel. Every listener hears every listener's
# beats and ignores the others'.
HEARTBEAT = "h"
# A beat a second; three seconds without hearing one's own means the channel is not live.
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_DEADLINE_SECONDS = 3.0


def is_heartbeat(message: str) -> bool:
    """True for any listener's beat (not a revocation)."""
    return message.startswith(HEARTBEAT + " ")


class Heartbeat:
    """When to beat, and whether this listener's own beats come back in time."""

    def __init__(
        self,
        clock: Clock,
        period_seconds: float = HEARTBEAT_SECONDS,
        deadline_seconds: float = HEARTBEAT_DEADLINE_SECONDS,
    ) -> None:
        self._clock = clock
        self._period = period_seconds
        self._deadline = deadline_seconds
        self._id = secrets.token_hex(8)
        self._sent = 0
        self._next_at = 0.0
        self._waiting_since = 0.0
        self._proven = False

    @property
    def proven(self) -> bool:
        """True once one of this listener's beats came back on this subscription."""
        return self._proven

    def restart(self) -> None:
        """A new subscription: nothing proven yet, beat now."""
        now = self._clock()
        self._next_at = now
        self._waiting_since = now
        self._proven = False

    def due(self) -> str | None:
        """The next beat to publish if one is due now, else None."""
        now = self._clock()
        if now < self._next_at:
            return None
        self._sent += 1
        self._next_at = now + self._period
        return f"{HEARTBEAT} {self._id} {self._sent}"

    def hear(self, message: str) -> bool:
        """Note a beat from the channel; True if it is one of ours (proof of life)."""
        _, _, rest = message.partition(" ")
        listener, _, _ = rest.partition(" ")
        if listener != self._id:
            return False
        self._proven = True
        self._waiting_since = self._clock()
        return True

    def overdue(self) -> bool:
        """True when none of our beats has come back for longer than the deadline."""
        return self._clock() - self._waiting_since > self._deadline

    def seconds_to_next(self) -> float:
        """How long until the next beat is due (0 if it is due now)."""
        return max(0.0, self._next_at - self._clock())
