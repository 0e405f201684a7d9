"""The extraction method `make messages` uses: every marked string, inside f-strings too,
with the translators' notes above it; nothing that is not a literal."""

from __future__ import annotations

import io

from babel.messages.extract import DEFAULT_KEYWORDS

from verifier.i18n.extraction import extract

SOURCE = b"""
from verifier.i18n import N_, _, ngettext

TITLE = N_("A constant")


def page(error, count):
    # TRANSLATORS: a note for the next call,
    # on two lines.
    said = _("Told in a call")
    html = f"<p>{escape(_('Inside an f-string'))}</p><p>{_(error)}</p>"
    many = ngettext("{count} thing", "{count} things", count)
    joined = _("Adjacent " "literals")
    return said, html, many, joined
"""


def _extracted() -> list[tuple[int, str, object, list[str]]]:
    return list(extract(io.BytesIO(SOURCE), DEFAULT_KEYWORDS, ("TRANSLATORS:",), {}))


def test_every_literal_marked_string_is_found_inside_f_strings_too() -> None:
    messages = [found[2] for found in _extracted()]

    assert messages == [
        "A constant",
        "Told in a call",
        "Inside an f-string",
        ("{count} thing", "{count} things"),
        "Adjacent literals",
    ]


def test_a_translators_note_goes_with_the_call_under_it() -> None:
    notes = {found[2]: found[3] for found in _extracted() if isinstance(found[2], str)}

    assert notes["Told in a call"] == ["TRANSLATORS: a note for the next call,", "on two lines."]
    assert notes["A constant"] == []
    assert notes["Inside an f-string"] == []
