"""The HTML of the step-up page ("Confirm it's you"): only the step the location asks for.

Same skeleton as the sign-in page (verifier.pages.common): no script, every value escaped,
errors in a live region announced by screen readers, labels on every field, and a way back
to the app (with a Cancel beside the button) for a user who cannot, or will not, confirm.
"""

from __future__ import annotations

from html import escape

from verifier.i18n import N_, _
from verifier.pages.common import (
    APP_HOME,
    WayBack,
    cancel_link,
    data,
    described,
    document,
    html_format,
    messages,
)

TITLE = N_("Confirm it's you")


def _signed_in_as(user: str) -> str:
    return html_format(_("Signed in as {user}."), user=f"<strong>{data(user)}</strong>")


def step_up_page(
    action: str,
    next_path: str,
    user: str,
    reason: str,
    *,
    password: bool,
    code: bool,
    error: str | None = None,
) -> str:
    """The form for the missing step: the password again, a code, or both.

    `reason` and `error` are catalog messages. Cancel leads to the app's home, not to
    `next`: that page would only ask again.
    """
    fields = ""
    if password:
        fields += f"""<label for="password">{escape(_("Password"))}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required
 autofocus>
"""
    if code:
        autofocus = "" if password else " autofocus"
        label = _("Code from your authenticator app, or a recovery code")
        fields += f"""<label for="code">{escape(label)}</label>
<input id="code" name="code" type="text" autocomplete="one-time-code" required
 maxlength="32" spellcheck="false" autocapitalize="none"{autofocus}>
"""
    return document(
        _(TITLE),
        f"""{messages(error)}
<p id="step-up-reason">{_signed_in_as(user)} {escape(_(reason))}</p>
<form method="post" action="{escape(action)}"{described(error)}>
<input type="hidden" name="next" value="{escape(next_path)}">
{fields}<div class="actions"><button type="submit">{escape(_("Confirm"))}</button>
{cancel_link(APP_HOME)}</div>
</form>""",
        back=WayBack(APP_HOME, _("Back to the app")),
    )


def no_second_factor_page(user: str, enrol_url: str) -> str:
    """An mfa step-up for a user with no second factor: set one up first, then come back."""
    enrol = (
        f'<a href="{escape(enrol_url)}" id="enrol-link">'
        f"{escape(_('Set up an authenticator app'))}</a>"
    )
    go_on = html_format(
        _("{link}: once it is set up, you go on to the page you asked for."), link=enrol
    )
    return document(
        _(TITLE),
        f"""<p role="alert" id="step-up-reason">{_signed_in_as(user)}
{escape(_("This page needs a second factor, and your account has none yet."))}</p>
<p>{go_on}</p>""",
        back=WayBack(APP_HOME, _("Back to the app")),
    )
