"""The sharing settings page in Chromium: an admin previews a grant, gives it and revokes it, and another firm's
browser shows the change; a non-admin cannot grant; axe finds nothing serious; Korean labels render."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.browser.conftest import SignedIn
from tests.browser.harness import assert_accessible, screenshot
from tests.integration.conftest import Chain, chain  # noqa: F401 (the fixture: farm -> plant, and a rival)

pytestmark = pytest.mark.neo4j


async def open_sharing(page: Page) -> None:
    await page.get_by_role("link", name="Sharing").click()
    await page.get_by_role("heading", name="Sharing settings").wait_for()


async def test_a_grant_previewed_given_and_revoked_changes_what_the_other_firm_sees(
    signed_in: SignedIn,
    chain: Chain,  # noqa: F811
) -> None:
    admin = await signed_in("plant", "admin")
    rival = await signed_in("rival", "viewer")
    await open_sharing(admin)
    await open_sharing(rival)
    await rival.get_by_text("No firm shares anything with yours.").wait_for()

    await admin.get_by_label("Scope").select_option("TRACE")
    await admin.get_by_label("Level").select_option("DETAIL")
    await admin.get_by_label("Share with").select_option("firm")
    await admin.get_by_label("Firm", exact=True).select_option("rival")
    grant = admin.get_by_role("button", name="Grant")
    assert await grant.is_disabled()  # nothing is given before its preview was seen
    await admin.get_by_role("button", name="Preview what they will see").click()
    preview = admin.locator(".preview")
    await preview.get_by_role("heading", name="This grant reaches 1 firms").wait_for()
    row = preview.locator("tbody tr")
    assert await row.locator("td").all_inner_texts() == ["Firm rival", "0", "1", "0", "1", "TOFU-0902"]
    await assert_accessible(admin)
    await screenshot(admin, "sharing-preview")
    await grant.click()
    given = admin.locator("section[aria-labelledby=given] tbody tr")
    await given.first.wait_for()
    assert (await given.locator("td").all_inner_texts())[:3] == ["Trace", "Detail", "Firm rival"]

    await rival.reload()
    received = rival.locator("section[aria-labelledby=received] tbody tr")
    await received.first.wait_for()
    assert (await received.locator("td").all_inner_texts())[:3] == ["Firm plant", "Trace", "Detail"]

    await admin.get_by_role("button", name="Revoke").click()
    await admin.get_by_text("Your firm shares nothing yet.").wait_for()
    await rival.reload()
    await rival.get_by_text("No firm shares anything with yours.").wait_for()


async def test_a_non_admin_sees_the_grants_but_cannot_change_them(
    signed_in: SignedIn,
    chain: Chain,  # noqa: F811
) -> None:
    editor = await signed_in("plant", "editor")
    await open_sharing(editor)
    await editor.get_by_text("Only your firm's admin can change what it shares.").wait_for()
    assert await editor.get_by_role("button", name="Grant").count() == 0
    assert await editor.get_by_role("button", name="Preview what they will see").count() == 0
    await assert_accessible(editor)


async def test_the_sharing_page_in_korean(
    signed_in: SignedIn,
    chain: Chain,  # noqa: F811
) -> None:
    page = await signed_in("plant", "admin", locale="ko-KR")
    await page.get_by_role("link", name="공유 설정").click()
    await page.get_by_role("heading", name="공유 설정", exact=True).wait_for()
    for label in ("우리 회사가 공유하는 정보", "우리 회사에 공유된 정보", "우리 데이터를 읽은 회사"):
        await page.get_by_role("heading", name=label).wait_for()
    await page.get_by_label("범위").wait_for()
    await assert_accessible(page)
    await screenshot(page, "sharing-ko")
