"""The FSMA 204 export over real HTTP: a farm -> plant -> DC -> stores chain, checked row by row, CSV and XLSX."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from auth.principal import Role
from graph_schema import grants, lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import (
    FirmRecord,
    LotQuantity,
    LotRecord,
    ProductRecord,
    ShipmentRecord,
    SiteRecord,
    TransformationRecord,
)
from hub.app import create_app, open_issuer
from hub.exports import COLUMNS
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.factories import gln, gtin

pytestmark = pytest.mark.neo4j

T0 = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)
HEADERS = [english for _, english, _ in COLUMNS]


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@dataclass
class Chain:
    """farm -> plant (soybean + nigari made into tofu) -> DC -> store (received) and store2 (on its way)."""

    site: dict[str, str]
    soy_gtin: str
    nigari_gtin: str
    tofu_gtin: str

    @property
    def soy(self) -> str:
        return lgtin_for(self.soy_gtin, "SOY-0901")

    @property
    def nigari(self) -> str:
        return lgtin_for(self.nigari_gtin, "NG-0901")

    @property
    def tofu(self) -> str:
        return lgtin_for(self.tofu_gtin, "TOFU-0902")

    def tlc(self, lot: str) -> str:
        gtin_of = {self.soy: self.soy_gtin, self.nigari: self.nigari_gtin, self.tofu: self.tofu_gtin}
        return f"(01){gtin_of[lot]}(10){lot.rsplit('.', 1)[1]}"


FIRMS = {
    "farm": ("Jeju Soy Farm", "FARM", "Green Field", "FARM", "Jeju"),
    "plant": ("Hanmaum Foods", "PLANT", "Tofu Plant", "PLANT", "Chungbuk"),
    "dc": ("Cold Chain Co", "DISTRIBUTOR", "Icheon DC", "DC", None),
    "store": ("Mart One", "RETAILER", "Gangnam Store", "STORE", "Seoul"),
    "store2": ("Mart Two", "RETAILER", "Busan Store", "STORE", "Busan"),
}


@pytest.fixture
async def chain(graph: Graph) -> Chain:
    await parties.upsert_firms(graph, [FirmRecord(id=f, name=v[0], roles=[v[1]]) for f, v in FIRMS.items()])
    site = {firm: gln() for firm in FIRMS}
    await parties.upsert_sites(
        graph,
        [SiteRecord(gln=site[f], firm_id=f, name=v[2], kind=v[3], region=v[4]) for f, v in FIRMS.items()],
    )
    c = Chain(site=site, soy_gtin=gtin(), nigari_gtin=gtin(), tofu_gtin=gtin())
    await parties.upsert_products(
        graph,
        [
            ProductRecord(
                gtin=c.soy_gtin, owner_firm_id="farm", name="Soybean", name_ko="대두", category="raw", uom="kg"
            ),
            ProductRecord(
                gtin=c.nigari_gtin, owner_firm_id="plant", name="Nigari", name_ko="간수", category="additive", uom="kg"
            ),
            ProductRecord(
                gtin=c.tofu_gtin, owner_firm_id="plant", name="Firm tofu", name_ko="부침두부", category="tofu", uom="kg"
            ),
        ],
    )
    await lots.record_lots(
        graph,
        [
            LotRecord(id=c.soy, owner_firm_id="farm", site_gln=site["farm"], quantity=500, uom="kg", produced_at=T0),
            LotRecord(
                id=c.nigari,
                owner_firm_id="plant",
                site_gln=site["plant"],
                quantity=20,
                uom="kg",
                produced_at=T0 + timedelta(hours=1),
            ),
            LotRecord(
                id=c.tofu,
                owner_firm_id="plant",
                site_gln=site["plant"],
                quantity=300,
                uom="kg",
                produced_at=T0 + timedelta(days=1),
            ),
        ],
    )

    async def ship(
        shipment: str, lot: str, origin: str, to: str, qty: float, at: timedelta, received: timedelta | None, doc: str
    ) -> None:
        doc_type, doc_number = doc.split(" ")
        await lots.record_shipments(
            graph,
            [
                ShipmentRecord(
                    id=shipment,
                    from_gln=site[origin],
                    to_gln=site[to],
                    shipped_at=T0 + at,
                    received_at=T0 + received if received is not None else None,
                    doc_type=doc_type,
                    doc_number=doc_number,
                    items=[LotQuantity(lot_id=lot, quantity=qty, uom="kg")],
                )
            ],
            shipper_firm_id=origin,
        )

    await ship("SH-1", c.soy, "farm", "plant", 500, timedelta(hours=2), timedelta(hours=5), "DESADV D-1")
    await lots.record_transformations(
        graph,
        [
            TransformationRecord(
                id="TR-1",
                firm_id="plant",
                site_gln=site["plant"],
                occurred_at=T0 + timedelta(days=1),
                inputs=[
                    LotQuantity(lot_id=c.soy, quantity=150, uom="kg"),
                    LotQuantity(lot_id=c.nigari, quantity=5, uom="kg"),
                ],
                outputs=[LotQuantity(lot_id=c.tofu, quantity=300, uom="kg")],
            )
        ],
    )
    await ship("SH-2", c.tofu, "plant", "dc", 200, timedelta(days=2), timedelta(days=2, hours=3), "BOL B-7")
    await ship("SH-3", c.tofu, "dc", "store", 120, timedelta(days=3), timedelta(days=3, hours=2), "DESADV D-9")
    await ship("SH-4", c.tofu, "dc", "store2", 50, timedelta(days=3, hours=1), None, "DESADV D-10")
    # the DC opens its trace records to the plant, so the plant sees the whole chain downstream
    await grants.create_grant(
        graph,
        {
            "id": "g-dc-plant",
            "ownerFirmId": "dc",
            "scope": "TRACE",
            "level": "DETAIL",
            "toFirmId": "plant",
            "toRole": None,
            "toCluster": False,
            "until": None,
            "createdAt": T0,
        },
    )
    return c


def token(settings: Settings, firm: str, *roles: Role) -> dict[str, str]:
    minted = open_issuer(settings).mint(subject=f"e2e:{firm}", firm_id=firm, roles=list(roles or [Role.VIEWER]))
    return {"Authorization": f"Bearer {minted}"}


def export(base_url: str, headers: dict[str, str], **params: str) -> httpx.Response:
    return httpx.get(f"{base_url}/exports/fsma204", params=params, headers=headers, timeout=30)


async def fetch(
    base_url: str, headers: dict[str, str], path: str = "/exports/fsma204", **params: str
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        return await http.get(path, params=params or None, headers=headers)


async def graphql(base_url: str, query: str, headers: dict[str, str], **variables: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        answer: dict[str, Any] = (
            await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        ).json()
        return answer


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")  # so that Excel reads UTF-8
    reader = csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline=""))
    header, *rows = list(reader)
    assert header == HEADERS
    return [dict(zip(header, row, strict=True)) for row in rows]


PRODUCT = {"soy": "Soybean", "nigari": "Nigari", "tofu": "Firm tofu"}
MADE_BY = {"soy": "farm", "nigari": "plant", "tofu": "plant"}


def hours(n: int) -> timedelta:
    return timedelta(hours=n)


def days(n: int, extra_hours: int = 0) -> timedelta:
    return timedelta(days=n, hours=extra_hours)


def expected(
    chain: Chain,
    cte: str,
    when: timedelta,
    quantity: str,
    at: str,
    *,
    lot: str,
    depth: int,
    other: str = "",
    doc: str = "",
    inputs: str = "",
    event: str = "",
) -> dict[str, str]:
    """An expected CSV row of a lot seen in detail (``lot`` is soy, nigari or tofu; sites named by firm key)."""

    def describe(firm: str) -> str:
        name, _, site_name, _, region = FIRMS[firm]
        return ", ".join(part for part in (site_name, name, region) if part)

    lot_id = getattr(chain, lot)
    doc_type, _, doc_number = doc.rpartition(" ")
    values = {
        "Critical tracking event": cte,
        "Event date (UTC)": (T0 + when).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Traceability lot code": chain.tlc(lot_id),
        "Product description": PRODUCT[lot],
        "Quantity": quantity,
        "Unit of measure": "kg",
        "Location description": describe(at),
        "Location GLN": chain.site[at],
        "Immediate previous source or subsequent recipient": describe(other) if other else "",
        "Immediate previous source or subsequent recipient GLN": chain.site[other] if other else "",
        "Reference document type": doc_type,
        "Reference document number": doc_number,
        "Traceability lot code source": describe(MADE_BY[lot]),
        "Traceability lot code source GLN": chain.site[MADE_BY[lot]],
        "Input traceability lot codes": inputs,
        "Event id": event,
        "Lot (GS1 LGTIN)": lot_id,
        "Trace depth": str(depth),
    }
    assert list(values) == HEADERS
    return values


def full_downstream_of_soy(c: Chain) -> list[dict[str, str]]:
    """Every CTE downstream of the soybean lot, ordered by event date, as a firm seeing everything gets them."""
    inputs = "; ".join(c.tlc(lot) for lot in sorted([c.soy, c.nigari]))  # ordered by lot id
    soy, tofu = partial(expected, c, lot="soy", depth=0), partial(expected, c, lot="tofu", depth=1)
    return [
        soy("Harvesting", hours(0), "500", "farm"),
        soy("Shipping", hours(2), "500", "farm", other="plant", doc="DESADV D-1", event="SH-1"),
        soy("Receiving", hours(5), "500", "plant", other="farm", doc="DESADV D-1", event="SH-1"),
        tofu("Transformation", days(1), "300", "plant", doc="Production record TR-1", inputs=inputs, event="TR-1"),
        tofu("Shipping", days(2), "200", "plant", other="dc", doc="BOL B-7", event="SH-2"),
        tofu("Receiving", days(2, 3), "200", "dc", other="plant", doc="BOL B-7", event="SH-2"),
        tofu("Shipping", days(3), "120", "dc", other="store", doc="DESADV D-9", event="SH-3"),
        tofu("Shipping", days(3, 1), "50", "dc", other="store2", doc="DESADV D-10", event="SH-4"),
        tofu("Receiving", days(3, 2), "120", "store", other="dc", doc="DESADV D-9", event="SH-3"),
    ]  # fmt: skip


async def test_downstream_csv_has_one_row_per_cte_with_its_key_data_elements(
    graph: Graph, chain: Chain, base_url: str, settings: Settings
) -> None:
    response = await fetch(base_url, token(settings, "plant"), lot=chain.soy, direction="downstream", format="csv")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="fsma204-{chain.soy_gtin}-SOY-0901-downstream.csv"'
    )
    assert csv_rows(response) == full_downstream_of_soy(chain)


async def test_upstream_export_starts_at_the_farm_and_packing_site(
    graph: Graph, chain: Chain, base_url: str, settings: Settings
) -> None:
    rows = csv_rows(await fetch(base_url, token(settings, "plant"), lot=chain.tofu, direction="UPSTREAM"))
    # the tofu lot's ingredients at depth 1, the tofu lot at depth 0, with every shipment of each
    assert [(r["Critical tracking event"], r["Traceability lot code"], r["Trace depth"]) for r in rows] == [
        ("Harvesting", chain.tlc(chain.soy), "1"),
        ("Initial packing", chain.tlc(chain.nigari), "1"),
        ("Shipping", chain.tlc(chain.soy), "1"),
        ("Receiving", chain.tlc(chain.soy), "1"),
        ("Transformation", chain.tlc(chain.tofu), "0"),
        ("Shipping", chain.tlc(chain.tofu), "0"),
        ("Receiving", chain.tlc(chain.tofu), "0"),
        ("Shipping", chain.tlc(chain.tofu), "0"),
        ("Shipping", chain.tlc(chain.tofu), "0"),
        ("Receiving", chain.tlc(chain.tofu), "0"),
    ]
    packing = rows[1]
    assert (packing["Quantity"], packing["Location GLN"], packing["Traceability lot code source GLN"]) == (
        "20",
        chain.site["plant"],
        chain.site["plant"],
    )


async def test_xlsx_holds_the_same_rows_as_csv(graph: Graph, chain: Chain, base_url: str, settings: Settings) -> None:
    response = await fetch(base_url, token(settings, "plant"), lot=chain.soy, direction="downstream", format="xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = book["FSMA 204"]
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header == HEADERS

    def as_csv(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):  # Excel keeps no zone; the header says UTC
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    assert [dict(zip(header, [as_csv(v) for v in r], strict=True)) for r in rows] == full_downstream_of_soy(chain)
    assert isinstance(rows[0][HEADERS.index("Event date (UTC)")], datetime)  # a date Excel sorts as a date
    assert rows[0][HEADERS.index("Quantity")] == 500
    book.close()


async def test_korean_headers_and_labels(graph: Graph, chain: Chain, base_url: str, settings: Settings) -> None:
    response = await fetch(base_url, token(settings, "plant"), lot=chain.soy, direction="downstream", lang="ko")
    assert response.status_code == 200
    header, first, *_ = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert header == [korean for _, _, korean in COLUMNS]
    assert header[:4] == ["주요 추적 이벤트(CTE)", "이벤트 일시(UTC)", "추적 로트 코드(TLC)", "제품 설명"]
    assert first[:4] == ["수확", "2026-09-01T00:00:00Z", chain.tlc(chain.soy), "대두"]


async def test_sort_by_traceability_lot_code(graph: Graph, chain: Chain, base_url: str, settings: Settings) -> None:
    rows = csv_rows(await fetch(base_url, token(settings, "plant"), lot=chain.soy, direction="downstream", sort="tlc"))
    expected = sorted(full_downstream_of_soy(chain), key=lambda r: (r["Traceability lot code"], r["Event date (UTC)"]))
    assert rows == expected
    newest_first = csv_rows(
        await fetch(base_url, token(settings, "plant"), lot=chain.soy, direction="downstream", sort="-event_date")
    )
    assert [r["Event date (UTC)"] for r in newest_first] == sorted((r["Event date (UTC)"] for r in rows), reverse=True)


async def test_a_caller_without_grants_gets_every_row_but_only_its_own_data(
    graph: Graph, chain: Chain, base_url: str, settings: Settings
) -> None:
    headers = token(settings, "store")
    rows = csv_rows(await fetch(base_url, headers, lot=chain.tofu, direction="upstream"))
    # the same opaque ids as the GraphQL trace gives this caller
    trace = (
        await graphql(
            base_url,
            "query($id: ID!) { trace(lotId: $id, direction: UPSTREAM) { lots { id depth redacted } "
            "shipments { id lotId redacted } } }",
            headers,
            id=chain.tofu,
        )
    )["data"]["trace"]
    hidden_lots: dict[int, list[str]] = {0: [], 1: []}
    for lot in trace["lots"]:
        if lot["redacted"]:
            hidden_lots[lot["depth"]].append(lot["id"])
    hidden_shipments = {(s["lotId"], s["id"]) for s in trace["shipments"] if s["redacted"]}
    assert len(hidden_lots[1]) == 2
    assert len(hidden_shipments) == 3

    t = chain.tlc(chain.tofu)
    blank = dict.fromkeys(HEADERS, "")
    visible = [r for r in rows if r["Traceability lot code"] == t and r["Event date (UTC)"]]
    assert [(r["Critical tracking event"], r["Event id"], r["Quantity"]) for r in visible] == [
        ("Transformation", "TR-1", "300"),
        ("Shipping", "SH-3", "120"),
        ("Receiving", "SH-3", "120"),
    ]
    transformation = visible[0]
    # its inputs are other firms' lots the store may not see: named by their opaque ids only
    assert sorted(transformation["Input traceability lot codes"].split("; ")) == sorted(hidden_lots[1])
    redacted = [r for r in rows if r not in visible]
    assert sorted(redacted, key=lambda r: (r["Lot (GS1 LGTIN)"], r["Event id"])) == sorted(
        [
            # the tofu lot's shipments between other firms: the event without its data
            *(
                {**blank, "Critical tracking event": "Shipping", "Traceability lot code": t, "Product description":
                 "Firm tofu", "Traceability lot code source": "Tofu Plant, Hanmaum Foods, Chungbuk",
                 "Traceability lot code source GLN": chain.site["plant"], "Event id": shipment, "Lot (GS1 LGTIN)":
                 chain.tofu, "Trace depth": "0"}
                for lot_id, shipment in hidden_shipments if lot_id == chain.tofu
            ),
            # the ingredient lots: an opaque id and the depth, nothing else
            *(
                {**blank, "Critical tracking event": "Redacted", "Traceability lot code": lot, "Lot (GS1 LGTIN)": lot,
                 "Trace depth": "1"}
                for lot in hidden_lots[1]
            ),
            *(
                {**blank, "Critical tracking event": "Shipping", "Traceability lot code": lot_id, "Event id": shipment,
                 "Lot (GS1 LGTIN)": lot_id, "Trace depth": "1"}
                for lot_id, shipment in hidden_shipments if lot_id != chain.tofu
            ),
        ],
        key=lambda r: (r["Lot (GS1 LGTIN)"], r["Event id"]),
    )  # fmt: skip
    text = "\n".join(",".join(r.values()) for r in rows)
    for secret in (chain.tlc(chain.soy), chain.tlc(chain.nigari), chain.site["farm"], chain.site["store2"]):
        assert secret not in text
    for document in ("D-1", "B-7", "D-10", "Soybean", "Nigari", "Green Field", "Busan"):
        assert document not in text


async def test_the_export_is_in_the_owners_access_log(
    graph: Graph, chain: Chain, base_url: str, settings: Settings
) -> None:
    log = "{ accessLog(first: 100) { edges { node { accessorFirmId operation recordCount } } } }"

    async def entries(firm: str) -> list[dict[str, Any]]:
        answer = await graphql(base_url, log, token(settings, firm, Role.ADMIN))
        return [
            edge["node"]
            for edge in answer["data"]["accessLog"]["edges"]
            if edge["node"]["operation"] == "GET /exports/fsma204"
        ]

    before = {firm: len(await entries(firm)) for firm in ("farm", "dc", "store")}
    assert (await fetch(base_url, token(settings, "plant"), lot=chain.soy, direction="downstream")).status_code == 200
    after = {firm: await entries(firm) for firm in ("farm", "dc", "store")}
    # newest first: the farm's harvest and shipping rows, the DC's receipt and two shipments, the store's receipt
    assert after["farm"][0] == {"accessorFirmId": "plant", "operation": "GET /exports/fsma204", "recordCount": 2}
    assert after["dc"][0] == {"accessorFirmId": "plant", "operation": "GET /exports/fsma204", "recordCount": 3}
    assert after["store"][0] == {"accessorFirmId": "plant", "operation": "GET /exports/fsma204", "recordCount": 1}
    assert {firm: len(found) - before[firm] for firm, found in after.items()} == {"farm": 1, "dc": 1, "store": 1}


async def test_the_graphql_link_downloads_the_export(
    graph: Graph, chain: Chain, base_url: str, settings: Settings
) -> None:
    headers = token(settings, "plant")
    answer = await graphql(
        base_url,
        "query($id: ID!) { fsma204Export(lotId: $id, direction: DOWNSTREAM, format: XLSX, lang: KO) }",
        headers,
        id=chain.soy,
    )
    link = answer["data"]["fsma204Export"]
    assert link == (f"/exports/fsma204?lot={chain.soy.replace(':', '%3A')}&direction=downstream&format=xlsx&lang=ko")
    response = await fetch(base_url, headers, link)
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    assert next(book["FSMA 204"].iter_rows(values_only=True))[0] == "주요 추적 이벤트(CTE)"
    book.close()

    hidden = await graphql(
        base_url,
        "query($id: ID!) { fsma204Export(lotId: $id, direction: UPSTREAM) }",
        token(settings, "store2"),
        id=chain.nigari,
    )
    assert hidden["data"] is None
    assert hidden["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not.a.token"}])
async def test_without_a_valid_token_401_and_no_data(
    graph: Graph, chain: Chain, base_url: str, headers: dict[str, str]
) -> None:
    response = await fetch(base_url, headers, lot=chain.soy, direction="downstream")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert chain.tlc(chain.soy) not in response.text


async def test_unknown_and_invisible_lots_answer_404_alike(
    graph: Graph, chain: Chain, base_url: str, settings: Settings
) -> None:
    headers = token(settings, "store2")
    unknown = await fetch(base_url, headers, lot=lgtin_for(chain.soy_gtin, "NOPE"), direction="upstream")
    invisible = await fetch(base_url, headers, lot=chain.nigari, direction="upstream")
    for response in (unknown, invisible):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "NOT_FOUND"
        assert response.json()["field"] == "lot"
    for lot, response in ((lgtin_for(chain.soy_gtin, "NOPE"), unknown), (chain.nigari, invisible)):
        assert response.json()["detail"] == f"lot {lot} is not recorded, or not visible to your firm"
    # the lot shipped to store2 is one it may export: one step back
    assert (await fetch(base_url, headers, lot=chain.tofu, direction="upstream")).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lot": "8801234000017-SOY", "direction": "downstream"}, "lot"),
        ({"direction": "downstream"}, "lot"),
        ({"lot": "LOT", "direction": "sideways"}, "lot"),
        ({"direction": "sideways"}, "lot"),
        ({"direction": "up", "lot": "urn:epc:class:lgtin:8801234.000001.A"}, "direction"),
        ({"direction": "upstream", "lot": "urn:epc:class:lgtin:8801234.000001.A", "format": "pdf"}, "format"),
        ({"direction": "upstream", "lot": "urn:epc:class:lgtin:8801234.000001.A", "sort": "price"}, "sort"),
        ({"direction": "upstream", "lot": "urn:epc:class:lgtin:8801234.000001.A", "maxDepth": "99"}, "maxDepth"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    base_url: str, settings: Settings, params: dict[str, str], field: str
) -> None:
    response = export(base_url, token(settings, "plant"), **params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (response.json()["code"], response.json()["field"]) == ("BAD_USER_INPUT", field)


async def test_a_spreadsheet_uploaded_over_http_shows_in_the_export(
    graph: Graph, chain: Chain, base_url: str, settings: Settings
) -> None:
    tofu_c = lgtin_for(chain.tofu_gtin, "TOFU-C")
    sheet = "\n".join(
        [
            "record,id,lot_id,role,site_gln,from_gln,to_gln,quantity,uom,occurred_at,produced_at,shipped_at,doc_type,"
            "doc_number",
            f"lot,,{tofu_c},,{chain.site['plant']},,,40,kg,,2026-09-05T08:00:00+09:00,,,",
            f"transformation,TR-2,{chain.soy},input,{chain.site['plant']},,,20,kg,2026-09-05T08:00:00+09:00,,,,",
            f"transformation,TR-2,{tofu_c},output,,,,40,kg,,,,,",
            f"shipment,SH-5,{tofu_c},,,{chain.site['plant']},{chain.site['dc']},40,kg,,,2026-09-06T07:00:00+09:00,"
            "DESADV,D-55",
        ]
    )
    operations = {
        "query": "mutation($file: Upload!) { importSpreadsheet(file: $file) { written newLots errors { message } } }",
        "variables": {"file": None},
    }
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        response = await http.post(
            "/graphql",
            data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
            files={"0": ("september.csv", sheet.encode(), "text/csv")},
            headers=token(settings, "plant", Role.EDITOR),
        )
    assert response.json() == {"data": {"importSpreadsheet": {"written": True, "newLots": 1, "errors": []}}}

    rows = csv_rows(await fetch(base_url, token(settings, "plant"), lot=chain.soy, direction="downstream"))
    mine = [r for r in rows if r["Traceability lot code"] == f"(01){chain.tofu_gtin}(10)TOFU-C"]
    assert [
        (r["Critical tracking event"], r["Event date (UTC)"], r["Quantity"], r["Location GLN"], r["Event id"])
        for r in mine
    ] == [
        ("Transformation", "2026-09-04T23:00:00Z", "40", chain.site["plant"], "TR-2"),
        ("Shipping", "2026-09-05T22:00:00Z", "40", chain.site["plant"], "SH-5"),
    ]
    assert mine[1]["Reference document number"] == "D-55"


async def test_no_access_log_no_file(
    graph: Graph, chain: Chain, base_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("the SQL store is full")

    temporary = set(Path(tempfile.gettempdir()).glob("fsma204-*"))
    monkeypatch.setattr("hub.exports.record_access", broken)
    response = await fetch(base_url, token(settings, "plant"), lot=chain.soy, direction="downstream")
    assert response.status_code == 503
    assert response.json()["code"] == "UNAVAILABLE"
    assert chain.tlc(chain.soy) not in response.text
    # the plant's own lot alone discloses nobody else's records: nothing to log, the file is sent
    own = await fetch(base_url, token(settings, "plant"), lot=chain.nigari, direction="upstream")
    assert own.status_code == 200
    assert [r["Critical tracking event"] for r in csv_rows(own)] == ["Initial packing"]
    # no file left behind (the sent one is removed once the response is out, so give that a moment)
    for _ in range(50):
        if set(Path(tempfile.gettempdir()).glob("fsma204-*")) == temporary:
            break
        await asyncio.sleep(0.1)
    assert set(Path(tempfile.gettempdir()).glob("fsma204-*")) == temporary
