"""verifier.keyring.reloader: changes show up without a restart; a bad change keeps the ring."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

import pytest

from verifier.errors import KeyFileError
from verifier.keyring.files import write_key_file
from verifier.keyring.loader import directory_ring, ring_policy
from verifier.keyring.material import generate_key
from verifier.keyring.reloader import KeyRingReloader, watched_ring
from verifier.keyring.ring import CurrentRing, KeyRing
from verifier.observe import RecordingAuditLog
from verifier.settings import Settings, SigningKey

NOW = 1_700_000_000
DEADLINE_SECONDS = 10.0


def clock() -> float:
    return NOW


def settings_for(keys_dir: Path | None) -> Settings:
    if keys_dir is None:
        return Settings(redis_url="redis://h/0", signing_keys=(SigningKey("k", b"k" * 40),))
    return Settings(redis_url="redis://h/0", keys_dir=keys_dir, keys_reload_seconds=1)


def started(tmp_path: Path) -> tuple[Path, CurrentRing, KeyRingReloader]:
    directory = tmp_path / "keys"
    write_key_file(directory, generate_key("access", "HS256", NOW, NOW))
    current, reloader = watched_ring(settings_for(directory), clock)
    assert reloader is not None
    return directory, current, reloader


def kids(ring: KeyRing) -> set[str]:
    return set(ring.kids())


def test_static_settings_need_no_reloader() -> None:
    current, reloader = watched_ring(settings_for(None), clock)
    assert reloader is None
    assert kids(current.ring) == {"k"}


def test_a_bad_directory_stops_start_up_naming_the_file(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    path = write_key_file(directory, generate_key("access", "HS256", NOW, NOW))
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match=rf"^{path}: is accessible to group or others"):
        watched_ring(settings_for(directory), clock)


def test_a_directory_without_an_access_key_stops_start_up(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    write_key_file(directory, generate_key("assertion", "EdDSA", NOW, NOW))
    with pytest.raises(KeyFileError, match="holds no access key that signs now"):
        watched_ring(settings_for(directory), clock)


def test_nothing_changed_means_nothing_reloaded(tmp_path: Path) -> None:
    _, current, reloader = started(tmp_path)
    ring = current.ring
    assert asyncio.run(reloader.check()) is False
    assert current.ring is ring


def test_a_key_added_to_the_directory_is_swapped_in(tmp_path: Path) -> None:
    directory, current, reloader = started(tmp_path)
    added = generate_key("assertion", "EdDSA", NOW, NOW + 60)
    write_key_file(directory, added)

    assert asyncio.run(reloader.check()) is True

    assert added.kid in kids(current.ring)
    assert [key.kid for key in current.ring.published(NOW)] == [added.kid]


def test_a_broken_file_keeps_the_ring_in_use_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory, current, reloader = started(tmp_path)
    ring = current.ring
    broken = directory / "assertion-x.json"
    broken.write_text("{not json", encoding="utf-8")
    broken.chmod(0o600)

    with caplog.at_level(logging.ERROR, logger="verifier.keyring.reloader"):
        assert asyncio.run(reloader.check()) is False
        assert asyncio.run(reloader.check()) is False

    assert current.ring is ring
    errors = [record.getMessage() for record in caplog.records]
    assert len(errors) == 1
    assert f"{broken}: is not valid JSON" in errors[0]
    # Fixed: the next check loads it.
    broken.unlink()
    write_key_file(directory, generate_key("assertion", "EdDSA", NOW, NOW))
    assert asyncio.run(reloader.check()) is True
    assert current.ring is not ring


def test_removing_every_access_key_keeps_the_ring_in_use(tmp_path: Path) -> None:
    directory, current, reloader = started(tmp_path)
    ring = current.ring
    for path in directory.iterdir():
        path.unlink()

    assert asyncio.run(reloader.check()) is False
    assert current.ring is ring


def test_an_unreadable_directory_keeps_the_ring_then_recovers(tmp_path: Path) -> None:
    directory, current, reloader = started(tmp_path)
    ring = current.ring
    moved = tmp_path / "moved"
    directory.rename(moved)

    assert asyncio.run(reloader.check()) is False
    assert current.ring is ring
    moved.rename(directory)
    # Back, unchanged: read again all the same (the failure forgot what was loaded).
    assert asyncio.run(reloader.check()) is True


def test_run_picks_up_a_change_on_its_own_and_stops_when_asked(tmp_path: Path) -> None:
    directory = tmp_path / "keys"
    write_key_file(directory, generate_key("access", "HS256", NOW, NOW))
    policy = ring_policy(settings_for(directory))
    ring, signature = directory_ring(directory, policy, NOW)
    current = CurrentRing(ring)
    reloader = KeyRingReloader(
        directory, policy, current, clock, interval_seconds=0.01, signature=signature
    )
    added = generate_key("access", "HS256", NOW, NOW + 60)

    async def scenario() -> None:
        task = asyncio.create_task(reloader.run())
        write_key_file(directory, added)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while added.kid not in kids(current.ring):
            assert time.monotonic() < deadline, "the reloader never picked up the new key"
            await asyncio.sleep(0.01)
        reloader.stop()
        await asyncio.wait_for(task, DEADLINE_SECONDS)

    asyncio.run(scenario())


def test_a_reload_names_its_worker_in_the_log_and_the_audit_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "keys"
    write_key_file(directory, generate_key("access", "HS256", NOW, NOW))
    audit = RecordingAuditLog()
    current, reloader = watched_ring(settings_for(directory), clock, audit)
    assert reloader is not None
    added = generate_key("access", "HS256", NOW, NOW + 60)
    write_key_file(directory, added)

    with caplog.at_level(logging.INFO):
        assert asyncio.run(reloader.check()) is True

    listed = ", ".join(sorted(kids(current.ring)))
    assert f"key ring reloaded in worker {os.getpid()} from {directory}: {listed}" in caplog.text
    (record,) = audit.records
    assert record.event == "keys.reloaded"
    assert record.fields == {"worker": os.getpid(), "directory": str(directory), "kids": listed}
    assert added.kid in listed
