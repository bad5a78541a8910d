"""What the peer comparison needs beside the hub: APOC, wrk, the peer's node_modules and a Neo4j of its own.

Each is fetched through its ordinary registry client once and kept under ``.local/`` (ignored by git):
APOC with Maven from Maven Central, wrk with apt-get from Debian's packages (unpacked, no root needed),
the peer's packages with ``npm ci`` from its package-lock.json.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from hub.neo4j_local import NEO4J_VERSION, LocalNeo4j, LocalNeo4jConfig

ROOT: Final = Path(__file__).resolve().parent.parent
PEER_DIR: Final = ROOT / "bench" / "peer"
TOOLS: Final = ROOT / ".local" / "tools"
# The Neo4j jars the dev server already fetched: a second home need not fetch them again.
JAR_CACHE: Final = ROOT / ".local" / f"neo4j-lib-{NEO4J_VERSION}"

# No apoc-core release matches the server's 5.26.24 exactly; of the 5.26 line, Maven Central has the
# self-contained jar (classifier `core`) up to 5.26.5 and only the plain jar with loose dependencies after it.
APOC_VERSION: Final = "5.26.5"
APOC_ARTIFACT: Final = f"org.neo4j.procedure:apoc-core:{APOC_VERSION}:jar:core"
# The GraphQL Library calls apoc.util.validate and friends; Neo4j refuses unlisted procedures that reach
# into the kernel, so the plugin's namespace is allowed explicitly, as the library's manual says.
APOC_SETTINGS: Final = ("dbms.security.procedures.unrestricted=apoc.*",)

# Debian's wrk and the LuaJIT it links against (libssl3 and libc6 are on every Debian 12 machine).
WRK_PACKAGES: Final = ("wrk", "libluajit2-5.1-2", "libluajit2-5.1-common")


class ToolError(RuntimeError):
    """A tool could not be fetched or run; the message says what to do."""


def _run(cmd: list[str], *, what: str, cwd: Path | None = None) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
        raise ToolError(f"{what} failed (exit {done.returncode}): {' '.join(cmd)}\n{tail}")


def fetch_apoc(folder: Path = TOOLS / "apoc") -> Path:
    """The APOC core jar, fetched with Maven once; returns its path."""
    jar = folder / f"apoc-core-{APOC_VERSION}-core.jar"
    if jar.is_file():
        return jar
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolError("mvn is not on PATH; it is needed once, to fetch the APOC plugin")
    folder.mkdir(parents=True, exist_ok=True)
    goal = ["dependency:copy", f"-Dartifact={APOC_ARTIFACT}", f"-DoutputDirectory={folder}"]
    _run([mvn, "-B", "-q", "-Dstyle.color=never", *goal], what=f"fetching {APOC_ARTIFACT}", cwd=folder)
    if not jar.is_file():
        raise ToolError(f"mvn reported success but {jar} is not there")
    return jar


@dataclass(frozen=True)
class Wrk:
    """How to run wrk: its binary and the environment its shared libraries need."""

    binary: Path
    env: dict[str, str]


def fetch_wrk(folder: Path = TOOLS / "wrk") -> Wrk:
    """wrk from PATH, or Debian's package unpacked into ``folder`` (apt-get download, dpkg -x: no root)."""
    on_path = shutil.which("wrk")
    if on_path is not None:
        return Wrk(Path(on_path), dict(os.environ))
    root = folder / "root"
    binary = root / "usr" / "bin" / "wrk"
    env = {**os.environ, "LD_LIBRARY_PATH": str(root / "usr" / "lib" / "x86_64-linux-gnu")}
    if not binary.is_file():
        if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
            raise ToolError("wrk is not on PATH and there is no apt-get/dpkg to fetch Debian's package")
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            hint = "run `apt-get update` once (as root), or install wrk"
            _run(["apt-get", "download", *WRK_PACKAGES], what=f"apt-get download ({hint})", cwd=Path(tmp))
            for deb in sorted(Path(tmp).glob("*.deb")):
                _run(["dpkg", "-x", str(deb), str(root)], what=f"unpacking {deb.name}")
    done = subprocess.run([str(binary), "--version"], env=env, capture_output=True, text=True, check=False)
    if "wrk" not in done.stdout + done.stderr:
        raise ToolError(f"{binary} does not run here: {done.stdout}{done.stderr}")
    return Wrk(binary, env)


def npm_ci(folder: Path = PEER_DIR) -> None:
    """The peer's packages as its package-lock.json pins them; skipped while the lock file is unchanged."""
    lock = folder / "package-lock.json"
    stamp = folder / "node_modules" / ".installed-lock-sha1"
    digest = hashlib.sha1(lock.read_bytes(), usedforsecurity=False).hexdigest()
    if stamp.is_file() and stamp.read_text().strip() == digest:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ToolError("npm (with Node.js 20) is not on PATH; it is needed for the peer")
    _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], what="npm ci of bench/peer", cwd=folder)
    stamp.write_text(digest + "\n")


def bench_neo4j(home: Path, *, bolt_port: int, heap: str, pagecache: str, apoc: Path) -> LocalNeo4j:
    """The benchmark's own Neo4j server: its own home and port, APOC in its plugins folder and nowhere else."""
    return LocalNeo4j(
        LocalNeo4jConfig(
            home=home,
            bolt_port=bolt_port,
            heap=heap,
            pagecache=pagecache,
            jar_cache=JAR_CACHE,
            plugins=(apoc,),
            extra_settings=APOC_SETTINGS,
        )
    )
