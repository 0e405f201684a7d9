"""Which master the sentinels name: the newest epoch among a majority (pure logic)."""

from __future__ import annotations

import pytest
from redis.asyncio.sentinel import MasterNotFoundError

from verifier.store.sentinel import MasterView, choose_master, majority, view_of

OLD = ("127.0.0.1", 7001)
NEW = ("127.0.0.1", 7002)


def test_a_majority_is_more_than_half_of_the_configured_sentinels() -> None:
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]


def test_every_sentinel_naming_the_same_master_names_it() -> None:
    views = [MasterView(OLD, 0, True)] * 3
    assert choose_master(views, 3) == OLD


def test_a_sentinel_behind_on_the_failover_loses_to_the_newer_epoch() -> None:
    # Two sentinels have not heard of the failover yet; the one that led it has.
    views = [MasterView(OLD, 4, True), MasterView(OLD, 4, True), MasterView(NEW, 5, True)]
    assert choose_master(views, 3) == NEW


def test_a_lagging_sentinel_first_in_line_does_not_decide() -> None:
    views = [MasterView(OLD, 1, True), MasterView(NEW, 2, True), None]
    assert choose_master(views, 3) == NEW


def test_fewer_than_a_majority_answering_names_no_master() -> None:
    with pytest.raises(MasterNotFoundError, match="1 of 3 sentinels answered"):
        choose_master([MasterView(NEW, 9, True), None, None], 3)


def test_no_answer_at_all_names_no_master() -> None:
    with pytest.raises(MasterNotFoundError):
        choose_master([], 3)


def test_a_master_the_newest_sentinels_see_down_is_not_used() -> None:
    views = [MasterView(OLD, 3, True), MasterView(NEW, 4, False), MasterView(NEW, 4, False)]
    with pytest.raises(MasterNotFoundError, match="down"):
        choose_master(views, 3)


def test_one_sentinel_seeing_the_master_up_at_the_newest_epoch_is_enough() -> None:
    # Down is each sentinel's own view (s_down) until they agree; up is evidence enough.
    views = [MasterView(NEW, 4, False), MasterView(NEW, 4, True), None]
    assert choose_master(views, 3) == NEW


def _state(flags: str, epoch: int = 2) -> dict[str, object]:
    names = set(flags.split(","))
    return {
        "ip": "127.0.0.1",
        "port": 7002,
        "config-epoch": epoch,
        "is_master": "master" in names,
        "is_sdown": "s_down" in names,
        "is_odown": "o_down" in names,
    }


@pytest.mark.parametrize(
    ("flags", "usable"),
    [("master", True), ("master,s_down", False), ("master,s_down,o_down", False), ("slave", False)],
)
def test_a_sentinel_reply_is_usable_only_for_a_master_it_sees_up(flags: str, usable: bool) -> None:
    assert view_of(_state(flags)) == MasterView(NEW, 2, usable)


def test_a_sentinel_reply_without_an_epoch_is_read_as_epoch_zero() -> None:
    state = _state("master")
    del state["config-epoch"]
    assert view_of(state) == MasterView(NEW, 0, True)
