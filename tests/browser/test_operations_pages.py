"""The recall desk, the uploads and the food-safety pages in Chromium, as the people who use them would.

A hub of these tests' own (its settings kept, so the tests can mint tokens for the parts a gateway or another
firm's software plays) serves the portal and trusts the test OIDC provider, through which every person signs in
with the provider's real PKCE flow. Each page is checked by axe and kept as a screenshot.
"""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import openpyxl
import pytest
from playwright.async_api import Browser, BrowserContext, Page

from auth.principal import Role
from graph_schema.db import Graph
from graph_schema.haccp import ccps
from graph_schema.identifiers import lgtin_for
from graph_schema.records import CcpRecord
from hub.app import create_app, open_issuer
from hub.portal import origin_of
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.browser.conftest import portal_issuer, sign_in
from tests.browser.harness import TIMEOUT_MS, PageWatch, assert_accessible, screenshot
from tests.e2e.hub_settings import hub_settings
from tests.e2e.oidc_idp import OidcIdP, person_login
from tests.epcis_chain import document, register_chain
from tests.factories import register_firms
from tests.integration.conftest import Chain, chain  # noqa: F401  (the fixture)

pytestmark = pytest.mark.neo4j

Person = Callable[..., Awaitable[Page]]
LIMIT_RGB = (0xB3, 0x26, 0x1E)  # ccp.ts COLOURS.limit
BAND_RGB = (107, 42, 140)  # ccp.ts COLOURS.deviation, drawn at 0.18 alpha


@pytest.fixture(scope="module")
def ops_hub(
    neo4j_server: tuple[str, str, str], oidc_idp: OidcIdP, tmp_path_factory: pytest.TempPathFactory, portal_dist: Path
) -> Iterator[tuple[Settings, str]]:
    """A hub serving the portal, trusting the test provider; its settings kept for minting tokens."""
    settings = hub_settings(
        neo4j_server,
        tmp_path_factory.mktemp("ops-hub"),
        trusted_issuers=[portal_issuer(oidc_idp)],
        notifications_poll_seconds=0.1,
    )
    with serve_in_thread(create_app(settings), port=settings.port) as base_url:
        yield settings, base_url


@pytest.fixture
def person(
    browser: Browser,
    contexts: list[BrowserContext],
    watches: list[PageWatch],
    ops_hub: tuple[Settings, str],
    oidc_idp: OidcIdP,
) -> Person:
    """``await person("farm", "editor", path="/uploads")``: a signed-in page of that person, watched for CSP
    violations and other hosts (the harness's ``contexts`` fails the test on either, and keeps screenshots)."""
    _, base_url = ops_hub

    async def make(firm_id: str, *roles: str, path: str = "/", locale: str = "en-GB") -> Page:
        context = await browser.new_context(
            locale=locale, viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = await context.new_page()
        watch = PageWatch(allowed_origins={origin_of(base_url), origin_of(oidc_idp.issuer)})
        watch.attach(page)
        watches.append(watch)
        await sign_in(page, base_url, person_login(firm_id, *roles), path)
        return page

    return make


def token(settings: Settings, firm: str, role: Role) -> str:
    return open_issuer(settings).mint(subject=f"{firm}-{role.value}", firm_id=firm, roles=[role])


# --- the recall desk ---------------------------------------------------------------------------------------------


async def test_a_declared_recall_sees_another_firms_acknowledgement_arrive_live(
    person: Person,
    ops_hub: tuple[Settings, str],
    chain: Chain,  # noqa: F811
) -> None:
    _, base_url = ops_hub
    desk = await person("plant", "recall_coordinator", path=f"/recalls?lot={chain.soy}")
    await desk.get_by_role("heading", name="Declare a recall").wait_for()
    assert await desk.get_by_label("Recalled lots").input_value() == chain.soy
    await desk.get_by_label("Reason").fill("Aflatoxin above the limit")
    # the drill first: the same lots, nothing held, each step timed
    await desk.get_by_role("button", name="Run a mock recall").click()
    timings = desk.get_by_role("table", name="How long each step took")
    await timings.wait_for()
    steps = await timings.locator("tbody tr[data-step]").evaluate_all("rows => rows.map(r => r.dataset.step)")
    assert steps == ["traceUpstream", "traceDownstream", "impactAggregation", "exportReadiness"]
    await assert_accessible(desk)
    await screenshot(desk, "recall-mock")
    await desk.get_by_role("button", name="Declare the recall").click()
    await desk.wait_for_url(f"{base_url}/recalls/recall-*")
    recall_id = desk.url.rsplit("/", 1)[1]
    await desk.locator(".live-state[data-live='true']").wait_for()  # the hub listens for this desk now
    farm_row = desk.locator("tr[data-firm='farm']")
    assert "not yet" in await farm_row.locator("td").nth(2).inner_text()

    # the farm, which owns the soybeans, reads the notice in its own browser and acknowledges
    farm = await person("farm", "editor", path=f"/recalls/{recall_id}")
    await farm.get_by_role("heading", name="Recall notice: Aflatoxin above the limit").wait_for()
    await assert_accessible(farm)
    await farm.get_by_label("Note for the coordinator (optional)").fill("Pulled from the line at 10:00")
    await farm.get_by_role("button", name="Acknowledge the recall").click()
    await farm.get_by_text("Your firm acknowledged this recall on").wait_for()
    await screenshot(farm, "recall-notice-acknowledged")

    # the desk is told, with no reload: the activity log and the consignee's row
    arrived = desk.locator("ol.activity li[data-kind='ACKNOWLEDGED']")
    await arrived.wait_for()
    assert "acknowledged by Firm farm" in await arrived.inner_text()
    await desk.locator("tr[data-firm='farm'] td", has_text="Pulled from the line at 10:00").wait_for()
    assert "not yet" not in await farm_row.locator("td").nth(2).inner_text()
    await assert_accessible(desk)
    await screenshot(desk, "recall-desk-acknowledged")

    # a firm holding nothing the recall reaches sees neither the desk nor the notice
    rival = await person("rival", "admin", path=f"/recalls/{recall_id}")
    await rival.get_by_text("No such recall, or not one you may see.").wait_for()
    assert await rival.locator("tr[data-firm]").count() == 0


# --- uploads ------------------------------------------------------------------------------------------------------


async def test_an_upload_with_errors_shows_each_problem_at_its_row_and_column(
    person: Person,
    chain: Chain,  # noqa: F811
    tmp_path: Path,
) -> None:
    plant_site, rival_site = chain.sites["plant"], chain.sites["rival"]
    header = "record,id,lot_id,role,site_gln,from_gln,to_gln,quantity,uom,produced_at,expires_at"
    made = "2026-09-01T08:00:00+09:00"
    rows = [  # row 2 is right; row 3's quantity is not a number; row 4 is made at the rival's site
        f"lot,,{lgtin_for(chain.tofu_gtin, 'GOOD-1')},,{plant_site},,,10,kg,{made},",
        f"lot,,{lgtin_for(chain.tofu_gtin, 'BAD-QTY')},,{plant_site},,,ten,kg,{made},",
        f"lot,,{lgtin_for(chain.tofu_gtin, 'BAD-SITE')},,{rival_site},,,5,kg,{made},",
    ]
    sheet = tmp_path / "september.csv"
    sheet.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    page = await person("plant", "editor", path="/uploads")
    await page.get_by_label("File", exact=True).set_input_files(str(sheet))
    await page.get_by_role("button", name="Check the file").click()
    await page.get_by_text("problems found; nothing was written").wait_for()
    quantity = page.locator("tr[data-row='3'] td[data-column='quantity']")
    assert await quantity.get_attribute("aria-invalid") == "true"
    assert await quantity.inner_text() == "ten"
    problem = page.locator(f"#{await quantity.get_attribute('aria-describedby')}")
    assert "quantity" in (await problem.inner_text()).lower()
    site = page.locator("tr[data-row='4'] td[data-column='site_gln']")
    assert await site.get_attribute("aria-invalid") == "true"
    assert await page.locator("tr[data-row='2']").count() == 0  # the good row is not listed as a problem
    assert await page.get_by_role("button", name="Import").is_disabled()  # nothing to import until it is right
    await assert_accessible(page)
    await screenshot(page, "uploads-problems-in-place")

    # the Korean template, downloaded with the person's token
    async with page.expect_download() as waiting:
        await page.locator("button[data-template='ko-xlsx']").click()
    download = await waiting.value
    assert download.suggested_filename == "import-template-ko.xlsx"
    book = openpyxl.load_workbook(io.BytesIO((await download.path()).read_bytes()))
    assert book.sheetnames == ["#작성방법", "로트", "가공", "출하"]


async def test_an_epcis_document_is_captured_and_its_job_followed_to_the_end(
    person: Person, graph: Graph, tmp_path: Path
) -> None:
    epcis = await register_chain(graph)
    events = epcis.farm_events()
    doc = tmp_path / "farm-events.jsonld"
    doc.write_text(json.dumps(document(events)), encoding="utf-8")
    page = await person("farm", "editor", path="/uploads")
    await page.get_by_label("EPCIS document (JSON-LD)").set_input_files(str(doc))
    await page.get_by_role("button", name="Send").click()
    job = page.locator("#epcis-progress-label")
    await job.filter(has_text=f"Captured: {len(events)} of {len(events)} events (0 already there).").wait_for()
    assert await page.locator("#epcis-progress").evaluate("p => p.value === p.max")
    # the same document again: every event is already there
    await page.get_by_role("button", name="Send").click()
    await job.filter(has_text=f"Captured: 0 of {len(events)} events ({len(events)} already there).").wait_for()
    await assert_accessible(page)
    await screenshot(page, "uploads-epcis-captured")


# --- food safety --------------------------------------------------------------------------------------------------


async def post_readings(settings: Settings, base_url: str, readings: list[dict[str, object]]) -> httpx.Response:
    """Readings as the plant's gateway posts them (a device token of firm plant)."""
    async with httpx.AsyncClient(timeout=60) as http:
        return await http.post(
            f"{base_url}/haccp/readings",
            json=readings,
            headers={"Authorization": f"Bearer {token(settings, 'plant', Role.DEVICE)}"},
        )


def quote(at: datetime) -> str:
    return at.isoformat().replace("+", "%2B")


async def _plant_with_a_deviation(graph: Graph, settings: Settings, base_url: str) -> tuple[str, datetime]:
    """A heating CCP (85-100 °C) at firm plant (no monitoring interval: silence is no deviation here), with seven
    minutes of readings an hour ago, one excursion of three readings among them."""
    sites = await register_firms(graph, ["plant", "rival"])
    record = CcpRecord(
        id=f"{sites['plant']}-CCP-1B", site_gln=sites["plant"], code="CCP-1B", name="Heating", hazard="Bacillus cereus",
        limit_low=85.0, limit_high=100.0, unit="°C", devices=["tt-1"],
    )  # fmt: skip
    await ccps.register_ccp(graph, record, firm_id="plant")
    start = datetime.now(UTC) - timedelta(hours=1)
    values = [92.0] * 20 + [104.5, 106.0, 103.0] + [93.0] * 20
    readings: list[dict[str, object]] = [
        {"ccpId": record.id, "deviceId": "tt-1", "at": (start + timedelta(seconds=10 * i)).isoformat(), "value": v,
         "unit": "°C"}
        for i, v in enumerate(values)
    ]  # fmt: skip
    answer = await post_readings(settings, base_url, readings)
    assert answer.json() == {"accepted": len(values), "duplicates": 0}, answer.text
    return record.id, start


# pixels of the canvas in the limits' colour (opaque), and in the deviation band's (its colour at low alpha)
CANVAS_COLOURS = """([canvas, limit, band]) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const counts = {limit: 0, band: 0};
  const near = (i, rgb) => Math.abs(data[i] - rgb[0]) <= 2 && Math.abs(data[i + 1] - rgb[1]) <= 2
    && Math.abs(data[i + 2] - rgb[2]) <= 2;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 255 && near(i, limit)) counts.limit++;
    else if (data[i + 3] > 30 && data[i + 3] < 60 && near(i, band)) counts.band++;
  }
  return counts;
}"""


async def test_a_ccp_chart_draws_its_limits_and_deviation_and_a_firm_without_the_grant_sees_no_readings(
    person: Person, graph: Graph, ops_hub: tuple[Settings, str]
) -> None:
    settings, base_url = ops_hub
    ccp_id, start = await _plant_with_a_deviation(graph, settings, base_url)
    window = f"from={quote(start - timedelta(minutes=5))}&to={quote(start + timedelta(minutes=15))}"
    page = await person("plant", "editor", path=f"/food-safety/ccp/{ccp_id}?{window}")
    await page.get_by_role("heading", name="CCP-1B Heating").wait_for()
    legend = page.locator(".legend")
    assert "Low limit 85" in await legend.inner_text()
    assert "High limit 100" in await legend.inner_text()
    assert "Deviation windows (1)" in await legend.inner_text()
    summary = await page.locator("#chart-summary").inner_text()
    assert "43 points from 92 to 106 °C" in summary
    assert "3 points outside them" in summary
    canvas = await page.locator(".ccp-chart canvas").first.element_handle()
    drawn = await page.evaluate(CANVAS_COLOURS, [canvas, LIMIT_RGB, BAND_RGB])
    assert drawn["limit"] > 200, drawn  # two dashed lines across the plot
    assert drawn["band"] > 500, drawn  # the deviation's window shaded
    deviation = page.locator("ul.deviations > li[data-status='OPEN']")
    assert "worst 106 °C" in await deviation.inner_text()
    await assert_accessible(page)
    await screenshot(page, "food-safety-ccp-chart")

    # the corrective action closes it
    await deviation.get_by_label("What was done").fill("Steamer re-heated; batch held and re-tested")
    await deviation.get_by_role("button", name="Record the corrective action").click()
    await page.locator("ul.deviations > li[data-status='CLOSED']").wait_for()
    assert "Steamer re-heated" in await page.locator("ul.deviations").inner_text()

    # the rival, without the plant's CCP grant: no CCP, no readings, no chart
    rival = await person("rival", "admin", path=f"/food-safety/ccp/{ccp_id}")
    await rival.get_by_text("No such CCP, or not one you may see.").wait_for()
    assert await rival.locator("canvas").count() == 0
    await rival.goto(f"{base_url}/food-safety")
    await rival.get_by_text("No CCP that you may see.").wait_for()
    await rival.get_by_text("No open deviation.").wait_for()
    await assert_accessible(rival)


async def test_open_deviations_arrive_live_and_the_pages_speak_korean(
    person: Person, graph: Graph, ops_hub: tuple[Settings, str]
) -> None:
    settings, base_url = ops_hub
    ccp_id, _ = await _plant_with_a_deviation(graph, settings, base_url)
    page = await person("plant", "viewer", path="/food-safety", locale="ko-KR")
    assert await page.evaluate("() => document.documentElement.lang") == "ko"  # the browser's language
    await page.get_by_role("heading", name="조치 전 이탈").wait_for()
    await page.get_by_text("1건 조치 전").wait_for()
    # a new excursion now, from the plant's gateway: it appears without a reload
    now = datetime.now(UTC) - timedelta(seconds=30)
    readings: list[dict[str, object]] = [
        {"ccpId": ccp_id, "deviceId": "tt-1", "at": (now + timedelta(seconds=i)).isoformat(), "value": v, "unit": "°C"}
        for i, v in enumerate([93.0, 80.0, 93.0])
    ]
    answer = await post_readings(settings, base_url, readings)
    assert answer.status_code == 200, answer.text
    await page.get_by_text("2건 조치 전").wait_for()
    assert await page.locator("ul.open-deviations li").count() == 2
    await page.get_by_role("columnheader", name="한계 기준").wait_for()
    await assert_accessible(page)
    await screenshot(page, "food-safety-ko")
    await page.goto(f"{base_url}/food-safety/ccp/{ccp_id}")
    legend = await page.locator(".legend").inner_text()
    assert "하한 85" in legend
    assert "상한 100" in legend
    await page.goto(f"{base_url}/uploads")
    await page.get_by_role("heading", name="스프레드시트 가져오기").wait_for()
    await assert_accessible(page)
    await screenshot(page, "uploads-ko")
    await page.goto(f"{base_url}/recalls")
    await page.get_by_role("heading", name="진행 중인 리콜").wait_for()
    await assert_accessible(page)
    await screenshot(page, "recalls-ko")
