"""The rules reloader: a valid edit is put in force, a broken one is logged and ignored."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from verifier.access import AccessPolicy, AccessRequest, Identity, load_rules
from verifier.access.reload import RulesReloader
from verifier.observe import RecordingAuditLog

DENY_REPORTS = '[[rules]]\npaths = ["/reports"]\npolicy = "deny"\n'
GUEST = Identity("guest", ())
REPORTS = AccessRequest(path="/reports")


def _reloader(tmp_path: Path, text: str) -> tuple[Path, AccessPolicy, RulesReloader]:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    policy = AccessPolicy(load_rules(path))
    return path, policy, RulesReloader(path, policy)


def _rewrite(path: Path, text: str) -> None:
    # A new inode, as editors and config-management tools write files.
    temporary = path.with_suffix(".new")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    _, _, reloader = _reloader(tmp_path, DENY_REPORTS)
    assert not reloader.check_now()


def test_a_valid_edit_is_put_in_force(tmp_path: Path) -> None:
    path, policy, reloader = _reloader(tmp_path, "")
    assert policy.decide(GUEST, REPORTS).allowed
    _rewrite(path, DENY_REPORTS)
    assert reloader.check_now()
    assert not policy.decide(GUEST, REPORTS).allowed


def test_a_broken_edit_keeps_the_rules_in_force_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, policy, reloader = _reloader(tmp_path, DENY_REPORTS)
    _rewrite(path, DENY_REPORTS + "[[rules]]\npolicy = 'sometimes'\n")
    with caplog.at_level(logging.ERROR):
        assert not reloader.check_now()
    assert not policy.decide(GUEST, REPORTS).allowed
    assert "rules.toml:5: rule 2: policy must be" in caplog.text


def test_a_deleted_file_keeps_the_rules_in_force(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, policy, reloader = _reloader(tmp_path, DENY_REPORTS)
    path.unlink()
    with caplog.at_level(logging.ERROR):
        assert not reloader.check_now()
    assert not policy.decide(GUEST, REPORTS).allowed
    assert "is gone" in caplog.text


def test_a_fixed_file_is_picked_up_after_a_broken_one(tmp_path: Path) -> None:
    path, policy, reloader = _reloader(tmp_path, "")
    _rewrite(path, "not toml [")
    assert not reloader.check_now()
    _rewrite(path, DENY_REPORTS)
    assert reloader.check_now()
    assert not policy.decide(GUEST, REPORTS).allowed


def test_a_reload_is_an_audit_record(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("", encoding="utf-8")
    audit = RecordingAuditLog()
    reloader = RulesReloader(path, AccessPolicy(load_rules(path)), audit=audit)
    _rewrite(path, DENY_REPORTS)
    assert reloader.check_now()
    (record,) = audit.records
    assert record.event == "config.reloaded"
    assert record.fields == {"what": "rules", "worker": os.getpid(), "file": str(path), "rules": 1}
