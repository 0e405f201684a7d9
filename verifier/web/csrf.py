"""Cross-site request checks for the state-changing endpoints (login, logout)."""

from __future__ import annotations

from urllib.parse import urlsplit

import falcon.asgi

from verifier.errors import CrossSiteRequest

# "none" is a user-initiated navigation (typed URL, bookmark); "same-site" would admit a
# sibling subdomain, which is not ours to trust.
_ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def check_request_origin(req: falcon.asgi.Request) -> None:
    """Apply check_same_origin to a request that came through nginx (or directly)."""
    # nginx passes the browser's Host, port included, as X-Forwarded-Host, and the scheme
    # it was reached over as X-Forwarded-Proto; a forged value cannot help a cross-site
    # form, which has no way to set request headers.
    check_same_origin(
        req.get_header("X-Forwarded-Host") or req.get_header("Host"),
        req.get_header("Sec-Fetch-Site"),
        req.get_header("Origin"),
        req.get_header("Referer"),
        scheme=req.get_header("X-Forwarded-Proto"),
    )


def check_same_origin(
    host: str | None,
    sec_fetch_site: str | None,
    origin: str | None,
    referer: str | None,
    scheme: str | None = None,
) -> None:
    """Raise CrossSiteRequest unless the request provably came from this site.

    `scheme`, when known, must match too: a page on http://host (which anyone on the
    network path can rewrite) is another origin than https://host.

    Browsers send `Sec-Fetch-Site` (all current ones) or `Origin` on every POST; `Referer`
    is the fallback for old ones. A request with none of them is not from a browser page, so
    it cannot carry a victim's cookies by accident, and is allowed (curl, scripts, tests).
    """
    if sec_fetch_site is not None:
        if sec_fetch_site.strip().lower() not in _ALLOWED_FETCH_SITES:
            raise CrossSiteRequest(f"Sec-Fetch-Site: {sec_fetch_site[:32]}")
        return
    for header, value in (("Origin", origin), ("Referer", referer)):
        if value is None:
            continue
        origin_scheme, authority = _scheme_and_authority(value)
        if not host or authority != host.strip().lower():
            raise CrossSiteRequest(f"{header} does not match Host")
        if scheme and origin_scheme != scheme.strip().lower():
            raise CrossSiteRequest(f"{header} scheme does not match")
        return


def _scheme_and_authority(url: str) -> tuple[str | None, str | None]:
    # "null" (sandboxed frames, some redirects) and anything unparsable have no authority.
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None, None
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None, None
    return parts.scheme, parts.netloc.lower()
