"""`verifier access check`: the decision for a hypothetical request, and what made it."""

from __future__ import annotations

import time

from verifier.access.decision import AccessPolicy, AccessRequest, Decision, Identity


def explain(
    policy: AccessPolicy, identity: Identity, request: AccessRequest, now: float | None = None
) -> tuple[Decision, str]:
    """Decide, and describe the decision in one line an admin can act on."""
    now = time.time() if now is None else now
    decision = policy.decide(identity, request, now)
    if decision.allowed:
        verdict = "ALLOW"
    elif decision.step_up is not None:
        verdict = f"STEP-UP {decision.step_up}"
    else:
        verdict = "DENY"
    groups = ",".join(identity.groups) or "none"
    host = f" on {request.host}" if request.host else ""
    declared = f' with $verifier_require "{request.declaration}"' if request.declaration else ""
    who = f"groups: {groups}"
    sign_in = identity.sign_in
    if decision.conditions.any:
        # Only where something was asked of the session: elsewhere it changes nothing.
        if sign_in is None:
            who += "; sign-in unknown"
        else:
            minutes = max(0, int(now - sign_in.auth_time)) // 60
            who += f"; signed in with {','.join(sign_in.amr)} {minutes} min ago"
    line = (
        f"{verdict} {request.method} {request.path}{host}{declared} "
        f"for {identity.user} ({who}): {decision.reason}"
    )
    return decision, line
