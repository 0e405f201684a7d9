"""`/auth/account/totp`: set up the authenticator app (TOTP), or reset it with a current code.

The seed of the account page: a signed-in user (a live session, read as logout reads it)
sees a QR code and the secret, and the secret becomes active only with one correct code;
then the ten recovery codes are shown, once, with the user's other sessions that signed in
with a password alone and a button that ends them. A user who has TOTP resets it through a
confirmation page that says what happens and takes a current code (or a recovery code);
the old secret works until the new one is confirmed.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import falcon
import falcon.asgi

from verifier.errors import LoginThrottled
from verifier.factors.methods import TOTP
from verifier.factors.totp import provisioning_uri, qr_code_svg
from verifier.factors.user_factors import UserFactors
from verifier.gate import SessionRef
from verifier.i18n import N_
from verifier.observe.audit import AuditLog
from verifier.pages.account import account_url, back_to_account
from verifier.pages.common import WayBack
from verifier.pages.factors import (
    enrolment_page,
    message_page,
    recovery_codes_page,
    totp_reset_page,
    totp_status_page,
)
from verifier.pages.sessions import OtherSessions, password_only
from verifier.resources.account_proof import CurrentFactorCheck, ProofRefused
from verifier.resources.account_session import AccountSession
from verifier.resources.body import read_fields, wants_json
from verifier.resources.login import client_address, throttled_answer
from verifier.resources.page_answers import code_problem, send_json, send_page
from verifier.sessions.networks import NetworkNames
from verifier.web.csrf import check_request_origin
from verifier.web.redirects import DEFAULT_NEXT, safe_next

TOTP_PATH = "/auth/account/totp"
RECOVERY_PATH = "/auth/account/recovery-codes"
WRONG_NEW_CODE = N_("That code is not right. Check the app shows the account just added.")
NO_ENROLMENT = N_("Nothing to activate: the set-up expired. Start again.")
NOT_ENROLLED = N_("The authenticator app is not set up yet.")
UNKNOWN_ACTION = N_("Unknown action.")
DONE = N_("Your authenticator app is set up.")
DONE_AFTER_RESET = N_("Your new authenticator app is set up; the old one no longer works.")
TITLE = N_("Authenticator app")
# TRANSLATORS: the way back to the authenticator app page, from a page saying what failed.
BACK = N_("Back")
# The field a reset's second POST carries (the confirmation page's own form).
CONFIRMED = "yes"


class AccountTotp:
    """GET shows the set-up or the reset form; POST `action=confirm` or `action=reset`."""

    def __init__(
        self,
        account: AccountSession,
        factors: UserFactors,
        proof: CurrentFactorCheck,
        audit: AuditLog,
        clock: Callable[[], float],
        networks: NetworkNames | None = None,
    ) -> None:
        self._account = account
        self._factors = factors
        self._proof = proof
        self._audit = audit
        self._clock = clock
        self._networks = networks or NetworkNames()

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Show the enrolment in progress, the reset form, or a new enrolment."""
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        user = session.user
        status = await self._factors.status(user)
        secret = await self._factors.enrolment_secret(user)
        if status.totp and secret is None:
            if wants_json(req):
                send_json(
                    resp,
                    falcon.HTTP_200,
                    {"totp": "enabled", "recovery_codes_left": status.recovery_codes_left},
                )
                return
            page = totp_status_page(
                TOTP_PATH, RECOVERY_PATH, status.recovery_codes_left, back=_back(req)
            )
            send_page(resp, falcon.HTTP_200, page)
            return
        if secret is None:
            secret = await self._factors.begin_enrolment(user)
        self._show_enrolment(req, resp, falcon.HTTP_200, user, secret, None)

    async def on_post(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        """Activate the enrolment with a code, or start a reset with a current code."""
        check_request_origin(req)
        session = await self._account.signed_in_or_login(req, resp)
        if session is None:
            return
        fields = await read_fields(req)
        action = fields.get("action", "confirm")
        if action == "confirm":
            await self._confirm(req, resp, session, fields.get("code", ""))
        elif action == "reset":
            if fields.get("confirm") != CONFIRMED and not wants_json(req):
                # A browser's first POST: the page that says what a reset does, and asks
                # for the current code that confirms it.
                send_page(resp, falcon.HTTP_200, totp_reset_page(TOTP_PATH, back=_back(req)))
                return
            await self._reset(req, resp, session.user, fields.get("current_code", ""))
        else:
            self._error(req, resp, falcon.HTTP_400, UNKNOWN_ACTION)

    async def _confirm(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, session: SessionRef, code: str
    ) -> None:
        user, address = session.user, client_address(req)
        secret = await self._factors.enrolment_secret(user)
        if secret is None:
            self._proof.refused(user, address, "totp.confirm", "no_enrolment")
            self._error(req, resp, falcon.HTTP_409, NO_ENROLMENT)
            return
        problem = code_problem(code)
        if problem is not None:
            self._proof.refused(user, address, "totp.confirm", "bad_input")
            self._show_enrolment(req, resp, falcon.HTTP_400, user, secret, problem)
            return
        if not await self._reserved(req, resp, user, address, "totp.confirm"):
            return
        if not await self._factors.accept_code(user, secret, code, self._clock()):
            self._proof.refused(user, address, "totp.confirm", "bad_code")
            self._show_enrolment(req, resp, falcon.HTTP_400, user, secret, WRONG_NEW_CODE)
            return
        await self._proof.succeeded(user, address)
        replaced = (await self._factors.status(user)).totp
        if not await self._factors.activate_totp(user, secret):
            # Another tab started a new set-up meanwhile: that one is current now.
            self._error(req, resp, falcon.HTTP_409, NO_ENROLMENT)
            return
        codes = await self._factors.new_recovery_codes(user)
        self._audit.record("totp.enrolled", user=user, replaced=int(replaced))
        continue_to = await self._after_step_up(req, resp, session)
        if wants_json(req):
            media: dict[str, object] = {"totp": "enabled", "recovery_codes": codes}
            if continue_to is not None:
                media["next"] = continue_to
            send_json(resp, falcon.HTTP_200, media)
            return
        intro = DONE_AFTER_RESET if replaced else DONE
        others = await self._unguarded_others(req, session)
        page = recovery_codes_page(codes, continue_to or TOTP_PATH, intro, others)
        send_page(resp, falcon.HTTP_200, page)

    async def _unguarded_others(
        self, req: falcon.asgi.Request, session: SessionRef
    ) -> OtherSessions:
        """The other sessions a new second factor did not reach, and where to end them."""
        listed = await self._account.details(session)
        return OtherSessions(
            password_only(listed, session.session_id),
            self._networks,
            self._clock(),
            account_url(_step_up_next(req) or DEFAULT_NEXT),
        )

    async def _after_step_up(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, session: SessionRef
    ) -> str | None:
        """Where to go on after an enrolment a step-up asked for (`?next=`), else None.

        The right code just shown is a second factor: the session is strengthened with it
        in place (as the step-up page would), so `next` lets the user in at once.
        """
        next_path = _step_up_next(req)
        if next_path is None:
            return None
        cookie = await self._account.strengthen(session, (TOTP,))
        if cookie is None:
            return None  # ended meanwhile: the next page sends the user to sign in
        resp.append_header("Set-Cookie", cookie)
        resp.cache_control = ["no-store"]
        self._audit.record(
            "signin.stepped_up",
            user=session.user,
            session=session.session_id,
            address=client_address(req),
            step="mfa",
            methods=TOTP,
        )
        return next_path

    async def _reset(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, user: str, typed: str
    ) -> None:
        address = client_address(req)
        status = await self._factors.status(user)
        if not status.totp:
            self._proof.refused(user, address, "totp.reset", "not_enrolled")
            self._error(req, resp, falcon.HTTP_409, NOT_ENROLLED)
            return
        proof = await self._proof.prove_current(resp, user, typed, address, "totp.reset")
        if isinstance(proof, ProofRefused):
            if proof.status == falcon.HTTP_429:
                self._error(req, resp, proof.status, proof.message)
                return
            self._reset_error(req, resp, proof.status, proof.message)
            return
        secret = await self._factors.begin_enrolment(user, restart=True)
        self._audit.record("totp.reset_started", user=user)
        self._show_enrolment(req, resp, falcon.HTTP_200, user, secret, None)

    async def _reserved(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        user: str,
        address: str,
        action: str,
    ) -> bool:
        try:
            await self._proof.reserve(user, address)
        except LoginThrottled as throttled:
            self._proof.refused(user, address, action, "throttled")
            message = throttled_answer(resp, throttled)
            self._error(req, resp, falcon.HTTP_429, message)
            return False
        return True

    def _show_enrolment(
        self,
        req: falcon.asgi.Request,
        resp: falcon.asgi.Response,
        status: str,
        user: str,
        secret: str,
        error: str | None,
    ) -> None:
        uri = provisioning_uri(secret, user, self._factors.totp_issuer)
        if wants_json(req):
            media: dict[str, object] = {
                "totp": "enrolling",
                "totp_secret": secret,
                "otpauth_uri": uri,
            }
            if error:
                media["error"] = error
            send_json(resp, status, media)
            return
        action = TOTP_PATH
        next_path = _step_up_next(req)
        if next_path is not None:
            action += "?next=" + quote(next_path, safe="/")
        page = enrolment_page(action, secret, qr_code_svg(uri), error, back=_back(req))
        send_page(resp, status, page)

    def _reset_error(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, status: str, error: str
    ) -> None:
        if wants_json(req):
            send_json(resp, status, {"error": error})
            return
        # The confirmation again, with what was wrong: the user was confirming a reset.
        send_page(resp, status, totp_reset_page(TOTP_PATH, error, back=_back(req)))

    def _error(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, status: str, message: str
    ) -> None:
        if wants_json(req):
            send_json(resp, status, {"error": message})
            return
        # A plain page in the same skeleton, with the way back to this page.
        send_page(resp, status, message_page(TITLE, message, WayBack(TOTP_PATH, BACK)))


def _back(req: falcon.asgi.Request) -> WayBack:
    """The way back to the account page, keeping a step-up's way on."""
    return back_to_account(_step_up_next(req) or DEFAULT_NEXT)


def _step_up_next(req: falcon.asgi.Request) -> str | None:
    """The safe `next` a step-up sent along to the enrolment, or None without one."""
    next_path = safe_next(req.get_param("next"))
    return None if next_path == DEFAULT_NEXT else next_path
