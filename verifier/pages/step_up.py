"""The HTML of the step-up page ("Confirm it's you"): only the step the location asks for.

Same skeleton as the sign-in page (verifier.pages.common): no script, every value escaped, errors in
a live region announced by screen readers, and labels on every field.
"""

from __future__ import annotations

from html import escape

from verifier.pages.common import document

TITLE = "Confirm it's you"


def _messages(error: str | None) -> str:
    # The region exists on every render, so assistive technology is watching it before an
    # error appears in it.
    inner = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    return f'<div id="form-error" aria-live="assertive">{inner}</div>'


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
    """The form for the missing step: the password again, a code, or both."""
    described = ' aria-describedby="form-error"' if error else ""
    fields = ""
    if password:
        fields += """<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required
 autofocus>
"""
    if code:
        autofocus = "" if password else " autofocus"
        fields += f"""<label for="code">Code from your authenticator app, or a recovery code</label>
<input id="code" name="code" type="text" autocomplete="one-time-code" required
 maxlength="32" spellcheck="false" autocapitalize="none"{autofocus}>
"""
    return document(
        TITLE,
        f"""{_messages(error)}
<p id="step-up-reason">Signed in as <strong>{escape(user)}</strong>. {escape(reason)}</p>
<form method="post" action="{escape(action)}"{described}>
<input type="hidden" name="next" value="{escape(next_path)}">
{fields}<button type="submit">Confirm</button>
</form>""",
    )


def no_second_factor_page(user: str, enrol_url: str) -> str:
    """An mfa step-up for a user with no second factor: set one up first, then come back."""
    return document(
        TITLE,
        f"""<p role="alert" id="step-up-reason">Signed in as <strong>{escape(user)}</strong>.
This page needs a second factor, and your account has none yet.</p>
<p><a href="{escape(enrol_url)}" id="enrol-link">Set up an authenticator app</a>: once it is
set up, you go on to the page you asked for.</p>""",
    )
