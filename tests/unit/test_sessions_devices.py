"""The device summary the account page shows: common families, bounded, nothing echoed."""

from __future__ import annotations

import pytest

from verifier.sessions.devices import MAX_USER_AGENT_INPUT, UNKNOWN_DEVICE, device_summary

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "summary"),
    [
        (CHROME_LINUX, "Chrome on Linux"),
        (CHROME_LINUX.replace("Chrome/", "HeadlessChrome/"), "Chrome on Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            "Safari on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        ("curl/8.5.0", "curl"),
        ("python-requests/2.32.3", "Python requests"),
    ],
)
def test_common_user_agents_are_named_by_browser_and_system(user_agent: str, summary: str) -> None:
    assert device_summary(user_agent) == summary


@pytest.mark.parametrize("user_agent", [None, "", "<script>alert(1)</script>", "x" * 10_000])
def test_unknown_or_hostile_user_agents_give_the_fixed_fallback(user_agent: str | None) -> None:
    assert device_summary(user_agent) == UNKNOWN_DEVICE


def test_only_the_head_of_a_huge_header_is_read() -> None:
    assert device_summary("x" * MAX_USER_AGENT_INPUT + CHROME_LINUX) == UNKNOWN_DEVICE
    assert device_summary(CHROME_LINUX + "x" * 100_000) == "Chrome on Linux"
