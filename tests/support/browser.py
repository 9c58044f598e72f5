"""The admin UI's browser: Debian's chromium driven by Playwright, one page per test module.

Screenshots go to `ARTIFACTS` (test-artifacts/admin/) for review.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.sync_api import sync_playwright

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "admin"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@contextmanager
def browser_page() -> Iterator[Page]:
    """A page of a fresh chromium; on the way out, no Content-Security-Policy violation may
    have been reported (a strict CSP violation shows up as a console error)."""
    assert Path(CHROMIUM).exists(), (
        "Debian's chromium is required: apt-get install chromium (make test does it)"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        console_errors: list[str] = []
        page = context.new_page()
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        yield page
        browser.close()
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
