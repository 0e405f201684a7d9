"""What the pages and the JSON messages say, in the reader's language.

Message catalogs (gettext `.po` files, read with Babel) for every language in `locales/`
and, optionally, an operator's directory of more; the language of each request, chosen
from `Accept-Language` (English when none fits) or forced by a setting; and dates, times,
durations and lists written as that language writes them.

Marking a string for translation, the one way: `_("...")` where the string is used inside a
function, `N_("...")` for a module-level constant (translated where it is shown: the page
functions and `send_json` translate the messages they are given), `ngettext(one, many, n)`
for a count. `make messages` extracts them into `locales/verifier.pot` and updates every
language's catalog (docs/translations.md).
"""

from verifier.i18n.catalogs import (
    DOMAIN,
    LOCALES_DIR,
    SOURCE_LANGUAGE,
    CatalogError,
    Catalogs,
    load_catalogs,
)
from verifier.i18n.current import (
    ENGLISH,
    N_,
    Language,
    _,
    current_language,
    ngettext,
    use_language,
)
from verifier.i18n.formats import ago, iso_moment, listed, moment
from verifier.i18n.negotiation import Languages, preferred_languages

__all__ = [
    "DOMAIN",
    "ENGLISH",
    "LOCALES_DIR",
    "N_",
    "SOURCE_LANGUAGE",
    "CatalogError",
    "Catalogs",
    "Language",
    "Languages",
    "_",
    "ago",
    "current_language",
    "iso_moment",
    "listed",
    "load_catalogs",
    "moment",
    "ngettext",
    "preferred_languages",
    "use_language",
]
