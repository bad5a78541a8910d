"""The GS1 EPCIS XSDs (1.2 and 2.0), fetched once from Maven Central like the Neo4j jars, never committed.

GS1 publishes the EPCIS XML schemas as files; Maven Central carries them, unchanged, inside openepcis's
``io.openepcis:openepcis-document-validation-service`` jar (Apache-2.0; ``xsd/1_2_0/``, ``xsd/2_0_0/``). Maven
fetches that jar (``mvn dependency:copy`` with strict checksums, through the machine's Maven settings, as
``hub/neo4j_local.py`` does for Neo4j), the jar is checked against the SHA-256 pinned here, and its XSD files are
extracted into a local folder (``.local/epcis-xsd-<version>`` by default, ``HUB_EPCIS_XSD_DIR`` otherwise). The
hub refuses to start without them: XML capture is checked against them.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Final

from graph_schema.epcis.xml_schema import EpcisXmlSchemas, SchemaUnavailable
from hub.settings import Settings

ARTIFACT: Final = "io.openepcis:openepcis-document-validation-service"
VERSION: Final = "0.9.2"
JAR_SHA256: Final = "2c89b0938e06dbcdb4c9585ce62195aaca7a8cacf549ffdd79890ba685f3b5ca"
_FOLDERS: Final = ("xsd/1_2_0/", "xsd/2_0_0/")  # inside the jar
_MARKER: Final = ".complete"
_TAIL_LINES: Final = 20
_POM: Final = """<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>local.hub</groupId><artifactId>epcis-xsd</artifactId><version>1</version><packaging>pom</packaging>
</project>
"""


class EpcisXsdUnavailable(RuntimeError):
    """The XSDs could not be fetched, checked or loaded; the message says why and what to do."""


def default_folder() -> Path:
    """Where the XSDs go unless HUB_EPCIS_XSD_DIR says otherwise: the repository's ignored .local folder."""
    return Path(__file__).resolve().parent.parent / ".local" / f"epcis-xsd-{VERSION}"


def ensure_xsds(folder: Path) -> Path:
    """The folder holding ``1_2_0/`` and ``2_0_0/``, fetched and extracted first when it is not complete."""
    if (folder / _MARKER).is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # two test sessions or hub processes may start at the same moment
    with (folder.parent / f".{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / _MARKER).is_file():
            return folder
        with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
            jar = _fetch_jar(Path(tmp))
            staged = Path(tmp) / "xsd"
            _extract(jar, staged)
            shutil.rmtree(folder, ignore_errors=True)
            staged.rename(folder)
        (folder / _MARKER).write_text(f"{ARTIFACT}:{VERSION} sha256 {JAR_SHA256}\n")
    return folder


def _fetch_jar(into: Path) -> Path:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise EpcisXsdUnavailable(
            f"mvn is not on PATH; it is needed once, to fetch the GS1 EPCIS XSDs ({ARTIFACT}:{VERSION}) from Maven"
            " Central (or set HUB_EPCIS_XSD_DIR to a folder holding 1_2_0/ and 2_0_0/)"
        )
    pom = into / "pom.xml"
    pom.write_text(_POM)
    goal = ["dependency:copy", f"-Dartifact={ARTIFACT}:{VERSION}:jar", f"-DoutputDirectory={into}"]
    # -C: a download whose checksum does not match Maven Central's fails instead of warning
    done = subprocess.run(
        [mvn, "-B", "-q", "-C", "-Dstyle.color=never", "-f", str(pom), *goal],
        capture_output=True,
        text=True,
        check=False,
    )
    jar = into / f"{ARTIFACT.partition(':')[2]}-{VERSION}.jar"
    if done.returncode != 0 or not jar.is_file():
        out = "\n".join((done.stdout + done.stderr).splitlines()[-_TAIL_LINES:])
        raise EpcisXsdUnavailable(
            f"mvn could not fetch {ARTIFACT}:{VERSION} (the GS1 EPCIS XSDs; exit {done.returncode}):\n{out}"
        )
    digest = hashlib.sha256(jar.read_bytes()).hexdigest()
    if digest != JAR_SHA256:
        raise EpcisXsdUnavailable(f"{jar.name} has SHA-256 {digest}, not the pinned {JAR_SHA256}: not used")
    return jar


def _extract(jar: Path, into: Path) -> None:
    """The jar's XSD files of both versions, and nothing else (no path may leave ``into``)."""
    with zipfile.ZipFile(jar) as archive:
        for entry in archive.infolist():
            name = PurePosixPath(entry.filename)
            if entry.is_dir() or not entry.filename.startswith(_FOLDERS) or name.suffix != ".xsd":
                continue
            if ".." in name.parts or len(name.parts) != 3:
                raise EpcisXsdUnavailable(f"{jar.name} holds an unexpected entry {entry.filename!r}: not used")
            target = into / name.parts[1] / name.parts[2]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(entry))


@functools.cache
def load_schemas(folder: Path) -> EpcisXmlSchemas:
    """The compiled XSDs of ``folder`` (fetched first when missing), once per process."""
    try:
        return EpcisXmlSchemas.load(ensure_xsds(folder))
    except SchemaUnavailable as broken:
        raise EpcisXsdUnavailable(f"{broken}; delete {folder} to fetch the XSDs again") from None


def epcis_xml_schemas(settings: Settings) -> EpcisXmlSchemas:
    """The XSDs of the settings' folder (HUB_EPCIS_XSD_DIR, else the default), compiled once per process."""
    return load_schemas(settings.epcis_xsd_dir or default_folder())
