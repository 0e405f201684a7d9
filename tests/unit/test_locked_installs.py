"""The lock is what we install: uv.lock matches pyproject.toml, uv and the build backend are
pinned with hashes, and `make lock-check` names the fix when a range changes without a lock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from tools.lock_drift import locked_versions

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
LOCK = ROOT / "uv.lock"
LOCK_MISMATCH = "uv.lock does not match pyproject.toml: run 'make lock' and commit uv.lock"


def _uv() -> str:
    # The Makefile installs uv into .tools/ before anything else, so `make test` has it.
    for candidate in (ROOT / ".tools" / "bin" / "uv", shutil.which("uv")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    pytest.fail("uv is not installed: run `make venv` (it installs uv from tools/uv.txt)")


def _pinned(requirements: Path) -> tuple[str, str, list[str]]:
    """The one `name==version` a hashed requirements file pins, with its hashes."""
    text = requirements.read_text()
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;]+)", text, flags=re.MULTILINE)
    assert len(pins) == 1, f"{requirements.name} pins {pins}, expected exactly one package"
    hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", text)
    return pins[0][0], pins[0][1], hashes


def _lock_check(workdir: Path) -> subprocess.CompletedProcess[str]:
    uv = _uv()
    # -o: take the given uv as installed, so the copy does not bootstrap a second one.
    return subprocess.run(
        ["make", "--no-print-directory", "-o", uv, f"UV={uv}", "lock-check"],
        cwd=workdir,
        env={**os.environ, "UV_CACHE_DIR": str(workdir / "uv-cache")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_only_the_mismatch_line(stderr: str) -> None:
    # Our one line, then make's own "*** [Makefile:N: lock-check] Error 1"; none of uv's.
    ours, *rest = stderr.strip().splitlines()
    assert ours == LOCK_MISMATCH
    assert all(re.match(r"make(\[\d+\])?: \*\*\* ", line) for line in rest), stderr


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """The files `make lock-check` reads, in a scratch directory that may be edited."""
    for name in ("Makefile", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "tools", tmp_path / "tools")
    return tmp_path


def test_committed_lock_matches_pyproject(project_copy: Path) -> None:
    result = _lock_check(project_copy)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_range_edited_without_make_lock_fails_with_one_line_naming_the_fix(
    project_copy: Path,
) -> None:
    pyproject = project_copy / "pyproject.toml"
    text = pyproject.read_text()
    assert '"falcon>=4.2,<5"' in text
    pyproject.write_text(text.replace('"falcon>=4.2,<5"', '"falcon>=4.3,<5"'))
    result = _lock_check(project_copy)
    assert result.returncode != 0
    _assert_only_the_mismatch_line(result.stderr)


def test_a_dependency_added_without_make_lock_fails_the_same_way(project_copy: Path) -> None:
    pyproject = project_copy / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('    "pytest>=8,<10",', '    "pytest>=8,<10",\n    "six",'))
    result = _lock_check(project_copy)
    assert result.returncode != 0
    _assert_only_the_mismatch_line(result.stderr)


def test_the_lock_holds_a_hash_for_every_registry_package() -> None:
    lock = tomllib.loads(LOCK.read_text())
    for package in lock["package"]:
        if "registry" not in package.get("source", {}):
            continue
        files = [package.get("sdist"), *package.get("wheels", [])]
        hashes = [file["hash"] for file in files if file]
        assert hashes, f"{package['name']} has no file in the lock"
        assert all(value.startswith("sha256:") for value in hashes), package["name"]


def test_the_lock_covers_the_service_and_both_extras() -> None:
    locked = locked_versions(LOCK)
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    declared = [*project["dependencies"]]
    for extra in ("standalone", "dev"):
        declared += project["optional-dependencies"][extra]
    for requirement in declared:
        name = re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        if name == "verifier":  # the dev extra includes the standalone one by name
            continue
        assert name in locked, f"{requirement} is not in uv.lock"


def test_uv_is_bootstrapped_from_one_pinned_version_with_hashes() -> None:
    name, _version, hashes = _pinned(ROOT / "tools" / "uv.txt")
    assert name == "uv"
    # One wheel per platform: a file whose hash is missing could not be installed at all.
    assert len(hashes) >= 2


def test_the_image_builds_with_the_backend_version_uv_sync_uses() -> None:
    name, version, hashes = _pinned(ROOT / "tools" / "build.txt")
    constraints = tomllib.loads(PYPROJECT.read_text())["tool"]["uv"][
        "build-constraint-dependencies"
    ]
    assert constraints == [f"{name}=={version}"]
    assert hashes
    build_requires = tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"]
    assert [requirement.split(">")[0] for requirement in build_requires] == [name]


def test_lock_drift_names_packages_whose_version_differs(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    lock.write_text(
        'version = 1\n[[package]]\nname = "Some_Package"\nversion = "1.0"\n'
        '[[package]]\nname = "verifier"\nsource = { editable = "." }\n'
    )
    assert locked_versions(lock) == {"some-package": "1.0"}
