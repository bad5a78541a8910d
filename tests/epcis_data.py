"""Where the openepcis EPCIS 2.0 test documents are: a copy kept in the repository (Apache License 2.0, see
tests/data/epcis-openepcis/LICENSE and SOURCE.md), so that every checkout and CI runs the same checks."""

from __future__ import annotations

from pathlib import Path

from graph_schema.epcis.xml_schema import EpcisXmlSchemas

OPENEPCIS = Path(__file__).resolve().parent / "data" / "epcis-openepcis"


def xml_schemas() -> EpcisXmlSchemas:
    """The GS1 EPCIS XSDs the hub checks XML capture against (fetched into .local on first use, like the hub)."""
    from hub.epcis_xsd import default_folder, load_schemas

    return load_schemas(default_folder())
