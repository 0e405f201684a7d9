"""Redis key names: one prefix, and one hash tag per user so a user's keys share a slot."""

from __future__ import annotations

import re
from dataclasses import dataclass

# User names end up inside hash tags and cookie values: no braces, separators or spaces.
USER_NAME_PATTERN = re.compile(r"[a-z0-9._@+-]{1,64}")
# The same rule in words, for error messages.
USER_NAME_RULE = (
    "1-64 characters of a-z, 0-9, '.', '_', '@', '+', '-' (upper case is folded to lower case)"
)

# Messages on the revocation channel (KeySpace.revocations): "s <user> <sid>" ends one
# session, "u <user>" all of a user's sessions. Both are published by the Lua scripts that
# delete the keys, in the same atomic step, so no revocation can happen without its message.
SESSION_ENDED = "s"
USER_SESSIONS_ENDED = "u"
# "g <user>": the user's record changed (groups): their sessions stay live, but what workers
# cached with them (the groups an access decision reads) must be read from Redis again.
# Published by the same Lua script that writes the change.
USER_CHANGED = "g"
# "k <user> <token id>": one API token of the user was revoked (verifier.apitokens): workers
# forget what they cached for it. Published by the script that deletes the token.
TOKEN_REVOKED = "k"  # noqa: S105 (a message kind)


def normalize_user_name(raw: str) -> str | None:
    """Return the canonical (lower-case) form of a user name, or None if it is not allowed."""
    name = raw.strip().lower()
    return name if USER_NAME_PATTERN.fullmatch(name) else None


@dataclass(frozen=True)
class KeySpace:
    """Names every Redis key the verifier uses.

    All keys of one user (the user record, the session index, each session and its retired
    refresh-token hashes) carry the hash tag `{user}`, so on Redis Cluster they live in one
    slot and each Lua script touches a single slot.
    """

    prefix: str

    def user(self, user: str) -> str:
        """Hash of one user's record (password hash, creation time, groups)."""
        return f"{self.prefix}:{{{user}}}:user"

    def all_users(self) -> str:
        """Set of every user name, for `verifier users list`."""
        return f"{self.prefix}:users"

    def imported_bcrypt(self) -> str:
        """Sorted set of users still on an imported bcrypt hash, scored by its cost."""
        return f"{self.prefix}:users:imported-bcrypt"

    def session_index(self, user: str) -> str:
        """Sorted set of a user's session ids, scored by their absolute expiry (ms)."""
        return f"{self.prefix}:{{{user}}}:sessions"

    def session_prefix(self, user: str) -> str:
        """Common start of a user's session keys; scripts append the session id."""
        return f"{self.prefix}:{{{user}}}:session:"

    def session(self, user: str, session_id: str) -> str:
        """Hash of one session: refresh-token hashes, creation and absolute expiry."""
        return self.session_prefix(user) + session_id

    def retired_prefix(self, user: str) -> str:
        """Common start of a user's retired-token sets; scripts append the session id."""
        return f"{self.prefix}:{{{user}}}:retired:"

    def retired(self, user: str, session_id: str) -> str:
        """Set of hashes of a session's rotated-out refresh tokens (replay detection)."""
        return self.retired_prefix(user) + session_id

    def family_prefix(self, user: str) -> str:
        """Common start of a user's session-family sets; scripts append the portal session id."""
        return f"{self.prefix}:{{{user}}}:family:"

    def family(self, user: str, portal_session_id: str) -> str:
        """Set of the ids of the child sessions a portal session handed to app hosts."""
        return self.family_prefix(user) + portal_session_id

    def handoff_revoked(self, user: str, session_id: str) -> str:
        """Marker of a child session whose code came back: it may no longer be made."""
        return f"{self.prefix}:{{{user}}}:handoff-revoked:{session_id}"

    def sso_state(self, value_hash: str) -> str:
        """A hand-off an app host started, named by the SHA-256 of its state cookie."""
        return f"{self.prefix}:sso-state:{value_hash}"

    def sso_code(self, code_hash: str) -> str:
        """A one-time hand-off code the portal minted, named by its SHA-256."""
        return f"{self.prefix}:sso-code:{code_hash}"

    def sso_spent(self, code_hash: str) -> str:
        """The child session a redeemed code made, named by the code's SHA-256."""
        return f"{self.prefix}:sso-spent:{code_hash}"

    def revocations(self) -> str:
        """Pub/sub channel announcing every ended session (see verifier.sessions.liveness)."""
        return f"{self.prefix}:revocations"

    def totp_step(self, user: str, step: int) -> str:
        """Marker of a TOTP time step a user's code was accepted for (each step works once)."""
        return f"{self.prefix}:{{{user}}}:totp-step:{step}"

    def recovery_codes(self, user: str) -> str:
        """Set of SHA-256 hashes of a user's unused recovery codes."""
        return f"{self.prefix}:{{{user}}}:recovery-codes"

    def totp_secret(self, user: str) -> str:
        """A user's active TOTP secret (absent: no TOTP enrolled)."""
        return f"{self.prefix}:{{{user}}}:totp"

    def totp_enrolment(self, user: str) -> str:
        """A TOTP secret shown for enrolment, kept until a correct code activates it."""
        return f"{self.prefix}:{{{user}}}:totp-enrolment"

    def passkeys(self, user: str) -> str:
        """Set of the SHA-256 (hex) of each credential id of a user's passkeys."""
        return f"{self.prefix}:{{{user}}}:passkeys"

    def passkey(self, user: str, credential_hash: str) -> str:
        """Hash of one passkey: credential id, public key, sign count, name, times."""
        return f"{self.prefix}:{{{user}}}:passkey:{credential_hash}"

    def webauthn_challenge(self, purpose: str, binding_hash: str) -> str:
        """A WebAuthn challenge waiting for its answer, named by what it is bound to."""
        return f"{self.prefix}:webauthn-challenge:{purpose}:{binding_hash}"

    def pending_signin(self, id_hash: str) -> str:
        """Hash of a sign-in waiting for its second factor, named by its id's SHA-256."""
        return f"{self.prefix}:pending-signin:{id_hash}"

    def api_token(self, digest: str) -> str:
        """Hash of one API token, named by the SHA-256 (hex) of the token: owner, id, name,
        scope, created, expires, last used, and the owner's token epoch it was made in.

        Not under the owner's hash tag: a bearer presents the token alone, so its record is
        found by the token's digest (on a Cluster, in a slot of its own).
        """
        return f"{self.prefix}:api-token:{digest}"

    def api_tokens(self, user: str) -> str:
        """Hash of a user's API tokens: token id -> the token's digest (for list and revoke)."""
        return f"{self.prefix}:{{{user}}}:api-tokens"

    def api_token_epoch(self, user: str) -> str:
        """A user's token epoch: a random value every token of theirs records when made.

        Deleting it (with every session, at `sessions end-all`, removal, logout everywhere)
        revokes every token made before, atomically, though their records live in other slots.
        """
        return f"{self.prefix}:{{{user}}}:api-token-epoch"

    def login_throttle(self, scope: str, subject: str) -> str:
        """Counter of recent failed logins for an account or a client address."""
        return f"{self.prefix}:throttle:{scope}:{subject}"

    # Upstream sources of users (verifier.users.sources): LDAP, OpenID Connect.

    def identity(self, source: str, upstream_id_hash: str) -> str:
        """The user name an upstream identity signs in as (source + its id's SHA-256)."""
        return f"{self.prefix}:identity:{source}:{upstream_id_hash}"

    def recheck_lock(self, user: str, session_id: str) -> str:
        """Held while one worker re-checks a session's user upstream (the others skip it)."""
        return f"{self.prefix}:{{{user}}}:recheck:{session_id}"

    def oidc_flow(self, state_hash: str) -> str:
        """A sign-in at an OpenID Provider waiting for its callback, named by its state's hash."""
        return f"{self.prefix}:oidc-flow:{state_hash}"

    def oidc_sessions(self, source: str, sid_hash: str) -> str:
        """Set of "user session" pairs a provider's session (`sid`, hashed) started."""
        return f"{self.prefix}:oidc-sid:{source}:{sid_hash}"

    def oidc_logout_token(self, source: str, jti_hash: str) -> str:
        """Marker of a back-channel logout token already used (its `jti`, hashed)."""
        return f"{self.prefix}:oidc-jti:{source}:{jti_hash}"
