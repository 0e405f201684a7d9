"""A user's second factors in Redis: the TOTP secret (pending until confirmed), recovery codes
and passkeys (their store is verifier.factors.passkey_store).

The active secret lives at `KeySpace.totp_secret(user)`; a secret being enrolled lives at
`KeySpace.totp_enrolment(user)` with a TTL, and becomes active only when a correct code for
it arrives (activate_totp). Redis holds TOTP secrets as they are (a code can only be
checked with the secret itself): protect Redis and its dumps like the password hashes.
"""

from __future__ import annotations

from dataclasses import dataclass

from verifier.factors.methods import RECOVERY_CODE, TOTP
from verifier.factors.passkey_store import PasskeyStore
from verifier.factors.recovery import RecoveryCodes
from verifier.factors.totp import TotpCodes, new_secret
from verifier.store import RedisClient
from verifier.store.keyspace import KeySpace
from verifier.store.outages import as_text, guard_for

# Every Redis call of this module, timed under its name (verifier_redis_call_*).
_guard = guard_for("user_factors")

# The name authenticator apps list the account under (a setting once the app's name is one).
TOTP_ISSUER = "verifier"
# Long enough to scan a code and type one; a secret never confirmed is forgotten after it.
ENROLMENT_SECONDS = 900

# Activate a confirmed enrolment: the secret becomes the user's and the enrolment ends, in
# one step, and only if the enrolment still holds that very secret (a second tab may have
# started another). KEYS[1] active secret, KEYS[2] enrolment; ARGV[1] the confirmed secret.
_ACTIVATE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""


@dataclass(frozen=True)
class FactorStatus:
    """What a user has enrolled."""

    totp: bool
    recovery_codes_left: int
    passkeys: int = 0

    @property
    def any(self) -> bool:
        """True when the user has a second factor to sign in with (TOTP or a passkey)."""
        return self.totp or self.passkeys > 0


class UserFactors:
    """Reads, checks and changes one user's second factors."""

    def __init__(self, client: RedisClient, keys: KeySpace, totp_issuer: str = TOTP_ISSUER) -> None:
        self._redis = client
        self._keys = keys
        # The name authenticator apps list the user's entry under (VERIFIER_APP_NAME).
        self.totp_issuer = totp_issuer
        self._totp = TotpCodes(client, keys)
        self._recovery = RecoveryCodes(client, keys)
        self.passkeys = PasskeyStore(client, keys)
        self._activate = client.register_script(_ACTIVATE)

    async def status(self, user: str) -> FactorStatus:
        """Whether the user has TOTP, how many recovery codes are left, how many passkeys."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.exists(self._keys.totp_secret(user))
        pipe.scard(self._keys.recovery_codes(user))
        pipe.scard(self._keys.passkeys(user))
        has_totp, left, passkeys = await _guard(pipe.execute())
        return FactorStatus(
            totp=bool(has_totp), recovery_codes_left=int(left), passkeys=int(passkeys)
        )

    async def check(self, user: str, totp_code: str, recovery_code: str, now: float) -> str | None:
        """The amr method a current factor proved (TOTP, or a recovery code, used up), or None.

        A TOTP code is tried when given, else the recovery code; each works once.
        """
        if totp_code:
            secret = await self._secret(self._keys.totp_secret(user))
            if secret is not None and await self._totp.accept(user, secret, totp_code, now):
                return TOTP
            return None
        if recovery_code and await self._recovery.use(user, recovery_code):
            return RECOVERY_CODE
        return None

    async def accept_code(self, user: str, secret: str, code: str, now: float) -> bool:
        """True once for a right code of `secret` (an enrolment's); its step is spent."""
        return await self._totp.accept(user, secret, code, now)

    async def recovery_codes_left(self, user: str) -> int:
        """How many unused recovery codes the user has."""
        return await self._recovery.remaining(user)

    async def enrolment_secret(self, user: str) -> str | None:
        """The secret of the user's enrolment in progress, if any."""
        return await self._secret(self._keys.totp_enrolment(user))

    async def begin_enrolment(self, user: str, *, restart: bool = False) -> str:
        """The secret to enrol: the one in progress (a reload shows the same QR code), or new.

        `restart` replaces one in progress (a reset the user just proved a factor for).
        """
        key = self._keys.totp_enrolment(user)
        candidate = new_secret()
        if restart:
            await _guard(self._redis.set(key, candidate, ex=ENROLMENT_SECONDS))
            return candidate
        if await _guard(self._redis.set(key, candidate, ex=ENROLMENT_SECONDS, nx=True)):
            return candidate
        current = await self._secret(key)
        # Expired between the two calls: start over with the fresh one.
        if current is None:
            await _guard(self._redis.set(key, candidate, ex=ENROLMENT_SECONDS))
            return candidate
        return current

    async def activate_totp(self, user: str, secret: str) -> bool:
        """Make the confirmed enrolment secret the user's; False if it is no longer current."""
        keys = [self._keys.totp_secret(user), self._keys.totp_enrolment(user)]
        return bool(await _guard(self._activate(keys=keys, args=[secret])))

    async def set_totp(self, user: str, secret: str) -> None:
        """Make `secret` the user's TOTP secret (a sign-in that enrolled with it)."""
        await _guard(self._redis.set(self._keys.totp_secret(user), secret))

    async def new_recovery_codes(self, user: str) -> list[str]:
        """A new set of recovery codes (the old set stops working); show them once."""
        return await self._recovery.regenerate(user)

    async def remove_all(self, user: str) -> bool:
        """Remove TOTP (active and in enrolment), recovery codes, passkeys; True if any existed."""
        passkeys = await self.passkeys.remove_all(user)
        removed = await _guard(
            self._redis.delete(
                self._keys.totp_secret(user),
                self._keys.totp_enrolment(user),
                self._keys.recovery_codes(user),
            )
        )
        return bool(removed) or passkeys > 0

    async def _secret(self, key: str) -> str | None:
        raw = await _guard(self._redis.get(key))
        return as_text(raw) if raw is not None else None
