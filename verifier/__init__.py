"""verifier: cookie login with silent refresh for any app behind nginx `auth_request`."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from verifier.errors import (
    AccessTokenExpired,
    CrossSiteRequest,
    InvalidCredentials,
    LoginThrottled,
    PasswordCheckBusy,
    RefreshRejected,
    SettingsError,
    SettingsInvalid,
    StoreUnavailable,
    TokenRejected,
    VerifierError,
)

if TYPE_CHECKING:
    from verifier.app import create_app
    from verifier.settings import Settings, load_settings

# Imported when first asked for: every `verifier` command imports this package, and the app
# (falcon, the pages, their translations) would cost each command about half a second.
_LAZY = {
    "create_app": "verifier.app",
    "Settings": "verifier.settings",
    "load_settings": "verifier.settings",
}

__all__ = [
    "AccessTokenExpired",
    "CrossSiteRequest",
    "InvalidCredentials",
    "LoginThrottled",
    "PasswordCheckBusy",
    "RefreshRejected",
    "Settings",
    "SettingsError",
    "SettingsInvalid",
    "StoreUnavailable",
    "TokenRejected",
    "VerifierError",
    "create_app",
    "load_settings",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'verifier' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
