"""How hub.neo4j_local tells a live server from a dead one, with real processes standing in for the JVM."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from hub.neo4j_local import _MAIN_CLASS, LocalNeo4j, LocalNeo4jConfig, _store_unlocked

# A main thread that exits while another thread runs on: what a JVM shutting down looks like from /proc.
_LEADER_EXITS = "import ctypes, threading, time; threading.Thread(target=time.sleep, args=(1.5,)).start(); " \
    "ctypes.CDLL(None).pthread_exit(None)"  # fmt: skip


def server_like(home: Path, code: str) -> list[str]:
    return [sys.executable, "-c", code, _MAIN_CLASS, f"--home-dir={home.absolute()}"]


def launcher(tmp_path: Path) -> LocalNeo4j:
    server = LocalNeo4j(LocalNeo4jConfig(home=tmp_path / "home", bolt_port=7799))
    for sub in ("logs", "run"):
        (server.home / sub).mkdir(parents=True, exist_ok=True)
    return server


def test_a_server_is_alive_from_its_launch_on_even_while_it_becomes_java(tmp_path: Path) -> None:
    # The pid is written between fork and execve, when /proc shows an empty command line for a moment: the old
    # check took that for a dead server (about one launch in eight) and killed a healthy start.
    server = launcher(tmp_path)
    for _ in range(40):
        pid, _offsets = server._launch(server_like(server.home, "import time; time.sleep(0.3)"))
        until = time.monotonic() + 0.08
        while time.monotonic() < until:
            assert server._alive(pid), f"launch of pid {pid} taken for dead"
        give_up = time.monotonic() + 10
        while server._alive(pid) and time.monotonic() < give_up:
            time.sleep(0.02)
        assert not server._alive(pid)


def test_a_server_whose_main_thread_exited_lives_until_its_last_thread_ends(tmp_path: Path) -> None:
    # Its files (the store lock, the ports) are held until then: a stop that returned earlier raced the next start.
    server = launcher(tmp_path)
    with subprocess.Popen(server_like(server.home, _LEADER_EXITS)) as proc:
        time.sleep(0.5)
        assert Path(f"/proc/{proc.pid}/cmdline").read_bytes() == b"", "the main thread should have exited"
        assert server._alive(proc.pid)
        give_up = time.monotonic() + 10
        while server._alive(proc.pid) and time.monotonic() < give_up:
            time.sleep(0.02)
        # Not reaped yet (a zombie until wait() below), and dead all the same.
        assert Path(f"/proc/{proc.pid}/status").exists()
        assert not server._alive(proc.pid)
    assert proc.returncode == 0


def test_an_unrelated_process_on_a_recycled_pid_is_not_the_server(tmp_path: Path) -> None:
    server = launcher(tmp_path)
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(5)"]) as proc:
        try:
            time.sleep(0.3)
            assert not server._alive(proc.pid)
        finally:
            proc.kill()


def test_a_launch_that_dies_says_how_it_ended(tmp_path: Path) -> None:
    server = launcher(tmp_path)
    pid, _offsets = server._launch(server_like(server.home, "raise SystemExit(3)"))
    give_up = time.monotonic() + 10
    while server._alive(pid) and time.monotonic() < give_up:
        time.sleep(0.02)
    assert server._how_it_ended() == " (exit status 3)"


def test_a_store_locked_by_another_process_is_waited_for(tmp_path: Path) -> None:
    home = tmp_path / "home"
    lock = home / "data" / "databases" / "store_lock"
    lock.parent.mkdir(parents=True)
    lock.touch()
    assert _store_unlocked(home)
    hold = f"import fcntl, sys, time; f = open({str(lock)!r}, 'r+'); fcntl.lockf(f, fcntl.LOCK_EX); "
    hold += "print('held', flush=True); time.sleep(30)"
    with subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "held\n"
            assert not _store_unlocked(home)
        finally:
            proc.kill()
    assert _store_unlocked(home)
