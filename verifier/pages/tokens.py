"""The HTML of the account's API tokens page: the list, a revoke form each, the form to make
one, and the page that shows a new token's secret, once.

Same skeleton as the other pages (verifier.pages.common): no script, every value escaped (a
token's name was typed by its owner), errors in a live region, labels on every field.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from verifier.apitokens import NewToken, TokenInfo
from verifier.apitokens.inputs import DEFAULT_LIFETIME, MAX_NAME_LENGTH
from verifier.pages.account import shown_time
from verifier.pages.common import document
from verifier.pages.factors import _messages

TOKENS_PATH = "/auth/account/tokens"


def _when(moment: int | None) -> str:
    return "never" if moment is None else shown_time(moment)


def _item(token: TokenInfo) -> str:
    name = escape(token.name)
    return f"""<li class="token-item" id="token-{token.token_id}">
<strong>{name}</strong> <code>{token.token_id}</code>
<br>Scope: {escape(token.scope.describe())}
<br>Made {_when(token.created)}, expires {_when(token.expires)}
<br>Last used {_when(token.last_used)}
<form method="post" action="{TOKENS_PATH}">
<input type="hidden" name="action" value="revoke">
<input type="hidden" name="token" value="{token.token_id}">
<button type="submit" aria-label="Revoke {name}">Revoke</button>
</form></li>"""


def tokens_page(
    tokens: Sequence[TokenInfo],
    recent_minutes: int,
    max_days: int,
    *,
    error: str | None = None,
    notice: str | None = None,
) -> str:
    """The user's tokens, a revoke button each, and the form to make one."""
    if tokens:
        listed = "\n".join(_item(token) for token in tokens)
        listing = (
            f'<ul class="tokens" id="tokens" aria-labelledby="tokens-heading">\n{listed}\n</ul>'
        )
    else:
        listing = '<p id="tokens">You have no API tokens.</p>'
    return document(
        "API tokens",
        f"""{_messages(error, notice)}
<p>A token lets a script or a service call the protected apps as you, without a cookie:
<code>Authorization: Bearer vrf_...</code>. It can do at most what you can, or less
(its scope), until it expires or you revoke it. Signing out everywhere revokes every one.
<a href="/auth/account">Back to your account</a></p>
<h2 id="tokens-heading">Your tokens</h2>
{listing}
<h2 id="create-heading">Make a token</h2>
<p>Making one needs a sign-in within the last {recent_minutes} minutes: you may be asked for
your password again first.</p>
<form method="post" action="{TOKENS_PATH}" aria-labelledby="create-heading">
<input type="hidden" name="action" value="create">
<label for="token-name">Name (what it is for)</label>
<input id="token-name" name="name" type="text" maxlength="{MAX_NAME_LENGTH}" required
 autocomplete="off">
<label for="token-expires">Expires after (12h, 90d, 2w; at most {max_days}d)</label>
<input id="token-expires" name="expires" type="text" value="{DEFAULT_LIFETIME}" required
 autocomplete="off">
<label for="token-scope">Scope (optional: group:NAME, path:/PREFIX/, spaces between)</label>
<input id="token-scope" name="scope" type="text" autocomplete="off">
<button type="submit">Make the token</button>
</form>""",
    )


def new_token_page(new: NewToken) -> str:
    """The token just made, shown this once, with what it is."""
    info = new.info
    return document(
        "Your new token",
        f"""<p role="status">Copy it now: it is shown only this once, and the verifier keeps
only its hash.</p>
<p><label for="new-token">Token {escape(info.name)}</label>
<input id="new-token" type="text" readonly value="{escape(str(new.token))}"></p>
<dl>
<dt>Id</dt><dd><code id="new-token-id">{info.token_id}</code></dd>
<dt>Scope</dt><dd>{escape(info.scope.describe())}</dd>
<dt>Expires</dt><dd>{_when(info.expires)}</dd>
</dl>
<p>Use it as <code>Authorization: Bearer</code> followed by the token.
<a href="{TOKENS_PATH}">Back to your tokens</a></p>""",
    )
