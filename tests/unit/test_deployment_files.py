"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine), so they are checked by reading."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from hub.neo4j_local import NEO4J_VERSION, LocalNeo4jConfig, render_config
from hub.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_the_same_neo4j_version_as_the_local_server() -> None:
    assert compose()["services"]["neo4j"]["image"] == f"neo4j:{NEO4J_VERSION}-community"


def test_compose_hub_settings_are_valid_hub_settings() -> None:
    """Every HUB_ variable the compose file sets is a setting the hub knows, and production accepts them."""
    env = compose()["services"]["hub"]["environment"]
    fields = {f"HUB_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, set(env) - fields
    assert env["HUB_NEO4J_URI"].startswith("neo4j://")  # routing scheme: a cluster works unchanged
    resolved = {key: re.sub(r"\$\{[^}]+\}", "x", str(value)) for key, value in env.items()}
    settings = Settings.model_validate({key.removeprefix("HUB_").lower(): value for key, value in resolved.items()})
    assert settings.env.value == "production"


def test_compose_secrets_come_from_the_environment_not_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("NEO4J_PASSWORD", "POSTGRES_PASSWORD", "HUB_REDACTION_SECRET"):
        assert f"${{{name}:?" in text
    assert not re.search(r"PASSWORD:\s*['\"]?[A-Za-z0-9]{6,}['\"]?\s*$", text, re.MULTILINE)


def test_compose_services_wait_for_healthy_dependencies_and_bind_loopback() -> None:
    services = compose()["services"]
    assert services["hub"]["depends_on"]["neo4j"]["condition"] == "service_healthy"
    for service in services.values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), port


def test_dockerfile_copies_every_package_and_serves_the_hub() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for package in ("hub", "graph_schema", "resolvers", "auth", "seed"):
        assert f"COPY {package} ./{package}" in text
    assert 'CMD ["hub", "serve"]' in text
    assert "USER hub" in text


def test_compose_neo4j_has_the_transaction_timeout_of_the_local_launcher(tmp_path: Path) -> None:
    env = compose()["services"]["neo4j"]["environment"]
    # the image's convention: NEO4J_ + the setting with dots as _ and underscores doubled
    compose_timeout = env["NEO4J_db_transaction_timeout"]
    local = dict(
        line.split("=", 1) for line in render_config(LocalNeo4jConfig(home=tmp_path)).splitlines() if "=" in line
    )
    assert compose_timeout == local["db.transaction.timeout"] == f"{Settings().neo4j_transaction_timeout_seconds}s"


def test_dockerfile_builds_the_portal_from_its_lock_and_points_the_hub_at_it() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "COPY portal/package.json portal/package-lock.json ./" in text
    assert "RUN npm ci " in text  # the lock file's exact packages, never a fresh resolution
    copied = re.search(r"COPY --from=portal /portal/dist (\S+)", text)
    assert copied is not None
    workdir = re.findall(r"^WORKDIR (\S+)$", text, re.MULTILINE)[-1]  # the hub's stage
    portal_dir = re.search(r"HUB_PORTAL_DIR=(\S+)", text)
    assert portal_dir is not None
    assert Path(portal_dir.group(1)) == Path(workdir) / copied.group(1)
    assert "portal_dir" in Settings.model_fields
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {"portal/node_modules", "portal/dist", ".local", ".venv"} <= set(ignored)


def test_dockerfile_puts_the_pinned_epcis_xsds_where_the_hub_looks() -> None:
    from hub import epcis_xsd

    text = (ROOT / "Dockerfile").read_text()
    group, _, artifact = epcis_xsd.ARTIFACT.partition(":")
    assert f"{group.replace('.', '/')}/{artifact}/{epcis_xsd.VERSION}/{artifact}-{epcis_xsd.VERSION}.jar" in text
    assert f"hashlib.sha256(jar).hexdigest() == '{epcis_xsd.JAR_SHA256}'" in text
    copied = re.search(r"COPY --from=epcis-xsd /epcis-xsd (\S+)", text)
    assert copied is not None
    workdir = re.findall(r"^WORKDIR (\S+)$", text, re.MULTILINE)[-1]
    xsd_dir = re.search(r"HUB_EPCIS_XSD_DIR=(\S+)", text)
    assert xsd_dir is not None
    assert Path(xsd_dir.group(1)) == Path(workdir) / copied.group(1)
    assert "(out / '.complete')" in text  # taken as fetched: the image has no Maven to fetch with
