"""`/auth/account/passkeys`: list, add (register) and remove the signed-in user's passkeys.

The page and its remove form are plain HTML (a browser's removal goes through a confirmation
page first: which passkey, and what removing it changes); adding is the registration
ceremony, two JSON POSTs the passkey script makes: options (a challenge bound to this
session) and the authenticator's answer. The first factor a user registers comes with
recovery codes, shown once, as for TOTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence

import falcon
import falcon.asgi

from verifier.errors import PasskeyRejected
from verifier.factors.passkey_store import (
    MAX_NAME_LENGTH,
    MAX_PASSKEYS_PER_USER,
    REGISTER,
    ChallengeStore,
    Passkey,
    credential_hash,
)
from verifier.factors.passkeys import RelyingParty, registration_options, verify_registration
from verifier.factors.user_factors import UserFactors
from verifier.gate import SessionRef
from verifier.i18n import N_, _
from verifier.observe.audit import AuditLog
from verifier.pages.account import ACCOUNT_PATH, back_to_account
from verifier.pages.common import WayBack
from verifier.pages.passkeys import passkey_removal_page, passkeys_page
from verifier.pages.sessions import OtherSessions, password_only
from verifier.resources.account_session import AccountSession
from verifier.resources.body import read_fields, read_json_object, wants_json
from verifier.resources.login import client_address
from verifier.resources.page_answers import send_json, send_page
from verifier.resources.passkey_signin import BAD_ANSWER, NO_CHALLENGE, passkey_answer
from verifier.sessions.networks import NetworkNames
from verifier.web.csrf import check_request_origin

PASSKEYS_PATH = "/auth/account/passkeys"
PASSKEY_OPTIONS_PATH = "/auth/account/passkeys/options"
PASSKEY_REGISTER_PATH = "/auth/account/passkeys/register"
NAME_NEEDED = N_("Give the passkey a name (up to {count} characters).")
TOO_MANY = N_("You have {count} passkeys: remove one first.")
ALREADY = N_("That passkey is already registered.")
REFUSED = N_("The passkey could not be registered. Try again.")
UNKNOWN_PASSKEY = N_("No such passkey (it may have been removed already).")
UNKNOWN_ACTION = N_("Unknown action.")
ADDED = N_("Your passkey is added.")
REMOVED = N_("The passkey is removed.")
# The field a removal's second POST carries (the confirmation page's own form).
CONFIRMED = "yes"
_DIGEST = re.compile(r"[0-9a-f]{64}")


def _too_many() -> str:
    return _(TOO_MANY).format(count=MAX_PASSKEYS_PER_USER)


def passkey_name(raw: object) -> str | None:
    """A passkey's name as typed, trimmed; None when empty, too long or not printable."""
    if not isinstance(raw, str):
        return None
    name = " ".join(raw.split())
    if not name or len(name) > MAX_NAME_LENGTH or not name.isprintable():
        return None
    return name


class AccountPasskeys:
    """GET lists the passkeys; POST `action=remove&passkey=<id hash>` removes one."""

    def __init__(
        self,
        account: AccountSession,
        factors: UserFactors,
        audit: AuditLog,
        clock: Callable[[], float],
        networks: NetworkNames | None = None,
    ) -> None:
        self._account = account
        self._factors = factors
        self._audit = audit
        self._clock = clock
        self._networks = networks or NetworkNames()

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Show the user's passkeys and the form to add one."""
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        passkeys = await self._factors.passkeys.list(session.user)
        if wants_json(req):
            listed = [
                {
                    "id": passkey.credential_hash,
                    "name": passkey.name,
                    "created": passkey.created,
                    "last_used": passkey.last_used,
                    "transports": list(passkey.transports),
                }
                for passkey in passkeys
            ]
            send_json(resp, falcon.HTTP_200, {"passkeys": listed})
            return
        notice = {"added": ADDED, "removed": REMOVED}.get(req.get_param("done") or "")
        others = await self._unguarded_others(session)
        self._page(resp, falcon.HTTP_200, passkeys, notice=notice, others=others)

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Remove one passkey of the signed-in user."""
        check_request_origin(req)
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        user = session.user
        fields = await read_fields(req)
        if fields.get("action") != "remove":
            await self._fail(req, resp, user, falcon.HTTP_400, UNKNOWN_ACTION)
            return
        digest = fields.get("passkey", "")
        if fields.get("confirm") != CONFIRMED and not wants_json(req):
            await self._confirm_removal(resp, user, digest)
            return
        if not _DIGEST.fullmatch(digest) or not await self._factors.passkeys.remove(user, digest):
            await self._fail(req, resp, user, falcon.HTTP_404, UNKNOWN_PASSKEY)
            return
        self._audit.record(
            "passkey.removed", user=user, credential=digest[:12], address=client_address(req)
        )
        if wants_json(req):
            send_json(resp, falcon.HTTP_200, {"removed": digest})
            return
        resp.cache_control = ["no-store"]
        resp.status = falcon.HTTP_303
        resp.location = PASSKEYS_PATH + "?done=removed"

    async def _confirm_removal(self, resp: falcon.asgi.Response, user: str, digest: str) -> None:
        """A browser's first POST: which passkey, and what removing it changes."""
        passkeys = await self._factors.passkeys.list(user)
        found = [p for p in passkeys if _DIGEST.fullmatch(digest) and p.credential_hash == digest]
        if not found:
            self._page(resp, falcon.HTTP_404, passkeys, error=UNKNOWN_PASSKEY)
            return
        status = await self._factors.status(user)
        last = not status.totp and len(passkeys) == 1
        # Cancel (and the way back) lead to the passkeys, where the user was.
        back = WayBack(PASSKEYS_PATH, _("Passkeys"))
        page = passkey_removal_page(PASSKEYS_PATH, found[0], last_factor=last, back=back)
        send_page(resp, falcon.HTTP_200, page, script=False)

    async def _unguarded_others(self, session: SessionRef) -> OtherSessions | None:
        """The other sessions without a second factor, once the user has one."""
        if not (await self._factors.status(session.user)).any:
            return None
        listed = await self._account.details(session)
        return OtherSessions(
            password_only(listed, session.session_id),
            self._networks,
            self._clock(),
            ACCOUNT_PATH,
        )

    async def _fail(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        user: str,
        status: str,
        error: str,
    ) -> None:
        if wants_json(req):
            send_json(resp, status, {"error": error})
            return
        self._page(resp, status, await self._factors.passkeys.list(user), error=error)

    def _page(
        self,
        resp: falcon.asgi.Response,
        status: str,
        passkeys: Sequence[Passkey],
        *,
        error: str | None = None,
        notice: str | None = None,
        others: OtherSessions | None = None,
    ) -> None:
        page = passkeys_page(
            PASSKEYS_PATH,
            PASSKEY_OPTIONS_PATH,
            PASSKEY_REGISTER_PATH,
            passkeys,
            back=back_to_account(),
            error=error,
            notice=notice,
            others=others,
        )
        send_page(resp, status, page, script=True)


class AccountPasskeyOptions:
    """POST `{"name": ...}`: options for navigator.credentials.create(), bound to the session."""

    def __init__(
        self,
        account: AccountSession,
        rp: RelyingParty,
        factors: UserFactors,
        challenges: ChallengeStore,
    ) -> None:
        self._account = account
        self._rp = rp
        self._factors = factors
        self._challenges = challenges

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Start a registration: a challenge in Redis, the options in the answer."""
        check_request_origin(req)
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        document = await read_json_object(req)
        name = passkey_name(document.get("name"))
        if name is None:
            message = _(NAME_NEEDED).format(count=MAX_NAME_LENGTH)
            send_json(resp, falcon.HTTP_400, {"error": message})
            return
        existing = await self._factors.passkeys.list(session.user)
        if len(existing) >= MAX_PASSKEYS_PER_USER:
            send_json(resp, falcon.HTTP_409, {"error": _too_many()})
            return
        options, challenge = registration_options(
            self._rp, session.user, [passkey.credential_id for passkey in existing]
        )
        await self._challenges.put(
            REGISTER, session.session_id, challenge, user=session.user, name=name
        )
        send_json(resp, falcon.HTTP_200, {"publicKey": json.loads(options)})


class AccountPasskeyRegister:
    """POST `{"credential": ...}`: the authenticator's answer; a right one adds the passkey."""

    def __init__(
        self,
        account: AccountSession,
        rp: RelyingParty,
        factors: UserFactors,
        challenges: ChallengeStore,
        audit: AuditLog,
        clock: Callable[[], float],
    ) -> None:
        self._account = account
        self._rp = rp
        self._factors = factors
        self._challenges = challenges
        self._audit = audit
        self._clock = clock

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Verify the registration and store the passkey (recovery codes if it is the first)."""
        check_request_origin(req)
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        user = session.user
        try:
            credential = passkey_answer(await read_json_object(req))
        except PasskeyRejected:
            self._refused(req, user, "bad_json")
            send_json(resp, falcon.HTTP_400, {"error": BAD_ANSWER})
            return
        taken = await self._challenges.take(REGISTER, session.session_id)
        if taken is None or taken[1].get("user") != user:
            self._refused(req, user, "no_challenge")
            send_json(resp, falcon.HTTP_400, {"error": NO_CHALLENGE})
            return
        challenge, state = taken
        try:
            verified = verify_registration(self._rp, credential, challenge)
        except PasskeyRejected as rejected:
            self._refused(req, user, rejected.reason)
            send_json(resp, falcon.HTTP_400, {"error": REFUSED})
            return
        had_factor = (await self._factors.status(user)).any
        name = state.get("name") or _("Passkey")
        added = await self._factors.passkeys.add(user, verified, name, self._clock())
        if added <= 0:
            self._refused(req, user, "duplicate" if added == 0 else "limit")
            send_json(resp, falcon.HTTP_409, {"error": ALREADY if added == 0 else _too_many()})
            return
        self._audit.record(
            "passkey.registered",
            user=user,
            passkey_name=name,
            credential=credential_hash(verified.credential_id)[:12],
            address=client_address(req),
        )
        media: dict[str, object] = {"passkey": "added", "name": name}
        if not had_factor:
            # The first factor: recovery codes come with it, shown this once.
            media["recovery_codes"] = await self._factors.new_recovery_codes(user)
            media["redirect"] = PASSKEYS_PATH
        else:
            media["redirect"] = PASSKEYS_PATH + "?done=added"
        send_json(resp, falcon.HTTP_200, media)

    def _refused(self, req: falcon.asgi.Request, user: str, reason: str) -> None:
        self._audit.record(
            "passkey.register_failed", user=user, address=client_address(req), reason=reason
        )
