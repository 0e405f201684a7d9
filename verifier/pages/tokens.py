"""The HTML of the account's API tokens page: the list, a revoke form each, the form to make
one, and the page that shows a new token's secret, once.

Same skeleton as the other pages (verifier.pages.common): no script, every value escaped and
marked as data (a token's name was typed by its owner), errors in a live region, labels on
every field, a way back at the top, and every string in the message catalogs.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from verifier.apitokens import NewToken, TokenInfo
from verifier.apitokens.inputs import DEFAULT_LIFETIME, MAX_NAME_LENGTH
from verifier.apitokens.scope import Scope
from verifier.i18n import _, ngettext
from verifier.pages.account import back_to_account
from verifier.pages.common import WayBack, data, document, html_format, messages
from verifier.pages.sessions import how_long_ago, when

TOKENS_PATH = "/auth/account/tokens"
# The two kinds of scope term as a reader types them: not words to translate.
SCOPE_GROUP = "group:NAME"
SCOPE_PATH = "path:/PREFIX/"


def _scope(scope: Scope) -> str:
    # The terms are the owner's own (group and path names): data, not text to translate.
    return data(str(scope)) if scope.narrows else escape(_("everything you may do"))


def _used(moment: int | None, now: float) -> str:
    return escape(_("never")) if moment is None else how_long_ago(moment, now)


def _item(token: TokenInfo, now: float) -> str:
    name = data(token.name, "strong")
    token_id = data(token.token_id, "code")
    # TRANSLATORS: the accessible name of a token's revoke button; {name} is what its owner
    # called it ("ci-deploy").
    label = _("Revoke {name}").format(name=token.name)
    facts = [
        (_("Scope"), _scope(token.scope)),
        (_("Made"), when(token.created)),
        (_("Expires"), when(token.expires)),
        (_("Last used"), _used(token.last_used, now)),
    ]
    rows = "\n".join(f"<dt>{escape(term)}</dt><dd>{value}</dd>" for term, value in facts)
    return f"""<li class="token-item" id="token-{escape(token.token_id)}">
{name} {token_id}
<dl class="facts">
{rows}
</dl>
<form method="post" action="{TOKENS_PATH}">
<input type="hidden" name="action" value="revoke">
<input type="hidden" name="token" value="{escape(token.token_id)}">
<button type="submit" class="secondary" aria-label="{escape(label)}">{escape(_("Revoke"))}</button>
</form></li>"""


def tokens_page(
    tokens: Sequence[TokenInfo],
    recent_minutes: int,
    max_days: int,
    *,
    now: float,
    error: str | None = None,
    notice: str | None = None,
) -> str:
    """The user's tokens, a revoke button each, and the form to make one.

    `error` and `notice` are catalog messages; `now` is when the page is made (for "last
    used 5 minutes ago").
    """
    if tokens:
        listed = "\n".join(_item(token, now) for token in tokens)
        listing = (
            f'<ul class="tokens" id="tokens" aria-labelledby="tokens-heading">\n{listed}\n</ul>'
        )
    else:
        listing = f'<p id="tokens">{escape(_("You have no API tokens."))}</p>'
    header = '<code translate="no">Authorization: Bearer vrf_...</code>'
    intro = html_format(
        # TRANSLATORS: {header} is the HTTP header a script sends, kept as it is.
        _(
            "A token lets a script or a service call the protected apps as you, without a "
            "cookie: {header}. It can do at most what you can, or less (its scope), until it "
            "expires or you revoke it. Signing out everywhere revokes every one."
        ),
        header=header,
    )
    recent = ngettext(
        "Making one needs a sign-in within the last minute: you may be asked for your "
        "password again first.",
        "Making one needs a sign-in within the last {count} minutes: you may be asked for "
        "your password again first.",
        recent_minutes,
    ).format(count=recent_minutes)
    # TRANSLATORS: the lifetime field's label; 12h, 90d, 2w are typed as they are (hours,
    # days, weeks), and {max_days}d is the longest ("365d").
    expires_label = _("Expires after (12h, 90d, 2w; at most {max_days}d)").format(max_days=max_days)
    # TRANSLATORS: the scope field's label; {group} and {path} are what is typed ("group:NAME",
    # "path:/PREFIX/"), kept as they are.
    scope_label = _("Scope (optional: {group}, {path}, spaces between)").format(
        group=SCOPE_GROUP, path=SCOPE_PATH
    )
    return document(
        _("API tokens"),
        f"""{messages(error, notice)}
<p>{intro}</p>
<h2 id="tokens-heading">{escape(_("Your tokens"))}</h2>
{listing}
<h2 id="create-heading">{escape(_("Make a token"))}</h2>
<p>{escape(recent)}</p>
<form method="post" action="{TOKENS_PATH}" aria-labelledby="create-heading">
<input type="hidden" name="action" value="create">
<label for="token-name">{escape(_("Name (what it is for)"))}</label>
<input id="token-name" name="name" type="text" maxlength="{MAX_NAME_LENGTH}" required
 autocomplete="off">
<label for="token-expires">{escape(expires_label)}</label>
<input id="token-expires" name="expires" type="text" value="{DEFAULT_LIFETIME}" required
 autocomplete="off" spellcheck="false">
<label for="token-scope">{escape(scope_label)}</label>
<input id="token-scope" name="scope" type="text" autocomplete="off" spellcheck="false">
<button type="submit">{escape(_("Make the token"))}</button>
</form>""",
        back=back_to_account(),
    )


def new_token_page(new: NewToken) -> str:
    """The token just made, shown this once, with what it is."""
    info = new.info
    shown_once = _("Copy it now: it is shown only this once, and the verifier keeps only its hash.")
    # TRANSLATORS: the label of the field holding the new token; {name} is what its owner
    # called it ("ci-deploy").
    label = html_format(_("Token {name}"), name=data(info.name))
    use = html_format(
        # TRANSLATORS: {header} is the HTTP header's name, kept as it is.
        _("Use it as {header} followed by the token."),
        header='<code translate="no">Authorization: Bearer</code>',
    )
    return document(
        _("Your new token"),
        f"""<p role="status">{escape(shown_once)}</p>
<p><label for="new-token">{label}</label>
<input id="new-token" type="text" readonly translate="no" value="{escape(str(new.token))}"></p>
<dl class="facts">
<dt>{escape(_("Id"))}</dt>
<dd><code id="new-token-id" translate="no">{escape(info.token_id)}</code></dd>
<dt>{escape(_("Scope"))}</dt><dd>{_scope(info.scope)}</dd>
<dt>{escape(_("Expires"))}</dt><dd>{when(info.expires)}</dd>
</dl>
<p>{use}</p>""",
        back=WayBack(TOKENS_PATH, _("Your tokens")),
    )
