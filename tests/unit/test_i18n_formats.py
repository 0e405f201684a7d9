"""Dates, times, durations and lists as each language writes them, and the language of the
request held apart from every other request's."""

from __future__ import annotations

import asyncio
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from verifier.i18n import (
    ENGLISH,
    Languages,
    _,
    ago,
    current_language,
    iso_moment,
    listed,
    load_catalogs,
    moment,
    ngettext,
    use_language,
)

MARCH_12 = 1_741_788_300.0  # 2025-03-12 14:05 UTC


def _speak(tag: str, zone: str = "UTC") -> None:
    use_language(Languages(load_catalogs(), ZoneInfo(zone)).for_request(tag))


@pytest.mark.parametrize(
    ("tag", "shown"),
    [
        ("en", "Mar 12, 2025, 2:05\u202fPM UTC"),
        ("de", "12.03.2025, 14:05 UTC"),
        ("fr", "12 mars 2025, 14:05 TU"),
    ],
)
def test_a_moment_is_written_as_the_language_writes_it(tag: str, shown: str) -> None:
    async def render() -> str:
        _speak(tag)
        return moment(MARCH_12)

    assert asyncio.run(render()) == shown


def test_a_moment_is_told_in_the_configured_time_zone() -> None:
    async def render() -> str:
        _speak("de", "Europe/Berlin")
        return moment(MARCH_12)

    assert asyncio.run(render()) == "12.03.2025, 15:05 MEZ"


@pytest.mark.parametrize(
    ("tag", "elapsed", "said"),
    [
        ("en", 10, "just now"),
        ("en", 300, "5 minutes ago"),
        ("de", 300, "vor 5 Minuten"),
        ("de", 3 * 86_400, "vor 3 Tagen"),
        ("fr", 300, "il y a 5 minutes"),
        ("fr", 30, "à l\u2019instant"),
        ("de", -60, "gerade eben"),  # a clock a little behind: never "in 1 minute"
    ],
)
def test_how_long_ago_is_said_in_words(tag: str, elapsed: int, said: str) -> None:
    async def render() -> str:
        _speak(tag)
        return ago(MARCH_12 - elapsed, MARCH_12)

    assert asyncio.run(render()) == said


@pytest.mark.parametrize(
    ("tag", "joined"),
    [
        ("en", "password and authenticator app"),
        ("de", "password und authenticator app"),
        ("fr", "password et authenticator app"),
    ],
)
def test_lists_are_joined_as_the_language_joins_them(tag: str, joined: str) -> None:
    async def render() -> str:
        _speak(tag)
        return listed(["password", "authenticator app"])

    assert asyncio.run(render()) == joined


def test_each_request_speaks_its_own_language_and_english_outside_one() -> None:
    async def request(tag: str) -> tuple[str, str]:
        _speak(tag)
        await asyncio.sleep(0)  # the other request runs meanwhile
        return current_language().tag, _("Sign out")

    async def both() -> list[tuple[str, str]]:
        return list(await asyncio.gather(request("de"), request("fr")))

    assert asyncio.run(both()) == [("de", "Abmelden"), ("fr", "Se déconnecter")]
    assert current_language() is ENGLISH
    assert ngettext("{count} left.", "{count} left.", 2) == "{count} left."


def test_a_time_element_gets_a_machine_readable_utc_moment() -> None:
    assert iso_moment(MARCH_12) == "2025-03-12T14:05:00Z"
    assert UTC  # the pages' default zone
