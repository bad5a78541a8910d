"""The member portal in headless Chromium: a 2,000-lot trace drawn, the first load of ``/``, the bundle's size.

A firm of its own (written through the project's write functions, removed at the end) commissions one raw lot,
soaks it into one batch lot and makes ``--transformations`` x ``--outputs`` lots of
that, shipping one in ``--ship-every`` to its warehouse.
A person of that firm (an account of the hub's built-in issuer, made for the run) signs in through the real
form of the portal served by the hub in a thread; then, for ``--runs`` rounds after a warm-up:
- drawn: from the in-app navigation to the raw lot's page (a link followed, as from the lot search) until the
  Cytoscape picture has every lot laid out and has answered a real mouse click (tap) and a wheel turn (zoom);
- baseline: the same GraphQL request the page sent (its query, variables and bearer token) over HTTP alone,
  so the ratio says how much fetching it in the page, drawing and laying it out add;
- first load: ``/`` in a fresh browser context (no cache), navigation start to DOMContentLoaded and to load.
Also the gzip size (level 9) of every file of portal/dist, with the total of what the entry page and GraphiQL's
page load before any lazy chunk. ``--screenshot PATH`` also draws a trace of a few dozen lots (some of another
firm, hence redacted) and saves its page as a PNG (the README's picture).
Writes bench/results/portal_trace.json. Needs a running Neo4j (`hub neo4j start`) and `make portal`.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx
from playwright.async_api import Page, Request, ViewportSize, async_playwright

from auth.audit import create_tables
from auth.people import AccountError, PasswordHashing, create_account
from bench.common import free_port, median_ms, open_driver, p90_ms, remove_firm, serve, write_result
from graph_schema import lots as lot_writes
from graph_schema import parties
from graph_schema.constraints import apply_schema
from graph_schema.db import Graph
from graph_schema.identifiers import gs1_check_digit, lgtin_for
from graph_schema.records import (
    FirmRecord,
    LotQuantity,
    LotRecord,
    ProductRecord,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
)
from hub.settings import Settings
from hub.sql_store import create_sql_engine
from tests.browser.harness import CHROMIUM_ARGS, PORTAL, TIMEOUT_MS, launch

FIRM: Final = "bench-portal-trace"
PARTNER: Final = "bench-portal-partner"  # a firm the bench firm ships to: its own lots are redacted to the viewer
PREFIX: Final = "9950002"  # a company prefix no seed hands out (the seeds use 880xxxx)
BATCH: Final = 2000
PASSWORD: Final = "portal trace bench quietly measures cytoscape drawing"  # noqa: S105 (a bench account of its own)
VIEWPORT: Final[ViewportSize] = {"width": 1280, "height": 900}


def _gln(n: int) -> str:
    body = f"{PREFIX}{n:05d}"
    return body + str(gs1_check_digit(body))


def _gtin(n: int) -> str:
    body = f"0{PREFIX}{n:05d}"
    return body + str(gs1_check_digit(body))


PLANT, WAREHOUSE, PARTNER_PLANT = _gln(1), _gln(2), _gln(3)
RAW_GTIN, MADE_GTIN = _gtin(1), _gtin(2)


async def write_parties(graph: Graph) -> None:
    await parties.upsert_firms(
        graph,
        [
            FirmRecord(id=FIRM, name="Portal bench tofu plant", roles=["PLANT"]),
            FirmRecord(id=PARTNER, name="Portal bench partner", roles=["DISTRIBUTOR"]),
        ],
    )
    await parties.upsert_sites(
        graph,
        [
            SiteRecord(gln=PLANT, firm_id=FIRM, name="Bench plant", kind="PLANT"),
            SiteRecord(gln=WAREHOUSE, firm_id=FIRM, name="Bench warehouse", kind="WAREHOUSE"),
            SiteRecord(gln=PARTNER_PLANT, firm_id=PARTNER, name="Partner kitchen", kind="PLANT"),
        ],
    )
    await parties.upsert_products(
        graph,
        [
            ProductRecord(gtin=RAW_GTIN, owner_firm_id=FIRM, name="Soybeans", category="bench", uom="kg"),
            ProductRecord(gtin=MADE_GTIN, owner_firm_id=FIRM, name="Tofu", category="bench", uom="kg"),
        ],
    )


async def build_chain(
    graph: Graph, *, tag: str, transformations: int, outputs: int, ship_every: int, partner_steps: int = 0
) -> str:
    """The raw lot, the lots made from it, shipments to the warehouse (and, when ``partner_steps``, lots of the
    partner made from lots shipped to it); returns the raw lot's id."""
    start = datetime(2026, 11, 2, 8, tzinfo=UTC)
    raw, batch = lgtin_for(RAW_GTIN, f"{tag}R"), lgtin_for(RAW_GTIN, f"{tag}B")
    made = [[lgtin_for(MADE_GTIN, f"{tag}T{t}L{o}") for o in range(outputs)] for t in range(transformations)]
    records = [
        LotRecord(id=lot, owner_firm_id=FIRM, site_gln=PLANT, quantity=1000.0, uom="kg", produced_at=start)
        for lot in (raw, batch)
    ]
    records += [
        LotRecord(id=lot, owner_firm_id=FIRM, site_gln=PLANT, quantity=2.5, uom="kg", produced_at=start)
        for batch in made
        for lot in batch
    ]
    for part in range(0, len(records), BATCH):
        await lot_writes.record_lots(graph, records[part : part + BATCH])
    # raw -> one soaked batch -> the made lots (the made lots' links are then among the trace's, not from its origin)
    steps = [
        TransformationRecord(
            id=f"{FIRM}-{tag}-soak",
            firm_id=FIRM,
            site_gln=PLANT,
            occurred_at=start,
            inputs=[LotQuantity(lot_id=raw, quantity=1000.0, uom="kg")],
            outputs=[LotQuantity(lot_id=batch, quantity=1000.0, uom="kg")],
        )
    ]
    steps += [
        TransformationRecord(
            id=f"{FIRM}-{tag}-t{t}",
            firm_id=FIRM,
            site_gln=PLANT,
            occurred_at=start + timedelta(hours=1),
            inputs=[LotQuantity(lot_id=batch, quantity=10.0, uom="kg")],
            outputs=[LotQuantity(lot_id=lot, quantity=2.5, uom="kg") for lot in made[t]],
        )
        for t in range(transformations)
    ]
    await lot_writes.record_transformations(graph, steps)
    shipments = [
        ShipmentRecord(
            id=f"{FIRM}-{tag}-s{t}",
            from_gln=PLANT,
            to_gln=WAREHOUSE,
            shipped_at=start + timedelta(hours=3),
            received_at=start + timedelta(hours=5),
            items=[LotQuantity(lot_id=lot, quantity=2.5, uom="kg") for lot in made[t][::ship_every]],
        )
        for t in range(transformations)
    ]
    await lot_writes.record_shipments(graph, shipments, shipper_firm_id=FIRM)
    for p in range(partner_steps):  # a lot shipped to the partner, made there into a lot of the partner's own
        shipped, theirs = made[p % transformations][-1 - p // transformations], lgtin_for(MADE_GTIN, f"{tag}P{p}")
        at = start + timedelta(hours=6 + p)
        await lot_writes.record_shipments(
            graph,
            [
                ShipmentRecord(
                    id=f"{FIRM}-{tag}-p{p}",
                    from_gln=PLANT,
                    to_gln=PARTNER_PLANT,
                    shipped_at=at,
                    received_at=at + timedelta(hours=1),
                    items=[LotQuantity(lot_id=shipped, quantity=2.5, uom="kg")],
                )
            ],
            shipper_firm_id=FIRM,
        )
        await lot_writes.record_lots(
            graph,
            [
                LotRecord(
                    id=theirs,
                    owner_firm_id=PARTNER,
                    site_gln=PARTNER_PLANT,
                    quantity=2.0,
                    uom="kg",
                    produced_at=at + timedelta(hours=2),
                )
            ],
        )
        await lot_writes.record_transformations(
            graph,
            [
                TransformationRecord(
                    id=f"{PARTNER}-{tag}-t{p}",
                    firm_id=PARTNER,
                    site_gln=PARTNER_PLANT,
                    occurred_at=at + timedelta(hours=2),
                    inputs=[LotQuantity(lot_id=shipped, quantity=2.5, uom="kg")],
                    outputs=[LotQuantity(lot_id=theirs, quantity=2.0, uom="kg")],
                )
            ],
        )
    return raw


async def clean_up(graph: Graph) -> None:
    await remove_firm(graph, PARTNER)
    await remove_firm(graph, FIRM)


async def sign_in(page: Page, base_url: str, username: str) -> None:
    """The person signs in through the portal's choice and the built-in issuer's real form."""
    await page.goto(base_url + "/")
    await page.get_by_role("button", name="Sign in with the hub's own accounts").click()
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(base_url + "/")
    await page.locator(".top .who").wait_for()


async def follow_link(page: Page, path: str) -> None:
    """An in-app link followed, as a person clicks a lot in the search results (the router handles it)."""
    await page.evaluate(
        "(path) => { const a = document.createElement('a'); a.href = path; a.setAttribute('data-route', '');"
        " document.body.append(a); a.click(); a.remove(); }",
        path,
    )


# resolves once every lot node has a finite position and the picture has answered a click and a wheel turn
LAID_OUT_AND_ANSWERING: Final = """async () => {
  const cy = document.querySelector('.trace-graph')._cyreg.cy;
  const lots = cy.nodes('.lot');
  const placed = lots.filter(n => Number.isFinite(n.position('x')) && Number.isFinite(n.position('y'))).length;
  window.__tapped = new Promise(resolve => cy.one('tap', () => resolve(performance.now())));
  window.__zoomed = new Promise(resolve => cy.one('zoom', () => resolve(performance.now())));
  return {lots: lots.length, placed, edges: cy.edges().length};
}"""


async def draw_once(page: Page, base_url: str, path: str) -> tuple[float, dict[str, Any]]:
    """Seconds from following the link to the picture laid out and answering a tap and a zoom."""
    await follow_link(page, "/")
    await page.locator(".top .who").wait_for()
    started = time.perf_counter()
    await follow_link(page, path)
    graph = page.locator(".trace-graph[data-ready='true']")
    await graph.wait_for(timeout=TIMEOUT_MS * 4)
    drawn: dict[str, Any] = await page.evaluate(LAID_OUT_AND_ANSWERING)
    box = await graph.bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + 3, box["y"] + 3)  # a corner: the background, not a lot (which would open it)
    await page.evaluate("() => window.__tapped")
    await page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    await page.mouse.wheel(0, -240)
    await page.evaluate("() => window.__zoomed")
    elapsed = time.perf_counter() - started
    drawn["page_drawn_ms"] = int(await graph.get_attribute("data-drawn-ms") or 0)
    return elapsed, drawn


async def first_load(browser: Any, base_url: str) -> dict[str, float]:
    """``/`` in a fresh context (an empty cache): navigation start to DOMContentLoaded and to load, in ms."""
    context = await browser.new_context(viewport=VIEWPORT, locale="en-GB")
    try:
        page = await context.new_page()
        await page.goto(base_url + "/", wait_until="load")
        timing: dict[str, float] = await page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return {dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd, bytes: n.transferSize}; }"
        )
        return timing
    finally:
        await context.close()


def bundle_sizes(dist: Path) -> dict[str, Any]:
    """Every file of portal/dist gzipped (level 9), and what each HTML page loads before any lazy chunk."""
    files = {
        "/" + str(path.relative_to(dist)): (path.stat().st_size, len(gzip.compress(path.read_bytes(), 9)))
        for path in sorted(dist.rglob("*"))
        if path.is_file()
    }

    def page_total(html: str) -> dict[str, Any]:
        text = (dist / html).read_text()
        loaded = ["/" + html, *sorted(set(re.findall(r'(?:src|href)="(/[^"?#]+)"', text)) & set(files))]
        return {
            "files": loaded,
            "bytes": sum(files[f][0] for f in loaded),
            "gzip_bytes": sum(files[f][1] for f in loaded),
        }

    return {
        "entry_page": page_total("index.html"),
        "graphiql_page": page_total("graphiql.html"),
        "all_files_gzip_bytes": sum(g for _, g in files.values()),
        "files": {name: {"bytes": raw, "gzip_bytes": gz} for name, (raw, gz) in files.items()},
    }


async def measure(settings: Settings, base_url: str, *, raw_lot: str, runs: int, warm_up: int) -> dict[str, Any]:
    path = f"/lots/{quote(raw_lot, safe='')}"
    drawn_times: list[float] = []
    request_times: list[float] = []
    loads: list[dict[str, float]] = []
    shape: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="portal-bench-chromium-") as home:
        async with async_playwright() as playwright:
            browser = await launch(playwright, Path(home))
            try:
                context = await browser.new_context(viewport=VIEWPORT, locale="en-GB")
                context.set_default_timeout(TIMEOUT_MS)
                page = await context.new_page()
                await sign_in(page, base_url, f"{FIRM}-viewer")
                sent: list[Request] = []
                page.on("request", lambda r: sent.append(r) if "PortalTrace" in (r.post_data or "") else None)
                async with httpx.AsyncClient(timeout=120) as client:
                    for round_ in range(warm_up + runs):
                        elapsed, shape = await draw_once(page, base_url, path)
                        request = sent[-1]
                        started = time.perf_counter()
                        answer = await client.post(
                            request.url,
                            content=request.post_data,
                            headers={
                                "Authorization": request.headers["authorization"],
                                "Content-Type": "application/json",
                            },
                        )
                        request_elapsed = time.perf_counter() - started
                        if answer.status_code != 200 or "errors" in answer.json():
                            raise RuntimeError(f"the trace request failed: {answer.text[:500]}")
                        lot_count = answer.json()["data"]["trace"]["summary"]["lotCount"]
                        if shape["lots"] != lot_count or shape["placed"] != lot_count:
                            raise RuntimeError(f"the API traced {lot_count} lots, the page drew {shape}")
                        if round_ >= warm_up:
                            drawn_times.append(elapsed)
                            request_times.append(request_elapsed)
                        print(f"round {round_}: drawn {elapsed * 1000:.0f} ms, request {request_elapsed * 1000:.0f} ms")
                        shape["response_bytes"] = len(answer.content)
                        shape["links_answered"] = len(answer.json()["data"]["trace"]["links"])
                        shape["shipments_answered"] = len(answer.json()["data"]["trace"]["shipments"])
                await context.close()
                for _ in range(warm_up + runs):
                    loads.append(await first_load(browser, base_url))
            finally:
                await browser.close()
    loads = loads[warm_up:]
    return {
        "lots_drawn": shape["lots"],
        "edges_drawn": shape["edges"],
        "links_answered": shape["links_answered"],  # transformation steps the API returned to the page
        "shipments_answered": shape["shipments_answered"],
        "trace_response_bytes": shape["response_bytes"],
        "drawn_and_interactive_median_ms": median_ms(drawn_times),
        "drawn_and_interactive_p90_ms": p90_ms(drawn_times),
        "trace_request_alone_median_ms": median_ms(request_times),
        "ratio_drawn_to_request_median": round(statistics.median(drawn_times) / statistics.median(request_times), 2),
        "first_load_dom_content_loaded_median_ms": round(statistics.median(x["dcl"] for x in loads), 1),
        "first_load_load_median_ms": round(statistics.median(x["load"] for x in loads), 1),
        "first_load_document_transfer_bytes": loads[-1]["bytes"],
    }


async def take_screenshot(base_url: str, raw_lot: str, target: Path) -> None:
    """The raw lot's page of the small chain, signed in, its picture drawn, saved as a PNG."""
    with tempfile.TemporaryDirectory(prefix="portal-bench-chromium-") as home:
        async with async_playwright() as playwright:
            browser = await launch(playwright, Path(home))
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 1000}, locale="en-GB")
                context.set_default_timeout(TIMEOUT_MS)
                page = await context.new_page()
                await sign_in(page, base_url, f"{FIRM}-viewer")
                await follow_link(page, f"/lots/{quote(raw_lot, safe='')}")
                await page.locator(".trace-graph[data-ready='true']").wait_for()
                target.parent.mkdir(parents=True, exist_ok=True)
                await page.locator(".trace-layout").screenshot(path=str(target))
            finally:
                await browser.close()


async def make_person(settings: Settings) -> None:
    engine = create_sql_engine(settings.database_url)
    try:
        create_tables(engine)  # the hub makes them at start-up; the account is made before
        try:
            await create_account(
                engine,
                username=f"{FIRM}-viewer",
                password=PASSWORD,
                firm_id=FIRM,
                roles=["viewer"],
                hashing=PasswordHashing(time_cost=1, memory_kib=8192),
            )
        except AccountError as error:  # a previous run made it
            if "already an account" not in str(error):
                raise
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transformations", type=int, default=20)
    parser.add_argument("--outputs", type=int, default=100, help="lots made by each transformation")
    parser.add_argument("--ship-every", type=int, default=10, help="one made lot in this many is shipped")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm-up", type=int, default=1)
    parser.add_argument("--screenshot", type=Path, help="also save a small trace's page as this PNG")
    args = parser.parse_args()
    dist = PORTAL / "dist"
    if not (dist / "index.html").is_file():
        raise SystemExit(f"{dist / 'index.html'} is missing: run 'make portal' first")
    settings = Settings(port=free_port())
    tag = f"PT{int(time.time()) % 100_000_000}"

    async def setup() -> tuple[str, str]:
        async with open_driver(settings) as driver:
            graph = Graph(driver, database=settings.neo4j_database)
            await apply_schema(graph)
            await clean_up(graph)  # a run stopped half-way leaves its firms behind
            await write_parties(graph)
            started = time.perf_counter()
            big = await build_chain(
                graph, tag=tag, transformations=args.transformations, outputs=args.outputs, ship_every=args.ship_every
            )
            small = await build_chain(graph, tag=tag + "S", transformations=3, outputs=6, ship_every=3, partner_steps=4)
            print(f"chains written in {time.perf_counter() - started:.1f} s")
        await make_person(settings)
        return big, small

    async def tear_down() -> None:
        async with open_driver(settings) as driver:
            await clean_up(Graph(driver, database=settings.neo4j_database))

    big_lot, small_lot = asyncio.run(setup())
    try:
        with serve(settings) as base_url:
            outcome = asyncio.run(measure(settings, base_url, raw_lot=big_lot, runs=args.runs, warm_up=args.warm_up))
            if args.screenshot is not None:
                asyncio.run(take_screenshot(base_url, small_lot, args.screenshot))
                print(f"screenshot written to {args.screenshot}")
    finally:
        asyncio.run(tear_down())
    figures: dict[str, Any] = {
        **outcome,
        "runs": args.runs,
        "targets_ms": {"drawn_and_interactive": 2000, "first_load": 1000},
        "bundle": bundle_sizes(dist),
        "chromium": "/usr/bin/chromium headless, flags of tests/browser/harness.py: " + " ".join(CHROMIUM_ARGS),
        "load_average_after": round(os.getloadavg()[0], 2),  # the 2 cores are shared with other work
    }
    path = write_result("portal_trace", figures)
    print(json.dumps({k: v for k, v in figures.items() if k != "bundle"}, indent=2))
    print(json.dumps({k: v for k, v in figures["bundle"].items() if k != "files"}, indent=2))
    print(f"written to {path}")


if __name__ == "__main__":
    main()
