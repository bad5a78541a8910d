"""A real Neo4j Community server run from Maven Central jars: no Docker, no distribution tarball."""

import contextlib
import fcntl
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from neo4j import GraphDatabase
from neo4j.exceptions import AuthError, DriverError, Neo4jError

NEO4J_VERSION: Final = "5.26.24"

_MAIN_CLASS: Final = "org.neo4j.server.CommunityEntryPoint"
_ADMIN_CLASS: Final = "org.neo4j.cli.AdminTool"  # neo4j-admin, from the same jars
_MARKER: Final = ".neo4j-lib-complete"
_TAIL_LINES: Final = 30
_INITIAL_PASSWORD: Final = "neo4j"  # noqa: S105 - Neo4j's documented factory password, replaced at once
# A subshell of its own waits for the server and records how it ended: the server is then reaped at once (not left
# a zombie that still holds the store while its threads wind down), and a failed start can say how it ended.
# The server's files (store, transaction logs, logs) are for its user only: umask 077.
_DETACH: Final = (
    'umask 077; pid_file=$1; exit_file=$2; shift 2; ( "$@" & echo $! >"$pid_file"; wait $!; echo $? >"$exit_file" ) &'
)
_LAUNCH_ATTEMPTS: Final = 2
_EXITED: Final = "exited before bolt"
_RELEASE_WAIT: Final = 30.0  # how long a predecessor winding down may keep the ports or the store
_SIZE: Final = re.compile(r"[1-9][0-9]*[kmgKMG]?")  # what both -Xmx and Neo4j's byte parser accept

# What the official launcher passes (its neo4j.conf server.jvm.additional plus its own), minus
# -XX:+AlwaysPreTouch, which touches the whole heap up front and adds seconds to every start.
# fmt: off
_JVM_OPTS: Final = (
    "-XX:+UseG1GC", "-XX:-OmitStackTraceInFastThrow", "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields", "-XX:+DisableExplicitGC", "-XX:+ExitOnOutOfMemoryError",
    "-Djdk.nio.maxCachedBufferSize=1024", "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true", "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED", "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED",
)
# fmt: on

_POM: Final = """<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local.hub</groupId><artifactId>neo4j-jars</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies><dependency>
    <groupId>org.neo4j</groupId><artifactId>neo4j</artifactId><version>{version}</version>
  </dependency></dependencies>
</project>
"""


def _file_group(paths: Path | Sequence[Path]) -> str:
    """The import tool's comma-separated file group (a comma inside a path would split it)."""
    group = [paths] if isinstance(paths, Path) else list(paths)
    names = [str(path.absolute()) for path in group]
    if not names or any("," in name for name in names):
        raise ValueError(f"import files must be named, without commas: {names}")
    return ",".join(names)


@dataclass(frozen=True)
class LocalNeo4jConfig:
    """Where and how a local server runs; defaults are sized for a 2-core 24 GiB machine."""

    home: Path
    bolt_port: int = 7687
    http_port: int | None = None
    heap: str = "2g"
    pagecache: str = "2g"
    version: str = NEO4J_VERSION
    jar_cache: Path | None = None
    plugins: tuple[Path, ...] = ()
    # A runaway query from a resolver must not hold its locks forever (the hub's requests set shorter ones).
    transaction_timeout_seconds: int = 120
    # Raw neo4j.conf lines appended last, for what a plugin such as APOC needs (procedure allow-lists).
    extra_settings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, size in (("heap", self.heap), ("pagecache", self.pagecache)):
            if not _SIZE.fullmatch(size):
                raise ValueError(f"{name} must look like 512m or 2g, got {size!r}")
        ports = [p for p in (self.bolt_port, self.http_port) if p is not None]
        if any(not 0 < p < 65536 for p in ports) or len(set(ports)) != len(ports):
            raise ValueError(f"ports must be distinct and in 1..65535, got {ports}")


@dataclass(frozen=True)
class Neo4jStatus:
    """What status() and start() report about a local server."""

    running: bool
    pid: int | None
    uri: str
    version: str
    home: Path


class Neo4jLaunchError(RuntimeError):
    """The server could not be installed, started or reached; the message says why."""


def _lib_dir(config: LocalNeo4jConfig) -> Path:
    if config.jar_cache is not None:
        return config.jar_cache.absolute()
    return config.home.absolute().parent / f"neo4j-lib-{config.version}"


def render_config(config: LocalNeo4jConfig) -> str:
    """Return the neo4j.conf text for a config."""
    home, bolt, http = config.home.absolute(), config.bolt_port, config.http_port
    http_lines = [f"server.http.{kind}_address=127.0.0.1:{http}" for kind in ("listen", "advertised")]
    lines = [
        "# Written by hub/neo4j_local.py on every start: change LocalNeo4jConfig, not this file.",
        "server.default_listen_address=127.0.0.1",
        "server.default_advertised_address=127.0.0.1",
        f"server.bolt.listen_address=127.0.0.1:{bolt}",
        # The neo4j:// routing table hands this address back to clients, so it must be reachable as is.
        f"server.bolt.advertised_address=127.0.0.1:{bolt}",
        f"server.http.enabled={'false' if http is None else 'true'}",
        *([] if http is None else http_lines),
        "server.https.enabled=false",
        f"server.memory.heap.initial_size={config.heap}",
        f"server.memory.heap.max_size={config.heap}",
        f"server.memory.pagecache.size={config.pagecache}",
        f"server.directories.data={home / 'data'}",
        f"server.directories.transaction.logs.root={home / 'data' / 'transactions'}",
        f"server.directories.logs={home / 'logs'}",
        f"server.directories.run={home / 'run'}",
        f"server.directories.import={home / 'import'}",
        f"server.directories.plugins={home / 'plugins'}",
        f"server.directories.lib={_lib_dir(config)}",
        "dbms.security.auth_enabled=true",
        f"db.transaction.timeout={config.transaction_timeout_seconds}s",
        # The network is closed: the reporter could only fail and log.
        "dbms.usage_report.enabled=false",
        # Netty otherwise idles 5 s per event loop group before a stopping server may exit; nothing is
        # lost by not waiting, as the databases are checkpointed and closed before bolt shuts down.
        "internal.dbms.bolt.netty_server_shutdown_quiet_period=0",
        *config.extra_settings,
    ]
    return "\n".join(lines) + "\n"


def launch_args(config: LocalNeo4jConfig, lib: Path) -> list[str]:
    """Return the arguments after `java` that run the server of a config from the jars in lib."""
    home = config.home.absolute()
    heap = [f"-Xms{config.heap}", f"-Xmx{config.heap}"]
    # No --console-mode: as under `neo4j start`, the server then logs to logs/neo4j.log and not to stdout.
    server = [_MAIN_CLASS, f"--home-dir={home}", f"--config-dir={home / 'conf'}"]
    # Plugins go on the classpath ahead of the server's jars, as the official launcher puts them: the procedure
    # loader alone would miss a plugin's kernel extensions (APOC's config), which fail its procedures at start.
    classpath = f"{home / 'plugins'}/*:{lib}/*" if config.plugins else f"{lib}/*"
    return [*heap, *_JVM_OPTS, "-cp", classpath, *server]


def _tcp_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The JVM binds with SO_REUSEADDR as well, so TIME_WAIT leftovers of a previous run do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _store_unlocked(home: Path) -> bool:
    """Whether no process holds the lock a running server takes on its store (Java's FileChannel.tryLock)."""
    lock = home / "data" / "databases" / "store_lock"
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return True
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    else:
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def _wait_bolt(uri: str, user: str, password: str, deadline: float, alive: Callable[[], bool]) -> None:
    parts = urlsplit(uri)
    host, port = parts.hostname or "127.0.0.1", parts.port or 7687
    last = "the port never accepted a connection"
    while True:
        if not alive():
            raise Neo4jLaunchError(f"the Neo4j process {_EXITED} at {uri} answered")
        if _tcp_open(host, port):
            try:
                with GraphDatabase.driver(uri, auth=(user, password), connection_timeout=5.0) as driver:
                    driver.verify_connectivity()
                return
            except AuthError:
                raise
            except (DriverError, Neo4jError, OSError) as exc:
                # Bolt listens before the system database is online, which shows up as these errors.
                last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise Neo4jLaunchError(f"bolt at {uri} did not answer in time; last error: {last}")
        time.sleep(0.25)


def wait_for_bolt(uri: str, user: str, password: str, timeout: float) -> None:
    """Wait until uri accepts these credentials; Neo4jLaunchError on timeout, AuthError if refused."""
    _wait_bolt(uri, user, password, time.monotonic() + timeout, lambda: True)


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    java = shutil.which("java", path=str(Path(java_home) / "bin")) if java_home else shutil.which("java")
    if java is None:
        raise Neo4jLaunchError("java (17 or 21) is neither on PATH nor under JAVA_HOME")
    return java


def _logs(home: Path) -> tuple[Path, Path]:
    return home / "logs" / "console.log", home / "logs" / "neo4j.log"


def _tail(path: Path, since: int = 0) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(since)
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-_TAIL_LINES:])


class LocalNeo4j:
    """One Neo4j server whose config, data, logs and password live under config.home."""

    user: str = "neo4j"

    def __init__(self, config: LocalNeo4jConfig) -> None:
        self.config = config
        self.home = config.home.absolute()
        self._pid_file = self.home / "run" / "neo4j.pid"
        self._exit_file = self.home / "run" / "neo4j.exit"

    @property
    def uri(self) -> str:
        """The bolt:// address for clients: this is one server, never a cluster, so the driver keeps no routing
        table (a neo4j:// URI made every session check and refresh one: about a tenth of the driver's time per
        request). A cluster is reached through ``HUB_NEO4J_URI``, where neo4j:// is the right scheme."""
        return f"bolt://127.0.0.1:{self.config.bolt_port}"

    @property
    def password(self) -> str:
        """The password of user neo4j, generated into HOME/password (mode 0600) on first use."""
        path = self.home / "password"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_urlsafe(24) + "\n")
        return path.read_text().strip()

    def ensure_installed(self) -> Path:
        """Fetch the server jars with Maven into the jar cache unless already there; return that folder."""
        lib = _lib_dir(self.config)
        if (lib / _MARKER).is_file():
            return lib
        mvn = shutil.which("mvn")
        if mvn is None:
            raise Neo4jLaunchError("mvn is not on PATH; it is needed once, to fetch the Neo4j jars")
        lib.parent.mkdir(parents=True, exist_ok=True)
        # Several homes share one jar cache, and two test sessions may install at the same moment.
        with (lib.parent / f".{lib.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (lib / _MARKER).is_file():
                return lib
            with tempfile.TemporaryDirectory() as tmp:
                pom = Path(tmp) / "pom.xml"
                pom.write_text(_POM.format(version=self.config.version))
                goal = ["dependency:copy-dependencies", f"-DoutputDirectory={lib}"]
                cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(pom), *goal]
                done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                out = "\n".join((done.stdout + done.stderr).splitlines()[-_TAIL_LINES:])
                what = f"org.neo4j:neo4j:{self.config.version}"
                raise Neo4jLaunchError(f"mvn could not fetch {what} (exit {done.returncode}):\n{out}")
            (lib / _MARKER).write_text(self.config.version + "\n")
        return lib

    def status(self) -> Neo4jStatus:
        """Report whether this home's server process is alive (not whether bolt answers yet)."""
        pid = self._running_pid()
        return Neo4jStatus(pid is not None, pid, self.uri, self.config.version, self.home)

    def start(self, timeout: float = 180.0) -> Neo4jStatus:
        """Start the server, or find it running, and return once bolt accepts the stored password."""
        pid = self._running_pid()
        if pid is not None:
            self._await_ready(pid, time.monotonic() + timeout, {})
            return self.status()
        deadline = time.monotonic() + timeout
        cmd = [_java(), *launch_args(self.config, self.ensure_installed())]
        self._prepare_home()
        _ = self.password
        failures: list[str] = []
        for attempt in range(1, _LAUNCH_ATTEMPTS + 1):
            self._await_free(min(deadline, time.monotonic() + _RELEASE_WAIT))
            pid, offsets = self._launch(cmd)
            try:
                self._await_ready(pid, deadline, offsets)
            except Neo4jLaunchError as exc:
                self._terminate(pid, 10.0)
                # A server that dies before bolt answers is most often one that met the store or a port still
                # held by a predecessor winding down: once more, after waiting for them, then the causes.
                failures.append(f"attempt {attempt}: {exc}")
                if _EXITED not in str(exc) or attempt == _LAUNCH_ATTEMPTS:
                    raise Neo4jLaunchError("\n".join(failures)) from exc
            except BaseException:
                self._terminate(pid, 10.0)
                raise
            else:
                return self.status()
        raise AssertionError("unreachable: the last attempt returns or raises")

    def import_full(
        self,
        nodes: Mapping[str, Path | Sequence[Path]],
        relationships: Mapping[str, Path | Sequence[Path]],
        *,
        array_delimiter: str = ";",
        heap: str = "1g",
        off_heap: str = "2g",
        threads: int | None = None,
    ) -> str:
        """Replace the user database with the graph in these CSV files (``neo4j-admin database import full``).

        The server must be stopped: the import writes a new store in its place, schema-less (apply the schema
        after the next start: the tool's ``--schema`` file is refused by the record formats of Community,
        "Record format batch import does not support schema changes", as 5.26.24 answers). Files are keyed by
        label or relationship type; a single file has its header as first row, several are read in order as one
        (the first holding only the header).
        Returns the import tool's report; raises Neo4jLaunchError with its last lines if it fails.
        """
        if self._running_pid() is not None:
            raise Neo4jLaunchError(f"Neo4j in {self.home} is running: stop it before importing into its store")
        for name, size in (("heap", heap), ("off_heap", off_heap)):
            if not _SIZE.fullmatch(size):
                raise ValueError(f"{name} must look like 512m or 2g, got {size!r}")
        lib = self.ensure_installed()
        self._prepare_home()
        # The store lock of a predecessor winding down would fail the import with a less helpful message.
        self._await_free(time.monotonic() + _RELEASE_WAIT)
        args = [
            "database", "import", "full", "neo4j", "--overwrite-destination=true", "--id-type=string",
            f"--array-delimiter={array_delimiter}", f"--max-off-heap-memory={off_heap}", "--high-parallel-io=on",
            *([] if threads is None else [f"--threads={threads}"]),
            *(f"--nodes={label}={_file_group(paths)}" for label, paths in nodes.items()),
            *(f"--relationships={rel_type}={_file_group(paths)}" for rel_type, paths in relationships.items()),
        ]  # fmt: skip
        cmd = [_java(), f"-Xms{heap}", f"-Xmx{heap}", *_JVM_OPTS, "-cp", f"{lib}/*", _ADMIN_CLASS, *args]
        env = {**os.environ, "NEO4J_HOME": str(self.home), "NEO4J_CONF": str(self.home / "conf")}
        done = subprocess.run(cmd, cwd=self.home, env=env, capture_output=True, text=True, check=False)
        out = done.stdout + done.stderr
        if done.returncode != 0:
            tail = "\n".join(out.splitlines()[-_TAIL_LINES:])
            raise Neo4jLaunchError(f"neo4j-admin database import failed (exit {done.returncode}):\n{tail}")
        return out

    def _launch(self, cmd: list[str]) -> tuple[int, dict[Path, int]]:
        self._pid_file.unlink(missing_ok=True)
        self._exit_file.unlink(missing_ok=True)
        # Only what this launch writes belongs in an error message.
        offsets = {path: path.stat().st_size if path.exists() else 0 for path in _logs(self.home)}
        with _logs(self.home)[0].open("ab") as console:
            # The shell exits at once, so the server is nobody's child here: a Popen of it would warn when
            # collected while the server runs on. A session of its own keeps a Ctrl-C off the server.
            subprocess.run(
                ["/bin/sh", "-c", _DETACH, "sh", str(self._pid_file), str(self._exit_file), *cmd], cwd=self.home,
                stdin=subprocess.DEVNULL, stdout=console, stderr=subprocess.STDOUT, start_new_session=True,
                check=True,
            )  # fmt: skip
        # The waiting subshell writes the pid a moment after the shell above has returned.
        give_up = time.monotonic() + 10.0
        while True:
            with contextlib.suppress(OSError, ValueError):
                return int(self._pid_file.read_text()), offsets
            if time.monotonic() >= give_up:
                raise Neo4jLaunchError(f"the launcher wrote no pid to {self._pid_file} in 10 s")
            time.sleep(0.01)

    def _await_free(self, deadline: float) -> None:
        """Wait until the ports and the store lock are free; raise when another process keeps a port."""
        while True:
            busy = [p for p in (self.config.bolt_port, self.config.http_port) if p is not None and not _port_free(p)]
            if not busy and _store_unlocked(self.home):
                return
            if time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if busy:
            raise Neo4jLaunchError(
                f"port {busy[0]} on 127.0.0.1 is already in use by another process; "
                "stop that process or choose another port in LocalNeo4jConfig"
            )
        # A store still locked goes on to the launch, whose error then says which process holds it.

    def stop(self, timeout: float = 60.0) -> None:
        """Shut the server down cleanly, killing it after timeout seconds; a no-op when it is not running."""
        pid = self._running_pid()
        if pid is not None:
            self._terminate(pid, timeout)
        self._pid_file.unlink(missing_ok=True)

    def _terminate(self, pid: int, timeout: float) -> None:
        # SIGTERM runs the server's shutdown hook, which checkpoints; SIGKILL only if that hangs.
        if not self._kill(pid, signal.SIGTERM, timeout):
            self._kill(pid, signal.SIGKILL, 10.0)
        self._pid_file.unlink(missing_ok=True)

    def _prepare_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.home.chmod(0o700)  # the store, its password file and logs: this user's only, whatever made them
        for sub in ("conf", "data", "logs", "run", "import", "plugins"):
            (self.home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.home / "conf" / "neo4j.conf").write_text(render_config(self.config))
        # HOME/plugins mirrors config.plugins, so a plugin dropped from the config stops loading.
        wanted = {path.name: path for path in self.config.plugins}
        for jar in (self.home / "plugins").glob("*.jar"):
            if jar.name not in wanted:
                jar.unlink()
        for name, src in wanted.items():
            if not src.is_file():
                raise Neo4jLaunchError(f"plugin jar {src} does not exist")
            shutil.copy2(src, self.home / "plugins" / name)

    def _running_pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if self._alive(pid) else None

    def _alive(self, pid: int) -> bool:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return False
        except OSError:  # no /proc (macOS): the pid file has to do
            try:
                os.kill(pid, 0)
            except OSError:
                return False
            return True
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        state, threads, parent = (fields.get(k, "").strip() for k in ("State", "Threads", "PPid"))
        if state.startswith("Z"):
            # A main thread that has exited shows as a zombie while the server's other threads still hold its
            # files (store lock, ports): only the last thread gone makes it dead.
            return threads not in ("", "0", "1")
        if not cmdline:
            # Empty for a moment while the launcher's fork becomes java (execve), and for kernel threads.
            return parent != "2" and pid != 2
        # A recycled pid must not make an unrelated process pass for our server.
        return _MAIN_CLASS.encode() in cmdline and f"--home-dir={self.home}\0".encode() in cmdline

    def _kill(self, pid: int, sig: signal.Signals, timeout: float) -> bool:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive(pid):
                return True
            time.sleep(0.1)
        return False

    def _await_ready(self, pid: int, deadline: float, offsets: dict[Path, int]) -> None:
        def alive() -> bool:
            return self._alive(pid) and not self._exit_file.exists()

        try:
            try:
                _wait_bolt(self.uri, self.user, self.password, deadline, alive)
            except AuthError:
                # A new system database knows only neo4j/neo4j and refuses all but a password change.
                self._set_initial_password()
                _wait_bolt(self.uri, self.user, self.password, deadline, alive)
        except (Neo4jLaunchError, AuthError, Neo4jError, DriverError) as exc:
            tails = "\n".join(
                f"--- {path.name}, last lines ---\n{text}"
                for path in _logs(self.home)
                if (text := _tail(path, offsets.get(path, 0)))
            )
            ended = self._how_it_ended()
            raise Neo4jLaunchError(f"Neo4j in {self.home} did not become ready: {exc}{ended}\n{tails}") from exc

    def _how_it_ended(self) -> str:
        # The waiting subshell records the status a moment after the server is gone.
        give_up = time.monotonic() + 2.0
        while not self._exit_file.exists() and time.monotonic() < give_up and not self._alive_pid_file():
            time.sleep(0.05)
        try:
            code = int(self._exit_file.read_text())
        except (OSError, ValueError):
            return ""
        if code > 128 and code - 128 in signal.valid_signals():
            return f" (killed by {signal.Signals(code - 128).name})"
        return f" (exit status {code})"

    def _alive_pid_file(self) -> bool:
        return self._running_pid() is not None

    def _set_initial_password(self) -> None:
        try:
            with (
                GraphDatabase.driver(self.uri, auth=(self.user, _INITIAL_PASSWORD)) as driver,
                driver.session(database="system") as session,
            ):
                query = "ALTER CURRENT USER SET PASSWORD FROM $old TO $new"
                session.run(query, old=_INITIAL_PASSWORD, new=self.password).consume()
        except AuthError as exc:
            raise Neo4jLaunchError(
                f"neither {self.home / 'password'} nor the initial password is accepted: the data in "
                f"{self.home / 'data'} was made with another password; restore that file or delete the data"
            ) from exc
