"""What every page of the verifier must be, checked in a real browser on each page a walk
reaches: in the language asked for, with a way back, an accessible form, no inline script
or style, visible keyboard focus, usable at 320 px, light and dark; and, in the pseudo
language, with no text that did not come from the catalog.

The pseudo language is English with every message of the template wrapped in ⟦ ⟧: a stack
given it as VERIFIER_LOCALE_DIR's "en" shows every catalog string marked, so any text left
unmarked on a page was written past the catalog. A page's own values (names, codes,
addresses, dates) are set apart with `translate="no"` or a <time> element and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from babel.messages.pofile import read_po, write_po

from verifier.i18n import DOMAIN, LOCALES_DIR

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

PSEUDO_OPEN, PSEUDO_CLOSE = "⟦", "⟧"
_MARKED = re.compile(f"{PSEUDO_OPEN}[^{PSEUDO_OPEN}{PSEUDO_CLOSE}]*{PSEUDO_CLOSE}")
# What may stand outside the marks: space, punctuation, and the stand-in for a value.
_BETWEEN = re.compile(r"[\s\W_]*")
# The page's light and dark backgrounds (verifier.css, --page).
LIGHT_PAGE = "rgb(243, 244, 246)"
DARK_PAGE = "rgb(20, 23, 28)"
NARROW_WIDTH = 320

_TEXT_OF_PAGE = """() => {
  // Every text a reader can meet, hidden parts included (a closed fold, the script's words):
  // text nodes, the attributes read aloud or shown, and the title. A value of the page's
  // own (translate="no", <time>) stands as one bullet.
  const said = [];
  const spoken = ["aria-label", "title", "alt", "placeholder",
                  "data-cancelled", "data-failed", "data-refused", "data-already"];
  const walk = (node) => {
    if (node.nodeType === Node.TEXT_NODE) { said.push(node.textContent); return; }
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const name = node.tagName.toLowerCase();
    if (name === "script" || name === "style") return;
    if (node.getAttribute("translate") === "no" || name === "time") { said.push(" • "); return; }
    for (const attribute of spoken) {
      if (node.hasAttribute(attribute)) said.push("\\n" + node.getAttribute(attribute) + "\\n");
    }
    for (const child of node.childNodes) walk(child);
  };
  walk(document.body);
  const header = document.querySelector("header.brand");
  const app = header ? header.textContent : "";
  said.push("\\n" + document.title.replace(" · " + app, "") + "\\n");
  return said.join("");
}"""

_LOOK = """() => ({
  lang: document.documentElement.lang,
  inlineStyle: document.querySelectorAll("style, [style]").length,
  inlineScript: document.querySelectorAll("script:not([src])").length,
  unlabelled: [...document.querySelectorAll("input:not([type=hidden])")]
    .filter((input) => input.labels.length === 0).map((input) => input.id || input.name),
  fields: document.querySelectorAll("form input:not([type=hidden])").length,
  liveRegions: document.querySelectorAll("[aria-live]").length,
  width: document.documentElement.scrollWidth,
  backLinks: [...document.querySelectorAll("a.back-link, a.continue")]
    .filter((a) => a.checkVisibility()).map((a) => a.getAttribute("href")),
})"""

_FOCUS = """() => {
  const focused = document.activeElement;
  if (!focused || focused === document.body) return null;
  const style = getComputedStyle(focused);
  return {tag: focused.tagName, outline: style.outlineStyle, width: style.outlineWidth};
}"""


def write_pseudo_catalog(locale_dir: Path) -> None:
    """The template's every message as "⟦message⟧", as the catalog of "en" in `locale_dir`."""
    with (LOCALES_DIR / f"{DOMAIN}.pot").open("rb") as source:
        catalog = read_po(source, locale="en", domain=DOMAIN)
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            message.string = tuple(f"{PSEUDO_OPEN}{form}{PSEUDO_CLOSE}" for form in message.id)
        else:
            message.string = f"{PSEUDO_OPEN}{message.id}{PSEUDO_CLOSE}"
    target = locale_dir / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    with (target / f"{DOMAIN}.po").open("wb") as out:
        write_po(out, catalog)


def unmarked_text(text: str) -> str:
    """What is left of a page's text once every marked message and value is taken out."""
    previous = None
    while previous != text:  # messages inside messages: the innermost first
        previous, text = text, _MARKED.sub("", text)
    left = text.replace("•", " ")
    return "" if _BETWEEN.fullmatch(left) else " ".join(left.split())


@dataclass
class PageChecks:
    """Checks each page of a walk and keeps what it found, to report every problem at once."""

    language: str
    pseudo: bool = False
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    last_response: Response | None = None

    def watch(self, page: Page) -> None:
        """Remember each document answer of the main frame, for its headers."""

        def seen(response: Response) -> None:
            if response.request.resource_type == "document" and response.frame == page.main_frame:
                self.last_response = response

        page.on("response", seen)

    def check(self, page: Page, name: str, *, way_back: bool = True) -> str | None:
        """Check the page on screen; return the href of its way back (None for none)."""
        self.checked.append(name)
        look = page.evaluate(_LOOK)
        where = f"{self.language} {name} ({page.url})"
        if look["lang"] != self.language:
            self.problems.append(f"{where}: <html lang={look['lang']!r}>")
        if look["inlineStyle"] or look["inlineScript"]:
            self.problems.append(f"{where}: inline style or script")
        if look["unlabelled"]:
            self.problems.append(f"{where}: fields without a label: {look['unlabelled']}")
        if look["fields"] and not look["liveRegions"]:
            self.problems.append(f"{where}: a form without a live region for its errors")
        if look["width"] > NARROW_WIDTH:
            self.problems.append(f"{where}: {look['width']} px wide at {NARROW_WIDTH} px")
        self._headers(where)
        self._focus(page, where)
        self._schemes(page, where)
        if self.pseudo:
            left = unmarked_text(page.evaluate(_TEXT_OF_PAGE))
            if left:
                self.problems.append(f"{where}: text not from the catalog: {left!r}")
        back: str | None = look["backLinks"][0] if look["backLinks"] else None
        if way_back and back is None:
            self.problems.append(f"{where}: no way back")
        if not way_back and back is not None:
            self.problems.append(f"{where}: a way back where none was expected: {back}")
        return back

    def _headers(self, where: str) -> None:
        response = self.last_response
        if response is None:
            self.problems.append(f"{where}: no document answer seen")
            return
        headers = response.headers
        policy = headers.get("content-security-policy", "")
        if "default-src 'none'" not in policy or "unsafe-inline" in policy:
            self.problems.append(f"{where}: Content-Security-Policy {policy!r}")
        if headers.get("content-language") != self.language:
            self.problems.append(f"{where}: Content-Language {headers.get('content-language')}")

    def _focus(self, page: Page, where: str) -> None:
        # From the top of the page, as a keyboard user starts: whatever Tab reaches shows it.
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.keyboard.press("Tab")
        focus = page.evaluate(_FOCUS)
        if focus is None or focus["outline"] == "none" or focus["width"] == "0px":
            self.problems.append(f"{where}: keyboard focus not shown: {focus}")

    def _schemes(self, page: Page, where: str) -> None:
        for scheme, expected in (("dark", DARK_PAGE), ("light", LIGHT_PAGE)):
            page.emulate_media(color_scheme=scheme)
            shown = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
            if shown != expected:
                self.problems.append(f"{where}: {scheme} scheme shows {shown}")
