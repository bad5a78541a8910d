"""The GS1 EPCIS XSDs: loaded from their own folder only, extracted safely, and the hub not starting without them."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from graph_schema.epcis.xml_schema import SCHEMA_FILES, EpcisXmlSchemas, SchemaUnavailable
from hub import epcis_xsd
from hub.app import create_app
from hub.epcis_xsd import EpcisXsdUnavailable
from hub.settings import Settings
from tests.epcis_data import xml_schemas


def copy_of_the_xsds(tmp_path: Path) -> Path:
    folder = tmp_path / "xsd"
    shutil.copytree(xml_schemas().folder, folder)
    return folder


def test_both_versions_are_compiled_and_chosen_by_the_root_namespace() -> None:
    schemas = xml_schemas()
    assert set(schemas.by_version) == {"2.0", "1.2"}
    assert schemas.for_namespace("urn:epcglobal:epcis:xsd:2") is schemas.by_version["2.0"]
    assert schemas.for_namespace("urn:epcglobal:epcis-masterdata:xsd:2") is schemas.by_version["2.0"]
    assert schemas.for_namespace("urn:epcglobal:epcis:xsd:1") is schemas.by_version["1.2"]
    assert schemas.for_namespace("urn:epcglobal:epcis-masterdata:xsd:1") is schemas.by_version["1.2"]
    assert schemas.for_namespace("urn:example:not-epcis") is None


@pytest.mark.parametrize(
    "address",
    [
        "http://127.0.0.1:9/EPCglobal.xsd",
        "ftp://127.0.0.1:9/EPCglobal.xsd",
        "file://{tmp}/outside.xsd",
        "../../outside.xsd",
    ],
)
def test_an_import_reaching_outside_the_folder_stops_the_load(tmp_path: Path, address: str) -> None:
    folder = copy_of_the_xsds(tmp_path)
    # a faithful copy of the imported XSD, outside the folder: only the resolver can refuse it
    shutil.copy(folder / "2_0_0" / "EPCglobal.xsd", tmp_path / "outside.xsd")
    address = address.format(tmp=tmp_path)
    for xsd in (folder / "2_0_0").glob("*.xsd"):  # wherever it is imported first
        xsd.write_text(xsd.read_text().replace('schemaLocation="EPCglobal.xsd"', f'schemaLocation="{address}"'))
    assert address in (folder / SCHEMA_FILES["2.0"]).read_text()
    with pytest.raises(SchemaUnavailable) as refused:
        EpcisXmlSchemas.load(folder)
    assert "cannot be loaded" in str(refused.value)
    assert address.rpartition("/")[2] in str(refused.value)


def test_the_same_copy_inside_the_folder_loads(tmp_path: Path) -> None:
    folder = copy_of_the_xsds(tmp_path)
    shutil.copy(folder / "2_0_0" / "EPCglobal.xsd", folder / "2_0_0" / "inside.xsd")
    for xsd in (folder / "2_0_0").glob("*.xsd"):
        xsd.write_text(xsd.read_text().replace('schemaLocation="EPCglobal.xsd"', 'schemaLocation="inside.xsd"'))
    assert EpcisXmlSchemas.load(folder).for_namespace("urn:epcglobal:epcis:xsd:2") is not None


def test_a_missing_xsd_is_named(tmp_path: Path) -> None:
    folder = copy_of_the_xsds(tmp_path)
    (folder / SCHEMA_FILES["1.2"]).unlink()
    with pytest.raises(SchemaUnavailable, match=r"the EPCIS 1.2 XSD .* is missing"):
        EpcisXmlSchemas.load(folder)


def test_a_jar_entry_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    jar = tmp_path / "evil.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("xsd/2_0_0/../../../escaped.xsd", "<x/>")
    with pytest.raises(EpcisXsdUnavailable, match="unexpected entry"):
        epcis_xsd._extract(jar, tmp_path / "out")
    assert not (tmp_path / "escaped.xsd").exists()


async def test_the_hub_does_not_start_without_the_xsds(tmp_path: Path) -> None:
    empty = tmp_path / "xsd"
    empty.mkdir()
    (empty / ".complete").write_text("said complete, holds nothing\n")  # not fetched again: loaded, and missing
    app = create_app(Settings(state_dir=tmp_path / "state", epcis_xsd_dir=empty))
    with pytest.raises(EpcisXsdUnavailable, match=r"XSD .* is missing"):
        async with app.router.lifespan_context(app):
            pass
    assert not (tmp_path / "state").exists()  # it stopped before opening anything
