"""Dates, times, durations and lists as the request's language writes them (Babel, CLDR)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from babel.dates import (
    format_date,
    format_datetime,
    format_time,
    format_timedelta,
    get_datetime_format,
)
from babel.lists import format_list

from verifier.i18n.current import _, current_language

# Below this, "just now": "0 minutes ago" or "12 seconds ago" say nothing more.
JUST_NOW_SECONDS = 60


def moment(seconds: float) -> str:
    """A moment to the minute, with its time zone: "Mar 12, 2025, 2:05 PM UTC",
    "12.03.2025, 15:05 MEZ", "12 mars 2025, 14:05 TU"."""
    language = current_language()
    when = datetime.fromtimestamp(seconds, UTC).astimezone(language.time_zone)
    date = format_date(when, "medium", locale=language.locale)
    time = format_time(when, "short", tzinfo=language.time_zone, locale=language.locale)
    # The zone as CLDR says the language names it: "UTC", "MEZ", "+0100" where it has no
    # name of its own.
    zone = format_datetime(when, "z", tzinfo=language.time_zone, locale=language.locale)
    combined = str(get_datetime_format("medium", locale=language.locale))
    return f"{combined.replace('{1}', date).replace('{0}', time)} {zone}".strip()


def ago(seconds: float, now: float) -> str:
    """How long ago a moment was, in words: "5 minutes ago", "vor 3 Tagen", "il y a 3 jours"."""
    elapsed = max(0.0, now - seconds)
    if elapsed < JUST_NOW_SECONDS:
        return _("just now")
    language = current_language()
    return format_timedelta(timedelta(seconds=-elapsed), add_direction=True, locale=language.locale)


def listed(items: Sequence[str]) -> str:
    """Items joined as a sentence joins them: "a, b, and c", "a, b und c", "a, b et c"."""
    return format_list(list(items), locale=current_language().locale)


def iso_moment(seconds: float) -> str:
    """A moment for a <time datetime> attribute: machine-readable, in UTC."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
