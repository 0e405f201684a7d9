"""API tokens for scripts and services: `Authorization: Bearer vrf_...` on protected locations.

`bearer` is the token and its header, `scope` what a token may do (a part of what its owner
may), `inputs` what a person types to make one, `store` the tokens in Redis, `check` the
`/auth` check of a bearer (cached like a live session), `usage` the "last used" written in
the background.
"""

from verifier.apitokens.bearer import ApiToken, is_ours, is_token_id
from verifier.apitokens.check import BearerCheck, TokenGrant
from verifier.apitokens.inputs import BadTokenInput, lifetime_seconds, token_name
from verifier.apitokens.scope import Scope
from verifier.apitokens.store import NewToken, TokenInfo, TokenStore
from verifier.apitokens.usage import TokenUsage

__all__ = [
    "ApiToken",
    "BadTokenInput",
    "BearerCheck",
    "NewToken",
    "Scope",
    "TokenGrant",
    "TokenInfo",
    "TokenStore",
    "TokenUsage",
    "is_ours",
    "is_token_id",
    "lifetime_seconds",
    "token_name",
]
