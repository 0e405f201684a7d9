"""The service's audit records, read through RecordingAuditLog: revocations and the throttle.

The app runs in the Falcon test client against the real redis-server, on a clock the test
moves, so a refresh token's grace window can end without waiting for it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import falcon.testing
import pytest
import redis.asyncio as aioredis
from conftest import RedisServer
from falcon.util import async_to_sync

from verifier.app import create_app
from verifier.observe.audit import AuditRecord, RecordingAuditLog
from verifier.sessions.store import RefreshToken
from verifier.settings import Settings, SigningKey
from verifier.store.keyspace import KeySpace
from verifier.users.passwords import PasswordHasher
from verifier.users.store import UserStore
from verifier.web.cookies import CookiePolicy

POLICY = CookiePolicy(secure=False)
GRACE_SECONDS = 10
REQUEST_ID = "0123456789abcdef0123456789abcdef"


class MovableClock:
    """Real time plus an offset the test advances."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Service:
    """The app under test, what it recorded, and one user it knows."""

    client: falcon.testing.TestClient
    audit: RecordingAuditLog
    clock: MovableClock
    user: str
    password: str

    def sign_in(self) -> dict[str, str]:
        """Sign the user in; return the cookies set (name -> value)."""
        result = self.post_login(self.user, self.password)
        assert result.status_code == 200, result.text
        return {cookie.name: cookie.value for cookie in result.cookies.values()}

    def post_login(
        self, name: str, password: str, address: str = "198.51.100.7"
    ) -> falcon.testing.Result:
        """POST a JSON sign-in as if nginx forwarded it from `address`."""
        return self.client.simulate_post(
            "/auth/login",
            json={"username": name, "password": password},
            headers={"X-Forwarded-For": address, "X-Request-ID": REQUEST_ID},
        )

    def logout(self, access: str, everywhere: bool = False) -> falcon.testing.Result:
        """POST a sign-out with this access token."""
        return self.client.simulate_post(
            "/auth/logout",
            params={"all": "1"} if everywhere else None,
            headers={"Cookie": f"{POLICY.access_name}={access}", "Accept": "application/json"},
        )

    def check(self, refresh: str) -> falcon.testing.Result:
        """GET /auth with only this refresh token."""
        return self.client.simulate_get(
            "/auth", headers={"Cookie": f"{POLICY.refresh_name}={refresh}"}
        )

    def recorded(self, event: str) -> list[AuditRecord]:
        """The records of this event, in order."""
        return [record for record in self.audit.records if record.event == event]


def _service(redis_server: RedisServer, **overrides: int) -> Service:
    settings = Settings(
        redis_url=redis_server.url,
        signing_keys=(SigningKey("audit", b"audit-records-secret-".ljust(48, b"x")),),
        key_prefix=f"audit-{secrets.token_hex(4)}",
        cookie_secure=False,
        refresh_grace_seconds=GRACE_SECONDS,
        **overrides,
    )
    client = aioredis.Redis.from_url(redis_server.url)
    hasher = PasswordHasher()
    user, password = "erin", secrets.token_urlsafe(16)
    async_to_sync(UserStore(client, KeySpace(settings.key_prefix), hasher).add, user, password)
    audit = RecordingAuditLog()
    clock = MovableClock()
    app = create_app(settings, client, clock=clock, hasher=hasher, audit=audit)
    return Service(falcon.testing.TestClient(app), audit, clock, user, password)


@pytest.fixture
def service(redis_server: RedisServer) -> Service:
    """A service with the default throttle limits."""
    return _service(redis_server)


def test_logout_records_the_action_and_the_revoked_session(service: Service) -> None:
    cookies = service.sign_in()
    session_id = service.recorded("signin.succeeded")[0].fields["session"]

    result = service.logout(cookies[POLICY.access_name])

    assert result.status_code == 200
    assert result.json == {"signed_out": True, "sessions_ended": 1}
    (logout,) = service.recorded("logout")
    assert logout.fields == {"user": "erin", "session": session_id, "sessions_ended": 1}
    (revoked,) = service.recorded("session.revoked")
    assert revoked.fields == {
        "cause": "logout",
        "user": "erin",
        "sessions": session_id,
        "count": 1,
    }
    assert service.audit.events()[-2:] == ["logout", "session.revoked"]


def test_logout_everywhere_records_every_session_it_ended(service: Service) -> None:
    first, second = service.sign_in(), service.sign_in()
    session_ids = {str(record.fields["session"]) for record in service.recorded("signin.succeeded")}

    result = service.logout(second[POLICY.access_name], everywhere=True)

    assert result.json == {"signed_out": True, "sessions_ended": 2}
    (everywhere,) = service.recorded("logout.everywhere")
    assert everywhere.fields["sessions_ended"] == 2
    (revoked,) = service.recorded("session.revoked")
    assert revoked.fields["cause"] == "logout_everywhere"
    assert revoked.fields["user"] == "erin"
    assert revoked.fields["count"] == 2
    assert set(str(revoked.fields["sessions"]).split(",")) == session_ids
    # The first browser's access token now proves a session that no longer exists.
    again = service.logout(first[POLICY.access_name])
    assert again.json == {"signed_out": True, "sessions_ended": 0}
    assert len(service.recorded("session.revoked")) == 1


def test_logout_of_an_ended_session_records_the_action_but_no_revocation(
    service: Service,
) -> None:
    access = service.sign_in()[POLICY.access_name]
    service.logout(access)

    result = service.logout(access)

    assert result.status_code == 200
    assert result.json == {"signed_out": True, "sessions_ended": 0}
    assert [record.fields["sessions_ended"] for record in service.recorded("logout")] == [1, 0]
    assert len(service.recorded("session.revoked")) == 1


def test_a_replayed_refresh_token_records_the_replay_and_the_revocation(
    service: Service,
) -> None:
    refresh = service.sign_in()[POLICY.refresh_name]
    session_id = service.recorded("signin.succeeded")[0].fields["session"]
    assert service.check(refresh).status_code == 204  # rotated: `refresh` is now spent
    service.clock.offset = GRACE_SECONDS + 1

    replayed = service.check(refresh)

    assert replayed.status_code == 401
    assert "set-cookie" not in replayed.headers
    (replay,) = service.recorded("refresh.replayed")
    assert replay.fields == {"user": "erin", "session": session_id, "cause": "replayed"}
    (revoked,) = service.recorded("session.revoked")
    assert revoked.fields == {"cause": "replay", "user": "erin", "sessions": session_id, "count": 1}
    # No record holds the token or its secret part.
    for record in service.audit.records:
        for value in record.fields.values():
            assert refresh.rsplit(".", 1)[-1] not in str(value)


def test_a_token_of_a_generation_the_store_never_reached_is_recorded_as_lost_not_replayed(
    service: Service,
) -> None:
    refresh = service.sign_in()[POLICY.refresh_name]
    session_id = service.recorded("signin.succeeded")[0].fields["session"]
    user_and_session, _ = refresh.rsplit(".", 1)
    # What a client holds after rotations a failover lost: generation 5 of this session,
    # with a secret this store never saw.
    from_a_lost_history = f"{user_and_session}.{RefreshToken.mint('erin', session_id).secret}@5"

    refused = service.check(from_a_lost_history)

    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers
    (lost,) = service.recorded("refresh.lost")
    assert lost.fields == {"user": "erin", "session": session_id, "cause": "lost"}
    # Not the theft signal, and nothing ends: anyone can write a large generation.
    assert service.recorded("refresh.replayed") == []
    assert service.recorded("session.revoked") == []
    assert service.check(refresh).status_code == 204


def test_an_account_throttle_refusal_records_which_limit_and_the_wait(
    redis_server: RedisServer,
) -> None:
    service = _service(redis_server, login_max_failures_per_account=2)
    typed = "Erin\r\nforged: line"
    for _ in range(2):
        assert service.post_login(typed, "wrong-password").status_code == 401

    refused = service.post_login(typed, "wrong-password")

    assert refused.status_code == 429
    assert "set-cookie" not in refused.headers
    (engaged,) = service.recorded("throttle.engaged")
    retry_after = int(refused.headers["retry-after"])
    assert engaged.fields == {
        "counter": "account",
        "retry_after": retry_after,
        "user": "Erin??forged: line",
        "address": "198.51.100.7",
        "request_id": REQUEST_ID,
    }
    assert 1 <= retry_after <= 60
    # The refusal is also a failed sign-in, like any other.
    assert [record.fields["reason"] for record in service.recorded("signin.failed")] == [
        "bad_credentials",
        "bad_credentials",
        "throttled",
    ]
    assert service.audit.events()[-2:] == ["throttle.engaged", "signin.failed"]


def test_an_address_throttle_refusal_names_the_address_counter(
    redis_server: RedisServer,
) -> None:
    service = _service(redis_server, login_max_failures_per_address=1)
    assert service.post_login("nobody", "wrong-password", "203.0.113.9").status_code == 401

    refused = service.post_login("someone-else", "wrong-password", "203.0.113.9")

    assert refused.status_code == 429
    (engaged,) = service.recorded("throttle.engaged")
    assert engaged.fields["counter"] == "address"
    assert engaged.fields["user"] == "someone-else"
    assert engaged.fields["address"] == "203.0.113.9"
    assert engaged.fields["retry_after"] == int(refused.headers["retry-after"])
    # The right password from that address is refused too, and no session starts.
    blocked = service.post_login(service.user, service.password, "203.0.113.9")
    assert blocked.status_code == 429
    assert "set-cookie" not in blocked.headers
    assert service.recorded("signin.succeeded") == []
    assert len(service.recorded("throttle.engaged")) == 2


def test_a_sign_in_past_the_session_limit_records_the_sessions_it_ended(
    redis_server: RedisServer,
) -> None:
    service = _service(redis_server, max_sessions_per_user=2)
    oldest = service.sign_in()
    service.sign_in()
    assert service.recorded("session.revoked") == []

    service.sign_in()

    oldest_id = service.recorded("signin.succeeded")[0].fields["session"]
    (revoked,) = service.recorded("session.revoked")
    assert revoked.fields == {
        "cause": "session_limit",
        "user": "erin",
        "sessions": oldest_id,
        "count": 1,
        "request_id": REQUEST_ID,
    }
    assert service.audit.events()[-2:] == ["signin.succeeded", "session.revoked"]
    assert service.check(oldest[POLICY.refresh_name]).status_code == 401
