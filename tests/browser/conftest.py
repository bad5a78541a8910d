"""Fixtures of the browser tests: Chromium, the portal built, a hub in a thread, a person signed in, axe.

A test asks for ``portal_hub`` (the hub's base URL, trusting the test OIDC provider as a shared firm IdP),
``signed_in`` (a factory: a page of a person of a firm, with roles, signed in through the provider's real
PKCE flow) or ``new_page`` (a page nobody signed in to). Every page is watched: a CSP violation or a request
to another host fails the test, and a screenshot is saved under tests/browser/artefacts/ at its end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from auth.federation import TrustedIssuer
from hub.app import create_app
from hub.portal import origin_of
from hub.server import serve_in_thread
from tests.browser.harness import TIMEOUT_MS, PageWatch, build_portal, launch, screenshot
from tests.e2e.hub_settings import hub_settings
from tests.e2e.oidc_idp import (  # noqa: F401 (a fixture)
    AUDIENCE,
    PORTAL_CLIENT_ID,
    PORTAL_PASSWORD,
    OidcIdP,
    oidc_idp_fixture,
    person_login,
)

SignedIn = Callable[..., Awaitable[Page]]


@pytest.fixture(scope="session")
def portal_dist() -> Path:
    return build_portal()


@pytest.fixture(scope="session")
async def browser(tmp_path_factory: pytest.TempPathFactory, portal_dist: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await launch(playwright, tmp_path_factory.mktemp("chromium-home"))
        try:
            yield launched
        finally:
            await launched.close()


def portal_issuer(idp: OidcIdP) -> TrustedIssuer:
    """The test provider as a shared IdP of the cluster (tokens name their firm), with the portal's client."""
    return TrustedIssuer(
        issuer=idp.issuer,
        audience=AUDIENCE,
        portal_client_id=PORTAL_CLIENT_ID,
        portal_scope="openid trace:read inventory:read",
        portal_label="Cluster IdP (test)",
    )


@pytest.fixture(scope="session")
def portal_hub(
    neo4j_server: tuple[str, str, str], oidc_idp: OidcIdP, tmp_path_factory: pytest.TempPathFactory, portal_dist: Path
) -> Iterator[str]:
    """A hub serving the portal in a thread, on the session's Neo4j; yields its base URL."""
    settings = hub_settings(
        neo4j_server, tmp_path_factory.mktemp("portal-hub"), trusted_issuers=[portal_issuer(oidc_idp)], graphiql=True
    )
    with serve_in_thread(create_app(settings), port=settings.port) as base_url:
        yield base_url


@pytest.fixture
def watches() -> list[PageWatch]:
    """What every page of the test reported (CSP violations, other hosts reached)."""
    return []


@pytest.fixture
async def contexts(
    browser: Browser, request: pytest.FixtureRequest, watches: list[PageWatch]
) -> AsyncIterator[list[BrowserContext]]:
    """Every browser context a test opened; each closed (after its pages' screenshots) at the test's end, and
    the test fails there if any of its pages broke the Content-Security-Policy or reached another host."""
    opened: list[BrowserContext] = []
    yield opened
    for n, context in enumerate(opened):
        for m, page in enumerate(context.pages):
            if not page.is_closed():
                await screenshot(page, f"{request.node.name}-{n}-{m}")
        await context.close()
    for watch in watches:
        watch.assert_clean()


@pytest.fixture
def new_page(
    browser: Browser, contexts: list[BrowserContext], watches: list[PageWatch], portal_hub: str, oidc_idp: OidcIdP
) -> Callable[..., Awaitable[tuple[Page, PageWatch]]]:
    """A factory of fresh pages (each in its own context: no shared storage), watched for CSP and foreign hosts."""

    async def make(locale: str = "en-GB") -> tuple[Page, PageWatch]:
        context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        watch = PageWatch(allowed_origins={origin_of(portal_hub), origin_of(oidc_idp.issuer)})
        watch.attach(page)
        watches.append(watch)
        return page, watch

    return make


async def sign_in(page: Page, base_url: str, login: str, path: str = "/") -> None:
    """Signs a person in as a browser does: the portal's choice, the provider's form, back to ``path``."""
    await page.goto(base_url + path)
    await page.get_by_role("button", name="Cluster IdP (test)").click()
    await page.locator("#login").fill(login)
    await page.locator("#password").fill(PORTAL_PASSWORD)
    await page.locator("#submit").click()
    await page.wait_for_url(base_url + path)
    await page.locator(".top .who").wait_for()


async def sign_out(page: Page, base_url: str) -> None:
    """Signs out as a person does: the portal's button, then the provider's confirmation, back to the portal."""
    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_role("button", name="Yes, sign me out").click()  # the provider's end-session page
    await page.wait_for_url(base_url + "/")


@pytest.fixture
def signed_in(new_page: Callable[..., Awaitable[tuple[Page, PageWatch]]], portal_hub: str) -> SignedIn:
    """``await signed_in("firm-a", "admin", path="/lots")``: a page of that person, signed in, at ``path``."""

    async def make(firm_id: str, *roles: str, path: str = "/", locale: str = "en-GB") -> Page:
        page, _ = await new_page(locale=locale)
        await sign_in(page, portal_hub, person_login(firm_id, *roles), path)
        return page

    return make
