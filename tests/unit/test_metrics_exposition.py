"""The multiprocess directory `verifier serve` prepares, its bind check, and that no nginx
file of the project ever serves or proxies the metrics."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from verifier.errors import SettingsError
from verifier.observe.metrics.exposition import (
    MADE_BY_SERVE,
    check_bind_free,
    prepare_directory,
    remove_if_made_by_serve,
)
from verifier.settings import DEFAULT_METRICS_BIND

ROOT = Path(__file__).resolve().parents[2]
NGINX_FILES = [*sorted((ROOT / "nginx").iterdir()), ROOT / "bench" / "nginx.conf.template"]


def test_serve_makes_a_fresh_directory_and_removes_it_at_exit() -> None:
    made = prepare_directory(None)
    try:
        assert made.is_dir()
        assert [path.name for path in made.iterdir()] == [MADE_BY_SERVE]
    finally:
        remove_if_made_by_serve(made)

    assert not made.exists()


def test_a_named_directory_is_emptied_of_metric_files_only_and_kept(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_123.db").write_bytes(b"old counts")
    (directory / "histogram_456.db").write_bytes(b"old times")
    (directory / "README").write_text("the operator's")

    assert prepare_directory(directory) == directory
    remove_if_made_by_serve(directory)

    assert sorted(path.name for path in directory.iterdir()) == ["README"]


def test_a_named_directory_that_does_not_exist_is_created(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "metrics"

    assert prepare_directory(directory).is_dir()


def test_a_directory_that_cannot_be_made_is_a_settings_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    with pytest.raises(SettingsError, match=r"^VERIFIER_METRICS_DIR: cannot use .*/file/metrics"):
        prepare_directory(blocker / "metrics")


def test_a_bind_in_use_is_a_settings_error_naming_the_address() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]

        with pytest.raises(SettingsError) as raised:
            check_bind_free("127.0.0.1", port)

    assert str(raised.value).startswith(f"VERIFIER_METRICS_BIND: cannot listen on 127.0.0.1:{port}")


def test_a_free_bind_passes_the_check() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_bind_free("127.0.0.1", port)


@pytest.mark.parametrize("path", NGINX_FILES, ids=lambda path: path.name)
def test_no_nginx_file_serves_or_proxies_the_metrics(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())

    assert str(DEFAULT_METRICS_BIND[1]) not in code
    assert not re.search(r"location[^{]*metrics", code)
    assert not re.search(r"proxy_pass[^;]*metrics", code)
