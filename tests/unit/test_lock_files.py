"""The hashed lock files cover what pyproject.toml declares, and make, CI and the image install from them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)")


def locked(name: str) -> dict[str, str]:
    """Package -> version pinned in requirements/NAME.lock; every pin carries at least one hash."""
    text = (ROOT / "requirements" / f"{name}.lock").read_text()
    pins: dict[str, str] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2]):
        match = PIN.match(entry)
        if match is None:
            continue
        assert "--hash=sha256:" in entry, f"{match.group(1)} has no hash in {name}.lock"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def declared(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    names = [*project["dependencies"], *PYPROJECT["build-system"]["requires"]]
    for extra in extras:
        names += project["optional-dependencies"][extra]
    return [Requirement(name) for name in names]


@pytest.mark.parametrize(("lock", "extras"), [("dev", ("dev",)), ("runtime", ("postgres",))])
def test_every_declared_dependency_is_locked_at_a_version_it_accepts(lock: str, extras: tuple[str, ...]) -> None:
    pins = locked(lock)
    stale = [
        f"{req} (locked: {pins.get(canonicalize_name(req.name))})"
        for req in declared(*extras)
        if pins.get(canonicalize_name(req.name)) is None
        or not req.specifier.contains(pins[canonicalize_name(req.name)], prereleases=True)
    ]
    assert stale == [], f"run `make lock`: requirements/{lock}.lock lacks or mispins {stale}"


def test_the_runtime_lock_has_no_development_tools() -> None:
    assert not {"pytest", "mypy", "ruff", "uv"} & set(locked("runtime"))


def test_make_ci_and_the_image_install_from_the_locks() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r $(LOCK)" in makefile
    assert "LOCK := requirements/dev.lock" in makefile
    assert "make test" in (ROOT / ".ci" / "run").read_text()  # and make test installs first
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir --require-hashes -r requirements/runtime.lock" in dockerfile
    assert "--no-deps --no-build-isolation ." in dockerfile
