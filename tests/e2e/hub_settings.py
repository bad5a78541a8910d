"""Settings of a hub under test: the session's Neo4j, a fresh state folder, a free loopback port."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hub.server import free_port
from hub.settings import Environment, Settings


def hub_settings(neo4j_server: tuple[str, str, str], state_dir: Path, **overrides: Any) -> Settings:
    """Settings for a hub served by a test; ``overrides`` set any other field."""
    uri, user, password = neo4j_server
    fields: dict[str, Any] = {
        "env": Environment.TEST,
        "port": free_port(),
        "state_dir": state_dir,
        "neo4j_uri": uri,
        "neo4j_user": user,
        "neo4j_password": password,
        **overrides,
    }
    return Settings.model_validate(fields)
