"""What a session keeps of its device: common families with their major version, bounded,
nothing of the header echoed; and sessions stored before the version was kept still read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifier.sessions.devices import (
    MAX_USER_AGENT_INPUT,
    Device,
    device_summary,
    parse_user_agent,
)

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("user_agent", "described"),
    [
        (CHROME_LINUX, "Chrome 131 on Linux"),
        (CHROME_LINUX.replace("Chrome/", "HeadlessChrome/"), "Chrome 131 on Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge 131 on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox 133 on macOS",
        ),
        # Safari's own token carries WebKit's build: its version is Version/.
        (SAFARI_IPHONE, "Safari 17 on iOS"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
            "Chrome 126 on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome 131 on Android",
        ),
        ("curl/8.5.0", "curl 8"),
        ("python-requests/2.32.3", "Python requests 2"),
    ],
)
def test_common_user_agents_are_named_by_browser_version_and_system(
    user_agent: str, described: str
) -> None:
    assert parse_user_agent(user_agent).describe() == described


def test_a_session_stores_only_our_names_and_a_few_digits() -> None:
    assert device_summary(SAFARI_IPHONE) == "Safari|17|iOS"
    assert device_summary(None) == "||"


@pytest.mark.parametrize("user_agent", [None, "", "<script>alert(1)</script>", "x" * 10_000])
def test_unknown_or_hostile_user_agents_give_an_unknown_device(user_agent: str | None) -> None:
    device = parse_user_agent(user_agent)
    assert not device.known
    assert device.describe() == "Unknown device"


def test_only_the_head_of_a_huge_header_is_read() -> None:
    assert not parse_user_agent("x" * MAX_USER_AGENT_INPUT + CHROME_LINUX).known
    assert parse_user_agent(CHROME_LINUX + "x" * 100_000).describe() == "Chrome 131 on Linux"


def test_a_version_is_digits_cut_short_whatever_the_header_says() -> None:
    assert parse_user_agent("Firefox/123456789.0 (Linux)").version == "1234"
    assert parse_user_agent("Firefox/<b>").version == ""


@pytest.mark.parametrize(
    ("stored", "device"),
    [
        ("Chrome|131|Linux", Device("Chrome", "131", "Linux")),
        ("Safari||iOS", Device("Safari", "", "iOS")),
        # Sessions from before the version was kept.
        ("Chrome on Linux", Device("Chrome", "", "Linux")),
        ("curl", Device("curl", "", "")),
        ("iOS", Device("", "", "iOS")),
        ("Unknown device", Device()),
        ("", Device()),
        # Whatever else Redis holds, only our own names come back.
        ("<img src=x>|1|Linux", Device("", "", "Linux")),
        ("Chrome|<b>|Mars", Device("Chrome", "", "")),
    ],
)
def test_a_stored_device_is_read_back_keeping_only_our_names(stored: str, device: Device) -> None:
    assert Device.from_stored(stored) == device


@given(st.text(max_size=200))
def test_any_stored_value_reads_back_as_known_names_or_nothing(stored: str) -> None:
    device = Device.from_stored(stored)
    assert device == Device.from_stored(device.stored())
    assert device.version == "" or device.version.isdigit()
