"""Passkeys through nginx with `requests` and a software authenticator: registering on the
account page, the second step of a sign-in, a sign-in without a password; every refusal
(CSRF, no session, no pending sign-in, garbage JSON, a replayed or foreign challenge, an
unknown credential, a sign count that went back, no user verification) answers its exact
4xx and sets no session cookie."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pytest
from attack_helpers import assert_refused
from cryptography.hazmat.primitives.asymmetric import ec
from e2e_helpers import PAGE_HEADERS, TIMEOUT, new_user, set_cookie_headers, set_cookies
from factor_helpers import (
    enrolled_user,
    password_step,
    pending_cookie_name,
    session_cookie_names,
)
from passkey_helpers import (
    CROSS_SITE,
    FACTOR_OPTIONS_PATH,
    FACTOR_PASSKEY_PATH,
    PASSKEY_COOKIE,
    PASSKEYS_PATH,
    PASSWORDLESS_OPTIONS_PATH,
    PASSWORDLESS_PATH,
    REGISTER_OPTIONS_PATH,
    REGISTER_PATH,
    options_of,
    passwordless_options,
    post_json,
    register,
    soft_authenticator,
    user_with_passkey,
)

from tests.soft_authenticator import SoftAuthenticator
from verifier.store.keyspace import KeySpace

if TYPE_CHECKING:
    import requests
    from conftest import Stack, StackFactory

pytestmark = pytest.mark.one_nginx


def _listed(stack: Stack, session: requests.Session) -> list[dict[str, object]]:
    shown = session.get(
        stack.url(PASSKEYS_PATH), headers={"Accept": "application/json"}, timeout=TIMEOUT
    )
    assert shown.status_code == 200, shown.text[:300]
    listed: list[dict[str, object]] = shown.json()["passkeys"]
    return listed


def _log(stack: Stack) -> str:
    return stack.processes["verifier"].log_path.read_text(encoding="utf-8")


def test_the_first_passkey_comes_with_recovery_codes_and_each_is_listed_by_name(
    stack: Stack,
) -> None:
    name, password = new_user(stack, "pk-register")
    session = stack.login(name, password)
    first = register(stack, session, soft_authenticator(stack), "Laptop")
    assert first.status_code == 200, first.text[:300]
    assert len(first.json()["recovery_codes"]) == 10
    second = register(stack, session, soft_authenticator(stack), "Phone")
    assert second.status_code == 200
    assert "recovery_codes" not in second.json()
    assert second.json()["redirect"] == PASSKEYS_PATH + "?done=added"
    assert [passkey["name"] for passkey in _listed(stack, session)] == ["Laptop", "Phone"]
    assert "passkey.registered" in _log(stack)
    status = stack.cli("users", "mfa", name).stdout
    assert status == f"{name}: totp not enrolled; recovery codes left: 10; passkeys: 2\n"
    # An admin's mfa-reset removes passkeys with the other factors.
    stack.cli("users", "mfa-reset", name)
    assert stack.cli("users", "mfa", name).stdout.endswith("recovery codes left: 0\n")


def test_registering_refuses_no_session_cross_site_garbage_and_a_replayed_answer(
    stack: Stack,
) -> None:
    name, password = new_user(stack, "pk-register-refused")
    anonymous = stack.new_session()
    assert_refused(post_json(anonymous, stack, REGISTER_OPTIONS_PATH, {"name": "x"}), 401)
    assert_refused(post_json(anonymous, stack, REGISTER_PATH, {"credential": {}}), 401)
    session = stack.login(name, password)
    crossed = post_json(session, stack, REGISTER_OPTIONS_PATH, {"name": "x"}, CROSS_SITE)
    assert_refused(crossed, 403)
    assert_refused(post_json(session, stack, REGISTER_OPTIONS_PATH, {"name": "  "}), 400)
    assert_refused(post_json(session, stack, REGISTER_OPTIONS_PATH, ["x"]), 400)
    garbage = session.post(
        stack.url(REGISTER_PATH),
        data=b"{not json",
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        timeout=TIMEOUT,
    )
    assert_refused(garbage, 400)
    soft = soft_authenticator(stack)
    options = options_of(post_json(session, stack, REGISTER_OPTIONS_PATH, {"name": "Key"}))
    answer = soft.register(options)
    assert_refused(post_json(session, stack, REGISTER_PATH, {"credential": "x"}), 400)
    # The garbage above did not spend the challenge; the right answer does, once.
    assert post_json(session, stack, REGISTER_PATH, {"credential": answer}).status_code == 200
    replayed = post_json(session, stack, REGISTER_PATH, {"credential": answer})
    assert_refused(replayed, 400)
    assert len(_listed(stack, session)) == 1


def test_a_registration_for_another_origin_or_relying_party_stores_nothing(
    stack: Stack,
) -> None:
    name, password = new_user(stack, "pk-foreign")
    session = stack.login(name, password)
    for change in ({"origin": "http://127.0.0.1:8080"}, {"rp_id": "evil.example"}):
        options = options_of(post_json(session, stack, REGISTER_OPTIONS_PATH, {"name": "Key"}))
        answer = soft_authenticator(stack).register(options, **change)
        refused = post_json(session, stack, REGISTER_PATH, {"credential": answer})
        assert refused.status_code == 400, refused.text[:300]
        assert "recovery_codes" not in refused.json()
    assert _listed(stack, session) == []
    assert "passkey.register_failed" in _log(stack)


def test_the_same_credential_cannot_be_registered_twice(stack: Stack) -> None:
    name, password = new_user(stack, "pk-twice")
    session = stack.login(name, password)
    soft = soft_authenticator(stack)
    assert register(stack, session, soft).status_code == 200
    assert register(stack, session, soft).status_code == 409
    assert len(_listed(stack, session)) == 1


def test_a_passkey_is_removed_with_a_same_site_post_only(stack: Stack) -> None:
    _, _, _, session = user_with_passkey(stack, "pk-remove")
    (passkey,) = _listed(stack, session)
    form = {"action": "remove", "passkey": str(passkey["id"])}
    crossed = session.post(
        stack.url(PASSKEYS_PATH),
        data=form,
        headers={**PAGE_HEADERS, "Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert crossed.status_code == 403
    unknown = session.post(
        stack.url(PASSKEYS_PATH),
        data={"action": "remove", "passkey": "0" * 64},
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert unknown.status_code == 404
    # A browser's first POST asks: which passkey, and that it is the last second factor.
    asked = session.post(
        stack.url(PASSKEYS_PATH),
        data=form,
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert asked.status_code == 200
    assert "<h1>Remove this passkey?</h1>" in asked.text
    assert "It is your only second factor" in asked.text
    assert len(_listed(stack, session)) == 1
    removed = session.post(
        stack.url(PASSKEYS_PATH),
        data={**form, "confirm": "yes"},
        headers=PAGE_HEADERS,
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert removed.status_code == 303
    assert removed.headers["Location"] == PASSKEYS_PATH + "?done=removed"
    assert _listed(stack, session) == []
    assert "passkey.removed" in _log(stack)


def test_a_passkey_as_second_step_signs_in_and_its_challenge_is_answered_once(
    stack: Stack,
) -> None:
    name, password, soft, _ = user_with_passkey(stack, "pk-second")
    session = password_step(stack, name, password)
    form = session.get(stack.url("/auth/login/factor"), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert "Use a passkey" in form.text
    assert 'name="code"' not in form.text  # passkeys only: no authenticator-app field
    options = options_of(post_json(session, stack, FACTOR_OPTIONS_PATH, {}))
    foreign = soft.assertion(options, origin="http://127.0.0.1:1")
    refused = post_json(session, stack, FACTOR_PASSKEY_PATH, {"credential": foreign})
    assert refused.status_code == 401
    assert session_cookie_names(stack, refused) == set()
    replayed = post_json(
        session, stack, FACTOR_PASSKEY_PATH, {"credential": soft.assertion(options)}
    )
    assert replayed.status_code == 400
    assert session_cookie_names(stack, replayed) == set()
    options = options_of(post_json(session, stack, FACTOR_OPTIONS_PATH, {}))
    signed_in = post_json(
        session, stack, FACTOR_PASSKEY_PATH, {"credential": soft.assertion(options)}
    )
    assert signed_in.status_code == 200, signed_in.text[:300]
    assert signed_in.json()["methods"] == ["pwd", "hwk"]
    assert signed_in.json()["redirect"] == "/"
    assert session_cookie_names(stack, signed_in) == {stack.access_cookie, stack.refresh_cookie}
    assert set_cookies(signed_in)[pending_cookie_name(stack)] == ""
    assert session.get(stack.url("/"), timeout=TIMEOUT, allow_redirects=False).status_code == 200


def test_the_second_step_refuses_without_a_pending_sign_in_cross_site_and_garbage(
    stack: Stack,
) -> None:
    name, password, _, _ = user_with_passkey(stack, "pk-second-refused")
    anonymous = stack.new_session()
    for path in (FACTOR_OPTIONS_PATH, FACTOR_PASSKEY_PATH):
        refused = post_json(anonymous, stack, path, {"credential": {}})
        # No sign-in to continue: 401, and the pending sign-in's cookie is only cleared.
        assert refused.status_code == 401, refused.text
        assert session_cookie_names(stack, refused) == set()
        assert all("Max-Age=0" in line for line in set_cookie_headers(refused))
    session = password_step(stack, name, password)
    assert_refused(post_json(session, stack, FACTOR_OPTIONS_PATH, {}, CROSS_SITE), 403)
    options = options_of(post_json(session, stack, FACTOR_OPTIONS_PATH, {}))
    assert_refused(post_json(session, stack, FACTOR_PASSKEY_PATH, {"credential": []}), 400)
    assert_refused(post_json(session, stack, FACTOR_PASSKEY_PATH, {"nothing": 1}), 400)
    stranger = soft_authenticator(stack)
    stranger.user_handle = name.encode()
    unknown = post_json(
        session, stack, FACTOR_PASSKEY_PATH, {"credential": stranger.assertion(options)}
    )
    assert unknown.status_code == 401
    assert session_cookie_names(stack, unknown) == set()


def test_a_sign_count_that_went_back_is_refused(stack: Stack) -> None:
    name, password, soft, _ = user_with_passkey(stack, "pk-count")
    session = password_step(stack, name, password)
    options = options_of(post_json(session, stack, FACTOR_OPTIONS_PATH, {}))
    soft.sign_count = 5
    used = post_json(session, stack, FACTOR_PASSKEY_PATH, {"credential": soft.assertion(options)})
    assert used.status_code == 200
    cloned = password_step(stack, name, password)
    options = options_of(post_json(cloned, stack, FACTOR_OPTIONS_PATH, {}))
    refused = post_json(
        cloned, stack, FACTOR_PASSKEY_PATH, {"credential": soft.assertion(options, sign_count=3)}
    )
    assert refused.status_code == 401
    assert session_cookie_names(stack, refused) == set()
    assert "reason=sign_count" in _log(stack)


def test_a_user_without_passkeys_gets_no_passkey_options(stack: Stack) -> None:
    user = enrolled_user(stack, "pk-totp-only")
    session = password_step(stack, user.name, user.password)
    assert post_json(session, stack, FACTOR_OPTIONS_PATH, {}).status_code == 409
    form = session.get(stack.url("/auth/login/factor"), headers=PAGE_HEADERS, timeout=TIMEOUT)
    assert "Use a passkey" not in form.text
    assert "<script" not in form.text


def test_passwordless_sign_in_with_user_verification_records_hwk_and_pin(stack: Stack) -> None:
    name, _, soft, _ = user_with_passkey(stack, "pk-alone")
    session = stack.new_session()
    started = post_json(session, stack, PASSWORDLESS_OPTIONS_PATH, {"next": "/admin/"})
    options = options_of(started)
    assert options["userVerification"] == "required"
    assert PASSKEY_COOKIE in set_cookies(started)
    signed_in = post_json(
        session, stack, PASSWORDLESS_PATH, {"credential": soft.assertion(options)}
    )
    assert signed_in.status_code == 200, signed_in.text[:300]
    assert signed_in.json()["user"] == name
    assert signed_in.json()["methods"] == ["hwk", "pin"]
    assert signed_in.json()["redirect"] == "/admin/"
    assert session_cookie_names(stack, signed_in) == {stack.access_cookie, stack.refresh_cookie}
    assert set_cookies(signed_in)[PASSKEY_COOKIE] == ""
    assert re.search(rf"signin.succeeded user={re.escape(name)} .*methods=hwk,pin", _log(stack))


def test_passwordless_refuses_without_its_cookie_a_replay_and_without_verification(
    stack: Stack,
) -> None:
    _, _, soft, _ = user_with_passkey(stack, "pk-alone-refused")
    bare = stack.new_session()
    assert post_json(bare, stack, PASSWORDLESS_PATH, {"credential": {}}).status_code == 400
    session = stack.new_session()
    options = passwordless_options(stack, session)
    binding = session.cookies.get(PASSKEY_COOKIE)
    answer = soft.assertion(options)
    assert post_json(session, stack, PASSWORDLESS_PATH, {"credential": answer}).status_code == 200
    # The same answer again, with the cookie put back: the challenge is gone.
    replay = stack.new_session()
    replay.cookies.set(PASSKEY_COOKIE, str(binding), path="/auth/")
    replayed = post_json(replay, stack, PASSWORDLESS_PATH, {"credential": answer})
    assert replayed.status_code == 400
    assert session_cookie_names(stack, replayed) == set()
    unverified = stack.new_session()
    options = passwordless_options(stack, unverified)
    refused = post_json(
        unverified,
        stack,
        PASSWORDLESS_PATH,
        {"credential": soft.assertion(options, user_verified=False)},
    )
    assert refused.status_code == 401
    assert session_cookie_names(stack, refused) == set()
    crossed = post_json(stack.new_session(), stack, PASSWORDLESS_OPTIONS_PATH, {}, CROSS_SITE)
    assert_refused(crossed, 403)


def test_an_expired_challenge_is_refused_and_sets_nothing(stack: Stack) -> None:
    name, password, soft, _ = user_with_passkey(stack, "pk-expired")
    session = password_step(stack, name, password)
    options = options_of(post_json(session, stack, FACTOR_OPTIONS_PATH, {}))
    # Its TTL ran out: the key is gone, as Redis removes it at the end of CEREMONY_SECONDS.
    prefix = KeySpace(stack.key_prefix).webauthn_challenge("second-factor", "")
    expired = list(stack.redis.scan_iter(prefix + "*"))
    assert expired
    stack.redis.delete(*expired)
    refused = post_json(
        session, stack, FACTOR_PASSKEY_PATH, {"credential": soft.assertion(options)}
    )
    assert refused.status_code == 400
    assert refused.json()["error"].startswith("This passkey request expired")
    assert session_cookie_names(stack, refused) == set()


def test_passwordless_refuses_an_unknown_user_handle_and_a_removed_user(stack: Stack) -> None:
    name, _, soft, _ = user_with_passkey(stack, "pk-gone")
    stranger = SoftAuthenticator(origin=stack.localhost_url(""), rp_id="localhost")
    stranger.user_handle = b"no such user!"
    for authenticator in (stranger, soft):
        if authenticator is soft:
            stack.cli("users", "remove", name)
        session = stack.new_session()
        options = passwordless_options(stack, session)
        answer = authenticator.assertion(options)
        refused = post_json(session, stack, PASSWORDLESS_PATH, {"credential": answer})
        assert refused.status_code == 401, refused.text[:300]
        assert session_cookie_names(stack, refused) == set()


def test_failed_passkey_answers_are_throttled_like_wrong_codes(stack: Stack) -> None:
    _, _, soft, _ = user_with_passkey(stack, "pk-throttle")
    other_key = ec.generate_private_key(ec.SECP256R1())
    statuses = []
    for _ in range(6):
        session = stack.new_session()
        options = passwordless_options(stack, session)
        answer = soft.assertion(options, signer=other_key)
        statuses.append(post_json(session, stack, PASSWORDLESS_PATH, {"credential": answer}))
    assert [response.status_code for response in statuses] == [401] * 5 + [429]
    assert "Retry-After" in statuses[-1].headers
    # Throttled means refused, even for the right answer.
    session = stack.new_session()
    right = soft.assertion(passwordless_options(stack, session))
    throttled = post_json(session, stack, PASSWORDLESS_PATH, {"credential": right})
    assert throttled.status_code == 429
    assert session_cookie_names(stack, throttled) == set()


def test_pages_offering_passkeys_load_only_the_verifiers_script(stack: Stack) -> None:
    page = stack.new_session().get(stack.url("/auth/login"), timeout=TIMEOUT)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert re.findall(r"<script[^>]*>", page.text) == [
        '<script src="/auth/static/webauthn.js" defer>'
    ]
    assert "Sign in with a passkey" in page.text
    script = stack.new_session().get(stack.url("/auth/static/webauthn.js"), timeout=TIMEOUT)
    assert script.status_code == 200
    assert script.headers["Content-Type"].startswith("text/javascript")
    assert "max-age=3600" in script.headers["Cache-Control"]
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert "navigator.credentials" in script.text


def test_without_a_relying_party_no_page_offers_passkeys(fresh_stack: StackFactory) -> None:
    stack = fresh_stack(VERIFIER_WEBAUTHN_RP_ID="", VERIFIER_WEBAUTHN_ORIGINS="")
    page = stack.new_session().get(stack.url("/auth/login"), timeout=TIMEOUT)
    assert "<script" not in page.text
    assert "script-src" not in page.headers["Content-Security-Policy"]
    name, password = new_user(stack, "pk-off")
    session = stack.login(name, password)
    for path in (REGISTER_OPTIONS_PATH, PASSWORDLESS_OPTIONS_PATH, FACTOR_OPTIONS_PATH):
        assert post_json(session, stack, path, {}).status_code == 404
    assert session.get(stack.url("/auth/static/webauthn.js"), timeout=TIMEOUT).status_code == 404
    assert not list(stack.redis.scan_iter(KeySpace(stack.key_prefix).passkeys("*")))


def test_redis_down_fails_closed_with_503_and_sets_no_cookie(stack: Stack) -> None:
    name, password, soft, session = user_with_passkey(stack, "pk-outage")
    pending = password_step(stack, name, password)
    passwordless = stack.new_session()
    options = passwordless_options(stack, passwordless)
    stack.stop_redis()
    answers = [
        post_json(session, stack, REGISTER_OPTIONS_PATH, {"name": "Key"}),
        post_json(pending, stack, FACTOR_OPTIONS_PATH, {}),
        post_json(stack.new_session(), stack, PASSWORDLESS_OPTIONS_PATH, {}),
        post_json(passwordless, stack, PASSWORDLESS_PATH, {"credential": soft.assertion(options)}),
    ]
    assert [answer.status_code for answer in answers] == [503] * 4
    assert [set_cookies(answer) for answer in answers] == [{}] * 4
