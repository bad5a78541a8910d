"""Settings fail fast on bad values and refuse missing secrets in production."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from hub.settings import Environment, Settings


def test_defaults_serve_loopback_with_graphiql_in_development() -> None:
    settings = Settings()
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.uses_local_neo4j
    assert settings.graphiql_enabled
    assert settings.database_url.startswith("sqlite:///")


def test_production_names_every_missing_secret() -> None:
    with pytest.raises(ValidationError) as raised:
        Settings(env=Environment.PRODUCTION)
    message = str(raised.value)
    for name in ("HUB_NEO4J_URI", "HUB_NEO4J_PASSWORD", "HUB_REDACTION_SECRET", "HUB_SQL_URL"):
        assert name in message
    assert not Settings(
        env=Environment.PRODUCTION,
        neo4j_uri="neo4j://db:7687",
        neo4j_password="p" * 12,
        redaction_secret="s" * 32,
        sql_url="postgresql+psycopg://h/db",
    ).graphiql_enabled


@pytest.mark.parametrize(("name", "value"), [("HUB_PORT", "0"), ("HUB_NEO4J_HEAP", "lots"), ("HUB_ENV", "staging")])
def test_bad_environment_values_fail_at_start_up(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("HUB_").lower()):
        Settings()
