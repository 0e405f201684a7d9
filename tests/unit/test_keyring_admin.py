"""verifier.keyring.admin: generate, rotate, describe, retire, and the refusals, at given times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier.errors import KeyOperationRefused
from verifier.keyring import admin
from verifier.keyring.files import read_key_directory
from verifier.keyring.material import Key
from verifier.keyring.ring import KeyRing, KeyState, RingPolicy
from verifier.settings import Settings, SigningKey

NOW = 1_700_000_000
WINDOW = 300
POLICY = RingPolicy(access_verify_seconds=WINDOW, assertion_verify_seconds=60)


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def keys_in(directory: Path) -> dict[str, Key]:
    return {key.kid: key for key in read_key_directory(directory).keys}


def states(directory: Path, now: int) -> dict[str, KeyState]:
    return {row.kid: row.state for row in admin.describe(directory, POLICY, now)}


def test_publish_delay_is_two_max_ages_two_reloads_and_the_leeway() -> None:
    settings = Settings(
        redis_url="redis://h/0",
        keys_dir=Path("/keys"),
        jwks_max_age_seconds=300,
        keys_reload_seconds=2,
        jwt_leeway_seconds=5,
    )
    assert admin.publish_delay_seconds(settings) == 2 * 300 + 2 * 2 + 5


# --- generate -------------------------------------------------------------------------------------


def test_generate_creates_one_signing_key_per_use(directory: Path) -> None:
    created = admin.generate(directory, ["access", "assertion"], NOW)

    assert [(key.use, key.alg) for key in created] == [("access", "HS256"), ("assertion", "EdDSA")]
    assert set(keys_in(directory)) == {key.kid for key in created}
    assert set(states(directory, NOW).values()) == {KeyState.SIGNING}


def test_generate_makes_es256_assertion_keys_when_asked(directory: Path) -> None:
    (created,) = admin.generate(directory, ["assertion"], NOW, assertion_alg="ES256")
    assert created.alg == "ES256"


def test_generate_refuses_a_use_that_has_keys(directory: Path) -> None:
    (first,) = admin.generate(directory, ["access"], NOW)

    with pytest.raises(KeyOperationRefused) as caught:
        admin.generate(directory, ["access", "assertion"], NOW + 1)

    assert f"has access keys already ({first.kid})" in str(caught.value)
    assert "verifier keys rotate --use access" in str(caught.value)
    assert set(keys_in(directory)) == {first.kid}  # nothing written, not even the assertion key


def test_generate_with_force_adds_a_key_that_signs_at_once(directory: Path) -> None:
    admin.generate(directory, ["access"], NOW)
    (forced,) = admin.generate(directory, ["access"], NOW + 1, force=True)
    assert states(directory, NOW + 1)[forced.kid] is KeyState.SIGNING


# --- rotate ---------------------------------------------------------------------------------------


def test_rotate_adds_a_pending_key_that_signs_after_the_publish_delay(directory: Path) -> None:
    (old,) = admin.generate(directory, ["access"], NOW)

    (new,) = admin.rotate(directory, ["access"], NOW + 10, 600, POLICY)

    assert new.activates_at == NOW + 10 + 600
    assert states(directory, NOW + 609) == {old.kid: KeyState.SIGNING, new.kid: KeyState.PENDING}
    assert states(directory, NOW + 610) == {old.kid: KeyState.VERIFYING, new.kid: KeyState.SIGNING}
    assert states(directory, NOW + 610 + WINDOW)[old.kid] is KeyState.EXPIRED


def test_rotate_keeps_the_assertion_algorithm_unless_told(directory: Path) -> None:
    admin.generate(directory, ["assertion"], NOW, assertion_alg="ES256")
    (kept,) = admin.rotate(directory, ["assertion"], NOW, 0, POLICY)
    (changed,) = admin.rotate(directory, ["assertion"], NOW + 1, 0, POLICY, assertion_alg="EdDSA")
    assert (kept.alg, changed.alg) == ("ES256", "EdDSA")


def test_rotate_refuses_a_use_without_a_key(directory: Path) -> None:
    admin.generate(directory, ["access"], NOW)
    with pytest.raises(KeyOperationRefused, match="has no assertion key to rotate"):
        admin.rotate(directory, ["access", "assertion"], NOW, 600, POLICY)
    assert len(keys_in(directory)) == 1


def test_rotate_refuses_while_a_rotation_is_pending(directory: Path) -> None:
    admin.generate(directory, ["access"], NOW)
    (pending,) = admin.rotate(directory, ["access"], NOW, 600, POLICY)
    with pytest.raises(KeyOperationRefused, match=rf"{pending.kid} is pending already"):
        admin.rotate(directory, ["access"], NOW + 1, 600, POLICY)


def test_a_key_rotated_in_the_same_second_still_takes_over(directory: Path) -> None:
    # Keys are ordered by activation second: the new one must come strictly later.
    (old,) = admin.generate(directory, ["access"], NOW)
    (new,) = admin.rotate(directory, ["access"], NOW, 0, POLICY)
    assert new.activates_at == old.activates_at + 1
    assert states(directory, NOW + 1) == {old.kid: KeyState.VERIFYING, new.kid: KeyState.SIGNING}


def test_rotate_refuses_a_negative_delay(directory: Path) -> None:
    admin.generate(directory, ["access"], NOW)
    with pytest.raises(KeyOperationRefused, match="must be >= 0"):
        admin.rotate(directory, ["access"], NOW, -1, POLICY)


# --- retire ---------------------------------------------------------------------------------------


# A rotation without delay in the second of the first key: it takes over one second later.
ROTATED = NOW + 1


def rotated_twice(directory: Path) -> tuple[Key, Key]:
    (old,) = admin.generate(directory, ["access"], NOW)
    (new,) = admin.rotate(directory, ["access"], NOW, 0, POLICY)
    assert new.activates_at == ROTATED
    return old, new


def test_retire_deletes_a_key_once_every_token_it_signed_has_expired(directory: Path) -> None:
    old, new = rotated_twice(directory)

    message = admin.retire(directory, old.kid, POLICY, ROTATED + WINDOW, force=False)

    assert message == f"deleted {old.kid}: every token it signed had expired"
    assert set(keys_in(directory)) == {new.kid}


def test_retire_refuses_a_key_that_still_verifies(directory: Path) -> None:
    old, _ = rotated_twice(directory)

    with pytest.raises(KeyOperationRefused) as caught:
        admin.retire(directory, old.kid, POLICY, ROTATED + WINDOW - 1, force=False)

    assert str(caught.value) == (
        f"{old.kid} still verifies tokens until {admin.format_time(ROTATED + WINDOW)}. Retire it "
        "once it has expired (`verifier keys list`), or withdraw it now with --force if it is "
        "compromised"
    )
    assert old.kid in keys_in(directory)


def test_retire_refuses_the_signing_key_even_with_force(directory: Path) -> None:
    _, new = rotated_twice(directory)
    for force in (False, True):
        with pytest.raises(KeyOperationRefused, match=r"signs access tokens now: rotate first"):
            admin.retire(directory, new.kid, POLICY, ROTATED, force=force)


def test_retire_refuses_an_unknown_kid(directory: Path) -> None:
    rotated_twice(directory)
    with pytest.raises(KeyOperationRefused, match="there is no key 'nope'"):
        admin.retire(directory, "nope", POLICY, NOW, force=False)


def test_forced_retire_withdraws_the_key_and_leaves_a_tombstone(directory: Path) -> None:
    old, new = rotated_twice(directory)

    message = admin.retire(directory, old.kid, POLICY, ROTATED + 5, force=True)

    assert "refreshed silently" in message
    document = json.loads((directory / f"{old.kid}.json").read_text())
    assert document["retired_at"] == ROTATED + 5
    assert "secret" not in document
    ring = KeyRing(read_key_directory(directory).keys, POLICY)
    entry = ring.lookup("access", old.kid)
    assert entry is not None
    assert not entry.verifies(ROTATED + 5)
    signing = ring.signing_key("access", ROTATED + 5)
    assert signing is not None
    assert signing.kid == new.kid


def test_a_tombstone_goes_once_its_tokens_have_expired(directory: Path) -> None:
    old, _ = rotated_twice(directory)
    admin.retire(directory, old.kid, POLICY, ROTATED + 5, force=True)

    with pytest.raises(KeyOperationRefused, match="tombstone turns its tokens into silent"):
        admin.retire(directory, old.kid, POLICY, ROTATED + WINDOW - 1, force=False)
    # Withdrawn later, but it stopped signing at the rotation: one window from then.
    assert admin.retire(directory, old.kid, POLICY, ROTATED + WINDOW, force=False).startswith(
        "deleted"
    )


def test_forced_retire_of_a_pending_key_withdraws_it(directory: Path) -> None:
    (old,) = admin.generate(directory, ["assertion"], NOW)
    (pending,) = admin.rotate(directory, ["assertion"], NOW, 600, POLICY)

    with pytest.raises(KeyOperationRefused, match="is pending"):
        admin.retire(directory, pending.kid, POLICY, NOW + 1, force=False)
    message = admin.retire(directory, pending.kid, POLICY, NOW + 1, force=True)

    assert "left the JWKS" in message
    # It never signed: the old key keeps signing past the planned activation.
    assert states(directory, NOW + 10_000) == {
        old.kid: KeyState.SIGNING,
        pending.kid: KeyState.RETIRED,
    }


def test_a_key_rotated_after_a_withdrawn_pending_one_signs_after_its_own_delay(
    directory: Path,
) -> None:
    # The compromised-key procedure (docs/keys.md) when a routine rotation is pending: the
    # pending key is withdrawn, and the replacement must not wait for its planned time.
    (old,) = admin.generate(directory, ["access"], NOW)
    (pending,) = admin.rotate(directory, ["access"], NOW, 600, POLICY)
    admin.retire(directory, pending.kid, POLICY, NOW + 1, force=True)

    (replacement,) = admin.rotate(directory, ["access"], NOW + 2, 10, POLICY)

    assert replacement.activates_at == NOW + 2 + 10
    assert states(directory, NOW + 12) == {
        old.kid: KeyState.VERIFYING,
        pending.kid: KeyState.RETIRED,
        replacement.kid: KeyState.SIGNING,
    }


# --- describe -------------------------------------------------------------------------------------


def test_describe_lists_every_key_with_times(directory: Path) -> None:
    old, new = rotated_twice(directory)
    rows = admin.describe(directory, POLICY, ROTATED)
    assert [(row.kid, row.state, row.verifies_until) for row in rows] == [
        (old.kid, KeyState.VERIFYING, ROTATED + WINDOW),
        (new.kid, KeyState.SIGNING, None),
    ]


def test_describe_of_a_missing_directory_is_empty(directory: Path) -> None:
    assert admin.describe(directory, POLICY, NOW) == []


# --- import ---------------------------------------------------------------------------------------


def test_import_keeps_the_signing_key_and_lets_the_others_verify_one_window(
    directory: Path,
) -> None:
    listed = [SigningKey("new", b"n" * 40), SigningKey("older", b"o" * 40)]

    imported = admin.import_access_keys(directory, listed, NOW)

    assert [key.kid for key in imported] == ["new", "older"]
    assert keys_in(directory)["new"].secret == b"n" * 40
    assert states(directory, NOW) == {"new": KeyState.SIGNING, "older": KeyState.VERIFYING}
    assert states(directory, NOW + WINDOW)["older"] is KeyState.EXPIRED
    assert states(directory, NOW + 10**6)["new"] is KeyState.SIGNING


def test_import_refuses_a_directory_with_access_keys(directory: Path) -> None:
    admin.generate(directory, ["access"], NOW)
    with pytest.raises(KeyOperationRefused, match="has access keys already"):
        admin.import_access_keys(directory, [SigningKey("k", b"k" * 40)], NOW)
