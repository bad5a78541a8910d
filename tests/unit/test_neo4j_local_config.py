"""The neo4j.conf and java command line that hub.neo4j_local writes, checked without starting a server."""

import stat
from pathlib import Path

import pytest

from hub.neo4j_local import NEO4J_VERSION, LocalNeo4j, LocalNeo4jConfig, launch_args, render_config


def settings(config: LocalNeo4jConfig) -> dict[str, str]:
    text = render_config(config)
    pairs = [line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")]
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys)), "a key written twice would make Neo4j keep only one of them"
    return dict(pairs)


def test_bolt_listens_and_advertises_on_loopback_only(tmp_path: Path) -> None:
    conf = settings(LocalNeo4jConfig(home=tmp_path / "home", bolt_port=7799))
    assert conf["server.default_listen_address"] == "127.0.0.1"
    assert conf["server.bolt.listen_address"] == "127.0.0.1:7799"
    assert conf["server.bolt.advertised_address"] == "127.0.0.1:7799"
    assert conf["server.https.enabled"] == "false"


def test_http_is_off_without_a_port(tmp_path: Path) -> None:
    conf = settings(LocalNeo4jConfig(home=tmp_path / "home"))
    assert conf["server.http.enabled"] == "false"
    assert "server.http.listen_address" not in conf


def test_http_is_on_loopback_when_a_port_is_given(tmp_path: Path) -> None:
    conf = settings(LocalNeo4jConfig(home=tmp_path / "home", bolt_port=7799, http_port=7798))
    assert conf["server.http.enabled"] == "true"
    assert conf["server.http.listen_address"] == "127.0.0.1:7798"
    assert conf["server.http.advertised_address"] == "127.0.0.1:7798"


def test_memory_defaults_fit_the_24_gib_machine(tmp_path: Path) -> None:
    conf = settings(LocalNeo4jConfig(home=tmp_path / "home"))
    assert conf["server.memory.heap.initial_size"] == "2g"
    assert conf["server.memory.heap.max_size"] == "2g"
    assert conf["server.memory.pagecache.size"] == "2g"


def test_memory_is_overridable_and_reaches_the_jvm(tmp_path: Path) -> None:
    config = LocalNeo4jConfig(home=tmp_path / "home", heap="512m", pagecache="256m")
    conf = settings(config)
    assert conf["server.memory.heap.max_size"] == "512m"
    assert conf["server.memory.pagecache.size"] == "256m"
    args = launch_args(config, tmp_path / "lib")
    assert "-Xms512m" in args
    assert "-Xmx512m" in args


def test_policy_settings(tmp_path: Path) -> None:
    conf = settings(LocalNeo4jConfig(home=tmp_path / "home"))
    assert conf["dbms.security.auth_enabled"] == "true"
    assert conf["db.transaction.timeout"] == "120s"
    assert conf["dbms.usage_report.enabled"] == "false"


def test_everything_lives_under_home_and_jars_are_shared_beside_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    conf = settings(LocalNeo4jConfig(home=home))
    for key, sub in [("data", "data"), ("logs", "logs"), ("run", "run"), ("plugins", "plugins")]:
        assert conf[f"server.directories.{key}"] == str(home / sub)
    assert conf["server.directories.transaction.logs.root"] == str(home / "data" / "transactions")
    assert conf["server.directories.lib"] == str(tmp_path / f"neo4j-lib-{NEO4J_VERSION}")


def test_a_relative_home_is_written_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    conf = settings(LocalNeo4jConfig(home=Path(".local/neo4j"), jar_cache=Path("jars")))
    assert conf["server.directories.data"] == str(tmp_path / ".local" / "neo4j" / "data")
    assert conf["server.directories.lib"] == str(tmp_path / "jars")


def test_extra_settings_come_last(tmp_path: Path) -> None:
    config = LocalNeo4jConfig(home=tmp_path, extra_settings=("dbms.security.procedures.unrestricted=apoc.*",))
    assert render_config(config).splitlines()[-1] == "dbms.security.procedures.unrestricted=apoc.*"


def test_launch_args_run_the_community_entry_point_on_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    args = launch_args(LocalNeo4jConfig(home=home), tmp_path / "lib")
    assert args[args.index("-cp") + 1] == f"{tmp_path / 'lib'}/*"
    assert args[-3:] == [
        "org.neo4j.server.CommunityEntryPoint",
        f"--home-dir={home}",
        f"--config-dir={home / 'conf'}",
    ]


def test_plugins_go_on_the_classpath_ahead_of_the_server_jars(tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = LocalNeo4jConfig(home=home, plugins=(tmp_path / "apoc-core.jar",))
    args = launch_args(config, tmp_path / "lib")
    # APOC registers a kernel extension that the procedure loader alone never sees: the JVM must load it.
    assert args[args.index("-cp") + 1] == f"{home / 'plugins'}/*:{tmp_path / 'lib'}/*"
    assert settings(config)["server.directories.plugins"] == str(home / "plugins")


@pytest.mark.parametrize(
    ("heap", "bolt_port", "http_port"),
    [("2 GB", 7799, None), ("2g", 7799, 7799), ("2g", 0, None), ("2g", 7799, 70000)],
)
def test_bad_configs_are_refused(tmp_path: Path, heap: str, bolt_port: int, http_port: int | None) -> None:
    with pytest.raises(ValueError, match="must"):
        LocalNeo4jConfig(home=tmp_path, heap=heap, bolt_port=bolt_port, http_port=http_port)


def test_password_is_generated_once_and_private(tmp_path: Path) -> None:
    server = LocalNeo4j(LocalNeo4jConfig(home=tmp_path / "home"))
    first = server.password
    assert len(first) >= 16
    assert server.password == first
    assert LocalNeo4j(LocalNeo4jConfig(home=tmp_path / "home")).password == first
    assert stat.S_IMODE((tmp_path / "home" / "password").stat().st_mode) == 0o600


def test_status_of_a_home_that_never_ran(tmp_path: Path) -> None:
    status = LocalNeo4j(LocalNeo4jConfig(home=tmp_path / "home", bolt_port=7799)).status()
    assert not status.running
    assert status.pid is None
    assert status.uri == "bolt://127.0.0.1:7799"
