"""What one imported spreadsheet may cost the hub, checked before and while it is parsed.

An XLSX file is a zip of XML: 4.7 KB can declare a million-row sheet (openpyxl then yields every empty row,
each as wide as the declared columns) or unzip to a gigabyte of shared strings (which openpyxl holds in a
list). So before openpyxl opens anything, the archive's members are checked against their declared sizes
(Python's zipfile never returns more than a member declares, and fails on a CRC mismatch), the ratio of
each large member, and the shared strings' count; then the rows are read with the declared dimension
ignored, at most ``max_columns`` wide (cells past it are not read), and the reading stops at the first
limit passed, with its reason.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Final
from xml.parsers import expat

from graph_schema.errors import HubError

LIMIT_EXCEEDED: Final = "LIMIT_EXCEEDED"
MB: Final = 1_048_576
SHARED_STRINGS: Final = "xl/sharedStrings.xml"


@dataclass(frozen=True)
class SpreadsheetLimits:
    """The bounds of one import; each refusal names the bound."""

    max_rows: int = 50_000  # data rows: one import is one transaction, a bigger file is better split
    max_row_number: int = 100_000  # how far down a sheet is read at all, blank rows included
    max_columns: int = 64  # the layout has 17 columns; notes may add a few
    max_errors: int = 1_000  # problems listed before the reading stops
    max_unzipped_mb: int = 200  # all members of an XLSX archive, unzipped
    max_ratio: int = 200  # unzipped / zipped, for a member of more than 1 MB unzipped
    max_shared_strings: int = 1_000_000  # 50,000 rows of 17 distinct texts fit, with room
    max_shared_strings_mb: int = 64


def too_much(message: str) -> HubError:
    """The refusal of a file past one of its limits (field ``file``, code LIMIT_EXCEEDED)."""
    return HubError(message, field="file", code=LIMIT_EXCEEDED)


def check_xlsx_archive(data: bytes, limits: SpreadsheetLimits) -> None:
    """Refuse an XLSX archive whose members would unzip past the limits, before anything is unzipped."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise HubError(f"the file is not a readable XLSX workbook ({type(error).__name__})", field="file") from None
    with archive:
        members = archive.infolist()
        if len(members) > 10_000:
            raise too_much(f"the XLSX archive has {len(members):,} members; a workbook has a few dozen")
        total = sum(member.file_size for member in members)
        if total > limits.max_unzipped_mb * MB:
            raise too_much(
                f"the XLSX file unzips to {total / MB:,.1f} MB; an import takes at most {limits.max_unzipped_mb} MB"
            )
        for member in members:
            if member.file_size > MB and member.file_size > limits.max_ratio * max(member.compress_size, 1):
                raise too_much(
                    f"the XLSX member {member.filename} unzips {member.file_size // max(member.compress_size, 1):,}"
                    f" times its size; a spreadsheet's XML compresses at most {limits.max_ratio} times"
                )
        if SHARED_STRINGS in archive.namelist():
            shared = archive.getinfo(SHARED_STRINGS)
            if shared.file_size > limits.max_shared_strings_mb * MB:
                raise too_much(
                    f"the XLSX file's shared strings take {shared.file_size / MB:,.1f} MB; an import takes at most"
                    f" {limits.max_shared_strings_mb} MB of text"
                )
            _count_shared_strings(archive, limits.max_shared_strings)


def _count_shared_strings(archive: zipfile.ZipFile, limit: int) -> None:
    # expat's own callbacks, no tree: the XML is read in chunks and each string only counted
    parser = expat.ParserCreate(namespace_separator=" ")
    count = 0

    def start(name: str, _attributes: object) -> None:
        nonlocal count
        if name == "si" or name.endswith(" si"):
            count += 1
            if count > limit:
                raise too_much(
                    f"the XLSX file has more than {limit:,} shared strings; an import takes at most {limit:,}"
                )

    parser.StartElementHandler = start
    try:
        with archive.open(SHARED_STRINGS) as stream:
            while chunk := stream.read(1 << 16):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except (zipfile.BadZipFile, expat.ExpatError) as error:
        raise HubError(
            f"the XLSX file's shared strings cannot be read ({type(error).__name__})", field="file"
        ) from None
