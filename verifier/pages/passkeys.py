"""The HTML of the account's passkeys page: the list, "Add a passkey", a remove form each,
and the confirmation a removal goes through.

Same skeleton as the other pages (verifier.pages.common); it loads the passkey script, which
shows the add button and, after the first factor is registered, the recovery codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from verifier.factors.passkey_store import MAX_NAME_LENGTH, Passkey
from verifier.i18n import _
from verifier.pages.common import (
    WayBack,
    cancel_link,
    data,
    document,
    html_format,
    messages,
    script_messages,
)
from verifier.pages.sessions import OtherSessions, other_sessions_offer, when


def _used(passkey: Passkey) -> str:
    if passkey.last_used is None:
        return escape(_("never"))
    return when(passkey.last_used)


def _item(action: str, passkey: Passkey) -> str:
    # The entry's words on the left, its button on the right of the same row (wrapping
    # under them only where the row is too narrow for both).
    facts = html_format(
        # TRANSLATORS: {added} is a date and time; {used} one too, or "never".
        _("added {added}, last used {used}"),
        added=when(passkey.created),
        used=_used(passkey),
    )
    label = _("Remove {name}").format(name=passkey.name)
    return f"""<li class="passkey-item" data-id="{passkey.short_id}">
<span class="item-text"><strong>{data(passkey.name)}</strong>: {facts}</span>
<form class="item-action" method="post" action="{escape(action)}">
<input type="hidden" name="action" value="remove">
<input type="hidden" name="passkey" value="{passkey.credential_hash}">
<button type="submit" class="secondary" aria-label="{escape(label)}">{escape(_("Remove"))}</button>
</form>
</li>"""


def passkeys_page(
    action: str,
    options_path: str,
    register_path: str,
    passkeys: Sequence[Passkey],
    *,
    back: WayBack,
    error: str | None = None,
    notice: str | None = None,
    others: OtherSessions | None = None,
) -> str:
    """The user's passkeys, a remove button each, and the form to add one.

    `others`: the user has a second factor and sessions that signed in without one.
    """
    needs_script = _("Adding a passkey needs JavaScript and a browser with passkeys.")
    added = _(
        "Your passkey is added. Each recovery code works once, if you lose your passkeys. "
        "Keep them somewhere safe: they are shown only now."
    )
    go_on = escape(_("Continue"))
    if passkeys:
        listed = "\n".join(_item(action, passkey) for passkey in passkeys)
        listing = f'<ul id="passkeys" class="items">\n{listed}\n</ul>'
    else:
        listing = f'<p id="passkeys">{escape(_("You have no passkeys yet."))}</p>'
    return document(
        _("Passkeys"),
        f"""{messages(error, notice)}
{listing}
{other_sessions_offer(others) if others is not None else ""}
<section class="passkey-add" aria-labelledby="add-heading">
<h2 id="add-heading">{escape(_("Add a passkey"))}</h2>
<div class="passkey-create" data-passkey="create" data-options="{escape(options_path)}"
 data-verify="{escape(register_path)}" data-next=""{script_messages()}>
<label for="passkey-name">{escape(_("Name (to tell your passkeys apart)"))}</label>
<input id="passkey-name" name="name" type="text" maxlength="{MAX_NAME_LENGTH}" required
 autocomplete="off" value="{escape(_("Passkey"))}">
<button type="button" hidden>{escape(_("Add a passkey"))}</button>
<p class="js-needed">{escape(needs_script)}</p>
<div class="passkey-error" aria-live="assertive"></div>
<section class="passkey-new-codes" hidden>
<h2>{escape(_("Your recovery codes"))}</h2>
<p role="status">{escape(added)}</p>
<ol class="codes passkey-codes" id="recovery-codes" translate="no"></ol>
<p><a class="button-link continue passkey-continue" href="{escape(action)}">{go_on}</a></p>
</section>
</div>
</section>""",
        script=True,
        back=back,
    )


def passkey_removal_page(action: str, passkey: Passkey, *, last_factor: bool, back: WayBack) -> str:
    """The confirmation of a removal: which passkey, what it changes, and Cancel."""
    name = f"<strong>{data(passkey.name)}</strong>"
    said = html_format(
        _(
            "After this you can no longer sign in with the passkey {name}. It stays on the "
            "device or in the password manager that keeps it, where you can delete it too."
        ),
        name=name,
    )
    last = ""
    if last_factor:
        only = _("It is your only second factor: afterwards your password alone signs you in.")
        last = f"<p>{escape(only)}</p>\n"
    return document(
        _("Remove this passkey?"),
        f"""<p>{said}</p>
{last}<form method="post" action="{escape(action)}">
<input type="hidden" name="action" value="remove">
<input type="hidden" name="passkey" value="{passkey.credential_hash}">
<input type="hidden" name="confirm" value="yes">
<div class="actions"><button type="submit">{escape(_("Remove passkey"))}</button>
{cancel_link(back.href)}</div>
</form>""",
        back=back,
    )
