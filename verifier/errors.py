"""The verifier's domain errors; they are mapped to HTTP in one place (verifier.app)."""

from __future__ import annotations

from collections.abc import Sequence


class VerifierError(Exception):
    """Base of every error the verifier raises on purpose."""


class SettingsError(VerifierError):
    """A configuration value is missing or wrong; start-up stops with this message."""


class SettingsInvalid(SettingsError):
    """Several configuration values are wrong at once; `problems` lists every one, in order."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


class KeyFileError(SettingsError):
    """A key file, or the keys directory, cannot be used; `path` names it."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class TokenRejected(VerifierError):
    """An access token failed verification; `reason` says why (for logs, never for clients)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessTokenExpired(TokenRejected):
    """A correctly signed access token is past its `exp`: the refresh token may take over."""

    def __init__(self) -> None:
        super().__init__("expired")


class AccessKeyRetired(AccessTokenExpired):
    """An access token names a key that no longer verifies (past its window, or withdrawn).

    Handled like an expired token: the refresh token, which no key signs, may take over, so
    retiring a key never logs anybody out. Nothing of the token is trusted.
    """

    def __init__(self) -> None:
        TokenRejected.__init__(self, "key retired")


class AccessTokenOutdated(AccessTokenExpired):
    """A genuine access token from before tokens said how the user signed in (no `amr`).

    Handled like an expired token, so an upgrade logs nobody out: the refresh token issues
    one with the session's `amr` and `auth_time`.
    """

    def __init__(self) -> None:
        TokenRejected.__init__(self, "outdated")


class RefreshRejected(VerifierError):
    """A refresh token was unknown, malformed, expired, or replayed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class StoreUnavailable(VerifierError):
    """Redis could not be reached; callers fail closed and keep the user's cookies."""


class InvalidCredentials(VerifierError):
    """The user name or password is wrong; which of the two is never told."""


class LoginThrottled(VerifierError):
    """Too many recent failed logins; `retry_after_seconds` says when to try again.

    `counter` names the limit that refused: "account" (the user name) or "address" (the
    client's address); for the audit record only, never for the answer.
    """

    def __init__(self, retry_after_seconds: int, counter: str = "account") -> None:
        super().__init__(f"retry after {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds
        self.counter = counter


class PasswordCheckBusy(VerifierError):
    """Too many password checks are queued: this one was dropped before it was made."""

    def __init__(self, waited_seconds: float) -> None:
        super().__init__(f"queued {waited_seconds:.1f}s")


class CrossSiteRequest(VerifierError):
    """A state-changing request came from another site (CSRF defence)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccessConfigError(VerifierError):
    """A location declaration or rules file says something the verifier cannot apply."""


class RulesFileError(AccessConfigError):
    """The central rules file is invalid; the message names the file and the line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line


class KeyOperationRefused(VerifierError):
    """A `verifier keys` command would break the ring (log users out, drop a live key)."""


class PasskeyRejected(VerifierError):
    """A WebAuthn answer was refused; `reason` is a short word for the audit record."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SourcesFileError(SettingsError):
    """The sources file (VERIFIER_SOURCES_FILE) is invalid; the message names the file and line."""

    def __init__(self, source: str, line: int | None, message: str) -> None:
        where = f"{source}:{line}" if line is not None else source
        super().__init__(f"{where}: {message}")
        self.source = source
        self.line = line


class BearerRefused(VerifierError):
    """An `Authorization: Bearer vrf_...` token was refused; `/auth` answers 401.

    `reason` is a short word for the audit record and the metrics, never for the client
    (every refusal looks the same from outside); `user` and `token_id` say whose token it
    was when the verifier could tell, for the audit record.
    """

    def __init__(self, reason: str, user: str | None = None, token_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user = user
        self.token_id = token_id


class BearerThrottled(BearerRefused):
    """Too many failed bearer attempts from this client address: refused unchecked.

    `/auth` answers 401 naming the wait; nginx's error page answers the client 429 with
    Retry-After.
    """

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("throttled")
        self.retry_after_seconds = retry_after_seconds
