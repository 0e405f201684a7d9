"""verifier.store.keyspace: user-name rules and Redis key names (one cluster slot per user)."""

from __future__ import annotations

import pytest

from verifier.store.keyspace import KeySpace, normalize_user_name

KEYS = KeySpace("verifier")
SESSION_ID = "AAAAAAAAAAAAAAAAAAAAAA"


def crc16_xmodem(data: bytes) -> int:
    """CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as Redis Cluster uses."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def cluster_slot(key: str) -> int:
    """HASH_SLOT per the Redis Cluster spec: hash only a non-empty first `{...}` tag."""
    raw = key.encode()
    start = raw.find(b"{")
    if start != -1:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return crc16_xmodem(raw) % 16384


def user_keys(keys: KeySpace, user: str) -> list[str]:
    return [
        keys.user(user),
        keys.session_index(user),
        keys.session(user, SESSION_ID),
        keys.session_prefix(user) + "anything",
        keys.retired(user, SESSION_ID),
        keys.retired_prefix(user) + "anything",
    ]


def test_crc16_matches_the_redis_cluster_spec_vectors() -> None:
    # The spec's CRC check value, and the slots the CLUSTER KEYSLOT documentation shows.
    assert crc16_xmodem(b"123456789") == 0x31C3
    assert cluster_slot("somekey") == 11058
    assert cluster_slot("foo{hash_tag}") == 2515 == cluster_slot("hash_tag")
    assert cluster_slot("{user1000}.following") == cluster_slot("{user1000}.followers")
    # An empty first tag means the whole key is hashed; only the first `{` counts.
    assert cluster_slot("foo{}{bar}") == crc16_xmodem(b"foo{}{bar}") % 16384
    assert cluster_slot("foo{{bar}}zap") == crc16_xmodem(b"{bar") % 16384


@pytest.mark.parametrize(
    "user", ["alice", "bob", "a", "alice@example.com", "x.y_z+tag-1", "9" * 64]
)
def test_all_keys_of_one_user_share_one_hash_tag_and_slot(user: str) -> None:
    keys = user_keys(KEYS, user)
    assert all(f"{{{user}}}" in key for key in keys)
    assert all(key.count("{") == key.count("}") == 1 for key in keys)
    assert {cluster_slot(key) for key in keys} == {cluster_slot(user)}


def test_different_users_get_different_tags() -> None:
    assert KEYS.session_index("alice") != KEYS.session_index("bob")
    assert cluster_slot(KEYS.user("alice")) != cluster_slot(KEYS.user("bob"))


def test_key_names_are_exact() -> None:
    assert KEYS.user("alice") == "verifier:{alice}:user"
    assert KEYS.all_users() == "verifier:users"
    assert KEYS.session_index("alice") == "verifier:{alice}:sessions"
    assert KEYS.session_prefix("alice") == "verifier:{alice}:session:"
    assert KEYS.session("alice", SESSION_ID) == f"verifier:{{alice}}:session:{SESSION_ID}"
    assert KEYS.retired_prefix("alice") == "verifier:{alice}:retired:"
    assert KEYS.retired("alice", SESSION_ID) == f"verifier:{{alice}}:retired:{SESSION_ID}"
    assert KEYS.login_throttle("ip", "203.0.113.9") == "verifier:throttle:ip:203.0.113.9"


def test_prefix_starts_every_key() -> None:
    keys = KeySpace("tenant-7")
    assert all(key.startswith("tenant-7:") for key in user_keys(keys, "alice"))
    assert keys.all_users().startswith("tenant-7:")
    # The prefix does not move the slot: only the user tag is hashed.
    assert {cluster_slot(key) for key in user_keys(keys, "alice")} == {cluster_slot("alice")}


def test_session_keys_of_different_sessions_differ() -> None:
    assert KEYS.session("alice", "a" * 22) != KEYS.session("alice", "b" * 22)
    assert KEYS.session("alice", SESSION_ID) != KEYS.retired("alice", SESSION_ID)


# --- user names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice", "alice"),
        ("Alice", "alice"),
        ("  ALICE\n", "alice"),
        ("alice@example.com", "alice@example.com"),
        ("a.b_c+d-e", "a.b_c+d-e"),
        ("0", "0"),
        ("x" * 64, "x" * 64),
    ],
)
def test_user_name_is_normalized_to_lower_case(raw: str, expected: str) -> None:
    assert normalize_user_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "x" * 65,
        "a b",
        "alice}",
        "{alice",
        "{alice}",
        "ali:ce",
        "ali/ce",
        "ali\\ce",
        "ali*ce",
        "ali;ce",
        "ali,ce",
        "ali\x00ce",
        "ali\tce",
        "alice\nbob",
        "ålice",
        "алиса",
        "ali%63e",
    ],
)
def test_user_name_with_forbidden_characters_is_refused(raw: str) -> None:
    assert normalize_user_name(raw) is None


def test_normalized_names_can_never_open_or_close_a_hash_tag() -> None:
    for raw in ("a{b", "a}b", "{}", "}{"):
        assert normalize_user_name(raw) is None
