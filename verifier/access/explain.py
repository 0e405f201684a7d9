"""`verifier access check`: the decision for a hypothetical request, and what made it."""

from __future__ import annotations

from verifier.access.decision import AccessPolicy, AccessRequest, Decision, Identity


def explain(
    policy: AccessPolicy, identity: Identity, request: AccessRequest
) -> tuple[Decision, str]:
    """Decide, and describe the decision in one line an admin can act on."""
    decision = policy.decide(identity, request)
    verdict = "ALLOW" if decision.allowed else "DENY"
    groups = ",".join(identity.groups) or "none"
    host = f" on {request.host}" if request.host else ""
    declared = f' with $verifier_require "{request.declaration}"' if request.declaration else ""
    line = (
        f"{verdict} {request.method} {request.path}{host}{declared} "
        f"for {identity.user} (groups: {groups}): {decision.reason}"
    )
    return decision, line
