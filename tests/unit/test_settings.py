"""verifier.settings: defaults, every rejected value, `_FILE` secrets, secrets out of repr."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.unprivileged import (
    give_to_unprivileged,
    raised_as_unprivileged,
    unprivileged_dir,
)
from verifier.errors import SettingsError, SettingsInvalid
from verifier.settings import (
    MIN_SECRET_LENGTH,
    Settings,
    SigningKey,
    load_settings,
    parse_signing_keys,
    read_settings,
)

SECRET = "s" * MIN_SECRET_LENGTH
OTHER_SECRET = "t" * 48
KEYS = f"k1:{SECRET}"


def env(**overrides: str) -> dict[str, str]:
    """A minimal valid environment (one signing key) plus VERIFIER_-prefixed overrides."""
    environ = {"VERIFIER_JWT_KEYS": KEYS}
    environ.update({f"VERIFIER_{name}": value for name, value in overrides.items()})
    return environ


def settings(**fields: object) -> Settings:
    """Settings built directly, as create_app's callers in tests do."""
    values: dict[str, object] = {
        "redis_url": "redis://127.0.0.1:6379/0",
        "signing_keys": (SigningKey("k1", SECRET.encode()),),
    }
    values.update(fields)
    return Settings(**values)  # type: ignore[arg-type]


# --- defaults -------------------------------------------------------------------------------------


def test_defaults_match_the_contract() -> None:
    loaded = load_settings(env())
    assert loaded.redis_url == "redis://127.0.0.1:6379/0"
    assert loaded.signing_keys == (SigningKey("k1", SECRET.encode()),)
    assert loaded.issuer == "verifier"
    assert loaded.audience == "verifier"
    assert loaded.access_ttl_seconds == 300
    assert loaded.refresh_idle_seconds == 86_400
    assert loaded.refresh_absolute_seconds == 604_800
    assert loaded.refresh_grace_seconds == 10
    assert loaded.jwt_leeway_seconds == 0
    assert loaded.cookie_secure is True
    assert loaded.key_prefix == "verifier"
    assert loaded.login_path == "/auth/login"
    assert loaded.max_sessions_per_user == 50
    assert loaded.log_level == "INFO"


def test_empty_values_fall_back_to_defaults() -> None:
    loaded = load_settings(env(ACCESS_TTL_SECONDS="", ISSUER="", COOKIE_SECURE=""))
    assert loaded.access_ttl_seconds == 300
    assert loaded.issuer == "verifier"
    assert loaded.cookie_secure is True


def test_every_variable_is_read() -> None:
    loaded = load_settings(
        env(
            REDIS_URL="rediss://:pw@redis.internal:6380/2",
            JWT_KEYS=f"new:{OTHER_SECRET}, old:{SECRET}",
            ISSUER="issuer-x",
            AUDIENCE="audience-y",
            ACCESS_TTL_SECONDS="60",
            REFRESH_IDLE_SECONDS="3600",
            REFRESH_ABSOLUTE_SECONDS="7200",
            REFRESH_GRACE_SECONDS="0",
            JWT_LEEWAY_SECONDS="5",
            COOKIE_SECURE="false",
            KEY_PREFIX="vf-test",
            LOGIN_PATH="/sign-in",
            MAX_SESSIONS_PER_USER="3",
            LOG_LEVEL="debug",
        )
    )
    assert loaded.redis_url == "rediss://:pw@redis.internal:6380/2"
    assert [key.kid for key in loaded.signing_keys] == ["new", "old"]
    assert loaded.current_key == SigningKey("new", OTHER_SECRET.encode())
    assert (loaded.issuer, loaded.audience) == ("issuer-x", "audience-y")
    assert loaded.access_ttl_seconds == 60
    assert loaded.refresh_idle_seconds == 3600
    assert loaded.refresh_absolute_seconds == 7200
    assert loaded.refresh_grace_seconds == 0
    assert loaded.jwt_leeway_seconds == 5
    assert loaded.cookie_secure is False
    assert loaded.key_prefix == "vf-test"
    assert loaded.login_path == "/sign-in"
    assert loaded.max_sessions_per_user == 3
    assert loaded.log_level == "DEBUG"


def test_settings_are_frozen() -> None:
    loaded = load_settings(env())
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.access_ttl_seconds = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
    ],
)
def test_cookie_secure_accepts_the_usual_spellings(raw: str, expected: bool) -> None:
    assert load_settings(env(COOKIE_SECURE=raw)).cookie_secure is expected


@pytest.mark.parametrize("url", ["redis://h:1/0", "rediss://h:1/0", "unix:///run/redis.sock"])
def test_redis_url_accepts_redis_rediss_and_unix(url: str) -> None:
    assert load_settings(env(REDIS_URL=url)).redis_url == url


# --- rejected values: each message names the variable ---------------------------------------------


@pytest.mark.parametrize("raw", ["abc", "1.5", "3e2", "0x10", "ten", "30s"])
@pytest.mark.parametrize(
    "name",
    [
        "ACCESS_TTL_SECONDS",
        "REFRESH_IDLE_SECONDS",
        "REFRESH_ABSOLUTE_SECONDS",
        "REFRESH_GRACE_SECONDS",
        "JWT_LEEWAY_SECONDS",
        "MAX_SESSIONS_PER_USER",
    ],
)
def test_non_integer_is_rejected_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(**{name: raw}))
    assert str(caught.value) == f"VERIFIER_{name}: {raw!r} is not a whole number"


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"ACCESS_TTL_SECONDS": "0"}, "ACCESS_TTL_SECONDS"),
        ({"ACCESS_TTL_SECONDS": "-5"}, "ACCESS_TTL_SECONDS"),
        ({"ACCESS_TTL_SECONDS": "600", "REFRESH_IDLE_SECONDS": "599"}, "REFRESH_IDLE_SECONDS"),
        (
            {"REFRESH_IDLE_SECONDS": "7200", "REFRESH_ABSOLUTE_SECONDS": "7199"},
            "REFRESH_ABSOLUTE_SECONDS",
        ),
        ({"REFRESH_GRACE_SECONDS": "-1"}, "REFRESH_GRACE_SECONDS"),
        ({"REFRESH_GRACE_SECONDS": "61"}, "REFRESH_GRACE_SECONDS"),
        ({"JWT_LEEWAY_SECONDS": "-1"}, "JWT_LEEWAY_SECONDS"),
        ({"JWT_LEEWAY_SECONDS": "61"}, "JWT_LEEWAY_SECONDS"),
        ({"MAX_SESSIONS_PER_USER": "0"}, "MAX_SESSIONS_PER_USER"),
        ({"KEY_PREFIX": "a{b}"}, "KEY_PREFIX"),
        ({"KEY_PREFIX": "has space"}, "KEY_PREFIX"),
        ({"KEY_PREFIX": "p" * 65}, "KEY_PREFIX"),
        ({"LOGIN_PATH": "auth/login"}, "LOGIN_PATH"),
        ({"LOGIN_PATH": "//evil.example/login"}, "LOGIN_PATH"),
        ({"LOGIN_PATH": "https://evil.example/login"}, "LOGIN_PATH"),
        ({"LOG_LEVEL": "trace"}, "LOG_LEVEL"),
        ({"COOKIE_SECURE": "maybe"}, "COOKIE_SECURE"),
        ({"COOKIE_SECURE": "2"}, "COOKIE_SECURE"),
        ({"REDIS_URL": "http://127.0.0.1:6379/0"}, "REDIS_URL"),
        ({"REDIS_URL": "127.0.0.1:6379"}, "REDIS_URL"),
        ({"REDIS_URL": "REDIS://127.0.0.1:6379/0"}, "REDIS_URL"),
    ],
)
def test_out_of_range_or_malformed_value_is_rejected_naming_the_variable(
    overrides: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError, match=rf"^VERIFIER_{variable}: "):
        load_settings(env(**overrides))


def test_idle_shorter_than_access_ttl_explains_why() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(ACCESS_TTL_SECONDS="600", REFRESH_IDLE_SECONDS="300"))
    assert str(caught.value) == (
        "VERIFIER_REFRESH_IDLE_SECONDS: must be >= ACCESS_TTL_SECONDS, "
        "or sessions die before their first refresh"
    )


def test_boundary_values_are_accepted() -> None:
    loaded = load_settings(
        env(
            ACCESS_TTL_SECONDS="1",
            REFRESH_IDLE_SECONDS="1",
            REFRESH_ABSOLUTE_SECONDS="1",
            REFRESH_GRACE_SECONDS="60",
            JWT_LEEWAY_SECONDS="60",
            MAX_SESSIONS_PER_USER="1",
            KEY_PREFIX="p" * 64,
        )
    )
    assert loaded.access_ttl_seconds == loaded.refresh_absolute_seconds == 1
    assert loaded.refresh_grace_seconds == loaded.jwt_leeway_seconds == 60


def test_bad_boolean_message_names_the_variable_and_value() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(COOKIE_SECURE="Maybe"))
    assert str(caught.value) == "VERIFIER_COOKIE_SECURE: 'maybe' is not true/false"


def test_log_format_is_text_unless_json_is_asked_for() -> None:
    assert load_settings(env()).log_format == "text"
    assert load_settings(env(LOG_FORMAT="JSON")).log_format == "json"
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(env(LOG_FORMAT="xml"))
    assert str(caught.value).startswith("VERIFIER_LOG_FORMAT: 'xml' is not text/json")


def test_bad_log_level_message_names_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(LOG_LEVEL="verbose"))
    assert str(caught.value) == "VERIFIER_LOG_LEVEL: 'VERBOSE' is not DEBUG/INFO/WARNING/ERROR"


def test_bad_redis_scheme_message_does_not_echo_the_url() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(REDIS_URL="http://:hunter2-password@redis:6379"))
    assert str(caught.value) == (
        "VERIFIER_REDIS_URL: must start with redis://, rediss:// or unix://"
    )
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value", "variable"),
    [
        ("signing_keys", (), "JWT_KEYS"),
        ("issuer", "", "ISSUER"),
        ("audience", "", "AUDIENCE"),
        ("access_ttl_seconds", 0, "ACCESS_TTL_SECONDS"),
        ("max_sessions_per_user", 0, "MAX_SESSIONS_PER_USER"),
        ("login_path", "", "LOGIN_PATH"),
    ],
)
def test_settings_built_directly_are_checked_too(field: str, value: object, variable: str) -> None:
    with pytest.raises(SettingsError, match=rf"^VERIFIER_{variable}: "):
        settings(**{field: value})


# --- JWT keys -------------------------------------------------------------------------------------


def test_jwt_keys_are_required() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({})
    assert str(caught.value) == "VERIFIER_JWT_KEYS is required"


@pytest.mark.parametrize("text", ["", "   ", ",", " , \n "])
def test_key_list_without_any_key_is_rejected(text: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_signing_keys(text)
    assert str(caught.value) == "VERIFIER_JWT_KEYS: at least one kid:secret is required"


def test_keys_split_on_commas_and_whitespace_and_first_one_signs() -> None:
    keys = parse_signing_keys(f" a:{SECRET},b:{OTHER_SECRET}\n c:{SECRET}:with-colon ")
    assert [key.kid for key in keys] == ["a", "b", "c"]
    assert keys[1].secret == OTHER_SECRET.encode()
    # Only the first ':' separates: a secret may itself hold colons.
    assert keys[2].secret == f"{SECRET}:with-colon".encode()


def test_key_without_colon_is_rejected() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(JWT_KEYS=SECRET))
    assert str(caught.value) == "VERIFIER_JWT_KEYS: expected kid:secret, found no ':'"


def test_short_secret_is_rejected_without_echoing_it() -> None:
    short = "x" * (MIN_SECRET_LENGTH - 1)
    with pytest.raises(SettingsError) as caught:
        load_settings(env(JWT_KEYS=f"k1:{short}"))
    assert str(caught.value) == (
        f"VERIFIER_JWT_KEYS: the secret of kid 'k1' is shorter than {MIN_SECRET_LENGTH} characters"
    )
    assert short not in str(caught.value)


def test_secret_of_exactly_the_minimum_length_is_accepted() -> None:
    assert parse_signing_keys(f"k:{'x' * MIN_SECRET_LENGTH}")[0].kid == "k"


@pytest.mark.parametrize("kid", ["", "../etc/passwd", "a/b", "k{1}", "k" * 65, "kïd", "a'b"])
def test_bad_kid_is_rejected(kid: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(JWT_KEYS=f"{kid}:{SECRET}"))
    assert str(caught.value) == (f"VERIFIER_JWT_KEYS: kid {kid!r} must be 1-64 of [A-Za-z0-9._-]")


def test_duplicate_kid_is_rejected() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env(JWT_KEYS=f"k1:{SECRET},k2:{OTHER_SECRET},k1:{OTHER_SECRET}"))
    assert str(caught.value) == "VERIFIER_JWT_KEYS: kid 'k1' appears twice"


# --- _FILE secrets --------------------------------------------------------------------------------


def test_jwt_keys_file_is_read_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "jwt-keys"
    path.write_text(f"\n  k1:{SECRET}\nk2:{OTHER_SECRET}  \n\n", encoding="utf-8")
    loaded = load_settings({"VERIFIER_JWT_KEYS_FILE": str(path)})
    assert loaded.signing_keys == (
        SigningKey("k1", SECRET.encode()),
        SigningKey("k2", OTHER_SECRET.encode()),
    )


def test_redis_url_file_is_read_and_stripped(tmp_path: Path) -> None:
    path = tmp_path / "redis-url"
    path.write_text("redis://:pw@redis:6379/1\n", encoding="utf-8")
    loaded = load_settings(env(REDIS_URL_FILE=str(path)))
    assert loaded.redis_url == "redis://:pw@redis:6379/1"


@pytest.mark.parametrize("name", ["JWT_KEYS", "REDIS_URL"])
def test_both_value_and_file_is_rejected(tmp_path: Path, name: str) -> None:
    path = tmp_path / "secret"
    path.write_text(KEYS if name == "JWT_KEYS" else "redis://h/0", encoding="utf-8")
    environ = env(**{name: KEYS if name == "JWT_KEYS" else "redis://h/0"})
    environ[f"VERIFIER_{name}_FILE"] = str(path)
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    assert str(caught.value) == f"set VERIFIER_{name} or VERIFIER_{name}_FILE, not both"


def test_missing_secret_file_is_rejected_naming_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SettingsError) as caught:
        load_settings({"VERIFIER_JWT_KEYS_FILE": str(missing)})
    assert str(caught.value) == (
        f"VERIFIER_JWT_KEYS_FILE: cannot read {missing}: No such file or directory"
    )


def test_directory_as_secret_file_is_rejected_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"^VERIFIER_JWT_KEYS_FILE: cannot read "):
        load_settings({"VERIFIER_JWT_KEYS_FILE": str(tmp_path)})


def test_unreadable_secret_file_is_rejected_naming_the_variable() -> None:
    # Read by an ordinary user, even when the suite runs as root (who reads any file).
    with unprivileged_dir() as directory:
        path = directory / "jwt-keys"
        path.write_text(KEYS, encoding="utf-8")
        path.chmod(0)
        give_to_unprivileged(path)

        raised = raised_as_unprivileged(load_settings, {"VERIFIER_JWT_KEYS_FILE": str(path)})

    assert issubclass(raised.kind, SettingsError), raised
    assert raised.message == f"VERIFIER_JWT_KEYS_FILE: cannot read {path}: Permission denied"


def test_secret_file_that_is_not_utf8_is_rejected_naming_the_variable(tmp_path: Path) -> None:
    # A key file saved as UTF-16 (a BOM, then NULs) must stop start-up with a SettingsError
    # like any other unreadable file, not with a bare UnicodeDecodeError traceback.
    path = tmp_path / "jwt-keys"
    path.write_bytes(KEYS.encode("utf-16"))
    with pytest.raises(SettingsError, match=r"^VERIFIER_JWT_KEYS_FILE: "):
        load_settings({"VERIFIER_JWT_KEYS_FILE": str(path)})


def test_empty_secret_file_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "jwt-keys"
    path.write_text("\n", encoding="utf-8")
    with pytest.raises(SettingsError) as caught:
        load_settings({"VERIFIER_JWT_KEYS_FILE": str(path)})
    assert str(caught.value) == "VERIFIER_JWT_KEYS: at least one kid:secret is required"


# --- secrets stay out of repr ---------------------------------------------------------------------


def test_secrets_are_not_in_repr(tmp_path: Path) -> None:
    loaded = load_settings(
        env(
            REDIS_URL="redis://:redis-password-123@redis:6379/0",
            JWT_KEYS=f"k1:{'A' * 40},k2:{'B' * 40}",
        )
    )
    shown = repr(loaded) + str(loaded) + repr(loaded.signing_keys) + repr(loaded.current_key)
    assert "redis-password-123" not in shown
    assert "A" * 40 not in shown
    assert "B" * 40 not in shown
    # The repr stays useful: the non-secret fields are there.
    assert "access_ttl_seconds=300" in repr(loaded)
    assert "kid='k1'" in repr(loaded.current_key)


# --- keys directory, assertions, JWKS -------------------------------------------------------------


def test_key_ring_defaults() -> None:
    loaded = load_settings(env())
    assert loaded.keys_dir is None
    assert loaded.assertion_ttl_seconds == 60
    assert loaded.assertion_audience == "app"
    assert loaded.assertion_issuer == "verifier"
    assert loaded.keys_reload_seconds == 2
    assert loaded.jwks_max_age_seconds == 300


def test_keys_dir_replaces_jwt_keys() -> None:
    loaded = load_settings({"VERIFIER_KEYS_DIR": "/etc/verifier/keys"})
    assert loaded.keys_dir == Path("/etc/verifier/keys")
    assert loaded.signing_keys == ()


@pytest.mark.parametrize("variable", ["VERIFIER_JWT_KEYS", "VERIFIER_JWT_KEYS_FILE"])
def test_keys_dir_and_jwt_keys_together_are_refused(variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"VERIFIER_KEYS_DIR": "/keys", variable: KEYS})
    assert str(caught.value) == (
        "VERIFIER_KEYS_DIR: set VERIFIER_KEYS_DIR or VERIFIER_JWT_KEYS, not both: with a keys "
        "directory, every key comes from it"
    )


def test_keys_dir_must_be_absolute() -> None:
    with pytest.raises(SettingsError, match=r"^VERIFIER_KEYS_DIR: must be an absolute path"):
        load_settings({"VERIFIER_KEYS_DIR": "keys"})


def test_assertion_issuer_follows_the_issuer_unless_set() -> None:
    assert load_settings(env(ISSUER="idp")).assertion_issuer == "idp"
    assert load_settings(env(ISSUER="idp", ASSERTION_ISSUER="edge")).assertion_issuer == "edge"
    assert settings(issuer="idp").assertion_issuer == "idp"


def test_assertion_variables_are_read() -> None:
    loaded = load_settings(
        env(
            ASSERTION_TTL_SECONDS="30",
            ASSERTION_AUDIENCE="billing",
            KEYS_RELOAD_SECONDS="5",
            JWKS_MAX_AGE_SECONDS="60",
        )
    )
    assert loaded.assertion_ttl_seconds == 30
    assert loaded.assertion_audience == "billing"
    assert loaded.keys_reload_seconds == 5
    assert loaded.jwks_max_age_seconds == 60


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ASSERTION_TTL_SECONDS", "0"),
        ("ASSERTION_TTL_SECONDS", "61"),
        ("KEYS_RELOAD_SECONDS", "0"),
        ("KEYS_RELOAD_SECONDS", "61"),
        ("JWKS_MAX_AGE_SECONDS", "-1"),
        ("JWKS_MAX_AGE_SECONDS", "3601"),
    ],
)
def test_key_ring_values_out_of_range_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"^VERIFIER_{name}: must be between"):
        load_settings(env(**{name: value}))


def test_an_empty_assertion_audience_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"^VERIFIER_ASSERTION_AUDIENCE: must not be empty"):
        settings(assertion_audience="")


# --- every problem at once ------------------------------------------------------------------------


def test_every_bad_value_is_listed_not_just_the_first(tmp_path: Path) -> None:
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(
            env(
                LOG_LEVEL="loud",
                ACCESS_TTL_SECONDS="ten",
                COOKIE_SECURE="maybe",
                RULES_FILE=str(tmp_path / "missing.toml"),
                REFRESH_GRACE_SECONDS="99",
            )
        )

    assert sorted(problem.split(":")[0] for problem in caught.value.problems) == [
        "VERIFIER_ACCESS_TTL_SECONDS",
        "VERIFIER_COOKIE_SECURE",
        "VERIFIER_LOG_LEVEL",
        "VERIFIER_REFRESH_GRACE_SECONDS",
        "VERIFIER_RULES_FILE",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_one_bad_value_is_one_problem_with_the_same_message_as_before() -> None:
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(env(ACCESS_TTL_SECONDS="ten"))
    assert caught.value.problems == ("VERIFIER_ACCESS_TTL_SECONDS: 'ten' is not a whole number",)


def test_a_rule_about_an_unreadable_value_is_not_judged_on_its_stand_in() -> None:
    # REFRESH_IDLE_SECONDS=1 would break "idle >= access TTL" with the default TTL, but the
    # TTL given could not be read: only the TTL is reported.
    reading = read_settings(env(ACCESS_TTL_SECONDS="ten", REFRESH_IDLE_SECONDS="1"))
    assert reading.problems == ("VERIFIER_ACCESS_TTL_SECONDS: 'ten' is not a whole number",)
    assert reading.settings is None


def test_rules_between_readable_values_are_all_reported() -> None:
    reading = read_settings(env(REFRESH_IDLE_SECONDS="1", JWT_LEEWAY_SECONDS="61", ISSUER=" "))
    assert [problem.split(":")[0] for problem in reading.problems] == [
        "VERIFIER_REFRESH_IDLE_SECONDS",
        "VERIFIER_JWT_LEEWAY_SECONDS",
    ]


def test_a_variable_with_a_bad_secret_file_is_one_problem(tmp_path: Path) -> None:
    reading = read_settings(
        {"VERIFIER_JWT_KEYS_FILE": str(tmp_path / "missing"), "VERIFIER_LOG_LEVEL": "x"}
    )
    assert len(reading.problems) == 2
    assert reading.problems[1].startswith("VERIFIER_JWT_KEYS_FILE: cannot read ")


def test_a_good_environment_reads_with_no_problems() -> None:
    reading = read_settings(env())
    assert reading.problems == ()
    assert reading.settings == load_settings(env())


def test_redis_url_and_keys_dir_are_kept_for_further_checks_when_other_values_are_bad() -> None:
    reading = read_settings(
        {
            "VERIFIER_KEYS_DIR": "/srv/keys",
            "VERIFIER_REDIS_URL": "redis://127.0.0.1:1/0",
            "VERIFIER_LOG_LEVEL": "x",
        }
    )
    assert reading.settings is None
    assert reading.keys_dir == Path("/srv/keys")
    assert reading.redis_url == "redis://127.0.0.1:1/0"
    assert "redis://" not in repr(reading)


def test_a_bad_redis_url_is_not_kept() -> None:
    reading = read_settings(env(REDIS_URL="http://user:pw@host/"))
    assert reading.redis_url is None
    assert all("pw" not in problem for problem in reading.problems)


def test_settings_built_directly_report_every_broken_rule() -> None:
    with pytest.raises(SettingsInvalid) as caught:
        settings(issuer="", audience="", max_sessions_per_user=0)
    assert [problem.split(":")[0] for problem in caught.value.problems] == [
        "VERIFIER_MAX_SESSIONS_PER_USER",
        "VERIFIER_ISSUER",
        "VERIFIER_AUDIENCE",
    ]


# --- second factor --------------------------------------------------------------------------------


def test_second_factor_settings_default_to_no_group_and_five_minutes() -> None:
    loaded = load_settings(env())
    assert loaded.mfa_required_groups == frozenset()
    assert loaded.pending_signin_seconds == 300


def test_mfa_required_groups_are_a_folded_comma_separated_set() -> None:
    loaded = load_settings(
        env(MFA_REQUIRED_GROUPS=" Admins, ops,,admins ", PENDING_SIGNIN_SECONDS="60")
    )
    assert loaded.mfa_required_groups == frozenset({"admins", "ops"})
    assert loaded.pending_signin_seconds == 60


def test_bad_second_factor_settings_are_each_named() -> None:
    reading = read_settings(env(MFA_REQUIRED_GROUPS="ops,b{ad}", PENDING_SIGNIN_SECONDS="5"))
    assert reading.settings is None
    assert len(reading.problems) == 2
    assert reading.problems[0].startswith("VERIFIER_MFA_REQUIRED_GROUPS: 'b{ad}' is not a group")
    assert reading.problems[1].startswith("VERIFIER_PENDING_SIGNIN_SECONDS: must be between 30")


# --- groups that need a second factor ---------------------------------------------------------


def test_no_group_needs_a_second_factor_by_default() -> None:
    assert load_settings(env()).mfa_required_groups == frozenset()


def test_mfa_required_groups_split_on_commas_and_spaces_and_fold_case() -> None:
    loaded = load_settings(env(MFA_REQUIRED_GROUPS="admins, Ops ,,finance ops"))
    assert loaded.mfa_required_groups == {"admins", "ops", "finance"}


@pytest.mark.parametrize("raw", ["admins,{ops}", "admins;ops", "a" * 65, "grüppe"])
def test_a_bad_mfa_group_is_refused_naming_the_variable_and_the_group(raw: str) -> None:
    with pytest.raises(SettingsError, match=r"^VERIFIER_MFA_REQUIRED_GROUPS: .* is not a group"):
        load_settings(env(MFA_REQUIRED_GROUPS=raw))


def test_a_bad_mfa_group_is_listed_with_every_other_problem() -> None:
    with pytest.raises(SettingsInvalid) as caught:
        load_settings(env(MFA_REQUIRED_GROUPS="{x}", ACCESS_TTL_SECONDS="soon"))
    assert len(caught.value.problems) == 2


# --- the app's name -------------------------------------------------------------------------------


def test_the_app_name_defaults_to_verifier_and_names_the_passkey_relying_party() -> None:
    assert load_settings(env()).app_name == "verifier"
    named = load_settings(env(APP_NAME="Acme Intranet"))
    assert (named.app_name, named.webauthn_rp_name) == ("Acme Intranet", "Acme Intranet")
    both = load_settings(env(APP_NAME="Acme Intranet", WEBAUTHN_RP_NAME="Acme"))
    assert both.webauthn_rp_name == "Acme"


@pytest.mark.parametrize("name", ["x" * 65, "tab\there", "bell\a"])
def test_an_app_name_that_cannot_head_a_page_is_refused_by_name(name: str) -> None:
    with pytest.raises(SettingsError, match=r"^VERIFIER_APP_NAME: must be 1 to 64 printable"):
        load_settings(env(APP_NAME=name))


# --- the sources file ------------------------------------------------------------------------


def test_a_sources_file_with_ldap_sources_is_read_once_into_the_settings(tmp_path: Path) -> None:
    (tmp_path / "bind-password").write_text("service-password\n", encoding="utf-8")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[ldap]]\nid = "corp"\npreset = "openldap"\nurl = "ldaps://ldap.corp.example"\n'
        'ca_file = "ca.pem"\nbind_dn = "cn=verifier,dc=corp"\n'
        'bind_password_file = "bind-password"\nbase_dn = "dc=corp"\n',
        encoding="utf-8",
    )

    loaded = load_settings(env(SOURCES_FILE=str(sources)))

    assert loaded.sources_file == sources
    assert loaded.sources.names() == ("ldap:corp",)


def test_an_oidc_source_is_read_from_the_sources_file(tmp_path: Path) -> None:
    (tmp_path / "client-secret").write_text("client-secret-value\n", encoding="utf-8")
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '# OpenID Connect\n[[oidc]]\nid = "keycloak"\n'
        'issuer = "https://sso.example.com/realms/corp"\nclient_id = "verifier"\n'
        'client_secret_file = "client-secret"\n'
        'redirect_uri = "https://app.example.com/auth/oidc/keycloak/callback"\n',
        encoding="utf-8",
    )

    loaded = load_settings(env(SOURCES_FILE=str(sources)))

    assert loaded.sources.names() == ("oidc:keycloak",)
    (provider,) = loaded.sources.oidc
    assert provider.algorithms == ("RS256",)
    assert provider.client_secret == "client-secret-value"


def test_rp_logout_is_refused_naming_its_line_until_this_build_serves_it(tmp_path: Path) -> None:
    (tmp_path / "client-secret").write_text("client-secret-value\n", encoding="utf-8")
    sources = tmp_path / "sources.toml"
    sources.write_text(
        '[[oidc]]\nid = "keycloak"\nissuer = "https://sso.example.com/realms/corp"\n'
        'client_id = "verifier"\nclient_secret_file = "client-secret"\n'
        'redirect_uri = "https://app.example.com/auth/oidc/keycloak/callback"\n'
        "rp_logout = true\n",
        encoding="utf-8",
    )

    with pytest.raises(SettingsInvalid) as caught:
        load_settings(env(SOURCES_FILE=str(sources)))

    (problem,) = caught.value.problems
    assert problem == (
        f"VERIFIER_SOURCES_FILE: {sources}:1: oidc source 'keycloak': rp_logout (logout at "
        "the provider) is not served by this build yet"
    )
