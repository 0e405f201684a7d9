"""verifier.store.heartbeat: when a listener beats and when its channel counts as proven."""

from __future__ import annotations

from verifier.store.heartbeat import Heartbeat, is_heartbeat


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_beat_is_due_at_once_then_once_a_period() -> None:
    clock = Clock()
    heartbeat = Heartbeat(clock, period_seconds=1.0, deadline_seconds=3.0)
    heartbeat.restart()
    first = heartbeat.due()
    assert first is not None and is_heartbeat(first)
    assert heartbeat.due() is None
    assert heartbeat.seconds_to_next() == 1.0
    clock.now += 1.0
    second = heartbeat.due()
    assert second is not None and second != first


def test_only_our_own_beat_proves_the_channel() -> None:
    clock = Clock()
    ours, theirs = Heartbeat(clock), Heartbeat(clock)
    ours.restart()
    beat_of_theirs = theirs.due()
    assert beat_of_theirs is not None
    assert not ours.hear(beat_of_theirs)
    assert not ours.proven
    beat = ours.due()
    assert beat is not None
    assert ours.hear(beat)
    assert ours.proven


def test_the_channel_is_overdue_when_no_own_beat_came_back_within_the_deadline() -> None:
    clock = Clock()
    heartbeat = Heartbeat(clock, period_seconds=1.0, deadline_seconds=3.0)
    heartbeat.restart()
    clock.now += 3.0
    assert not heartbeat.overdue()
    clock.now += 0.5
    assert heartbeat.overdue()
    beat = heartbeat.due()
    assert beat is not None
    heartbeat.hear(beat)
    assert not heartbeat.overdue()


def test_a_new_subscription_starts_unproven() -> None:
    clock = Clock()
    heartbeat = Heartbeat(clock)
    heartbeat.restart()
    beat = heartbeat.due()
    assert beat is not None
    heartbeat.hear(beat)
    heartbeat.restart()
    assert not heartbeat.proven


def test_revocation_messages_are_not_heartbeats() -> None:
    assert not is_heartbeat("s alice abc")
    assert not is_heartbeat("u alice")
    assert not is_heartbeat("g alice")
    assert not is_heartbeat("hello")
