"""The recall report and the access log CSV over real HTTP with real tokens: who gets them, and what is in them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import openpyxl
import pytest
from sqlmodel import Session, create_engine

from auth.audit import AccessLogEntry
from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app, open_issuer
from hub.server import serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.integration import test_recall_workflow as workflow
from tests.integration.test_recall_workflow import Recipe

pytestmark = pytest.mark.neo4j
recipe = workflow.recipe  # the recall workflow's chain, as a fixture of this module

DECLARE = """mutation($lots: [ID!]!) { declareRecall(input: {lotIds: $lots, reason: "Listeria", recallClass: I}) {
  id reportLink(lang: KO) } }"""


@pytest.fixture(scope="module")
def settings(neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return hub_settings(neo4j_server, tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def base_url(settings: Settings) -> Iterator[str]:
    with serve_in_thread(create_app(settings), port=settings.port) as url:
        yield url


def token(settings: Settings, firm: str, *roles: Role) -> dict[str, str]:
    minted = open_issuer(settings).mint(subject=f"e2e:{firm}", firm_id=firm, roles=list(roles or [Role.VIEWER]))
    return {"Authorization": f"Bearer {minted}"}


async def test_the_recall_report_is_the_coordinator_s(
    graph: Graph, recipe: Recipe, settings: Settings, base_url: str
) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        declared = (
            await http.post(
                "/graphql",
                json={"query": DECLARE, "variables": {"lots": [recipe.lot["M1"]]}},
                headers=token(settings, "plant", Role.RECALL_COORDINATOR),
            )
        ).json()["data"]["declareRecall"]
        link = declared["reportLink"]
        assert link == f"/exports/recall-report?recall={declared['id']}&lang=ko"
        report = await http.get(link, headers=token(settings, "plant"))
        assert report.status_code == 200, report.text
        book = openpyxl.load_workbook(io.BytesIO(report.content))
        assert book.sheetnames == ["요약", "경과", "수취 업체", "영향 로트", "물질수지", "FSMA 204"]
        # a consignee reads the recall but not the report of every firm's answers; no token, no report
        refused = await http.get(link, headers=token(settings, "dist", Role.ADMIN))
        assert refused.status_code == 404
        assert refused.json()["code"] == "NOT_FOUND"
        assert (await http.get(link)).status_code == 401
        bad = await http.get(
            "/exports/recall-report", params={"recall": declared["id"], "lang": "fr"}, headers=token(settings, "plant")
        )
        assert bad.status_code == 400
        assert bad.json()["field"] == "lang"


async def test_the_access_log_csv_is_filtered_and_formula_safe(
    graph: Graph, recipe: Recipe, settings: Settings, base_url: str
) -> None:
    engine = create_engine(settings.database_url)
    with Session(engine) as session:
        for accessor, operation, day in (("dist", "=HYPERLINK(1)", 1), ("retail", "trace", 2)):
            session.add(
                AccessLogEntry(
                    at=datetime(2026, 10, day, tzinfo=UTC),
                    owner_firm_id="plant",
                    accessor_firm_id=accessor,
                    accessor_subject=f"e2e:{accessor}",
                    operation=operation,
                    record_count=day,
                )
            )
        session.commit()
    engine.dispose()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        answer = await http.get(
            "/exports/access-log", headers=token(settings, "plant", Role.AUDITOR), params={"accessorFirmId": "dist"}
        )
        assert answer.status_code == 200, answer.text
        assert answer.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        assert [row[2:] for row in rows[1:]] == [["dist", "e2e:dist", "'=HYPERLINK(1)", "1"]]
        assert (await http.get("/exports/access-log", headers=token(settings, "plant"))).status_code == 403
        bad = await http.get(
            "/exports/access-log", headers=token(settings, "plant", Role.ADMIN), params={"since": "yesterday"}
        )
        assert bad.status_code == 400
        assert bad.json()["field"] == "since"
