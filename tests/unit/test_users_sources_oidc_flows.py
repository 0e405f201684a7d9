"""What a stored flow record makes of a step-up: the provider's `auth_time` must fall within
the flow, and a record written before step-ups existed is still an ordinary sign-in."""

from __future__ import annotations

import json

from verifier.users.sources.oidc_flows import Flow, _parsed

STARTED = 1_000_000.0
SKEW = 30


def _flow() -> Flow:
    return Flow("oidc:op", "/", "n", "v", "b", step_up_session="s1", started_at=STARTED)


def test_a_step_up_needs_an_auth_time_from_the_provider() -> None:
    assert not _flow().signed_in_again(None, SKEW)


def test_an_auth_time_from_before_the_flow_is_no_new_sign_in() -> None:
    assert not _flow().signed_in_again(STARTED - SKEW - 1, SKEW)


def test_an_auth_time_within_the_flow_or_the_skew_is_a_new_sign_in() -> None:
    assert _flow().signed_in_again(STARTED + 5, SKEW)
    assert _flow().signed_in_again(STARTED - SKEW, SKEW)


def test_a_record_without_step_up_fields_is_an_ordinary_sign_in() -> None:
    record = {"source": "oidc:op", "next": "/", "nonce": "n", "verifier": "v", "binding": "b"}
    flow = _parsed(json.dumps(record))
    assert flow is not None and flow.step_up_session == "" and flow.started_at == 0.0


def test_a_record_with_a_malformed_step_up_is_no_flow() -> None:
    record = {"source": "oidc:op", "next": "/", "nonce": "n", "verifier": "v", "binding": "b"}
    assert _parsed(json.dumps({**record, "step_up": 5})) is None
    assert _parsed(json.dumps({**record, "started": "soon"})) is None
