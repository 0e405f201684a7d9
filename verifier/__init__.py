"""verifier: cookie login with silent refresh for any app behind nginx `auth_request`."""

from verifier.app import create_app
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
from verifier.settings import Settings, load_settings

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
