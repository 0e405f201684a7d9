"""VERIFIER_METRICS_BIND and VERIFIER_METRICS_DIR: parsed once, every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from verifier.errors import SettingsInvalid
from verifier.settings import DEFAULT_METRICS_BIND, load_settings, read_settings

KEYS = "k1:" + "s" * 32


def _env(**overrides: str) -> dict[str, str]:
    return {"VERIFIER_JWT_KEYS": KEYS, **{f"VERIFIER_{k}": v for k, v in overrides.items()}}


def test_metrics_are_on_at_the_loopback_default_port_when_unset() -> None:
    settings = load_settings(_env())

    assert settings.metrics_bind == DEFAULT_METRICS_BIND == ("127.0.0.1", 9464)
    assert settings.metrics_dir is None


@pytest.mark.parametrize("value", ["off", "OFF", " off "])
def test_off_turns_metrics_off(value: str) -> None:
    assert load_settings(_env(METRICS_BIND=value)).metrics_bind is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:9100", ("127.0.0.1", 9100)),
        ("0.0.0.0:9464", ("0.0.0.0", 9464)),  # noqa: S104 (a value parsed, nothing bound)
        ("[::1]:9464", ("::1", 9464)),
        ("localhost:65535", ("localhost", 65535)),
    ],
)
def test_host_and_port_are_read(value: str, expected: tuple[str, int]) -> None:
    assert load_settings(_env(METRICS_BIND=value)).metrics_bind == expected


@pytest.mark.parametrize("value", ["9464", "localhost", ":9464", "host:", "host:http", "on"])
def test_a_bind_that_is_not_host_port_is_refused_by_name(value: str) -> None:
    reading = read_settings(_env(METRICS_BIND=value))

    assert reading.settings is None
    assert reading.problems == (f"VERIFIER_METRICS_BIND: {value!r} is not host:port or off",)


@pytest.mark.parametrize("port", ["0", "65536"])
def test_a_port_out_of_range_is_refused(port: str) -> None:
    reading = read_settings(_env(METRICS_BIND=f"127.0.0.1:{port}"))

    assert reading.problems == (f"VERIFIER_METRICS_BIND: port {int(port)} is not 1-65535",)


def test_metrics_dir_is_read_as_a_path() -> None:
    settings = load_settings(_env(METRICS_DIR="/run/verifier-metrics"))

    assert settings.metrics_dir == Path("/run/verifier-metrics")


def test_a_relative_metrics_dir_is_refused_beside_every_other_problem() -> None:
    with pytest.raises(SettingsInvalid) as raised:
        load_settings(_env(METRICS_DIR="metrics", METRICS_BIND="nowhere", ACCESS_TTL_SECONDS="x"))

    assert sorted(raised.value.problems) == [
        "VERIFIER_ACCESS_TTL_SECONDS: 'x' is not a whole number",
        "VERIFIER_METRICS_BIND: 'nowhere' is not host:port or off",
        "VERIFIER_METRICS_DIR: must be an absolute path (the service and the CLI must find "
        "the same directory)",
    ]
