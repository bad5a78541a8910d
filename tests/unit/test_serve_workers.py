"""`hub serve --workers N`: N processes that each build the app for the host and port the command was given."""

from __future__ import annotations

import os
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

from hub import cli


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append((app, options)))
    for name in ("HUB_HOST", "HUB_PORT"):  # set, then removed: the test's end restores whatever was there
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    return calls


def test_workers_build_the_app_from_the_commands_host_and_port(served: list[tuple[Any, dict[str, Any]]]) -> None:
    assert cli.main(["serve", "--port", "8123", "--host", "127.0.0.2", "--workers", "2"]) == 0
    [(app, options)] = served
    assert app == "hub.app:create_app"
    assert options["factory"] is True
    assert options["workers"] == 2
    assert (options["host"], options["port"]) == ("127.0.0.2", 8123)
    # what each worker's Settings() reads, so that its issuer URL is the one tokens were minted for
    assert (os.environ["HUB_HOST"], os.environ["HUB_PORT"]) == ("127.0.0.2", "8123")


def test_one_worker_serves_the_app_built_here(served: list[tuple[Any, dict[str, Any]]]) -> None:
    assert cli.main(["serve", "--port", "8124"]) == 0
    [(app, options)] = served
    assert isinstance(app, Starlette)
    assert options["port"] == 8124
    assert "workers" not in options
