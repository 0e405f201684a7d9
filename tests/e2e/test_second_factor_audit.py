"""The second-factor flows at DEBUG, as JSON: each leaves its audit record, and no TOTP
secret, recovery code or pending id reaches any log line (as test_log_secrets.py for login)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from e2e_helpers import all_log_lines, log_records, new_user
from factor_helpers import enrol, password_step, pending_value, post_code

if TYPE_CHECKING:
    from conftest import StackFactory

pytestmark = pytest.mark.one_nginx


def test_second_factor_flows_are_audited_and_no_secret_reaches_a_log(
    fresh_stack: StackFactory,
) -> None:
    stack = fresh_stack(VERIFIER_LOG_FORMAT="json", VERIFIER_LOG_LEVEL="DEBUG")
    name, password = new_user(stack, "audit-2f")
    app, recovery_codes = enrol(stack, stack.login(name, password))
    with_code = password_step(stack, name, password)
    pending_ids = [pending_value(with_code)]
    assert post_code(with_code, stack, code=app.wrong_code()).status_code == 401
    assert post_code(with_code, stack, code=app.code()).status_code == 303
    with_recovery = password_step(stack, name, password)
    pending_ids.append(pending_value(with_recovery))
    assert post_code(with_recovery, stack, recovery_code=recovery_codes[0]).status_code == 200

    mine = [record for record in log_records(stack) if record.get("user") == name]
    events = [(r["event"], r.get("methods"), r.get("reason"), r.get("remaining")) for r in mine]
    assert ("totp.enrolled", None, None, None) in events
    assert ("signin.second_factor_failed", None, "bad_code", None) in events
    assert ("signin.succeeded", "pwd,otp", None, None) in events
    assert ("recovery_code.used", None, None, 9) in events
    assert ("signin.succeeded", "pwd,rcv", None, None) in events
    assert [r["purpose"] for r in mine if r["event"] == "signin.second_factor_required"] == [
        "verify",
        "verify",
    ]
    secrets_used = [password, app.secret, *recovery_codes, *pending_ids]
    for line in all_log_lines(stack):
        for secret in secrets_used:
            assert secret not in line, f"a secret in a log line: {line[:200]}"
