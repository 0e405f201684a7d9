"""The records the /auth path builds: slotted, compared and hashed by value, read-only to mypy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from verifier.access.decision import AccessRequest, Identity
from verifier.gate import Admitted
from verifier.records import record


@record
class _Point:
    x: int
    y: int = 0


def test_a_record_is_slotted_and_compares_and_hashes_by_value() -> None:
    point = _Point(1)
    assert not hasattr(point, "__dict__")
    assert point == _Point(1, 0)
    assert hash(point) == hash(_Point(1, 0))
    assert point != _Point(1, 1)
    assert len({point, _Point(1), _Point(2)}) == 2


def test_the_auth_path_records_still_key_caches_by_value() -> None:
    assert hash(AccessRequest(path="/a")) == hash(AccessRequest(path="/a"))
    assert Identity("ann", ("ops",)) == Identity("ann", ("ops",))
    assert Admitted("ann", "s1") == Admitted("ann", "s1")


def test_mypy_refuses_to_assign_a_field_of_a_record(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from verifier.gate import Admitted\n"
        "admitted = Admitted('ann', 's1')\n"
        "admitted.user = 'root'\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", str(probe)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    assert 'Property "user" defined in "Admitted" is read-only' in result.stdout
