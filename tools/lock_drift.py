"""Print how the packages of the running environment differ from uv.lock.

`make test-latest` and `make test-oldest` run it with their throwaway venv's interpreter, so a
failing lint or unit test there comes with the versions that changed since the lock.
"""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name


def locked_versions(lock_file: Path) -> dict[str, str]:
    """Each locked package's version, by its canonical name."""
    lock = tomllib.loads(lock_file.read_text())
    return {
        canonicalize_name(package["name"]): package["version"]
        for package in lock["package"]
        if "version" in package
    }


def installed_versions() -> dict[str, str]:
    """Each package installed in this interpreter's environment, by its canonical name."""
    return {
        canonicalize_name(distribution.metadata["Name"]): distribution.version
        for distribution in metadata.distributions()
    }


def main() -> int:
    """Print one line per package whose version here is not the locked one."""
    lock_file = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("uv.lock")
    locked = locked_versions(lock_file)
    installed = installed_versions()
    changed = sorted(
        (name, locked.get(name, "-"), version)
        for name, version in installed.items()
        if locked.get(name) != version and name not in {"verifier", "pip"}
    )
    print(f"{len(changed)} package(s) differ from {lock_file}:")
    for name, locked_version, version in changed:
        print(f"  {name}: locked {locked_version}, here {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
