"""What the real-Chromium tests share: the browser, a narrow viewport, signing in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from tests.parts import require

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# Flags checked on these machines: no sandbox as root, and no background traffic to hosts
# that the closed network refuses.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The narrowest screen the pages must work on.
NARROW = {"width": 320, "height": 640}


def launch_chromium(env: dict[str, str] | None = None) -> Iterator[Browser]:
    """Debian's Chromium driven by Playwright (no browser download), for a fixture to yield;
    `env` is added to its environment (a HOME of its own, say)."""
    chromium = require("chromium")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (only when Chromium exists)

    # Playwright gives the browser a fresh, empty profile of its own.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium,
            args=CHROMIUM_ARGS,
            env={**os.environ, **env} if env else None,
        )
        yield launched
        launched.close()


def sign_in_with_password(page: Page, name: str, password: str) -> None:
    """Fill in the sign-in form and submit it."""
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def fits_narrow(page: Page) -> bool:
    """True when the page needs no horizontal scrolling at 320 px."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width <= NARROW["width"]
