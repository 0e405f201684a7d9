"""The Redis settings: one of standalone, Sentinel or Cluster, with ACL and TLS options."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.sentinel import SentinelConnectionPool

from verifier.errors import SettingsInvalid
from verifier.settings import load_settings, read_settings
from verifier.store import RedisMode, RedisNode, RedisTarget, RedisTls, connect, parse_nodes
from verifier.store.replication import ReplicaAck

KEYS = "k1:" + "s" * 40
PASSWORD = "redis-acl-password-123"


def env(**overrides: str) -> dict[str, str]:
    """A minimal valid environment (one signing key) plus VERIFIER_-prefixed overrides."""
    environ = {"VERIFIER_JWT_KEYS": KEYS}
    environ.update({f"VERIFIER_{name}": value for name, value in overrides.items()})
    return environ


def problems(**overrides: str) -> tuple[str, ...]:
    """Every problem the environment has."""
    return read_settings(env(**overrides)).problems


# --- the three modes ------------------------------------------------------------------------------


def test_without_redis_variables_the_standalone_default_is_used() -> None:
    target = load_settings(env()).redis
    assert target == RedisTarget(url="redis://127.0.0.1:6379/0")
    assert target.mode is RedisMode.STANDALONE


def test_sentinels_and_the_master_name_make_a_sentinel_target() -> None:
    settings = load_settings(
        env(REDIS_SENTINELS="10.0.0.1:26379, 10.0.0.2:26379", REDIS_SENTINEL_MASTER="main")
    )
    assert settings.redis.mode is RedisMode.SENTINEL
    assert settings.redis.nodes == (RedisNode("10.0.0.1", 26379), RedisNode("10.0.0.2", 26379))
    assert settings.redis.sentinel_master == "main"
    # No standalone URL: nothing may connect to the default server by mistake.
    assert settings.redis_url == ""


def test_cluster_seed_nodes_make_a_cluster_target() -> None:
    reading = read_settings(env(REDIS_CLUSTER_NODES="redis-a:7000,[::1]:7001"))
    assert reading.settings is not None
    assert reading.redis == RedisTarget(
        mode=RedisMode.CLUSTER, nodes=(RedisNode("redis-a", 7000), RedisNode("::1", 7001))
    )
    assert reading.redis_url is None


@pytest.mark.parametrize(
    ("overrides", "found"),
    [
        (
            {"REDIS_URL": "redis://r:6379/0", "REDIS_CLUSTER_NODES": "r:7000"},
            "VERIFIER_REDIS_URL, VERIFIER_REDIS_CLUSTER_NODES",
        ),
        (
            {"REDIS_SENTINELS": "s:26379", "REDIS_CLUSTER_NODES": "r:7000"},
            "VERIFIER_REDIS_SENTINELS, VERIFIER_REDIS_CLUSTER_NODES",
        ),
        (
            {"REDIS_URL_FILE": "/nonexistent", "REDIS_SENTINELS": "s:26379"},
            "VERIFIER_REDIS_URL, VERIFIER_REDIS_SENTINELS",
        ),
    ],
)
def test_two_modes_at_once_is_one_clear_problem(overrides: dict[str, str], found: str) -> None:
    assert problems(**overrides) == (
        "VERIFIER_REDIS_URL: set one of VERIFIER_REDIS_URL (standalone), "
        "VERIFIER_REDIS_SENTINELS (Sentinel) or VERIFIER_REDIS_CLUSTER_NODES (Cluster), "
        f"not several: found {found}",
    )


def test_two_modes_are_reported_with_every_other_problem() -> None:
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(
            env(REDIS_URL="redis://r:6379/0", REDIS_SENTINELS="s:26379", LOG_LEVEL="loud")
        )
    assert [problem.split(":")[0] for problem in caught.value.problems] == [
        "VERIFIER_REDIS_URL",
        "VERIFIER_LOG_LEVEL",
    ]
    assert read_settings(env(REDIS_URL="redis://r/0", REDIS_SENTINELS="s:1")).redis is None


def test_sentinels_need_the_master_name() -> None:
    assert problems(REDIS_SENTINELS="s:26379") == ("VERIFIER_REDIS_SENTINEL_MASTER is required",)


@pytest.mark.parametrize(
    "name", ["REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_USERNAME", "REDIS_SENTINEL_PASSWORD"]
)
def test_sentinel_options_without_sentinels_are_refused(name: str) -> None:
    assert problems(REDIS_CLUSTER_NODES="r:7000", **{name: "x"}) == (
        f"VERIFIER_{name}: only with VERIFIER_REDIS_SENTINELS (Sentinel)",
    )


def test_a_master_name_with_spaces_is_refused() -> None:
    assert problems(REDIS_SENTINELS="s:26379", REDIS_SENTINEL_MASTER="my master") == (
        "VERIFIER_REDIS_SENTINEL_MASTER: must be 1-256 printable characters, no spaces",
    )


# --- node lists -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("redis-a", "'redis-a' is not host:port"),
        (":7000", "':7000' is not host:port"),
        ("redis-a:0", "'redis-a:0': the port must be 1-65535"),
        ("redis-a:70000", "'redis-a:70000': the port must be 1-65535"),
        ("redis-a:port", "'redis-a:port': the port must be 1-65535"),
        ("a b:7000", "'a b:7000' is not host:port"),
        ("[::1]", "'[::1]' is not [ipv6]:port"),
        ("r:7000,r:7000", "r:7000 appears twice"),
        (" , ", "at least one host:port is required"),
    ],
)
def test_a_bad_node_list_is_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_nodes(text)
    assert str(caught.value) == message
    assert problems(REDIS_CLUSTER_NODES=text) in (
        (f"VERIFIER_REDIS_CLUSTER_NODES: {message}",),
        ("VERIFIER_REDIS_CLUSTER_NODES is required",),  # only separators: as if unset
    )


def test_nodes_print_as_they_are_written() -> None:
    assert [str(node) for node in parse_nodes("r:7000,[::1]:7001")] == ["r:7000", "[::1]:7001"]


# --- ACL credentials ------------------------------------------------------------------------------


def test_username_and_password_apply_to_every_mode(tmp_path: Path) -> None:
    secret = tmp_path / "redis-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    settings = load_settings(
        env(
            REDIS_CLUSTER_NODES="r:7000",
            REDIS_USERNAME="verifier",
            REDIS_PASSWORD_FILE=str(secret),
        )
    )
    assert settings.redis.username == "verifier"
    assert settings.redis.password == PASSWORD
    assert PASSWORD not in repr(settings)


def test_sentinels_have_credentials_of_their_own() -> None:
    target = load_settings(
        env(
            REDIS_SENTINELS="s:26379",
            REDIS_SENTINEL_MASTER="main",
            REDIS_PASSWORD=PASSWORD,
            REDIS_SENTINEL_USERNAME="watcher",
            REDIS_SENTINEL_PASSWORD="sentinel-password",
        )
    ).redis
    assert (target.sentinel_username, target.sentinel_password) == ("watcher", "sentinel-password")
    assert "sentinel-password" not in repr(target)


def test_a_password_and_its_file_at_once_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "redis-password"
    secret.write_text(PASSWORD, encoding="utf-8")
    found = problems(REDIS_PASSWORD=PASSWORD, REDIS_PASSWORD_FILE=str(secret))
    assert found == ("set VERIFIER_REDIS_PASSWORD or VERIFIER_REDIS_PASSWORD_FILE, not both",)


def test_credentials_in_the_url_and_in_variables_are_refused() -> None:
    found = problems(REDIS_URL=f"redis://:{PASSWORD}@r:6379/0", REDIS_PASSWORD="other-password")
    assert found == (
        "VERIFIER_REDIS_USERNAME/PASSWORD: the URL carries credentials already; "
        "set them in one place",
    )
    assert PASSWORD not in "".join(found)


def test_a_username_with_spaces_is_refused() -> None:
    assert problems(REDIS_USERNAME="ver ifier") == (
        "VERIFIER_REDIS_USERNAME: must be 1-256 printable characters, no spaces",
    )


# --- TLS ------------------------------------------------------------------------------------------


def test_tls_with_a_ca_and_a_client_certificate(tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("-", encoding="utf-8")
    target = load_settings(
        env(
            REDIS_CLUSTER_NODES="r:7000",
            REDIS_TLS="true",
            REDIS_TLS_CA_FILE=str(tmp_path / "ca.pem"),
            REDIS_TLS_CERT_FILE=str(tmp_path / "client.pem"),
            REDIS_TLS_KEY_FILE=str(tmp_path / "client.key"),
        )
    ).redis
    assert target.tls == RedisTls(
        str(tmp_path / "ca.pem"), str(tmp_path / "client.pem"), str(tmp_path / "client.key")
    )


def test_a_rediss_url_turns_tls_on_by_itself() -> None:
    assert load_settings(env(REDIS_URL="rediss://r:6380/0")).redis.tls == RedisTls()
    assert load_settings(env(REDIS_URL="redis://r:6379/0")).redis.tls is None


def test_tls_on_with_a_plain_redis_url_is_refused() -> None:
    assert problems(REDIS_URL="redis://r:6379/0", REDIS_TLS="true") == (
        "VERIFIER_REDIS_TLS: a standalone server takes TLS from a rediss:// URL",
    )


def test_tls_files_with_tls_off_are_refused(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-", encoding="utf-8")
    assert problems(REDIS_CLUSTER_NODES="r:7000", REDIS_TLS_CA_FILE=str(tmp_path / "ca.pem")) == (
        "VERIFIER_REDIS_TLS: the TLS files are set but TLS is off (set VERIFIER_REDIS_TLS=true, "
        "or use a rediss:// URL)",
    )


def test_a_missing_tls_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    assert problems(
        REDIS_CLUSTER_NODES="r:7000", REDIS_TLS="1", REDIS_TLS_CA_FILE=str(missing)
    ) == (f"VERIFIER_REDIS_TLS_CA_FILE: {missing} is not a readable file",)


def test_a_client_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "client.pem").write_text("-", encoding="utf-8")
    found = problems(
        REDIS_SENTINELS="s:26379",
        REDIS_SENTINEL_MASTER="main",
        REDIS_TLS="yes",
        REDIS_TLS_CERT_FILE=str(tmp_path / "client.pem"),
    )
    assert found == (
        "VERIFIER_REDIS_TLS_CERT_FILE: a client certificate needs its key "
        "(VERIFIER_REDIS_TLS_KEY_FILE), and a key its certificate",
    )


# --- the client each target builds (no connection is made) ---------------------------------------


def test_each_mode_builds_its_own_kind_of_client() -> None:
    async def build() -> None:
        cluster = connect(RedisTarget(mode=RedisMode.CLUSTER, nodes=parse_nodes("r:7000")))
        assert isinstance(cluster, RedisCluster)
        sentinel = connect(
            RedisTarget(mode=RedisMode.SENTINEL, nodes=parse_nodes("s:1"), sentinel_master="m")
        )
        assert isinstance(sentinel.connection_pool, SentinelConnectionPool)
        standalone = connect(RedisTarget(url="redis://r:6379/0", username="u", password="p"))
        assert standalone.connection_pool.connection_kwargs["username"] == "u"
        for client in (cluster, sentinel, standalone):
            await client.aclose()

    asyncio.run(build())


# --- replica confirmation (WAIT) ----------------------------------------------------------------


def test_writes_do_not_wait_for_replicas_by_default() -> None:
    ack = load_settings(env()).replica_ack
    assert ack == ReplicaAck(min_replicas=0, wait_ms=100)
    assert not ack.enabled


def test_min_replicas_and_wait_make_the_replica_ack() -> None:
    ack = load_settings(env(REDIS_MIN_REPLICAS="1", REDIS_WAIT_MS="250")).replica_ack
    assert ack == ReplicaAck(min_replicas=1, wait_ms=250)
    assert ack.enabled


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"REDIS_MIN_REPLICAS": "-1"}, "VERIFIER_REDIS_MIN_REPLICAS"),
        ({"REDIS_MIN_REPLICAS": "17"}, "VERIFIER_REDIS_MIN_REPLICAS"),
        ({"REDIS_MIN_REPLICAS": "one"}, "VERIFIER_REDIS_MIN_REPLICAS"),
        ({"REDIS_WAIT_MS": "0"}, "VERIFIER_REDIS_WAIT_MS"),
        # Longer than half the command timeout: WAIT's own read could time out.
        ({"REDIS_WAIT_MS": "501"}, "VERIFIER_REDIS_WAIT_MS"),
    ],
)
def test_bad_replica_settings_are_refused_by_name(overrides: dict[str, str], name: str) -> None:
    found = problems(**overrides)
    assert len(found) == 1
    assert found[0].startswith(name)


def test_both_bad_replica_settings_are_reported_together() -> None:
    found = problems(REDIS_MIN_REPLICAS="-3", REDIS_WAIT_MS="9999")
    assert [problem.split(":")[0] for problem in found] == [
        "VERIFIER_REDIS_MIN_REPLICAS",
        "VERIFIER_REDIS_WAIT_MS",
    ]
