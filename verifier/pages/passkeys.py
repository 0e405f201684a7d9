"""The HTML of the account's passkeys page: the list, "Add a passkey", a remove form each.

Same skeleton as the other pages (verifier.pages.common); it loads the passkey script, which shows
the add button and, after the first factor is registered, the recovery codes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape

from verifier.factors.passkey_store import MAX_NAME_LENGTH, Passkey
from verifier.pages.common import document


def _when(moment: float | None) -> str:
    if moment is None:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(moment))


def _item(action: str, passkey: Passkey) -> str:
    return f"""<li class="passkey-item" data-id="{passkey.short_id}">
<strong>{escape(passkey.name)}</strong>: added {_when(passkey.created)}, last used
{_when(passkey.last_used)}
<form class="inline" method="post" action="{escape(action)}">
<input type="hidden" name="action" value="remove">
<input type="hidden" name="passkey" value="{passkey.credential_hash}">
<button type="submit" aria-label="Remove {escape(passkey.name)}">Remove</button>
</form>
</li>"""


def passkeys_page(
    action: str,
    options_path: str,
    register_path: str,
    passkeys: Sequence[Passkey],
    *,
    error: str | None = None,
    notice: str | None = None,
) -> str:
    """The user's passkeys, a remove button each, and the form to add one."""
    if error:
        message = f'<p class="error" role="alert">{escape(error)}</p>'
    elif notice:
        message = f'<p class="notice" role="status">{escape(notice)}</p>'
    else:
        message = ""
    if passkeys:
        listed = "\n".join(_item(action, passkey) for passkey in passkeys)
        listing = f'<ul id="passkeys">\n{listed}\n</ul>'
    else:
        listing = '<p id="passkeys">You have no passkeys yet.</p>'
    return document(
        "Passkeys",
        f"""<div id="form-error" aria-live="assertive">{message}</div>
{listing}
<h2>Add a passkey</h2>
<div class="passkey" data-passkey="create" data-options="{escape(options_path)}"
 data-verify="{escape(register_path)}" data-next="">
<label for="passkey-name">Name (to tell your passkeys apart)</label>
<input id="passkey-name" name="name" type="text" maxlength="{MAX_NAME_LENGTH}" required
 autocomplete="off" value="Passkey">
<button type="button" hidden>Add a passkey</button>
<p class="js-needed">Adding a passkey needs JavaScript and a browser with passkeys.</p>
<div class="passkey-error" aria-live="assertive"></div>
<section class="passkey-new-codes" hidden>
<h2>Your recovery codes</h2>
<p role="status">Your passkey is added. Each recovery code works once, if you lose your
passkeys. Keep them somewhere safe: they are shown only now.</p>
<ol class="codes passkey-codes" id="recovery-codes"></ol>
<p><a class="passkey-continue" href="{escape(action)}">Continue</a></p>
</section>
</div>""",
        script=True,
    )
