"""Reading small request bodies (JSON or HTML forms) into string fields, strictly."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import falcon
import falcon.asgi

from verifier.i18n import N_, _

# A login body is a user name, a password and a path: a few hundred bytes. 16 KiB leaves
# room for long passwords while keeping a flood of big bodies cheap to refuse.
MAX_BODY_BYTES = 16_384
# Falcon's errors carry these as their description; the app's error serializer translates
# them (verifier.app).
TOO_LARGE = N_("The request body is too large.")
SEND_JSON_OR_FORM = N_("Send application/json or application/x-www-form-urlencoded.")
SEND_JSON = N_("Send application/json.")
NOT_JSON = N_("The body is not valid JSON.")
NOT_AN_OBJECT = N_("The body must be a JSON object.")
MALFORMED_FORM = N_("The form body is malformed.")
NOT_A_STRING = N_("Field {name} must be a string.")


def wants_json(req: falcon.asgi.Request) -> bool:
    """True for API/XHR clients: a JSON body, or an Accept that asks for JSON over HTML."""
    if (req.content_type or "").split(";")[0].strip().lower() == "application/json":
        return True
    accept = (req.get_header("Accept") or "").lower()
    return "application/json" in accept and "text/html" not in accept


async def read_fields(req: falcon.asgi.Request) -> dict[str, str]:
    """Parse a JSON object or a urlencoded form into {name: string}; 4xx on anything else."""
    if req.content_length is not None and req.content_length > MAX_BODY_BYTES:
        raise falcon.HTTPContentTooLarge(description=TOO_LARGE)
    raw = await req.bounded_stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise falcon.HTTPContentTooLarge(description=TOO_LARGE)
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json":
        return _json_fields(raw)
    if media_type == "application/x-www-form-urlencoded":
        return _form_fields(raw)
    raise falcon.HTTPUnsupportedMediaType(description=SEND_JSON_OR_FORM)


async def read_json_object(req: falcon.asgi.Request) -> dict[str, object]:
    """Parse a JSON object body (nested values allowed, e.g. a WebAuthn answer); 4xx else."""
    if req.content_length is not None and req.content_length > MAX_BODY_BYTES:
        raise falcon.HTTPContentTooLarge(description=TOO_LARGE)
    raw = await req.bounded_stream.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise falcon.HTTPContentTooLarge(description=TOO_LARGE)
    if (req.content_type or "").split(";")[0].strip().lower() != "application/json":
        raise falcon.HTTPUnsupportedMediaType(description=SEND_JSON)
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise falcon.HTTPBadRequest(description=NOT_JSON) from None
    if not isinstance(document, dict):
        raise falcon.HTTPBadRequest(description=NOT_AN_OBJECT)
    return document


def _json_fields(raw: bytes) -> dict[str, str]:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        raise falcon.HTTPBadRequest(description=NOT_JSON) from None
    if not isinstance(document, dict):
        raise falcon.HTTPBadRequest(description=NOT_AN_OBJECT)
    fields: dict[str, str] = {}
    for name, value in document.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise falcon.HTTPBadRequest(description=_(NOT_A_STRING).format(name=repr(name)))
        fields[name] = value
    return fields


def _form_fields(raw: bytes) -> dict[str, str]:
    try:
        text = raw.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=16)
    except (UnicodeDecodeError, ValueError):
        raise falcon.HTTPBadRequest(description=MALFORMED_FORM) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        # First value wins; a repeated field is ignored rather than merged.
        fields.setdefault(name, value)
    return fields


def has_nul(*values: str) -> bool:
    """True if any value carries a NUL byte (never legitimate in names or passwords)."""
    return any("\x00" in value for value in values)
