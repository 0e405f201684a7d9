"""The /auth check's Cookie-header reader: the same answer as parsing each time, bounded."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from verifier.web.cookies import (
    MAX_COOKIE_HEADER_LENGTH,
    CookiePolicy,
    CookieReader,
    read_token_cookies,
    without_token_cookies,
)

POLICY = CookiePolicy(secure=True)
ACCESS, REFRESH = POLICY.access_name, POLICY.refresh_name

# Headers made of our cookie names, others, and the malformed pairs browsers and attackers
# send: the remembered parse must equal a fresh one for every one of them.
_PAIRS = st.one_of(
    st.builds(
        lambda n, v: f"{n}={v}",
        st.sampled_from([ACCESS, REFRESH, "theme", "a"]),
        st.text(alphabet='abcXYZ019-_.=; \t"', max_size=12),
    ),
    st.text(alphabet="ab=; ", max_size=6),
)
HEADERS = st.one_of(st.none(), st.lists(_PAIRS, max_size=6).map("; ".join))


@given(HEADERS)
def test_a_remembered_header_reads_as_a_fresh_parse_would(header: str | None) -> None:
    reader = CookieReader(POLICY)
    first = reader.read(header)
    again = reader.read(header)
    assert first == again
    assert first.tokens == read_token_cookies(header, POLICY)
    assert first.for_app == without_token_cookies(header, POLICY)


def test_the_tokens_and_the_apps_cookies_are_split_from_one_header() -> None:
    view = CookieReader(POLICY).read(f"theme=dark; {ACCESS}=a.b.c; {REFRESH}=r-1; lang=de")
    assert (view.tokens.access, view.tokens.refresh) == ("a.b.c", "r-1")
    assert view.for_app == "theme=dark; lang=de"


def test_a_repeated_token_cookie_counts_as_absent_when_remembered_too() -> None:
    reader = CookieReader(POLICY)
    header = f"{ACCESS}=one; {ACCESS}=two"
    for _ in range(2):
        assert reader.read(header).tokens.access is None


def test_it_remembers_at_most_the_headers_it_is_sized_for() -> None:
    reader = CookieReader(POLICY, remembered=8)
    for number in range(50):
        reader.read(f"{ACCESS}=token{number}")
    # The bound is the point of the cache (a client can send any number of headers).
    assert reader._remembered.cache_info().currsize == 8


def test_an_oversized_header_is_read_every_time_and_never_remembered() -> None:
    reader = CookieReader(POLICY, remembered=8)
    header = f"{ACCESS}=x; pad=" + "p" * MAX_COOKIE_HEADER_LENGTH
    view = reader.read(header)
    assert view.tokens.access is None  # too long to be a browser of ours
    assert view.for_app == without_token_cookies(header, POLICY)
    assert reader._remembered.cache_info().currsize == 0
