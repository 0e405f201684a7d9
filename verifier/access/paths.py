"""The path a request is for, normalized the way nginx normalizes `$uri`."""

from __future__ import annotations

from urllib.parse import unquote


def normalized_path(request_uri: str) -> str:
    """Decode, merge slashes and resolve dot segments of a raw request URI's path.

    nginx hands the verifier its own normalized `$uri` (verifier-protect.conf), which is what
    its location matching used; this is the fallback for a location that forwards only the
    raw `$request_uri`. Rules must match what is served, so `/%61dmin/../admin//x` is `/admin/x`.
    """
    path = request_uri.split("?", 1)[0].split("#", 1)[0]
    decoded = unquote(path, errors="replace")
    segments: list[str] = []
    for segment in decoded.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    trailing = "/" if decoded.endswith(("/", "/.", "/..")) and segments else ""
    return "/" + "/".join(segments) + trailing


def path_has_prefix(path: str, prefix: str) -> bool:
    """True if `path` is `prefix` or below it, by whole segments: `/api` covers `/api/x`, not
    `/apix`; `/api/` covers `/api` too (the same place, with or without its slash)."""
    if prefix.endswith("/"):
        return path.startswith(prefix) or path == prefix[:-1]
    return path == prefix or path.startswith(prefix + "/")
