"""Finding the strings to translate in the source: a Babel extraction method.

Babel's own Python extractor reads tokens, and before Python 3.12 an f-string is one token:
a `_("Sign in")` written inside `f"<button>{escape(_('Sign in'))}</button>"`, as the pages
write them, would never reach the catalog. This one reads the syntax tree, where the calls
inside f-strings are calls like any other. `make messages` uses it (tools/babel.cfg), and
so does the catalog test.

A translator's note is a comment starting with the tag `make messages` passes
(`# TRANSLATORS: ...`) on the lines right above the call.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

# What Babel expects of a method: (line, function name, message or (singular, plural), notes).
Extracted = tuple[int, str, str | tuple[str, str], list[str]]
# The three ways verifier.i18n marks a string, and which arguments are the message.
_SINGULAR = frozenset({"_", "N_", "gettext"})
_PLURAL = frozenset({"ngettext"})


def extract(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Extracted]:
    """Every `_()`, `N_()` and `ngettext()` of a module whose message is a literal string."""
    source = fileobj.read().decode(str(options.get("encoding", "utf-8")))
    notes = _notes(source, tuple(comment_tags))
    found: list[Extracted] = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        name = node.func.id
        if name not in keywords:
            continue
        texts = [_text(arg) for arg in node.args]
        note = notes.get(node.lineno, [])
        if name in _SINGULAR and len(texts) == 1 and texts[0] is not None:
            found.append((node.lineno, name, texts[0], note))
        elif name in _PLURAL and len(texts) >= 2 and texts[0] is not None and texts[1] is not None:
            found.append((node.lineno, name, (texts[0], texts[1]), note))
    yield from sorted(found, key=lambda item: item[0])


def _text(node: ast.expr) -> str | None:
    """The string a literal argument holds (adjacent literals are one); None for others."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _notes(source: str, tags: tuple[str, ...]) -> dict[int, list[str]]:
    """Translators' notes by the line of the call they stand above (or beside)."""
    if not tags:
        return {}
    by_line: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            by_line[token.start[0]] = token.string.lstrip("#").strip()
    notes: dict[int, list[str]] = {}
    for line, text in by_line.items():
        if not text.startswith(tags):
            continue
        block = [text]
        follow = line + 1
        while follow in by_line and not by_line[follow].startswith(tags):
            block.append(by_line[follow])
            follow += 1
        # The call on the line after the note's last line (or on that line itself).
        notes[follow] = block
        notes.setdefault(follow - 1, block)
    return notes
