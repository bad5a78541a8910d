"""The portal's shell in Chromium: a person signs in through their IdP (PKCE), tokens stay in memory, the
language toggle is remembered, the page keeps to its Content-Security-Policy, and axe finds nothing serious."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page

from graph_schema.db import Graph
from tests.browser.conftest import sign_in, sign_out
from tests.browser.harness import PageWatch, assert_accessible, screenshot
from tests.e2e.oidc_idp import person_login
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

NewPage = Callable[..., Awaitable[tuple[Page, PageWatch]]]
FIRM = "portal-firm"


@pytest.fixture
async def members(graph: Graph) -> Graph:
    await register_firms(graph, [FIRM])
    return graph


@pytest.mark.usefixtures("members")
async def test_a_person_signs_in_with_their_firms_idp_and_keeps_tokens_in_memory(
    new_page: NewPage, portal_hub: str
) -> None:
    page, watch = await new_page()
    await page.goto(portal_hub + "/")
    await page.get_by_role("heading", name="Member portal").wait_for()
    await assert_accessible(page)  # the signed-out home page with its sign-in choice
    await sign_in(page, portal_hub, person_login(FIRM, "editor", "auditor"))
    assert await page.locator(".top .who").inner_text() == f"Signed in: {FIRM} (auditor, editor)"
    # the access token (a JWT) is nowhere in the browser's storage
    stored = await page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert "eyJ" not in stored, f"a token was stored: {stored}"
    await assert_accessible(page)
    await screenshot(page, "portal-home-signed-in")
    # a reload forgets the tokens; the provider's session signs the tab in again without a prompt
    await page.reload()
    assert await page.locator(".top .who").inner_text() == f"Signed in: {FIRM} (auditor, editor)"
    await sign_out(page, portal_hub)
    await page.get_by_role("button", name="Sign in with Cluster IdP (test)").wait_for()
    assert await page.locator(".top .who").count() == 0
    await page.reload()  # the provider's session ended too: nobody is signed in again silently
    await page.get_by_role("button", name="Sign in with Cluster IdP (test)").wait_for()
    assert await page.locator(".top .who").count() == 0
    watch.assert_clean()


@pytest.mark.usefixtures("members")
async def test_the_language_toggle_shows_korean_and_is_remembered(new_page: NewPage, portal_hub: str) -> None:
    page, watch = await new_page()
    await page.goto(portal_hub + "/")
    await page.get_by_role("button", name="Switch to Korean").click()
    await page.get_by_role("heading", name="회원 포털").wait_for()
    assert await page.evaluate("() => document.documentElement.lang") == "ko"
    await page.reload()
    await page.get_by_role("heading", name="회원 포털").wait_for()
    assert "Cluster IdP (test)(으)로 로그인" in await page.locator(".sign-in").inner_text()
    await assert_accessible(page)
    await screenshot(page, "portal-home-ko")
    await page.get_by_role("button", name="영어로 전환").click()
    await page.get_by_role("heading", name="Member portal").wait_for()
    watch.assert_clean()


async def test_an_unknown_portal_path_says_so(new_page: NewPage, portal_hub: str) -> None:
    page, watch = await new_page()
    response = await page.goto(portal_hub + "/no/such/page")
    assert response is not None
    assert response.status == 200
    await page.get_by_role("heading", name="There is no page at /no/such/page.").wait_for()
    watch.assert_clean()
