"""Two hub processes sharing one SQL store: a firm's rate holds for both together."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from auth.principal import Role
from graph_schema.db import Graph
from hub.app import create_app, open_issuer
from hub.server import free_port, serve_in_thread
from hub.settings import Settings
from tests.e2e.hub_settings import hub_settings
from tests.factories import register_firms

pytestmark = pytest.mark.neo4j

# 0.01 request a second and a burst of 5: each process's own bucket allows 5 at once; one 30-second window
# allows 0.01 x 30 + 5 = 5.3 for every process together (a window that long: a busy machine's slow requests must
# not see it start afresh halfway)
WINDOW = 30
LIMITS = {"rate_limit_firm_per_second": 0.01, "rate_limit_firm_burst": 5, "rate_limit_window_seconds": WINDOW}


@pytest.fixture(scope="module", params=[True, False], ids=["shared", "per-process"])
def hubs(
    request: pytest.FixtureRequest, neo4j_server: tuple[str, str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[bool, Settings, str, str]]:
    state = tmp_path_factory.mktemp("state")
    issuer = f"http://127.0.0.1:{free_port()}"
    first, second = (
        hub_settings(neo4j_server, state, issuer_url=issuer, rate_limit_shared=request.param, **LIMITS)
        for _ in range(2)
    )
    with (
        serve_in_thread(create_app(first), port=first.port) as a,
        serve_in_thread(create_app(second), port=second.port) as b,
    ):
        yield request.param, first, a, b


def statuses(base: str, token: str, count: int) -> list[int]:
    return [
        httpx.post(
            f"{base}/graphql", json={"query": "{ me { firmId } }"}, headers={"Authorization": f"Bearer {token}"}
        ).status_code
        for _ in range(count)
    ]


async def test_a_firms_rate_holds_across_hub_processes(hubs: tuple[bool, Settings, str, str], graph: Graph) -> None:
    shared, settings, hub_a, hub_b = hubs
    await register_firms(graph, ["plant"])
    tokens = [
        open_issuer(settings).mint(subject=f"app-{n}", firm_id="plant", roles=[Role.VIEWER]) for n in range(10)
    ]  # a client each: only the firm's rate is in play
    into_window = time.time() % WINDOW
    if into_window > WINDOW / 2:  # start early in a window: the counts must not start afresh halfway
        await asyncio.sleep(WINDOW - into_window)
    first = [status for token in tokens[:5] for status in statuses(hub_a, token, 1)]
    await asyncio.sleep(0.8)  # more than one flush of both processes
    second = [status for token in tokens[5:] for status in statuses(hub_b, token, 1)]
    assert first == [200] * 5
    if shared:
        assert second == [429] * 5  # hub B knows hub A's five: none left in the window
    else:  # the control: each process allows the whole rate
        assert second == [200] * 5
