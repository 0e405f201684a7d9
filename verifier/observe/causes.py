"""Why a session ended: one small vocabulary for audit records and metrics labels alike."""

from __future__ import annotations

from enum import StrEnum


class RevocationCause(StrEnum):
    """The cause of a revocation (the `cause` field of `session.revoked`, a metrics label)."""

    # The user signed out of this browser.
    LOGOUT = "logout"
    # The user signed out of every session ("sign out everywhere").
    LOGOUT_EVERYWHERE = "logout_everywhere"
    # A spent refresh token came back: the session is taken to be stolen.
    REPLAY = "replay"
    # The user's password changed (CLI, account page, import --replace).
    PASSWORD_CHANGE = "password_change"  # noqa: S105 (a label, not a password)
    # An operator or the user ended sessions by hand (CLI `sessions end-all`, account page).
    ADMIN = "admin"
    # The user was removed.
    REMOVAL = "removal"
    # A sign-in past VERIFIER_MAX_SESSIONS_PER_USER ended the user's oldest session(s).
    SESSION_LIMIT = "session_limit"
    # The user's upstream source said they are gone or disabled (at a re-check), or no longer
    # vouched for them within `max_stale_seconds` of an outage.
    UPSTREAM = "upstream"
    # An OpenID Provider's back-channel logout token named the session or the user.
    BACKCHANNEL_LOGOUT = "backchannel_logout"
