"""Property tests: the parsers of untrusted input raise only their documented errors and
never accept garbage.

- read_token_cookies never raises and returns only values we could have minted;
- safe_next always returns a same-site path that no decoding turns into another origin;
- RefreshToken.parse raises only RefreshRejected and accepts only canonical values;
- AccessTokenCodec.verify raises only TokenRejected for anything we did not sign, and
  accepts an edited token only if it still carries exactly the claims we signed.
"""

from __future__ import annotations

import re
import string
from urllib.parse import unquote

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from verifier.errors import RefreshRejected, TokenRejected
from verifier.factors.methods import SignIn
from verifier.sessions.store import RefreshToken
from verifier.sessions.tokens import AccessClaims, AccessTokenCodec
from verifier.settings import Settings, SigningKey
from verifier.store.keyspace import normalize_user_name
from verifier.web.cookies import MAX_COOKIE_HEADER_LENGTH, CookiePolicy, read_token_cookies
from verifier.web.redirects import safe_next

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NOW = 1_700_000_000
SAFE_COOKIE_CHARS = frozenset(string.ascii_letters + string.digits + "-_.@+")
BASE64URL = string.ascii_letters + string.digits + "-_"
SECURE = CookiePolicy(secure=True)
PLAIN = CookiePolicy(secure=False)
CODEC = AccessTokenCodec(
    Settings(
        redis_url="redis://127.0.0.1:6379/0",
        signing_keys=(SigningKey("k1", b"fuzz-secret-".ljust(64, b"x")),),
    )
)
GENUINE = CODEC.issue("alice", "session-1", NOW)
GENUINE_CLAIMS = CODEC.verify(GENUINE, NOW)

# Pieces that open redirects and header injections are made of.
URL_FRAGMENTS = [
    "/", "//", "\\", "/\\", "%2F", "%2f", "%5C", "%5c", "%25", "%252F", "%09", "%0A", "%0D",
    "%00", "%20", "\t", "\n", "\r", " ", "\x00", "\x7f", ":", "@", "?", "#", ".", "..",
    "http:", "https:", "javascript:", "evil.example", "127.0.0.1", "auth", "/auth/", "login",
    "é", "\u2215", "\uff0f", "%C3%A9", "%E2%88%95", "a", "x=1", "&",
]  # fmt: skip


def url_like() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=80),
        st.lists(st.sampled_from(URL_FRAGMENTS), max_size=12).map("".join),
    )


# --- read_token_cookies ---------------------------------------------------------------------------


def _expected_cookie(pairs: list[tuple[str, str]], name: str) -> str | None:
    """What the header means for one of our cookies: its value if sent once and mintable."""
    values = [value.strip() for pair_name, value in pairs if pair_name.strip() == name]
    if len(values) != 1 or not values[0] or not set(values[0]) <= SAFE_COOKIE_CHARS:
        return None
    return values[0]


COOKIE_NAMES = st.sampled_from(
    [
        "__Host-verifier-access",
        "__Host-verifier-refresh",
        "verifier-access",
        "verifier-refresh",
        " __Host-verifier-access",
        "__host-verifier-access",
        "theme",
        "session",
    ]
)
COOKIE_VALUES = st.one_of(
    st.text(alphabet=BASE64URL + ".@+", max_size=30),
    st.text(alphabet=st.characters(exclude_characters=";"), max_size=20),
)


@FUZZ
@given(header=st.one_of(st.none(), st.text(max_size=300)), secure=st.booleans())
def test_read_token_cookies_never_raises_and_returns_only_mintable_values(
    header: str | None, secure: bool
) -> None:
    policy = SECURE if secure else PLAIN
    found = read_token_cookies(header, policy)
    for name, value in ((policy.access_name, found.access), (policy.refresh_name, found.refresh)):
        if value is not None:
            assert header is not None
            assert value
            assert set(value) <= SAFE_COOKIE_CHARS
            assert f"{name}=" in header.replace(" ", "")


@FUZZ
@given(pairs=st.lists(st.tuples(COOKIE_NAMES, COOKIE_VALUES), max_size=8), secure=st.booleans())
def test_read_token_cookies_takes_a_cookie_only_when_sent_once(
    pairs: list[tuple[str, str]], secure: bool
) -> None:
    policy = SECURE if secure else PLAIN
    header = "; ".join(f"{name}={value}" for name, value in pairs)
    found = read_token_cookies(header, policy)
    assert found.access == _expected_cookie(pairs, policy.access_name)
    assert found.refresh == _expected_cookie(pairs, policy.refresh_name)


@settings(max_examples=25, deadline=None)
@given(extra=st.integers(min_value=1, max_value=1000))
def test_read_token_cookies_ignores_oversized_headers(extra: int) -> None:
    header = "__Host-verifier-access=abc; pad=" + "p" * MAX_COOKIE_HEADER_LENGTH
    found = read_token_cookies(header + "q" * extra, SECURE)
    assert (found.access, found.refresh) == (None, None)


# --- safe_next ------------------------------------------------------------------------------------


def _lands_on_this_site(path: str) -> bool:
    return (
        path.startswith("/")
        and not path.startswith("//")
        and "\\" not in path
        and not any(ord(char) < 0x20 or ord(char) == 0x7F for char in path)
    )


@FUZZ
@given(candidate=st.one_of(st.none(), url_like()))
@example("/%2F%2Fevil.example")
@example("/%252F%252Fevil.example")
@example("/%09/evil.example")
@example("/\\evil.example")
@example("https:evil.example")
def test_safe_next_always_returns_a_same_site_path(candidate: str | None) -> None:
    result = safe_next(candidate)
    assert result in {"/", candidate}
    # The value we return goes into a Location header as is.
    assert result.startswith("/")
    assert not result.startswith("//")
    assert "\\" not in result
    assert all(0x20 < ord(char) < 0x7F for char in result)
    # No decoding a browser or proxy might do turns it into another origin.
    once = unquote(result)
    assert _lands_on_this_site(once)
    assert _lands_on_this_site(unquote(once))
    # Never a page of the verifier itself (a login loop), except those that go on with the
    # session a sign-in has just made: the account pages, and a single sign-on portal's
    # authorize endpoint (which hands it to a listed app host).
    path = result.split("?", 1)[0]
    assert (
        not result.startswith("/auth/")
        or path in {"/auth/sso/authorize", "/auth/account"}
        or path.startswith("/auth/account/")
    )


@FUZZ
@given(
    path=st.text(alphabet=string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/?", max_size=60)
)
def test_safe_next_keeps_plain_paths(path: str) -> None:
    candidate = "/" + path
    assume(not candidate.startswith("//") and not candidate.startswith("/auth"))
    assert safe_next(candidate) == candidate


# --- RefreshToken.parse ---------------------------------------------------------------------------

_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{22}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{43}")


def refresh_like() -> st.SearchStrategy[str]:
    part = st.text(alphabet=BASE64URL + ".@+ {}Aé\x00", max_size=50)
    return st.one_of(
        st.text(max_size=150),
        st.tuples(part, part, part).map(".".join),
        st.tuples(
            st.text(alphabet="abcXYZ019.@+-_{ ", min_size=0, max_size=10),
            st.text(alphabet=BASE64URL + "+/=", min_size=20, max_size=24),
            st.text(alphabet=BASE64URL + "+/=", min_size=41, max_size=45),
        ).map(".".join),
    )


@FUZZ
@given(raw=refresh_like())
def test_refresh_token_parse_raises_only_refresh_rejected(raw: str) -> None:
    try:
        token = RefreshToken.parse(raw)
    except RefreshRejected as error:
        assert error.reason == "malformed"
        return
    # Whatever is accepted is canonical: it prints back to exactly the value we read.
    assert str(token) == raw
    assert normalize_user_name(token.user) == token.user
    assert _SESSION_ID.fullmatch(token.session_id)
    assert _SECRET.fullmatch(token.secret)


@FUZZ
@given(
    user=st.text(
        alphabet=string.ascii_lowercase + string.digits + "._@+-", min_size=1, max_size=64
    ),
    session_id=st.text(alphabet=BASE64URL, min_size=22, max_size=22),
)
def test_refresh_token_round_trips_for_every_valid_user_and_session(
    user: str, session_id: str
) -> None:
    token = RefreshToken.mint(user, session_id)
    assert RefreshToken.parse(str(token)) == token


# --- AccessTokenCodec.verify ----------------------------------------------------------------------


def token_like() -> st.SearchStrategy[str]:
    segment = st.text(alphabet=BASE64URL + "=.!", max_size=120)
    return st.one_of(
        st.text(max_size=300),
        st.tuples(segment, segment, segment).map(".".join),
        st.lists(
            st.sampled_from([*GENUINE.split("."), "", "e30", "eyJ", "AAAA", "."]), max_size=6
        ).map(".".join),
    )


@FUZZ
@given(token=token_like(), allow_expired=st.booleans(), now=st.integers(0, 2**40))
def test_verify_rejects_garbage_with_token_rejected_only(
    token: str, allow_expired: bool, now: int
) -> None:
    assume(token != GENUINE)
    try:
        claims = CODEC.verify(token, now, allow_expired=allow_expired)
    except TokenRejected as error:
        # Never "expired": only a token we signed can be that, and this one we did not sign.
        assert type(error) is TokenRejected
        return
    raise AssertionError(f"accepted garbage {token!r} as {claims!r}")


@st.composite
def edited_tokens(draw: st.DrawFn) -> str:
    position = draw(st.integers(0, len(GENUINE)))
    kind = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
    char = draw(st.sampled_from(BASE64URL + ".=!"))
    if kind == "replace" and position < len(GENUINE):
        return GENUINE[:position] + char + GENUINE[position + 1 :]
    if kind == "insert":
        return GENUINE[:position] + char + GENUINE[position:]
    if kind == "delete" and position < len(GENUINE):
        return GENUINE[:position] + GENUINE[position + 1 :]
    return GENUINE[:position]


@FUZZ
@given(token=edited_tokens())
def test_verify_never_accepts_an_edited_token_with_other_claims(token: str) -> None:
    assume(token != GENUINE)
    try:
        claims = CODEC.verify(token, NOW)
    except TokenRejected as error:
        assert type(error) is TokenRejected
        return
    # Base64 admits a few spellings of the same bytes (PyJWT accepts "=" padding), so an
    # edit may survive; it must then be the very token we signed, claims and all.
    assert (
        claims
        == GENUINE_CLAIMS
        == AccessClaims("alice", "session-1", NOW + 300, SignIn(("pwd",), NOW))
    )
