"""The hub against its peer, the Neo4j GraphQL Library, on the same Neo4j database, under the same load.

Both servers run as separate processes over one Neo4j server of the benchmark's own (its own home, port and
store, seeded with the same generator and seed as `hub seed`, APOC in its plugins folder only): the hub as
`hub serve` runs it for `make run` (uvicorn, one worker), the peer as the Node.js project in bench/peer/
(`@neo4j/graphql` on Apollo Server, one process). wrk, written in neither server's language, posts the same
GraphQL questions to both with the same concurrency: a partner app's list page (20 lots of one of its sites,
with product, site and owner firm, by cursor), a lot detail page (inputs and shipments, two levels deep), a
filtered and sorted list with its count, a count with a nested aggregate (the firms of a role, each with its lots'
count and quantity), and the trace downstream and upstream (the peer's as `@cypher` fields running the hub's trace
Cypher). Runs
alternate between the servers; the figures are requests per second and p50/p99 latency, as ratios hub/peer.

Before any load, both servers are asked a few of the sampled questions and must give the same answers (no
errors, the same lots, quantities, shipments and times), so a server returning errors is never measured.
The hub always enforces permissions and the peer has none: the hub's principals see everything they ask for
(the site's own firm for the list page; for the rest the agency, to which the benchmark's database has every
member grant TRACE at DETAIL), and it still pays for the decision and the visibility predicates.

Writes bench/results/peer_comparison.{json,md,png}. `make bench` runs it on the large seed; develop with
`python -m bench.peer_comparison --scale demo --duration 5 --rounds 1`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx

from auth.principal import Role
from bench.common import RESULTS, Server, free_port, open_driver, running, write_result
from bench.peer_tools import PEER_DIR, ROOT, Wrk, bench_neo4j, fetch_apoc, fetch_wrk, npm_ci
from graph_schema.db import Graph
from graph_schema.grants import create_grant, grants_received
from hub.app import open_issuer
from hub.neo4j_local import NEO4J_VERSION
from hub.settings import Settings
from resolvers.types.connection import encode_cursor

LUA: Final = Path(__file__).resolve().parent / "wrk_graphql.lua"

# --- the questions, as each server's schema asks them ---------------------------------------------------------

HUB_LIST: Final = """query ListPage($site: String!, $after: String) {
  lots(siteGln: $site, first: 20, after: $after) {
    edges { cursor node { id lotNumber quantity uom status producedAt
      product { gtin name } site { gln name } owner { id name } } }
    pageInfo { hasNextPage endCursor } } }"""
PEER_LIST: Final = """query ListPage($site: String!, $after: String) {
  lotsConnection(where: {siteGln: {eq: $site}}, sort: [{id: ASC}], first: 20, after: $after) {
    edges { cursor node { id lotNumber quantity uom status producedAt
      product { gtin name } site { gln name } owner { id name } } }
    pageInfo { hasNextPage endCursor } } }"""

HUB_DETAIL: Final = """query LotDetail($id: ID!) { lot(id: $id) {
  id lotNumber quantity uom status producedAt expiresAt
  product { gtin name category } site { gln name kind } owner { id name }
  inputs { quantity uom lot { id lotNumber quantity uom status product { gtin name } owner { id name }
    shipments { id quantity uom shippedAt receivedAt } } }
  shipments { id quantity uom shippedAt receivedAt docType docNumber toSite { gln name } } } }"""
PEER_DETAIL: Final = """query LotDetail($id: ID!) { lots(where: {id: {eq: $id}}) {
  id lotNumber quantity uom status producedAt expiresAt
  product { gtin name category } site { gln name kind } owner { id name }
  producedBy { inputsConnection { edges { properties { quantity uom } node {
    id lotNumber quantity uom status product { gtin name } owner { id name }
    shipmentsConnection { edges { properties { quantity uom } node { id shippedAt receivedAt } } } } } } }
  shipmentsConnection { edges { properties { quantity uom } node {
    id shippedAt receivedAt docType docNumber toSite { gln name } } } } } }"""

HUB_TRACE: Final = """query Trace($id: ID!, $dir: TraceDirection!) { trace(lotId: $id, direction: $dir) {
  lots { depth redacted ownerRole lot { id lotNumber quantity uom status } }
  shipments { id lotId redacted quantity uom shippedAt receivedAt } } }"""
PEER_TRACE: Final = """query Trace($id: ID!) { FIELD(lotId: $id) {
  depth ownerRole id lotNumber quantity uom status
  shipments { id lotId quantity uom shippedAt receivedAt } } }"""

# A list users of the Library write every day: filtered by two properties, sorted by a time, with its count.
HUB_FILTERED: Final = """query Filtered($gtin: String!) {
  lots(productGtin: $gtin, status: ACTIVE, sort: PRODUCED_AT_DESC, first: 20) {
    totalCount edges { node { id lotNumber quantity uom producedAt site { gln name } } } } }"""
PEER_FILTERED: Final = """query Filtered($gtin: String!) {
  lotsConnection(where: {productGtin: {eq: $gtin}, status: {eq: "ACTIVE"}}, sort: [{producedAt: DESC}, {id: DESC}],
    first: 20) {
    totalCount edges { node { id lotNumber quantity uom producedAt site { gln name } } } } }"""

# A count with a nested aggregate: the firms of a role, how many, and per firm how many lots and how much of them.
# The hub asks each firm for its lots (those the principal may see) with their count and quantities per product and
# unit; the Library, whose firms reach their lots through the sites that made them (a lot's owner is its site's
# firm: the answers are compared), asks each site's lots for their aggregate, its everyday `lotsConnection {
# aggregate }`.
HUB_COUNTS: Final = """query Counts($role: FirmRole!) {
  firms(role: $role, first: 20) {
    totalCount edges { node { id name lots { totalCount quantities { productGtin uom quantity lotCount } } } } } }"""
PEER_COUNTS: Final = """query Counts($role: String!) {
  firmsConnection(where: {roles: {includes: $role}}, sort: [{id: ASC}], first: 20) {
    totalCount edges { node { id name sites { lotsConnection { aggregate {
      count { nodes } node { quantity { sum } } } } } } } } }"""

# --- sampling, on the benchmark's database --------------------------------------------------------------------

# Ids only, collected into one list each: the large seed's million lots as records would hold gigabytes.
LOT_IDS: Final = """
MATCH (l:Lot) WHERE $kind = 'any'
   OR ($kind = 'made' AND EXISTS { (l)<-[:PRODUCED]-(:Transformation) })
   OR ($kind = 'consumed' AND EXISTS { (l)-[:CONSUMED_BY]->(:Transformation) })
WITH l.id AS id ORDER BY id
RETURN collect(id) AS ids
"""
# The page of a lot's site that starts at the lot: how many of the site's lots sort before it, and the last one.
PAGE_START: Final = """
MATCH (o:Lot {id: $id})
OPTIONAL MATCH (l:Lot {siteGln: o.siteGln}) WHERE l.id < o.id
RETURN o.siteGln AS site, o.ownerFirmId AS owner, count(l) AS position, max(l.id) AS previous
"""
# Products with active lots, and how many: a filtered list of each.
ACTIVE_PRODUCTS: Final = """
MATCH (l:Lot {status: 'ACTIVE'}) WITH l.productGtin AS gtin, count(*) AS lots WHERE lots >= 2
RETURN collect(gtin) AS gtins
"""
AGENCY: Final = "MATCH (f:Firm) WHERE 'AGENCY' IN f.roles RETURN f.id AS id ORDER BY id LIMIT 1"
ROLES: Final = "MATCH (f:Firm) UNWIND f.roles AS role RETURN DISTINCT role ORDER BY role"
FIRMS: Final = "MATCH (f:Firm) RETURN f.id AS id ORDER BY id"


@dataclass(frozen=True)
class Ask:
    """One question as both servers take it: the hub's body and token, the peer's body."""

    hub_body: dict[str, Any]
    hub_token: str
    peer_body: dict[str, Any]


@dataclass(frozen=True)
class Query:
    """A question of the benchmark: how its answers are compared, and the sampled instances of it."""

    name: str
    description: str
    asks: list[Ask]
    hub_answer: Callable[[dict[str, Any]], Any]
    peer_answer: Callable[[dict[str, Any]], Any]


def compact(query: str) -> str:
    """The query text on one line: both servers get the same bytes they would from a minifying client."""
    return re.sub(r"\s+", " ", query).strip()


def peer_cursor(position: int) -> str:
    """The Library's connection cursor of the row at ``position`` (it pages by offset: graphql-relay's)."""
    return base64.b64encode(f"arrayconnection:{position}".encode()).decode()


# --- answers, canonical so the hub's and the peer's can be compared -------------------------------------------


def instant(value: str | None) -> str | None:
    """An ISO time as the UTC instant it names, to the millisecond: the hub keeps the stored offset and
    microseconds, the Library answers in UTC through a JavaScript Date, which holds milliseconds."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000).isoformat()


def _one(value: Any) -> Any:
    # The Library models a to-one relationship as a list of at most one.
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _named(value: Any, *keys: str) -> tuple[Any, ...] | None:
    value = _one(value)
    return None if value is None else tuple(value[key] for key in keys)


def _lot_row(node: dict[str, Any]) -> tuple[Any, ...]:
    return (
        node["id"],
        node["lotNumber"],
        node["quantity"],
        node["uom"],
        node["status"],
        instant(node.get("producedAt")),
        _named(node.get("product"), "gtin", "name"),
        _named(node.get("site"), "gln", "name"),
        _named(node.get("owner"), "id", "name"),
    )


def _filtered(page: dict[str, Any]) -> Any:
    rows = [
        (n["id"], n["lotNumber"], n["quantity"], n["uom"], instant(n["producedAt"]), _named(n["site"], "gln", "name"))
        for n in (edge["node"] for edge in page["edges"])
    ]
    return page["totalCount"], rows


def hub_filtered_answer(data: dict[str, Any]) -> Any:
    return _filtered(data["lots"])


def peer_filtered_answer(data: dict[str, Any]) -> Any:
    return _filtered(data["lotsConnection"])


def _total(value: float) -> float:
    # sums of the same quantities added in another order (per firm, per site) may differ in the last bits
    return round(value, 3)


def hub_counts_answer(data: dict[str, Any]) -> Any:
    page = data["firms"]
    firms = [
        (
            node["id"],
            node["name"],
            node["lots"]["totalCount"],
            _total(sum(q["quantity"] for q in node["lots"]["quantities"])),
        )
        for node in (edge["node"] for edge in page["edges"])
    ]
    return page["totalCount"], firms


def peer_counts_answer(data: dict[str, Any]) -> Any:
    page = data["firmsConnection"]
    firms = []
    for node in (edge["node"] for edge in page["edges"]):
        aggregates = [site["lotsConnection"]["aggregate"] for site in node["sites"]]
        count = sum(a["count"]["nodes"] for a in aggregates)
        total = sum(a["node"]["quantity"]["sum"] or 0.0 for a in aggregates)
        firms.append((node["id"], node["name"], count, _total(total)))
    return page["totalCount"], firms


def hub_list_answer(data: dict[str, Any]) -> Any:
    page = data["lots"]
    return [_lot_row(edge["node"]) for edge in page["edges"]], page["pageInfo"]["hasNextPage"]


def peer_list_answer(data: dict[str, Any]) -> Any:
    page = data["lotsConnection"]
    return [_lot_row(edge["node"]) for edge in page["edges"]], page["pageInfo"]["hasNextPage"]


def _shipment(node: dict[str, Any], quantity: Any, uom: Any, *extra: str) -> tuple[Any, ...]:
    rest = tuple(_named(node[key], "gln", "name") if key == "toSite" else node[key] for key in extra)
    return (node["id"], quantity, uom, instant(node["shippedAt"]), instant(node["receivedAt"]), *rest)


def _detail_head(lot: dict[str, Any]) -> tuple[Any, ...]:
    return (
        *_lot_row(lot)[:6],
        instant(lot["expiresAt"]),
        _named(lot["product"], "gtin", "name", "category"),
        _named(lot["site"], "gln", "name", "kind"),
        _named(lot["owner"], "id", "name"),
    )


def _input_lot(lot: dict[str, Any], shipments: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    head = (lot["id"], lot["lotNumber"], lot["quantity"], lot["uom"], lot["status"])
    return (*head, _named(lot["product"], "gtin", "name"), _named(lot["owner"], "id", "name"), sorted(shipments))


def hub_detail_answer(data: dict[str, Any]) -> Any:
    lot = data["lot"]
    if lot is None:
        return None
    inputs = sorted(
        (
            link["quantity"],
            link["uom"],
            _input_lot(link["lot"], [_shipment(s, s["quantity"], s["uom"]) for s in link["lot"]["shipments"]]),
        )
        for link in lot["inputs"]
    )
    extra = ("docType", "docNumber", "toSite")
    shipments = sorted(_shipment(s, s["quantity"], s["uom"], *extra) for s in lot["shipments"])
    return _detail_head(lot), inputs, shipments


def peer_detail_answer(data: dict[str, Any]) -> Any:
    if not data["lots"]:
        return None
    [lot] = data["lots"]
    inputs = []
    for made in lot["producedBy"]:
        for edge in made["inputsConnection"]["edges"]:
            node, props = edge["node"], edge["properties"]
            carried = [
                _shipment(e["node"], e["properties"]["quantity"], e["properties"]["uom"])
                for e in node["shipmentsConnection"]["edges"]
            ]
            inputs.append((props["quantity"], props["uom"], _input_lot(node, carried)))
    extra = ("docType", "docNumber", "toSite")
    shipments = [
        _shipment(e["node"], e["properties"]["quantity"], e["properties"]["uom"], *extra)
        for e in lot["shipmentsConnection"]["edges"]
    ]
    return _detail_head(lot), sorted(inputs), sorted(shipments)


def _traced(depth: int, role: str | None, lot: dict[str, Any]) -> tuple[Any, ...]:
    return (depth, lot["id"], role, lot["lotNumber"], lot["quantity"], lot["uom"], lot["status"])


def _traced_shipment(s: dict[str, Any]) -> tuple[Any, ...]:
    return (s["id"], s["lotId"], s["quantity"], s["uom"], instant(s["shippedAt"]), instant(s["receivedAt"]))


def hub_trace_answer(data: dict[str, Any]) -> Any:
    trace = data["trace"]
    if any(lot["redacted"] for lot in trace["lots"]) or any(s["redacted"] for s in trace["shipments"]):
        return "the hub redacted part of the trace: the principal does not see everything"
    lots = sorted(_traced(lot["depth"], lot["ownerRole"], lot["lot"]) for lot in trace["lots"])
    return lots, sorted(_traced_shipment(s) for s in trace["shipments"])


def peer_trace_answer(field: str) -> Callable[[dict[str, Any]], Any]:
    def answer(data: dict[str, Any]) -> Any:
        steps = data[field]
        lots = sorted(_traced(step["depth"], step["ownerRole"], step) for step in steps)
        return lots, sorted(_traced_shipment(s) for step in steps for s in step["shipments"])

    return answer


# --- the questions' instances ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """The sampled lots and the principals that ask about them."""

    lists: list[tuple[str, str, int, str | None]]  # site, its firm, position of the page's first lot, previous id
    details: list[str]
    products: list[str]
    downstream: list[str]
    upstream: list[str]
    agency: str
    counts: dict[str, int]
    roles: list[str]


async def grant_agency_everything(graph: Graph, agency: str) -> int:
    """Every member grants the agency TRACE at DETAIL (once): the hub's principal then sees every lot."""
    firms = [row["id"] for row in await graph.read(FIRMS, {})]
    now = datetime.now(UTC)
    held = await grants_received(graph, firm_id=agency, firm_roles=["AGENCY"], now=now)
    granted = {g["ownerFirmId"] for g in held if g["scope"] == "TRACE" and g["level"] == "DETAIL"}
    missing = [firm for firm in firms if firm != agency and firm not in granted]
    for firm in missing:
        row = {"id": f"grant-bench-peer-{firm}", "ownerFirmId": firm, "scope": "TRACE", "level": "DETAIL"}
        row |= {"toFirmId": agency, "toRole": None, "toCluster": False, "until": None, "createdAt": now}
        await create_grant(graph, row)
    return len(missing)


async def sample(settings: Settings, count: int, seed: int) -> Sample:
    """Lots picked at random (fixed seed): pages of their sites starting at them, made lots for the detail page
    and the upstream trace, consumed lots for the downstream trace."""
    rng = random.Random(seed)
    async with open_driver(settings) as driver:
        graph = Graph(driver, database=settings.neo4j_database)
        ids = {kind: (await graph.read(LOT_IDS, {"kind": kind}))[0]["ids"] for kind in ("any", "made", "consumed")}
        if not ids["any"]:
            raise RuntimeError("the benchmark's graph has no lots: the seed did not run")
        [agency_row] = await graph.read(AGENCY, {})
        agency = agency_row["id"]
        granted = await grant_agency_everything(graph, agency)
        products = (await graph.read(ACTIVE_PRODUCTS, {}))[0]["gtins"]
        roles = [row["role"] for row in await graph.read(ROLES, {})]
        lists = []
        for lot_id in rng.sample(ids["any"], min(count, len(ids["any"]))):
            [start] = await graph.read(PAGE_START, {"id": lot_id})
            lists.append((start["site"], start["owner"], start["position"], start["previous"]))
    made, consumed = ids["made"], ids["consumed"]
    return Sample(
        lists=lists,
        details=rng.sample(made, min(count, len(made))),
        products=[rng.choice(products) for _ in range(count)] if products else [],
        downstream=rng.sample(consumed, min(count, len(consumed))),
        upstream=rng.sample(made, min(count, len(made))),
        agency=agency,
        counts={"lots": len(ids["any"]), "made": len(made), "consumed": len(consumed), "grants_written": granted},
        roles=roles,
    )


def build_queries(sampled: Sample, settings: Settings) -> list[Query]:
    """The questions with a token per asking firm (tokens outlive the run: the issuer's ttl is a day)."""
    issuer = open_issuer(settings)
    tokens: dict[str, str] = {}

    def token(firm: str) -> str:
        if firm not in tokens:
            tokens[firm] = "Bearer " + issuer.mint(subject="bench-peer", firm_id=firm, roles=[Role.VIEWER])
        return tokens[firm]

    def body(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return {"query": compact(query), "variables": variables}

    lists = [
        Ask(
            body(HUB_LIST, {"site": site, "after": None if previous is None else encode_cursor("lot", previous)}),
            token(firm),
            body(PEER_LIST, {"site": site, "after": None if position == 0 else peer_cursor(position - 1)}),
        )
        for site, firm, position, previous in sampled.lists
    ]
    agency = token(sampled.agency)
    details = [Ask(body(HUB_DETAIL, {"id": i}), agency, body(PEER_DETAIL, {"id": i})) for i in sampled.details]
    filtered = [
        Ask(body(HUB_FILTERED, {"gtin": g}), agency, body(PEER_FILTERED, {"gtin": g})) for g in sampled.products
    ]
    counts = [
        Ask(body(HUB_COUNTS, {"role": role}), agency, body(PEER_COUNTS, {"role": role})) for role in sampled.roles
    ]
    traces = {
        direction: [
            Ask(
                body(HUB_TRACE, {"id": i, "dir": direction.upper()}),
                agency,
                body(PEER_TRACE.replace("FIELD", f"trace{direction.title()}"), {"id": i}),
            )
            for i in ids
        ]
        for direction, ids in (("downstream", sampled.downstream), ("upstream", sampled.upstream))
    }
    return [
        Query("list_page", "20 lots of a site with product, site and owner, by cursor", lists, hub_list_answer,
              peer_list_answer),
        Query("lot_detail", "a lot with its inputs (and their shipments) and its shipments", details,
              hub_detail_answer, peer_detail_answer),
        Query("filtered_sorted_list", "20 active lots of a product, latest first, with their site and count",
              filtered, hub_filtered_answer, peer_filtered_answer),
        Query("count_aggregate", "the firms of a role and their count, each with its lots' count and quantity",
              counts, hub_counts_answer, peer_counts_answer),
        Query("trace_downstream", "every lot made from a lot, with shipments (breadth-first, maxDepth 25)",
              traces["downstream"], hub_trace_answer, peer_trace_answer("traceDownstream")),
        Query("trace_upstream", "every lot a lot was made from, with shipments (breadth-first, maxDepth 25)",
              traces["upstream"], hub_trace_answer, peer_trace_answer("traceUpstream")),
    ]  # fmt: skip


# --- the two servers ---------------------------------------------------------------------------------------------


def _process_tree(pid: int) -> list[tuple[int, list[str]]]:
    """A process and every process it started, each with the fields of its /proc stat line after the name."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # a process that ended while we looked
            continue
        process = int(stat.parent.name)
        children.setdefault(int(fields[1]), []).append(process)
        stats[process] = fields
    tree, todo = [], [pid]
    while todo:
        process = todo.pop()
        if process in stats:
            tree.append((process, stats[process]))
        todo.extend(children.get(process, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far of a process and the processes it started (`hub serve --workers N`)."""
    ticks = sum(int(fields[11]) + int(fields[12]) for _, fields in _process_tree(pid))
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """The largest peak resident memory (VmHWM) of any one process of the server, in MB, since it started."""
    peaks = [0.0]
    for process, _ in _process_tree(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return round(max(peaks), 1)


# --- correctness first, then load --------------------------------------------------------------------------------


async def check_answers(
    hub: Server, peer: Server, queries: Sequence[Query], per_query: int
) -> tuple[dict[str, Any], list[Query]]:
    """Ask both servers the first questions of each kind: no errors, and the same canonical answer.

    A question the peer cannot answer (an error from the library or from Neo4j) is reported as such and left out
    of the load runs; a hub error or differing answers stop the benchmark."""
    report: dict[str, Any] = {}
    answered: list[Query] = []
    async with httpx.AsyncClient(timeout=120) as client:
        for query in queries:
            sizes = []
            peer_failure: str | None = None
            for ask in query.asks[:per_query]:
                hub_reply = await client.post(hub.url, json=ask.hub_body, headers={"Authorization": ask.hub_token})
                peer_reply = await client.post(peer.url, json=ask.peer_body)
                answers = []
                for server, reply in ((hub, hub_reply), (peer, peer_reply)):
                    payload = reply.json()
                    if reply.status_code != 200 or payload.get("errors"):
                        if server is peer:
                            errors = payload.get("errors") or [{"message": f"HTTP {reply.status_code}"}]
                            peer_failure = f"{ask.peer_body['variables']}: {errors[0].get('message')}"
                            break
                        raise RuntimeError(f"{server.name} failed {query.name} {ask.peer_body['variables']}: {payload}")
                    answers.append(payload["data"])
                if peer_failure is not None:
                    break
                hub_answer, peer_answer = query.hub_answer(answers[0]), query.peer_answer(answers[1])
                if hub_answer != peer_answer:
                    raise RuntimeError(
                        f"{query.name} {ask.peer_body['variables']}: the answers differ\n"
                        f"hub:  {hub_answer}\npeer: {peer_answer}"
                    )
                sizes.append(len(hub_reply.content))
            if peer_failure is not None:
                print(f"the peer cannot answer {query.name}: {peer_failure}", flush=True)
                report[query.name] = {"peer_failed": peer_failure}
                continue
            answered.append(query)
            report[query.name] = {"questions_compared": len(sizes), "hub_answer_bytes_median": statistics.median(sizes)}
    return report, answered


def request_file(folder: Path, query: Query, server: str) -> Path:
    """The wrk script's input: one request a line, authorization and body separated by a tab."""
    path = folder / f"{query.name}.{server}.requests"
    lines = []
    for ask in query.asks:
        if server == "hub":
            lines.append(f"{ask.hub_token}\t{json.dumps(ask.hub_body, separators=(',', ':'))}")
        else:
            lines.append(f"-\t{json.dumps(ask.peer_body, separators=(',', ':'))}")
    path.write_text("\n".join(lines) + "\n")
    return path


def parse_wrk(output: str) -> dict[str, Any]:
    """The WRK_JSON line the Lua script prints, with requests per second and milliseconds derived."""
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            raw: dict[str, Any] = json.loads(line.removeprefix("WRK_JSON "))
            break
    else:
        raise RuntimeError(f"wrk printed no WRK_JSON line:\n{output}")
    seconds = raw["duration_us"] / 1e6
    failed = sum(raw[key] for key in ("errors", "connect_errors", "read_errors", "write_errors", "timeouts"))
    return {
        "requests": raw["requests"],
        "seconds": round(seconds, 3),
        "requests_per_s": round(raw["requests"] / seconds, 1) if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "mean_ms": round(raw["mean_us"] / 1000, 3),
        "max_ms": raw["max_us"] / 1000,
        "failed": failed + raw["non2xx"],
        "mb_received": round(raw["bytes"] / 1e6, 2),
    }


@dataclass(frozen=True)
class Load:
    wrk: Wrk
    threads: int
    connections: int
    neo4j_pid: int


def run_wrk(load: Load, server: Server, requests: Path, seconds: float) -> dict[str, Any]:
    """One wrk run against one server, with the CPU time each process spent in it."""
    cmd = [str(load.wrk.binary), f"-t{load.threads}", f"-c{load.connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    cmd += ["-s", str(LUA), server.url, "--", str(requests)]
    pids = {"server": server.pid, "neo4j": load.neo4j_pid}
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    load_average = os.getloadavg()[0]
    done = subprocess.run(cmd, env=load.wrk.env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    figures = parse_wrk(done.stdout)
    for name, pid in pids.items():
        spent = cpu_seconds(pid) - before[name]
        figures[f"{name}_cpu_ms_per_request"] = round(1000 * spent / max(figures["requests"], 1), 3)
    figures["load_average_before"] = round(load_average, 2)
    figures["server_peak_rss_mb"] = peak_rss_mb(server.pid)
    return figures


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over a server's runs of one question."""
    keys = ("requests_per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_request", "neo4j_cpu_ms_per_request")
    summary: dict[str, Any] = {key: round(statistics.median(run[key] for run in runs), 3) for key in keys}
    summary["failed"] = sum(run["failed"] for run in runs)
    summary["peak_rss_mb"] = max(run.get("server_peak_rss_mb", 0.0) for run in runs)
    summary["runs"] = runs
    return summary


def ratios(hub: dict[str, Any], peer: dict[str, Any]) -> dict[str, float | None]:
    """hub/peer: above 1 the hub serves more requests per second; below 1 its latency is lower."""

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 2) if b else None

    return {
        "throughput": ratio(hub["requests_per_s"], peer["requests_per_s"]),
        "p50_latency": ratio(hub["p50_ms"], peer["p50_ms"]),
        "p99_latency": ratio(hub["p99_ms"], peer["p99_ms"]),
    }


def measure(
    load: Load, servers: dict[str, Server], queries: Sequence[Query], folder: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Warm both servers up on every question, then alternate measured runs between them, round after round."""
    files = {(q.name, s): request_file(folder, q, s) for q in queries for s in servers}
    for query in queries:
        for name, server in servers.items():
            run_wrk(load, server, files[(query.name, name)], args.warmup)
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in files}
    for round_number in range(args.rounds):
        # Hub first in even rounds, the peer first in odd ones: drift of the machine falls on both.
        order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
        for query in queries:
            for name in order:
                figures = run_wrk(load, servers[name], files[(query.name, name)], args.duration)
                figures["round"] = round_number
                runs[(query.name, name)].append(figures)
                print(
                    f"round {round_number} {query.name:17} {name:4} {figures['requests_per_s']:9.1f} req/s  "
                    f"p50 {figures['p50_ms']:8.2f} ms  p99 {figures['p99_ms']:8.2f} ms  failed {figures['failed']}",
                    flush=True,
                )
    results: dict[str, Any] = {}
    for query in queries:
        hub, peer = summarise(runs[(query.name, "hub")]), summarise(runs[(query.name, "peer")])
        results[query.name] = {
            "description": query.description,
            "distinct_requests": len(query.asks),
            "hub": hub,
            "peer": peer,
            "ratio_hub_to_peer": ratios(hub, peer),
        }
    return results


# --- reports -----------------------------------------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    """The results table with the setup it was measured on."""
    setup = report["setup"]
    loads = [
        run["load_average_before"] for q in report["queries"].values() for s in ("hub", "peer") for run in q[s]["runs"]
    ]
    lines = [
        f"# Hub against the Neo4j GraphQL Library ({report['date']}, {setup['scale']} seed)",
        "",
        f"{setup['machine_note']} Load average before the runs: {min(loads):.1f} to {max(loads):.1f}. "
        f"wrk: {setup['wrk_threads']} thread(s), {setup['connections']} connections, "
        f"{setup['rounds']} alternating run(s) of {setup['duration_s']:g} s per server and question after a "
        f"{setup['warmup_s']:g} s warm-up; medians over the runs. Hub: `hub serve` (uvicorn, "
        f"{setup['hub_workers']} worker(s), {setup['hub_event_loop']} loop), permissions enforced. Peer: "
        f"@neo4j/graphql {setup['peer_packages']['@neo4j/graphql']} on @apollo/server "
        f"{setup['peer_packages']['@apollo/server']}, Node.js {setup['node']}, one process, no permissions. "
        f"Neo4j {setup['neo4j']} with APOC {setup['apoc']}, shared by both.",
        "",
        "| question | hub req/s | peer req/s | hub/peer throughput | hub p50 ms | peer p50 ms | hub p99 ms "
        "| peer p99 ms | hub CPU ms/req | peer CPU ms/req | Neo4j CPU ms/req (hub, peer) | failed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in report["queries"].items():
        hub, peer, ratio = result["hub"], result["peer"], result["ratio_hub_to_peer"]
        lines.append(
            f"| {name} | {hub['requests_per_s']:.1f} | {peer['requests_per_s']:.1f} | **{ratio['throughput']}x** "
            f"| {hub['p50_ms']:.2f} | {peer['p50_ms']:.2f} | {hub['p99_ms']:.2f} | {peer['p99_ms']:.2f} "
            f"| {hub['server_cpu_ms_per_request']:.2f} | {peer['server_cpu_ms_per_request']:.2f} "
            f"| {hub['neo4j_cpu_ms_per_request']:.2f}, {peer['neo4j_cpu_ms_per_request']:.2f} "
            f"| {hub['failed'] + peer['failed']} |"
        )
    for name, checked in report["correctness"].items():
        if "peer_failed" in checked:
            lines.append(f"| {name} | | the peer could not answer: {checked['peer_failed']} | | | | | | | | | |")
    peaks = {
        server: max(result[server].get("peak_rss_mb", 0.0) for result in report["queries"].values())
        for server in ("hub", "peer")
    }
    lines += [
        "",
        f"Peak resident memory of one server process over all runs (VmHWM): hub {peaks['hub']:.0f} MB, "
        f"peer {peaks['peer']:.0f} MB.",
        "",
        "Targets (issue 16): hub throughput at least 1.5x the peer on every question, the hub's p99 at or below"
        " the peer's.",
        "",
    ]
    return "\n".join(lines)


def chart(report: dict[str, Any], path: Path) -> None:
    """Requests per second and p50/p99 latency per question, hub beside peer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(report["queries"])
    results = [report["queries"][n] for n in names]
    x = range(len(names))
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    width = 0.38
    for offset, server, colour in ((-width / 2, "hub", "#2f6f4f"), (width / 2, "peer", "#c07a2c")):
        left.bar([i + offset for i in x], [r[server]["requests_per_s"] for r in results], width, label=server,
                 color=colour)  # fmt: skip
        right.bar([i + offset for i in x], [r[server]["p50_ms"] for r in results], width, color=colour,
                  label=f"{server} p50")  # fmt: skip
        right.scatter([i + offset for i in x], [r[server]["p99_ms"] for r in results], color=colour, marker="_",
                      s=400, label=f"{server} p99")  # fmt: skip
    for i, result in enumerate(results):
        ratio = result["ratio_hub_to_peer"]["throughput"]
        top = max(result["hub"]["requests_per_s"], result["peer"]["requests_per_s"])
        left.annotate(f"{ratio}x", (i, top), ha="center", va="bottom", fontsize=9)
    for axis, title in ((left, "requests per second (higher is better)"), (right, "latency ms, bar p50, tick p99")):
        axis.set_xticks(list(x), [n.replace("_", "\n") for n in names])
        axis.set_title(title, fontsize=10)
        axis.legend(fontsize=8)
    right.set_yscale("log")
    setup = report["setup"]
    fig.suptitle(
        f"hub vs @neo4j/graphql {setup['peer_packages']['@neo4j/graphql']}, same Neo4j, {setup['scale']} seed, "
        f"{setup['connections']} connections ({report['date'][:10]}, {setup['cpus']} shared cores)",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def versions() -> dict[str, Any]:
    """The peer's pinned packages and the runtimes, for the report."""
    lock = json.loads((PEER_DIR / "package-lock.json").read_text())
    pinned = json.loads((PEER_DIR / "package.json").read_text())["dependencies"]
    installed = {name: lock["packages"][f"node_modules/{name}"]["version"] for name in pinned}
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    return {"peer_packages": installed, "node": node.removeprefix("v")}


# --- the run -----------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=["demo", "large"], default="large")
    parser.add_argument("--seed", type=int, default=7, help="the generator's seed, as `hub seed` takes it")
    parser.add_argument("--state-dir", type=Path, help="default: .local/bench-peer-<scale>")
    parser.add_argument("--bolt-port", type=int, default=7697)
    parser.add_argument("--heap", default="3g")
    parser.add_argument("--pagecache", default="4g")
    parser.add_argument("--samples", type=int, default=200, help="distinct questions of each kind")
    parser.add_argument("--check", type=int, default=5, help="questions of each kind compared before the load")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (the machine has 2 cores)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up per server and question")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--hub-workers", type=int, default=1, help="`hub serve --workers N`; 1 is what `make run` starts"
    )
    parser.add_argument("--keep-neo4j", action="store_true", help="leave the benchmark's Neo4j running")
    parser.add_argument("--sample-seed", type=int, default=2026)
    parser.add_argument("--hub-port", type=int, help="the hub's HTTP port (default: a free one)")
    parser.add_argument("--peer-port", type=int, help="the peer's HTTP port (default: a free one)")
    args = parser.parse_args()

    state = (args.state_dir or ROOT / ".local" / f"bench-peer-{args.scale}").absolute()
    hub_port, peer_port = args.hub_port or free_port(), args.peer_port or free_port()
    # The issuer's ttl only sets how long the tokens minted here live: a day outlasts any run.
    settings = Settings(state_dir=state, neo4j_bolt_port=args.bolt_port, port=hub_port, token_ttl_seconds=86_400)
    env = {
        **os.environ,
        "HUB_STATE_DIR": str(state),
        "HUB_NEO4J_BOLT_PORT": str(args.bolt_port),
        "HUB_PORT": str(hub_port),
    }

    print("tools: APOC, wrk, the peer's packages", flush=True)
    apoc, wrk = fetch_apoc(), fetch_wrk()
    npm_ci()
    neo4j = bench_neo4j(settings.neo4j_home, bolt_port=args.bolt_port, heap=args.heap, pagecache=args.pagecache,
                        apoc=apoc)  # fmt: skip
    print(f"the benchmark's Neo4j in {settings.neo4j_home} on bolt {args.bolt_port}", flush=True)
    status = neo4j.start()
    try:
        hub_cli = str(Path(sys.executable).parent / "hub")
        seed = [hub_cli, "seed", "--scale", args.scale, "--seed", str(args.seed), "--if-empty"]
        subprocess.run(seed, env=env, cwd=ROOT, check=True)
        sampled = asyncio.run(sample(settings, args.samples, args.sample_seed))
        queries = build_queries(sampled, settings)
        peer_env = {
            **os.environ,
            "PEER_PORT": str(peer_port),
            "NEO4J_URI": neo4j.uri,
            "NEO4J_USER": neo4j.user,
            "NEO4J_PASSWORD_FILE": str(neo4j.home / "password"),
        }
        hub_url, peer_url = f"http://127.0.0.1:{hub_port}", f"http://127.0.0.1:{peer_port}"
        with (
            running("hub", [hub_cli, "serve", "--port", str(hub_port), "--workers", str(args.hub_workers)], env,
                    f"{hub_url}/readyz",
                    f"{hub_url}/graphql", state / "hub-serve.log") as hub,
            running("peer", ["node", str(PEER_DIR / "server.js")], peer_env, f"{peer_url}/?query=%7B__typename%7D",
                    f"{peer_url}/", state / "peer.log") as peer,
        ):  # fmt: skip
            print("checking that both servers give the same answers", flush=True)
            checked, answered = asyncio.run(check_answers(hub, peer, queries, args.check))
            load = Load(wrk, args.threads, args.connections, status.pid or 0)
            results = measure(load, {"hub": hub, "peer": peer}, answered, state, args)
    finally:
        if not args.keep_neo4j:
            neo4j.stop()
    setup = {
        "scale": args.scale,
        "seed": args.seed,
        "sample_counts": sampled.counts,
        "connections": args.connections,
        "wrk_threads": args.threads,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rounds": args.rounds,
        "hub_workers": args.hub_workers,
        "hub_event_loop": "uvloop" if _has_uvloop() else "asyncio",
        "hub_principals": "list page: the site's own firm; the rest: the agency, granted TRACE DETAIL by every member",
        "peer_permissions": "none",
        "neo4j": NEO4J_VERSION,
        "neo4j_memory": {"heap": args.heap, "pagecache": args.pagecache},
        "apoc": apoc.name.removeprefix("apoc-core-").removesuffix("-core.jar"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine_note": f"{os.cpu_count()} cores shared by Neo4j, the server under load and wrk (and other work).",
        **versions(),
    }
    report = {"setup": setup, "correctness": checked, "queries": results}
    name = "peer_comparison" if args.hub_workers == 1 else f"peer_comparison_workers{args.hub_workers}"
    path = write_result(name, report)
    written = json.loads(path.read_text())
    (RESULTS / f"{name}.md").write_text(markdown(written))
    chart(written, RESULTS / f"{name}.png")
    print(markdown(written))
    print(f"written to {path} and {name}.md, {name}.png beside it")


def _has_uvloop() -> bool:
    import importlib.util

    return importlib.util.find_spec("uvloop") is not None


if __name__ == "__main__":
    main()
