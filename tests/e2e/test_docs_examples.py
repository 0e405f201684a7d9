"""The examples of the README and the documentation site run as written.

Every example is read from the Markdown files themselves (README.md, docs/*.md), never from a
copy in this module: an nginx block goes through `nginx -t` and then carries requests to a
real verifier, legacy app and redis-server; a shell block runs line by line, in one shell
per page, as a reader following the page would run it; a console block's command prints
what the page shows.

What the tests change in an example is only where things are on this machine, the same
table for every example (`Install.localize`): the files a page puts under /etc go to a
temporary directory, and the documented ports (Redis 6379, the verifier 8000, the app 8001,
nginx 443) become free ports of 127.0.0.1. Two more settings keep runs apart that share the
machine: the metrics port of `verifier serve` and the session's own HOME.
"""

from __future__ import annotations

import grp
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt
import pytest
import requests
from e2e_helpers import eventually, unix_ready, wait_until
from tls_files import TlsFiles, write_tls_files

from tests.parts import nginx_build, nginx_builds
from verifier.demo import processes
from verifier.demo.processes import ManagedProcess, NginxBinary

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NGINX_BINARIES = processes.available_nginx_binaries()
# The commands that belong to this repository, not to a deployment: `make test` runs them,
# and `make test-containers` runs the compose stack's `docker compose up` for real.
REPOSITORY_COMMANDS = ("make ", "python3 -m http.server", "docker compose up")
# The one placeholder a runnable block may hold: the access key that signed before a rotation.
KID = "KID"
# A line whose comment asks the reader to wait: the test waits for the same thing.
WAIT_FOR_NEW_SIGNING_KEY = "wait until the new key is signing"
SERVE = "verifier serve"
# Pages whose examples call a deployment that is already serving (a token made, then an API
# called with it): they run against the nginx example below, not one block at a time.
TOKENS_PAGE = ROOT / "docs" / "tokens.md"
ON_A_RUNNING_DEPLOYMENT = (TOKENS_PAGE,)


@dataclass(frozen=True)
class Example:
    """One fenced block of a Markdown file."""

    path: Path
    line: int
    language: str
    text: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def fenced_blocks(path: Path) -> list[Example]:
    """Every fenced block of `path`, with its language and first line number."""
    blocks: list[Example] = []
    language: str | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if language is None and line.startswith("```"):
            language, start, body = line[3:].strip(), number + 1, []
        elif language is not None and line.startswith("```"):
            blocks.append(Example(path, start, language, "\n".join(body) + "\n"))
            language = None
        elif language is not None:
            body.append(line)
    return blocks


def examples(language: str) -> list[Example]:
    """The blocks of one language in every documentation file."""
    return [
        block for path in DOC_FILES for block in fenced_blocks(path) if block.language == language
    ]


def runnable_shell_blocks(path: Path) -> list[Example]:
    """A page's shell blocks meant for a deployment (not this repository's `make` targets)."""
    return [
        block
        for block in fenced_blocks(path)
        if block.language == "sh"
        and not all(line.startswith(REPOSITORY_COMMANDS) for line in _command_lines(block.text))
    ]


def _command_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


# The single sign-on page's whole example (several servers) has tests of its own
# (tests/e2e/test_docs_sso_example.py); every other http example is the one below.
SSO_EXAMPLE_MARK = "/auth/sso/callback"


def _http_example() -> Example:
    (http,) = {
        block.text: block
        for block in examples("nginx")
        if "http {" in block.text and SSO_EXAMPLE_MARK not in block.text
    }.values()
    return http


@dataclass
class Install:
    """Where an example's files and ports are on this machine."""

    root: Path
    redis_url: str
    tls: TlsFiles
    verifier_port: int = field(default_factory=processes.free_port)
    app_port: int = field(default_factory=processes.free_port)
    nginx_port: int = field(default_factory=processes.free_port)
    metrics_port: int = field(default_factory=processes.free_port)

    def localize(self, text: str) -> str:
        """The example with this machine's paths and ports; nothing else changes."""
        table = {
            "/etc/nginx/verifier/": f"{self.root}/etc/nginx/verifier/",
            "/etc/nginx/htpasswd": f"{self.root}/etc/nginx/htpasswd",
            "/etc/verifier/": f"{self.root}/etc/verifier/",
            "/etc/ssl/certs/app.example.com.pem": str(self.tls.cert_file),
            "/etc/ssl/private/app.example.com.key": str(self.tls.key_file),
            "redis://127.0.0.1:6379/0": self.redis_url,
            "127.0.0.1:8000": f"127.0.0.1:{self.verifier_port}",
            "/run/verifier": f"{self.root}/run/verifier",
            "--socket-group www-data": f"--socket-group {self.socket_group}",
            "127.0.0.1:8001": f"127.0.0.1:{self.app_port}",
            "listen 443 ssl;": f"listen 127.0.0.1:{self.nginx_port} ssl;",
            "https://app.example.com": self.base_url,
            # The single sign-on example's certificates and log (docs/sso.md).
            "/etc/ssl/certs/corp.example.pem": str(self.tls.cert_file),
            "/etc/ssl/private/corp.example.key": str(self.tls.key_file),
            "/etc/ssl/certs/example.org.pem": str(self.tls.cert_file),
            "/etc/ssl/private/example.org.key": str(self.tls.key_file),
            "/var/log/nginx/access.log": f"{self.root}/nginx/example-access.log",
        }
        for documented, here in table.items():
            text = text.replace(documented, here)
        return text

    def shell_environment(self) -> dict[str, str]:
        """A reader's shell: the venv's `verifier` on PATH, and nothing of ours set."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("VERIFIER_", "PROMETHEUS_"))
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["HOME"] = str(self.root)
        env["VERIFIER_METRICS_BIND"] = f"127.0.0.1:{self.metrics_port}"
        return env

    @property
    def socket_group(self) -> str:
        """www-data's part here: the group nginx's workers run in (as root, those of the
        `user` directive nginx_conf writes; else this user's own group)."""
        return processes.nginx_worker_group() or grp.getgrgid(os.getegid()).gr_name

    @property
    def verifier_socket(self) -> Path:
        """Where the examples' `verifier serve --bind unix:...` listens here."""
        return self.root / "run" / "verifier" / "verifier.sock"

    @property
    def base_url(self) -> str:
        """The https URL nginx serves the example on."""
        return f"https://127.0.0.1:{self.nginx_port}"


def nginx_conf(install: Install, http_block: str) -> str:
    """A whole nginx.conf around an `http {}` example: where nginx keeps its own files."""
    prefix = install.root / "nginx"
    own_files = "\n".join(
        f"    {directive} {prefix}/{name};"
        for directive, name in (
            ("access_log", "access.log"),
            ("client_body_temp_path", "client_body_temp"),
            ("proxy_temp_path", "proxy_temp"),
            ("fastcgi_temp_path", "fastcgi_temp"),
            ("uwsgi_temp_path", "uwsgi_temp"),
            ("scgi_temp_path", "scgi_temp"),
        )
    )
    http = install.localize(http_block).replace("http {\n", "http {\n" + own_files + "\n", 1)
    return processes.user_directive() + (
        f"daemon off;\npid {prefix}/nginx.pid;\nlock_file {prefix}/nginx.lock;\n"
        f"error_log {prefix}/error.log notice;\nevents {{ worker_connections 256; }}\n" + http
    )


def with_location(http_block: str, location_block: str) -> str:
    """The http example with a location example added to its server, before `location /`."""
    indented = "".join(
        f"        {line}\n" if line else "\n" for line in location_block.splitlines()
    )
    marker = "        location / {\n"
    assert marker in http_block, "the http example has no `location /` to add beside"
    return http_block.replace(marker, indented + "\n" + marker, 1)


def nginx_test(
    binary: NginxBinary, install: Install, conf: str
) -> subprocess.CompletedProcess[str]:
    """`nginx -t` of a configuration; its output says what is wrong."""
    prefix = install.root / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    path = prefix / "nginx.conf"
    path.write_text(conf, encoding="utf-8")
    return subprocess.run(
        [str(binary.path), "-t", "-p", f"{prefix}/", "-c", str(path), "-e", f"{prefix}/error.log"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def install() -> Iterator[Install]:
    """A temporary /etc (nginx snippets copied in, a TLS certificate) and a redis-server."""
    # Not pytest's tmp_path: nginx's workers (nobody, under root) must reach the files.
    root = Path(tempfile.mkdtemp(prefix="verifier-docs-"))
    root.chmod(0o755)
    snippets = root / "etc" / "nginx" / "verifier"
    snippets.mkdir(parents=True)
    for name in ("verifier-http.conf", "verifier-locations.conf", "verifier-protect.conf"):
        shutil.copy(ROOT / "nginx" / name, snippets / name)
    (root / "tls").mkdir()
    tls = write_tls_files(root / "tls")
    redis_port = processes.free_port()
    redis_server = processes.start_redis(root, redis_port)
    try:
        yield Install(root=root, redis_url=f"redis://127.0.0.1:{redis_port}/0", tls=tls)
    finally:
        redis_server.stop()
        shutil.rmtree(root, ignore_errors=True)


class PageShell:
    """One shell session that runs a page's blocks line by line, as a reader would."""

    def __init__(self, install: Install) -> None:
        self._install = install
        self.env = install.shell_environment()
        self.servers: list[ManagedProcess] = []
        self._kid: str | None = None

    def run_block(self, block: Example) -> None:
        """Run every command line of a block; fail naming the line when one fails."""
        for line in _command_lines(block.text):
            command = self._install.localize(line)
            if command.startswith("export "):
                for assignment in shlex.split(command, comments=True)[1:]:
                    name, _, value = assignment.partition("=")
                    self.env[name] = value
            elif command.startswith(SERVE):
                self._serve(command)
            else:
                self._run(block, line, command)

    def _run(self, block: Example, line: str, command: str) -> None:
        if f" {KID}" in command:
            assert self._kid is not None, f"{block}: {KID} before any rotation: {line}"
            command = command.replace(f" {KID}", f" {self._kid}")
        if "keys rotate" in command:
            self._kid = self._signing_access_key()
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            env=self.env,
            cwd=self._install.root,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, (
            f"{block}: `{line}` exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
        if WAIT_FOR_NEW_SIGNING_KEY in line:
            eventually(
                self._signing_access_key,
                lambda kid: kid is not None and kid != self._kid,
                what=f"{block}: a new access key signing",
                seconds=30,
            )

    def _signing_access_key(self) -> str | None:
        listed = subprocess.run(
            ["verifier", "keys", "list"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        for row in listed.splitlines()[1:]:
            kid, use, _alg, state, *_ = row.split()
            if use == "access" and state == "signing":
                return kid
        return None

    def _serve(self, command: str) -> None:
        # The one long-running line: in the background, stopped by its PID after the test.
        server = ManagedProcess(
            f"serve-{len(self.servers)}", ["bash", "-c", command], self._install.root, self.env
        )
        self.servers.append(server)
        if "unix:" in command:
            socket_path = self._install.verifier_socket
            wait_until(
                lambda: unix_ready(socket_path) or not server.is_running(),
                what=f"the verifier ready on {socket_path}",
                seconds=60,
            )
            assert server.is_running(), f"`{command}` exited:\n{server.log_tail()}"
        else:
            server.wait_until_ok(f"http://127.0.0.1:{self._install.verifier_port}/readyz", 60)

    def stop(self) -> None:
        """Stop what the page started."""
        for server in self.servers:
            server.stop()


def _new_session(install: Install) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(install.tls.ca_file)
    return session


def _sign_in(install: Install, name: str, password: str) -> requests.Session:
    session = _new_session(install)
    answer = session.post(
        install.base_url + "/auth/login",
        data={"username": name, "password": password, "next": "/"},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 303, answer.text
    return session


def _add_user(shell: PageShell, name: str, password: str, *groups: str) -> None:
    options = [f"--group={group}" for group in groups]
    subprocess.run(
        ["verifier", "users", "add", name, *options],
        input=password + "\n",
        env=shell.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _pages_with_shell_examples() -> list[Path]:
    return [
        path
        for path in DOC_FILES
        if runnable_shell_blocks(path) and path not in ON_A_RUNNING_DEPLOYMENT
    ]


# --- nginx -t of every nginx example -------------------------------------------------------


def test_the_docs_have_one_http_example_and_location_examples() -> None:
    nginx_blocks = examples("nginx")
    assert nginx_blocks, "no nginx example found: did the docs move?"
    for block in nginx_blocks:
        kind_known = "http {" in block.text or block.text.startswith("location ")
        assert kind_known, f"{block}: neither a whole `http {{}}` nor a `location`: test it here"
    _http_example()  # exactly one distinct http example (the README repeats the docs')


@pytest.mark.parametrize("build", nginx_builds())
@pytest.mark.parametrize("block", examples("nginx"), ids=str)
def test_every_nginx_example_passes_nginx_t(
    block: Example, build: NginxBinary | str, install: Install
) -> None:
    binary = nginx_build(build)
    http = block.text if "http {" in block.text else with_location(_http_example().text, block.text)
    result = nginx_test(binary, install, nginx_conf(install, http))
    assert result.returncode == 0, f"{block}: nginx -t failed:\n{result.stderr}"


def test_the_http_example_without_verifier_http_conf_fails_nginx_t(install: Install) -> None:
    # What the README's example used to lack: proof that nginx -t really reads the snippets.
    without = _http_example().text.replace(
        "    include /etc/nginx/verifier/verifier-http.conf;\n", ""
    )
    result = nginx_test(NGINX_BINARIES[0], install, nginx_conf(install, without))
    assert result.returncode != 0
    # The first of the snippets' variables nginx meets without their defaults (which one
    # depends on the snippets' order: verifier_authorization since API tokens).
    assert re.search(r'unknown "verifier_\w+" variable', result.stderr), result.stderr


# --- shell examples, and requests through the nginx example -------------------------------


@pytest.mark.parametrize("page", _pages_with_shell_examples(), ids=lambda p: p.name)
def test_shell_examples_run_as_written(page: Path, install: Install) -> None:
    # Each block is one procedure on a deployment set up as the page says: a shell of its
    # own that keeps what the reader exported before, on keys made afresh by the page's
    # `verifier keys generate` (a procedure does not inherit a rotation another one began).
    if page.name == "protecting-an-app.md":
        # The migration example reads the file nginx's auth_basic used: make one.
        htpasswd = install.root / "etc" / "nginx" / "htpasswd"
        hashed = bcrypt.hashpw(b"an old password", bcrypt.gensalt(rounds=4)).decode()
        htpasswd.write_text(f"olduser:{hashed}\n", encoding="utf-8")
    exported: dict[str, str] = {}
    setup: list[str] = []
    for block in runnable_shell_blocks(page):
        shutil.rmtree(install.root / "etc" / "verifier", ignore_errors=True)
        shell = PageShell(install)
        shell.env.update(exported)
        try:
            for line in setup:
                shell.run_block(Example(block.path, block.line, "sh", line + "\n"))
            shell.run_block(block)
            if shell.servers:
                # The block started the verifier: put the page's nginx example in front.
                _serve_the_http_example(install)
        finally:
            shell.stop()
        exported = {
            name: value
            for name, value in shell.env.items()
            if name.startswith("VERIFIER_") and name != "VERIFIER_METRICS_BIND"
        }
        setup += [line for line in _command_lines(block.text) if "keys generate" in line]


def _serve_the_http_example(install: Install) -> None:
    app = processes.start_legacy_app(install.app_port, log_dir=install.root)
    nginx: ManagedProcess | None = None
    try:
        binary = NGINX_BINARIES[0]
        conf = nginx_conf(install, _http_example().text)
        assert nginx_test(binary, install, conf).returncode == 0
        conf_path = install.root / "nginx" / "nginx.conf"
        nginx = processes.start_nginx(
            binary.path, install.root / "nginx", conf_path, port=install.nginx_port
        )
        _request_through_the_example(install)
    finally:
        if nginx is not None:
            nginx.stop()
        app.stop()


def _request_through_the_example(install: Install) -> None:
    visitor = _new_session(install)
    page = visitor.get(
        install.base_url + "/", headers={"Accept": "text/html"}, allow_redirects=False, timeout=30
    )
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/auth/login")
    assert "json" not in page.headers.get("Content-Type", "")
    # The user the page's own block added ("alice", in the group admins).
    alice = _sign_in(install, "alice", "a long password")
    headers = alice.get(install.base_url + "/api/headers", timeout=30)
    assert headers.status_code == 200
    received = {key.lower(): value for key, value in headers.json().items()}
    assert received["x-auth-user"] == "alice"
    assert received["x-auth-groups"] == "admins"


# --- location examples, each through nginx ------------------------------------------------


def test_location_examples_admit_and_refuse_as_the_docs_say(install: Install) -> None:
    locations = {
        block.text: block for block in examples("nginx") if block.text.startswith("location ")
    }
    assert locations, "no location example found"
    shell = PageShell(install)
    app = nginx = None
    try:
        shell.run_block(Example(ROOT / "README.md", 0, "sh", _serve_block()))
        _add_user(shell, "bob", "another long password")
        app = processes.start_legacy_app(install.app_port, log_dir=install.root)
        binary = NGINX_BINARIES[0]
        for block in locations.values():
            conf = nginx_conf(install, with_location(_http_example().text, block.text))
            assert nginx_test(binary, install, conf).returncode == 0, str(block)
            nginx = processes.start_nginx(
                binary.path, install.root / "nginx", install.root / "nginx" / "nginx.conf",
                port=install.nginx_port,
            )  # fmt: skip
            _check_location(install, block)
            nginx.stop()
            nginx = None
    finally:
        for process in (nginx, app):
            if process is not None:
                process.stop()
        shell.stop()


def _serve_block() -> str:
    (block,) = {
        block.text for path in DOC_FILES for block in runnable_shell_blocks(path)
        if SERVE in block.text
    }  # fmt: skip
    return block


def _check_location(install: Install, block: Example) -> None:
    require = re.search(r'set \$verifier_require "([^"]*)";', block.text)
    assert require is not None, f"{block}: no $verifier_require"
    alice = _sign_in(install, "alice", "a long password")
    admin = alice.get(install.base_url + "/admin/", allow_redirects=False, timeout=30)
    if "mfa" in require.group(1).split():
        # Alice signed in with a password alone: the location sends her to step up.
        assert admin.status_code == 302, f"{block}: {admin.status_code}"
        assert "step_up=mfa" in admin.headers["Location"]
    else:
        assert admin.status_code == 200, f"{block}: {admin.status_code}"
    bob = _sign_in(install, "bob", "another long password")
    refused = bob.get(
        install.base_url + "/admin/",
        headers={"Accept": "text/html"},
        allow_redirects=False,
        timeout=30,
    )
    assert refused.status_code == 403, f"{block}: bob got {refused.status_code}"


# --- console examples: the command prints what the page shows -----------------------------


def test_console_examples_print_what_the_page_shows(install: Install) -> None:
    access = ROOT / "docs" / "access.md"
    consoles = [block for block in fenced_blocks(access) if block.language == "console"]
    (rules,) = [block for block in fenced_blocks(access) if block.language == "toml"]
    assert consoles, "no console example in docs/access.md"
    rules_file = Path(install.localize("/etc/verifier/rules.toml"))
    rules_file.parent.mkdir(parents=True, exist_ok=True)
    rules_file.write_text(rules.text, encoding="utf-8")
    shell = PageShell(install)
    shell.env["VERIFIER_REDIS_URL"] = install.redis_url
    shell.env["VERIFIER_KEYS_DIR"] = install.localize("/etc/verifier/keys")
    shell.env["VERIFIER_RULES_FILE"] = str(rules_file)
    subprocess.run(["verifier", "keys", "generate"], env=shell.env, capture_output=True, check=True)
    _add_user(shell, "alice", "a long password", "finance")
    for block in consoles:
        lines = block.text.splitlines()
        for index, line in enumerate(lines):
            if not line.startswith("$ "):
                continue
            expected = lines[index + 1]
            result = subprocess.run(
                ["bash", "-c", install.localize(line[2:])],
                env=shell.env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            printed = result.stdout.strip().replace(str(install.root), "")
            assert printed == expected, f"{block}: {line}\n{result.stderr}"


# --- the tokens page: a script calls a protected API, as written --------------------------


def test_the_tokens_page_calls_a_protected_api_with_curl_and_requests_as_written(
    install: Install,
) -> None:
    # The deployment of "Protecting your own app" (its serve block, its nginx example, the
    # demo app), then the tokens page's blocks in order, as a reader pastes them: the shell
    # blocks into one shell (the token they export is the next block's), the Python example
    # into Python with that token in its environment. curl and requests trust the test CA
    # through their usual variables; nothing else of the examples changes.
    blocks = fenced_blocks(TOKENS_PAGE)
    make, call, revoke = [block for block in blocks if block.language == "sh"]
    (script,) = [block for block in blocks if block.language == "python"]
    shell = PageShell(install)
    app = nginx = None
    try:
        shell.run_block(Example(ROOT / "README.md", 0, "sh", _serve_block()))
        app = processes.start_legacy_app(install.app_port, log_dir=install.root)
        conf = nginx_conf(install, _http_example().text)
        assert nginx_test(NGINX_BINARIES[0], install, conf).returncode == 0
        nginx = processes.start_nginx(
            NGINX_BINARIES[0].path,
            install.root / "nginx",
            install.root / "nginx" / "nginx.conf",
            port=install.nginx_port,
        )
        env = {
            **shell.env,
            "CURL_CA_BUNDLE": str(install.tls.ca_file),
            "REQUESTS_CA_BUNDLE": str(install.tls.ca_file),
        }
        token_file = install.root / "token"
        # The one line the test adds: where the shell's token goes for the Python example.
        keep = f'printf %s "$VERIFIER_TOKEN" > {token_file}\n'
        called = _paste(install, env, make.text + call.text + keep)
        assert called.returncode == 0, f"{make} / {call}: {called.stdout}\n{called.stderr}"
        who = json.loads(called.stdout.splitlines()[-1])
        assert (who["user"], who["groups"]) == ("deploy-bot", ["deployers"])
        assert who["token"] and who["session"] is None
        token = token_file.read_text(encoding="utf-8")
        assert token.startswith("vrf_")
        env["VERIFIER_TOKEN"] = token

        from_python = _run_python(install, env, script)
        assert from_python.returncode == 0, f"{script}: {from_python.stderr}"
        assert "deploy-bot" in from_python.stdout

        revoked = _paste(install, env, revoke.text)
        assert revoked.returncode == 0, f"{revoke}: {revoked.stderr}"
        assert who["token"] in revoked.stdout  # the listing named the token's id
        refused = _run_python(install, env, script)
        assert refused.returncode != 0
        assert "401" in refused.stderr
    finally:
        for process in (nginx, app):
            if process is not None:
                process.stop()
        shell.stop()


def _paste(install: Install, env: dict[str, str], text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", install.localize(text)],
        env=env,
        cwd=install.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _run_python(
    install: Install, env: dict[str, str], block: Example
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", install.localize(block.text)],
        env=env,
        cwd=install.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
