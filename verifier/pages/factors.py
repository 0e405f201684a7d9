"""The HTML of the second-factor pages: the code form, TOTP enrolment, recovery codes.

Same skeleton as the sign-in page (verifier.pages.common): no script, every value escaped, errors in
a live region announced by screen readers, and labels on every field.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from verifier.pages.common import document, passkey_block


def _messages(error: str | None, notice: str | None = None) -> str:
    # The region exists on every render, so assistive technology is watching it before an
    # error appears in it.
    inner = ""
    if error:
        inner = f'<p class="error" role="alert">{escape(error)}</p>'
    elif notice:
        inner = f'<p class="notice" role="status">{escape(notice)}</p>'
    return f'<div id="form-error" aria-live="assertive">{inner}</div>'


def _described(error: str | None) -> str:
    return ' aria-describedby="form-error"' if error else ""


def _code_field(name: str, label: str) -> str:
    return f"""<label for="{name}">{escape(label)}</label>
<input id="{name}" name="{name}" type="text" inputmode="numeric" autocomplete="one-time-code"
 required maxlength="8" spellcheck="false" autofocus>"""


def second_factor_page(
    action: str,
    error: str | None = None,
    *,
    totp: bool = True,
    passkey_paths: tuple[str, str] | None = None,
) -> str:
    """The second step of a sign-in: a TOTP code, or (folded away) a recovery code.

    `passkey_paths` (options, answer) adds "Use a passkey", shown by the passkey script;
    `totp` False leaves out the code form (a user with passkeys only).
    """
    code_form = ""
    if totp:
        code_form = f"""
<form method="post" action="{escape(action)}"{_described(error)}>
{_code_field("code", "Code from your authenticator app")}
<button type="submit">Verify</button>
</form>"""
    passkey = passkey_block(*passkey_paths, "Use a passkey") if passkey_paths else ""
    return document(
        "Two-step sign-in",
        f"""{_messages(error)}{passkey}{code_form}
<details>
<summary>Use a recovery code</summary>
<form method="post" action="{escape(action)}">
<label for="recovery_code">Recovery code</label>
<input id="recovery_code" name="recovery_code" type="text" autocomplete="off" required
 maxlength="32" spellcheck="false" autocapitalize="none">
<button type="submit">Use recovery code</button>
</form>
</details>""",
        script=passkey_paths is not None,
    )


def enrolment_page(
    action: str,
    secret: str,
    qr_svg: str,
    error: str | None = None,
    intro: str = "Scan this code with your authenticator app, then enter the code it shows.",
) -> str:
    """TOTP enrolment: the QR code (inline SVG), the secret for manual entry, a code field."""
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return document(
        "Set up your authenticator app",
        f"""{_messages(error)}
<p>{escape(intro)}</p>
<figure>{qr_svg}</figure>
<p>Or type this key into the app: <code class="secret" id="totp-secret">{escape(grouped)}</code></p>
<form method="post" action="{escape(action)}"{_described(error)}>
<input type="hidden" name="action" value="confirm">
{_code_field("code", "Code from your authenticator app")}
<button type="submit">Activate</button>
</form>""",
    )


def recovery_codes_page(codes: Sequence[str], continue_to: str, intro: str) -> str:
    """The new recovery codes, shown this once, and where to go on."""
    items = "\n".join(f"<li>{escape(code)}</li>" for code in codes)
    return document(
        "Your recovery codes",
        f"""<p role="status">{escape(intro)}</p>
<p>Each code works once, if you lose your authenticator app. Keep them somewhere safe:
they are shown only now.</p>
<ol class="codes" id="recovery-codes">
{items}
</ol>
<p><a href="{escape(continue_to)}">Continue</a></p>""",
    )


def recovery_code_used_page(continue_to: str, left: int) -> str:
    """After a sign-in with a recovery code: how many are left."""
    advice = "" if left > 3 else " Make a new set from your account soon."
    return document(
        "Signed in with a recovery code",
        f"""<p role="status" id="recovery-left">You have {left} recovery
code{"" if left == 1 else "s"} left.{escape(advice)}</p>
<p><a href="{escape(continue_to)}">Continue</a></p>""",
    )


def _current_code_form(action: str, button: str, error: str | None, hidden: str = "") -> str:
    return f"""<form method="post" action="{escape(action)}"{_described(error)}>
{hidden}<label for="current_code">Current code from your authenticator app, or a recovery
code</label>
<input id="current_code" name="current_code" type="text" autocomplete="one-time-code" required
 maxlength="32" spellcheck="false" autocapitalize="none">
<button type="submit">{escape(button)}</button>
</form>"""


def totp_status_page(
    action: str, recovery_path: str, codes_left: int, error: str | None = None
) -> str:
    """The account's TOTP: it is on; resetting it takes a current code."""
    hidden = '<input type="hidden" name="action" value="reset">\n'
    form = _current_code_form(action, "Reset authenticator app", error, hidden)
    return document(
        "Authenticator app",
        f"""{_messages(error)}
<p>Two-step sign-in with an authenticator app is on. You have {codes_left} recovery
code{"" if codes_left == 1 else "s"} left (<a href="{escape(recovery_path)}">make a new
set</a>).</p>
<h2>Move to a new app or phone</h2>
{form}""",
    )


def regenerate_page(action: str, codes_left: int, error: str | None = None) -> str:
    """Recovery codes: how many are left; a new set takes a current code."""
    return document(
        "Recovery codes",
        f"""{_messages(error)}
<p>You have {codes_left} recovery code{"" if codes_left == 1 else "s"} left. A new set
replaces all of them.</p>
{_current_code_form(action, "Make new recovery codes", error)}""",
    )


def no_factor_page(totp_path: str) -> str:
    """Recovery codes need a factor to recover: set up the authenticator app first."""
    return document(
        "Recovery codes",
        f"""<p role="alert">Recovery codes come with an authenticator app.
<a href="{escape(totp_path)}">Set one up first.</a></p>""",
    )


def message_page(title: str, message: str, back_to: str) -> str:
    """A short page saying what went wrong, with the way back."""
    return document(
        title,
        f"""{_messages(message)}
<p><a href="{escape(back_to)}">Back</a></p>""",
    )
