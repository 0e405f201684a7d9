"""The HTML of the second-factor pages: the code form, TOTP enrolment, recovery codes.

Same skeleton as the sign-in page (verifier.pages.common): no script, every value escaped,
errors in a live region announced by screen readers, labels on every field, a way back at
the top, and every string in the message catalogs. Messages handed in (`error`, `intro`)
are catalog messages: they are translated here, where they are shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from verifier.i18n import _, ngettext
from verifier.pages.common import (
    WayBack,
    cancel_link,
    described,
    document,
    html_format,
    messages,
    passkey_block,
)
from verifier.pages.sessions import OtherSessions, other_sessions_offer

# The field a failed second step was typed into: the page comes back open there.
CODE_FIELD = "code"
RECOVERY_FIELD = "recovery"


def _code_field(name: str, label: str, *, autofocus: bool = True, error_id: str = "") -> str:
    focus = " autofocus" if autofocus else ""
    describe = f' aria-describedby="{error_id}"' if error_id else ""
    return f"""<label for="{name}">{escape(label)}</label>
<input id="{name}" name="{name}" type="text" inputmode="numeric" autocomplete="one-time-code"
 required maxlength="8" spellcheck="false"{focus}{describe}>"""


def second_factor_page(
    action: str,
    error: str | None = None,
    *,
    failed: str = CODE_FIELD,
    totp: bool = True,
    passkey_paths: tuple[str, str] | None = None,
    cancel_url: str = "/auth/login",
) -> str:
    """The second step of a sign-in: a TOTP code, or (folded away) a recovery code.

    `failed` names the field a wrong answer was typed into: for a recovery code the fold
    comes back open, with the message above that field and the cursor in it.
    `passkey_paths` (options, answer) adds "Use a passkey", shown by the passkey script;
    `totp` False leaves out the code form (a user with passkeys only).
    """
    recovery_failed = error is not None and failed == RECOVERY_FIELD
    code_error = None if recovery_failed else error
    code_form = ""
    if totp:
        code_form = f"""
<form method="post" action="{escape(action)}"{described(code_error)}>
{_code_field("code", _("Code from your authenticator app"), autofocus=not recovery_failed)}
<button type="submit">{escape(_("Verify"))}</button>
</form>"""
    passkey = passkey_block(*passkey_paths, _("Use a passkey")) if passkey_paths else ""
    recovery_focus = " autofocus" if recovery_failed else ""
    recovery_describe = ' aria-describedby="recovery-error"' if recovery_failed else ""
    return document(
        _("Two-step sign-in"),
        f"""{messages(code_error)}{passkey}{code_form}
<details{" open" if recovery_failed else ""}>
<summary>{escape(_("Use a recovery code"))}</summary>
<form method="post" action="{escape(action)}">
{messages(error if recovery_failed else None, region_id="recovery-error")}
<label for="recovery_code">{escape(_("Recovery code"))}</label>
<input id="recovery_code" name="recovery_code" type="text" autocomplete="off" required
 maxlength="32" spellcheck="false" autocapitalize="none"{recovery_focus}{recovery_describe}>
<button type="submit">{escape(_("Use recovery code"))}</button>
</form>
</details>""",
        script=passkey_paths is not None,
        back=WayBack(cancel_url, _("Cancel sign-in")),
    )


def enrolment_page(
    action: str,
    secret: str,
    qr_svg: str,
    error: str | None = None,
    intro: str | None = None,
    *,
    back: WayBack,
) -> str:
    """TOTP enrolment: the QR code (inline SVG), the secret for manual entry, a code field."""
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    said = (
        _(intro)
        if intro
        else _("Scan this code with your authenticator app, then enter the code it shows.")
    )
    key = f'<code class="secret" id="totp-secret" translate="no">{escape(grouped)}</code>'
    return document(
        _("Set up your authenticator app"),
        f"""{messages(error)}
<p>{escape(said)}</p>
<figure>{qr_svg}</figure>
<p>{html_format(_("Or type this key into the app: {key}"), key=key)}</p>
<form method="post" action="{escape(action)}"{described(error)}>
<input type="hidden" name="action" value="confirm">
{_code_field("code", _("Code from your authenticator app"))}
<button type="submit">{escape(_("Activate"))}</button>
</form>""",
        back=back,
    )


def recovery_codes_page(
    codes: Sequence[str], continue_to: str, intro: str, others: OtherSessions | None = None
) -> str:
    """The new recovery codes, shown this once, and where to go on.

    `others`: a second factor was just turned on and sessions that signed in without one
    are still live; the page lists them and offers to end them (point 7 of issue 25).
    """
    items = "\n".join(f'<li translate="no">{escape(code)}</li>' for code in codes)
    keep = _(
        "Each code works once, if you lose your authenticator app. Keep them somewhere safe: "
        "they are shown only now."
    )
    return document(
        _("Your recovery codes"),
        f"""<p role="status">{escape(_(intro))}</p>
<p>{escape(keep)}</p>
<ol class="codes" id="recovery-codes">
{items}
</ol>
{other_sessions_offer(others, codes_shown=True) if others is not None else ""}
<p><a class="button-link continue" href="{escape(continue_to)}">{escape(_("Continue"))}</a></p>""",
    )


def recovery_code_used_page(continue_to: str, left: int) -> str:
    """After a sign-in with a recovery code: how many are left."""
    said = ngettext(
        "You have {count} recovery code left.", "You have {count} recovery codes left.", left
    ).format(count=left)
    advice = f" {_('Make a new set from your account soon.')}" if left <= 3 else ""
    return document(
        _("Signed in with a recovery code"),
        f"""<p role="status" id="recovery-left">{escape(said + advice)}</p>
<p><a class="button-link continue" href="{escape(continue_to)}">{escape(_("Continue"))}</a></p>""",
    )


def _codes_left(left: int, recovery_path: str) -> str:
    link = f'<a href="{escape(recovery_path)}">{escape(_("make a new set"))}</a>'
    return html_format(
        ngettext(
            "You have {count} recovery code left ({link}).",
            "You have {count} recovery codes left ({link}).",
            left,
        ),
        count=str(left),
        link=link,
    )


def totp_status_page(
    action: str,
    recovery_path: str,
    codes_left: int,
    error: str | None = None,
    *,
    back: WayBack,
) -> str:
    """The account's TOTP: it is on; moving it to a new app goes through a confirmation."""
    return document(
        _("Authenticator app"),
        f"""{messages(error)}
<p>{escape(_("Two-step sign-in with an authenticator app is on."))}
{_codes_left(codes_left, recovery_path)}</p>
<h2>{escape(_("Move to a new app or phone"))}</h2>
<form method="post" action="{escape(action)}">
<input type="hidden" name="action" value="reset">
<button type="submit" class="secondary">{escape(_("Reset authenticator app"))}</button>
</form>""",
        back=back,
    )


def totp_reset_page(action: str, error: str | None = None, *, back: WayBack) -> str:
    """The confirmation of a reset: what happens, and a current code to go on."""
    happens = _(
        "You scan a new QR code with the new app or phone. Your current app keeps working "
        "until the new one shows a right code; from then on only the new one works, and you "
        "get new recovery codes."
    )
    return document(
        _("Reset your authenticator app?"),
        f"""{messages(error)}
<p>{escape(happens)}</p>
{_current_code_form(action, _("Reset authenticator app"), error, reset=True, cancel=back.href)}""",
        back=back,
    )


def regenerate_page(
    action: str, codes_left: int, error: str | None = None, *, back: WayBack
) -> str:
    """Recovery codes: how many are left; a new set takes a current code."""
    said = ngettext(
        "You have {count} recovery code left. A new set replaces it.",
        "You have {count} recovery codes left. A new set replaces all of them.",
        codes_left,
    ).format(count=codes_left)
    return document(
        _("Recovery codes"),
        f"""{messages(error)}
<p>{escape(said)}</p>
{_current_code_form(action, _("Make new recovery codes"), error)}""",
        back=back,
    )


def _current_code_form(
    action: str, button: str, error: str | None, *, reset: bool = False, cancel: str = ""
) -> str:
    hidden = ""
    if reset:
        hidden = (
            '<input type="hidden" name="action" value="reset">\n'
            '<input type="hidden" name="confirm" value="yes">\n'
        )
    label = _("Current code from your authenticator app, or a recovery code")
    cancelling = f"\n{cancel_link(cancel)}" if cancel else ""
    return f"""<form method="post" action="{escape(action)}"{described(error)}>
{hidden}<label for="current_code">{escape(label)}</label>
<input id="current_code" name="current_code" type="text" autocomplete="one-time-code" required
 maxlength="32" spellcheck="false" autocapitalize="none">
<div class="actions"><button type="submit">{escape(button)}</button>{cancelling}</div>
</form>"""


def no_factor_page(totp_path: str, *, back: WayBack) -> str:
    """Recovery codes need a factor to recover: set up the authenticator app first."""
    link = f'<a href="{escape(totp_path)}">{escape(_("Set one up first."))}</a>'
    return document(
        _("Recovery codes"),
        f"""<p role="alert">{escape(_("Recovery codes come with an authenticator app."))}
{link}</p>""",
        back=back,
    )


def message_page(title: str, message: str, back: WayBack) -> str:
    """A short page saying what went wrong, with the way back (both catalog messages)."""
    return document(_(title), messages(message), back=WayBack(back.href, _(back.label)))
