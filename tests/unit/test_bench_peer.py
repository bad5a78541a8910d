"""The peer comparison's own logic: how it reads wrk, pages the peer, and decides two answers are the same."""

import base64
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.peer_comparison import (
    Ask,
    Query,
    cpu_seconds,
    hub_counts_answer,
    hub_detail_answer,
    hub_list_answer,
    hub_trace_answer,
    instant,
    parse_wrk,
    peer_counts_answer,
    peer_cursor,
    peer_detail_answer,
    peer_list_answer,
    peer_trace_answer,
    ratios,
    request_file,
)
from bench.peer_tools import APOC_ARTIFACT, APOC_SETTINGS, PEER_DIR, bench_neo4j
from graph_schema.model import TraceDirection
from graph_schema.trace import trace_query
from hub.neo4j_local import launch_args, render_config

LOT = "urn:epc:class:lgtin:8801001.000001.L1"
INPUT = "urn:epc:class:lgtin:8801005.000001.L7"


def test_wrk_summary_becomes_rates_and_milliseconds() -> None:
    line = (
        'WRK_JSON {"requests": 2000, "duration_us": 20000000, "bytes": 5000000, "p50_us": 3500, "p90_us": 6000, '
        '"p99_us": 12250, "mean_us": 4000.5, "max_us": 30000, "errors": 2, "connect_errors": 0, "read_errors": 1, '
        '"write_errors": 0, "non2xx": 3, "timeouts": 0}'
    )
    figures = parse_wrk("Running 20s test\n" + line + "\n")
    assert figures["requests_per_s"] == 100.0
    assert (figures["p50_ms"], figures["p90_ms"], figures["p99_ms"]) == (3.5, 6.0, 12.25)
    assert figures["failed"] == 6  # GraphQL errors, a read error and non-2xx answers all count
    assert figures["mb_received"] == 5.0


def test_wrk_output_without_the_summary_is_refused() -> None:
    with pytest.raises(RuntimeError, match="no WRK_JSON"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_peer_cursor_is_the_librarys_offset_cursor() -> None:
    # what @neo4j/graphql answered as the cursor of the 29th row of a connection
    assert peer_cursor(28) == "YXJyYXljb25uZWN0aW9uOjI4"
    assert base64.b64decode(peer_cursor(0)) == b"arrayconnection:0"


def test_instants_compare_across_offsets_to_the_millisecond() -> None:
    assert instant("2026-09-03T17:17:08.571429+09:00") == instant("2026-09-03T08:17:08.571Z")
    assert instant("2026-09-03T08:17:08.572Z") != instant("2026-09-03T08:17:08.571Z")
    assert instant(None) is None


def test_ratios_read_as_hub_over_peer() -> None:
    hub = {"requests_per_s": 150.0, "p50_ms": 5.0, "p99_ms": 20.0}
    peer = {"requests_per_s": 100.0, "p50_ms": 10.0, "p99_ms": 0.0}
    assert ratios(hub, peer) == {"throughput": 1.5, "p50_latency": 0.5, "p99_latency": None}


def _node(lot_id: str, *, product: Any, site: Any, owner: Any) -> dict[str, Any]:
    return {
        "id": lot_id,
        "lotNumber": "L1",
        "quantity": 4680,
        "uom": "EA",
        "status": "ACTIVE",
        "producedAt": "2026-09-01T09:00:00+09:00",
        "product": product,
        "site": site,
        "owner": owner,
    }


def test_list_pages_agree_when_the_same_lots_come_back() -> None:
    product, site, owner = (
        {"gtin": "08801001000011", "name": "tofu"},
        {"gln": "8801001000011", "name": "plant"},
        {
            "id": "anchor",
            "name": "Hanbit",
        },
    )
    hub = {
        "lots": {
            "edges": [{"node": _node(LOT, product=product, site=site, owner=owner)}],
            "pageInfo": {"hasNextPage": True},
        }
    }
    peer_node = _node(LOT, product=[product], site=[site], owner=owner) | {"producedAt": "2026-09-01T00:00:00.000Z"}

    def peer(more: bool) -> dict[str, Any]:
        return {"lotsConnection": {"edges": [{"node": peer_node}], "pageInfo": {"hasNextPage": more}}}

    assert hub_list_answer(hub) == peer_list_answer(peer(more=True))
    assert hub_list_answer(hub) != peer_list_answer(peer(more=False))


def _hub_detail(shipments: list[dict[str, Any]]) -> dict[str, Any]:
    product = {"gtin": "08801001000011", "name": "tofu", "category": "tofu"}
    lot = _node(
        LOT,
        product=product,
        site={"gln": "8801001000011", "name": "plant", "kind": "PLANT"},
        owner={"id": "anchor", "name": "Hanbit"},
    )
    received = {
        "id": "SH-1",
        "quantity": 50.0,
        "uom": "kg",
        "shippedAt": "2026-08-31T21:19:00+00:00",
        "receivedAt": "2026-09-01T01:33:00+00:00",
    }
    soy = {
        "id": INPUT,
        "lotNumber": "L7",
        "quantity": 3550.0,
        "uom": "kg",
        "status": "ACTIVE",
        "product": {"gtin": "08801005000018", "name": "soybean"},
        "owner": {"id": "farm", "name": "Farm"},
        "shipments": [received],
    }
    lot |= {"expiresAt": None, "inputs": [{"quantity": 50.0, "uom": "kg", "lot": soy}], "shipments": shipments}
    return {"lot": lot}


def _peer_detail(shipment_ids: list[str]) -> dict[str, Any]:
    lot = _node(
        LOT,
        product=[{"gtin": "08801001000011", "name": "tofu", "category": "tofu"}],
        site=[{"gln": "8801001000011", "name": "plant", "kind": "PLANT"}],
        owner={"id": "anchor", "name": "Hanbit"},
    )
    received = {
        "properties": {"quantity": 50, "uom": "kg"},
        "node": {"id": "SH-1", "shippedAt": "2026-08-31T21:19:00.000Z", "receivedAt": "2026-09-01T01:33:00.000Z"},
    }
    soy = {
        "id": INPUT,
        "lotNumber": "L7",
        "quantity": 3550,
        "uom": "kg",
        "status": "ACTIVE",
        "product": [{"gtin": "08801005000018", "name": "soybean"}],
        "owner": {"id": "farm", "name": "Farm"},
        "shipmentsConnection": {"edges": [received]},
    }
    edges = [
        {
            "properties": {"quantity": 100, "uom": "EA"},
            "node": {
                "id": sid,
                "shippedAt": None,
                "receivedAt": None,
                "docType": "BOL",
                "docNumber": "7",
                "toSite": [{"gln": "8801009000019", "name": "DC"}],
            },
        }
        for sid in shipment_ids
    ]
    lot |= {
        "expiresAt": None,
        "producedBy": [{"inputsConnection": {"edges": [{"properties": {"quantity": 50, "uom": "kg"}, "node": soy}]}}],
        "shipmentsConnection": {"edges": edges},
    }
    return {"lots": [lot]}


def _hub_shipment(sid: str) -> dict[str, Any]:
    return {
        "id": sid,
        "quantity": 100.0,
        "uom": "EA",
        "shippedAt": None,
        "receivedAt": None,
        "docType": "BOL",
        "docNumber": "7",
        "toSite": {"gln": "8801009000019", "name": "DC"},
    }


def test_detail_pages_agree_in_any_order_and_not_when_a_shipment_is_missing() -> None:
    hub = _hub_detail([_hub_shipment("SH-2"), _hub_shipment("SH-3")])
    assert hub_detail_answer(hub) == peer_detail_answer(_peer_detail(["SH-3", "SH-2"]))
    # a shipment the hub hid (another firm's, not granted) would show as a difference, never pass unnoticed
    assert hub_detail_answer(_hub_detail([_hub_shipment("SH-2")])) != peer_detail_answer(_peer_detail(["SH-3", "SH-2"]))
    assert hub_detail_answer({"lot": None}) == peer_detail_answer({"lots": []}) is None


def _hub_trace(redacted: bool) -> dict[str, Any]:
    lot = {"id": LOT, "lotNumber": "L1", "quantity": 4680.0, "uom": "EA", "status": "ACTIVE"}
    shipment = {
        "id": "SH-2",
        "lotId": LOT,
        "redacted": False,
        "quantity": 100.0,
        "uom": "EA",
        "shippedAt": None,
        "receivedAt": None,
    }
    traced = {"depth": 1, "redacted": redacted, "ownerRole": "ANCHOR", "lot": None if redacted else lot}
    return {"trace": {"lots": [traced], "shipments": [shipment]}}


def test_traces_agree_lot_for_lot_and_a_redacted_one_never_does() -> None:
    step = {
        "depth": 1,
        "ownerRole": "ANCHOR",
        "id": LOT,
        "lotNumber": "L1",
        "quantity": 4680,
        "uom": "EA",
        "status": "ACTIVE",
        "shipments": [
            {"id": "SH-2", "lotId": LOT, "quantity": 100, "uom": "EA", "shippedAt": None, "receivedAt": None}
        ],
    }
    peer = peer_trace_answer("traceDownstream")
    assert hub_trace_answer(_hub_trace(redacted=False)) == peer({"traceDownstream": [step]})
    assert hub_trace_answer(_hub_trace(redacted=True)) != peer({"traceDownstream": [step]})


def test_counts_agree_per_firm_whether_summed_by_product_or_by_site() -> None:
    hub = {
        "firms": {
            "totalCount": 2,
            "edges": [
                {"node": {"id": "farm", "name": "Farm", "lots": {"totalCount": 3, "quantities": [
                    {"productGtin": "1", "uom": "kg", "quantity": 10.1, "lotCount": 2},
                    {"productGtin": "2", "uom": "EA", "quantity": 5.0, "lotCount": 1}]}}},
                {"node": {"id": "idle", "name": "Idle", "lots": {"totalCount": 0, "quantities": []}}},
            ],
        }
    }  # fmt: skip

    def site(count: int, total: float | None) -> dict[str, Any]:
        return {"lotsConnection": {"aggregate": {"count": {"nodes": count}, "node": {"quantity": {"sum": total}}}}}

    peer = {
        "firmsConnection": {
            "totalCount": 2,
            "edges": [
                {"node": {"id": "farm", "name": "Farm", "sites": [site(1, 5.0), site(2, 10.1), site(0, None)]}},
                {"node": {"id": "idle", "name": "Idle", "sites": []}},
            ],
        }
    }
    expected = (2, [("farm", "Farm", 3, 15.1), ("idle", "Idle", 0, 0)])
    assert hub_counts_answer(hub) == peer_counts_answer(peer) == expected
    sites: list[Any] = peer["firmsConnection"]["edges"][0]["node"]["sites"]  # type: ignore[index]
    sites.pop(1)
    assert hub_counts_answer(hub) != peer_counts_answer(peer)  # a site's lots missing


def test_request_file_holds_one_request_a_line_with_the_token_only_for_the_hub(tmp_path: Path) -> None:
    body = {"query": "query($id: ID!) { lot(id: $id) { id } }", "variables": {"id": LOT}}
    query = Query(
        "q", "", [Ask(body, "Bearer t0k", body), Ask(body, "Bearer t1k", body)], hub_list_answer, peer_list_answer
    )
    hub_lines = request_file(tmp_path, query, "hub").read_text().splitlines()
    peer_lines = request_file(tmp_path, query, "peer").read_text().splitlines()
    assert [line.split("\t")[0] for line in hub_lines] == ["Bearer t0k", "Bearer t1k"]
    assert [line.split("\t")[0] for line in peer_lines] == ["-", "-"]
    assert json.loads(peer_lines[0].split("\t", 1)[1]) == body


def test_the_benchmarks_neo4j_loads_apoc_from_its_own_plugins_folder(tmp_path: Path) -> None:
    apoc = tmp_path / "apoc-core-5.26.5-core.jar"
    server = bench_neo4j(tmp_path / "bench", bolt_port=7697, heap="1g", pagecache="1g", apoc=apoc)
    assert server.config.plugins == (apoc,)
    assert render_config(server.config).splitlines()[-1] == APOC_SETTINGS[0]
    args = launch_args(server.config, tmp_path / "lib")
    assert args[args.index("-cp") + 1].startswith(f"{tmp_path / 'bench' / 'plugins'}/*:")
    assert APOC_ARTIFACT.endswith(":jar:core")


@pytest.mark.parametrize(("direction", "field"), [("DOWNSTREAM", "traceDownstream"), ("UPSTREAM", "traceUpstream")])
def test_the_peers_trace_runs_the_hubs_reach(direction: str, field: str) -> None:
    # the comparison is only fair while the peer's @cypher expands the graph exactly as the hub does
    hub_reach = trace_query(TraceDirection(direction), 25).split("\nWITH ")[0]  # the reach: all before its first WITH
    schema = (PEER_DIR / "schema.graphql").read_text()
    peer_field = schema.split(f"  {field}(lotId: ID!)")[1].split('columnName: "step"')[0]
    assert " ".join(hub_reach.split()) in " ".join(peer_field.split())


def test_cpu_seconds_count_the_processes_a_server_started() -> None:
    """`hub serve --workers 2` serves from child processes: their CPU is the server's."""
    burn = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass\ntime.sleep(5)"
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}])"]
    )
    try:
        deadline = time.monotonic() + 20
        while cpu_seconds(parent.pid) < 0.5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert cpu_seconds(parent.pid) >= 0.5  # the parent alone spends far less: it only waits for its child
    finally:
        parent.kill()
        parent.wait()
