"""GET /imports/template over HTTP: who may download it, what it lists, and what a bad request is told."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import openpyxl
import pytest

from auth.principal import Role
from graph_schema import parties
from graph_schema.db import Graph
from graph_schema.records import FirmRecord, SiteRecord
from graph_schema.spreadsheet import SpreadsheetFormat, parse_spreadsheet
from graph_schema.spreadsheet_template import INSTRUCTIONS_SHEET, TemplateLanguage
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.factories import gln

pytestmark = pytest.mark.neo4j

EVIL = '=HYPERLINK("https://evil.example","x")'


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


@pytest.fixture
async def sites(graph: Graph) -> dict[str, str]:
    """A maker with a site named like a formula, and a rival with a site of its own."""
    own, rival = gln(), gln()
    await parties.upsert_firms(
        graph,
        [
            FirmRecord(id="tmpl-maker", name="Maker", roles=["PLANT"]),
            FirmRecord(id="tmpl-rival", name="Rival", roles=["PLANT"]),
        ],
    )
    await parties.upsert_sites(
        graph,
        [
            SiteRecord(gln=own, firm_id="tmpl-maker", name=EVIL, kind="PLANT", region=None),
            SiteRecord(gln=rival, firm_id="tmpl-rival", name="Rival plant", kind="PLANT", region=None),
        ],
    )
    return {"own": own, "rival": rival}


def get(
    base_url: str, settings: Settings, query: str, *, firm: str = "tmpl-maker", role: Role = Role.EDITOR
) -> httpx.Response:
    token = open_issuer(settings).mint(subject="person", firm_id=firm, roles=[role])
    return httpx.get(f"{base_url}/imports/template{query}", headers={"Authorization": f"Bearer {token}"}, timeout=60)


def test_the_korean_template_lists_the_callers_own_sites_only_and_reads_back(
    base_url: str, settings: Settings, sites: dict[str, str]
) -> None:
    response = get(base_url, settings, "?lang=ko&format=xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="import-template-ko.xlsx"' in response.headers["content-disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["#작성방법", "로트", "가공", "출하"]
    cells = [c.value for row in book[INSTRUCTIONS_SHEET[TemplateLanguage.KO]].iter_rows() for c in row]
    assert sites["own"] in cells
    assert "'" + EVIL in cells  # the site's name, made inert
    assert sites["rival"] not in cells
    assert "Rival plant" not in cells
    parsed = parse_spreadsheet(response.content, format=SpreadsheetFormat.XLSX, firm_id="tmpl-maker")
    assert [e.message for e in parsed.errors] == ["the file has no data rows"]


def test_the_english_csv_template_is_its_header_row(base_url: str, settings: Settings) -> None:
    response = get(base_url, settings, "?lang=en&format=csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.decode("utf-8-sig").splitlines()[0].startswith("record,id,lot_id,role,site_gln")


def test_without_a_token_a_viewer_or_a_bad_parameter_nothing_is_sent(base_url: str, settings: Settings) -> None:
    assert httpx.get(f"{base_url}/imports/template", timeout=60).status_code == 401
    viewer = get(base_url, settings, "", role=Role.VIEWER)
    assert viewer.status_code == 403
    assert viewer.json()["code"] == "FORBIDDEN"
    for query, field in (("?lang=fr", "lang"), ("?format=ods", "format"), ("?lang=%3DA1", "lang")):
        bad = get(base_url, settings, query)
        assert bad.status_code == 400, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert (bad.json()["code"], bad.json()["field"]) == ("BAD_USER_INPUT", field)
