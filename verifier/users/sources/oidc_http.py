"""HTTP to an OpenID Provider: JSON in, JSON out, bounded in time and size, off the event loop.

The standard library's client in a worker thread: the provider is asked a handful of times
per sign-in and per re-check, so a thread per call costs nothing that matters, and no new
dependency is needed. Redirects are not followed (an endpoint that moves is a misconfigured
provider, and a redirect would carry the client's credentials elsewhere).
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier.users.sources.interface import SourceUnavailable

# A discovery document, a JWKS or a token response is a few kilobytes.
MAX_RESPONSE_BYTES = 256 * 1024


@dataclass(frozen=True)
class JsonAnswer:
    """A provider's answer: the status and the JSON object it held ({} when it held none)."""

    status: int
    body: dict[str, Any]


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class ProviderHttp:
    """Asks one provider (named `source` in errors), each call given up after `timeout`."""

    def __init__(self, source: str, timeout_seconds: float) -> None:
        self._source = source
        self._timeout = timeout_seconds

    async def get(self, url: str, bearer: str = "") -> JsonAnswer:
        """GET `url` (with an access token, for userinfo)."""
        headers = {"Accept": "application/json"}
        if bearer:
            headers["Authorization"] = f"Bearer {bearer}"
        return await self._call(self._request(url, headers))

    async def post_form(
        self, url: str, fields: Mapping[str, str], basic: tuple[str, str] | None = None
    ) -> JsonAnswer:
        """POST a form (the token endpoint), with HTTP Basic client credentials if given."""
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if basic is not None:
            # RFC 6749 2.3.1: each part form-encoded before the Basic encoding.
            user, password = (urllib.parse.quote(part, safe="") for part in basic)
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{user}:{password}".encode()
            ).decode("ascii")
        data = urllib.parse.urlencode(fields).encode("ascii")
        return await self._call(self._request(url, headers, data))

    def _request(
        self, url: str, headers: dict[str, str], data: bytes | None = None
    ) -> urllib.request.Request:
        # Only the web: the URLs come from the sources file and the discovery document,
        # whose endpoints were checked to be http(s) already; file: and the like never.
        if urllib.parse.urlsplit(url).scheme not in {"https", "http"}:
            raise SourceUnavailable(self._source, "an endpoint is not an http(s) URL")
        return urllib.request.Request(url, data=data, headers=headers)  # noqa: S310 (checked above)

    async def _call(self, request: urllib.request.Request) -> JsonAnswer:
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._blocking, request), self._timeout + 1
            )
        except TimeoutError:
            raise SourceUnavailable(self._source, "the provider did not answer in time") from None

    def _blocking(self, request: urllib.request.Request) -> JsonAnswer:
        try:
            with _OPENER.open(request, timeout=self._timeout) as response:
                return JsonAnswer(
                    response.status, self._json(response.read(MAX_RESPONSE_BYTES + 1))
                )
        except urllib.error.HTTPError as error:
            # 4xx: the provider answered, and said no (its JSON says why); 5xx: it is unwell.
            if error.code >= 500:
                raise SourceUnavailable(
                    self._source, f"the provider answered {error.code}"
                ) from None
            try:
                body = self._json(error.read(MAX_RESPONSE_BYTES + 1))
            except SourceUnavailable:
                body = {}
            return JsonAnswer(error.code, body)
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SourceUnavailable(self._source, f"cannot reach the provider: {reason}") from None

    def _json(self, raw: bytes) -> dict[str, Any]:
        if len(raw) > MAX_RESPONSE_BYTES:
            raise SourceUnavailable(self._source, "the provider's answer is too large")
        try:
            value = json.loads(raw)
        except ValueError:
            raise SourceUnavailable(self._source, "the provider's answer is not JSON") from None
        if not isinstance(value, dict):
            raise SourceUnavailable(self._source, "the provider's answer is not a JSON object")
        return value
