"""Spreadsheet import: CSV and XLSX files of lots, transformations and shipments, all or nothing, every error listed."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from neo4j import GraphDatabase
from starlette.datastructures import UploadFile

from auth.principal import Role
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from hub.cli import main as hub_cli
from tests.factories import gln
from tests.graphql_client import codes, execute, principal
from tests.integration.conftest import Chain

pytestmark = pytest.mark.neo4j

IMPORT = """mutation($file: Upload!, $zone: String, $dry: Boolean! = false) {
  importSpreadsheet(file: $file, timeZone: $zone, dryRun: $dry) {
    written dryRun lots transformations shipments newLots errors { sheet row column code message }
  }
}"""
HEADER = (
    "record,id,lot_id,role,site_gln,from_gln,to_gln,quantity,uom,produced_at,expires_at,occurred_at,shipped_at,"
    "received_at,doc_type,doc_number,note"
)


def upload(content: bytes, filename: str) -> UploadFile:
    return UploadFile(file=io.BytesIO(content), filename=filename)


async def run_import(graph: Graph, content: bytes, filename: str, firm: str = "plant", **variables: Any) -> Any:
    result = await execute(
        graph, IMPORT, principal(firm, Role.EDITOR), {"file": upload(content, filename), **variables}
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data["importSpreadsheet"]


def good_csv(chain: Chain) -> str:
    a, b = lgtin_for(chain.tofu_gtin, "TOFU-A"), lgtin_for(chain.tofu_gtin, "TOFU-B")
    plant, rival = chain.sites["plant"], chain.sites["rival"]
    return "\n".join(
        [
            HEADER,
            f"lot,,{a},,{plant},,,200,kg,2026-09-03T08:00:00+09:00,2026-09-13T08:00:00+09:00,,,,,,morning batch",
            f"lot,,{b},,{plant},,,80,kg,2026-09-03T09:00:00+09:00,,,,,,,",
            f"transformation,T-10,{chain.soy},input,{plant},,,100,kg,,,2026-09-03T08:00:00+09:00,,,,,",
            f"transformation,T-10,{a},output,,,,200,kg,,,,,,,,",
            f"transformation,T-11,{chain.soy},input,{plant},,,40.5,kg,,,2026-09-03T09:00:00+09:00,,,,,",
            f"transformation,T-11,{b},output,{plant},,,80,kg,,,2026-09-03T09:00:00+09:00,,,,,",
            f"shipment,S-10,{a},,,{plant},{rival},150,kg,,,,2026-09-04T06:00:00+09:00,2026-09-04T10:00:00+09:00,"
            "DESADV,D-10,",
            f"shipment,S-10,{b},,,,,80,kg,,,,,,,,",
        ]
    )


GRAPH_STATE = """
MATCH (l:Lot) WHERE l.lotNumber IN ['TOFU-A', 'TOFU-B']
OPTIONAL MATCH (l)<-[p:PRODUCED]-(t:Transformation)<-[c:CONSUMED_BY]-(i:Lot)
OPTIONAL MATCH (l)<-[k:CARRIES]-(sh:Shipment)
RETURN l.lotNumber AS lot, l.ownerFirmId AS owner, l.quantity AS quantity, l.producedAt AS producedAt,
       l.expiresAt AS expiresAt, t.id AS transformation, t.occurredAt AS occurredAt, i.id AS input,
       c.quantity AS consumed, p.quantity AS produced, sh.id AS shipment, sh.toGln AS to, k.quantity AS shipped,
       sh.docType + ' ' + sh.docNumber AS doc, sh.shippedAt AS shippedAt, sh.receivedAt AS receivedAt
ORDER BY lot
"""


async def graph_state(graph: Graph) -> list[dict[str, Any]]:
    rows = await graph.read(GRAPH_STATE)
    return [{k: v.to_native() if hasattr(v, "to_native") else v for k, v in row.items()} for row in rows]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def expected_state(chain: Chain) -> list[dict[str, Any]]:
    common = {"owner": "plant", "input": chain.soy, "shipment": "S-10", "to": chain.sites["rival"]}
    shipped = {
        "doc": "DESADV D-10",
        "shippedAt": at("2026-09-04T06:00+09:00"),
        "receivedAt": at("2026-09-04T10:00+09:00"),
    }
    return [
        {
            **common,
            "lot": "TOFU-A",
            "quantity": 200.0,
            "producedAt": at("2026-09-03T08:00+09:00"),
            "expiresAt": at("2026-09-13T08:00+09:00"),
            "transformation": "T-10",
            "occurredAt": at("2026-09-03T08:00+09:00"),
            "consumed": 100.0,
            "produced": 200.0,
            "shipped": 150.0,
            **shipped,
        },
        {
            **common,
            "lot": "TOFU-B",
            "quantity": 80.0,
            "producedAt": at("2026-09-03T09:00+09:00"),
            "expiresAt": None,
            "transformation": "T-11",
            "occurredAt": at("2026-09-03T09:00+09:00"),
            "consumed": 40.5,
            "produced": 80.0,
            "shipped": 80.0,
            **shipped,
        },
    ]


async def test_a_csv_is_written_in_one_go_and_again_changes_nothing(graph: Graph, chain: Chain) -> None:
    content = good_csv(chain).encode()
    answer = await run_import(graph, content, "plant-2026-09.csv")
    assert answer == {
        "written": True,
        "dryRun": False,
        "lots": 2,
        "transformations": 2,
        "shipments": 1,
        "newLots": 2,
        "errors": [],
    }
    assert await graph_state(graph) == expected_state(chain)

    again = await run_import(graph, content, "plant-2026-09.csv")
    assert (again["written"], again["newLots"], again["errors"]) == (True, 0, [])
    assert await graph_state(graph) == expected_state(chain)


async def test_an_xlsx_with_a_sheet_per_kind_and_korean_headers(graph: Graph, chain: Chain) -> None:
    a, b = lgtin_for(chain.tofu_gtin, "TOFU-A"), lgtin_for(chain.tofu_gtin, "TOFU-B")
    plant, rival = int(chain.sites["plant"]), int(chain.sites["rival"])  # GLNs typed into number cells

    def workbook(quantity_of_a: float) -> bytes:
        book = openpyxl.Workbook()
        notes = book.active
        assert notes is not None
        notes.title = "#안내"
        notes.append(["이 시트는 읽지 않습니다"])
        sheets = {
            "로트": [
                ["로트번호", "사업장 GLN", "수량", "단위", "생산일시", "소비기한", "비고"],
                [a, plant, quantity_of_a, "kg", datetime(2026, 9, 3, 8), datetime(2026, 9, 13, 8), "오전"],
                [b, plant, 80, "kg", datetime(2026, 9, 3, 9), None, None],
            ],
            "가공": [
                ["기록번호", "투입산출", "로트번호", "수량", "단위", "사업장GLN", "가공일시"],
                ["T-10", "투입", chain.soy, 100, "kg", plant, datetime(2026, 9, 3, 8)],
                ["T-10", "산출", a, 200, "kg", None, None],
                ["T-11", "투입", chain.soy, 40.5, "kg", plant, datetime(2026, 9, 3, 9)],
                ["T-11", "산출", b, 80, "kg", plant, datetime(2026, 9, 3, 9)],
            ],
            "출하": [
                ["출하번호", "로트번호", "수량", "단위", "출발지GLN", "도착지GLN", "출하일시", "입고일시",
                 "문서유형", "문서번호"],
                ["S-10", a, 150, "kg", plant, rival, datetime(2026, 9, 4, 6), datetime(2026, 9, 4, 10),
                 "DESADV", "D-10"],
                ["S-10", b, 80, "kg"],
            ],
        }  # fmt: skip
        for title, rows in sheets.items():
            sheet = book.create_sheet(title)
            for row in rows:
                sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    wrong = await run_import(graph, workbook(0), "2026년9월.xlsx", zone="Asia/Seoul")
    pointer = f"lot {a} is on sheet '로트' row 2, which has errors"
    assert wrong["written"] is False
    assert [(e["sheet"], e["row"], e["column"], e["code"], e["message"]) for e in wrong["errors"]] == [
        ("로트", 2, "수량", "BAD_USER_INPUT", "Input should be greater than 0"),
        ("가공", 3, "로트번호", "BAD_USER_INPUT", pointer),  # T-10's output: that lot
        ("출하", 2, "로트번호", "BAD_USER_INPUT", pointer),  # S-10 carries it
    ]
    without_zone = await run_import(graph, workbook(200), "2026년9월.xlsx")
    assert {(e["sheet"], e["row"], e["column"]) for e in without_zone["errors"]} == {
        ("로트", 2, "생산일시"),
        ("로트", 2, "소비기한"),
        ("로트", 3, "생산일시"),
        ("가공", 2, "가공일시"),
        ("가공", 4, "가공일시"),
        ("출하", 2, "출하일시"),
        ("출하", 2, "입고일시"),
    }
    assert "UTC offset" in without_zone["errors"][0]["message"]
    assert await graph_state(graph) == []

    answer = await run_import(graph, workbook(200), "2026년9월.xlsx", zone="Asia/Seoul")
    assert (answer["written"], answer["lots"], answer["transformations"], answer["shipments"]) == (True, 2, 2, 1)
    assert await graph_state(graph) == expected_state(chain)


async def test_every_bad_row_is_listed_by_row_and_column_and_nothing_is_written(graph: Graph, chain: Chain) -> None:
    plant, farm = chain.sites["plant"], chain.sites["farm"]
    c, d, e = (lgtin_for(chain.tofu_gtin, lot) for lot in ("TOFU-C", "TOFU-D", "TOFU-E"))
    nowhere = gln()  # a valid GLN no firm registered
    when = "2026-09-03T08:00:00+09:00"
    content = "\n".join(
        [
            "record,id,lot_id,role,site_gln,quantity,uom,produced_at,occurred_at,from_gln,to_gln,shipped_at",
            f"lot,,{c},,{plant},10,kg,{when},,,,",
            f"lot,,urn:epc:class:lgtin:8801234.0001.C,,{plant},-5,,{when},,,,",
            f"lot,,{d},,{farm},10,kg,{when},,,,",
            f"lot,,{e},,{plant},10,kg,yesterday,,,,",
            f"transformation,T-20,{chain.rival_tofu},input,{plant},5,kg,,{when},,,",
            f"transformation,T-20,{c},output,{plant},10,kg,,{when},,,",
            f"shipment,S-20,{c},,,10,kg,,,{plant},{nowhere},{when}",
            f"shipment,S-21,{chain.soy},,,ten,kg,,,{plant},{farm},{when}",
            f"lot,,{lgtin_for(chain.tofu_gtin, 'TOFU-F')},input,{plant},1,kg,{when},,,,",
            f"lot,,{c},,{plant},10,kg,{when},,,,",
        ]
    ).encode()
    answer = await run_import(graph, content, "errors.csv")
    assert answer["written"] is False
    assert answer["lots"] == 3  # rows 2, 4 and 10 made valid records (4 failed a graph check, 10 has a stray cell)
    assert [(e["row"], e["column"], e["code"], e["message"]) for e in answer["errors"]] == [
        (3, "lot_id", "BAD_USER_INPUT", "lot id 'urn:epc:class:lgtin:8801234.0001.C': company prefix and item "
         "reference must have 13 digits together, they have 11"),
        (3, "quantity", "BAD_USER_INPUT", "Input should be greater than 0"),
        (3, "uom", "BAD_USER_INPUT", "empty: this cell is needed"),
        (4, "site_gln", "FORBIDDEN", "the site belongs to another firm"),
        (5, "produced_at", "BAD_USER_INPUT",
         "'yesterday' is not a date and time; write it like 2026-09-03T08:00:00+09:00"),
        (6, "lot_id", "FORBIDDEN", f"input lot {chain.rival_tofu} is neither yours nor shipped to you"),
        (8, "to_gln", "NOT_FOUND", "destination site is not registered"),
        (9, "quantity", "BAD_USER_INPUT", "'ten' is not a number; write it like 12.5"),
        (10, "role", "BAD_USER_INPUT", "not used on a lot row; leave it empty"),
        (11, "lot_id", "BAD_USER_INPUT", f"lot {c} is already on row 2"),
    ]  # fmt: skip
    assert await graph.read("MATCH (l:Lot) WHERE l.lotNumber IN ['TOFU-C', 'TOFU-D'] RETURN l.id AS id") == []
    assert await graph.read("MATCH (n) WHERE n.id IN ['T-20', 'S-20'] RETURN n.id AS id") == []


async def test_another_firms_lot_is_forbidden_and_named_by_its_row(graph: Graph, chain: Chain) -> None:
    plant, rival = chain.sites["plant"], chain.sites["rival"]
    content = "\n".join(
        [
            "record,id,lot_id,quantity,uom,from_gln,to_gln,shipped_at,doc_type,doc_number",
            f"shipment,S-30,{chain.tofu},10,kg,{plant},{rival},2026-09-05T10:00:00Z,DESADV,D-30",
            f"shipment,S-30,{chain.rival_tofu},5,kg,,,,,",
        ]
    ).encode()
    answer = await run_import(graph, content, "s.csv")
    assert (answer["written"], answer["errors"]) == (
        False,
        [
            {
                "sheet": None,
                "row": 3,
                "column": "lot_id",
                "code": "FORBIDDEN",
                "message": f"lot {chain.rival_tofu} is neither yours nor shipped to you",
            }
        ],
    )
    assert await graph.read("MATCH (s:Shipment {id: 'S-30'}) RETURN s.id AS id") == []


async def test_a_dry_run_checks_everything_and_writes_nothing(graph: Graph, chain: Chain) -> None:
    answer = await run_import(graph, good_csv(chain).encode(), "plant.csv", dry=True)
    assert answer == {
        "written": False,
        "dryRun": True,
        "lots": 2,
        "transformations": 2,
        "shipments": 1,
        "newLots": 2,
        "errors": [],
    }
    assert await graph_state(graph) == []


async def test_only_editors_and_admins_import_and_only_for_their_firm(graph: Graph, chain: Chain) -> None:
    content = good_csv(chain).encode()
    viewer = await execute(graph, IMPORT, principal("plant", Role.VIEWER), {"file": upload(content, "p.csv")})
    assert codes(viewer) == ["FORBIDDEN"]
    # the rival's editor imports the plant's rows as its own: the plant's site and the soybean lot refuse it
    rival = await run_import(graph, content, "p.csv", firm="rival")
    assert rival["written"] is False
    assert {(e["row"], e["column"], e["code"]) for e in rival["errors"]} >= {
        (2, "site_gln", "FORBIDDEN"),
        (4, "lot_id", "FORBIDDEN"),
    }
    assert await graph_state(graph) == []


async def test_a_file_that_is_not_a_spreadsheet(graph: Graph, chain: Chain) -> None:
    not_xlsx = await run_import(graph, b"PK\x03\x04 not really a zip", "lots.xlsx")
    assert not_xlsx["errors"] == [
        {
            "sheet": None,
            "row": None,
            "column": None,
            "code": "BAD_USER_INPUT",
            "message": "the file is not a readable XLSX workbook (BadZipFile)",
        }
    ]
    no_kind = await run_import(graph, b"lot_id,quantity\nx,1\n", "lots.csv")
    assert [e["message"] for e in no_kind["errors"]] == [
        "the file has no 'record' column (lot, transformation or shipment on each row); in an XLSX file a sheet "
        "named lots, transformations or shipments needs none"
    ]
    unknown = await execute(graph, IMPORT, principal("plant", Role.EDITOR), {"file": upload(b"x", "lots.pdf")})
    assert codes(unknown) == ["BAD_USER_INPUT"]


def test_hub_import_writes_the_file_for_the_firm(
    graph: Graph,
    chain: Chain,
    neo4j_server: tuple[str, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    uri, user, password = neo4j_server
    for name, value in {
        "HUB_NEO4J_URI": uri,
        "HUB_NEO4J_USER": user,
        "HUB_NEO4J_PASSWORD": password,
        "HUB_STATE_DIR": str(tmp_path / "state"),
    }.items():
        monkeypatch.setenv(name, value)
    bad = tmp_path / "bad.csv"
    bad.write_text(good_csv(chain).replace(",80,kg,2026-09-03T09:00:00+09:00", ",80,,2026-09-03T09:00:00+09:00"))
    assert hub_cli(["import", str(bad), "--firm", "plant"]) == 1
    err = capsys.readouterr().err
    b = lgtin_for(chain.tofu_gtin, "TOFU-B")
    assert err.splitlines() == [
        "BAD_USER_INPUT: row 3, column uom: empty: this cell is needed",
        f"BAD_USER_INPUT: row 7, column lot_id: lot {b} is on row 3, which has errors",
        f"BAD_USER_INPUT: row 9, column lot_id: lot {b} is on row 3, which has errors",
        "3 problems; nothing was written (1 lots, 2 transformations, 1 shipments read)",
    ]

    good = tmp_path / "good.csv"
    good.write_bytes(good_csv(chain).encode("cp949"))  # as Korean Excel saves a CSV
    assert hub_cli(["import", str(good), "--firm", "plant"]) == 0
    assert capsys.readouterr().out.strip() == (
        "imported: 2 lots, 2 transformations, 1 shipments; 2 lots new to the graph"
    )
    with GraphDatabase.driver(uri, auth=(user, password)) as driver:
        records, _, _ = driver.execute_query(
            "MATCH (t:Transformation {firmId: 'plant'})-[:PRODUCED]->(l:Lot) RETURN t.id AS t, l.lotNumber AS lot "
            "ORDER BY t"
        )
    assert [(r["t"], r["lot"]) for r in records] == [("T-1", "TOFU-0902"), ("T-10", "TOFU-A"), ("T-11", "TOFU-B")]
