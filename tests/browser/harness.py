"""The browser-test harness: Debian's Chromium driven by Playwright's Python package, the portal built by make.

Playwright's wheel brings its driver; no browser is ever downloaded: Chromium is /usr/bin/chromium (``make
chromium`` installs it). Fixtures live in ``tests/browser/conftest.py``; this module has the pieces they use.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Playwright

ROOT: Final = Path(__file__).resolve().parents[2]
PORTAL: Final = ROOT / "portal"
ARTEFACTS: Final = Path(__file__).resolve().parent / "artefacts"  # screenshots (ignored by git)
CHROMIUM: Final = Path("/usr/bin/chromium")
INSTALL_HINT: Final = (
    "the browser tests need Debian's Chromium: run 'make chromium' (apt-get install -y chromium chromium-driver "
    "fonts-noto-cjk)"
)
# what the machine's closed network needs: no background connections, no first-run, no component updates
CHROMIUM_ARGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
TIMEOUT_MS: Final = 30_000  # a busy machine (load 10-20): generous, and nothing depends on timing


def chromium_executable() -> Path:
    """Debian's Chromium, or the test fails saying what to install (never skipped)."""
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: {INSTALL_HINT}")
    return CHROMIUM


def build_portal() -> Path:
    """portal/dist, built by ``make portal`` (npm ci and vite build, each only when its inputs changed)."""
    make = shutil.which("make")
    if make is None:
        pytest.fail("'make' was not found: it builds the portal (make portal)")
    built = subprocess.run([make, "-s", "portal"], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    if built.returncode != 0:
        pytest.fail(f"'make portal' failed:\n{built.stdout}\n{built.stderr}")
    dist = PORTAL / "dist"
    assert (dist / "index.html").is_file(), f"'make portal' left no {dist / 'index.html'}"
    return dist


async def launch(playwright: Playwright, user_data_dir: Path) -> Browser:
    """Chromium headless with a fresh profile folder (Playwright's launch makes a new one per browser)."""
    return await playwright.chromium.launch(
        executable_path=str(chromium_executable()),
        headless=True,
        args=list(CHROMIUM_ARGS),
        timeout=TIMEOUT_MS * 2,
        env={"HOME": str(user_data_dir)},
    )


@dataclass
class PageWatch:
    """What a page reported while a test used it: CSP violations, console errors, requests to other hosts."""

    allowed_origins: set[str]
    csp_violations: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.console_errors.append(message.text)
                if "Content Security Policy" in message.text:
                    self.csp_violations.append(message.text[:300])

        page.on("console", on_console)
        page.on("request", lambda request: self._request(request.url))

    def _request(self, url: str) -> None:
        match = re.match(r"^(https?|wss?)://[^/]+", url)
        if match and match.group(0).replace("ws", "http", 1) not in self.allowed_origins:
            self.foreign_requests.append(url)

    def assert_clean(self) -> None:
        """No CSP violation and no request to a host other than the hub and its identity providers."""
        assert not self.csp_violations, f"Content-Security-Policy violations: {self.csp_violations}"
        assert not self.foreign_requests, f"the page reached other hosts: {self.foreign_requests}"


@functools.cache
def axe_source() -> str:
    """axe-core's browser build, as npm ci put it in the portal's node_modules."""
    path = PORTAL / "node_modules" / "axe-core" / "axe.min.js"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run 'make portal' (npm ci in portal/)")
    return path.read_text()


def artefact_path(name: str) -> Path:
    """Where a screenshot called ``name`` goes (tests/browser/artefacts/, made when missing)."""
    ARTEFACTS.mkdir(exist_ok=True)
    return ARTEFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"


async def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core (from the portal's node_modules) run on the page: the violations of the given impacts.

    It is evaluated through the DevTools protocol, which the page's CSP does not govern, so the policy stays as
    served (an injected script tag would be refused by it, rightly).
    """
    source = axe_source()
    if await page.evaluate("() => typeof window.axe") != "object":
        await page.evaluate(source)
        assert await page.evaluate("() => typeof window.axe") == "object", "axe-core did not load in the page"
    result = await page.evaluate(
        "async () => { const r = await window.axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})); }"
    )
    return [v for v in result if v["impact"] in impacts]


async def assert_accessible(page: Page) -> None:
    """axe finds no serious or critical violation on the page as it is now."""
    violations = await axe_violations(page)
    assert not violations, "axe-core: serious accessibility violations:\n" + json.dumps(violations, indent=1)


async def screenshot(page: Page, name: str) -> Path:
    """Saves a full-page PNG under tests/browser/artefacts/ (kept as a test artefact, ignored by git)."""
    path = artefact_path(name)
    await page.screenshot(path=str(path), full_page=True)
    return path
