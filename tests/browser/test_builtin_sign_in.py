"""Signing in to the portal with the hub's own accounts, in Chromium: the portal's choice, the issuer's real form
(Korean or English), back to the portal signed in, tokens in memory only, and sign-out revoking the sign-in."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page

from auth.people import PasswordHashing
from graph_schema.db import Graph
from hub.app import create_app
from hub.portal import origin_of
from hub.server import serve_in_thread
from hub.settings import Settings
from hub.sql_store import create_sql_engine
from seed.accounts import DEMO_ACCOUNTS, seed_accounts
from tests.browser.harness import TIMEOUT_MS, PageWatch, assert_accessible, screenshot
from tests.e2e.hub_settings import hub_settings
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

ADMIN = DEMO_ACCOUNTS[0]  # the anchor's admin
NewPage = Callable[..., Awaitable[tuple[Page, PageWatch]]]


@pytest.fixture(scope="module")
def builtin_hub(
    neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory, portal_dist: Path
) -> Iterator[tuple[Settings, str]]:
    """A hub serving the portal with the built-in issuer only (no firm IdP), its demo accounts made."""
    settings = hub_settings(
        neo4j_server,
        tmp_path_factory.mktemp("builtin-hub"),
        password_hash_time_cost=1,
        password_hash_memory_kib=8192,
    )
    with serve_in_thread(create_app(settings), port=settings.port) as base_url:
        yield settings, base_url


@pytest.fixture
async def demo_people(graph: Graph, builtin_hub: tuple[Settings, str]) -> None:
    settings, _ = builtin_hub
    await register_firms(graph, sorted({demo.firm_id for demo in DEMO_ACCOUNTS}))
    engine = create_sql_engine(settings.database_url)
    try:
        await seed_accounts(engine, hashing=PasswordHashing(time_cost=1, memory_kib=8192))
    finally:
        engine.dispose()


@pytest.fixture
def page_of(browser: Browser, contexts: list[BrowserContext], builtin_hub: tuple[Settings, str]) -> NewPage:
    _, base_url = builtin_hub

    async def make(locale: str = "en-GB") -> tuple[Page, PageWatch]:
        context = await browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        watch = PageWatch(allowed_origins={origin_of(base_url)})
        watch.attach(page)
        return page, watch

    return make


async def open_the_form(page: Page, base_url: str, button: str) -> None:
    await page.goto(base_url + "/")
    await page.get_by_role("button", name=button).click()
    await page.wait_for_url(f"{base_url}/oauth/authorize?**")


def refresh_tokens(settings: Settings) -> list[tuple[str | None, str | None]]:
    with sqlite3.connect(settings.database_url.removeprefix("sqlite:///")) as db:
        return list(db.execute("SELECT used_at, revoked_at FROM refresh_token"))


@pytest.mark.usefixtures("demo_people")
async def test_a_demo_person_signs_in_through_the_real_form_and_out_again(
    page_of: NewPage, builtin_hub: tuple[Settings, str]
) -> None:
    settings, base_url = builtin_hub
    page, watch = await page_of()
    await open_the_form(page, base_url, "Sign in with the hub's own accounts")
    await page.get_by_role("heading", name="Sign in to the food cluster data hub").wait_for()
    await assert_accessible(page)  # the issuer's own form
    await page.get_by_label("Username").fill(ADMIN.username)
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_role("alert").filter(has_text="Wrong username or password.").wait_for()
    await page.get_by_label("Password").fill(ADMIN.password)  # the username was kept
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(base_url + "/")
    who = page.locator(".top .who")
    await who.wait_for()
    assert await who.inner_text() == f"Signed in: {ADMIN.firm_id} ({ADMIN.role.value})"
    stored = await page.evaluate("() => JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])")
    assert "eyJ" not in stored, f"a token was stored: {stored}"
    await screenshot(page, "portal-builtin-signed-in")
    assert [revoked for _, revoked in refresh_tokens(settings)] == [None]

    await page.get_by_role("button", name="Sign out").click()
    await page.get_by_role("button", name="Sign in with the hub's own accounts").wait_for()
    assert await who.count() == 0
    # the sign-in's refresh token was revoked at the issuer (the page does not merely forget it)
    assert all(revoked is not None for _, revoked in refresh_tokens(settings))
    watch.assert_clean()


@pytest.mark.usefixtures("demo_people")
async def test_the_form_speaks_korean_to_a_korean_browser(page_of: NewPage, builtin_hub: tuple[Settings, str]) -> None:
    _, base_url = builtin_hub
    page, watch = await page_of(locale="ko-KR")
    await open_the_form(page, base_url, "허브 자체 계정(으)로 로그인")
    await page.get_by_role("heading", name="푸드 클러스터 데이터 허브 로그인").wait_for()
    await page.get_by_label("아이디").fill(ADMIN.username)
    await page.get_by_label("비밀번호").fill(ADMIN.password)
    await assert_accessible(page)
    await screenshot(page, "portal-builtin-form-ko")
    await page.get_by_role("button", name="로그인").click()
    await page.wait_for_url(base_url + "/")
    assert await page.locator(".top .who").inner_text() == f"로그인됨: {ADMIN.firm_id} ({ADMIN.role.value})"
    watch.assert_clean()
