"""Headless Chromium for the ``browser`` tests: Debian's chromium driven by Playwright.

Host names resolve to nothing but 127.0.0.1, so a page can reach no other machine:
whatever it tries to fetch elsewhere fails and is recorded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from conftest import CHROMIUM

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@dataclass
class PageLog:
    """What a page said and asked for while a test used it."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.failed.append(r.url))


@contextmanager
def chromium() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox",  # tests run as root in CI
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def new_page(browser: Browser, width: int = 1400,
             height: int = 900) -> Iterator[tuple[Page, PageLog]]:
    page = browser.new_page(viewport={"width": width, "height": height})
    log = PageLog()
    log.watch(page)
    try:
        yield page, log
    finally:
        page.close()


def screenshot(page: Page, folder: Path, name: str) -> Path:
    """A screenshot in ``folder``, or in $TFLINT_SCREENSHOTS to keep it after the run."""
    kept = os.environ.get("TFLINT_SCREENSHOTS")
    target = Path(kept) if kept else folder
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000, "the screenshot is blank"
    return path
