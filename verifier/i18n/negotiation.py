"""Which language a request is answered in: `Accept-Language`, or the one the operator forces."""

from __future__ import annotations

import re
from datetime import tzinfo

from babel import negotiate_locale

from verifier.i18n.catalogs import SOURCE_LANGUAGE, Catalogs
from verifier.i18n.current import Language

# A header is a few dozen characters; more is read no further (a hostile client pays, not us).
MAX_HEADER_INPUT = 512
MAX_RANGES = 16
_RANGE = re.compile(r"([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)(?:;q=([01](?:\.[0-9]{0,3})?))?")


def preferred_languages(header: str | None) -> list[str]:
    """The language ranges of an Accept-Language header, most wanted first (RFC 9110 12.5.4).

    Ranges with q=0 ("not this one") and malformed ones are dropped; equal weights keep the
    header's order.
    """
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "")[:MAX_HEADER_INPUT].split(",")[:MAX_RANGES]):
        match = _RANGE.fullmatch(part.strip().replace(" ", ""))
        if match is None:
            continue
        tag, raw_q = match.groups()
        weight = float(raw_q) if raw_q else 1.0
        if 0 < weight <= 1:
            weighted.append((-weight, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


class Languages:
    """Chooses each request's language among the catalogs; English when nothing fits."""

    def __init__(self, catalogs: Catalogs, time_zone: tzinfo, forced: str = "") -> None:
        self._time_zone = time_zone
        self._by_tag = {
            tag: Language(tag, catalogs.locales[tag], catalogs.translations[tag], time_zone)
            for tag in catalogs.languages
        }
        self._lower = {tag.lower(): tag for tag in self._by_tag}
        # VERIFIER_LANGUAGE: one language for every request, whatever the browser asks.
        self._forced = self._by_tag[forced] if forced else None

    @property
    def forced(self) -> bool:
        """True when one language is forced: answers then do not vary with the request."""
        return self._forced is not None

    def for_request(self, accept_language: str | None) -> Language:
        """The forced language, else the best match of the header, else English."""
        if self._forced is not None:
            return self._forced
        preferred = [tag for tag in preferred_languages(accept_language) if tag != "*"]
        # Exact tags first, then the primary language of a regional one (de-AT: de).
        found = negotiate_locale(preferred, list(self._by_tag), sep="-", aliases={})
        tag = self._lower.get(found.lower()) if found else None
        return self._by_tag[tag or SOURCE_LANGUAGE]
