"""`/auth/account/recovery-codes`: how many are left; a new set, for a current code."""

from __future__ import annotations

import falcon
import falcon.asgi

from verifier.factors.user_factors import UserFactors
from verifier.i18n import N_
from verifier.observe.audit import AuditLog
from verifier.pages.account import ACCOUNT_PATH, back_to_account
from verifier.pages.factors import no_factor_page, recovery_codes_page, regenerate_page
from verifier.resources.account_proof import CurrentFactorCheck, ProofRefused
from verifier.resources.account_session import AccountSession
from verifier.resources.account_totp import RECOVERY_PATH, TOTP_PATH
from verifier.resources.body import read_fields, wants_json
from verifier.resources.login import client_address
from verifier.resources.page_answers import send_json, send_page
from verifier.web.csrf import check_request_origin

NO_FACTOR = N_("Recovery codes come with an authenticator app: set one up first.")
RENEWED = N_("Your new recovery codes: the old ones no longer work.")


class AccountRecoveryCodes:
    """GET shows the count and the form; POST `current_code` makes a new set, voiding the old."""

    def __init__(
        self,
        account: AccountSession,
        factors: UserFactors,
        proof: CurrentFactorCheck,
        audit: AuditLog,
    ) -> None:
        self._account = account
        self._factors = factors
        self._proof = proof
        self._audit = audit

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Show how many codes are left and the form for a new set."""
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        status = await self._factors.status(session.user)
        if not status.any:
            self._no_factor(req, resp)
            return
        if wants_json(req):
            send_json(resp, falcon.HTTP_200, {"recovery_codes_left": status.recovery_codes_left})
            return
        page = regenerate_page(RECOVERY_PATH, status.recovery_codes_left, back=back_to_account())
        send_page(resp, falcon.HTTP_200, page)

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Check the current code, then replace every recovery code with a new set."""
        check_request_origin(req)
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        user, address = session.user, client_address(req)
        fields = await read_fields(req)
        typed = fields.get("current_code", "")
        status = await self._factors.status(user)
        if not status.any:
            self._proof.refused(user, address, "recovery_codes.regenerate", "not_enrolled")
            self._no_factor(req, resp)
            return
        proof = await self._proof.prove_current(
            resp, user, typed, address, "recovery_codes.regenerate"
        )
        if isinstance(proof, ProofRefused):
            left = status.recovery_codes_left
            if proof.checked:
                left = await self._factors.recovery_codes_left(user)
            self._fail(req, resp, proof.status, left, proof.message)
            return
        codes = await self._factors.new_recovery_codes(user)
        self._audit.record("recovery_codes.regenerated", user=user, count=len(codes))
        if wants_json(req):
            send_json(resp, falcon.HTTP_200, {"recovery_codes": codes})
            return
        # On to the account page: a user with passkeys alone has no authenticator app page.
        send_page(resp, falcon.HTTP_200, recovery_codes_page(codes, ACCOUNT_PATH, RENEWED))

    def _no_factor(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        if wants_json(req):
            send_json(resp, falcon.HTTP_409, {"error": NO_FACTOR, "totp_url": TOTP_PATH})
            return
        send_page(resp, falcon.HTTP_409, no_factor_page(TOTP_PATH, back=back_to_account()))

    def _fail(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        status: str,
        left: int,
        error: str,
    ) -> None:
        if wants_json(req):
            send_json(resp, status, {"error": error})
            return
        send_page(resp, status, regenerate_page(RECOVERY_PATH, left, error, back=back_to_account()))
